/*
 * moderation.c — who moderates a board, what they may do, and the log of
 * what they did: moderators, topic and post moderation, suspensions from
 * posting, members' reports and their queue, and the staff's view of the
 * moderator log.
 *
 * The decision to know: the right to moderate is looked up in the
 * database on every call (board owner, board_moderators, or a staff
 * moderator), never cached in a session, so removing a moderator takes
 * effect on their next request; and every action writes its line in
 * moderator_actions inside the same transaction as the change itself, so
 * there is no change without its log line and no log line without its
 * change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "community_int.h"

#define AUTHOR_JOIN(alias, col) " LEFT JOIN users " alias " ON " alias ".id = " col

/* ---------------------------------------------------------------- rights */

enum st cm_can_moderate(struct db_conn *c, const struct cm_viewer *v, int64_t board_id, bool *ok)
{
    *ok = v->staff_mod;
    if (*ok || !v->user_id)
        return ST_OK;
    int64_t n = 0;
    enum st st = cm_query_int(c, &n,
                              "SELECT (SELECT COUNT(*) FROM boards WHERE id = ? AND owner_id = ?) "
                              "+ (SELECT COUNT(*) FROM board_moderators WHERE board_id = ? AND "
                              "user_id = ?)",
                              "iiii", board_id, v->user_id, board_id, v->user_id);
    *ok = st == ST_OK && n > 0;
    return st;
}

/* ST_FORBIDDEN with the detail unless v moderates board_id. */
static enum st must_moderate(struct db_conn *c, const struct cm_viewer *v, int64_t board_id,
                             struct cm_error *err)
{
    bool ok = false;
    enum st st = cm_can_moderate(c, v, board_id, &ok);
    if (st == ST_OK && !ok)
        st = cm_fail(err, ST_FORBIDDEN, NULL, NULL, "community.not_moderator");
    return st;
}

enum st cm_posting_allowed(struct db_conn *c, int64_t board_id, int64_t user_id,
                           struct cm_error *err)
{
    int64_t n = 0;
    enum st st = cm_query_int(c, &n,
                              "SELECT COUNT(*) FROM board_suspensions WHERE board_id = ? AND "
                              "user_id = ? AND until_at > ?",
                              "iii", board_id, user_id, clock_now_ms());
    if (st == ST_OK && n > 0)
        st = cm_fail(err, ST_FORBIDDEN, NULL, NULL, "community.suspended");
    return st;
}

enum st cm_mod_log(struct db_conn *c, const struct cm_mod_entry *e)
{
    return cm_exec(c, NULL,
                   "INSERT INTO moderator_actions (board_id, topic_id, post_id, actor_id, "
                   "target_user_id, action, reason, detail, created_at) VALUES (?, ?, ?, ?, ?, ?, "
                   "?, ?, ?)",
                   "IIIIIttti", e->board_id, e->topic_id, e->post_id, e->actor_id,
                   e->target_user_id, e->action, e->reason ? e->reason : "",
                   e->detail ? e->detail : "{}", clock_now_ms());
}

/* The board's id by slug, ST_NOTFOUND for none. */
static enum st board_id(struct db_conn *c, const char *slug, int64_t *id)
{
    return cm_query_int(c, id, "SELECT id FROM boards WHERE slug = ?", "t", slug);
}

/* A member who can be given a role or barred: an account that is not
 * closed. ST_NOTFOUND otherwise. */
static enum st member_exists(struct db_conn *c, int64_t user_id)
{
    int64_t n = 0;
    enum st st = cm_query_int(c, &n,
                              "SELECT COUNT(*) FROM users WHERE id = ? AND status IN ('active', "
                              "'frozen')",
                              "i", user_id);
    return st == ST_OK && n == 0 ? ST_NOTFOUND : st;
}

/* ---------------------------------------------------------------- moderators */

