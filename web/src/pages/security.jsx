// Sensitive changes in "My account": password, e-mail and mobile number.
// Each asks the user to confirm it is them first (re-authentication): the
// current password, or a fresh code sent by SMS or e-mail
// (POST /api/v1/me/codes). An e-mail or number change then sends a code to
// the new address, which a second step confirms.
import { useEffect, useState } from 'preact/hooks';
import { post } from '../api.js';
import { Choice, CodeField, Field, Form, Notice, Submit, useForm } from '../forms.jsx';
import { useI18n } from '../i18n.js';
import { useRouter } from '../router.js';
import { useSession } from '../session.js';
import { EmailField, NewPasswordField, PhoneField } from './fields.jsx';

const REAUTH_INITIAL = { reauth: 'password', current_password: '', code: '', reauth_channel: 'sms' };

/* The re-authentication part of a request body, from the form and the code attempt. */
export function reauthBody(v, attempt) {
  if (v.reauth === 'password') return { current_password: v.current_password };
  return attempt ? { attempt, code: v.code.trim() } : {};
}

/*
 * "Confirm it is you": the current password, or a code sent on request.
 * attempt/setAttempt hold the code's attempt token.
 */
export function ReauthFields({ form, attempt, setAttempt }) {
  const { t } = useI18n();
  const { user } = useSession();
  const [sentTo, setSentTo] = useState(null);
  const hasPassword = !!user?.has_password;
  const mode = hasPassword ? form.values.reauth : 'code';
  const sendCode = () =>
    form.run(async (v) => {
      const channel = v.reauth_channel;
      const r = await post('/api/v1/me/codes', { channel });
      setAttempt(r.attempt);
      setSentTo(channel === 'email' ? user.email : user.phone);
    });
  return (
    <fieldset class="reauth">
      <legend>{t('reauth.legend')}</legend>
      {hasPassword && (
        <Choice
          form={form}
          name="reauth"
          legend={t('reauth.how')}
          options={[
            { value: 'password', label: t('reauth.password') },
            { value: 'code', label: t('reauth.code') },
          ]}
        />
      )}
      {mode === 'password' ? (
        <Field
          form={form}
          name="current_password"
          type="password"
          label={t('form.current-password')}
          autoComplete="current-password"
          required
        />
      ) : (
        <>
          {user?.email_verified_at && (
            <Field form={form} name="reauth_channel" as="select" label={t('reauth.channel')}>
              <option value="sms">{t('auth.channel.sms')}</option>
              <option value="email">{t('auth.channel.email')}</option>
            </Field>
          )}
          <div class="inline-action">
            <button type="button" class="button" onClick={sendCode} disabled={form.busy}>
              {attempt ? t('auth.code.again') : t('auth.code.send')}
            </button>
          </div>
          {attempt && sentTo && <Notice>{t('auth.code.sent', { to: sentTo })}</Notice>}
          {/* Shown before a code is asked for too, so a server error about it has a place. */}
          <CodeField form={form} label={t('reauth.code.label')} />
        </>
      )}
    </fieldset>
  );
}

export function useReauthForm(fields) {
  const { user } = useSession();
  const form = useForm({ ...REAUTH_INITIAL, reauth: user?.has_password ? 'password' : 'code', ...fields });
  const [attempt, setAttempt] = useState(null);
  return { form, attempt, setAttempt };
}

