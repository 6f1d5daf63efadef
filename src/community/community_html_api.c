/*
 * community_html_api.c — the community's server-rendered pages over HTTP
 * (/community, /b/{slug}, /t/{id}: the web app's own addresses, answered
 * with its index.html and the page's text inside it), and two API routes
 * of the web app's editor: a post's Markdown source and a preview.
 *
 * The pages are page routes (http_pages_add), not API routes: their query
 * string arrives unvalidated, so each value is checked here before it
 * reaches the domain, and a bad or unknown address answers an HTML page
 * with status 400 or 404 — or problem+json to a client that asks for JSON
 * and not for HTML.
 */
#include <stdlib.h>
#include <string.h>

#include "community.h"
#include "http/http.h"

/* A raw query value that is valid UTF-8 of at most max code points; NULL
 * when absent. *bad is set for a value present but unusable. */
static const char *query_text(struct http_req *req, const char *name, size_t max, bool *bad)
{
    const char *v = http_req_query(req, name);
    if (!v)
        return NULL;
    size_t n = strlen(v);
    if (n == 0 || !utf8_valid(v, n) || utf8_len(v, n) > max) {
        *bad = true;
        return NULL;
    }
    return v;
}

/* True when the client wants JSON rather than a page (an API client that
 * followed a link); browsers and crawlers ask for text/html. */
static bool wants_json(struct http_req *req)
{
    const char *accept = http_req_header(req, "Accept");
    return accept && strstr(accept, "json") && !strstr(accept, "text/html");
}

/* Answers a rendered page; a missing or malformed address answers the
 * "not found" page with 404 or 400 (problem+json when JSON is wanted);
 * other failures (database down) become problem+json in the layer. */
static enum st answer_page(struct http_req *req, struct http_resp *resp, enum st st,
                           struct cm_page *page)
{
    unsigned status = 200;
    if (st == ST_NOTFOUND || st == ST_INVALID) {
        if (wants_json(req))
            return st;
        community_html_missing(http_req_lang(req), st == ST_INVALID, page);
        status = http_status_of(st);
    } else if (st != ST_OK) {
        return st;
    }
    struct http_page hp = {.title = page->title,
                           .description = page->description,
                           .canonical = page->canonical,
                           .og_type = page->og_type,
                           .body = page->body.data,
                           .body_len = page->body.len};
    st = http_resp_page(req, resp, status, &hp);
    cm_page_free(page);
    return st;
}

static enum st p_home(struct http_req *req, struct http_resp *resp)
{
    struct cm_page page = {0};
    struct db_conn *c;
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = community_html_home(c, http_req_lang(req), &page);
    return answer_page(req, resp, st, &page);
}

static enum st p_board(struct http_req *req, struct http_resp *resp)
{
    bool bad = false;
    struct cm_page page = {0};
    struct cm_list q = {
        .board = http_req_param(req, "slug"),
        .sort = query_text(req, "sort", 16, &bad),
        .tag = query_text(req, "tag", CM_TAG_MAX, &bad),
        .cursor = query_text(req, "cursor", 48, &bad),
    };
    if (bad || !utf8_valid(q.board, strlen(q.board)) || strlen(q.board) > CM_SLUG_MAX)
        return answer_page(req, resp, bad ? ST_INVALID : ST_NOTFOUND, &page);
    struct db_conn *c;
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = community_html_board(c, http_req_lang(req), &q, &page);
    return answer_page(req, resp, st, &page);
}

static enum st p_topic(struct http_req *req, struct http_resp *resp)
{
    bool bad = false;
    struct cm_page page = {0};
    int64_t id;
    const char *cursor = query_text(req, "cursor", 20, &bad);
    if (parse_int64(http_req_param(req, "id"), 1, INT64_MAX, &id) != ST_OK)
        return answer_page(req, resp, ST_NOTFOUND, &page);
    if (bad)
        return answer_page(req, resp, ST_INVALID, &page);
    struct db_conn *c;
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = community_html_topic(c, http_req_lang(req), id, cursor, &page);
    return answer_page(req, resp, st, &page);
}

/* ---------------------------------------------------------------- the editor's API */

static enum st h_source(struct http_req *req, struct http_resp *resp)
{
    int64_t id;
    if (parse_int64(http_req_param(req, "id"), 1, INT64_MAX, &id) != ST_OK)
        return ST_NOTFOUND;
    const struct http_identity *who = http_req_identity(req);
    struct cm_viewer v = {.user_id = who->user_id, .staff = who->staff_roles != 0};
    struct db_conn *c;
    json_t *o = NULL;
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = community_post_source(c, &v, id, &o);
    return st == ST_OK ? http_resp_json(resp, 200, o) : st;
}

static enum st h_preview(struct http_req *req, struct http_resp *resp)
{
    const char *md = json_string_value(json_object_get(http_req_body(req), "body"));
    char *html = NULL;
    enum st st = community_markdown(md, strlen(md), &html, NULL);
    if (st == ST_TOOLARGE)
        return http_field_error(req, "body", "too_long", 0, CM_BODY_MAX, NULL);
    if (st != ST_OK)
        return st;
    json_t *o = json_pack("{s:s}", "html", html);
    free(html);
    return o ? http_resp_json(resp, 200, o) : ST_INTERNAL;
}

static enum st h_my_likes(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    json_t *o = NULL;
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = community_my_likes(c, http_req_identity(req)->user_id, &o);
    return st == ST_OK ? http_resp_json(resp, 200, o) : st;
}

static const struct field_spec preview_body[] = {
    {.name = "body",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = CM_BODY_MAX,
     .help = "Markdown text"},
    {0},
};

static const struct route editor_routes[] = {
    {"GET", "/api/v1/posts/{id}/source", h_source, POLICY_PUBLIC,
     .summary = "A post's Markdown source (for editing and quoting)"},
    {"POST", "/api/v1/community/preview", h_preview, POLICY_USER, .body = preview_body,
     .summary = "Render Markdown as a post would be (sanitised HTML), without saving"},
    {"GET", "/api/v1/me/likes", h_my_likes, POLICY_USER, .summary = "Posts I like"},
};

static const struct http_page_route pages[] = {
    {"/community", p_home},
    {"/b/{slug}", p_board},
    {"/t/{id}", p_topic},
};

void community_html_api_register(void)
{
    http_routes_add(editor_routes, sizeof editor_routes / sizeof editor_routes[0]);
    http_pages_add(pages, sizeof pages / sizeof pages[0]);
}
