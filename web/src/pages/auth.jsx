// Signing up and in: register (mobile number + code, then optional user
// name, e-mail, password), sign in by password or by a one-time code (with
// the code step a new device or network needs), password reset, unfreezing
// a frozen account, and the staff sign-in with an authenticator code.
// Each page is a short sequence of steps; each step is one form whose
// submit is one API call, so the server's problem lands on that step.
import { useState } from 'preact/hooks';
import { post } from '../api.js';
import { Check, Choice, CodeField, Field, Form, Notice, Submit, useForm } from '../forms.jsx';
import { useI18n } from '../i18n.js';
import { nextFrom, useRouter } from '../router.js';
import { useSession } from '../session.js';
import { EmailField, IdentityFields, NewPasswordField, PhoneField } from './fields.jsx';
import { Page } from './page.jsx';
import { ContactChange } from './security.jsx';

/* The body fields that name where a code goes: phone or e-mail. */
const targetOf = (v) => (v.channel === 'email' ? { email: v.email.trim() } : { phone: v.phone.trim() });

/* Channel choice (SMS or e-mail) and the matching phone or e-mail input. */
function TargetFields({ form }) {
  const { t } = useI18n();
  return (
    <>
      <Choice
        form={form}
        name="channel"
        legend={t('auth.channel')}
        options={[
          { value: 'sms', label: t('auth.channel.sms') },
          { value: 'email', label: t('auth.channel.email') },
        ]}
      />
      {form.values.channel === 'email' ? <EmailField form={form} /> : <PhoneField form={form} />}
    </>
  );
}

/* "We sent a code to …" with a way back to the previous step. */
function CodeSent({ to, onBack }) {
  const { t } = useI18n();
  return (
    <div class="code-sent">
      <Notice>{t('auth.code.sent', { to })}</Notice>
      <button type="button" class="link-button" onClick={onBack}>
        {t('auth.code.back')}
      </button>
    </div>
  );
}

function useAfterSignIn() {
  const session = useSession();
  const { navigate, search } = useRouter();
  return (answer) => {
    session.signedIn(answer);
    navigate(nextFrom(search));
  };
}

/* ---------------------------------------------------------------- register */

export function RegisterPage() {
  const { t, lang } = useI18n();
  const session = useSession();
  const { navigate } = useRouter();
  const form = useForm({
    phone: '',
    code: '',
    account_type: 'individual',
    display_name: '',
    username: '',
    email: '',
    password: '',
    remember: false,
  });
  const [attempt, setAttempt] = useState(null);
  const [emailStep, setEmailStep] = useState(null); // {email, password} once signed in

  const sendCode = () =>
    form.run(async (v) => {
      const r = await post('/api/v1/auth/codes', { purpose: 'register', phone: v.phone.trim() });
      setAttempt(r.attempt);
    });

  const register = () =>
    form.run(async (v) => {
      const body = { phone: v.phone.trim(), attempt, code: v.code.trim(), account_type: v.account_type, lang };
      for (const k of ['display_name', 'username', 'password']) if (v[k].trim()) body[k] = v[k];
      if (v.remember) body.remember = true;
      // The e-mail is not part of registration: once the account exists, a
      // code goes to it (the next step), and a typo can be fixed there.
      const email = v.email.trim();
      const answer = await post('/api/v1/auth/register', body);
      session.signedIn(answer);
      if (!email) navigate('/account');
      else if (body.password) setEmailStep({ email, password: body.password });
      else navigate(`/account/security?email=${encodeURIComponent(email)}`);
    });

  if (emailStep) {
    return (
      <Page title={t('register.email.title')}>
        <p class="lead">{t('register.email.lead')}</p>
        <ContactChange
          kind="email"
          initial={emailStep.email}
          reauth={{ current_password: emailStep.password }}
          autoStart
          onDone={() => navigate('/account')}
        />
        <p>
          <a href="/account">{t('register.email.skip')}</a>
        </p>
      </Page>
    );
  }

  return (
    <Page title={t('register.title')} narrow>
      <p class="lead">{t('register.lead')}</p>
      {!attempt ? (
        <Form form={form} onSubmit={sendCode} label={t('register.title')}>
          <PhoneField form={form} />
          <Submit form={form}>{t('auth.code.send')}</Submit>
        </Form>
      ) : (
        <Form form={form} onSubmit={register} label={t('register.title')}>
          <CodeSent to={form.values.phone} onBack={() => setAttempt(null)} />
          <CodeField form={form} />
          <IdentityFields form={form} />
          <EmailField form={form} optional />
          <NewPasswordField form={form} name="password" label={t('form.password')} optional />
          <Check form={form} name="remember" label={t('auth.remember')} />
          <Submit form={form}>{t('register.submit')}</Submit>
        </Form>
      )}
      <p class="aside">
        {t('register.have-account')} <a href="/sign-in">{t('auth.sign-in')}</a>
      </p>
    </Page>
  );
}

