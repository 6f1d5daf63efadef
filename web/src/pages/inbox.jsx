// The in-app inbox (/inbox) and its badge in the header: every notice
// (community replies, mentions, likes and follows; policy and privacy
// notices), newest first, worded here from the catalogue in the reader's
// language; read one, or all at once; and the switch of each kind of
// community notice (GET/PUT /api/v1/me/notification-settings).
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, get, post, put } from '../api.js';
import { LoadError, Loading } from '../components/forum.jsx';
import { useI18n } from '../i18n.js';
import { useRouter } from '../router.js';
import { useSession } from '../session.js';
import { usePagedList } from './feed.jsx';
import { Page, Time, formatTime } from './page.jsx';

const CHANGED = 'entrepot:inbox'; // fired when notices are read, so the badge follows
const POLL_MS = 60000;
export const NOTICE_SWITCHES = ['reply', 'mention', 'like', 'follow'];

/* "Inbox" in the header with the number of unread notices. */
export function InboxBadge() {
  const { t } = useI18n();
  const { path } = useRouter();
  const [unread, setUnread] = useState(0);
  const check = useCallback(async () => {
    try {
      setUnread((await get('/api/v1/me/inbox?limit=1')).unread);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e; // signed out or offline: keep the last count
    }
  }, []);
  useEffect(() => {
    check();
  }, [check, path]);
  useEffect(() => {
    const timer = setInterval(check, POLL_MS);
    addEventListener(CHANGED, check);
    return () => {
      clearInterval(timer);
      removeEventListener(CHANGED, check);
    };
  }, [check]);
  const label = unread ? `${t('inbox.link')}, ${t('inbox.badge', { count: unread })}` : t('inbox.link');
  return (
    <a href="/inbox" class="inbox-link" aria-label={label}>
      {t('inbox.link')}
      {unread > 0 && (
        <span class="badge inbox-count" aria-hidden="true">
          {unread}
        </span>
      )}
    </a>
  );
}

/* What a notice says, and where it leads (null: nowhere). */
function wording(t, lang, n) {
  const p = n.params || {};
  if (n.kind.startsWith('community.')) {
    const name = p.by?.name || (p.by?.username ? `@${p.by.username}` : t('inbox.someone'));
    const href = n.kind === 'community.follow' ? (p.by ? `/users/${p.by.id}` : null) : `/t/${p.topic_id}#p${p.post_id}`;
    return { text: t(`inbox.kind.${n.kind}`, { name, title: p.title || '' }), href };
  }
  if (n.kind === 'policy.published') {
    const key = p.material ? 'privacy.center.inbox.policy-material' : 'privacy.center.inbox.policy';
    const text = t(key, { document: t(`policy.document.${p.document}`), version: p.version, date: formatTime(lang, p.effective_at, true) });
    return { text, href: '/privacy' };
  }
  const key = `privacy.center.inbox.${n.kind}`;
  const text = t(key);
  return { text: text === key ? n.kind : text, href: '/privacy' };
}

/* The notices, paged by "before" (the id of the last one shown). */
const inboxPath = (before) => `/api/v1/me/inbox?limit=30${before ? `&before=${before}` : ''}`;
const inboxRead = (page) => ({ items: page.items, next: page.next_before || null, unread: page.unread });

function useInbox() {
  const { setState, ...state } = usePagedList(inboxPath, inboxRead);
  const markRead = useCallback(async (ids) => {
    const now = Date.now();
    setState((s) => ({
      ...s,
      items: s.items.map((n) => (ids === 'all' || ids.includes(n.id) ? { ...n, read_at: n.read_at || now } : n)),
      unread: ids === 'all' ? 0 : Math.max(0, s.unread - s.items.filter((n) => ids.includes(n.id) && !n.read_at).length),
    }));
    dispatchEvent(new Event(CHANGED));
  }, []);
  return { ...state, markRead };
}

function Notices() {
  const { t, lang } = useI18n();
  const inbox = useInbox();
  const read = async (n) => {
    if (n.read_at) return;
    await post(`/api/v1/me/inbox/${n.id}/read`).catch(() => {});
    inbox.markRead([n.id]);
  };
  const readAll = async () => {
    await post('/api/v1/me/inbox/read-all');
    inbox.markRead('all');
  };
  return (
    <section class="card" aria-labelledby="inbox-notices">
      <div class="inbox-head">
        <h2 id="inbox-notices">{t('inbox.badge', { count: inbox.unread ?? 0 })}</h2>
        {inbox.unread > 0 && (
          <button type="button" class="button" onClick={readAll}>
            {t('inbox.mark-all')}
          </button>
        )}
      </div>
      <LoadError error={inbox.error} />
      {inbox.loading && !inbox.items.length && <Loading />}
      {!inbox.loading && !inbox.error && !inbox.items.length && <p class="empty">{t('inbox.empty')}</p>}
      <ul class="rows notices" aria-label={t('inbox.title')}>
        {inbox.items.map((n) => {
          const { text, href } = wording(t, lang, n);
          return (
            <li key={n.id} class="row notice-row" data-kind={n.kind} data-read={n.read_at ? 'yes' : 'no'}>
              <span class="row-main">
                {!n.read_at && <span class="badge">{t('inbox.new')}</span>}
                {href ? (
                  <a href={href} onClick={() => read(n)}>
                    {text}
                  </a>
                ) : (
                  <span>{text}</span>
                )}
                <span class="row-meta">
                  <Time ms={n.created_at} />
                </span>
              </span>
              {!n.read_at && (
                <button type="button" class="button" onClick={() => read(n)}>
                  {t('inbox.mark-read')}
                </button>
              )}
            </li>
          );
        })}
      </ul>
      {inbox.next && (
        <p class="pager">
          <button type="button" class="button" onClick={inbox.more} disabled={inbox.loading}>
            {t('inbox.more')}
          </button>
        </p>
      )}
    </section>
  );
}

function Switches() {
  const { t } = useI18n();
  const [values, setValues] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    get('/api/v1/me/notification-settings').then(setValues, (e) => {
      if (!(e instanceof ApiError)) throw e;
      setError(e);
    });
  }, []);
  const change = async (key, on) => {
    setSaved(false);
    setError(null);
    try {
      setValues(await put('/api/v1/me/notification-settings', { [key]: on }));
      setSaved(true);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      setError(e);
    }
  };
  return (
    <section class="card" aria-labelledby="inbox-switches">
      <h2 id="inbox-switches">{t('inbox.settings.title')}</h2>
      <LoadError error={error} />
      {values ? (
        <ul class="switches">
          {NOTICE_SWITCHES.map((key) => (
            <li key={key}>
              <label class="check">
                <input type="checkbox" checked={values[key]} onChange={(e) => change(key, e.currentTarget.checked)} />{' '}
                {t(`inbox.settings.${key}`)}
              </label>
            </li>
          ))}
        </ul>
      ) : (
        !error && <Loading />
      )}
      {saved && (
        <p class="notice" role="status">
          {t('inbox.settings.saved')}
        </p>
      )}
    </section>
  );
}

export function InboxPage() {
  const { t } = useI18n();
  const { user } = useSession();
  return (
    <Page title={t('inbox.title')} class="inbox" key={user?.id}>
      <Notices />
      <Switches />
    </Page>
  );
}
