/*
 * activity.c — what a member's action sets off besides itself: in-app
 * notices (a reply to my topic or post, an @mention, a like of my post, a
 * new follower) and the behaviour signals of the personalised feed.
 *
 * Signals. A view, a like or a search adds weight to the member's
 * interest in a board, a tag or an author (feed_affinity), and only when
 * privacy_purpose_on(PURPOSE_RECOMMENDATIONS) says yes at the time of the
 * event: with the purpose off nothing about the member's behaviour is
 * written for it. Only these aggregates are kept — no topic ids, no search
 * text — and each decays with a half-life of FEED_AFFINITY_HALF_LIFE_MS,
 * saturating at FEED_AFFINITY_CAP. Likes, follows, favourites and the
 * "recently viewed" history are features the member sees and controls;
 * they are kept whatever the switch says (feed.c explains what it reads).
 *
 * Notices go through the generic inbox (privacy_inbox_add) with a ref
 * unique per recipient: "community.like:<post>:<liker>" makes a like
 * undone and redone notify once, "community.follow:<follower>" the same
 * for follows, and a post notifies each member once whether they are
 * answered, quoted or mentioned in it (an edit only reaches members it
 * newly mentions). Nobody is notified of their own action, and each kind
 * can be switched off (notification_settings; no row = on).
 *
 * Hooks called inside the action's transaction (topics, replies, edits,
 * likes) return a status and fail the action with it, so the action and
 * its notices commit together. Hooks called after the action committed
 * (views, follows, searches) cannot undo it: they log a failure instead.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "community_int.h"
#include "privacy/consent.h"

/* The notice kinds, their switches' names in the API, and what the
 * settings answer for each. */
static const char *const NOTICE_KINDS[CM_NOTICE__COUNT] = {
    [CM_NOTICE_REPLY] = "community.reply",
    [CM_NOTICE_MENTION] = "community.mention",
    [CM_NOTICE_LIKE] = "community.like",
    [CM_NOTICE_FOLLOW] = "community.follow",
};
static const char *const NOTICE_KEYS[CM_NOTICE__COUNT] = {
    [CM_NOTICE_REPLY] = "reply",
    [CM_NOTICE_MENTION] = "mention",
    [CM_NOTICE_LIKE] = "like",
    [CM_NOTICE_FOLLOW] = "follow",
};

const char *cm_notice_key(enum cm_notice k)
{
    return (unsigned)k < CM_NOTICE__COUNT ? NOTICE_KEYS[k] : "";
}

/* ---------------------------------------------------------------- settings */

static enum st notice_wanted(struct db_conn *c, int64_t user_id, enum cm_notice k, bool *yes)
{
    int64_t on = 1;
    enum st st = cm_query_int(c, &on,
                              "SELECT enabled FROM notification_settings WHERE user_id = ? AND "
                              "kind = ?",
                              "it", user_id, NOTICE_KINDS[k]);
    *yes = st == ST_NOTFOUND || (st == ST_OK && on != 0);
    return st == ST_NOTFOUND ? ST_OK : st;
}

enum st community_notification_settings(struct db_conn *c, int64_t user_id, json_t **out)
{
    json_t *o = json_object();
    enum st st = ST_OK;
    for (int k = 0; k < CM_NOTICE__COUNT && st == ST_OK; k++) {
        bool yes = true;
        st = notice_wanted(c, user_id, (enum cm_notice)k, &yes);
        json_object_set_new(o, NOTICE_KEYS[k], json_boolean(yes));
    }
    if (st != ST_OK) {
        json_decref(o);
        return st;
    }
    *out = o;
    return ST_OK;
}

enum st community_notification_settings_set(struct db_conn *c, int64_t user_id, const json_t *patch,
                                            json_t **out)
{
    int64_t now = clock_now_ms();
    enum st st = db_begin(c);
    for (int k = 0; k < CM_NOTICE__COUNT && st == ST_OK; k++) {
        const json_t *v = json_object_get(patch, NOTICE_KEYS[k]);
        if (json_is_boolean(v))
            st = cm_exec(c, NULL,
                         "INSERT INTO notification_settings (user_id, kind, enabled, updated_at) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (user_id, kind) DO UPDATE SET enabled = "
                         "excluded.enabled, updated_at = excluded.updated_at",
                         "itii", user_id, NOTICE_KINDS[k], (int64_t)json_is_true(v), now);
    }
    st = cm_finish(c, st);
    return st == ST_OK ? community_notification_settings(c, user_id, out) : st;
}

