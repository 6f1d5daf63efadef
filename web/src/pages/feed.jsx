// The community feed (/community/feed, the "For you" tab of /community):
// GET /api/v1/feed, personalised when the member's "personalised
// recommendations" switch is on, else the latest topics. The server says
// which mode it used; with the switch off the page says so and links to
// the switch in the privacy center, and a personalised topic says why it
// is there.
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, get } from '../api.js';
import { LoadError, Loading, MemberLink, Tags } from '../components/forum.jsx';
import { useI18n } from '../i18n.js';
import { useSession } from '../session.js';
import { Page, Time } from './page.jsx';

/* The link that makes the feed a tab beside "Latest" and "Top". */
export function FeedTabLink({ current }) {
  const { t } = useI18n();
  return (
    <a href="/community/feed" aria-current={current ? 'page' : undefined}>
      {t('feed.tab')}
    </a>
  );
}

/*
 * A list loaded a page at a time: pathOf(next) is the address of a page
 * (next null: the first) and read(page) gives {items, next, ...fields of
 * the answer kept}. Both must be stable (module-level) functions; key
 * (e.g. who is signed in) reloads from the first page.
 * Returns {items, next, error, loading, ...fields, more, setState}.
 */
export function usePagedList(pathOf, read, key) {
  const [state, setState] = useState({ items: [], next: null, error: null, loading: true });
  const load = useCallback(
    async (next) => {
      setState((s) => ({ ...s, loading: true }));
      try {
        const { items, ...rest } = read(await get(pathOf(next)));
        setState((s) => ({ ...s, ...rest, items: next ? [...s.items, ...items] : items, error: null, loading: false }));
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        setState((s) => ({ ...s, error: e, loading: false }));
      }
    },
    [pathOf, read],
  );
  useEffect(() => {
    load(null);
  }, [load, key]);
  return { ...state, more: () => load(state.next), setState };
}

const feedPath = (cursor) => `/api/v1/feed${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`;
const feedRead = (page) => ({ items: page.topics, next: page.next_cursor || null, mode: page.mode, reason: page.reason });

function ModeNote({ mode, reason }) {
  const { t } = useI18n();
  if (mode === 'personalised') return <p class="feed-note">{t('feed.mode.personalised')}</p>;
  if (reason === 'purpose_off') {
    return (
      <p class="feed-note" data-mode="latest">
        {t('feed.note.purpose_off')} <a href="/privacy#pc-purposes">{t('feed.note.link')}</a>
      </p>
    );
  }
  if (reason === 'visitor') {
    return (
      <p class="feed-note" data-mode="latest">
        {t('feed.note.visitor')} <a href="/sign-in?next=%2Fcommunity%2Ffeed">{t('auth.sign-in')}</a>
      </p>
    );
  }
  return null;
}

function FeedItem({ topic }) {
  const { t } = useI18n();
  const why = (topic.because || []).map((r) => t(`feed.because.${r}`));
  return (
    <li class="topic-item">
      <a class="topic-title" href={`/t/${topic.id}`}>
        {topic.title}
      </a>
      <span class="topic-stats">
        <a class="topic-board" href={`/b/${topic.board.slug}`}>
          {topic.board.name}
        </a>{' '}
        · <MemberLink author={topic.author} /> · {t('forum.replies.count', { count: topic.reply_count })} ·{' '}
        {t('forum.likes.count', { count: topic.like_count })} · <Time ms={topic.last_post_at} />
      </span>
      <Tags tags={topic.tags} board={topic.board.slug} />
      {why.length > 0 && <p class="feed-why">{t('feed.because', { reasons: why.join(' · ') })}</p>}
    </li>
  );
}

export function FeedPage() {
  const { t } = useI18n();
  const { user } = useSession();
  const feed = usePagedList(feedPath, feedRead, user?.id || 0);
  return (
    <Page title={t('feed.title')} class="forum feed">
      <nav class="tabs" aria-label={t('forum.sort.label')}>
        <a href="/community">{t('forum.sort.latest')}</a>
        <a href="/community?sort=top">{t('forum.sort.top')}</a>
        <FeedTabLink current />
      </nav>
      {feed.mode && <ModeNote mode={feed.mode} reason={feed.reason} />}
      <LoadError error={feed.error} />
      {feed.loading && !feed.items.length ? (
        <Loading />
      ) : feed.items.length ? (
        <ul class="topic-list" data-mode={feed.mode || undefined}>
          {feed.items.map((x) => (
            <FeedItem key={x.id} topic={x} />
          ))}
        </ul>
      ) : (
        !feed.error && <p class="empty">{t('feed.empty')}</p>
      )}
      {feed.next && (
        <p class="pager">
          <button type="button" class="button" onClick={feed.more} disabled={feed.loading}>
            {t('feed.more')}
          </button>
        </p>
      )}
    </Page>
  );
}
