/*
 * community_api.c — the community module over HTTP: boards, topics,
 * posts, reactions, the member's own community space, staff moderation of
 * topics and search. Every route declares its policy and its fields; the
 * handlers only turn requests into community_* calls.
 *
 * Ids in URLs are the row ids, as for users: what a caller may not see
 * answers 404 like a missing id, and writes check the author in the domain
 * call (another member's post is 403, never edited).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "community_int.h"
#include "http/http.h"

/* Staff roles that moderate every board. */
#define STAFF_MODERATORS (STAFF_OPERATIONS | STAFF_ADMIN)

static struct cm_viewer viewer_of(struct http_req *req)
{
    const struct http_identity *id = http_req_identity(req);
    struct cm_viewer v = {.user_id = id->user_id,
                          .staff = id->staff_roles != 0,
                          .staff_mod = (id->staff_roles & STAFF_MODERATORS) != 0};
    return v;
}

static const char *body_str(struct http_req *req, const char *name)
{
    return json_string_value(json_object_get(http_req_body(req), name));
}

static int64_t body_int(struct http_req *req, const char *name)
{
    return json_integer_value(json_object_get(http_req_body(req), name));
}

static enum st path_id(struct http_req *req, int64_t *id)
{
    const char *s = http_req_param(req, "id");
    return s && parse_int64(s, 1, INT64_MAX, id) == ST_OK ? ST_OK : ST_NOTFOUND;
}

static int64_t query_int(struct http_req *req, const char *name)
{
    int64_t v = 0;
    const char *s = http_req_query(req, name);
    if (s)
        parse_int64(s, INT64_MIN, INT64_MAX, &v); /* validated by the route's spec */
    return v;
}

/* 429 with Retry-After. The layer drops headers of failed handlers, so
 * this answer is built here, in the layer's problem format. */
static enum st slow_down(struct http_req *req, struct http_resp *resp, int64_t retry_ms)
{
    int64_t secs = retry_ms > 0 ? (retry_ms + 999) / 1000 : 1;
    char sec[24];
    snprintf(sec, sizeof sec, "%lld", (long long)secs);
    const char *lang = http_req_lang(req), *path = http_req_path(req);
    char *detail = i18n_format(lang, "community.slow_down", "seconds", sec, (const char *)NULL);
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:I}", "type",
                          "urn:entrepot:problem:rate-limited", "title",
                          i18n_get(lang, "problem.rate-limited.title"), "status", 429, "detail",
                          detail, "instance", utf8_valid(path, strlen(path)) ? path : "/",
                          "request_id", http_req_id(req), "retry_after_s", (json_int_t)secs);
    free(detail);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return ST_INTERNAL;
    http_resp_bytes(resp, 429, "application/problem+json", text, strlen(text));
    free(text);
    http_resp_header(resp, "Retry-After", sec);
    http_resp_header(resp, "Content-Language", lang);
    return ST_OK;
}

/* Turns a domain result into the answer: JSON on success, else the
 * problem with the field error or detail the domain named. */
static enum st answer(struct http_req *req, struct http_resp *resp, enum st st,
                      const struct cm_error *e, unsigned status, json_t *o)
{
    if (st == ST_RATELIMIT)
        return slow_down(req, resp, e->retry_after_ms);
    if (st != ST_OK) {
        json_decref(o);
        if (e->field && e->code)
            http_field_error(req, e->field, e->code, e->min, e->max, NULL);
        if (e->detail)
            http_req_set_detail(req, i18n_get(http_req_lang(req), e->detail));
        return st;
    }
    return o ? http_resp_json(resp, status, o) : ST_OK; /* no object: 204 */
}

/* A cacheable answer (cache.c): only visitors' answers are kept, since a
 * member's page carries their own likes and rights. */
struct cached {
    bool on; /* a visitor, and the key fits */
    char key[160];
    int64_t version;
    uint64_t epoch;
};

static enum st reply_bytes(struct http_resp *resp, char *bytes, size_t len, bool *done)
{
    enum st st = http_resp_bytes(resp, 200, "application/json", bytes, len);
    free(bytes);
    *done = st == ST_OK;
    return st;
}

/* Serves a fresh entry without touching the database (*done). */
static enum st cache_fresh(struct http_resp *resp, struct cached *k, bool *done)
{
    char *bytes = NULL;
    size_t len = 0;
    *done = false;
    if (!k->on || !cm_cache_fresh(k->key, &bytes, &len))
        return ST_OK;
    return reply_bytes(resp, bytes, len, done);
}

/* Reads the version of what the answer shows (ok false: it cannot be
 * cached, e.g. no such board) and serves the entry made for it (*done). */
static enum st cache_check(struct http_resp *resp, struct cached *k, enum st vst, bool *done)
{
    char *bytes = NULL;
    size_t len = 0;
    *done = false;
    if (vst != ST_OK)
        k->on = false;
    if (!k->on || !cm_cache_get(k->key, k->version, k->epoch, &bytes, &len))
        return ST_OK;
    return reply_bytes(resp, bytes, len, done);
}