/* ---------------------------------------------------------------- notices */

/* {"id","name","username"} of the member who acted, as their notice shows
 * them (a snapshot: the notice is not rewritten when they rename). */
static enum st actor_json(struct db_conn *c, int64_t user_id, json_t **out)
{
    struct db_stmt *s;
    bool row;
    enum st st = cm_query(c, &s, &row, "SELECT id, display_name, username FROM users WHERE id = ?",
                          "i", user_id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK)
        *out = cm_author_json(s, 0);
    if (s)
        db_stmt_done(s);
    return st;
}

/* Members already told about one post, so that a reply that also quotes
 * and mentions them notifies them once. */
#define TOLD_MAX (3 + CM_MENTIONS_MAX)
struct told {
    int64_t id[TOLD_MAX];
    size_t n;
};

static bool told_has(const struct told *t, int64_t id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->id[i] == id)
            return true;
    return false;
}

/* Adds a notice of kind k for recipient about what actor did, unless the
 * recipient is the actor, nobody (an erased author), already told, or
 * has switched k off. params is borrowed. */
static enum st notify(struct db_conn *c, int64_t recipient, int64_t actor, enum cm_notice k,
                      const json_t *params, const char *ref, struct told *told)
{
    if (recipient <= 0 || recipient == actor || (told && told_has(told, recipient)))
        return ST_OK;
    bool yes = false;
    enum st st = notice_wanted(c, recipient, k, &yes);
    if (st != ST_OK || !yes)
        return st; /* switched off: a mention in the same post may still reach them */
    if (told && told->n < TOLD_MAX)
        told->id[told->n++] = recipient;
    return privacy_inbox_add(c, recipient, NOTICE_KINDS[k], params, ref, NULL);
}

/* The params of a notice about a post: the actor, the topic and its title
 * (public text: never the post's own text). */
static enum st post_params(struct db_conn *c, int64_t actor, int64_t topic_id, int64_t post_id,
                           json_t **out)
{
    json_t *by = NULL;
    enum st st = actor_json(c, actor, &by);
    struct db_stmt *s = NULL;
    bool row = false;
    if (st == ST_OK)
        st = cm_query(c, &s, &row, "SELECT title FROM topics WHERE id = ?", "i", topic_id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        *out = json_pack("{s:O, s:I, s:I, s:s}", "by", by, "topic_id", (json_int_t)topic_id,
                         "post_id", (json_int_t)post_id, "title", db_col_text(s, 0));
        if (!*out)
            st = ST_INTERNAL;
    }
    if (s)
        db_stmt_done(s);
    json_decref(by);
    return st;
}

static enum st post_author(struct db_conn *c, int64_t post_id, int64_t *author)
{
    *author = 0;
    if (post_id <= 0)
        return ST_OK;
    enum st st = cm_query_int(c, author, "SELECT COALESCE(author_id, 0) FROM posts WHERE id = ?",
                              "i", post_id);
    return st == ST_NOTFOUND ? ST_OK : st;
}

/* ---------------------------------------------------------------- mentions */

static bool name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
}

size_t cm_mentions(const char *md, char names[][CM_MENTION_NAME_MAX + 1], size_t max)
{
    size_t n = 0;
    bool code = false;
    for (const char *p = md; p && *p && n < max; p++) {
        if (*p == '`') {
            code = !code; /* inline code and fences: nobody is mentioned inside */
            continue;
        }
        if (code || *p != '@' || (p > md && (name_char(p[-1]) || p[-1] == '@')))
            continue;
        const char *start = p + 1, *end = start;
        while (name_char(*end))
            end++;
        p = end - 1;
        while (end > start && end[-1] == '.') /* "thanks @alice." */
            end--;
        size_t len = (size_t)(end - start);
        if (len < ACC_USERNAME_MIN || len > CM_MENTION_NAME_MAX)
            continue;
        char name[CM_MENTION_NAME_MAX + 1];
        for (size_t i = 0; i < len; i++)
            name[i] =
                (start[i] >= 'A' && start[i] <= 'Z') ? (char)(start[i] - 'A' + 'a') : start[i];
        name[len] = '\0';
        if (!(name[0] >= 'a' && name[0] <= 'z'))
            continue; /* usernames start with a letter */
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++)
            dup = strcmp(names[i], name) == 0;
        if (!dup)
            memcpy(names[n++], name, len + 1);
    }
    return n;
}

