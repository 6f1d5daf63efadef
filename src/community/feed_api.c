/*
 * feed_api.c — the community feed and the member's notification switches
 * over HTTP, and "mark all read" for the in-app inbox (whose list and
 * single "read" belong to the privacy center's routes, privacy_api.c).
 *
 * The feed is public: a visitor gets the latest topics, a member the
 * mode their "personalised recommendations" switch allows; the answer
 * says which ("mode", "reason").
 */
#include "community.h"
#include "http/http.h"
#include "privacy/consent.h"

static enum st fail(struct http_req *req, enum st st, const struct cm_error *e)
{
    if (e->field && e->code)
        http_field_error(req, e->field, e->code, e->min, e->max, NULL);
    return st;
}

static enum st h_feed(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    enum st st = http_req_db(req, &c);
    json_t *o = NULL;
    struct cm_error e = {0};
    if (st == ST_OK)
        st = community_feed(c, http_req_identity(req)->user_id, http_req_query(req, "cursor"), &o,
                            &e);
    return st == ST_OK ? http_resp_json(resp, 200, o) : fail(req, st, &e);
}

static enum st h_settings(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    enum st st = http_req_db(req, &c);
    json_t *o = NULL;
    if (st == ST_OK)
        st = http_req_method(req)[0] == 'P'
                 ? community_notification_settings_set(c, http_req_identity(req)->user_id,
                                                       http_req_body(req), &o)
                 : community_notification_settings(c, http_req_identity(req)->user_id, &o);
    return st == ST_OK ? http_resp_json(resp, 200, o) : st;
}

static enum st h_read_all(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    struct db_conn *c;
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_inbox_read_all(c, http_req_identity(req)->user_id, NULL);
    return st; /* 204 */
}

static const struct field_spec feed_query[] = {
    {.name = "cursor",
     .type = FT_STRING,
     .min = 1,
     .max = 80,
     .help = "next_cursor of the previous page (of the same mode)"},
    {0},
};

#define SWITCH(n, what)                                                                            \
    {                                                                                              \
        .name = (n), .type = FT_BOOL, .help = "notify me in the inbox " what                       \
    }
static const struct field_spec settings_body[] = {
    SWITCH("reply", "when someone replies to my topic or post, or quotes me"),
    SWITCH("mention", "when someone mentions me by @username"),
    SWITCH("like", "when someone likes my post"),
    SWITCH("follow", "when someone follows me"),
    {0},
};

static const struct route feed_routes[] = {
    {"GET", "/api/v1/feed", h_feed, POLICY_PUBLIC, .query = feed_query,
     .summary = "The community feed: personalised when my recommendations switch is on, else the "
                "latest topics; 20 a page"},
    {"GET", "/api/v1/me/notification-settings", h_settings, POLICY_USER,
     .summary = "My switch per kind of community notice (replies, mentions, likes, follows)"},
    {"PUT", "/api/v1/me/notification-settings", h_settings, POLICY_USER, .body = settings_body,
     .summary = "Turn kinds of community notice on or off"},
    {"POST", "/api/v1/me/inbox/read-all", h_read_all, POLICY_USER, .gate_exempt = true,
     .summary = "Mark every notice of my inbox read"},
};

void community_feed_api_register(void)
{
    http_routes_add(feed_routes, sizeof feed_routes / sizeof feed_routes[0]);
}