/* Answers o (200), keeping it when it is cacheable. */
static enum st answer_cached(struct http_resp *resp, const struct cached *k, json_t *o)
{
    if (!k->on)
        return http_resp_json(resp, 200, o);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return ST_INTERNAL;
    size_t len = strlen(text);
    cm_cache_put(k->key, k->version, k->epoch, text, len);
    enum st st = http_resp_bytes(resp, 200, "application/json", text, len);
    free(text);
    return st;
}

/* The connection, or why there is none. */
#define DB_OR_FAIL(req, c)                                                                         \
    struct db_conn *c;                                                                             \
    do {                                                                                           \
        enum st db_st_ = http_req_db(req, &c);                                                     \
        if (db_st_ != ST_OK)                                                                       \
            return db_st_;                                                                         \
    } while (0)

/* ---------------------------------------------------------------- boards */

static enum st h_boards(struct http_req *req, struct http_resp *resp)
{
    DB_OR_FAIL(req, c);
    json_t *o = NULL;
    struct cm_error e = {0};
    enum st st = community_boards_list(c, &o);
    return answer(req, resp, st, &e, 200, o);
}

static enum st h_board_create(struct http_req *req, struct http_resp *resp)
{
    DB_OR_FAIL(req, c);
    struct cm_viewer v = viewer_of(req);
    json_t *o = NULL;
    struct cm_error e = {0};
    enum st st = community_board_create(c, &v, body_str(req, "slug"), body_str(req, "name"),
                                        body_str(req, "description"), &o, &e);
    return answer(req, resp, st, &e, 201, o);
}

static enum st h_board(struct http_req *req, struct http_resp *resp)
{
    DB_OR_FAIL(req, c);
    struct cm_viewer v = viewer_of(req);
    json_t *o = NULL;
    struct cm_error e = {0};
    enum st st = community_board_get(c, &v, http_req_param(req, "slug"), &o);
    return answer(req, resp, st, &e, 200, o);
}

static enum st list_topics(struct http_req *req, struct http_resp *resp, const char *board)
{
    struct cm_list q = {
        .board = board,
        .tag = http_req_query(req, "tag"),
        .sort = http_req_query(req, "sort"),
        .cursor = http_req_query(req, "cursor"),
    };
    /* A board's list is cached for visitors; the tag goes last in the key
     * (the other parts cannot hold '|' in an answer that succeeds). */
    struct cached k = {.epoch = cm_cache_epoch()};
    k.on = board && !http_req_identity(req)->user_id &&
           (size_t)snprintf(k.key, sizeof k.key, "L|%s|%s|%s|%s", board, q.sort ? q.sort : "",
                            q.cursor ? q.cursor : "", q.tag ? q.tag : "") < sizeof k.key;
    bool done;
    enum st st = cache_fresh(resp, &k, &done);
    if (st != ST_OK || done)
        return st;
    DB_OR_FAIL(req, c);
    if (k.on) {
        st = cache_check(resp, &k, community_board_version(c, board, &k.version), &done);
        if (st != ST_OK || done)
            return st;
    }
    json_t *o = NULL;
    struct cm_error e = {0};
    st = community_topics_list(c, &q, &o, &e);
    if (st != ST_OK)
        return answer(req, resp, st, &e, 200, o);
    return answer_cached(resp, &k, o);
}

static enum st h_board_topics(struct http_req *req, struct http_resp *resp)
{
    return list_topics(req, resp, http_req_param(req, "slug"));
}

static enum st h_topics(struct http_req *req, struct http_resp *resp)
{
    return list_topics(req, resp, http_req_query(req, "board"));
}

static enum st h_topic_create(struct http_req *req, struct http_resp *resp)
{
    DB_OR_FAIL(req, c);
    json_t *o = NULL;
    struct cm_error e = {0};
    enum st st = community_topic_create(
        c, http_req_identity(req)->user_id, http_req_param(req, "slug"), body_str(req, "title"),
        body_str(req, "body"), json_object_get(http_req_body(req), "tags"), &o, &e);
    return answer(req, resp, st, &e, 201, o);
}

static enum st follow_board(struct http_req *req, struct http_resp *resp, bool on)
{
    DB_OR_FAIL(req, c);
    struct cm_error e = {0};
    enum st st = community_follow_board(c, http_req_identity(req)->user_id,
                                        http_req_param(req, "slug"), on, &e);
    return answer(req, resp, st, &e, 204, NULL);
}

static enum st h_board_follow(struct http_req *req, struct http_resp *resp)
{
    return follow_board(req, resp, true);
}

static enum st h_board_unfollow(struct http_req *req, struct http_resp *resp)
{
    return follow_board(req, resp, false);
}

/* ---------------------------------------------------------------- topics and posts */