/* Tells every active member mentioned in body_md (not told yet). */
static enum st notify_mentions(struct db_conn *c, int64_t actor, const char *body_md,
                               const json_t *params, const char *ref, struct told *told)
{
    char names[CM_MENTIONS_MAX][CM_MENTION_NAME_MAX + 1];
    size_t n = cm_mentions(body_md, names, CM_MENTIONS_MAX);
    enum st st = ST_OK;
    for (size_t i = 0; i < n && st == ST_OK; i++) {
        int64_t id = 0;
        st = cm_query_int(c, &id, "SELECT id FROM users WHERE username = ? AND status = 'active'",
                          "t", names[i]);
        if (st == ST_NOTFOUND) {
            st = ST_OK;
            continue;
        }
        if (st == ST_OK)
            st = notify(c, id, actor, CM_NOTICE_MENTION, params, ref, told);
    }
    return st;
}

/* The notices of a new or edited post: replies (to the topic's author,
 * the post answered and the post quoted), then mentions. */
static enum st post_notices(struct db_conn *c, int64_t actor, int64_t topic_id, int64_t post_id,
                            const int64_t *answered, size_t n_answered, const char *body_md)
{
    json_t *params = NULL;
    enum st st = post_params(c, actor, topic_id, post_id, &params);
    char ref[64];
    snprintf(ref, sizeof ref, "community.post:%lld", (long long)post_id);
    struct told told = {.n = 0};
    for (size_t i = 0; i < n_answered && st == ST_OK; i++)
        st = notify(c, answered[i], actor, CM_NOTICE_REPLY, params, ref, &told);
    if (st == ST_OK)
        st = notify_mentions(c, actor, body_md, params, ref, &told);
    json_decref(params);
    return st;
}

enum st activity_on_topic(struct db_conn *c, int64_t author, int64_t topic_id, int64_t post_id,
                          const char *body_md)
{
    return post_notices(c, author, topic_id, post_id, NULL, 0, body_md);
}

enum st activity_on_reply(struct db_conn *c, int64_t author, int64_t topic_id, int64_t post_id,
                          int64_t parent_id, int64_t quote_id, const char *body_md)
{
    int64_t answered[3] = {0, 0, 0};
    enum st st = cm_query_int(
        c, &answered[0], "SELECT COALESCE(author_id, 0) FROM topics WHERE id = ?", "i", topic_id);
    if (st == ST_OK)
        st = post_author(c, parent_id, &answered[1]);
    if (st == ST_OK)
        st = post_author(c, quote_id, &answered[2]);
    return st == ST_OK ? post_notices(c, author, topic_id, post_id, answered, 3, body_md) : st;
}

enum st activity_on_edit(struct db_conn *c, int64_t author, int64_t topic_id, int64_t post_id,
                         const char *body_md)
{
    /* The post's ref makes members told before (answered or mentioned)
     * not told again: only those the edit newly mentions are. */
    return body_md ? post_notices(c, author, topic_id, post_id, NULL, 0, body_md) : ST_OK;
}

/* ---------------------------------------------------------------- signals */

double cm_affinity_now(int64_t weight, int64_t updated_at, int64_t now)
{
    double age = now > updated_at ? (double)(now - updated_at) : 0.0;
    return (double)weight * exp2(-age / (double)FEED_AFFINITY_HALF_LIFE_MS);
}

/* Adds delta (milli-points, may be negative) to user_id's interest in
 * (kind, target), decayed to now and kept within 0..FEED_AFFINITY_CAP; a
 * weight that falls to nothing is deleted. In the caller's transaction. */
