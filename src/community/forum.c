/*
 * forum.c — boards, topics, posts, reactions, the member's own space and
 * topic moderation.
 *
 * The decision to know: every write runs in one transaction that also
 * keeps the counters (reply_count, like_count, score, topic_count...) and
 * the search row, so lists can be served from one indexed table scan
 * without counting anything. A reply takes its position from the topic's
 * reply_count, incremented by an UPDATE ... RETURNING: the row lock (or
 * SQLite's write lock) hands out positions one at a time on both engines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "community_int.h"

#define TOPIC_COLS                                                                                 \
    "t.id, t.title, t.tags, t.author_id, u.display_name, u.username, t.pinned, t.locked, "         \
    "t.hidden, t.reply_count, t.like_count, t.last_post_at, t.created_at, b.id, b.slug, b.name, "  \
    "t.score"
#define TOPIC_FROM                                                                                 \
    " FROM topics t JOIN boards b ON b.id = t.board_id LEFT JOIN users u ON u.id = t.author_id"
#define POST_COLS                                                                                  \
    "p.id, p.position, p.author_id, u.display_name, u.username, p.parent_id, p.quote_post_id, "    \
    "p.body_html, p.like_count, p.hidden, p.deleted_at, p.edit_count, p.edited_at, p.created_at"

/* ---------------------------------------------------------------- JSON rows */

static json_t *topic_json(struct db_stmt *s)
{
    json_t *tags = json_loads(db_col_text(s, 2), 0, NULL);
    if (!json_is_array(tags)) {
        json_decref(tags);
        tags = json_array();
    }
    return json_pack("{s:I, s:o, s:o, s:o, s:b, s:b, s:b, s:I, s:I, s:I, s:I, s:{s:I, s:o, s:o}}",
                     "id", (json_int_t)db_col_int64(s, 0), "title", cm_col_str(s, 1), "tags", tags,
                     "author", cm_author_json(s, 3), "pinned", db_col_int64(s, 6) != 0, "locked",
                     db_col_int64(s, 7) != 0, "hidden", db_col_int64(s, 8) != 0, "reply_count",
                     (json_int_t)db_col_int64(s, 9), "like_count", (json_int_t)db_col_int64(s, 10),
                     "last_post_at", (json_int_t)db_col_int64(s, 11), "created_at",
                     (json_int_t)db_col_int64(s, 12), "board", "id",
                     (json_int_t)db_col_int64(s, 13), "slug", cm_col_str(s, 14), "name",
                     cm_col_str(s, 15));
}

/* A post as viewer v sees it: a deleted post or someone else's hidden
 * post keeps its place without its text. */
static json_t *post_json(struct db_stmt *s, const struct cm_viewer *v)
{
    bool deleted = !db_col_is_null(s, 10), hidden = db_col_int64(s, 9) != 0;
    bool own = v->user_id && !db_col_is_null(s, 2) && db_col_int64(s, 2) == v->user_id;
    bool show = !deleted && (!hidden || own || v->staff);
    return json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:I, s:b, s:b, s:I, s:o, s:I}", "id",
                     (json_int_t)db_col_int64(s, 0), "position", (json_int_t)db_col_int64(s, 1),
                     "author", show ? cm_author_json(s, 2) : json_null(), "parent_id",
                     cm_col_int(s, 5), "quote_post_id", cm_col_int(s, 6), "body_html",
                     show ? cm_col_str(s, 7) : json_null(), "like_count",
                     (json_int_t)db_col_int64(s, 8), "hidden", hidden, "deleted", deleted,
                     "edit_count", (json_int_t)db_col_int64(s, 11), "edited_at", cm_col_int(s, 12),
                     "created_at", (json_int_t)db_col_int64(s, 13));
}

static json_t *id_row(struct db_stmt *s)
{
    return json_integer(db_col_int64(s, 0));
}

/* ---------------------------------------------------------------- cursors */

/* "A.B" → two integers; false for anything else. */
static bool cursor2(const char *cur, int64_t *a, int64_t *b)
{
    const char *dot = cur ? strchr(cur, '.') : NULL;
    if (!dot || dot - cur > 20)
        return false;
    char first[24];
    memcpy(first, cur, (size_t)(dot - cur));
    first[dot - cur] = '\0';
    return parse_int64(first, INT64_MIN, INT64_MAX, a) == ST_OK &&
           parse_int64(dot + 1, 0, INT64_MAX, b) == ST_OK;
}

/* Board and tag filters by name; *empty when one names nothing. */
static enum st add_filters(struct db_conn *c, struct cm_qb *q, const char *board, const char *tag,
                           bool *empty)
{
    int64_t id;
    enum st st;
    *empty = false;
    if (board) {
        st = cm_query_int(c, &id, "SELECT id FROM boards WHERE slug = ?", "t", board);
        if (st == ST_NOTFOUND)
            return ST_NOTFOUND;
        if (st != ST_OK)
            return st;
        cm_qb_int(q, " AND t.board_id = ?", id);
    }
    if (tag) {
        st = cm_query_int(c, &id, "SELECT id FROM tags WHERE name = ?", "t", tag);
        if (st == ST_NOTFOUND) {
            *empty = true;
            return ST_OK;
        }
        if (st != ST_OK)
            return st;
        cm_qb_int(q, " AND t.id IN (SELECT topic_id FROM topic_tags WHERE tag_id = ?)", id);
    }
    return ST_OK;
}

/* ---------------------------------------------------------------- boards */

