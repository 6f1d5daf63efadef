/*
 * sys_api.c — the server's own routes: liveness, readiness, metrics, ping,
 * and the test-mode routes the API tests use to exercise the validation
 * layer and move the clock.
 *
 * Test routes are registered with POLICY_TEST_ONLY: without --test-mode
 * the router does not see them at all, so they answer 404 like any path
 * that does not exist.
 */
#include <string.h>

#include "http_int.h"

static enum st healthz(struct http_req *req, struct http_resp *resp)
{
    (void)req;
    return http_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

static enum st readyz(struct http_req *req, struct http_resp *resp)
{
    struct db *db = http_req_database(req);
    if (!db || db_ping(db) != ST_OK)
        return ST_UNAVAILABLE;
    return http_resp_json(resp, 200, json_pack("{s:s}", "status", "ready"));
}

static enum st metrics(struct http_req *req, struct http_resp *resp)
{
    struct buf b;
    buf_init(&b, 4 * 1024 * 1024);
    metrics_render(&b, req->srv);
    resp->status = 200;
    resp->content_type = xstrdup("text/plain; version=0.0.4; charset=utf-8");
    resp->body_len = b.len;
    resp->body = buf_take(&b);
    return ST_OK;
}

/* The smallest API answer; bench/ measures the HTTP layer's overhead on it. */
static const char PING[] = "{\"status\":\"ok\",\"service\":\"entrepot\"}";

static enum st ping(struct http_req *req, struct http_resp *resp)
{
    (void)req;
    resp->status = 200;
    resp->content_type = xstrdup("application/json");
    resp->persistent = PING;
    resp->body_len = sizeof PING - 1;
    return ST_OK;
}

static enum st test_echo(struct http_req *req, struct http_resp *resp)
{
    json_t *out = json_deep_copy(http_req_body(req));
    json_object_set_new(out, "client_ip", json_string(http_req_client_ip(req)));
    json_object_set_new(out, "lang", json_string(http_req_lang(req)));
    return http_resp_json(resp, 200, out);
}

static enum st test_clock(struct http_req *req, struct http_resp *resp)
{
    json_t *b = http_req_body(req);
    clock_set_offset_ms(json_integer_value(json_object_get(b, "offset_ms")));
    return http_resp_json(resp, 200, json_pack("{s:I}", "now_ms", (json_int_t)clock_now_ms()));
}

static const struct field_spec echo_body[] = {
    {.name = "name",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = 64,
     .help = "a display name"},
    {.name = "count", .type = FT_INT, .min = 0, .max = 1000, .help = "a small count"},
    {.name = "active", .type = FT_BOOL, .help = "a flag"},
    {.name = "tags",
     .type = FT_STRING_ARRAY,
     .min = 1,
     .max = 32,
     .max_items = 5,
     .help = "up to five short tags"},
    {.name = "note", .type = FT_STRING, .nullable = true, .max = 200, .help = "optional text"},
    {0},
};

static const struct field_spec clock_body[] = {
    {.name = "offset_ms",
     .type = FT_INT,
     .required = true,
     .min = -100LL * 365 * 86400000,
     .max = 100LL * 365 * 86400000,
     .help = "milliseconds to add to the real clock"},
    {0},
};

static const struct route sys_routes[] = {
    {"GET", "/healthz", healthz, POLICY_PUBLIC, .summary = "Liveness: the process answers"},
    {"GET", "/readyz", readyz, POLICY_PUBLIC, .summary = "Readiness: the database answers"},
    {"GET", "/metrics", metrics, POLICY_PUBLIC, .summary = "Prometheus metrics"},
    {"GET", "/api/v1/ping", ping, POLICY_PUBLIC, .summary = "A minimal JSON answer"},
    {"POST", "/api/v1/test/echo", test_echo, POLICY_TEST_ONLY, .body = echo_body,
     .summary = "Test mode: validate and echo a body"},
    {"POST", "/api/v1/test/clock", test_clock, POLICY_TEST_ONLY, .body = clock_body,
     .summary = "Test mode: move the server clock"},
};

void http_sys_routes_register(void)
{
    http_routes_add(sys_routes, sizeof sys_routes / sizeof sys_routes[0]);
}
