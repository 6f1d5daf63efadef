// A user's public page (/users/{id}): what GET /api/v1/users/{id} returns,
// which is only what that user chose to make public; and the staff landing
// page after a staff sign-in.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get } from '../api.js';
import { useI18n } from '../i18n.js';
import { useSession } from '../session.js';
import { Page, Time } from './page.jsx';

const SHOWN = ['gender', 'signature', 'company', 'title', 'department', 'industry', 'email'];

export function UserPage({ id }) {
  const { t } = useI18n();
  const [state, setState] = useState({ user: null, error: null });
  useEffect(() => {
    let live = true;
    setState({ user: null, error: null });
    if (!/^[1-9][0-9]{0,17}$/.test(id)) {
      setState({ user: null, error: new ApiError(404, null) });
      return undefined;
    }
    get(`/api/v1/users/${id}`).then(
      (user) => live && setState({ user, error: null }),
      (error) => live && setState({ user: null, error }),
    );
    return () => {
      live = false;
    };
  }, [id]);
  const { user, error } = state;
  if (error) {
    const missing = error.status === 404;
    return (
      <Page title={missing ? t('problem.not-found.title') : error.problem?.title || t('form.failed')}>
        <p class="lead">{missing ? t('user.not-found') : error.problem?.detail}</p>
      </Page>
    );
  }
  if (!user) {
    return (
      <Page title={t('app.loading')}>
        <p aria-busy="true">{t('app.loading')}</p>
      </Page>
    );
  }
  const value = (f) => (f === 'gender' ? t(`profile.gender.${user.gender}`) : user[f]);
  const avatar = user.avatar_url || user.avatar;
  return (
    <Page title={user.display_name || user.username || t('user.anonymous')} class="user-page">
      <div class="user-head">
        {avatar && <img class="avatar-image" src={avatar} alt="" width="96" height="96" />}
        <p class="lead">
          {user.username && <span class="username">@{user.username}</span>}{' '}
          <span class="badge">{t(`account.type.${user.account_type}`)}</span>
        </p>
      </div>
      <dl class="facts">
        {SHOWN.filter((f) => user[f]).map((f) => (
          <div key={f} data-field={f}>
            <dt>{f === 'email' ? t('form.email') : t(`profile.${f}`)}</dt>
            <dd>{value(f)}</dd>
          </div>
        ))}
        <div>
          <dt>{t('user.member-since')}</dt>
          <dd>
            <Time ms={user.member_since} dateOnly />
          </dd>
        </div>
      </dl>
    </Page>
  );
}

export function StaffPage() {
  const { t } = useI18n();
  const { user } = useSession();
  const [roles, setRoles] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!user) return;
    get('/api/v1/staff/session').then(
      (s) => setRoles(s.roles),
      (e) => setError(e),
    );
  }, [user]);
  return (
    <Page title={t('staff.title')}>
      {error ? (
        <p class="lead">{error.problem?.detail || error.problem?.title}</p>
      ) : (
        roles && (
          <p class="lead">
            {t('staff.roles', { roles: roles.map((r) => t(`staff.role.${r}`)).join(', ') })}
          </p>
        )
      )}
    </Page>
  );
}