static enum st h_topic(struct http_req *req, struct http_resp *resp)
{
    int64_t id;
    if (path_id(req, &id) != ST_OK)
        return ST_NOTFOUND;
    struct cm_viewer v = viewer_of(req);
    const char *cursor = http_req_query(req, "cursor");
    struct cached k = {.epoch = cm_cache_epoch()};
    k.on = !v.user_id && (size_t)snprintf(k.key, sizeof k.key, "T|%lld|%s", (long long)id,
                                          cursor ? cursor : "") < sizeof k.key;
    bool done;
    enum st st = cache_fresh(resp, &k, &done);
    if (st != ST_OK || done)
        return st;
    DB_OR_FAIL(req, c);
    if (k.on) {
        st = cache_check(resp, &k, community_topic_version(c, id, &k.version), &done);
        if (st != ST_OK || done)
            return st;
    }
    json_t *o = NULL;
    struct cm_error e = {0};
    st = community_topic_get(c, &v, id, cursor, &o, &e);
    if (st != ST_OK)
        return answer(req, resp, st, &e, 200, o);
    return answer_cached(resp, &k, o);
}

static enum st h_reply(struct http_req *req, struct http_resp *resp)
{
    int64_t id;
    if (path_id(req, &id) != ST_OK)
        return ST_NOTFOUND;
    DB_OR_FAIL(req, c);
    json_t *o = NULL;
    struct cm_error e = {0};
    enum st st =
        community_reply_create(c, http_req_identity(req)->user_id, id, body_str(req, "body"),
                               body_int(req, "parent_id"), body_int(req, "quote_post_id"), &o, &e);
    return answer(req, resp, st, &e, 201, o);
}

/* A yes/no relation between the caller and the object {id}: like,
 * favourite, follow. All three domain calls share one shape. */
typedef enum st (*toggle_fn)(struct db_conn *c, int64_t user_id, int64_t id, bool on,
                             struct cm_error *err);

static enum st toggle(struct http_req *req, struct http_resp *resp, toggle_fn fn, bool on)
{
    int64_t id;
    if (path_id(req, &id) != ST_OK)
        return ST_NOTFOUND;
    DB_OR_FAIL(req, c);
    struct cm_error e = {0};
    enum st st = fn(c, http_req_identity(req)->user_id, id, on, &e);
    return answer(req, resp, st, &e, 204, NULL);
}

static enum st h_favourite(struct http_req *req, struct http_resp *resp)
{
    return toggle(req, resp, community_favourite, true);
}

static enum st h_unfavourite(struct http_req *req, struct http_resp *resp)
{
    return toggle(req, resp, community_favourite, false);
}

static enum st h_post_edit(struct http_req *req, struct http_resp *resp)
{
    int64_t id;
    if (path_id(req, &id) != ST_OK)
        return ST_NOTFOUND;
    DB_OR_FAIL(req, c);
    json_t *o = NULL;
    struct cm_error e = {0};
    enum st st = community_post_edit(c, http_req_identity(req)->user_id, id, body_str(req, "title"),
                                     body_str(req, "body"), &o, &e);
    return answer(req, resp, st, &e, 200, o);
}

static enum st h_post_delete(struct http_req *req, struct http_resp *resp)
{
    int64_t id;
    if (path_id(req, &id) != ST_OK)
        return ST_NOTFOUND;
    DB_OR_FAIL(req, c);
    struct cm_error e = {0};
    enum st st = community_post_delete(c, http_req_identity(req)->user_id, id, &e);
    return answer(req, resp, st, &e, 204, NULL);
}

static enum st h_revisions(struct http_req *req, struct http_resp *resp)
{
    int64_t id;
    if (path_id(req, &id) != ST_OK)
        return ST_NOTFOUND;
    DB_OR_FAIL(req, c);
    struct cm_viewer v = viewer_of(req);
    json_t *o = NULL;
    struct cm_error e = {0};
    enum st st = community_post_revisions(c, &v, id, &o);
    return answer(req, resp, st, &e, 200, o);
}

static enum st h_like(struct http_req *req, struct http_resp *resp)
{
    return toggle(req, resp, community_like, true);
}

static enum st h_unlike(struct http_req *req, struct http_resp *resp)
{
    return toggle(req, resp, community_like, false);
}

static enum st h_follow_user(struct http_req *req, struct http_resp *resp)
{
    return toggle(req, resp, community_follow_user, true);
}

static enum st h_unfollow_user(struct http_req *req, struct http_resp *resp)
{
    return toggle(req, resp, community_follow_user, false);
}

/* ---------------------------------------------------------------- my space, search */

static enum st me(struct http_req *req, struct http_resp *resp, const char *what)
{
    DB_OR_FAIL(req, c);
    json_t *o = NULL;
    struct cm_error e = {0};
    enum st st = community_me(c, http_req_identity(req)->user_id, what, &o);
    return answer(req, resp, st, &e, 200, o);
}

static enum st h_me_favourites(struct http_req *req, struct http_resp *resp)
{
    return me(req, resp, "favourites");
}