static enum st bump(struct db_conn *c, int64_t user_id, const char *kind, int64_t target,
                    int64_t delta, int64_t now)
{
    if (target <= 0)
        return ST_OK;
    struct db_stmt *s;
    bool row;
    double w = 0;
    enum st st = cm_query(c, &s, &row,
                          "SELECT weight, updated_at FROM feed_affinity WHERE user_id = ? AND "
                          "kind = ? AND target_id = ?",
                          "iti", user_id, kind, target);
    if (st == ST_OK && row)
        w = cm_affinity_now(db_col_int64(s, 0), db_col_int64(s, 1), now);
    if (s)
        db_stmt_done(s);
    if (st != ST_OK)
        return st;
    w += (double)delta;
    if (w > FEED_AFFINITY_CAP)
        w = FEED_AFFINITY_CAP;
    if (w < 1.0)
        return row ? cm_exec(c, NULL,
                             "DELETE FROM feed_affinity WHERE user_id = ? AND kind = ? AND "
                             "target_id = ?",
                             "iti", user_id, kind, target)
                   : ST_OK;
    return cm_exec(c, NULL,
                   "INSERT INTO feed_affinity (user_id, kind, target_id, weight, updated_at) "
                   "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, kind, target_id) DO UPDATE SET "
                   "weight = excluded.weight, updated_at = excluded.updated_at",
                   "itiii", user_id, kind, target, (int64_t)llround(w), now);
}

/* Adds delta to the interest of user_id in topic_id's board, tags and
 * author (not their own), when the recommendations purpose is on. In the
 * caller's transaction. */
