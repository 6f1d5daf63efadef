/*
 * problem.c — the one place where a status becomes an HTTP answer.
 *
 * Every error leaves the server as RFC 9457 application/problem+json with a
 * stable type URI, a title and detail in the user's language (from the
 * shared catalogue), the request path and id, and for validation errors the
 * list of fields with a JSON pointer, a stable code and a localised message.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/i18n.h"
#include "http_int.h"

static const unsigned status_of[ST__COUNT] = {
    [ST_OK] = 200,          [ST_INVALID] = 400,      [ST_NOTFOUND] = 404,  [ST_CONFLICT] = 409,
    [ST_FORBIDDEN] = 403,   [ST_UNAUTHORIZED] = 401, [ST_RATELIMIT] = 429, [ST_TOOLARGE] = 413,
    [ST_UNSUPPORTED] = 415, [ST_UNAVAILABLE] = 503,  [ST_INTERNAL] = 500,  [ST_UNPROCESSABLE] = 422,
};

unsigned http_status_of(enum st s)
{
    return (unsigned)s < ST__COUNT ? status_of[s] : 500;
}

/* Appends a JSON pointer segment escaped per RFC 6901 (~ → ~0, / → ~1). */
static void pointer_append(struct buf *b, const char *seg)
{
    buf_putc(b, '/');
    for (const char *p = seg; *p; p++) {
        if (*p == '~')
            buf_puts(b, "~0");
        else if (*p == '/')
            buf_puts(b, "~1");
        else
            buf_putc(b, *p);
    }
}

enum st http_field_error_at(struct http_req *req, const char *pointer, const char *field,
                            const char *code, int64_t min, int64_t max, const char *type)
{
    if (!req->errors)
        req->errors = json_array();
    if (json_array_size(req->errors) >= 32) /* enough to fix a form; bounded */
        return ST_INVALID;
    char key[64], smin[24], smax[24];
    snprintf(key, sizeof key, "field.%s", code);
    snprintf(smin, sizeof smin, "%" PRId64, min);
    snprintf(smax, sizeof smax, "%" PRId64, max);
    char *msg = i18n_format(req->lang, key, "min", smin, "max", smax, "type", type ? type : "",
                            "reason", type ? type : "", (const char *)NULL);
    if (!utf8_valid(field, strlen(field)))
        field = "";
    if (!utf8_valid(pointer, strlen(pointer)))
        pointer = "#";
    json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "pointer", pointer, "field", field, "code", code,
                          "detail", msg);
    if (e)
        json_array_append_new(req->errors, e);
    free(msg);
    return ST_INVALID;
}

enum st http_field_error(struct http_req *req, const char *field, const char *code, int64_t min,
                         int64_t max, const char *type)
{
    struct buf p;
    buf_init(&p, 1024);
    buf_putc(&p, '#');
    if (*field)
        pointer_append(&p, field);
    enum st s = http_field_error_at(req, p.data ? p.data : "#", field, code, min, max, type);
    buf_free(&p);
    return s;
}

void http_req_set_detail(struct http_req *req, const char *detail)
{
    free(req->detail);
    req->detail = detail ? xstrdup(detail) : NULL;
}

/* Builds a problem response. name is the problem name (st_name or an HTTP
 * one such as "method-not-allowed"); detail_override, if set, replaces the
 * catalogue's detail (already localised by the caller). */
void problem_build(struct http_req *req, struct http_resp *resp, enum st s, const char *name,
                   unsigned status, const char *detail_override)
{
    (void)s;
    char tkey[96], dkey[96], type[96], smax[24];
    snprintf(tkey, sizeof tkey, "problem.%s.title", name);
    snprintf(dkey, sizeof dkey, "problem.%s.detail", name);
    snprintf(type, sizeof type, "urn:entrepot:problem:%s", name);
    /* The cap and media types that apply: a raw-body route declares its own. */
    const struct route *r = req->route_idx >= 0 ? http_route_at((size_t)req->route_idx) : NULL;
    snprintf(smax, sizeof smax, "%zu",
             req->body.cap ? req->body.cap
             : req->srv    ? req->srv->opt.max_body
                           : (size_t)0);
    char expected[128] = "application/json";
    size_t n = 0;
    for (size_t i = 0; r && r->raw_types && r->raw_types[i] && n < sizeof expected; i++)
        n += (size_t)snprintf(expected + n, sizeof expected - n, "%s%s", i ? ", " : "",
                              r->raw_types[i]);
    char *detail = req->detail       ? xstrdup(req->detail)
                   : detail_override ? xstrdup(detail_override)
                                     : i18n_format(req->lang, dkey, "max", smax, "expected",
                                                   expected, (const char *)NULL);
    /* The path comes from the client: it may not be valid UTF-8. */
    const char *instance = req->path ? req->path : "/";
    if (!utf8_valid(instance, strlen(instance)))
        instance = "(invalid path)";
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "type", type, "title",
                          i18n_get(req->lang, tkey), "status", (json_int_t)status, "detail", detail,
                          "instance", instance, "request_id", req->rid);
    if (!o) /* only on a bug (e.g. a catalogue string that is not UTF-8) */
        o = json_pack("{s:s, s:i}", "type", "urn:entrepot:problem:internal", "status",
                      (json_int_t)status);
    free(detail);
    if (req->errors && json_array_size(req->errors) > 0)
        json_object_set(o, "errors", req->errors);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    free(resp->body);
    free(resp->content_type);
    resp->status = status;
    resp->body = text;
    resp->body_len = strlen(text);
    resp->persistent = NULL;
    resp->content_type = xstrdup("application/problem+json");
    resp->is_problem = true;
}

void problem_for_status(struct http_req *req, struct http_resp *resp, enum st s)
{
    if (s == ST_OK || (unsigned)s >= ST__COUNT)
        s = ST_INTERNAL;
    problem_build(req, resp, s, st_name(s), http_status_of(s), NULL);
}
