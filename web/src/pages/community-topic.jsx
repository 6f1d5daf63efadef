// A topic page (/t/{id}): the first post and its replies, 20 at a time,
// threaded one level (a reply to a reply shows under it), with quotes,
// likes, favourite, share links, the author's edits (with their history)
// and deletes, and the reply box. Post bodies are the server's sanitised
// HTML; everything else is text. Visitors read; any member action asks
// them to sign in and brings them back here.
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, del, get, patch, post as apiPost } from '../api.js';
import { MarkdownField } from '../components/editor.jsx';
import {
  FollowButton,
  InlineError,
  LoadError,
  Loading,
  MemberLink,
  PostHtml,
  Tags,
  useLoad,
  useMemberAction,
  useToggle,
} from '../components/forum.jsx';
import { Field, Form, Notice, Submit, useForm } from '../forms.jsx';
import { useI18n } from '../i18n.js';
import { useRouter } from '../router.js';
import { useSession } from '../session.js';
import { Missing } from './community.jsx';
import { Page, Time } from './page.jsx';

const REPLY_BOX = 'reply-box';

function focusReplyBox() {
  const box = document.getElementById(REPLY_BOX);
  box?.scrollIntoView({ block: 'center' });
  box?.querySelector('textarea')?.focus();
}

/* The topic's pages as loaded so far: { topic, first, replies, next, liked }. */
function useTopic(id, userId) {
  const [state, setState] = useState({ data: null, error: null, loadingMore: false });
  const merge = (data, page) => ({
    ...data,
    replies: [...data.replies, ...page.replies],
    next: page.next_cursor,
    liked: new Set([...data.liked, ...(page.topic.liked_post_ids || [])]),
  });
  const load = useCallback(async () => {
    try {
      const page = await get(`/api/v1/topics/${id}`);
      setState({
        data: {
          topic: page.topic,
          first: page.first_post,
          replies: page.replies,
          next: page.next_cursor,
          liked: new Set(page.topic.liked_post_ids || []),
        },
        error: null,
        loadingMore: false,
      });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      setState({ data: null, error: e, loadingMore: false });
    }
  }, [id, userId]);
  useEffect(() => {
    setState({ data: null, error: null, loadingMore: false });
    if (/^[1-9][0-9]{0,17}$/.test(id)) load();
    else setState({ data: null, error: new ApiError(404, null), loadingMore: false });
  }, [id, load]);
  const more = async () => {
    const cursor = state.data?.next;
    if (!cursor) return;
    setState((s) => ({ ...s, loadingMore: true }));
    try {
      const page = await get(`/api/v1/topics/${id}?cursor=${encodeURIComponent(cursor)}`);
      setState((s) => ({ ...s, data: merge(s.data, page), loadingMore: false }));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      setState((s) => ({ ...s, moreError: e, loadingMore: false }));
    }
  };
  /* Applies fn to the post with this id, wherever it is. */
  const updatePost = (postId, fn) =>
    setState((s) => {
      const d = s.data;
      return {
        ...s,
        data: {
          ...d,
          first: d.first?.id === postId ? fn(d.first) : d.first,
          replies: d.replies.map((r) => (r.id === postId ? fn(r) : r)),
        },
      };
    });
  const setTopic = (topic) => setState((s) => ({ ...s, data: { ...s.data, topic: { ...s.data.topic, ...topic } } }));
  const addReply = (reply) =>
    setState((s) => {
      const d = s.data;
      return { ...s, data: { ...d, replies: [...d.replies, reply], topic: { ...d.topic, reply_count: d.topic.reply_count + 1 } } };
    });
  return { ...state, more, updatePost, setTopic, addReply };
}

