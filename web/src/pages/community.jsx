// The community (forum) pages but the topic page (community-topic.jsx):
// the home with boards and the latest or top topics (/community), a board
// (/b/{slug}, by tag with ?tag=), the new-topic form (/b/{slug}/new),
// search (/community/search?q=...) and the member's own space
// (/community/me: favourites, liked posts, follows, recently viewed).
// Visitors browse and search; member actions ask them to sign in first.
// The server renders /community, /b/{slug} and /t/{id} itself too (for
// readers without JavaScript and for crawlers): these pages replace that.
import { useEffect, useState } from 'preact/hooks';
import { post } from '../api.js';
import { FollowButton, LoadError, LoadMore, Loading, MemberLink, Snippet, TopicList, useLoad, usePages } from '../components/forum.jsx';
import { MarkdownField } from '../components/editor.jsx';
import { Field, Form, Submit, useForm } from '../forms.jsx';
import { useI18n } from '../i18n.js';
import { useRouter } from '../router.js';
import { useSession } from '../session.js';
import { FeedTabLink } from './feed.jsx';
import { Page, Time } from './page.jsx';

const DAY_MS = 86400000;

/* The page of a failed load: "not found" for a 404, else the problem. */
export function Missing({ error }) {
  const { t } = useI18n();
  if (error.status === 404) {
    return (
      <Page title={t('problem.not-found.title')}>
        <p class="lead">{t('forum.not-found')}</p>
        <p>
          <a href="/community">{t('forum.back')}</a>
        </p>
      </Page>
    );
  }
  return (
    <Page title={t('form.failed')}>
      <LoadError error={error} />
    </Page>
  );
}

/* "Latest | Top" as links that keep the rest of the query. */
function SortTabs({ base, params, sort }) {
  const { t } = useI18n();
  const href = (s) => {
    const q = new URLSearchParams(params);
    if (s === 'top') q.set('sort', 'top');
    else q.delete('sort');
    const qs = q.toString();
    return qs ? `${base}?${qs}` : base;
  };
  return (
    <nav class="tabs" aria-label={t('forum.sort.label')}>
      {['latest', 'top'].map((s) => (
        <a key={s} href={href(s)} aria-current={sort === s ? 'page' : undefined}>
          {t(`forum.sort.${s}`)}
        </a>
      ))}
      {base === '/community' && <FeedTabLink />}
    </nav>
  );
}

/* The quick search box of the community pages. */
function SearchBox() {
  const { t } = useI18n();
  const { navigate } = useRouter();
  const [q, setQ] = useState('');
  const submit = (e) => {
    e.preventDefault();
    navigate(`/community/search${q.trim() ? `?q=${encodeURIComponent(q.trim())}` : ''}`);
  };
  return (
    <form role="search" class="search-box" onSubmit={submit}>
      <label for="forum-search" class="visually-hidden">
        {t('forum.search.label')}
      </label>
      <input id="forum-search" type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} placeholder={t('forum.search.placeholder')} />
      <button type="submit" class="button">
        {t('forum.search')}
      </button>
    </form>
  );
}

const sortOf = (params) => (params.get('sort') === 'top' ? 'top' : 'latest');

/* ---------------------------------------------------------------- home */

export function CommunityHome() {
  const { t } = useI18n();
  const { search } = useRouter();
  const { user } = useSession();
  const params = new URLSearchParams(search);
  const sort = sortOf(params);
  const boards = useLoad('/api/v1/boards');
  const topics = usePages(`/api/v1/topics?sort=${sort}`, 'topics');
  return (
    <Page title={t('nav.community')} class="forum">
      <div class="forum-bar">
        <SearchBox />
        {user && (
          <a class="button" href="/community/me">
            {t('forum.me.title')}
          </a>
        )}
      </div>
      <section class="forum-section" aria-labelledby="forum-boards">
        <h2 id="forum-boards">{t('forum.boards')}</h2>
        <LoadError error={boards.error} />
        {boards.data ? (
          <ul class="board-list">
            {boards.data.boards.map((b) => (
              <li key={b.id} class="board-item">
                <a class="board-name" href={`/b/${b.slug}`}>
                  {b.name}
                </a>{' '}
                <span class="topic-stats">{t('forum.topics.count', { count: b.topic_count })}</span>
                {b.description && <p class="board-desc">{b.description}</p>}
              </li>
            ))}
          </ul>
        ) : (
          !boards.error && <Loading />
        )}
      </section>
      <section class="forum-section" aria-labelledby="forum-topics">
        <h2 id="forum-topics">{t('forum.topics')}</h2>
        <SortTabs base="/community" params={params} sort={sort} />
        <TopicArea pages={topics} showBoard />
      </section>
    </Page>
  );
}

