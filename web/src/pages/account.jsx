// "My account": a sub-navigation and its pages — profile (every field, each
// with its public/private choice, and the avatar), sessions and devices,
// the security log, password and contact changes (security.jsx), and
// freezing the account.
import { useState } from 'preact/hooks';
import { api, ApiError, del, get, patch, post } from '../api.js';
import { Check, Field, FieldError, Form, Notice, ProblemAlert, Submit, useForm } from '../forms.jsx';
import { useI18n } from '../i18n.js';
import { useRouter } from '../router.js';
import { useSession } from '../session.js';
import { LoadError, useLoad, useNewestFirst } from '../load.jsx';
import { IdentityFields } from './fields.jsx';
import { Page, Time } from './page.jsx';
import { SecurityPage } from './security.jsx';

export const ACCOUNT_PAGES = [
  { slug: 'profile', key: 'account.nav.profile', Component: ProfilePage },
  { slug: 'sessions', key: 'account.nav.sessions', Component: SessionsPage },
  { slug: 'security-log', key: 'account.nav.log', Component: SecurityLogPage },
  { slug: 'security', key: 'account.nav.security', Component: SecurityPage },
  { slug: 'freeze', key: 'account.nav.freeze', Component: FreezePage },
];

/* /account/<slug>; /account alone shows the profile. */
export function AccountPage({ slug }) {
  const { t } = useI18n();
  const page = ACCOUNT_PAGES.find((p) => p.slug === (slug || 'profile'));
  if (!page) return null;
  const { Component } = page;
  return (
    <Page title={t(page.key)} class="account">
      <nav class="subnav" aria-label={t('account.nav.label')}>
        <ul>
          {ACCOUNT_PAGES.map((p) => (
            <li key={p.slug}>
              <a href={`/account/${p.slug}`} aria-current={p === page ? 'page' : undefined}>
                {t(p.key)}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <div class="account-body">
        <Component />
      </div>
    </Page>
  );
}

/* ---------------------------------------------------------------- profile */

const TEXT_FIELDS = ['signature', 'company', 'title', 'department', 'industry'];
const PUBLIC_CHOICES = ['gender', ...TEXT_FIELDS, 'email', 'avatar'];
const GENDERS = ['female', 'male', 'other', 'undisclosed'];

function profileValues(user) {
  const v = {
    display_name: user.display_name || '',
    username: user.username || '',
    account_type: user.account_type || 'individual',
    gender: user.gender || '',
  };
  for (const f of TEXT_FIELDS) v[f] = user[f] || '';
  for (const f of PUBLIC_CHOICES) v[`public_${f}`] = (user.public_fields || []).includes(f);
  return v;
}

/* The PATCH body: only what changed; an emptied field becomes null (cleared). */
function profileChanges(user, v) {
  const body = {};
  for (const f of ['display_name', 'username', 'gender', ...TEXT_FIELDS]) {
    const now = f === 'signature' ? v[f] : v[f].trim();
    if (now !== (user[f] || '')) body[f] = now === '' && f !== 'display_name' ? null : now;
  }
  if (v.account_type !== user.account_type) body.account_type = v.account_type;
  const pub = PUBLIC_CHOICES.filter((f) => v[`public_${f}`]);
  const before = [...(user.public_fields || [])].sort().join();
  if ([...pub].sort().join() !== before) body.public_fields = pub;
  return body;
}

/* A "shown on my public page" switch for one field. */
function PublicToggle({ form, field, label }) {
  const { t } = useI18n();
  return (
    <Check form={form} name={`public_${field}`} label={t('profile.public')} aria-label={t('profile.public.field', { field: label })} />
  );
}

const AVATAR_TYPES = ['image/png', 'image/jpeg', 'image/webp'];

/*
 * The avatar: the current picture, an upload (PUT /api/v1/me/avatar with the
 * file as the raw body, answered with the profile) and removal.
 */
function AvatarControl() {
  const { t } = useI18n();
  const session = useSession();
  const form = useForm({ avatar: '' });
  const [done, setDone] = useState(null);
  const url = session.user.avatar_url || null;
  const change = (call, message) =>
    form.run(async () => {
      setDone(null);
      try {
        const me = await call();
        session.setUser(me && me.id ? me : await get('/api/v1/me'));
        setDone(message);
      } catch (err) {
        // Whatever the server says about the image belongs next to this input.
        if (err instanceof ApiError && !err.fieldErrors.avatar) {
          const message = err.problem.detail || err.problem.title || t('form.failed');
          Object.defineProperty(err, 'fieldErrors', { value: { avatar: message } });
        }
        throw err;
      }
    });
  const upload = async (e) => {
    const input = e.currentTarget;
    const file = input.files?.[0];
    if (!file) return;
    const type = file.type || 'application/octet-stream';
    await change(() => api('PUT', '/api/v1/me/avatar', file, { contentType: type }), t('profile.avatar.done'));
    input.value = '';
  };
  const remove = () => change(() => del('/api/v1/me/avatar'), t('profile.avatar.removed'));
  const id = `${form.id}-avatar`;
  const err = form.errors.avatar;
  return (
    <div class={`field avatar${err ? ' field-invalid' : ''}`}>
      <span class="avatar-image" aria-hidden={url ? undefined : 'true'}>
        {url ? <img src={url} alt={t('profile.avatar.current')} width="96" height="96" /> : <span class="avatar-empty" />}
      </span>
      <div ref={form.ref}>
        <label for={id}>{t('profile.avatar')}</label>
        <p id={`${id}-hint`} class="hint">
          {t('profile.avatar.hint')}
        </p>
        <input
          id={id}
          type="file"
          name="avatar"
          data-field="avatar"
          accept={AVATAR_TYPES.join(',')}
          aria-invalid={err ? 'true' : undefined}
          aria-describedby={err ? `${id}-error ${id}-hint` : `${id}-hint`}
          disabled={form.busy}
          onChange={upload}
        />
        <FieldError id={`${id}-error`} message={err} />
        {url && (
          <button type="button" class="link-button" onClick={remove} disabled={form.busy}>
            {t('profile.avatar.remove')}
          </button>
        )}
        <Notice>{done}</Notice>
      </div>
    </div>
  );
}

export function ProfilePage() {
  const { t } = useI18n();
  const session = useSession();
  const user = session.user;
  const form = useForm(profileValues(user));
  const [saved, setSaved] = useState(false);
  const submit = () =>
    form.run(async (v) => {
      setSaved(false);
      const body = profileChanges(user, v);
      const me = Object.keys(body).length ? await patch('/api/v1/me', body) : user;
      session.setUser(me);
      form.setValues(profileValues(me));
      setSaved(true);
    });
  const text = (name, props = {}) => (
    <div class="field-row">
      <Field form={form} name={name} label={t(`profile.${name}`)} optional {...props} />
      <PublicToggle form={form} field={name} label={t(`profile.${name}`)} />
    </div>
  );
  return (
    <>
      <p>
        {t('profile.public-page')} <a href={`/users/${user.id}`}>{t('profile.public-page.link')}</a>
      </p>
      <AvatarControl />
      <Form form={form} onSubmit={submit} label={t('account.nav.profile')}>
        <IdentityFields form={form} />
        <div class="field-row">
          <Field form={form} name="gender" as="select" label={t('profile.gender')} optional>
            <option value="">{t('profile.gender.unset')}</option>
            {GENDERS.map((g) => (
              <option key={g} value={g}>
                {t(`profile.gender.${g}`)}
              </option>
            ))}
          </Field>
          <PublicToggle form={form} field="gender" label={t('profile.gender')} />
        </div>
        {text('signature', { as: 'textarea', rows: 3, maxLength: 280 })}
        {text('company', { autoComplete: 'organization' })}
        {text('title', { autoComplete: 'organization-title' })}
        {text('department')}
        {text('industry')}
        <div class="field-row">
          <div class="field">
            <span class="label">{t('form.email')}</span>
            <p class="readonly">{user.email || t('security.email.none')}</p>
          </div>
          <PublicToggle form={form} field="email" label={t('form.email')} />
        </div>
        <div class="field-row">
          <div class="field">
            <span class="label">{t('profile.avatar')}</span>
          </div>
          <PublicToggle form={form} field="avatar" label={t('profile.avatar.public')} />
        </div>
        <Submit form={form}>{t('form.save')}</Submit>
        {saved && <Notice>{t('profile.saved')}</Notice>}
      </Form>
    </>
  );
}

/* ---------------------------------------------------------------- sessions and devices */

export function SessionsPage() {
  const { t } = useI18n();
  const session = useSession();
  const { navigate } = useRouter();
  const sessions = useLoad('/api/v1/me/sessions');
  const devices = useLoad('/api/v1/me/devices');
  const form = useForm({});
  const [notice, setNotice] = useState(null);
  const endSession = (s) =>
    form.run(async () => {
      setNotice(null);
      await del(`/api/v1/me/sessions/${s.id}`);
      setNotice(t('sessions.ended', { device: s.device }));
      await sessions.reload();
    });
  const forget = (d) =>
    form.run(async () => {
      setNotice(null);
      await del(`/api/v1/me/devices/${d.id}`);
      setNotice(t('devices.forgotten', { device: d.label }));
      await Promise.all([devices.reload(), sessions.reload()]);
    });
  const everywhere = () =>
    form.run(async () => {
      await session.signOut(true);
      navigate('/sign-in');
    });
  const list = sessions.data?.sessions || [];
  return (
    <>
      <div ref={form.ref}>
        <ProblemAlert form={form} />
        <Notice>{notice}</Notice>
      </div>
      <section class="card" aria-labelledby="sessions-h">
        <h2 id="sessions-h">{t('sessions.title')}</h2>
        <LoadError error={sessions.error} />
        <ul class="rows" aria-label={t('sessions.title')}>
          {list.map((s) => (
            <li key={s.id} class="row" data-session={s.id}>
              <div class="row-main">
                <strong>{s.device}</strong>
                {s.current && <span class="badge">{t('sessions.current')}</span>}
                {s.staff && <span class="badge">{t('sessions.staff')}</span>}
                <span class="row-meta">
                  {t('sessions.place', { place: s.place })} · {t('sessions.last-seen')} <Time ms={s.last_seen_at} /> ·{' '}
                  {t('sessions.started')} <Time ms={s.created_at} />
                </span>
              </div>
              {!s.current && (
                <button
                  type="button"
                  class="button"
                  disabled={form.busy}
                  aria-label={t('sessions.end.label', { device: s.device })}
                  onClick={() => endSession(s)}
                >
                  {t('sessions.end')}
                </button>
              )}
            </li>
          ))}
        </ul>
        <p class="hint">{t('sessions.everywhere.hint')}</p>
        <button type="button" class="button danger" disabled={form.busy} onClick={everywhere}>
          {t('sessions.everywhere')}
        </button>
      </section>
      <section class="card" aria-labelledby="devices-h">
        <h2 id="devices-h">{t('devices.title')}</h2>
        <LoadError error={devices.error} />
        <ul class="rows" aria-label={t('devices.title')}>
          {(devices.data?.devices || []).map((d) => (
            <li key={d.id} class="row">
              <div class="row-main">
                <strong>{d.label}</strong>
                <span class="row-meta">
                  {t('devices.first-seen')} <Time ms={d.first_seen_at} /> · {t('sessions.last-seen')}{' '}
                  <Time ms={d.last_seen_at} />
                </span>
              </div>
              <button
                type="button"
                class="button"
                disabled={form.busy}
                aria-label={t('devices.forget.label', { device: d.label })}
                onClick={() => forget(d)}
              >
                {t('devices.forget')}
              </button>
            </li>
          ))}
        </ul>
        <p class="hint">{t('devices.hint')}</p>
      </section>
    </>
  );
}

/* ---------------------------------------------------------------- security log */

export function SecurityLogPage() {
  const { t } = useI18n();
  const { items: entries, next, error, loading, more } = useNewestFirst('/api/v1/me/security-log', 'entries');
  const actionText = (a) => {
    const key = `log.${a}`;
    const text = t(key);
    return text === key ? a : text;
  };
  return (
    <div class="card">
      <p class="hint">{t('log.hint')}</p>
      <LoadError error={error} />
      <table class="log" aria-label={t('log.title')}>
        <thead>
          <tr>
            <th scope="col">{t('log.when')}</th>
            <th scope="col">{t('log.what')}</th>
            <th scope="col">{t('log.where')}</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id} data-action={e.action}>
              <td>
                <Time ms={e.at} />
              </td>
              <td>
                {actionText(e.action)}
                {!e.by_self && e.actor_role && <span class="badge">{t('log.by-staff', { role: e.actor_role })}</span>}
              </td>
              <td>{e.ip || '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!loading && entries.length === 0 && !error && <p>{t('log.empty')}</p>}
      {next && (
        <button type="button" class="button" disabled={loading} onClick={more}>
          {t('log.more')}
        </button>
      )}
    </div>
  );
}

/* ---------------------------------------------------------------- freeze */

export function FreezePage() {
  const { t } = useI18n();
  const session = useSession();
  const { navigate } = useRouter();
  const form = useForm({ confirm: false });
  const submit = () =>
    form.run(async (v) => {
      if (!v.confirm) {
        form.fail(new ApiError(400, { title: t('freeze.confirm.needed') }));
        return;
      }
      await post('/api/v1/me/freeze');
      session.clear('frozen');
      navigate('/account-frozen');
    });
  return (
    <section class="card" aria-labelledby="freeze-h">
      <h2 id="freeze-h">{t('freeze.title')}</h2>
      <p>{t('freeze.body')}</p>
      <Form form={form} onSubmit={submit} label={t('freeze.title')}>
        <Check form={form} name="confirm" label={t('freeze.confirm')} />
        <Submit form={form} class="danger">
          {t('freeze.submit')}
        </Submit>
      </Form>
    </section>
  );
}

export function FrozenPage() {
  const { t } = useI18n();
  return (
    <Page title={t('frozen.title')} narrow>
      <p class="lead">{t('frozen.body')}</p>
      <p>
        <a href="/unfreeze">{t('unfreeze.link')}</a>
      </p>
    </Page>
  );
}
