/*
 * export_api.c — the user's rights over HTTP: the export of everything
 * about me (/api/v1/me/export, /api/v1/me/exports), the cancellation of
 * the account and taking it back (/api/v1/me/cancel), and the retention
 * rules for staff (/api/v1/staff/privacy/retention).
 *
 * Every user route here stays open while the consent gate is closed: the
 * export and the cancellation are what a user who does not accept a new
 * policy must still be able to do (SPEC §2). A download answers only its
 * owner; another user's export id looks exactly like a missing one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "core/i18n.h"
#include "http/http.h"
#include "privacy.h"

static int64_t uid_of(struct http_req *req)
{
    return http_req_identity(req)->user_id;
}

static enum st json_answer(struct http_resp *resp, enum st st, unsigned status, json_t *o)
{
    if (st != ST_OK) {
        json_decref(o);
        return st;
    }
    return http_resp_json(resp, status, o);
}

/* A problem the status table has no entry for (410 Gone), built in the
 * layer's format: the catalogue's problem.<name>.title and .detail. */
static enum st problem_answer(struct http_req *req, struct http_resp *resp, unsigned status,
                              const char *name)
{
    const char *lang = http_req_lang(req);
    char tkey[96], dkey[96], type[96];
    snprintf(tkey, sizeof tkey, "problem.%s.title", name);
    snprintf(dkey, sizeof dkey, "problem.%s.detail", name);
    snprintf(type, sizeof type, "urn:entrepot:problem:%s", name);
    const char *path = http_req_path(req);
    json_t *o = json_pack(
        "{s:s, s:s, s:i, s:s, s:s, s:s}", "type", type, "title", i18n_get(lang, tkey), "status",
        (int)status, "detail", i18n_get(lang, dkey), "instance",
        path && utf8_valid(path, strlen(path)) ? path : "/", "request_id", http_req_id(req));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return ST_INTERNAL;
    enum st st = http_resp_bytes(resp, status, "application/problem+json", text, strlen(text));
    free(text);
    http_resp_header(resp, "Content-Language", lang);
    return st;
}

/* ---------------------------------------------------------------- export */

static enum st h_export(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    enum st st = http_req_db(req, &c);
    if (st != ST_OK)
        return st;
    json_t *o = NULL;
    st = privacy_export_request(c, uid_of(req), http_req_lang(req), &o);
    if (st == ST_CONFLICT)
        http_req_set_detail(req, i18n_get(http_req_lang(req), "privacy.export.busy"));
    else if (st == ST_RATELIMIT)
        http_req_set_detail(req, i18n_get(http_req_lang(req), "privacy.export.too_many"));
    return json_answer(resp, st, 202, o ? json_pack("{s:o}", "export", o) : NULL);
}

static enum st h_exports(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    enum st st = http_req_db(req, &c);
    if (st != ST_OK)
        return st;
    json_t *list = NULL;
    st = privacy_exports_list(c, uid_of(req), &list);
    return json_answer(resp, st, 200, list ? json_pack("{s:o}", "exports", list) : NULL);
}

static enum st h_download(struct http_req *req, struct http_resp *resp)
{
    int64_t id = 0;
    const char *p = http_req_param(req, "id");
    if (!p || parse_int64(p, 1, INT64_MAX, &id) != ST_OK)
        return ST_NOTFOUND;
    struct db_conn *c;
    enum st st = http_req_db(req, &c);
    if (st != ST_OK)
        return st;
    unsigned char *data = NULL;
    size_t len = 0;
    char name[64];
    st = privacy_export_fetch(c, uid_of(req), id, &data, &len, name);
    if (st == ST_CONFLICT)
        return problem_answer(req, resp, 410, "export-expired");
    if (st == ST_UNAVAILABLE) {
        http_req_set_detail(req, i18n_get(http_req_lang(req), "privacy.export.not_ready"));
        return ST_CONFLICT;
    }
    if (st != ST_OK)
        return st;
    st = http_resp_bytes(resp, 200, "application/zip", data, len);
    free(data);
    char disp[128];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", name);
    http_resp_header(resp, "Content-Disposition", disp);
    return st;
}

/* ---------------------------------------------------------------- cancellation */

static const char *body_str(struct http_req *req, const char *name)
{
    return json_string_value(json_object_get(http_req_body(req), name));
}