static enum st topic_signal(struct db_conn *c, int64_t user_id, int64_t topic_id, int64_t author,
                            int64_t delta)
{
    if (!privacy_purpose_on(c, user_id, PURPOSE_RECOMMENDATIONS))
        return ST_OK;
    int64_t now = clock_now_ms(), board_id = 0;
    enum st st =
        cm_query_int(c, &board_id, "SELECT board_id FROM topics WHERE id = ?", "i", topic_id);
    if (st == ST_OK)
        st = bump(c, user_id, "board", board_id, delta, now);
    if (st == ST_OK && author != user_id)
        st = bump(c, user_id, "author", author, delta, now);
    struct db_stmt *s;
    bool row;
    int64_t tags[CM_TAGS_MAX];
    size_t n = 0;
    if (st == ST_OK)
        st = cm_query(c, &s, &row, "SELECT tag_id FROM topic_tags WHERE topic_id = ?", "i",
                      topic_id);
    else
        s = NULL;
    while (st == ST_OK && row) {
        if (n < CM_TAGS_MAX)
            tags[n++] = db_col_int64(s, 0);
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    for (size_t i = 0; i < n && st == ST_OK; i++)
        st = bump(c, user_id, "tag", tags[i], delta, now);
    return st;
}

enum st activity_on_like(struct db_conn *c, int64_t user_id, int64_t post_id, int64_t topic_id,
                         int64_t author, bool on)
{
    enum st st =
        topic_signal(c, user_id, topic_id, author, on ? FEED_SIGNAL_LIKE : -FEED_SIGNAL_LIKE);
    if (st != ST_OK || !on)
        return st;
    json_t *params = NULL;
    st = post_params(c, user_id, topic_id, post_id, &params);
    char ref[80];
    snprintf(ref, sizeof ref, "community.like:%lld:%lld", (long long)post_id, (long long)user_id);
    if (st == ST_OK)
        st = notify(c, author, user_id, CM_NOTICE_LIKE, params, ref, NULL);
    json_decref(params);
    return st;
}

/* Runs fn's writes in a transaction of their own, after the action they
 * follow committed: a failure is logged, the action stands. */
static void after_commit(struct db_conn *c, const char *what, enum st st)
{
    st = cm_finish(c, st);
    if (st != ST_OK)
        log_warnf("community: %s after the fact: %s", what, st_name(st));
}

void activity_on_follow_user(struct db_conn *c, int64_t user_id, int64_t target, bool on)
{
    if (!on)
        return;
    json_t *by = NULL;
    enum st st = db_begin(c);
    if (st == ST_OK)
        st = actor_json(c, user_id, &by);
    char ref[64];
    snprintf(ref, sizeof ref, "community.follow:%lld", (long long)user_id);
    if (st == ST_OK) {
        json_t *params = json_pack("{s:O}", "by", by);
        st = notify(c, target, user_id, CM_NOTICE_FOLLOW, params, ref, NULL);
        json_decref(params);
    }
    json_decref(by);
    after_commit(c, "follow notice", st);
}

void activity_on_view(struct db_conn *c, int64_t user_id, int64_t topic_id)
{
    if (user_id <= 0 || !privacy_purpose_on(c, user_id, PURPOSE_RECOMMENDATIONS))
        return; /* checked before taking the write lock: most views record nothing */
    int64_t author = 0;
    enum st st = db_begin(c);
    if (st == ST_OK)
        st = cm_query_int(c, &author, "SELECT COALESCE(author_id, 0) FROM topics WHERE id = ?", "i",
                          topic_id);
    if (st == ST_OK)
        st = topic_signal(c, user_id, topic_id, author, FEED_SIGNAL_VIEW);
    after_commit(c, "view signal", st);
}

void activity_on_search(struct db_conn *c, int64_t user_id, const char *q, const json_t *results)
{
    if (user_id <= 0 || !q || !privacy_purpose_on(c, user_id, PURPOSE_RECOMMENDATIONS))
        return;
    int64_t now = clock_now_ms();
    enum st st = db_begin(c);
    /* A word of the query that names a tag says more than the results. */
    char *norm = cm_normalize_str(q);
    struct cm_terms terms = {0};
    if (norm)
        cm_terms_parse(norm, &terms);
    for (size_t i = 0; i < terms.n && st == ST_OK; i++) {
        int64_t tag = 0;
        st = cm_query_int(c, &tag, "SELECT id FROM tags WHERE name = ?", "t", terms.t[i]);
        if (st == ST_NOTFOUND)
            st = ST_OK;
        else if (st == ST_OK)
            st = bump(c, user_id, "tag", tag, 2 * FEED_SIGNAL_SEARCH, now);
    }
    cm_terms_free(&terms);
    free(norm);
    /* The boards of the first results, once each. */
    int64_t boards[FEED_SEARCH_RESULTS];
    size_t nb = 0, i;
    json_t *r;
    json_array_foreach(json_object_get(results, "results"), i, r)
    {
        if (i >= FEED_SEARCH_RESULTS || st != ST_OK)
            break;
        int64_t board = 0;
        st = cm_query_int(c, &board, "SELECT board_id FROM topics WHERE id = ?", "i",
                          (int64_t)json_integer_value(json_object_get(r, "topic_id")));
        bool seen = st != ST_OK;
        for (size_t k = 0; k < nb && !seen; k++)
            seen = boards[k] == board;
        if (!seen) {
            boards[nb++] = board;
            st = bump(c, user_id, "board", board, FEED_SIGNAL_SEARCH, now);
        }
        if (st == ST_NOTFOUND)
            st = ST_OK;
    }
    after_commit(c, "search signal", st);
}

/* ---------------------------------------------------------------- withdrawal */

enum st cm_feed_purge_withdrawn(struct db_conn *c, int64_t *removed)
{
    *removed = 0;
    int64_t after = 0;
    for (;;) {
        /* One member at a time, through the purpose check other modules
         * use, rather than by reading the privacy module's tables. */
        int64_t user_id = 0;
        enum st st = cm_query_int(c, &user_id,
                                  "SELECT user_id FROM feed_affinity WHERE user_id > ? ORDER BY "
                                  "user_id LIMIT 1",
                                  "i", after);
        if (st == ST_NOTFOUND)
            return ST_OK;
        if (st != ST_OK)
            return st;
        after = user_id;
        if (privacy_purpose_on(c, user_id, PURPOSE_RECOMMENDATIONS))
            continue;
        int64_t n = 0;
        st = cm_exec(c, &n, "DELETE FROM feed_affinity WHERE user_id = ?", "i", user_id);
        if (st != ST_OK)
            return st;
        *removed += n;
    }
}