/* A paged topic list with its loading state, error and "load more". */
function TopicArea({ pages, showBoard }) {
  const { t } = useI18n();
  return (
    <>
      <LoadError error={pages.error} />
      {pages.loading && !pages.items.length ? <Loading /> : <TopicList topics={pages.items} showBoard={showBoard} />}
      <LoadMore pages={pages} label={t('forum.topics.more')} />
    </>
  );
}

/* ---------------------------------------------------------------- board */

export function BoardPage({ slug }) {
  const { t } = useI18n();
  const { search } = useRouter();
  const { user } = useSession();
  const params = new URLSearchParams(search);
  const sort = sortOf(params);
  const tag = params.get('tag');
  const board = useLoad(`/api/v1/boards/${encodeURIComponent(slug)}`, user?.id);
  const q = new URLSearchParams();
  if (sort === 'top') q.set('sort', 'top');
  if (tag) q.set('tag', tag);
  const qs = q.toString();
  const topics = usePages(`/api/v1/boards/${encodeURIComponent(slug)}/topics${qs ? `?${qs}` : ''}`, 'topics');
  if (board.error) return <Missing error={board.error} />;
  if (!board.data) {
    return (
      <Page title={t('app.loading')}>
        <Loading />
      </Page>
    );
  }
  const b = board.data;
  const newTopic = `/b/${encodeURIComponent(slug)}/new`;
  return (
    <Page title={b.name} class="forum board">
      <nav class="crumbs" aria-label={t('forum.crumbs')}>
        <a href="/community">{t('nav.community')}</a>
      </nav>
      {b.description && <p class="lead">{b.description}</p>}
      <div class="forum-bar">
        <a class="button primary" href={newTopic}>
          {t('forum.topic.new')}
        </a>
        <FollowButton path={`/api/v1/boards/${encodeURIComponent(slug)}/follow`} following={b.following} />
        <span class="topic-stats">
          {t('forum.topics.count', { count: b.topic_count })} · {t('forum.posts.count', { count: b.post_count })}
        </span>
      </div>
      {tag && (
        <p class="tag-filter">
          <span class="tag">#{tag}</span>{' '}
          <a href={`/b/${encodeURIComponent(slug)}${sort === 'top' ? '?sort=top' : ''}`}>{t('forum.tag.clear')}</a>
        </p>
      )}
      {!tag && b.pinned?.length > 0 && (
        <section class="forum-section" aria-labelledby="forum-pinned">
          <h2 id="forum-pinned">{t('forum.pinned')}</h2>
          <TopicList topics={b.pinned} showBoard={false} />
        </section>
      )}
      <section class="forum-section" aria-labelledby="forum-topics">
        <h2 id="forum-topics">{t('forum.topics')}</h2>
        <SortTabs base={`/b/${encodeURIComponent(slug)}`} params={params} sort={sort} />
        <TopicArea pages={topics} showBoard={false} />
      </section>
    </Page>
  );
}

/* ---------------------------------------------------------------- new topic */