static json_t *moderator_row(struct db_stmt *s)
{
    json_t *u = cm_author_json(s, 0);
    json_object_set_new(u, "since", json_integer(db_col_int64(s, 3)));
    return u;
}

enum st community_moderators_list(struct db_conn *c, const char *slug, json_t **out)
{
    struct db_stmt *s;
    bool row;
    enum st st = cm_query(c, &s, &row,
                          "SELECT b.id, u.id, u.display_name, u.username FROM boards b" AUTHOR_JOIN(
                              "u", "b.owner_id") " WHERE b.slug = ?",
                          "t", slug);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    int64_t id = 0;
    json_t *owner = NULL;
    if (st == ST_OK) {
        id = db_col_int64(s, 0);
        owner = cm_author_json(s, 1);
    }
    if (s)
        db_stmt_done(s);
    if (st != ST_OK)
        return st;
    json_t *a = json_array();
    st = cm_rows(c, a, moderator_row,
                 "SELECT u.id, u.display_name, u.username, m.created_at FROM board_moderators m "
                 "JOIN users u ON u.id = m.user_id WHERE m.board_id = ? ORDER BY m.created_at, "
                 "u.id",
                 "i", id);
    if (st != ST_OK) {
        json_decref(owner);
        json_decref(a);
        return st;
    }
    *out = json_pack("{s:o, s:o}", "owner", owner, "moderators", a);
    return ST_OK;
}

enum st community_moderator_set(struct db_conn *c, const struct cm_viewer *v, const char *slug,
                                int64_t target, bool on, struct cm_error *err)
{
    int64_t id = 0, owner = 0, n = 0;
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    struct db_stmt *s;
    bool row;
    st = cm_query(c, &s, &row, "SELECT id, owner_id FROM boards WHERE slug = ?", "t", slug);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        id = db_col_int64(s, 0);
        owner = db_col_is_null(s, 1) ? 0 : db_col_int64(s, 1);
    }
    if (s)
        db_stmt_done(s);
    if (st == ST_OK && !v->staff_mod && (!owner || owner != v->user_id))
        st = cm_fail(err, ST_FORBIDDEN, NULL, NULL, "community.not_owner");
    if (st == ST_OK && on)
        st = member_exists(c, target);
    if (st == ST_OK)
        st = on ? cm_exec(c, &n,
                          "INSERT INTO board_moderators (board_id, user_id, appointed_by, "
                          "created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                          "iiIi", id, target, v->user_id, clock_now_ms())
                : cm_exec(c, &n, "DELETE FROM board_moderators WHERE board_id = ? AND user_id = ?",
                          "ii", id, target);
    if (st == ST_OK && n == 0)
        st = cm_fail(err, ST_CONFLICT, NULL, NULL,
                     on ? "community.already_moderator" : "community.not_a_moderator");
    if (st == ST_OK) {
        struct cm_mod_entry e = {.board_id = id,
                                 .actor_id = v->user_id,
                                 .target_user_id = target,
                                 .action = on ? "moderator.appoint" : "moderator.remove"};
        st = cm_mod_log(c, &e);
    }
    return cm_finish(c, st);
}

/* ---------------------------------------------------------------- topics and posts */

/* Moves topic_id (of board from, not deleted: counted) to board to. */
static enum st topic_move(struct db_conn *c, int64_t topic_id, int64_t from, int64_t to,
                          bool counted)
{
    int64_t replies = 0, now = clock_now_ms();
    enum st st =
        cm_query_int(c, &replies, "SELECT reply_count FROM topics WHERE id = ?", "i", topic_id);
    if (st == ST_OK)
        st = cm_exec(c, NULL, "UPDATE topics SET board_id = ?, updated_at = ? WHERE id = ?", "iii",
                     to, now, topic_id);
    int64_t topics = counted ? 1 : 0, posts = replies + 1;
    if (st == ST_OK)
        st = cm_exec(c, NULL,
                     "UPDATE boards SET topic_count = topic_count - ?, post_count = post_count - "
                     "? WHERE id = ?",
                     "iii", topics, posts, from);
    if (st == ST_OK)
        st = cm_exec(c, NULL,
                     "UPDATE boards SET topic_count = topic_count + ?, post_count = post_count + "
                     "?, last_post_at = CASE WHEN last_post_at IS NULL OR last_post_at < (SELECT "
                     "last_post_at FROM topics WHERE id = ?) THEN (SELECT last_post_at FROM "
                     "topics WHERE id = ?) ELSE last_post_at END WHERE id = ?",
                     "iiiii", topics, posts, topic_id, topic_id, to);
    return st;
}