export function TopicPage({ id }) {
  const { t } = useI18n();
  const { user } = useSession();
  const topicState = useTopic(id, user?.id);
  const following = useLoad(user ? '/api/v1/me/following' : null, user?.id);
  const [target, setTarget] = useState({ parent: null, quote: null });
  const { data, error } = topicState;

  // A link to one post (#p123) scrolls to it once the posts are there.
  const ready = !!data;
  useEffect(() => {
    if (!ready || !/^#p\d+$/.test(location.hash)) return;
    document.getElementById(location.hash.slice(1))?.scrollIntoView();
  }, [ready]);

  if (error) return <Missing error={error} />;
  if (!data) {
    return (
      <Page title={t('app.loading')}>
        <Loading />
      </Page>
    );
  }
  const { topic, first, replies } = data;
  const byId = Object.fromEntries([first, ...replies].filter(Boolean).map((p) => [p.id, p]));
  const followsAuthor = !!following.data?.users?.some((u) => u.id === topic.author?.id);
  const ctx = { topic, byId, state: topicState, setTarget, liked: data.liked };
  // One level of threading: a reply to a loaded reply shows under it.
  const children = {};
  const top = [];
  for (const r of replies) {
    if (r.parent_id && byId[r.parent_id] && byId[r.parent_id] !== first) (children[r.parent_id] ||= []).push(r);
    else top.push(r);
  }
  return (
    <Page title={topic.title} class="forum topic">
      <nav class="crumbs" aria-label={t('forum.crumbs')}>
        <a href="/community">{t('nav.community')}</a> <span aria-hidden="true">›</span>{' '}
        <a href={`/b/${topic.board.slug}`}>{topic.board.name}</a>
      </nav>
      <div class="topic-info">
        {topic.pinned && <span class="badge">{t('forum.pinned')}</span>}
        {topic.locked && <span class="badge">{t('forum.locked')}</span>}
        {topic.hidden && <span class="badge">{t('forum.hidden')}</span>}
        <Tags tags={topic.tags} board={topic.board.slug} />
      </div>
      <div class="forum-bar">
        <FavouriteButton topic={topic} />
        {topic.author && topic.author.id !== user?.id && (
          <span class="follow-author">
            <MemberLink author={topic.author} />
            <FollowButton path={`/api/v1/users/${topic.author.id}/follow`} following={followsAuthor} />
          </span>
        )}
      </div>
      {first && <Post post={first} isFirst ctx={ctx} />}
      <section class="forum-section" aria-labelledby="topic-replies">
        <h2 id="topic-replies">{t('forum.replies.count', { count: topic.reply_count })}</h2>
        {top.length > 0 && (
          <ol class="replies">
            {top.map((r) => (
              <li key={r.id}>
                <Post post={r} ctx={ctx} />
                {children[r.id] && (
                  <ol class="children">
                    {children[r.id].map((c) => (
                      <li key={c.id}>
                        <Post post={c} ctx={ctx} />
                      </li>
                    ))}
                  </ol>
                )}
              </li>
            ))}
          </ol>
        )}
        <LoadError error={topicState.moreError} />
        {data.next && (
          <p class="pager">
            <button type="button" class="button" onClick={topicState.more} disabled={topicState.loadingMore}>
              {t('forum.replies.more')}
            </button>
          </p>
        )}
      </section>
      <Composer topic={topic} target={target} setTarget={setTarget} onPosted={topicState.addReply} />
    </Page>
  );
}

function FavouriteButton({ topic }) {
  const { t } = useI18n();
  const act = useMemberAction();
  const [on, toggle, busy, error] = useToggle(`/api/v1/topics/${topic.id}/favourite`, topic.favourite);
  return (
    <span>
      <button type="button" class="button" aria-pressed={on ? 'true' : 'false'} disabled={busy} onClick={() => act(toggle)}>
        {on ? '★ ' : '☆ '}
        {t('forum.favourite')}
      </button>
      <InlineError error={error} />
    </span>
  );
}

/* ---------------------------------------------------------------- one post */

function Post({ post, isFirst, ctx }) {
  const { t } = useI18n();
  const { user } = useSession();
  const { navigate } = useRouter();
  const act = useMemberAction();
  const [mode, setMode] = useState(null); // 'edit' | 'delete' | 'history' | null
  const [note, setNote] = useState(null);
  const [shareUrl, setShareUrl] = useState(null);
  const [error, setError] = useState(null);
  const { topic, byId, state, setTarget } = ctx;
  const own = !!user && post.author?.id === user.id;
  const gone = post.deleted || post.body_html == null;
  const quote = post.quote_post_id ? byId[post.quote_post_id] : null;

  /* Reply to this post, or quote it: the reply box says so and gets the focus. */
  const aim = (change) =>
    act(() => {
      setTarget((x) => ({ ...x, ...change }));
      focusReplyBox();
    });
  const share = async () => {
    const url = `${location.origin}/t/${topic.id}${isFirst ? '' : `#p${post.id}`}`;
    setShareUrl(null);
    try {
      await navigator.clipboard.writeText(url);
      setNote(t('forum.share.copied'));
    } catch {
      setShareUrl(url); // no clipboard here: show the link to copy by hand
    }
  };
  const remove = async () => {
    setError(null);
    try {
      await del(`/api/v1/posts/${post.id}`);
      if (isFirst) navigate(`/b/${topic.board.slug}`);
      else state.updatePost(post.id, (p) => ({ ...p, deleted: true, body_html: null }));
      setMode(null);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      setError(e);
    }
  };
  const edited = async (page) => {
    setMode(null);
    state.setTopic(page.topic);
    const fresh = [page.first_post, ...page.replies].find((p) => p?.id === post.id);
    // A reply past the first page: read it back from its own place.
    const got = fresh || (await get(`/api/v1/topics/${topic.id}?cursor=${post.position - 1}`)).replies[0];
    if (got?.id === post.id) state.updatePost(post.id, () => got);
    setNote(t('forum.post.saved'));
  };

  return (
    <article class={`post${isFirst ? ' post-first' : ''}${post.hidden ? ' post-hidden' : ''}`} id={`p${post.id}`} aria-label={isFirst ? t('forum.post.first') : t('forum.post.reply', { n: post.position })}>
      <div class="post-head">
        <MemberLink author={post.author} /> <Time ms={post.created_at} />
        {post.edit_count > 0 && (
          <button type="button" class="link-button post-edited" aria-expanded={mode === 'history' ? 'true' : 'false'} onClick={() => setMode(mode === 'history' ? null : 'history')}>
            {t('forum.post.edited')}
          </button>
        )}
        {post.hidden && <span class="badge">{t('forum.hidden')}</span>}
      </div>
      {quote && !gone && (
        <blockquote class="post-quote">
          <p class="quote-head">
            {t('forum.post.wrote', { name: quote.author?.name || (quote.author?.username ? `@${quote.author.username}` : t('user.anonymous')) })}
          </p>
          {quote.body_html != null ? <PostHtml html={quote.body_html} class="quote-body" /> : <p class="post-gone">{t('forum.post.deleted')}</p>}
        </blockquote>
      )}
      {post.quote_post_id && !quote && !gone && (
        <p class="post-ref">
          <a href={`#p${post.quote_post_id}`}>{t('forum.post.quoting')}</a>
        </p>
      )}
      {mode === 'edit' ? (
        <EditForm post={post} isFirst={isFirst} onDone={edited} onCancel={() => setMode(null)} />
      ) : gone ? (
        <p class="post-gone">{t(post.deleted ? 'forum.post.deleted' : 'forum.post.hidden')}</p>
      ) : (
        <PostHtml html={post.body_html} />
      )}
      {mode === 'history' && <History postId={post.id} />}
      {!gone && mode !== 'edit' && (
        <div class="post-actions">
          {!own && <LikeButton post={post} liked={ctx.liked.has(post.id)} />}
          {own && post.like_count > 0 && <span class="topic-stats">{t('forum.likes.count', { count: post.like_count })}</span>}
          {!topic.locked && (
            <>
              <button type="button" class="link-button" onClick={() => aim({ parent: isFirst ? null : post })}>
                {t('forum.reply')}
              </button>
              <button type="button" class="link-button" onClick={() => aim({ quote: post })}>
                {t('forum.quote')}
              </button>
            </>
          )}
          <button type="button" class="link-button" onClick={share}>
            {t('forum.share')}
          </button>
          {own && !topic.locked && (
            <button type="button" class="link-button" onClick={() => setMode('edit')}>
              {t('forum.edit')}
            </button>
          )}
          {own && (
            <button type="button" class="link-button danger" onClick={() => setMode('delete')}>
              {t('forum.delete')}
            </button>
          )}
        </div>
      )}
      {mode === 'delete' && (
        <div class="confirm" role="group" aria-label={t('forum.delete')}>
          <p>{t(isFirst ? 'forum.delete.topic-confirm' : 'forum.delete.confirm')}</p>
          <button type="button" class="button danger" onClick={remove}>
            {t('forum.delete')}
          </button>{' '}
          <button type="button" class="button" onClick={() => setMode(null)}>
            {t('forum.cancel')}
          </button>
        </div>
      )}
      <InlineError error={error} />
      {shareUrl && (
        <p class="share-link">
          <label>
            {t('forum.share.link')} <input type="text" readOnly value={shareUrl} onFocus={(e) => e.currentTarget.select()} />
          </label>
        </p>
      )}
      <Notice>{note}</Notice>
    </article>
  );
}

function LikeButton({ post, liked }) {
  const { t } = useI18n();
  const act = useMemberAction();
  const [count, setCount] = useState(post.like_count);
  useEffect(() => setCount(post.like_count), [post.like_count]);
  const [on, toggle, busy, error] = useToggle(`/api/v1/posts/${post.id}/like`, liked, (now) => setCount((c) => c + (now ? 1 : -1)));
  return (
    <span class="like">
      <button type="button" class="button like-button" aria-pressed={on ? 'true' : 'false'} disabled={busy} onClick={() => act(toggle)}>
        {on ? '♥ ' : '♡ '}
        {t('forum.like')}
      </button>{' '}
      <span class="like-count">{t('forum.likes.count', { count })}</span>
      <InlineError error={error} />
    </span>
  );
}

/* The author's edit: the Markdown source comes from the server; the answer is the topic's first page. */
function EditForm({ post, isFirst, onDone, onCancel }) {
  const { t } = useI18n();
  const form = useForm({ title: '', body: '' });
  const [orig, setOrig] = useState(null);
  const { setValues, fail } = form;
  useEffect(() => {
    get(`/api/v1/posts/${post.id}/source`).then(
      (src) => {
        setOrig(src);
        setValues({ title: src.title || '', body: src.body_md });
      },
      (e) => e instanceof ApiError && fail(e),
    );
  }, [post.id, setValues, fail]);
  const submit = () =>
    form.run(async (v) => {
      const body = {};
      if (v.body !== orig.body_md) body.body = v.body;
      if (isFirst && v.title !== (orig.title || '')) body.title = v.title;
      if (!Object.keys(body).length) return onCancel();
      const page = await patch(`/api/v1/posts/${post.id}`, body);
      return onDone(page);
    });
  if (!orig && !form.problem) return <Loading />;
  return (
    <Form form={form} onSubmit={submit} class="edit-form" label={t('forum.edit')}>
      {isFirst && <Field form={form} name="title" label={t('forum.topic.title')} required />}
      <MarkdownField form={form} name="body" label={t('forum.post.body')} autoFocus />
      <div class="actions">
        <Submit form={form}>{t('forum.save')}</Submit>
        <button type="button" class="button" onClick={onCancel}>
          {t('forum.cancel')}
        </button>
      </div>
    </Form>
  );
}

/* Earlier versions of a post, newest first. */
function History({ postId }) {
  const { t } = useI18n();
  const load = useLoad(`/api/v1/posts/${postId}/revisions`);
  return (
    <section class="history" aria-label={t('forum.history')}>
      <h3>{t('forum.history')}</h3>
      <LoadError error={load.error} />
      {!load.data && !load.error && <Loading />}
      {load.data && (
        <ol class="revisions">
          {load.data.revisions.map((r) => (
            <li key={r.id}>
              <p class="topic-stats">
                {t('forum.history.before')} <Time ms={r.created_at} />
              </p>
              {r.title && <p class="revision-title">{r.title}</p>}
              <pre class="revision">{r.body_md}</pre>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

/* ---------------------------------------------------------------- reply box */

function Composer({ topic, target, setTarget, onPosted }) {
  const { t } = useI18n();
  const { user } = useSession();
  const { path, search } = useRouter();
  const form = useForm({ body: '' });
  const [note, setNote] = useState(null);
  if (topic.locked) {
    return (
      <p class="notice" id={REPLY_BOX}>
        {t('community.topic_locked')}
      </p>
    );
  }
  if (!user) {
    return (
      <p class="reply-signin" id={REPLY_BOX}>
        <a class="button primary" href={`/sign-in?next=${encodeURIComponent(path + search)}`}>
          {t('forum.reply.sign-in')}
        </a>
      </p>
    );
  }
  const submit = () =>
    form.run(async (v) => {
      setNote(null);
      const body = { body: v.body };
      if (target.parent) body.parent_id = target.parent.id;
      if (target.quote) body.quote_post_id = target.quote.id;
      const reply = await apiPost(`/api/v1/topics/${topic.id}/posts`, body);
      form.setValues({ body: '' });
      setTarget({ parent: null, quote: null });
      onPosted(reply);
      setNote(t('forum.reply.posted'));
    });
  const who = (p) => p.author?.name || (p.author?.username ? `@${p.author.username}` : t('user.anonymous'));
  return (
    <section class="card reply-box" id={REPLY_BOX} aria-labelledby="reply-box-title">
      <h2 id="reply-box-title">{t('forum.reply.title')}</h2>
      {(target.parent || target.quote) && (
        <ul class="reply-target">
          {[
            ['parent', 'forum.reply.to'],
            ['quote', 'forum.reply.quoting'],
          ].map(
            ([what, key]) =>
              target[what] && (
                <li key={what}>
                  {t(key, { name: who(target[what]) })}{' '}
                  <button type="button" class="link-button" onClick={() => setTarget((x) => ({ ...x, [what]: null }))}>
                    {t('forum.tag.clear')}
                  </button>
                </li>
              ),
          )}
        </ul>
      )}
      <Form form={form} onSubmit={submit} label={t('forum.reply.title')}>
        <MarkdownField form={form} name="body" label={t('forum.post.body')} rows={6} />
        <div class="actions">
          <Submit form={form}>{t('forum.reply.submit')}</Submit>
        </div>
      </Form>
      <Notice>{note}</Notice>
    </section>
  );
}
