-- 0007_community (SQLite): the community forum (SPEC §4, §12): boards,
-- topics, posts (replies one level deep, quotes), edit history, tags,
-- likes, favourites, follows, reports, the moderator action log, recently
-- viewed topics and the search index.
--
-- Personal data: every row that names a user (author_id, user_id,
-- follower_id, reporter_id, actor_id) is content or behaviour of that user;
-- src/community/community.h lists each column's category, purpose and
-- erasure rule for the personal-data registry. Post bodies are stored as
-- the Markdown source the author wrote (body_md) and the sanitised HTML
-- rendered from it (body_html); nothing else renders user text as HTML.
-- Counters (reply_count, like_count...) are kept in the same transaction
-- as the rows they count. Times are int64 ms; deleted_at marks a soft
-- delete by the author (the text stays for moderation until erasure).

CREATE TABLE boards (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    position BIGINT NOT NULL DEFAULT 0,
    topic_count BIGINT NOT NULL DEFAULT 0,
    post_count BIGINT NOT NULL DEFAULT 0,
    last_post_at BIGINT,
    version BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE board_moderators (
    board_id BIGINT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    appointed_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (board_id, user_id)
);

-- version (here and in boards) counts the changes to what the topic's page
-- (the board's topic list) shows; the answer cache of community_api.c
-- keys on it. score = like_count + reply_count, kept for the "top" list's index; tags
-- is the JSON array of the topic's tag names (topic_tags is for filtering).
CREATE TABLE topics (
    id INTEGER PRIMARY KEY,
    board_id BIGINT NOT NULL REFERENCES boards (id),
    author_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    title TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    pinned BIGINT NOT NULL DEFAULT 0,
    locked BIGINT NOT NULL DEFAULT 0,
    hidden BIGINT NOT NULL DEFAULT 0,
    deleted_at BIGINT,
    reply_count BIGINT NOT NULL DEFAULT 0,
    like_count BIGINT NOT NULL DEFAULT 0,
    score BIGINT NOT NULL DEFAULT 0,
    last_post_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX topics_board_latest ON topics (board_id, last_post_at, id);
CREATE INDEX topics_latest ON topics (last_post_at, id);
CREATE INDEX topics_top ON topics (score, id);
CREATE INDEX topics_board_top ON topics (board_id, score, id);
CREATE INDEX topics_author ON topics (author_id);

-- position 0 is the topic's first post (its body); replies count from 1.
-- parent_id: the reply this one answers (one level: a reply to a reply
-- hangs under the same top-level reply). quote_post_id: the post quoted.
CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    topic_id BIGINT NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    author_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    position BIGINT NOT NULL,
    parent_id BIGINT REFERENCES posts (id) ON DELETE SET NULL,
    quote_post_id BIGINT REFERENCES posts (id) ON DELETE SET NULL,
    body_md TEXT NOT NULL,
    body_html TEXT NOT NULL,
    like_count BIGINT NOT NULL DEFAULT 0,
    hidden BIGINT NOT NULL DEFAULT 0,
    deleted_at BIGINT,
    edit_count BIGINT NOT NULL DEFAULT 0,
    edited_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (topic_id, position)
);
CREATE INDEX posts_author ON posts (author_id, id);
CREATE INDEX posts_parent ON posts (parent_id);

-- What a post said before each edit (title for a topic's first post).
CREATE TABLE post_revisions (
    id INTEGER PRIMARY KEY,
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    editor_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    title TEXT,
    body_md TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX post_revisions_post ON post_revisions (post_id, id);

CREATE TABLE tags (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    topic_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE topic_tags (
    topic_id BIGINT NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    tag_id BIGINT NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (topic_id, tag_id)
);
CREATE INDEX topic_tags_tag ON topic_tags (tag_id, topic_id);

CREATE TABLE post_likes (
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX post_likes_user ON post_likes (user_id, created_at);

CREATE TABLE topic_favourites (
    topic_id BIGINT NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, topic_id)
);

CREATE TABLE user_follows (
    follower_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followee_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);
CREATE INDEX user_follows_followee ON user_follows (followee_id);

CREATE TABLE board_follows (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    board_id BIGINT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, board_id)
);

-- Members barred from posting in one board until a time (moderators'
-- suspensions). A row whose until_at has passed no longer counts.
CREATE TABLE board_suspensions (
    board_id BIGINT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    until_at BIGINT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    suspended_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (board_id, user_id)
);

-- A member's report of a post (one per post and member); reason is one of
-- spam, abuse, off_topic, illegal, other. Upholding hides the post.
CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    reporter_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'upheld', 'dismissed')),
    handled_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    handled_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (post_id, reporter_id)
);
CREATE INDEX reports_status ON reports (status, id);

-- Append-only log of what moderators and staff did (hide, lock, pin,
-- move, suspend, appoint, handle a report...). target_user_id: the member
-- acted upon (suspended, appointed, author of a hidden post); detail: a
-- JSON object (the boards of a move, the end of a suspension).
CREATE TABLE moderator_actions (
    id INTEGER PRIMARY KEY,
    board_id BIGINT REFERENCES boards (id) ON DELETE SET NULL,
    topic_id BIGINT REFERENCES topics (id) ON DELETE SET NULL,
    post_id BIGINT REFERENCES posts (id) ON DELETE SET NULL,
    actor_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    target_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX moderator_actions_board ON moderator_actions (board_id, id);

CREATE TABLE recently_viewed (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    topic_id BIGINT NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    viewed_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, topic_id)
);
CREATE INDEX recently_viewed_user ON recently_viewed (user_id, viewed_at);

-- Search text of each post, normalised in C (NFC, OpenCC t2s, case
-- folding, marks removed: src/community/textnorm.c) so that both engines
-- match the same way. title is set for a topic's first post only; words
-- is " w1 w2 ... " (the distinct words of title and body), used by the
-- PostgreSQL search; SQLite searches post_fts below.
CREATE TABLE post_search (
    post_id INTEGER PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    words TEXT NOT NULL
);

-- The FTS5 index over post_search with the `entrepot` tokenizer (CJK runs
-- as overlapping pairs, other text through unicode61), registered on every
-- connection by src/community/search_sqlite.c. External content: the text
-- lives once, in post_search; the triggers keep the index in step.
CREATE VIRTUAL TABLE post_fts USING fts5(
    title, body, content = 'post_search', content_rowid = 'post_id', tokenize = 'entrepot'
);
CREATE TRIGGER post_search_ai AFTER INSERT ON post_search BEGIN
    INSERT INTO post_fts (rowid, title, body) VALUES (new.post_id, new.title, new.body);
END;
CREATE TRIGGER post_search_ad AFTER DELETE ON post_search BEGIN
    INSERT INTO post_fts (post_fts, rowid, title, body)
        VALUES ('delete', old.post_id, old.title, old.body);
END;
CREATE TRIGGER post_search_au AFTER UPDATE ON post_search BEGIN
    INSERT INTO post_fts (post_fts, rowid, title, body)
        VALUES ('delete', old.post_id, old.title, old.body);
    INSERT INTO post_fts (rowid, title, body) VALUES (new.post_id, new.title, new.body);
END;