enum st community_topic_moderate(struct db_conn *c, const struct cm_viewer *v, int64_t topic_id,
                                 const char *action, const char *reason, const char *to_board,
                                 struct cm_error *err)
{
    static const struct {
        const char *action, *column;
        int value;
    } acts[] = {
        {"lock", "locked", 1},   {"unlock", "locked", 0}, {"hide", "hidden", 1},
        {"unhide", "hidden", 0}, {"pin", "pinned", 1},    {"unpin", "pinned", 0},
        {"move", NULL, 0},
    };
    int k = -1;
    for (int i = 0; i < (int)(sizeof acts / sizeof acts[0]); i++)
        if (strcmp(acts[i].action, action) == 0)
            k = i;
    if (k < 0)
        return cm_fail(err, ST_INVALID, "action", "choice", NULL);
    bool move = acts[k].column == NULL;
    if (move && !to_board)
        return cm_fail(err, ST_INVALID, "board", "required", NULL);
    int64_t now = clock_now_ms(), n = 0, to = 0;
    char detail[160] = "{}";
    struct cm_topic ts;
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = cm_topic_state(c, topic_id, &ts);
    if (st == ST_OK && ts.deleted)
        st = ST_NOTFOUND;
    if (st == ST_OK)
        st = must_moderate(c, v, ts.board_id, err);
    if (st == ST_OK && move) {
        st = board_id(c, to_board, &to);
        if (st == ST_NOTFOUND)
            st = cm_fail(err, ST_INVALID, "board", "invalid", NULL);
        if (st == ST_OK && to == ts.board_id)
            st = cm_fail(err, ST_CONFLICT, NULL, NULL, "community.already_so");
        if (st == ST_OK)
            st = topic_move(c, topic_id, ts.board_id, to, true);
        snprintf(detail, sizeof detail, "{\"from\":%lld,\"to\":%lld}", (long long)ts.board_id,
                 (long long)to);
    } else if (st == ST_OK) {
        char sql[160];
        snprintf(sql, sizeof sql,
                 "UPDATE topics SET %s = ?, updated_at = ? WHERE id = ? AND %s <> ?",
                 acts[k].column, acts[k].column);
        st = cm_exec(c, &n, sql, "iiii", (int64_t)acts[k].value, now, topic_id,
                     (int64_t)acts[k].value);
        if (st == ST_OK && n == 0)
            st = cm_fail(err, ST_CONFLICT, NULL, NULL, "community.already_so");
    }
    if (st == ST_OK)
        st = cm_touch(c, topic_id, ts.board_id); /* and the board it left, after a move */
    if (st == ST_OK) {
        char name[32];
        snprintf(name, sizeof name, "topic.%s", action);
        struct cm_mod_entry e = {.board_id = ts.board_id,
                                 .topic_id = topic_id,
                                 .actor_id = v->user_id,
                                 .target_user_id = ts.author_id,
                                 .action = name,
                                 .reason = reason,
                                 .detail = detail};
        st = cm_mod_log(c, &e);
    }
    return cm_finish(c, st);
}

/* What moderation needs about a post. */
struct mod_post {
    int64_t topic_id, board_id, author_id, position;
    bool hidden, topic_hidden;
};

