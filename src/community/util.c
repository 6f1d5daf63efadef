/*
 * util.c — the plumbing of the community module: SQL helpers, errors,
 * the posting rate limit and the search index writer.
 *
 * Rate-limit counters share the `rate_limits` table of the accounts
 * module (fixed windows keyed by a keyed hash, so no user id is stored in
 * clear there); the kinds used here ("community-post", "community-topic")
 * cannot collide with theirs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "community_int.h"

struct rows_to_array {
    json_t *a;
    json_t *(*fn)(struct db_stmt *);
};

static enum st append_row(struct db_stmt *s, void *p)
{
    struct rows_to_array *r = p;
    json_array_append_new(r->a, r->fn(s));
    return ST_OK;
}

enum st cm_rows(struct db_conn *c, json_t *a, json_t *(*fn)(struct db_stmt *), const char *sql,
                const char *fmt, ...)
{
    struct rows_to_array r = {a, fn};
    va_list ap;
    va_start(ap, fmt);
    enum st st = db_rowsf_v(c, append_row, &r, sql, fmt, ap);
    va_end(ap);
    return st;
}

/* Set by cm_touch, read by cm_finish: this thread's transaction changed
 * something the answer cache holds. */
static _Thread_local bool touched;

enum st cm_finish(struct db_conn *c, enum st s)
{
    bool t = touched;
    touched = false;
    if (s != ST_OK) {
        db_rollback(c);
        return s;
    }
    s = db_commit(c);
    if (s == ST_OK && t)
        cm_cache_changed(); /* after the commit: readers then see the new rows */
    return s;
}

enum st cm_fail(struct cm_error *err, enum st s, const char *field, const char *code,
                const char *detail)
{
    if (err) {
        err->field = field;
        err->code = code;
        err->detail = detail;
    }
    return s;
}

bool cm_either(const char *v, const char *yes, const char *no, bool *is_yes)
{
    *is_yes = v && strcmp(v, yes) == 0;
    return *is_yes || (v && strcmp(v, no) == 0);
}

/* ---------------------------------------------------------------- rows */

json_t *cm_col_str(struct db_stmt *s, int col)
{
    return db_col_is_null(s, col) ? json_null() : json_string(db_col_text(s, col));
}

json_t *cm_col_int(struct db_stmt *s, int col)
{
    return db_col_is_null(s, col) ? json_null() : json_integer(db_col_int64(s, col));
}

json_t *cm_author_json(struct db_stmt *s, int col)
{
    if (db_col_is_null(s, col))
        return json_null();
    return json_pack("{s:I, s:o, s:o}", "id", (json_int_t)db_col_int64(s, col), "name",
                     cm_col_str(s, col + 1), "username", cm_col_str(s, col + 2));
}

enum st cm_topic_state(struct db_conn *c, int64_t topic_id, struct cm_topic *ts)
{
    struct db_stmt *s;
    bool row;
    enum st st = cm_query(c, &s, &row,
                          "SELECT board_id, author_id, locked, hidden, deleted_at FROM topics "
                          "WHERE id = ?",
                          "i", topic_id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        ts->board_id = db_col_int64(s, 0);
        ts->author_id = db_col_is_null(s, 1) ? 0 : db_col_int64(s, 1);
        ts->locked = db_col_int64(s, 2) != 0;
        ts->hidden = db_col_int64(s, 3) != 0;
        ts->deleted = !db_col_is_null(s, 4);
    }
    if (s)
        db_stmt_done(s);
    return st;
}

enum st cm_touch(struct db_conn *c, int64_t topic_id, int64_t board_id)
{
    touched = true;
    enum st st =
        cm_exec(c, NULL, "UPDATE topics SET version = version + 1 WHERE id = ?", "i", topic_id);
    if (st == ST_OK)
        st = cm_exec(c, NULL,
                     "UPDATE boards SET version = version + 1 WHERE id = (SELECT board_id FROM "
                     "topics WHERE id = ?) OR id = ?",
                     "ii", topic_id, board_id);
    return st;
}

/* ---------------------------------------------------------------- built queries */

void cm_qb_init(struct cm_qb *q, const char *head)
{
    memset(q, 0, sizeof *q);
    buf_init(&q->sql, 64 * 1024);
    buf_puts(&q->sql, head);
}

static void qb_param(struct cm_qb *q, char type, int64_t i, const char *t)
{
    if (q->n >= CM_QB_PARAMS)
        abort();
    q->type[q->n] = type;
    q->i[q->n] = i;
    q->t[q->n++] = t;
}