static enum st h_me_following(struct http_req *req, struct http_resp *resp)
{
    return me(req, resp, "following");
}

static enum st h_me_recent(struct http_req *req, struct http_resp *resp)
{
    return me(req, resp, "recent");
}

static enum st h_search(struct http_req *req, struct http_resp *resp)
{
    DB_OR_FAIL(req, c);
    struct cm_search q = {
        .q = http_req_query(req, "q"),
        .board = http_req_query(req, "board"),
        .tag = http_req_query(req, "tag"),
        .author = query_int(req, "author"),
        .from = query_int(req, "from"),
        .to = query_int(req, "to"),
        .sort = http_req_query(req, "sort"),
        .cursor = http_req_query(req, "cursor"),
        .limit = query_int(req, "limit"),
    };
    json_t *o = NULL;
    struct cm_error e = {0};
    enum st st = community_search(c, db_kind(http_req_database(req)), &q, &o, &e);
    if (st == ST_OK)
        activity_on_search(c, http_req_identity(req)->user_id, q.q, o);
    return answer(req, resp, st, &e, 200, o);
}

/* ---------------------------------------------------------------- moderation */

/* What the handlers below need: the connection, who asks, the path's id
 * (routes with {id}), and the error and answer of the domain call. */
struct call {
    struct db_conn *c;
    struct cm_viewer v;
    int64_t id;
    struct cm_error e;
    json_t *o;
};

static enum st call_begin(struct http_req *req, struct call *k, bool with_id)
{
    memset(k, 0, sizeof *k);
    k->v = viewer_of(req);
    if (with_id && path_id(req, &k->id) != ST_OK)
        return ST_NOTFOUND;
    return http_req_db(req, &k->c);
}

static enum st h_moderators(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k, false);
    if (st == ST_OK)
        st = community_moderators_list(k.c, http_req_param(req, "slug"), &k.o);
    return answer(req, resp, st, &k.e, 200, k.o);
}

static enum st moderator_set(struct http_req *req, struct http_resp *resp, bool on)
{
    struct call k;
    enum st st = call_begin(req, &k, !on);
    if (st == ST_OK)
        st = community_moderator_set(k.c, &k.v, http_req_param(req, "slug"),
                                     on ? body_int(req, "user_id") : k.id, on, &k.e);
    return answer(req, resp, st, &k.e, 204, NULL);
}

static enum st h_moderator_add(struct http_req *req, struct http_resp *resp)
{
    return moderator_set(req, resp, true);
}

static enum st h_moderator_remove(struct http_req *req, struct http_resp *resp)
{
    return moderator_set(req, resp, false);
}

static enum st h_topic_moderate(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k, true);
    if (st == ST_OK)
        st = community_topic_moderate(k.c, &k.v, k.id, body_str(req, "action"),
                                      body_str(req, "reason"), body_str(req, "board"), &k.e);
    return answer(req, resp, st, &k.e, 204, NULL);
}

static enum st h_post_moderate(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k, true);
    if (st == ST_OK)
        st = community_post_moderate(k.c, &k.v, k.id, body_str(req, "action"),
                                     body_str(req, "reason"), &k.e);
    return answer(req, resp, st, &k.e, 204, NULL);
}

static enum st h_suspensions(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k, false);
    if (st == ST_OK)
        st = community_suspensions(k.c, &k.v, http_req_param(req, "slug"), &k.o, &k.e);
    return answer(req, resp, st, &k.e, 200, k.o);
}

static enum st h_suspend(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k, false);
    if (st == ST_OK)
        st = community_suspend(k.c, &k.v, http_req_param(req, "slug"), body_int(req, "user_id"),
                               body_int(req, "until"), body_str(req, "reason"), &k.e);
    return answer(req, resp, st, &k.e, 204, NULL);
}

static enum st h_unsuspend(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k, true);
    if (st == ST_OK)
        st = community_unsuspend(k.c, &k.v, http_req_param(req, "slug"), k.id, &k.e);
    return answer(req, resp, st, &k.e, 204, NULL);
}

static enum st h_report(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k, true);
    if (st == ST_OK)
        st = community_report(k.c, k.v.user_id, k.id, body_str(req, "reason"),
                              body_str(req, "detail"), &k.o, &k.e);
    return answer(req, resp, st, &k.e, 201, k.o);
}

static enum st reports(struct http_req *req, struct http_resp *resp, const char *board)
{
    struct call k;
    struct cm_reports_q q = {
        .board = board,
        .status = http_req_query(req, "status"),
        .cursor = http_req_query(req, "cursor"),
    };
    enum st st = call_begin(req, &k, false);
    if (st == ST_OK)
        st = community_reports(k.c, &k.v, &q, &k.o, &k.e);
    return answer(req, resp, st, &k.e, 200, k.o);
}

static enum st h_board_reports(struct http_req *req, struct http_resp *resp)
{
    return reports(req, resp, http_req_param(req, "slug"));
}