static json_t *board_row(struct db_stmt *s)
{
    return json_pack("{s:I, s:o, s:o, s:o, s:I, s:I, s:o}", "id", (json_int_t)db_col_int64(s, 0),
                     "slug", cm_col_str(s, 1), "name", cm_col_str(s, 2), "description",
                     cm_col_str(s, 3), "topic_count", (json_int_t)db_col_int64(s, 4), "post_count",
                     (json_int_t)db_col_int64(s, 5), "last_post_at", cm_col_int(s, 6));
}

enum st community_boards_list(struct db_conn *c, json_t **out)
{
    json_t *a = json_array();
    enum st st = cm_rows(c, a, board_row,
                         "SELECT id, slug, name, description, topic_count, post_count, "
                         "last_post_at FROM boards ORDER BY position, id",
                         "");
    if (st != ST_OK) {
        json_decref(a);
        return st;
    }
    *out = json_pack("{s:o}", "boards", a);
    return ST_OK;
}

enum st community_board_get(struct db_conn *c, const struct cm_viewer *v, const char *slug,
                            json_t **out)
{
    struct db_stmt *s;
    bool row;
    enum st st = cm_query(c, &s, &row,
                          "SELECT id, slug, name, description, topic_count, post_count, "
                          "last_post_at, created_at FROM boards WHERE slug = ?",
                          "t", slug);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    json_t *b = NULL;
    int64_t id = 0;
    if (st == ST_OK) {
        id = db_col_int64(s, 0);
        b = json_pack("{s:I, s:o, s:o, s:o, s:I, s:I, s:o, s:I}", "id", (json_int_t)id, "slug",
                      cm_col_str(s, 1), "name", cm_col_str(s, 2), "description", cm_col_str(s, 3),
                      "topic_count", (json_int_t)db_col_int64(s, 4), "post_count",
                      (json_int_t)db_col_int64(s, 5), "last_post_at", cm_col_int(s, 6),
                      "created_at", (json_int_t)db_col_int64(s, 7));
    }
    if (s)
        db_stmt_done(s);
    if (st != ST_OK)
        return st;
    json_t *pinned = json_array();
    json_object_set_new(b, "pinned", pinned);
    st = cm_rows(c, pinned, topic_json,
                 "SELECT " TOPIC_COLS TOPIC_FROM
                 " WHERE t.board_id = ? AND t.pinned = 1 AND t.hidden = 0 AND t.deleted_at IS "
                 "NULL ORDER BY t.last_post_at DESC, t.id DESC LIMIT 20",
                 "i", id);
    if (st == ST_OK && v->user_id) {
        int64_t n = 0;
        st = cm_query_int(c, &n,
                          "SELECT COUNT(*) FROM board_follows WHERE user_id = ? AND board_id = ?",
                          "ii", v->user_id, id);
        json_object_set_new(b, "following", json_boolean(n > 0));
    }
    if (st != ST_OK) {
        json_decref(b);
        return st;
    }
    *out = b;
    return ST_OK;
}

static bool slug_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < CM_SLUG_MIN || n > CM_SLUG_MAX || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

enum st community_board_create(struct db_conn *c, const struct cm_viewer *v, const char *slug,
                               const char *name, const char *description, json_t **out,
                               struct cm_error *err)
{
    if (!slug_ok(slug))
        return cm_fail(err, ST_INVALID, "slug", "pattern", NULL);
    int64_t now = clock_now_ms(), id;
    bool verified = v->staff_mod;
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    /* Members open boards once their real name is verified, and own them;
     * boards staff open have no owner. */
    if (!v->staff_mod) {
        st = community_verified(c, v->user_id, &verified);
        if (st == ST_OK && !verified)
            st = cm_fail(err, ST_FORBIDDEN, NULL, NULL, "community.verification_required");
        if (st == ST_OK)
            st = cm_limit(c, "community-board", v->user_id, 86400 * 1000, CM_BOARDS_PER_DAY, err);
    }
    if (st == ST_OK)
        st = cm_query_int(c, &id,
                          "INSERT INTO boards (slug, name, description, owner_id, position, "
                          "created_at, updated_at) VALUES (?, ?, ?, ?, (SELECT "
                          "COALESCE(MAX(position), 0) + 1 FROM boards), ?, ?) RETURNING id",
                          "tttIii", slug, name, description ? description : "",
                          v->staff_mod ? 0 : v->user_id, now, now);
    if (st == ST_OK) {
        struct cm_mod_entry e = {.board_id = id, .actor_id = v->user_id, .action = "board.create"};
        st = cm_mod_log(c, &e);
    }
    st = cm_finish(c, st);
    if (st == ST_CONFLICT && !err->detail)
        return cm_fail(err, ST_CONFLICT, "slug", "taken", NULL);
    if (st != ST_OK)
        return st;
    return community_board_get(c, v, slug, out);
}

/* ---------------------------------------------------------------- topic lists */