static enum st h_cancel(struct http_req *req, struct http_resp *resp)
{
    enum privacy_content content;
    if (!privacy_content_parse(body_str(req, "content"), &content))
        return http_field_error(req, "content", "choice", 0, 0, NULL);
    struct db_conn *c;
    enum st st = http_req_db(req, &c);
    if (st != ST_OK)
        return st;
    struct acc_client cl = {.ip = http_req_client_ip(req),
                            .user_agent = http_req_header(req, "User-Agent"),
                            .lang = http_req_lang(req),
                            .device = ""};
    struct acc_reauth ra = {.password = body_str(req, "current_password"),
                            .attempt = body_str(req, "attempt"),
                            .code = body_str(req, "code")};
    struct acc_error e = {0};
    st = accounts_reauth(c, &cl, uid_of(req), &ra, &e);
    if (st != ST_OK) {
        if (e.field && e.code)
            http_field_error(req, e.field, e.code, e.min, e.max, NULL);
        if (e.detail)
            http_req_set_detail(req, i18n_get(http_req_lang(req), e.detail));
        return st;
    }
    json_t *o = NULL;
    st = privacy_cancel_request(c, uid_of(req), content, http_req_lang(req), &o);
    if (st == ST_CONFLICT)
        http_req_set_detail(req, i18n_get(http_req_lang(req), "privacy.cancel.already"));
    return json_answer(resp, st, 202, o ? json_pack("{s:o}", "cancellation", o) : NULL);
}

static enum st h_cancel_status(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    enum st st = http_req_db(req, &c);
    if (st != ST_OK)
        return st;
    json_t *o = NULL;
    st = privacy_cancel_status(c, uid_of(req), &o);
    return json_answer(resp, st, 200, o ? json_pack("{s:o}", "cancellation", o) : NULL);
}

static enum st h_withdraw(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    enum st st = http_req_db(req, &c);
    if (st != ST_OK)
        return st;
    json_t *o = NULL;
    st = privacy_cancel_withdraw(c, uid_of(req), http_req_lang(req), &o);
    if (st == ST_NOTFOUND)
        http_req_set_detail(req, i18n_get(http_req_lang(req), "privacy.cancel.none"));
    return json_answer(resp, st, 200, o ? json_pack("{s:o}", "cancellation", o) : NULL);
}

/* ---------------------------------------------------------------- staff */

static enum st h_retention(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    enum st st = http_req_db(req, &c);
    if (st != ST_OK)
        return st;
    json_t *o = NULL;
    st = privacy_retention_rules(c, &o);
    return json_answer(resp, st, 200, o);
}

/* ---------------------------------------------------------------- routes */

static const struct field_spec cancel_body[] = {
    {.name = "content",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = 16,
     .help = "what happens to your public posts: delete, or anonymise (kept without your name)"},
    {.name = "current_password",
     .type = FT_STRING,
     .min = 1,
     .max = PASSWORD_MAX_CHARS,
     .help = "re-authentication: the current password..."},
    {.name = "attempt",
     .type = FT_STRING,
     .min = 1,
     .max = 64,
     .help = "...or the attempt of a fresh reauth code (POST /api/v1/me/codes)"},
    {.name = "code", .type = FT_STRING, .min = 1, .max = 16, .help = "...and that code"},
    {0},
};

static const struct route rights_routes[] = {
    {"POST", "/api/v1/me/export", h_export, POLICY_USER, .gate_exempt = true,
     .summary = "Ask for a copy of everything held about me (a zip, ready in seconds)"},
    {"GET", "/api/v1/me/exports", h_exports, POLICY_USER, .gate_exempt = true,
     .summary = "My exports and whether each can still be downloaded"},
    {"GET", "/api/v1/me/exports/{id}/download", h_download, POLICY_USER, .gate_exempt = true,
     .summary = "Download one of my exports (410 once it expired)"},
    {"POST", "/api/v1/me/cancel", h_cancel, POLICY_USER, .body = cancel_body, .gate_exempt = true,
     .summary = "Close my account after the cooling-off period (re-authentication needed)"},
    {"GET", "/api/v1/me/cancel", h_cancel_status, POLICY_USER, .gate_exempt = true,
     .summary = "My pending request to close the account, if any"},
    {"POST", "/api/v1/me/cancel/withdraw", h_withdraw, POLICY_USER, .gate_exempt = true,
     .summary = "Take back my request to close the account"},
    {"GET", "/api/v1/staff/privacy/retention", h_retention, POLICY_STAFF,
     .roles = STAFF_COMPLIANCE | STAFF_ADMIN | STAFF_OPERATIONS,
     .summary = "The retention rule of each data category and what its last run removed"},
};

void privacy_rights_api_register(void)
{
    http_routes_add(rights_routes, sizeof rights_routes / sizeof rights_routes[0]);
}
