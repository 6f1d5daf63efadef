-- 0012_feed (PostgreSQL): the community's personalised feed and the members'
-- notification switches (SPEC §4, §11, §12).
--
-- feed_affinity: what a member's behaviour says they are interested in —
-- a board, a tag or an author — as a weight in milli-points at updated_at
-- (it halves every 14 days; src/community/feed.c decays it on read and
-- activity.c on update). Written ONLY while the member's "personalised
-- recommendations" purpose is on (consent): views, likes and searches add
-- to it; nothing is written while it is off, and the community.feed_purge job
-- deletes the rows of members who turned it off. No raw event is kept
-- (no topic ids, no search text): only these aggregates.
CREATE TABLE feed_affinity (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('board', 'tag', 'author')),
    target_id BIGINT NOT NULL,
    weight BIGINT NOT NULL CHECK (weight > 0),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind, target_id)
);
CREATE INDEX feed_affinity_weight ON feed_affinity (user_id, weight);
CREATE INDEX feed_affinity_updated ON feed_affinity (updated_at);

-- A member's switch per in-app notification kind ("community.reply",
-- "community.mention", "community.like", "community.follow"); no row = on.
CREATE TABLE notification_settings (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    enabled BIGINT NOT NULL CHECK (enabled IN (0, 1)),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- The feed's "topics by the members I follow": newest activity first
-- without a sort (topics_author has the author only).
CREATE INDEX topics_author_latest ON topics (author_id, last_post_at, id);