enum st community_topics_list(struct db_conn *c, const struct cm_list *q, json_t **out,
                              struct cm_error *err)
{
    bool top = q->sort && strcmp(q->sort, "top") == 0;
    if (q->sort && !top && strcmp(q->sort, "latest") != 0)
        return cm_fail(err, ST_INVALID, "sort", "choice", NULL);
    int64_t ca = 0, cb = 0;
    if (q->cursor && !cursor2(q->cursor, &ca, &cb))
        return cm_fail(err, ST_INVALID, "cursor", "invalid", NULL);
    struct cm_qb b;
    cm_qb_init(&b, "SELECT " TOPIC_COLS TOPIC_FROM " WHERE t.hidden = 0 AND t.deleted_at IS NULL");
    bool empty;
    enum st st = add_filters(c, &b, q->board, q->tag, &empty);
    const char *key = top ? "t.score" : "t.last_post_at";
    char frag[160];
    if (q->cursor) {
        snprintf(frag, sizeof frag, " AND (%s < ? OR (%s = ? AND t.id < ?))", key, key);
        cm_qb_int(&b, frag, ca); /* the key twice, then the id */
        cm_qb_int(&b, "", ca);
        cm_qb_int(&b, "", cb);
    }
    snprintf(frag, sizeof frag, " ORDER BY %s DESC, t.id DESC LIMIT %d", key, CM_PAGE + 1);
    buf_puts(&b.sql, frag);
    json_t *a = json_array(), *next = json_null();
    struct db_stmt *s = NULL;
    bool row = false;
    if (st == ST_OK && !empty)
        st = cm_qb_prepare(c, &b, &s);
    if (st == ST_OK && s)
        st = db_step(s, &row);
    int n = 0;
    while (st == ST_OK && row) {
        if (n == CM_PAGE) {
            json_t *last = json_array_get(a, CM_PAGE - 1);
            int64_t lk = json_integer_value(json_object_get(last, top ? "score" : "last_post_at"));
            char cur[48];
            snprintf(cur, sizeof cur, "%lld.%lld", (long long)lk,
                     (long long)json_integer_value(json_object_get(last, "id")));
            json_decref(next);
            next = json_string(cur);
            break;
        }
        json_t *t = topic_json(s);
        json_object_set_new(t, "score", json_integer(db_col_int64(s, 16)));
        json_array_append_new(a, t);
        n++;
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    cm_qb_free(&b);
    if (st != ST_OK) {
        json_decref(a);
        json_decref(next);
        return st;
    }
    *out = json_pack("{s:o, s:o}", "topics", a, "next_cursor", next);
    return ST_OK;
}

/* ---------------------------------------------------------------- tags and text checks */

/* A tag as stored: trimmed, ASCII lower-cased; letters, digits, CJK, '-',
 * '_', '+', '.', '#' only. */
static enum st tag_norm(const char *in, char *out, size_t outlen)
{
    while (*in == ' ')
        in++;
    size_t n = strlen(in);
    while (n > 0 && in[n - 1] == ' ')
        n--;
    if (n == 0 || n >= outlen || utf8_len(in, n) > CM_TAG_MAX)
        return ST_INVALID;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = utf8_next(in + i, n - i, &cp);
        if (!l)
            return ST_INVALID;
        if (!cm_is_word(cp) && !cm_is_cjk(cp) && !strchr("-_+.#", (int)cp))
            return ST_INVALID;
        for (size_t k = 0; k < l; k++)
            out[i + k] =
                (cp < 0x80 && in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] + 32) : in[i + k];
        i += l;
    }
    out[n] = '\0';
    return ST_OK;
}

/* Checks and normalises the tags array into a JSON array of names. */
static enum st tags_check(json_t *tags, json_t **names, struct cm_error *err)
{
    *names = json_array();
    if (!tags || json_is_null(tags))
        return ST_OK;
    if (json_array_size(tags) > CM_TAGS_MAX) {
        json_decref(*names);
        if (err) {
            err->max = CM_TAGS_MAX;
        }
        return cm_fail(err, ST_INVALID, "tags", "too_many", NULL);
    }
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        char name[CM_TAG_MAX * 4 + 1];
        if (!json_is_string(t) || tag_norm(json_string_value(t), name, sizeof name) != ST_OK) {
            json_decref(*names);
            return cm_fail(err, ST_INVALID, "tags", "invalid_tag", NULL);
        }
        bool dup = false;
        size_t k;
        json_t *have;
        json_array_foreach(*names, k, have) dup = dup || strcmp(json_string_value(have), name) == 0;
        if (!dup)
            json_array_append_new(*names, json_string(name));
    }
    return ST_OK;
}

/* Title: not blank after trimming, CM_TITLE_MIN..MAX code points. */
static enum st title_check(const char *title, struct cm_error *err)
{
    size_t n = strlen(title), cps = utf8_len(title, n), blank = 0;
    for (const char *p = title; *p == ' ' || *p == '\t'; p++)
        blank++;
    if (blank == n || cps < CM_TITLE_MIN) {
        if (err)
            err->min = CM_TITLE_MIN;
        return cm_fail(err, ST_INVALID, "title", "too_short", NULL);
    }
    return ST_OK;
}

static enum st body_check(const char *body, struct cm_error *err)
{
    for (const char *p = body; *p; p++)
        if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r')
            return ST_OK;
    if (err)
        err->min = 1;
    return cm_fail(err, ST_INVALID, "body", "too_short", NULL);
}

/* ---------------------------------------------------------------- topics */

static enum st topic_page(struct db_conn *c, const struct cm_viewer *v, int64_t topic_id,
                          const char *cursor, bool remember, json_t **out, struct cm_error *err);

