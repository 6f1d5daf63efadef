// Form building blocks shared by every page: a form state hook that runs an
// API call and keeps the server's problem, labelled fields that show the
// server's message for their field (aria-invalid, aria-describedby), and the
// alert that shows the problem's title and detail. After a failed submit the
// first invalid field gets the focus, or the alert when no field is named.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import { useI18n } from './i18n.js';

let formSeq = 0;

/*
 * useForm(initialValues) → form. form.run(fn) calls fn(values) and returns
 * its result, or undefined after an ApiError (which the form then shows).
 */
export function useForm(initial) {
  const [id] = useState(() => `f${++formSeq}`);
  const [values, setValues] = useState(initial);
  const [errors, setErrors] = useState({});
  const [problem, setProblem] = useState(null);
  const [orphans, setOrphans] = useState([]);
  const [busy, setBusy] = useState(false);
  const ref = useRef(null);
  const focusNext = useRef(false);

  // After a failure is shown: list the field errors no input here can show,
  // then move the focus to the first invalid input (or the alert).
  useEffect(() => {
    if (!focusNext.current || !ref.current) return;
    focusNext.current = false;
    const root = ref.current;
    const lost = Object.keys(errors).filter((name) => !root.querySelector(`[data-field="${CSS.escape(name)}"]`));
    if (lost.length) setOrphans(lost.map((name) => errors[name]));
    const target = root.querySelector('[aria-invalid="true"]') || root.querySelector('.problem');
    target?.focus();
  }, [errors, problem]);

  const set = useCallback((name, value) => {
    setValues((v) => ({ ...v, [name]: value }));
  }, []);

  const fail = useCallback((e) => {
    setProblem({ status: e.status, title: e.problem.title, detail: e.problem.detail });
    setErrors(e.fieldErrors);
    focusNext.current = true;
  }, []);

  const reset = useCallback(() => {
    setProblem(null);
    setErrors({});
    setOrphans([]);
  }, []);

  const run = useCallback(
    async (fn) => {
      reset();
      setBusy(true);
      try {
        return await fn(values);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        fail(e);
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [values, reset, fail],
  );

  return { id, ref, values, set, setValues, errors, problem, orphans, busy, run, reset, fail };
}

/* The <form> of a useForm: no native validation (the server's messages are shown instead). */
export function Form({ form, onSubmit, children, class: cls, label }) {
  const submit = (e) => {
    e.preventDefault();
    if (!form.busy) onSubmit();
  };
  return (
    <form ref={form.ref} id={form.id} class={cls ? `form ${cls}` : 'form'} noValidate onSubmit={submit} aria-label={label}>
      <ProblemAlert form={form} />
      {children}
    </form>
  );
}

/* The problem of the last failed call: title, detail, and field messages no input shows. */
export function ProblemAlert({ form }) {
  const { t } = useI18n();
  const p = form.problem;
  if (!p) return null;
  const title = p.status === 0 ? t('form.network.title') : p.title || t('form.failed');
  const detail = p.status === 0 ? t('form.network.detail') : p.detail;
  return (
    <div class="problem" role="alert" tabIndex={-1}>
      <p class="problem-title">{title}</p>
      {detail && <p class="problem-detail">{detail}</p>}
      {form.orphans.length > 0 && (
        <ul>
          {form.orphans.map((m, i) => (
            <li key={i}>{m}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

function describedBy(...ids) {
  const list = ids.filter(Boolean);
  return list.length ? list.join(' ') : undefined;
}

/*
 * A labelled input bound to form.values[name]. as="textarea" or as="select"
 * (children are the options); other props go to the control.
 */
export function Field({ form, name, label, hint, as = 'input', required, optional, children, class: cls, ...rest }) {
  const { t } = useI18n();
  const id = `${form.id}-${name}`;
  const err = form.errors[name];
  const hintId = hint ? `${id}-hint` : null;
  const errId = err ? `${id}-error` : null;
  const Tag = as;
  const control = {
    id,
    name,
    'data-field': name,
    value: form.values[name] ?? '',
    'aria-invalid': err ? 'true' : undefined,
    'aria-required': required ? 'true' : undefined,
    'aria-describedby': describedBy(errId, hintId),
    onInput: (e) => form.set(name, e.currentTarget.value),
    ...rest,
  };
  if (as === 'select') control.onChange = control.onInput;
  return (
    <div class={`field${err ? ' field-invalid' : ''}${cls ? ` ${cls}` : ''}`}>
      <label for={id}>
        {label}
        {optional && <span class="optional"> {t('form.optional')}</span>}
      </label>
      {hint && (
        <p id={hintId} class="hint">
          {hint}
        </p>
      )}
      <Tag {...control}>{as === 'select' ? children : undefined}</Tag>
      <FieldError id={errId} message={err} />
      {as !== 'select' && children}
    </div>
  );
}

export function FieldError({ id, message }) {
  if (!message) return null;
  return (
    <p id={id} class="field-error">
      <span aria-hidden="true">⚠ </span>
      {message}
    </p>
  );
}

/* A checkbox bound to a boolean form value. */
export function Check({ form, name, label, ...rest }) {
  const id = `${form.id}-${name}`;
  return (
    <div class="check">
      <input
        type="checkbox"
        id={id}
        name={name}
        data-field={name}
        checked={!!form.values[name]}
        onChange={(e) => form.set(name, e.currentTarget.checked)}
        {...rest}
      />
      <label for={id}>{label}</label>
    </div>
  );
}

/* A group of radio buttons: options is [{value, label}]. */
export function Choice({ form, name, legend, options, onChange }) {
  const id = `${form.id}-${name}`;
  const err = form.errors[name];
  const errId = err ? `${id}-error` : null;
  return (
    <fieldset class={`choice${err ? ' field-invalid' : ''}`} aria-describedby={errId || undefined}>
      <legend>{legend}</legend>
      <div class="choice-options">
        {options.map((o, i) => (
          <label key={o.value} class="choice-option">
            <input
              type="radio"
              name={id}
              data-field={i === 0 ? name : undefined}
              value={o.value}
              checked={form.values[name] === o.value}
              aria-invalid={err && i === 0 ? 'true' : undefined}
              onChange={() => {
                form.set(name, o.value);
                onChange?.(o.value);
              }}
            />
            <span>{o.label}</span>
          </label>
        ))}
      </div>
      <FieldError id={errId} message={err} />
    </fieldset>
  );
}

/* The form's submit button; disabled (and says so) while a call runs. */
export function Submit({ form, children, class: cls }) {
  return (
    <button type="submit" class={`button primary${cls ? ` ${cls}` : ''}`} disabled={form.busy} aria-busy={form.busy ? 'true' : undefined}>
      {children}
    </button>
  );
}

/* The input of a six-digit one-time code. */
export function CodeField({ form, name = 'code', label, hint }) {
  const { t } = useI18n();
  return (
    <Field
      form={form}
      name={name}
      label={label || t('form.code')}
      hint={hint}
      inputMode="numeric"
      autoComplete="one-time-code"
      maxLength={16}
      class="field-code"
      required
    />
  );
}

/* A polite status line for what just succeeded (e.g. "code sent"). */
export function Notice({ children }) {
  if (!children) return null;
  return (
    <p class="notice" role="status">
      {children}
    </p>
  );
}