static enum st h_staff_reports(struct http_req *req, struct http_resp *resp)
{
    return reports(req, resp, http_req_query(req, "board"));
}

static enum st h_report_decision(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k, true);
    if (st == ST_OK)
        st = community_report_handle(k.c, &k.v, k.id, body_str(req, "decision"),
                                     body_str(req, "note"), &k.e);
    return answer(req, resp, st, &k.e, 204, NULL);
}

static enum st h_mod_log(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k, false);
    if (st == ST_OK)
        st = community_mod_log(k.c, http_req_query(req, "board"), http_req_query(req, "cursor"),
                               &k.o, &k.e);
    return answer(req, resp, st, &k.e, 200, k.o);
}

/* ---------------------------------------------------------------- real-name verification */

/* Staff roles that review identity documents. */
#define STAFF_REVIEWERS (STAFF_SUPPORT | STAFF_COMPLIANCE)

static const char *const PHOTO_TYPES[] = {"image/png", "image/jpeg", "image/webp", NULL};

static enum st h_verification_photo(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    size_t len = 0;
    const char *type = NULL;
    const void *bytes = http_req_raw_body(req, &len, &type);
    enum st st = call_begin(req, &k, false);
    if (st == ST_OK)
        st = community_verification_photo(k.c, k.v.user_id, http_req_param(req, "side"), bytes, len,
                                          type, &k.e);
    return answer(req, resp, st, &k.e, 204, NULL);
}

static enum st h_verification_submit(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k, false);
    if (st == ST_OK)
        st = community_verification_submit(k.c, k.v.user_id, body_str(req, "id_type"),
                                           body_str(req, "id_number"), &k.o, &k.e);
    return answer(req, resp, st, &k.e, 200, k.o);
}

static enum st h_verification_mine(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k, false);
    if (st == ST_OK)
        st = community_verification_mine(k.c, k.v.user_id, &k.o);
    return answer(req, resp, st, &k.e, 200, k.o);
}

/* The staff member as the audit log names them: the reviewing role they
 * hold (compliance before support). */
static struct cm_staff staff_of(struct http_req *req)
{
    const struct http_identity *id = http_req_identity(req);
    struct cm_staff s = {.user_id = id->user_id,
                         .role = (id->staff_roles & STAFF_COMPLIANCE) ? "compliance" : "support",
                         .ip = http_req_client_ip(req)};
    return s;
}

static enum st h_verifications(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k, false);
    if (st == ST_OK)
        st = community_verifications(k.c, http_req_query(req, "status"),
                                     http_req_query(req, "cursor"), &k.o, &k.e);
    return answer(req, resp, st, &k.e, 200, k.o);
}

static enum st h_verification_view(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    struct cm_staff who = staff_of(req);
    enum st st = call_begin(req, &k, true);
    if (st == ST_OK)
        st = community_verification_view(k.c, &who, k.id, http_req_query(req, "reason"), &k.o);
    return answer(req, resp, st, &k.e, 200, k.o);
}

static enum st h_verification_photo_view(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    struct cm_staff who = staff_of(req);
    unsigned char *data = NULL;
    size_t len = 0;
    enum st st = call_begin(req, &k, true);
    if (st == ST_OK)
        st = community_verification_photo_view(k.c, &who, k.id, http_req_param(req, "side"),
                                               http_req_query(req, "reason"), &data, &len);
    if (st == ST_OK)
        st = http_resp_bytes(resp, 200, "image/jpeg", data, len);
    crypto_free_secret(data, len);
    return st;
}

static enum st h_verification_decide(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    struct cm_staff who = staff_of(req);
    enum st st = call_begin(req, &k, true);
    if (st == ST_OK)
        st = community_verification_decide(k.c, &who, k.id, body_str(req, "decision"),
                                           body_str(req, "reason"), &k.e);
    return answer(req, resp, st, &k.e, 204, NULL);
}

/* ---------------------------------------------------------------- declarations */

#define F_CURSOR                                                                                   \
    {                                                                                              \
        .name = "cursor", .type = FT_STRING, .min = 1, .max = 48,                                  \
        .help = "next_cursor of the previous page"                                                 \
    }
#define F_SORT(what)                                                                               \
    {                                                                                              \
        .name = "sort", .type = FT_STRING, .min = 1, .max = 16, .help = what                       \
    }
#define F_TAG                                                                                      \
    {                                                                                              \
        .name = "tag", .type = FT_STRING, .min = 1, .max = CM_TAG_MAX, .help = "only this tag"     \
    }
#define F_BODY(req)                                                                                \
    {                                                                                              \
        .name = "body", .type = FT_STRING, .required = req, .min = 1, .max = CM_BODY_MAX,          \
        .help = "Markdown text"                                                                    \
    }

static const struct field_spec list_query[] = {
    F_SORT("latest (default) or top"),
    F_CURSOR,
    F_TAG,
    {.name = "board", .type = FT_STRING, .min = 1, .max = CM_SLUG_MAX, .help = "only this board"},
    {0},
};