enum st community_topic_create(struct db_conn *c, int64_t user_id, const char *board,
                               const char *title, const char *body, json_t *tags, json_t **out,
                               struct cm_error *err)
{
    json_t *names = NULL;
    enum st st = title_check(title, err);
    if (st == ST_OK)
        st = body_check(body, err);
    if (st == ST_OK)
        st = tags_check(tags, &names, err);
    if (st != ST_OK)
        return st;
    char *html = NULL;
    st = community_markdown(body, strlen(body), &html, NULL);
    if (st != ST_OK) {
        json_decref(names);
        return st == ST_TOOLARGE ? cm_fail(err, ST_INVALID, "body", "too_long", NULL) : st;
    }
    char *tags_text = json_dumps(names, JSON_COMPACT | JSON_ENSURE_ASCII);
    int64_t now = clock_now_ms(), board_id = 0, topic_id = 0, post_id = 0;
    st = db_begin(c);
    if (st == ST_OK) {
        st = cm_query_int(c, &board_id, "SELECT id FROM boards WHERE slug = ?", "t", board);
        if (st == ST_OK)
            st = cm_posting_allowed(c, board_id, user_id, err);
        if (st == ST_OK)
            st = cm_post_limits(c, user_id, true, err);
        if (st == ST_OK)
            st = cm_query_int(c, &topic_id,
                              "INSERT INTO topics (board_id, author_id, title, tags, last_post_at, "
                              "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                              "iittiii", board_id, user_id, title, tags_text, now, now, now);
        if (st == ST_OK)
            st = cm_query_int(c, &post_id,
                              "INSERT INTO posts (topic_id, author_id, position, body_md, "
                              "body_html, created_at, updated_at) VALUES (?, ?, 0, ?, ?, ?, ?) "
                              "RETURNING id",
                              "iittii", topic_id, user_id, body, html, now, now);
        size_t i;
        json_t *t;
        json_array_foreach(names, i, t)
        {
            int64_t tag_id;
            if (st == ST_OK)
                st = cm_query_int(c, &tag_id,
                                  "INSERT INTO tags (name, topic_count, created_at) VALUES (?, 1, "
                                  "?) ON CONFLICT (name) DO UPDATE SET topic_count = "
                                  "tags.topic_count + 1 RETURNING id",
                                  "ti", json_string_value(t), now);
            if (st == ST_OK)
                st = cm_exec(c, NULL, "INSERT INTO topic_tags (topic_id, tag_id) VALUES (?, ?)",
                             "ii", topic_id, tag_id);
        }
        if (st == ST_OK)
            st = cm_exec(c, NULL,
                         "UPDATE boards SET topic_count = topic_count + 1, post_count = "
                         "post_count + 1, last_post_at = ? WHERE id = ?",
                         "ii", now, board_id);
        if (st == ST_OK)
            st = cm_index_post(c, post_id, title, body);
        if (st == ST_OK)
            st = activity_on_topic(c, user_id, topic_id, post_id, body);
        if (st == ST_OK)
            st = cm_touch(c, topic_id, 0);
        st = cm_finish(c, st);
    }
    free(tags_text);
    free(html);
    json_decref(names);
    if (st != ST_OK)
        return st;
    struct cm_viewer v = {.user_id = user_id};
    return topic_page(c, &v, topic_id, NULL, false, out, err);
}

static enum st remember_view(struct db_conn *c, int64_t user_id, int64_t topic_id)
{
    int64_t now = clock_now_ms();
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = cm_exec(c, NULL,
                 "INSERT INTO recently_viewed (user_id, topic_id, viewed_at) VALUES (?, ?, ?) "
                 "ON CONFLICT (user_id, topic_id) DO UPDATE SET viewed_at = excluded.viewed_at",
                 "iii", user_id, topic_id, now);
    if (st == ST_OK)
        st = cm_exec(c, NULL,
                     "DELETE FROM recently_viewed WHERE user_id = ? AND topic_id NOT IN (SELECT "
                     "topic_id FROM recently_viewed WHERE user_id = ? ORDER BY viewed_at DESC "
                     "LIMIT 100)",
                     "ii", user_id, user_id);
    return cm_finish(c, st);
}

/* The topic page; remember: record it in the viewer's recently viewed. */
static enum st topic_page(struct db_conn *c, const struct cm_viewer *v, int64_t topic_id,
                          const char *cursor, bool remember, json_t **out, struct cm_error *err)
{
    int64_t after = 0;
    if (cursor && parse_int64(cursor, 0, INT64_MAX, &after) != ST_OK)
        return cm_fail(err, ST_INVALID, "cursor", "invalid", NULL);
    struct db_stmt *s;
    bool row;
    enum st st =
        cm_query(c, &s, &row, "SELECT " TOPIC_COLS ", t.deleted_at" TOPIC_FROM " WHERE t.id = ?",
                 "i", topic_id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    json_t *topic = NULL;
    bool own = false, hidden = false, deleted = false;
    int64_t board_id = 0;
    if (st == ST_OK) {
        own = v->user_id && !db_col_is_null(s, 3) && db_col_int64(s, 3) == v->user_id;
        hidden = db_col_int64(s, 8) != 0;
        deleted = !db_col_is_null(s, 17);
        board_id = db_col_int64(s, 13);
        topic = topic_json(s);
    }
    if (s)
        db_stmt_done(s);
    /* Moderators of the board see what staff see. */
    struct cm_viewer pv = *v;
    bool mod = false;
    if (st == ST_OK && v->user_id)
        st = cm_can_moderate(c, v, board_id, &mod);
    bool staff = v->staff;
    pv.staff = staff || mod;
    v = &pv;
    if (st == ST_OK && ((hidden && !own && !v->staff) || (deleted && !staff)))
        st = ST_NOTFOUND; /* hidden: its author and moderators only; deleted: staff only */
    if (st == ST_OK && v->user_id)
        json_object_set_new(topic, "can_moderate", json_boolean(mod));
    if (st != ST_OK) {
        json_decref(topic);
        return st;
    }
    json_t *first = json_null(), *replies = json_array(), *next = json_null();
    int64_t lo = after ? after + 1 : 0;
    st = cm_query(c, &s, &row,
                  "SELECT " POST_COLS
                  " FROM posts p LEFT JOIN users u ON u.id = p.author_id WHERE p.topic_id = ? "
                  "AND (p.position = 0 OR p.position >= ?) ORDER BY p.position LIMIT ?",
                  "iii", topic_id, lo, (int64_t)CM_PAGE + 2);
    int n = 0;
    int64_t lo_pos = INT64_MAX, hi_pos = 0;
    while (st == ST_OK && row) {
        int64_t pos = db_col_int64(s, 1);
        if (pos == 0 && after == 0) {
            json_decref(first);
            first = post_json(s, v);
        } else if (pos > 0) {
            if (n == CM_PAGE) {
                char cur[24];
                json_t *last = json_array_get(replies, CM_PAGE - 1);
                snprintf(cur, sizeof cur, "%lld",
                         (long long)json_integer_value(json_object_get(last, "position")));
                json_decref(next);
                next = json_string(cur);
                break;
            }
            json_array_append_new(replies, post_json(s, v));
            n++;
        }
        if (pos < lo_pos)
            lo_pos = pos;
        if (pos > hi_pos)
            hi_pos = pos;
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    /* Which of these posts the viewer liked. */
    if (st == ST_OK && v->user_id) {
        json_t *liked = json_array();
        json_object_set_new(topic, "liked_post_ids", liked);
        st = cm_rows(c, liked, id_row,
                     "SELECT p.id FROM post_likes l JOIN posts p ON p.id = l.post_id WHERE "
                     "l.user_id = ? AND p.topic_id = ? AND p.position BETWEEN ? AND ?",
                     "iiii", v->user_id, topic_id, lo_pos == INT64_MAX ? 0 : lo_pos, hi_pos);
        int64_t fav = 0;
        if (st == ST_OK)
            st = cm_query_int(c, &fav,
                              "SELECT COUNT(*) FROM topic_favourites WHERE user_id = ? AND "
                              "topic_id = ?",
                              "ii", v->user_id, topic_id);
        json_object_set_new(topic, "favourite", json_boolean(fav > 0));
    }
    if (st == ST_OK && v->user_id && remember)
        st = remember_view(c, v->user_id, topic_id);
    if (st != ST_OK) {
        json_decref(topic);
        json_decref(first);
        json_decref(replies);
        json_decref(next);
        return st;
    }
    *out = json_pack("{s:o, s:o, s:o, s:o}", "topic", topic, "first_post", first, "replies",
                     replies, "next_cursor", next);
    return ST_OK;
}

enum st community_topic_get(struct db_conn *c, const struct cm_viewer *v, int64_t topic_id,
                            const char *cursor, json_t **out, struct cm_error *err)
{
    enum st st = topic_page(c, v, topic_id, cursor, true, out, err);
    if (st == ST_OK && v->user_id)
        activity_on_view(c, v->user_id, topic_id);
    return st;
}

/* ---------------------------------------------------------------- posts */

enum st community_reply_create(struct db_conn *c, int64_t user_id, int64_t topic_id,
                               const char *body, int64_t parent_id, int64_t quote_id, json_t **out,
                               struct cm_error *err)
{
    enum st st = body_check(body, err);
    if (st != ST_OK)
        return st;
    char *html = NULL;
    st = community_markdown(body, strlen(body), &html, NULL);
    if (st != ST_OK)
        return st == ST_TOOLARGE ? cm_fail(err, ST_INVALID, "body", "too_long", NULL) : st;
    int64_t now = clock_now_ms(), post_id = 0, pos = 0;
    struct cm_topic ts;
    st = db_begin(c);
    if (st != ST_OK) {
        free(html);
        return st;
    }
    st = cm_topic_state(c, topic_id, &ts);
    if (st == ST_OK && ts.deleted)
        st = ST_NOTFOUND;
    if (st == ST_OK && ts.hidden)
        st = cm_fail(err, ST_FORBIDDEN, NULL, NULL, "community.topic_hidden");
    if (st == ST_OK && ts.locked)
        st = cm_fail(err, ST_CONFLICT, NULL, NULL, "community.topic_locked");
    if (st == ST_OK && parent_id) {
        /* One level: a reply to a reply hangs under that reply's parent. */
        struct db_stmt *s;
        bool row;
        st = cm_query(c, &s, &row,
                      "SELECT parent_id, position FROM posts WHERE id = ? AND topic_id = ? AND "
                      "deleted_at IS NULL",
                      "ii", parent_id, topic_id);
        if (st == ST_OK && (!row || db_col_int64(s, 1) == 0))
            st = cm_fail(err, ST_INVALID, "parent_id", "invalid", NULL);
        else if (st == ST_OK && !db_col_is_null(s, 0))
            parent_id = db_col_int64(s, 0);
        if (s)
            db_stmt_done(s);
    }
    if (st == ST_OK && quote_id) {
        int64_t n = 0;
        st = cm_query_int(c, &n,
                          "SELECT COUNT(*) FROM posts WHERE id = ? AND topic_id = ? AND "
                          "deleted_at IS NULL AND hidden = 0",
                          "ii", quote_id, topic_id);
        if (st == ST_OK && n == 0)
            st = cm_fail(err, ST_INVALID, "quote_post_id", "invalid", NULL);
    }
    if (st == ST_OK)
        st = cm_posting_allowed(c, ts.board_id, user_id, err);
    if (st == ST_OK)
        st = cm_post_limits(c, user_id, false, err);
    if (st == ST_OK)
        st = cm_query_int(c, &pos,
                          "UPDATE topics SET reply_count = reply_count + 1, score = score + 1, "
                          "last_post_at = ?, updated_at = ? WHERE id = ? RETURNING reply_count",
                          "iii", now, now, topic_id);
    if (st == ST_OK)
        st = cm_query_int(c, &post_id,
                          "INSERT INTO posts (topic_id, author_id, position, parent_id, "
                          "quote_post_id, body_md, body_html, created_at, updated_at) VALUES (?, "
                          "?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                          "iiiIIttii", topic_id, user_id, pos, parent_id, quote_id, body, html, now,
                          now);
    if (st == ST_OK)
        st = cm_exec(c, NULL,
                     "UPDATE boards SET post_count = post_count + 1, last_post_at = ? WHERE id = ?",
                     "ii", now, ts.board_id);
    if (st == ST_OK)
        st = cm_index_post(c, post_id, NULL, body);
    if (st == ST_OK)
        st = activity_on_reply(c, user_id, topic_id, post_id, parent_id, quote_id, body);
    if (st == ST_OK)
        st = cm_touch(c, topic_id, 0);
    st = cm_finish(c, st);
    free(html);
    if (st != ST_OK)
        return st;
    struct db_stmt *s;
    bool row;
    st = cm_query(c, &s, &row,
                  "SELECT " POST_COLS
                  " FROM posts p LEFT JOIN users u ON u.id = p.author_id WHERE p.id = ?",
                  "i", post_id);
    if (st == ST_OK && !row)
        st = ST_INTERNAL;
    struct cm_viewer v = {.user_id = user_id};
    if (st == ST_OK) {
        *out = post_json(s, &v);
        json_object_set_new(*out, "topic_id", json_integer(topic_id));
    }
    if (s)
        db_stmt_done(s);
    return st;
}

/* The post's owner, topic and state, for edits and deletes by its author.
 * Another member's post is ST_FORBIDDEN: posts are public, so there is no
 * existence to hide; a deleted one is ST_NOTFOUND. */
struct post_state {
    int64_t topic_id, board_id, position;
    char *body_md;
    char *title;
};

static enum st own_post(struct db_conn *c, int64_t user_id, int64_t post_id, bool locked_ok,
                        struct post_state *ps, struct cm_error *err)
{
    struct db_stmt *s;
    bool row;
    memset(ps, 0, sizeof *ps);
    enum st st = cm_query(c, &s, &row,
                          "SELECT p.author_id, p.topic_id, p.position, p.body_md, t.title, "
                          "p.deleted_at, t.deleted_at, t.locked, t.board_id FROM posts p JOIN "
                          "topics t ON "
                          "t.id = p.topic_id WHERE p.id = ?",
                          "i", post_id);
    if (st == ST_OK && (!row || !db_col_is_null(s, 5) || !db_col_is_null(s, 6)))
        st = ST_NOTFOUND;
    if (st == ST_OK && (db_col_is_null(s, 0) || db_col_int64(s, 0) != user_id))
        st = cm_fail(err, ST_FORBIDDEN, NULL, NULL, "community.not_yours");
    if (st == ST_OK && db_col_int64(s, 7) && !locked_ok)
        st = cm_fail(err, ST_CONFLICT, NULL, NULL, "community.topic_locked");
    if (st == ST_OK) {
        ps->topic_id = db_col_int64(s, 1);
        ps->board_id = db_col_int64(s, 8);
        ps->position = db_col_int64(s, 2);
        ps->body_md = xstrdup(db_col_text(s, 3));
        ps->title = xstrdup(db_col_text(s, 4));
    }
    if (s)
        db_stmt_done(s);
    return st;
}

static void post_state_free(struct post_state *ps)
{
    free(ps->body_md);
    free(ps->title);
}

enum st community_post_edit(struct db_conn *c, int64_t user_id, int64_t post_id, const char *title,
                            const char *body, json_t **out, struct cm_error *err)
{
    enum st st = ST_OK;
    if (title)
        st = title_check(title, err);
    if (st == ST_OK && body)
        st = body_check(body, err);
    if (st != ST_OK)
        return st;
    char *html = NULL;
    if (body) {
        st = community_markdown(body, strlen(body), &html, NULL);
        if (st != ST_OK)
            return st == ST_TOOLARGE ? cm_fail(err, ST_INVALID, "body", "too_long", NULL) : st;
    }
    struct post_state ps;
    int64_t now = clock_now_ms();
    st = db_begin(c);
    if (st != ST_OK) {
        free(html);
        return st;
    }
    st = own_post(c, user_id, post_id, false, &ps, err);
    if (st == ST_OK)
        st = cm_posting_allowed(c, ps.board_id, user_id, err);
    if (st == ST_OK && !title && !body) /* checked after ownership: no hint to others */
        st = cm_fail(err, ST_INVALID, "body", "required", NULL);
    if (st == ST_OK && title && ps.position != 0)
        st = cm_fail(err, ST_INVALID, "title", "first_post_only", NULL);
    if (st == ST_OK)
        st =
            cm_exec(c, NULL,
                    "INSERT INTO post_revisions (post_id, editor_id, title, body_md, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    "iitti", post_id, user_id, ps.position == 0 ? ps.title : NULL, ps.body_md, now);
    if (st == ST_OK && body)
        st = cm_exec(c, NULL,
                     "UPDATE posts SET body_md = ?, body_html = ?, edit_count = edit_count + 1, "
                     "edited_at = ?, updated_at = ? WHERE id = ?",
                     "ttiii", body, html, now, now, post_id);
    if (st == ST_OK && !body)
        st = cm_exec(c, NULL,
                     "UPDATE posts SET edit_count = edit_count + 1, edited_at = ?, updated_at = ? "
                     "WHERE id = ?",
                     "iii", now, now, post_id);
    if (st == ST_OK && title)
        st = cm_exec(c, NULL, "UPDATE topics SET title = ?, updated_at = ? WHERE id = ?", "tii",
                     title, now, ps.topic_id);
    if (st == ST_OK)
        st = cm_index_post(c, post_id, ps.position == 0 ? (title ? title : ps.title) : NULL,
                           body ? body : ps.body_md);
    if (st == ST_OK)
        st = activity_on_edit(c, user_id, ps.topic_id, post_id, body);
    if (st == ST_OK)
        st = cm_touch(c, ps.topic_id, 0);
    st = cm_finish(c, st);
    int64_t topic_id = ps.topic_id;
    post_state_free(&ps);
    free(html);
    if (st != ST_OK)
        return st;
    struct cm_viewer v = {.user_id = user_id};
    return topic_page(c, &v, topic_id, NULL, false, out, err);
}

enum st community_post_delete(struct db_conn *c, int64_t user_id, int64_t post_id,
                              struct cm_error *err)
{
    struct post_state ps;
    int64_t now = clock_now_ms();
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    /* A locked topic's posts may still be withdrawn by their authors. */
    st = own_post(c, user_id, post_id, true, &ps, err);
    if (st == ST_OK)
        st = cm_exec(c, NULL, "UPDATE posts SET deleted_at = ?, updated_at = ? WHERE id = ?", "iii",
                     now, now, post_id);
    if (st == ST_OK)
        st = cm_exec(c, NULL, "DELETE FROM post_search WHERE post_id = ?", "i", post_id);
    if (st == ST_OK && ps.position == 0) {
        st = cm_exec(c, NULL, "UPDATE topics SET deleted_at = ?, updated_at = ? WHERE id = ?",
                     "iii", now, now, ps.topic_id);
        if (st == ST_OK)
            st = cm_exec(c, NULL,
                         "UPDATE boards SET topic_count = topic_count - 1 WHERE id = (SELECT "
                         "board_id FROM topics WHERE id = ?)",
                         "i", ps.topic_id);
        if (st == ST_OK)
            st = cm_exec(c, NULL,
                         "DELETE FROM post_search WHERE post_id IN (SELECT id FROM posts WHERE "
                         "topic_id = ?)",
                         "i", ps.topic_id);
    }
    if (st == ST_OK)
        st = cm_touch(c, ps.topic_id, 0);
    post_state_free(&ps);
    return cm_finish(c, st);
}

/* A post anyone may see: not deleted, not hidden, in a visible topic. */
static enum st visible_post(struct db_conn *c, int64_t post_id, int64_t *topic_id, int64_t *author)
{
    struct db_stmt *s;
    bool row;
    enum st st = cm_query(c, &s, &row,
                          "SELECT p.topic_id, p.author_id FROM posts p JOIN topics t ON t.id = "
                          "p.topic_id WHERE p.id = ? AND p.deleted_at IS NULL AND p.hidden = 0 "
                          "AND t.deleted_at IS NULL AND t.hidden = 0",
                          "i", post_id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        *topic_id = db_col_int64(s, 0);
        *author = db_col_is_null(s, 1) ? 0 : db_col_int64(s, 1);
    }
    if (s)
        db_stmt_done(s);
    return st;
}

static json_t *revision_row(struct db_stmt *s)
{
    return json_pack("{s:I, s:o, s:o, s:I}", "id", (json_int_t)db_col_int64(s, 0), "title",
                     cm_col_str(s, 1), "body_md", cm_col_str(s, 2), "created_at",
                     (json_int_t)db_col_int64(s, 3));
}

enum st community_post_revisions(struct db_conn *c, const struct cm_viewer *v, int64_t post_id,
                                 json_t **out)
{
    (void)v;
    int64_t topic_id, author;
    enum st st = visible_post(c, post_id, &topic_id, &author);
    if (st != ST_OK)
        return st;
    json_t *a = json_array();
    st = cm_rows(c, a, revision_row,
                 "SELECT id, title, body_md, created_at FROM post_revisions WHERE post_id = ? "
                 "ORDER BY id DESC LIMIT 100",
                 "i", post_id);
    if (st != ST_OK) {
        json_decref(a);
        return st;
    }
    *out = json_pack("{s:I, s:o}", "post_id", (json_int_t)post_id, "revisions", a);
    return ST_OK;
}

/* ---------------------------------------------------------------- reactions */

/* Adds (on) or removes a row; ST_CONFLICT with detail when already so. */
static enum st toggle(struct db_conn *c, bool on, const char *ins, const char *del, int64_t a,
                      int64_t b, const char *dup_detail, const char *none_detail,
                      struct cm_error *err)
{
    int64_t n = 0;
    enum st st =
        on ? cm_exec(c, &n, ins, "iii", a, b, clock_now_ms()) : cm_exec(c, &n, del, "ii", a, b);
    if (st == ST_CONFLICT || (st == ST_OK && n == 0))
        return cm_fail(err, ST_CONFLICT, NULL, NULL, on ? dup_detail : none_detail);
    return st;
}

enum st community_like(struct db_conn *c, int64_t user_id, int64_t post_id, bool on,
                       struct cm_error *err)
{
    int64_t topic_id, author;
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = visible_post(c, post_id, &topic_id, &author);
    if (st == ST_OK && on && author == user_id)
        st = cm_fail(err, ST_UNPROCESSABLE, NULL, NULL, "community.like_own");
    if (st == ST_OK)
        st = toggle(c, on,
                    "INSERT INTO post_likes (post_id, user_id, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    "DELETE FROM post_likes WHERE post_id = ? AND user_id = ?", post_id, user_id,
                    "community.already_liked", "community.not_liked", err);
    int64_t d = on ? 1 : -1;
    if (st == ST_OK)
        st = cm_exec(c, NULL, "UPDATE posts SET like_count = like_count + ? WHERE id = ?", "ii", d,
                     post_id);
    if (st == ST_OK)
        st =
            cm_exec(c, NULL,
                    "UPDATE topics SET like_count = like_count + ?, score = score + ? WHERE id = ?",
                    "iii", d, d, topic_id);
    if (st == ST_OK)
        st = cm_touch(c, topic_id, 0);
    if (st == ST_OK)
        st = activity_on_like(c, user_id, post_id, topic_id, author, on);
    return cm_finish(c, st);
}

enum st community_favourite(struct db_conn *c, int64_t user_id, int64_t topic_id, bool on,
                            struct cm_error *err)
{
    struct cm_topic ts;
    enum st st = cm_topic_state(c, topic_id, &ts);
    if (st == ST_OK && on && (ts.deleted || ts.hidden))
        st = ST_NOTFOUND;
    if (st != ST_OK)
        return st;
    return toggle(c, on,
                  "INSERT INTO topic_favourites (user_id, topic_id, created_at) VALUES (?, ?, ?) "
                  "ON CONFLICT DO NOTHING",
                  "DELETE FROM topic_favourites WHERE user_id = ? AND topic_id = ?", user_id,
                  topic_id, "community.already_favourite", "community.not_favourite", err);
}

enum st community_follow_user(struct db_conn *c, int64_t user_id, int64_t target, bool on,
                              struct cm_error *err)
{
    if (target == user_id)
        return cm_fail(err, ST_UNPROCESSABLE, NULL, NULL, "community.follow_self");
    int64_t n = 0;
    enum st st = cm_query_int(c, &n,
                              "SELECT COUNT(*) FROM users WHERE id = ? AND status IN ('active', "
                              "'frozen')",
                              "i", target);
    if (st == ST_OK && n == 0 && on)
        st = ST_NOTFOUND;
    if (st != ST_OK)
        return st;
    st = toggle(c, on,
                "INSERT INTO user_follows (follower_id, followee_id, created_at) VALUES (?, ?, "
                "?) ON CONFLICT DO NOTHING",
                "DELETE FROM user_follows WHERE follower_id = ? AND followee_id = ?", user_id,
                target, "community.already_following", "community.not_following", err);
    if (st == ST_OK)
        activity_on_follow_user(c, user_id, target, on);
    return st;
}

enum st community_follow_board(struct db_conn *c, int64_t user_id, const char *slug, bool on,
                               struct cm_error *err)
{
    int64_t board_id;
    enum st st = cm_query_int(c, &board_id, "SELECT id FROM boards WHERE slug = ?", "t", slug);
    if (st != ST_OK)
        return st;
    return toggle(c, on,
                  "INSERT INTO board_follows (user_id, board_id, created_at) VALUES (?, ?, ?) "
                  "ON CONFLICT DO NOTHING",
                  "DELETE FROM board_follows WHERE user_id = ? AND board_id = ?", user_id, board_id,
                  "community.already_following", "community.not_following", err);
}

/* ---------------------------------------------------------------- the member's space */

/* A topic with the time it was favourited or viewed (column 17). */
static json_t *topic_at(struct db_stmt *s, const char *name)
{
    json_t *t = topic_json(s);
    json_object_set_new(t, name, json_integer(db_col_int64(s, 17)));
    return t;
}

static json_t *favourite_row(struct db_stmt *s)
{
    return topic_at(s, "favourited_at");
}

static json_t *recent_row(struct db_stmt *s)
{
    return topic_at(s, "viewed_at");
}

static json_t *followee_row(struct db_stmt *s)
{
    json_t *u = cm_author_json(s, 0);
    json_object_set_new(u, "since", json_integer(db_col_int64(s, 3)));
    return u;
}

static json_t *board_follow_row(struct db_stmt *s)
{
    return json_pack("{s:I, s:o, s:o, s:I}", "id", (json_int_t)db_col_int64(s, 0), "slug",
                     cm_col_str(s, 1), "name", cm_col_str(s, 2), "since",
                     (json_int_t)db_col_int64(s, 3));
}

enum st community_me(struct db_conn *c, int64_t user_id, const char *what, json_t **out)
{
    json_t *o = json_object(), *a = json_array();
    enum st st;
    if (strcmp(what, "favourites") == 0) {
        json_object_set_new(o, "favourites", a);
        st = cm_rows(c, a, favourite_row,
                     "SELECT " TOPIC_COLS ", f.created_at" TOPIC_FROM
                     " JOIN topic_favourites f ON f.topic_id = t.id WHERE f.user_id = ? AND "
                     "t.deleted_at IS NULL AND t.hidden = 0 ORDER BY f.created_at DESC LIMIT 200",
                     "i", user_id);
    } else if (strcmp(what, "recent") == 0) {
        json_object_set_new(o, "recent", a);
        st = cm_rows(c, a, recent_row,
                     "SELECT " TOPIC_COLS ", r.viewed_at" TOPIC_FROM
                     " JOIN recently_viewed r ON r.topic_id = t.id WHERE r.user_id = ? AND "
                     "t.deleted_at IS NULL AND t.hidden = 0 ORDER BY r.viewed_at DESC LIMIT 100",
                     "i", user_id);
    } else {
        json_t *boards = json_array();
        json_object_set_new(o, "users", a);
        json_object_set_new(o, "boards", boards);
        st = cm_rows(c, a, followee_row,
                     "SELECT u.id, u.display_name, u.username, f.created_at FROM user_follows f "
                     "JOIN users u ON u.id = f.followee_id WHERE f.follower_id = ? ORDER BY "
                     "f.created_at DESC LIMIT 500",
                     "i", user_id);
        if (st == ST_OK)
            st = cm_rows(c, boards, board_follow_row,
                         "SELECT b.id, b.slug, b.name, f.created_at FROM board_follows f JOIN "
                         "boards b ON b.id = f.board_id WHERE f.user_id = ? ORDER BY "
                         "f.created_at DESC",
                         "i", user_id);
    }
    if (st != ST_OK) {
        json_decref(o);
        return st;
    }
    *out = o;
    return ST_OK;
}