static enum st mod_post_load(struct db_conn *c, int64_t post_id, struct mod_post *p)
{
    struct db_stmt *s;
    bool row;
    enum st st = cm_query(c, &s, &row,
                          "SELECT p.topic_id, t.board_id, p.author_id, p.position, p.hidden, "
                          "t.hidden FROM "
                          "posts p JOIN topics t ON t.id = p.topic_id WHERE p.id = ? AND "
                          "p.deleted_at IS NULL AND t.deleted_at IS NULL",
                          "i", post_id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        p->topic_id = db_col_int64(s, 0);
        p->board_id = db_col_int64(s, 1);
        p->author_id = db_col_is_null(s, 2) ? 0 : db_col_int64(s, 2);
        p->position = db_col_int64(s, 3);
        p->hidden = db_col_int64(s, 4) != 0;
        p->topic_hidden = db_col_int64(s, 5) != 0;
    }
    if (s)
        db_stmt_done(s);
    return st;
}

/* Hides (or unhides) a reply, or the topic of a first post; *changed
 * false when it already was so. In the caller's transaction. */
static enum st post_set_hidden(struct db_conn *c, const struct mod_post *p, int64_t post_id,
                               bool hide, bool *changed)
{
    int64_t n = 0;
    enum st st =
        p->position == 0
            ? cm_exec(c, &n,
                      "UPDATE topics SET hidden = ?, updated_at = ? WHERE id = ? AND hidden <> ?",
                      "iiii", (int64_t)hide, clock_now_ms(), p->topic_id, (int64_t)hide)
            : cm_exec(c, &n,
                      "UPDATE posts SET hidden = ?, updated_at = ? WHERE id = ? AND hidden <> ?",
                      "iiii", (int64_t)hide, clock_now_ms(), post_id, (int64_t)hide);
    *changed = n > 0;
    if (st == ST_OK && n > 0)
        st = cm_touch(c, p->topic_id, 0);
    return st;
}

enum st community_post_moderate(struct db_conn *c, const struct cm_viewer *v, int64_t post_id,
                                const char *action, const char *reason, struct cm_error *err)
{
    bool hide;
    if (!cm_either(action, "hide", "unhide", &hide))
        return cm_fail(err, ST_INVALID, "action", "choice", NULL);
    struct mod_post p;
    bool changed = false;
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = mod_post_load(c, post_id, &p);
    if (st == ST_OK)
        st = must_moderate(c, v, p.board_id, err);
    if (st == ST_OK && p.position == 0)
        st = cm_fail(err, ST_UNPROCESSABLE, NULL, NULL, "community.hide_topic_instead");
    if (st == ST_OK)
        st = post_set_hidden(c, &p, post_id, hide, &changed);
    if (st == ST_OK && !changed)
        st = cm_fail(err, ST_CONFLICT, NULL, NULL, "community.already_so");
    if (st == ST_OK) {
        struct cm_mod_entry e = {.board_id = p.board_id,
                                 .topic_id = p.topic_id,
                                 .post_id = post_id,
                                 .actor_id = v->user_id,
                                 .target_user_id = p.author_id,
                                 .action = hide ? "post.hide" : "post.unhide",
                                 .reason = reason};
        st = cm_mod_log(c, &e);
    }
    return cm_finish(c, st);
}

/* ---------------------------------------------------------------- suspensions */

/* Loads the board and checks v moderates it; in the caller's transaction. */
static enum st board_to_moderate(struct db_conn *c, const struct cm_viewer *v, const char *slug,
                                 int64_t *id, int64_t *owner, struct cm_error *err)
{
    struct db_stmt *s;
    bool row;
    enum st st = cm_query(c, &s, &row, "SELECT id, owner_id FROM boards WHERE slug = ?", "t", slug);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        *id = db_col_int64(s, 0);
        *owner = db_col_is_null(s, 1) ? 0 : db_col_int64(s, 1);
    }
    if (s)
        db_stmt_done(s);
    if (st == ST_OK)
        st = must_moderate(c, v, *id, err);
    return st;
}