static const struct field_spec board_list_query[] = {
    F_SORT("latest (default) or top"),
    F_CURSOR,
    F_TAG,
    {0},
};

static const struct field_spec topic_query[] = {F_CURSOR, {0}};

static const struct field_spec board_body[] = {
    {.name = "slug",
     .type = FT_STRING,
     .required = true,
     .min = CM_SLUG_MIN,
     .max = CM_SLUG_MAX,
     .help = "address name: a-z, 0-9 and '-'"},
    {.name = "name",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = CM_BOARD_NAME_MAX,
     .help = "name"},
    {.name = "description",
     .type = FT_STRING,
     .max = CM_BOARD_DESC_MAX,
     .help = "what the board is for"},
    {0},
};

static const struct field_spec topic_body[] = {
    {.name = "title",
     .type = FT_STRING,
     .required = true,
     .min = CM_TITLE_MIN,
     .max = CM_TITLE_MAX,
     .help = "title"},
    F_BODY(true),
    {.name = "tags",
     .type = FT_STRING_ARRAY,
     .min = 1,
     .max = CM_TAG_MAX,
     .max_items = CM_TAGS_MAX,
     .help = "tags: letters, digits, Chinese characters, - _ + . #"},
    {0},
};

static const struct field_spec reply_body[] = {
    F_BODY(true),
    {.name = "parent_id",
     .type = FT_INT,
     .min = 1,
     .max = INT64_MAX,
     .help = "the reply this one answers (one level of threading)"},
    {.name = "quote_post_id",
     .type = FT_INT,
     .min = 1,
     .max = INT64_MAX,
     .help = "a post of the topic quoted"},
    {0},
};

static const struct field_spec edit_body[] = {
    {.name = "title",
     .type = FT_STRING,
     .min = CM_TITLE_MIN,
     .max = CM_TITLE_MAX,
     .help = "new title (a topic's first post only)"},
    F_BODY(false),
    {0},
};

#define F_REASON(what)                                                                             \
    {                                                                                              \
        .name = "reason", .type = FT_STRING, .max = CM_REASON_MAX, .help = what                    \
    }
#define F_USER_ID(what)                                                                            \
    {                                                                                              \
        .name = "user_id", .type = FT_INT, .required = true, .min = 1, .max = INT64_MAX,           \
        .help = what                                                                               \
    }
#define F_BOARD_FILTER                                                                             \
    {                                                                                              \
        .name = "board", .type = FT_STRING, .min = 1, .max = CM_SLUG_MAX,                          \
        .help = "only this board"                                                                  \
    }

static const struct field_spec topic_moderate_body[] = {
    {.name = "action",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = 16,
     .help = "lock, unlock, hide, unhide, pin, unpin or move"},
    F_REASON("why (logged)"),
    {.name = "board",
     .type = FT_STRING,
     .min = CM_SLUG_MIN,
     .max = CM_SLUG_MAX,
     .help = "move: the board the topic goes to"},
    {0},
};

static const struct field_spec post_moderate_body[] = {
    {.name = "action",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = 16,
     .help = "hide or unhide"},
    F_REASON("why (logged)"),
    {0},
};

static const struct field_spec moderator_body[] = {
    F_USER_ID("the member to appoint"),
    {0},
};

static const struct field_spec suspend_body[] = {
    F_USER_ID("the member barred from posting in the board"),
    {.name = "until",
     .type = FT_INT,
     .required = true,
     .min = 1,
     .max = INT64_MAX,
     .help = "end of the suspension (ms since the epoch, in the future)"},
    F_REASON("why (logged, shown to moderators)"),
    {0},
};

static const struct field_spec report_body[] = {
    {.name = "reason",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = 16,
     .help = CM_REPORT_REASONS},
    {.name = "detail", .type = FT_STRING, .max = CM_REASON_MAX, .help = "what is wrong"},
    {0},
};

static const struct field_spec decision_body[] = {
    {.name = "decision",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = 16,
     .help = "uphold (hides the post) or dismiss"},
    {.name = "note", .type = FT_STRING, .max = CM_REASON_MAX, .help = "why (logged)"},
    {0},
};

#define F_STATUS                                                                                   \
    {                                                                                              \
        .name = "status", .type = FT_STRING, .min = 1, .max = 16,                                  \
        .help = "open (default), upheld or dismissed"                                              \
    }
#define F_ID_CURSOR                                                                                \
    {                                                                                              \
        .name = "cursor", .type = FT_STRING, .min = 1, .max = 20,                                  \
        .help = "next_cursor of the previous page"                                                 \
    }

static const struct field_spec board_reports_query[] = {F_STATUS, F_ID_CURSOR, {0}};
static const struct field_spec staff_reports_query[] = {F_STATUS, F_ID_CURSOR, F_BOARD_FILTER, {0}};
static const struct field_spec mod_log_query[] = {F_ID_CURSOR, F_BOARD_FILTER, {0}};