/* ---------------------------------------------------------------- sign in */

export function SignInPage() {
  const { t } = useI18n();
  const done = useAfterSignIn();
  const form = useForm({
    method: 'password',
    login: '',
    password: '',
    channel: 'sms',
    phone: '',
    email: '',
    code: '',
    remember: false,
  });
  const [challenge, setChallenge] = useState(null); // {attempt, to, why}

  const start = () =>
    form.run(async (v) => {
      const remember = v.remember || undefined;
      if (v.method === 'password') {
        const r = await post('/api/v1/auth/login', { login: v.login.trim(), password: v.password, remember });
        if (r.status === 'signed_in') done(r);
        else setChallenge({ attempt: r.attempt, to: r.sent_to, why: 'new-device' });
      } else {
        const r = await post('/api/v1/auth/codes', { purpose: 'login', ...targetOf(v) });
        setChallenge({ attempt: r.attempt, to: v.channel === 'email' ? v.email.trim() : v.phone.trim(), why: 'code' });
      }
    });

  const verify = () =>
    form.run(async (v) => {
      const r = await post('/api/v1/auth/login/verify', {
        attempt: challenge.attempt,
        code: v.code.trim(),
        remember: v.remember || undefined,
      });
      done(r);
    });

  const back = () => {
    setChallenge(null);
    form.set('code', '');
    form.reset();
  };

  return (
    <Page title={t('signin.title')} narrow>
      {challenge ? (
        <Form form={form} onSubmit={verify} label={t('signin.title')}>
          {challenge.why === 'new-device' && <p class="lead">{t('signin.new-device')}</p>}
          <CodeSent to={challenge.to} onBack={back} />
          <CodeField form={form} />
          <Submit form={form}>{t('signin.submit')}</Submit>
        </Form>
      ) : (
        <Form form={form} onSubmit={start} label={t('signin.title')}>
          <Choice
            form={form}
            name="method"
            legend={t('signin.method')}
            options={[
              { value: 'password', label: t('signin.method.password') },
              { value: 'code', label: t('signin.method.code') },
            ]}
            onChange={() => form.reset()}
          />
          {form.values.method === 'password' ? (
            <>
              <Field
                form={form}
                name="login"
                label={t('signin.login')}
                hint={t('signin.login.hint')}
                autoComplete="username"
                required
              />
              <Field
                form={form}
                name="password"
                type="password"
                label={t('form.password')}
                autoComplete="current-password"
                required
              />
            </>
          ) : (
            <TargetFields form={form} />
          )}
          <Check form={form} name="remember" label={t('auth.remember')} />
          <Submit form={form}>{form.values.method === 'password' ? t('signin.submit') : t('auth.code.send')}</Submit>
          {form.problem?.status === 403 && (
            <p>
              <a href="/unfreeze">{t('unfreeze.link')}</a>
            </p>
          )}
        </Form>
      )}
      <ul class="aside links">
        <li>
          <a href="/password-reset">{t('reset.link')}</a>
        </li>
        <li>
          {t('signin.no-account')} <a href="/register">{t('auth.register')}</a>
        </li>
        <li>
          <a href="/unfreeze">{t('unfreeze.link')}</a>
        </li>
      </ul>
    </Page>
  );
}