enum st community_suspend(struct db_conn *c, const struct cm_viewer *v, const char *slug,
                          int64_t target, int64_t until, const char *reason, struct cm_error *err)
{
    int64_t now = clock_now_ms(), id = 0, owner = 0;
    if (until <= now)
        return cm_fail(err, ST_INVALID, "until", "future", NULL);
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = board_to_moderate(c, v, slug, &id, &owner, err);
    if (st == ST_OK)
        st = member_exists(c, target);
    if (st == ST_OK && target == v->user_id)
        st = cm_fail(err, ST_UNPROCESSABLE, NULL, NULL, "community.suspend_self");
    if (st == ST_OK && !v->staff_mod) {
        /* Moderators answer to the owner and to staff, not to each other. */
        struct cm_viewer them = {.user_id = target};
        bool mod = target == owner;
        if (!mod)
            st = cm_can_moderate(c, &them, id, &mod);
        if (st == ST_OK && mod)
            st = cm_fail(err, ST_FORBIDDEN, NULL, NULL, "community.suspend_moderator");
    }
    if (st == ST_OK)
        st = cm_exec(c, NULL,
                     "INSERT INTO board_suspensions (board_id, user_id, until_at, reason, "
                     "suspended_by, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (board_id, "
                     "user_id) DO UPDATE SET until_at = excluded.until_at, reason = "
                     "excluded.reason, suspended_by = excluded.suspended_by, created_at = "
                     "excluded.created_at",
                     "iiitIi", id, target, until, reason ? reason : "", v->user_id, now);
    if (st == ST_OK) {
        char detail[64];
        snprintf(detail, sizeof detail, "{\"until\":%lld}", (long long)until);
        struct cm_mod_entry e = {.board_id = id,
                                 .actor_id = v->user_id,
                                 .target_user_id = target,
                                 .action = "member.suspend",
                                 .reason = reason,
                                 .detail = detail};
        st = cm_mod_log(c, &e);
    }
    return cm_finish(c, st);
}

enum st community_unsuspend(struct db_conn *c, const struct cm_viewer *v, const char *slug,
                            int64_t target, struct cm_error *err)
{
    int64_t id = 0, owner = 0, n = 0;
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = board_to_moderate(c, v, slug, &id, &owner, err);
    if (st == ST_OK)
        st = cm_exec(c, &n,
                     "DELETE FROM board_suspensions WHERE board_id = ? AND user_id = ? AND "
                     "until_at > ?",
                     "iii", id, target, clock_now_ms());
    if (st == ST_OK && n == 0)
        st = cm_fail(err, ST_CONFLICT, NULL, NULL, "community.not_suspended");
    if (st == ST_OK) {
        struct cm_mod_entry e = {.board_id = id,
                                 .actor_id = v->user_id,
                                 .target_user_id = target,
                                 .action = "member.unsuspend"};
        st = cm_mod_log(c, &e);
    }
    return cm_finish(c, st);
}

static json_t *suspension_row(struct db_stmt *s)
{
    return json_pack("{s:o, s:I, s:o, s:o, s:I}", "user", cm_author_json(s, 0), "until",
                     (json_int_t)db_col_int64(s, 3), "reason", cm_col_str(s, 4), "by",
                     cm_author_json(s, 5), "created_at", (json_int_t)db_col_int64(s, 8));
}