void cm_qb_int(struct cm_qb *q, const char *sql, int64_t v)
{
    buf_puts(&q->sql, sql);
    qb_param(q, 'i', v, NULL);
}

void cm_qb_text(struct cm_qb *q, const char *sql, const char *v)
{
    buf_puts(&q->sql, sql);
    qb_param(q, 't', 0, v);
}

enum st cm_qb_prepare(struct db_conn *c, struct cm_qb *q, struct db_stmt **s)
{
    *s = NULL;
    enum st st = db_prepare(c, q->sql.data, s);
    if (st != ST_OK) {
        *s = NULL;
        return st;
    }
    for (int k = 0; k < q->n && st == ST_OK; k++)
        st = q->type[k] == 'i' ? db_bind_int64(*s, k + 1, q->i[k])
                               : db_bind_text(*s, k + 1, q->t[k], SIZE_MAX);
    if (st != ST_OK) {
        db_stmt_done(*s);
        *s = NULL;
    }
    return st;
}

void cm_qb_free(struct cm_qb *q)
{
    buf_free(&q->sql);
}

/* ---------------------------------------------------------------- rate limits */

enum st cm_limit(struct db_conn *c, const char *kind, int64_t user_id, int64_t window_ms,
                 int64_t limit, struct cm_error *err)
{
    if (limit <= 0)
        return ST_OK;
    char v[64];
    unsigned char key[CRYPTO_BLIND_BYTES];
    snprintf(v, sizeof v, "%s:%lld", kind, (long long)user_id);
    if (crypto_blind_index("ratelimit", v, key) != ST_OK)
        return ST_INTERNAL; /* no index key: crypto is not initialised */
    int64_t now = clock_now_ms(), stale = now - window_ms;
    struct db_stmt *s;
    bool row;
    enum st st =
        cm_query(c, &s, &row, "SELECT window_start, count FROM rate_limits WHERE key_hash = ?", "b",
                 key, sizeof key);
    int64_t start = row ? db_col_int64(s, 0) : 0, count = row ? db_col_int64(s, 1) : 0;
    if (s)
        db_stmt_done(s);
    if (st != ST_OK)
        return st;
    if (row && start > stale && count >= limit) {
        if (err)
            err->retry_after_ms = start + window_ms - now;
        return cm_fail(err, ST_RATELIMIT, NULL, NULL, "community.slow_down");
    }
    return cm_exec(c, NULL,
                   "INSERT INTO rate_limits (key_hash, window_start, count, last_at) "
                   "VALUES (?, ?, 1, ?) ON CONFLICT (key_hash) DO UPDATE SET "
                   "count = CASE WHEN rate_limits.window_start <= ? THEN 1 "
                   "ELSE rate_limits.count + 1 END, "
                   "window_start = CASE WHEN rate_limits.window_start <= ? THEN ? "
                   "ELSE rate_limits.window_start END, last_at = ?",
                   "biiiiii", key, sizeof key, now, now, stale, stale, now, now);
}

enum st cm_post_limits(struct db_conn *c, int64_t user_id, bool topic, struct cm_error *err)
{
    enum st st = cm_limit(c, "community-post", user_id, 60 * 1000,
                          config_int("community_posts_per_minute"), err);
    if (st == ST_OK && topic)
        st = cm_limit(c, "community-topic", user_id, 3600 * 1000,
                      config_int("community_topics_per_hour"), err);
    return st;
}

/* ---------------------------------------------------------------- search index */

enum st cm_index_text(struct db_conn *c, int64_t post_id, const char *title, const char *text)
{
    char *nt = cm_normalize_str(title ? title : "");
    char *nb = cm_normalize_str(text);
    char *words = cm_words(nt, nb);
    enum st st =
        cm_exec(c, NULL,
                "INSERT INTO post_search (post_id, title, body, words) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (post_id) DO UPDATE SET title = excluded.title, "
                "body = excluded.body, words = excluded.words",
                "ittt", post_id, nt, nb, words);
    free(nt);
    free(nb);
    free(words);
    return st;
}

enum st cm_index_post(struct db_conn *c, int64_t post_id, const char *title, const char *body_md)
{
    char *html = NULL, *text = NULL;
    enum st st = community_markdown(body_md, strlen(body_md), &html, &text);
    free(html);
    if (st == ST_OK)
        st = cm_index_text(c, post_id, title, text);
    free(text);
    return st;
}