/* ---------------------------------------------------------------- code-then-act pages */

/*
 * The shape of the reset and unfreeze pages: where to send the code, then
 * the code (and whatever else `extra` renders) and the final call.
 */
function CodeFlow({ purpose, title, lead, submitLabel, initial, extra, finish, done }) {
  const { t } = useI18n();
  const form = useForm({ channel: 'sms', phone: '', email: '', code: '', ...initial });
  const [attempt, setAttempt] = useState(null);
  const [to, setTo] = useState('');
  const send = () =>
    form.run(async (v) => {
      const r = await post('/api/v1/auth/codes', { purpose, ...targetOf(v) });
      setTo(v.channel === 'email' ? v.email.trim() : v.phone.trim());
      setAttempt(r.attempt);
    });
  const submit = () =>
    form.run(async (v) => {
      await finish(attempt, v);
    });
  return (
    <Page title={title} narrow>
      {done || (
        <>
          <p class="lead">{lead}</p>
          {!attempt ? (
            <Form form={form} onSubmit={send} label={title}>
              <TargetFields form={form} />
              <Submit form={form}>{t('auth.code.send')}</Submit>
            </Form>
          ) : (
            <Form form={form} onSubmit={submit} label={title}>
              <CodeSent to={to} onBack={() => setAttempt(null)} />
              <CodeField form={form} />
              {extra?.(form)}
              <Submit form={form}>{submitLabel}</Submit>
            </Form>
          )}
        </>
      )}
      <p class="aside">
        <a href="/sign-in">{t('auth.back-to-sign-in')}</a>
      </p>
    </Page>
  );
}

export function ResetPage() {
  const { t } = useI18n();
  const [done, setDone] = useState(false);
  return (
    <CodeFlow
      purpose="reset"
      title={t('reset.title')}
      lead={t('reset.lead')}
      submitLabel={t('reset.submit')}
      initial={{ new_password: '' }}
      extra={(form) => <NewPasswordField form={form} name="new_password" label={t('form.new-password')} />}
      finish={async (attempt, v) => {
        await post('/api/v1/auth/password-reset', { attempt, code: v.code.trim(), new_password: v.new_password });
        setDone(true);
      }}
      done={done && <Notice>{t('reset.done')}</Notice>}
    />
  );
}

export function UnfreezePage() {
  const { t } = useI18n();
  const finishSignIn = useAfterSignIn();
  return (
    <CodeFlow
      purpose="unfreeze"
      title={t('unfreeze.title')}
      lead={t('unfreeze.lead')}
      submitLabel={t('unfreeze.submit')}
      finish={async (attempt, v) => finishSignIn(await post('/api/v1/auth/unfreeze', { attempt, code: v.code.trim() }))}
    />
  );
}

/* ---------------------------------------------------------------- staff */

export function StaffSignInPage() {
  const { t } = useI18n();
  const session = useSession();
  const { navigate } = useRouter();
  const form = useForm({ login: '', password: '', totp: '' });
  const submit = () =>
    form.run(async (v) => {
      const r = await post('/api/v1/staff/login', { login: v.login.trim(), password: v.password, totp: v.totp.trim() });
      session.signedIn(r);
      navigate('/staff');
    });
  return (
    <Page title={t('staff.signin.title')} narrow>
      <p class="lead">{t('staff.signin.lead')}</p>
      <Form form={form} onSubmit={submit} label={t('staff.signin.title')}>
        <Field form={form} name="login" label={t('signin.login')} autoComplete="username" required />
        <Field form={form} name="password" type="password" label={t('form.password')} autoComplete="current-password" required />
        <Field
          form={form}
          name="totp"
          label={t('staff.totp')}
          hint={t('staff.totp.hint')}
          inputMode="numeric"
          autoComplete="one-time-code"
          maxLength={16}
          required
        />
        <Submit form={form}>{t('signin.submit')}</Submit>
      </Form>
    </Page>
  );
}