static const struct field_spec search_query[] = {
    {.name = "q",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = CM_QUERY_MAX,
     .help = "words or Chinese text; every term must match"},
    {.name = "board", .type = FT_STRING, .min = 1, .max = CM_SLUG_MAX, .help = "only this board"},
    F_TAG,
    {.name = "author", .type = FT_INT, .min = 1, .max = INT64_MAX, .help = "only this author"},
    {.name = "from", .type = FT_INT, .min = 0, .max = INT64_MAX, .help = "posted at or after (ms)"},
    {.name = "to", .type = FT_INT, .min = 0, .max = INT64_MAX, .help = "posted before (ms)"},
    F_SORT("relevance (default) or latest"),
    {.name = "cursor",
     .type = FT_STRING,
     .min = 1,
     .max = 8,
     .help = "next_cursor of the previous page"},
    {.name = "limit",
     .type = FT_INT,
     .min = 1,
     .max = CM_SEARCH_PAGE_MAX,
     .help = "results a page (20)"},
    {0},
};

static const struct field_spec verification_body[] = {
    {.name = "id_type",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = 16,
     .help = "prc_id (resident identity card) or passport"},
    {.name = "id_number",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = CM_ID_NUMBER_MAX,
     .help = "the document's number"},
    {0},
};

static const struct field_spec verifications_query[] = {
    {.name = "status",
     .type = FT_STRING,
     .min = 1,
     .max = 16,
     .help = "pending (default), approved or rejected"},
    F_ID_CURSOR,
    {0},
};

/* Why a staff member opens someone's documents: written to the audit log. */
static const struct field_spec purpose_query[] = {
    {.name = "reason",
     .type = FT_STRING,
     .required = true,
     .min = 3,
     .max = 200,
     .help = "why you need to see it (recorded in the audit log)"},
    {0},
};

static const struct field_spec decide_body[] = {
    {.name = "decision",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = 16,
     .help = "approve or reject"},
    {.name = "reason",
     .type = FT_STRING,
     .max = CM_REASON_MAX,
     .help = "why (required to reject; shown to the member)"},
    {0},
};