export function PasswordChange() {
  const { t } = useI18n();
  const session = useSession();
  const { form, attempt, setAttempt } = useReauthForm({ new_password: '' });
  const [done, setDone] = useState(false);
  const submit = () =>
    form.run(async (v) => {
      setDone(false);
      const r = await post('/api/v1/me/password', { new_password: v.new_password, ...reauthBody(v, attempt) });
      session.signedIn(r); // a new session token and CSRF token
      form.setValues({ ...v, new_password: '', current_password: '', code: '' });
      setAttempt(null);
      setDone(true);
    });
  const hasPassword = !!session.user?.has_password;
  return (
    <section class="card" aria-labelledby={`${form.id}-h`}>
      <h2 id={`${form.id}-h`}>{hasPassword ? t('security.password.title') : t('security.password.set')}</h2>
      <Form form={form} onSubmit={submit}>
        <NewPasswordField form={form} name="new_password" label={t('form.new-password')} />
        <ReauthFields form={form} attempt={attempt} setAttempt={setAttempt} />
        <Submit form={form}>{t('security.password.submit')}</Submit>
        {done && <Notice>{t('security.password.done')}</Notice>}
      </Form>
    </section>
  );
}

/*
 * Changing the e-mail (kind "email") or mobile number (kind "phone"): the
 * new value and re-authentication, then the code sent to the new value.
 * reauth, when given, is sent as is instead of asking (used right after
 * registration, with the password just chosen); autoStart sends the code
 * to `initial` at once.
 */
export function ContactChange({ kind, initial = '', reauth, autoStart, onDone }) {
  const { t } = useI18n();
  const session = useSession();
  const { form, attempt, setAttempt } = useReauthForm({ [kind]: initial });
  const verifyForm = useForm({ code: '' });
  const [pending, setPending] = useState(null); // {value, attempt}
  const [done, setDone] = useState(false);
  const start = () =>
    form.run(async (v) => {
      setDone(false);
      const value = v[kind].trim();
      const r = await post(`/api/v1/me/${kind}`, { [kind]: value, ...(reauth || reauthBody(v, attempt)) });
      setPending({ value, attempt: r.attempt });
      setAttempt(null);
    });
  const verify = () =>
    verifyForm.run(async (v) => {
      const me = await post(`/api/v1/me/${kind}/verify`, {
        [kind]: pending.value,
        attempt: pending.attempt,
        code: v.code.trim(),
      });
      session.setUser(me);
      setPending(null);
      verifyForm.setValues({ code: '' });
      form.setValues({ ...form.values, current_password: '', code: '' });
      setDone(true);
      onDone?.(me);
    });
  useEffect(() => {
    if (autoStart && initial) start();
  }, []);
  if (pending) {
    return (
      <Form form={verifyForm} onSubmit={verify}>
        <Notice>{t('auth.code.sent', { to: pending.value })}</Notice>
        <CodeField form={verifyForm} />
        <div class="actions">
          <Submit form={verifyForm}>{t('security.contact.confirm')}</Submit>
          <button type="button" class="button" onClick={() => setPending(null)}>
            {t('form.cancel')}
          </button>
        </div>
      </Form>
    );
  }
  return (
    <Form form={form} onSubmit={start}>
      {kind === 'email' ? (
        <EmailField form={form} label={t('security.email.new')} />
      ) : (
        <PhoneField form={form} label={t('security.phone.new')} />
      )}
      {!reauth && <ReauthFields form={form} attempt={attempt} setAttempt={setAttempt} />}
      <Submit form={form}>{t('auth.code.send')}</Submit>
      {done && <Notice>{t(`security.${kind}.done`)}</Notice>}
    </Form>
  );
}

export function SecurityPage() {
  const { t } = useI18n();
  const { user } = useSession();
  const { search } = useRouter();
  const email = new URLSearchParams(search).get('email') || '';
  return (
    <>
      <PasswordChange />
      <section class="card" aria-labelledby="sec-email-h">
        <h2 id="sec-email-h">{t('security.email.title')}</h2>
        <p>
          {user.email
            ? t(user.email_verified_at ? 'security.email.current' : 'security.email.unverified', { email: user.email })
            : t('security.email.none')}
        </p>
        <ContactChange kind="email" initial={email} />
      </section>
      <section class="card" aria-labelledby="sec-phone-h">
        <h2 id="sec-phone-h">{t('security.phone.title')}</h2>
        <p>{t('security.phone.current', { phone: user.phone })}</p>
        <ContactChange kind="phone" />
      </section>
    </>
  );
}