enum st community_suspensions(struct db_conn *c, const struct cm_viewer *v, const char *slug,
                              json_t **out, struct cm_error *err)
{
    int64_t id = 0, owner = 0;
    enum st st = board_to_moderate(c, v, slug, &id, &owner, err);
    if (st != ST_OK)
        return st;
    json_t *a = json_array();
    st = cm_rows(c, a, suspension_row,
                 "SELECT u.id, u.display_name, u.username, s.until_at, s.reason, m.id, "
                 "m.display_name, m.username, s.created_at FROM board_suspensions s JOIN users u "
                 "ON u.id = s.user_id" AUTHOR_JOIN("m", "s.suspended_by") " WHERE s.board_id = ? "
                                                                          "AND s.until_at > ? "
                                                                          "ORDER BY s.until_at",
                 "ii", id, clock_now_ms());
    if (st != ST_OK) {
        json_decref(a);
        return st;
    }
    *out = json_pack("{s:o}", "suspensions", a);
    return ST_OK;
}

/* ---------------------------------------------------------------- reports */

static bool reason_ok(const char *r)
{
    static const char *const reasons[] = {"spam", "abuse", "off_topic", "illegal", "other"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (strcmp(r, reasons[i]) == 0)
            return true;
    return false;
}

enum st community_report(struct db_conn *c, int64_t user_id, int64_t post_id, const char *reason,
                         const char *detail, json_t **out, struct cm_error *err)
{
    if (!reason_ok(reason))
        return cm_fail(err, ST_INVALID, "reason", "choice", NULL);
    struct mod_post p;
    int64_t id = 0;
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = mod_post_load(c, post_id, &p);
    if (st == ST_OK && (p.hidden || p.topic_hidden))
        st = ST_NOTFOUND; /* already out of sight */
    if (st == ST_OK && p.author_id == user_id)
        st = cm_fail(err, ST_UNPROCESSABLE, NULL, NULL, "community.report_own");
    if (st == ST_OK)
        st = cm_limit(c, "community-report", user_id, 3600 * 1000, CM_REPORTS_PER_HOUR, err);
    if (st == ST_OK) {
        st = cm_query_int(c, &id,
                          "INSERT INTO reports (post_id, reporter_id, reason, detail, created_at) "
                          "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                          "iitti", post_id, user_id, reason, detail ? detail : "", clock_now_ms());
        if (st == ST_NOTFOUND)
            st = cm_fail(err, ST_CONFLICT, NULL, NULL, "community.already_reported");
    }
    st = cm_finish(c, st);
    if (st == ST_OK)
        *out = json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", "open");
    return st;
}

#define REPORT_COLS                                                                                \
    "r.id, r.status, r.reason, r.detail, r.created_at, r.handled_at, p.id, p.topic_id, "           \
    "p.position, p.body_html, p.hidden, pa.id, pa.display_name, pa.username, ru.id, "              \
    "ru.display_name, ru.username, hu.id, hu.display_name, hu.username, t.title, b.slug, b.name"
#define REPORT_FROM                                                                                \
    " FROM reports r JOIN posts p ON p.id = r.post_id JOIN topics t ON t.id = p.topic_id JOIN "    \
    "boards b ON b.id = t.board_id" AUTHOR_JOIN("pa", "p.author_id")                               \
        AUTHOR_JOIN("ru", "r.reporter_id") AUTHOR_JOIN("hu", "r.handled_by")

static json_t *report_row(struct db_stmt *s)
{
    json_t *post = json_pack(
        "{s:I, s:I, s:I, s:o, s:b, s:o, s:o}", "id", (json_int_t)db_col_int64(s, 6), "topic_id",
        (json_int_t)db_col_int64(s, 7), "position", (json_int_t)db_col_int64(s, 8), "body_html",
        cm_col_str(s, 9), "hidden", db_col_int64(s, 10) != 0, "author", cm_author_json(s, 11),
        "topic_title", cm_col_str(s, 20));
    return json_pack("{s:I, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:{s:o, s:o}}", "id",
                     (json_int_t)db_col_int64(s, 0), "status", cm_col_str(s, 1), "reason",
                     cm_col_str(s, 2), "detail", cm_col_str(s, 3), "created_at",
                     (json_int_t)db_col_int64(s, 4), "handled_at", cm_col_int(s, 5), "post", post,
                     "reporter", cm_author_json(s, 14), "handled_by", cm_author_json(s, 17),
                     "board", "slug", cm_col_str(s, 21), "name", cm_col_str(s, 22));
}

/* Runs a page query built in q (ordered by id DESC, limit CM_PAGE + 1)
 * into {"<name>": [...], "next_cursor"}. */
static enum st id_page(struct db_conn *c, struct cm_qb *q, const char *name,
                       json_t *(*fn)(struct db_stmt *), json_t **out)
{
    struct db_stmt *s = NULL;
    bool row = false;
    enum st st = cm_qb_prepare(c, q, &s);
    if (st == ST_OK)
        st = db_step(s, &row);
    json_t *a = json_array(), *next = json_null();
    int n = 0;
    int64_t last = 0;
    while (st == ST_OK && row) {
        if (n == CM_PAGE) {
            char cur[24];
            snprintf(cur, sizeof cur, "%lld", (long long)last);
            json_decref(next);
            next = json_string(cur);
            break;
        }
        last = db_col_int64(s, 0);
        json_array_append_new(a, fn(s));
        n++;
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    if (st != ST_OK) {
        json_decref(a);
        json_decref(next);
        return st;
    }
    *out = json_pack("{s:o, s:o}", name, a, "next_cursor", next);
    return ST_OK;
}

/* The cursor of an id page: the last id seen. */
static enum st id_cursor(const char *cursor, int64_t *before, struct cm_error *err)
{
    *before = INT64_MAX;
    if (cursor && parse_int64(cursor, 1, INT64_MAX, before) != ST_OK)
        return cm_fail(err, ST_INVALID, "cursor", "invalid", NULL);
    return ST_OK;
}

enum st community_reports(struct db_conn *c, const struct cm_viewer *v,
                          const struct cm_reports_q *q, json_t **out, struct cm_error *err)
{
    const char *status = q->status ? q->status : "open";
    if (strcmp(status, "open") != 0 && strcmp(status, "upheld") != 0 &&
        strcmp(status, "dismissed") != 0)
        return cm_fail(err, ST_INVALID, "status", "choice", NULL);
    int64_t before, id = 0, owner = 0;
    enum st st = id_cursor(q->cursor, &before, err);
    if (st == ST_OK && q->board)
        st = board_to_moderate(c, v, q->board, &id, &owner, err);
    else if (st == ST_OK && !v->staff_mod)
        st = cm_fail(err, ST_FORBIDDEN, NULL, NULL, "community.not_moderator");
    if (st != ST_OK)
        return st;
    struct cm_qb b;
    cm_qb_init(&b, "SELECT " REPORT_COLS REPORT_FROM);
    cm_qb_text(&b, " WHERE r.status = ?", status);
    cm_qb_int(&b, " AND r.id < ?", before);
    if (id)
        cm_qb_int(&b, " AND t.board_id = ?", id);
    char tail[48];
    snprintf(tail, sizeof tail, " ORDER BY r.id DESC LIMIT %d", CM_PAGE + 1);
    buf_puts(&b.sql, tail);
    st = id_page(c, &b, "reports", report_row, out);
    cm_qb_free(&b);
    return st;
}

enum st community_report_handle(struct db_conn *c, const struct cm_viewer *v, int64_t report_id,
                                const char *decision, const char *note, struct cm_error *err)
{
    bool uphold;
    if (!cm_either(decision, "uphold", "dismiss", &uphold))
        return cm_fail(err, ST_INVALID, "decision", "choice", NULL);
    int64_t post_id = 0, now = clock_now_ms();
    bool open = false, ok = false, changed = false;
    struct mod_post p;
    struct db_stmt *s;
    bool row;
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = cm_query(c, &s, &row, "SELECT post_id, status FROM reports WHERE id = ?", "i", report_id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        post_id = db_col_int64(s, 0);
        open = strcmp(db_col_text(s, 1), "open") == 0;
    }
    if (s)
        db_stmt_done(s);
    if (st == ST_OK)
        st = mod_post_load(c, post_id, &p);
    if (st == ST_OK)
        st = cm_can_moderate(c, v, p.board_id, &ok);
    if (st == ST_OK && !ok)
        st = ST_NOTFOUND; /* another board's queue is none of the caller's business */
    if (st == ST_OK && !open)
        st = cm_fail(err, ST_CONFLICT, NULL, NULL, "community.report_handled");
    if (st == ST_OK && uphold)
        st = post_set_hidden(c, &p, post_id, true, &changed);
    if (st == ST_OK)
        st = cm_exec(c, NULL,
                     "UPDATE reports SET status = ?, handled_by = ?, handled_at = ? WHERE post_id "
                     "= ? AND status = 'open'",
                     "tIii", uphold ? "upheld" : "dismissed", v->user_id, now, post_id);
    if (st == ST_OK) {
        char detail[48];
        snprintf(detail, sizeof detail, "{\"report\":%lld}", (long long)report_id);
        struct cm_mod_entry e = {.board_id = p.board_id,
                                 .topic_id = p.topic_id,
                                 .post_id = post_id,
                                 .actor_id = v->user_id,
                                 .target_user_id = p.author_id,
                                 .action = uphold ? "report.uphold" : "report.dismiss",
                                 .reason = note,
                                 .detail = detail};
        st = cm_mod_log(c, &e);
    }
    return cm_finish(c, st);
}

/* ---------------------------------------------------------------- the log */

static json_t *action_row(struct db_stmt *s)
{
    json_t *detail = json_loads(db_col_text(s, 4), 0, NULL);
    if (!json_is_object(detail)) {
        json_decref(detail);
        detail = json_object();
    }
    json_t *board = db_col_is_null(s, 8)
                        ? json_null()
                        : json_pack("{s:I, s:o}", "id", (json_int_t)db_col_int64(s, 8), "slug",
                                    cm_col_str(s, 9));
    return json_pack(
        "{s:I, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)db_col_int64(s, 0),
        "action", cm_col_str(s, 1), "reason", cm_col_str(s, 2), "detail", detail, "created_at",
        (json_int_t)db_col_int64(s, 3), "board", board, "topic_id", cm_col_int(s, 5), "post_id",
        cm_col_int(s, 6), "actor", cm_author_json(s, 10), "target_user", cm_author_json(s, 13));
}

enum st community_mod_log(struct db_conn *c, const char *board, const char *cursor, json_t **out,
                          struct cm_error *err)
{
    int64_t before, id = 0;
    enum st st = id_cursor(cursor, &before, err);
    if (st == ST_OK && board)
        st = board_id(c, board, &id);
    if (st != ST_OK)
        return st;
    struct cm_qb b;
    cm_qb_init(&b, "SELECT a.id, a.action, a.reason, a.created_at, a.detail, a.topic_id, "
                   "a.post_id, a.target_user_id, b.id, b.slug, au.id, au.display_name, "
                   "au.username, tu.id, tu.display_name, tu.username FROM moderator_actions a "
                   "LEFT JOIN boards b ON b.id = a.board_id" AUTHOR_JOIN("au", "a.actor_id")
                       AUTHOR_JOIN("tu", "a.target_user_id"));
    cm_qb_int(&b, " WHERE a.id < ?", before);
    if (id)
        cm_qb_int(&b, " AND a.board_id = ?", id);
    char tail[48];
    snprintf(tail, sizeof tail, " ORDER BY a.id DESC LIMIT %d", CM_PAGE + 1);
    buf_puts(&b.sql, tail);
    st = id_page(c, &b, "actions", action_row, out);
    cm_qb_free(&b);
    return st;
}
