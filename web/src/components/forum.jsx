// Building blocks of the community pages: loading an API answer, showing
// a failed load, topic lists with "load more", member links, tags, follow
// buttons, and the two ways server text reaches the page — a post's HTML,
// which the server renders from Markdown through an allow-list and is the
// only HTML ever put into the page as such, and search snippets, whose
// <mark> ranges are rebuilt here as elements (everything else stays text).
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, del, get, post } from '../api.js';
import { useI18n } from '../i18n.js';
import { Time } from '../pages/page.jsx';
import { useRouter } from '../router.js';
import { useSession } from '../session.js';

export { LoadError, useLoad } from '../load.jsx';

/* A paged list: first page from path (null: none), then "load more" with next_cursor. */
export function usePages(path, key) {
  const [state, setState] = useState({ items: [], next: null, error: null, loading: !!path });
  const fetchPage = useCallback(
    async (cursor) => {
      if (!path) return;
      setState((s) => ({ ...s, loading: true, error: cursor ? s.error : null }));
      const sep = path.includes('?') ? '&' : '?';
      try {
        const page = await get(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
        setState((s) => ({
          items: cursor ? [...s.items, ...page[key]] : page[key],
          next: page.next_cursor || null,
          error: null,
          loading: false,
        }));
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        setState((s) => ({ ...s, error: e, loading: false }));
      }
    },
    [path, key],
  );
  useEffect(() => {
    setState({ items: [], next: null, error: null, loading: !!path });
    fetchPage(null);
  }, [fetchPage, path]);
  return { ...state, more: () => fetchPage(state.next) };
}

export function Loading() {
  const { t } = useI18n();
  return (
    <p class="loading" aria-busy="true">
      {t('app.loading')}
    </p>
  );
}

/* "Load more" under a paged list, or nothing at its end. */
export function LoadMore({ pages, label }) {
  const { t } = useI18n();
  if (!pages.next) return null;
  return (
    <p class="pager">
      <button type="button" class="button" onClick={pages.more} disabled={pages.loading} aria-busy={pages.loading ? 'true' : undefined}>
        {label || t('forum.more')}
      </button>
    </p>
  );
}

/* A member's name as a link to their page; "a member" when the account is gone. */
export function MemberLink({ author }) {
  const { t } = useI18n();
  if (!author) return <span class="post-author">{t('user.anonymous')}</span>;
  const name = author.name || (author.username ? `@${author.username}` : t('user.anonymous'));
  return (
    <a class="post-author" href={`/users/${author.id}`}>
      {name}
    </a>
  );
}

export function Tags({ tags, board }) {
  if (!tags?.length) return null;
  return (
    <ul class="tags">
      {tags.map((tag) => (
        <li key={tag}>
          <a class="tag" href={`/b/${board}?tag=${encodeURIComponent(tag)}`}>
            #{tag}
          </a>
        </li>
      ))}
    </ul>
  );
}

export function TopicItem({ topic, showBoard = true }) {
  const { t } = useI18n();
  return (
    <li class="topic-item">
      <a class="topic-title" href={`/t/${topic.id}`}>
        {topic.title}
      </a>
      {topic.pinned && <span class="badge">{t('forum.pinned')}</span>}
      {topic.locked && <span class="badge">{t('forum.locked')}</span>}
      <span class="topic-stats">
        {showBoard && topic.board && (
          <>
            <a class="topic-board" href={`/b/${topic.board.slug}`}>
              {topic.board.name}
            </a>{' '}
            ·{' '}
          </>
        )}
        <MemberLink author={topic.author} /> · {t('forum.replies.count', { count: topic.reply_count })} ·{' '}
        {t('forum.likes.count', { count: topic.like_count })} · <Time ms={topic.last_post_at} />
      </span>
      {topic.board && <Tags tags={topic.tags} board={topic.board.slug} />}
    </li>
  );
}

export function TopicList({ topics, showBoard, empty }) {
  const { t } = useI18n();
  if (!topics.length) return <p class="empty">{empty || t('forum.topics.none')}</p>;
  return (
    <ul class="topic-list">
      {topics.map((x) => (
        <TopicItem key={x.id} topic={x} showBoard={showBoard} />
      ))}
    </ul>
  );
}

/* A post's HTML: rendered by the server from Markdown through an allow-list. */
export function PostHtml({ html, class: cls = 'post-body' }) {
  // eslint-disable-next-line react/no-danger -- sanitised by the server's renderer (src/community/markdown.c)
  return <div class={cls} dangerouslySetInnerHTML={{ __html: html }} />;
}

const ENTITIES = { '&lt;': '<', '&gt;': '>', '&amp;': '&', '&quot;': '"', '&#39;': "'" };

/*
 * The pieces of a snippet the server escaped and marked: [{text, mark}].
 * Only <mark> and </mark> are read as tags and only the five entities the
 * server writes are decoded; anything else stays literal text, so nothing
 * in a snippet can become markup.
 */
export function snippetPieces(html) {
  const out = [];
  let mark = false;
  for (const part of String(html || '').split(/(<\/?mark>)/)) {
    if (part === '<mark>') mark = true;
    else if (part === '</mark>') mark = false;
    else if (part) out.push({ text: part.replace(/&(?:lt|gt|amp|quot|#39);/g, (e) => ENTITIES[e]), mark });
  }
  return out;
}

export function Snippet({ html, class: cls }) {
  return (
    <span class={cls}>
      {snippetPieces(html).map((p, i) => (p.mark ? <mark key={i}>{p.text}</mark> : p.text))}
    </span>
  );
}

/*
 * Runs a member action, or sends a visitor to sign in and come back here.
 * Returns act(fn): fn runs only with a session.
 */
export function useMemberAction() {
  const { user } = useSession();
  const { path, search, navigate } = useRouter();
  return useCallback(
    (fn) => {
      if (user) return fn();
      navigate(`/sign-in?next=${encodeURIComponent(path + search)}`);
      return undefined;
    },
    [user, path, search, navigate],
  );
}

/*
 * An on/off relation with the server (like, favourite, follow): POST to
 * turn it on, DELETE to turn it off; a 409 means it already was, so the
 * state is simply taken over. Returns [on, toggle, busy, error].
 */
export function useToggle(path, initial, onChange) {
  const [on, setOn] = useState(!!initial);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  useEffect(() => setOn(!!initial), [initial, path]);
  const toggle = useCallback(async () => {
    const want = !on;
    setBusy(true);
    setError(null);
    try {
      await (want ? post(path) : del(path));
      setOn(want);
      onChange?.(want);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      if (e.status === 409) {
        setOn(want);
        onChange?.(want);
      } else setError(e);
    } finally {
      setBusy(false);
    }
  }, [on, path, onChange]);
  return [on, toggle, busy, error];
}

/* The error of a toggle, small and next to it. */
export function InlineError({ error }) {
  const { t } = useI18n();
  if (!error) return null;
  return (
    <span class="field-error" role="alert">
      {error.problem?.detail || error.problem?.title || t('form.failed')}
    </span>
  );
}

/* Follow / Unfollow for a member or a board; visitors are asked to sign in. */
export function FollowButton({ path, following, onChange }) {
  const { t } = useI18n();
  const act = useMemberAction();
  const [on, toggle, busy, error] = useToggle(path, following, onChange);
  return (
    <span class="follow">
      <button type="button" class={`button${on ? '' : ' primary'}`} disabled={busy} onClick={() => act(toggle)}>
        {on ? t('forum.unfollow') : t('forum.follow')}
      </button>
      <InlineError error={error} />
    </span>
  );
}