/* "a, b，c d" → ['a', 'b', 'c', 'd'] (commas of both widths, spaces). */
export const splitTags = (text) =>
  String(text || '')
    .split(/[,，\s]+/)
    .map((s) => s.replace(/^#/, ''))
    .filter(Boolean);

export function NewTopicPage({ slug }) {
  const { t } = useI18n();
  const { navigate } = useRouter();
  const board = useLoad(`/api/v1/boards/${encodeURIComponent(slug)}`);
  const form = useForm({ title: '', body: '', tags: '' });
  if (board.error) return <Missing error={board.error} />;
  const submit = () =>
    form.run(async (v) => {
      const tags = splitTags(v.tags);
      const body = { title: v.title, body: v.body };
      if (tags.length) body.tags = tags;
      const res = await post(`/api/v1/boards/${encodeURIComponent(slug)}/topics`, body);
      navigate(`/t/${res.topic.id}`);
    });
  return (
    <Page title={board.data ? t('forum.topic.new-in', { board: board.data.name }) : t('forum.topic.new')} class="forum">
      <Form form={form} onSubmit={submit} class="topic-form" label={t('forum.topic.new')}>
        <Field form={form} name="title" label={t('forum.topic.title')} hint={t('forum.topic.title.hint')} required autoComplete="off" />
        <MarkdownField form={form} name="body" label={t('forum.topic.body')} rows={12} />
        <Field form={form} name="tags" label={t('forum.topic.tags')} hint={t('forum.topic.tags.hint')} optional autoComplete="off" />
        <div class="actions">
          <Submit form={form}>{t('forum.topic.submit')}</Submit>
          <a class="button" href={`/b/${encodeURIComponent(slug)}`}>
            {t('forum.cancel')}
          </a>
        </div>
      </Form>
    </Page>
  );
}

/* ---------------------------------------------------------------- search */

const isoDay = (ms) => (ms ? new Date(Number(ms)).toISOString().slice(0, 10) : '');
const dayMs = (iso) => (/^\d{4}-\d{2}-\d{2}$/.test(iso) ? Date.parse(`${iso}T00:00:00Z`) : NaN);

/* The form's values from the address (?q=&board=&tag=&from=&to=&sort=&author=). */
function searchValues(params) {
  return {
    q: params.get('q') || '',
    board: params.get('board') || '',
    tag: params.get('tag') || '',
    from: isoDay(params.get('from')),
    to: isoDay(params.get('to') ? Number(params.get('to')) - DAY_MS : ''),
    sort: params.get('sort') || 'relevance',
    author: params.get('author') || '',
  };
}

/* The address of a search: dates become the API's millisecond bounds (to: the end of that day). */
function searchQuery(v) {
  const q = new URLSearchParams();
  if (v.q.trim()) q.set('q', v.q.trim());
  if (v.board) q.set('board', v.board);
  if (v.tag.trim()) q.set('tag', v.tag.trim().replace(/^#/, ''));
  const from = dayMs(v.from);
  const to = dayMs(v.to);
  if (!Number.isNaN(from)) q.set('from', String(from));
  if (!Number.isNaN(to)) q.set('to', String(to + DAY_MS));
  if (v.sort === 'latest') q.set('sort', 'latest');
  if (v.author) q.set('author', v.author);
  return q.toString();
}

export function SearchPage() {
  const { t } = useI18n();
  const { search, navigate } = useRouter();
  const params = new URLSearchParams(search);
  const form = useForm(searchValues(params));
  const boards = useLoad('/api/v1/boards');
  const qs = params.get('q') ? searchQuery(searchValues(params)) : '';
  const results = usePages(qs ? `/api/v1/search?${qs}` : null, 'results');
  const { setValues, fail, reset } = form;
  // The address is the truth: back/forward and shared links fill the form.
  useEffect(() => {
    setValues(searchValues(new URLSearchParams(search)));
  }, [search, setValues]);
  // A refused search shows its errors next to the fields, like any form.
  useEffect(() => {
    if (results.error) fail(results.error);
    else reset();
  }, [results.error, fail, reset]);
  const names = Object.fromEntries((boards.data?.boards || []).map((b) => [b.slug, b.name]));
  const submit = () => {
    const next = searchQuery(form.values);
    navigate(`/community/search${next ? `?${next}` : ''}`);
  };
  return (
    <Page title={t('forum.search.label')} class="forum search-page">
      <Form form={form} onSubmit={submit} class="search-form" label={t('forum.search.label')}>
        <div role="search" class="search-fields">
          <Field form={form} name="q" label={t('forum.search.words')} type="search" required autoComplete="off" />
          <Field form={form} name="board" label={t('forum.board')} as="select">
            <option value="">{t('forum.search.any-board')}</option>
            {(boards.data?.boards || []).map((b) => (
              <option key={b.slug} value={b.slug}>
                {b.name}
              </option>
            ))}
          </Field>
          <Field form={form} name="tag" label={t('forum.search.tag')} optional autoComplete="off" />
          <Field form={form} name="from" label={t('forum.search.from')} type="date" optional />
          <Field form={form} name="to" label={t('forum.search.to')} type="date" optional />
          <Field form={form} name="sort" label={t('forum.search.sort')} as="select">
            <option value="relevance">{t('forum.search.relevance')}</option>
            <option value="latest">{t('forum.sort.latest')}</option>
          </Field>
        </div>
        {form.values.author && (
          <p class="tag-filter">
            {t('forum.search.author', { id: form.values.author })}{' '}
            <button type="button" class="link-button" onClick={() => form.set('author', '')}>
              {t('forum.tag.clear')}
            </button>
          </p>
        )}
        <div class="actions">
          <Submit form={form}>{t('forum.search')}</Submit>
        </div>
      </Form>
      {qs && (
        <section class="forum-section" aria-labelledby="search-results" aria-busy={results.loading ? 'true' : undefined}>
          <h2 id="search-results">{t('forum.search.results')}</h2>
          {results.loading && !results.items.length && <Loading />}
          {!results.loading && !results.error && !results.items.length && <p class="empty">{t('forum.search.none')}</p>}
          {results.items.length > 0 && (
            <ol class="results">
              {results.items.map((r) => (
                <li key={r.post_id} class="result">
                  <a class="result-title" href={`/t/${r.topic_id}${r.position ? `#p${r.post_id}` : ''}`}>
                    {r.title_html ? <Snippet html={r.title_html} /> : r.title}
                  </a>
                  <p class="snippet">
                    <Snippet html={r.snippet_html} />
                  </p>
                  <span class="topic-stats">
                    <a href={`/b/${r.board}`}>{names[r.board] || r.board}</a> · <Time ms={r.created_at} />
                  </span>
                </li>
              ))}
            </ol>
          )}
          <LoadMore pages={results} />
        </section>
      )}
    </Page>
  );
}

/* ---------------------------------------------------------------- my space */

function SpaceSection({ id, title, children }) {
  return (
    <section class="card forum-section" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/* A list from one GET of the member's space, with its states. */
function SpaceList({ load, pick, empty, render }) {
  if (load.error) return <LoadError error={load.error} />;
  if (!load.data) return <Loading />;
  const items = pick(load.data);
  if (!items.length) return <p class="empty">{empty}</p>;
  return <ul class="rows">{items.map(render)}</ul>;
}

/* A topic (or a post of it, with its #p anchor in href) in the member's space. */
function TopicRow({ href, title, board, when }) {
  return (
    <li class="row">
      <span class="row-main">
        <a href={href}>{title}</a>
        <a class="topic-board" href={`/b/${board.slug}`}>
          {board.name}
        </a>
      </span>
      <span class="row-meta">
        <Time ms={when} />
      </span>
    </li>
  );
}

export function MySpacePage() {
  const { t } = useI18n();
  const favourites = useLoad('/api/v1/me/favourites');
  const likes = useLoad('/api/v1/me/likes');
  const following = useLoad('/api/v1/me/following');
  const recent = useLoad('/api/v1/me/recent');
  return (
    <Page title={t('forum.me.title')} class="forum my-space">
      <p class="lead">{t('forum.me.lead')}</p>
      <SpaceSection id="space-favourites" title={t('forum.me.favourites')}>
        <SpaceList
          load={favourites}
          pick={(d) => d.favourites}
          empty={t('forum.me.favourites.none')}
          render={(x) => <TopicRow key={x.id} href={`/t/${x.id}`} title={x.title} board={x.board} when={x.favourited_at} />}
        />
      </SpaceSection>
      <SpaceSection id="space-likes" title={t('forum.me.likes')}>
        <SpaceList
          load={likes}
          pick={(d) => d.likes}
          empty={t('forum.me.likes.none')}
          render={(x) => (
            <TopicRow key={x.post_id} href={`/t/${x.topic_id}#p${x.post_id}`} title={x.title} board={x.board} when={x.liked_at} />
          )}
        />
      </SpaceSection>
      <SpaceSection id="space-following" title={t('forum.me.following')}>
        <SpaceList
          load={following}
          pick={(d) => [...d.boards.map((b) => ({ board: b })), ...d.users.map((u) => ({ user: u }))]}
          empty={t('forum.me.following.none')}
          render={(x) =>
            x.board ? (
              <li key={`b${x.board.id}`} class="row">
                <span class="row-main">
                  <a href={`/b/${x.board.slug}`}>{x.board.name}</a>
                  <span class="badge">{t('forum.board')}</span>
                </span>
                <FollowButton path={`/api/v1/boards/${encodeURIComponent(x.board.slug)}/follow`} following />
              </li>
            ) : (
              <li key={`u${x.user.id}`} class="row">
                <span class="row-main">
                  <MemberLink author={x.user} />
                </span>
                <FollowButton path={`/api/v1/users/${x.user.id}/follow`} following />
              </li>
            )
          }
        />
      </SpaceSection>
      <SpaceSection id="space-recent" title={t('forum.me.recent')}>
        <SpaceList
          load={recent}
          pick={(d) => d.recent}
          empty={t('forum.me.recent.none')}
          render={(x) => <TopicRow key={x.id} href={`/t/${x.id}`} title={x.title} board={x.board} when={x.viewed_at} />}
        />
      </SpaceSection>
    </Page>
  );
}