static const struct route community_routes[] = {
    {"GET", "/api/v1/boards", h_boards, POLICY_PUBLIC, .summary = "Community boards"},
    {"POST", "/api/v1/boards", h_board_create, POLICY_USER, .body = board_body,
     .summary = "Open a board: verified members (who own it) and staff"},
    {"GET", "/api/v1/boards/{slug}", h_board, POLICY_PUBLIC,
     .summary = "A board with its pinned topics"},
    {"GET", "/api/v1/boards/{slug}/topics", h_board_topics, POLICY_PUBLIC,
     .query = board_list_query, .summary = "A board's topics, latest or top, 20 a page"},
    {"POST", "/api/v1/boards/{slug}/topics", h_topic_create, POLICY_USER, .body = topic_body,
     .summary = "Start a topic (Markdown body, tags)"},
    {"POST", "/api/v1/boards/{slug}/follow", h_board_follow, POLICY_USER,
     .summary = "Follow a board"},
    {"DELETE", "/api/v1/boards/{slug}/follow", h_board_unfollow, POLICY_USER,
     .summary = "Stop following a board"},
    {"GET", "/api/v1/topics", h_topics, POLICY_PUBLIC, .query = list_query,
     .summary = "Topics of every board: latest, top, by tag; 20 a page"},
    {"GET", "/api/v1/topics/{id}", h_topic, POLICY_PUBLIC, .query = topic_query,
     .summary = "A topic with its first post and 20 replies a page"},
    {"POST", "/api/v1/topics/{id}/posts", h_reply, POLICY_USER, .body = reply_body,
     .summary = "Reply to a topic (optionally to a reply, or quoting a post)"},
    {"POST", "/api/v1/topics/{id}/favourite", h_favourite, POLICY_USER,
     .summary = "Add a topic to my favourites"},
    {"DELETE", "/api/v1/topics/{id}/favourite", h_unfavourite, POLICY_USER,
     .summary = "Remove a topic from my favourites"},
    {"POST", "/api/v1/topics/{id}/moderation", h_topic_moderate, POLICY_USER,
     .body = topic_moderate_body,
     .summary = "Moderators: lock, hide, pin or move a topic (logged)"},
    {"POST", "/api/v1/posts/{id}/moderation", h_post_moderate, POLICY_USER,
     .body = post_moderate_body, .summary = "Moderators: hide or unhide a reply (logged)"},
    {"POST", "/api/v1/posts/{id}/reports", h_report, POLICY_USER, .body = report_body,
     .summary = "Report a post to the board's moderators (once per post)"},
    {"GET", "/api/v1/boards/{slug}/moderators", h_moderators, POLICY_PUBLIC,
     .summary = "A board's owner and moderators"},
    {"POST", "/api/v1/boards/{slug}/moderators", h_moderator_add, POLICY_USER,
     .body = moderator_body, .summary = "Board owner: appoint a moderator (logged)"},
    {"DELETE", "/api/v1/boards/{slug}/moderators/{id}", h_moderator_remove, POLICY_USER,
     .summary = "Board owner: remove a moderator (logged)"},
    {"GET", "/api/v1/boards/{slug}/suspensions", h_suspensions, POLICY_USER,
     .summary = "Moderators: members barred from posting in the board"},
    {"POST", "/api/v1/boards/{slug}/suspensions", h_suspend, POLICY_USER, .body = suspend_body,
     .summary = "Moderators: bar a member from posting in the board until a time (logged)"},
    {"DELETE", "/api/v1/boards/{slug}/suspensions/{id}", h_unsuspend, POLICY_USER,
     .summary = "Moderators: end a member's suspension early (logged)"},
    {"GET", "/api/v1/boards/{slug}/reports", h_board_reports, POLICY_USER,
     .query = board_reports_query, .summary = "Moderators: the board's report queue"},
    {"POST", "/api/v1/reports/{id}/decision", h_report_decision, POLICY_USER, .body = decision_body,
     .summary = "Moderators: uphold (hide the post) or dismiss a report (logged)"},
    {"GET", "/api/v1/staff/reports", h_staff_reports, POLICY_STAFF, .query = staff_reports_query,
     .roles = STAFF_MODERATORS, .summary = "Staff: the report queue of every board"},
    {"GET", "/api/v1/staff/moderation-log", h_mod_log, POLICY_STAFF, .query = mod_log_query,
     .roles = STAFF_MODERATORS | STAFF_COMPLIANCE,
     .summary = "Staff: what moderators and staff did, newest first"},
    {"PATCH", "/api/v1/posts/{id}", h_post_edit, POLICY_USER, .body = edit_body,
     .summary = "Edit my post (the previous text is kept in its history)"},
    {"DELETE", "/api/v1/posts/{id}", h_post_delete, POLICY_USER,
     .summary = "Delete my post (the first post deletes the topic)"},
    {"GET", "/api/v1/posts/{id}/revisions", h_revisions, POLICY_PUBLIC,
     .summary = "A post's edit history"},
    {"POST", "/api/v1/posts/{id}/like", h_like, POLICY_USER, .summary = "Like a post"},
    {"DELETE", "/api/v1/posts/{id}/like", h_unlike, POLICY_USER, .summary = "Unlike a post"},
    {"POST", "/api/v1/users/{id}/follow", h_follow_user, POLICY_USER, .summary = "Follow a member"},
    {"DELETE", "/api/v1/users/{id}/follow", h_unfollow_user, POLICY_USER,
     .summary = "Stop following a member"},
    {"GET", "/api/v1/me/favourites", h_me_favourites, POLICY_USER,
     .summary = "My favourite topics"},
    {"GET", "/api/v1/me/following", h_me_following, POLICY_USER,
     .summary = "Members and boards I follow"},
    {"GET", "/api/v1/me/recent", h_me_recent, POLICY_USER, .summary = "Topics I viewed recently"},
    {"PUT", "/api/v1/me/verification/photos/{side}", h_verification_photo, POLICY_USER,
     .raw_types = PHOTO_TYPES, .raw_max = CM_ID_PHOTO_MAX_BYTES,
     .summary = "Real-name verification: send a photo of the document's front or back"},
    {"POST", "/api/v1/me/verification", h_verification_submit, POLICY_USER,
     .body = verification_body,
     .summary = "Real-name verification: submit the document's number for review"},
    {"GET", "/api/v1/me/verification", h_verification_mine, POLICY_USER,
     .summary = "Real-name verification: where I stand (number masked)"},
    {"GET", "/api/v1/staff/verifications", h_verifications, POLICY_STAFF,
     .query = verifications_query, .roles = STAFF_REVIEWERS,
     .summary = "Staff: the real-name review queue, oldest first"},
    {"GET", "/api/v1/staff/verifications/{id}", h_verification_view, POLICY_STAFF,
     .query = purpose_query, .roles = STAFF_REVIEWERS,
     .summary = "Staff: one attempt, the number masked (audited)"},
    {"GET", "/api/v1/staff/verifications/{id}/photos/{side}", h_verification_photo_view,
     POLICY_STAFF, .query = purpose_query, .roles = STAFF_REVIEWERS,
     .summary = "Staff: a photo of the document (audited)"},
    {"POST", "/api/v1/staff/verifications/{id}/decision", h_verification_decide, POLICY_STAFF,
     .body = decide_body, .roles = STAFF_REVIEWERS,
     .summary = "Staff: approve or reject an attempt (audited; the member is told)"},
    {"GET", "/api/v1/search", h_search, POLICY_PUBLIC, .query = search_query,
     .summary = "Search posts (Chinese and other scripts), with filters and highlighted snippets"},
};

void community_api_register(void)
{
    http_routes_add(community_routes, sizeof community_routes / sizeof community_routes[0]);
}
