/*
 * privacy_api.c — the privacy center over HTTP: policies (public), the
 * user's consent, receipts, purpose switches, disclosures, staff access
 * and inbox (/api/v1/me/privacy, /api/v1/me/inbox), staff publishing
 * (/api/v1/staff/policies), and the consent gate the HTTP layer runs.
 *
 * What stays open while the gate is closed is decided here, in one
 * place: every route of this file (gate_exempt), and the accounts routes
 * listed in OPEN_ROUTES. Other modules' routes that must stay open (the
 * export, cancellation) set .gate_exempt on their own table.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "consent.h"
#include "core/i18n.h"
#include "http/http.h"
#include "notify/notify.h"

/* Routes of the accounts module a user who must accept may still call:
 * signing out, and reading their own account (the web app needs it to
 * show anything at all). */
static const char *const OPEN_ROUTES[][2] = {
    {"POST", "/api/v1/auth/logout"},
    {"POST", "/api/v1/auth/logout-all"},
    {"GET", "/api/v1/me"},
};

/* ---------------------------------------------------------------- the gate */

static enum st consent_gate(struct http_req *req, const char **problem)
{
    int64_t uid = http_req_identity(req)->user_id;
    bool blocked = false;
    enum st st = privacy_gate_cached(uid, &blocked);
    if (st == ST_NOTFOUND) {
        struct db_conn *c;
        if (http_req_db(req, &c) != ST_OK)
            return ST_UNAVAILABLE;
        st = privacy_gate_check(c, uid, &blocked);
    }
    if (st == ST_NOTFOUND) /* the account is gone: its session will fail elsewhere */
        return ST_OK;
    if (st != ST_OK)
        return ST_UNAVAILABLE;
    if (!blocked)
        return ST_OK;
    *problem = "consent-required";
    return ST_FORBIDDEN;
}

/* ---------------------------------------------------------------- helpers */

static int64_t uid_of(struct http_req *req)
{
    return http_req_identity(req)->user_id;
}

static json_t *body_get(struct http_req *req, const char *name)
{
    return json_object_get(http_req_body(req), name);
}

static enum st path_id(struct http_req *req, int64_t *id)
{
    const char *s = http_req_param(req, "id");
    return s && parse_int64(s, 1, INT64_MAX, id) == ST_OK ? ST_OK : ST_NOTFOUND;
}

/* The before/limit query parameters (validated by the layer). */
static void page_args(struct http_req *req, int64_t *before, int *limit)
{
    int64_t b = 0, l = 50;
    const char *q = http_req_query(req, "before");
    if (q)
        parse_int64(q, 1, INT64_MAX, &b);
    q = http_req_query(req, "limit");
    if (q)
        parse_int64(q, 1, PRIVACY_LIST_MAX, &l);
    *before = b;
    *limit = (int)l;
}

/* {name: list, "next_before": cursor|null}, or the problem for st. */
static enum st page_answer(struct http_resp *resp, enum st st, const char *name, json_t *list,
                           int64_t next)
{
    if (st != ST_OK)
        return st;
    return http_resp_json(resp, 200,
                          json_pack("{s:o, s:o}", name, list, "next_before",
                                    next ? json_integer(next) : json_null()));
}

/* One of the caller's "newest first" lists, paged by before/limit. */
typedef enum st (*page_fn)(struct db_conn *c, int64_t user_id, int64_t before, int limit,
                           json_t **out, int64_t *next);

static enum st paged(struct http_req *req, struct http_resp *resp, page_fn fn, const char *name)
{
    struct db_conn *c;
    int64_t before, next = 0;
    int limit;
    json_t *a = NULL;
    page_args(req, &before, &limit);
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = fn(c, uid_of(req), before, limit, &a, &next);
    return page_answer(resp, st, name, a, next);
}

static enum st json_answer(struct http_resp *resp, enum st st, unsigned status, json_t *o)
{
    if (st != ST_OK) {
        json_decref(o);
        return st;
    }
    return http_resp_json(resp, status, o);
}

/* A domain refusal as a field error (the layer already checked lengths). */
static enum st refused(struct http_req *req, enum st st, const struct privacy_error *e)
{
    if (st == ST_INVALID && e->field)
        http_field_error(req, e->field, e->code, 0, 0, NULL);
    return st;
}

/* The language a text is asked in: ?lang= (any supported tag) or the
 * request's. ST_INVALID (field lang) for an unsupported one. */
static enum st lang_of(struct http_req *req, const char *given, const char **out)
{
    *out = http_req_lang(req);
    if (!given)
        return ST_OK;
    *out = i18n_match(given, strlen(given));
    return *out ? ST_OK : http_field_error(req, "lang", "choice", 0, 0, NULL);
}

static struct consent_client client_of(struct http_req *req)
{
    return (struct consent_client){
        .ip = http_req_client_ip(req),
        .user_agent = http_req_header(req, "User-Agent"),
        .channel = http_req_identity(req)->via_cookie ? CHANNEL_WEB : CHANNEL_APP,
    };
}

/* The role a staff member acts in on these routes, for the audit log. */
static const char *staff_role(struct http_req *req)
{
    unsigned r = http_req_identity(req)->staff_roles;
    return r & STAFF_COMPLIANCE ? "compliance"
           : r & STAFF_ADMIN    ? "administrator"
           : r & STAFF_SUPPORT  ? "support"
                                : "operations";
}

/* ---------------------------------------------------------------- public */

static enum st h_policies(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    json_t *o = NULL;
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_policies_list(c, &o);
    return json_answer(resp, st, 200, o);
}

static enum st h_policy(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    int64_t id;
    const char *lang;
    json_t *o = NULL;
    enum st st = path_id(req, &id);
    if (st == ST_OK)
        st = lang_of(req, http_req_query(req, "lang"), &lang);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_policy_get(c, id, lang, &o);
    return json_answer(resp, st, 200, o);
}

/* ---------------------------------------------------------------- consent */

static enum st h_consent(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    json_t *o = NULL;
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_consent_state(c, uid_of(req), http_req_lang(req), &o);
    return json_answer(resp, st, 200, o);
}

static enum st h_accept(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    const char *lang;
    json_t *o = NULL;
    bool created = false;
    struct privacy_error e = {0};
    struct consent_client cl = client_of(req);
    int64_t vid = json_integer_value(body_get(req, "version_id"));
    enum st st = lang_of(req, json_string_value(body_get(req, "lang")), &lang);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_policy_accept(c, uid_of(req), vid, lang, &cl, &o, &created, &e);
    if (st == ST_NOTFOUND) /* a version id that does not exist is a bad field */
        return http_field_error(req, "version_id", "choice", 0, 0, NULL);
    st = refused(req, st, &e);
    return json_answer(resp, st, created ? 201 : 200,
                       st == ST_OK ? json_pack("{s:o}", "receipt", o) : o);
}

static enum st h_receipts(struct http_req *req, struct http_resp *resp)
{
    return paged(req, resp, privacy_receipts_list, "receipts");
}

/* ---------------------------------------------------------------- purposes */

static enum st h_purposes(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    json_t *o = NULL;
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_purposes_list(c, uid_of(req), &o);
    return json_answer(resp, st, 200, o);
}

static enum st purpose_call(struct http_req *req, struct http_resp *resp, bool set)
{
    struct db_conn *c;
    enum privacy_purpose p;
    json_t *o = NULL;
    if (!privacy_purpose_parse(http_req_param(req, "purpose"), &p))
        return ST_NOTFOUND;
    enum st st = http_req_db(req, &c);
    if (st == ST_OK && set)
        st = privacy_purpose_set(c, uid_of(req), p, json_is_true(body_get(req, "on")),
                                 client_of(req).channel, &o);
    else if (st == ST_OK)
        st = privacy_purpose_get(c, uid_of(req), p, &o);
    return json_answer(resp, st, 200, o);
}

static enum st h_purpose(struct http_req *req, struct http_resp *resp)
{
    return purpose_call(req, resp, false);
}

static enum st h_purpose_put(struct http_req *req, struct http_resp *resp)
{
    return purpose_call(req, resp, true);
}

static enum st h_purpose_history(struct http_req *req, struct http_resp *resp)
{
    return paged(req, resp, privacy_purpose_history, "changes");
}

/* ---------------------------------------------------------------- who received my data */

static enum st h_disclosures(struct http_req *req, struct http_resp *resp)
{
    int64_t before;
    int limit;
    json_t *a = NULL;
    page_args(req, &before, &limit);
    if (limit > NOTIFY_LIST_MAX)
        limit = NOTIFY_LIST_MAX;
    enum st st = notify_disclosures_list(http_req_database(req), uid_of(req), before, limit, &a);
    /* A full page may have more behind it; the last id is the cursor. */
    int64_t next = st == ST_OK && json_array_size(a) == (size_t)limit
                       ? json_integer_value(json_object_get(json_array_get(a, limit - 1), "id"))
                       : 0;
    return page_answer(resp, st, "disclosures", a, next);
}

static enum st h_staff_access(struct http_req *req, struct http_resp *resp)
{
    return paged(req, resp, privacy_staff_accesses, "accesses");
}

/* ---------------------------------------------------------------- inbox */

static enum st h_inbox(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    int64_t before, next = 0, unread = 0;
    int limit;
    json_t *a = NULL;
    page_args(req, &before, &limit);
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_inbox_list(c, uid_of(req), before, limit, &a, &next, &unread);
    if (st != ST_OK)
        return st;
    return http_resp_json(resp, 200,
                          json_pack("{s:o, s:o, s:I}", "items", a, "next_before",
                                    next ? json_integer(next) : json_null(), "unread",
                                    (json_int_t)unread));
}

static enum st h_inbox_read(struct http_req *req, struct http_resp *resp)
{
    (void)resp;
    struct db_conn *c;
    int64_t id;
    enum st st = path_id(req, &id);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_inbox_read(c, uid_of(req), id);
    return st; /* 204 */
}

/* ---------------------------------------------------------------- staff */

static enum st h_publish(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    json_t *o = NULL;
    struct privacy_error e = {0};
    struct policy_new p = {
        .material = json_is_true(body_get(req, "material")),
        .effective_at = json_integer_value(body_get(req, "effective_at")),
        .lang = json_string_value(body_get(req, "lang")),
        .title = json_string_value(body_get(req, "title")),
        .body = json_string_value(body_get(req, "body")),
        .staff_id = uid_of(req),
        .staff_role = staff_role(req),
        .ip = http_req_client_ip(req),
    };
    if (!privacy_doc_parse(json_string_value(body_get(req, "document")), &p.doc))
        return http_field_error(req, "document", "choice", 0, 0, NULL);
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = refused(req, privacy_policy_publish(c, &p, &o, &e), &e);
    return json_answer(resp, st, 201, o);
}

static enum st h_text_add(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    int64_t id;
    json_t *o = NULL;
    struct privacy_error e = {0};
    enum st st = path_id(req, &id);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = refused(req,
                     privacy_policy_text_add(c, id, http_req_param(req, "lang"),
                                             json_string_value(body_get(req, "title")),
                                             json_string_value(body_get(req, "body")), uid_of(req),
                                             staff_role(req), http_req_client_ip(req), &o, &e),
                     &e);
    return json_answer(resp, st, 201, o);
}

/* A staff view of one user's consent (to answer a complaint or a support
 * question): a read of personal data, so it needs a reason and is
 * written to the audit log, which the user then sees. */
static enum st h_staff_user_consent(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    int64_t uid, next = 0;
    json_t *state = NULL, *purposes = NULL, *receipts = NULL;
    enum st st = path_id(req, &uid);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_consent_state(c, uid, http_req_lang(req), &state);
    if (st == ST_OK)
        st = privacy_purposes_list(c, uid, &purposes);
    if (st == ST_OK)
        st = privacy_receipts_list(c, uid, 0, PRIVACY_LIST_MAX, &receipts, &next);
    if (st == ST_OK) {
        struct audit_entry e = {
            .actor_id = uid_of(req),
            .actor_role = staff_role(req),
            .action = "staff.read_personal_data",
            .subject_user_id = uid,
            .fields = "policy_acceptances,purpose_settings",
            .reason = http_req_query(req, "reason"),
            .ip = http_req_client_ip(req),
        };
        st = audit_append_tx(http_req_database(req), &e, NULL);
    }
    if (st != ST_OK) {
        json_decref(state);
        json_decref(purposes);
        json_decref(receipts);
        return st;
    }
    st = http_resp_json(resp, 200,
                        json_pack("{s:I, s:o, s:O, s:o}", "user_id", (json_int_t)uid, "consent",
                                  state, "purposes", json_object_get(purposes, "purposes"),
                                  "receipts", receipts));
    json_decref(purposes);
    return st;
}

/* ---------------------------------------------------------------- declarations */

#define PAGE_QUERY(what)                                                                           \
    static const struct field_spec what[] = {                                                      \
        {.name = "before",                                                                         \
         .type = FT_INT,                                                                           \
         .min = 1,                                                                                 \
         .max = INT64_MAX,                                                                         \
         .help = "rows older than this id (the next_before of the previous page)"},                \
        {.name = "limit",                                                                          \
         .type = FT_INT,                                                                           \
         .min = 1,                                                                                 \
         .max = PRIVACY_LIST_MAX,                                                                  \
         .help = "page size (50)"},                                                                \
        {0},                                                                                       \
    }
PAGE_QUERY(page_query);

static const struct field_spec policy_query[] = {
    {.name = "lang",
     .type = FT_STRING,
     .min = 2,
     .max = 16,
     .help = "language of the text (default: Accept-Language); English, then any, when missing"},
    {0},
};

static const struct field_spec accept_body[] = {
    {.name = "version_id",
     .type = FT_INT,
     .required = true,
     .min = 1,
     .max = INT64_MAX,
     .help = "the version accepted: the one in force, or one published to take effect later"},
    {.name = "lang",
     .type = FT_STRING,
     .min = 2,
     .max = 16,
     .help = "the language the text was shown in (default: Accept-Language)"},
    {0},
};

static const struct field_spec purpose_body[] = {
    {.name = "on", .type = FT_BOOL, .required = true, .help = "true: I agree; false: I withdraw"},
    {0},
};

#define F_TITLE                                                                                    \
    {                                                                                              \
        .name = "title", .type = FT_STRING, .required = true, .min = 1, .max = POLICY_TITLE_MAX,   \
        .help = "the document's title in this language"                                            \
    }
#define F_BODY                                                                                     \
    {                                                                                              \
        .name = "body", .type = FT_STRING, .required = true, .min = 1, .max = POLICY_BODY_MAX,     \
        .help = "the full text (plain text; blank lines separate paragraphs)"                      \
    }

static const struct field_spec publish_body[] = {
    {.name = "document",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = 16,
     .help = "privacy (the privacy policy) or terms"},
    {.name = "material",
     .type = FT_BOOL,
     .required = true,
     .help = "true: every user must accept it before going on"},
    {.name = "effective_at",
     .type = FT_INT,
     .min = 0,
     .max = INT64_MAX,
     .help = "when it takes effect, ms since the epoch, not in the past (default: now)"},
    {.name = "lang",
     .type = FT_STRING,
     .required = true,
     .min = 2,
     .max = 16,
     .help = "language of this text: en, zh-Hans, zh-Hant or fr"},
    F_TITLE,
    F_BODY,
    {0},
};

static const struct field_spec text_body[] = {F_TITLE, F_BODY, {0}};

static const struct field_spec staff_read_query[] = {
    {.name = "reason",
     .type = FT_STRING,
     .required = true,
     .min = 5,
     .max = 500,
     .help = "why you need it (ticket number...): written to the audit log the user sees"},
    {0},
};

#define STAFF_POLICY_ROLES (STAFF_COMPLIANCE | STAFF_ADMIN)

static const struct route privacy_routes[] = {
    {"GET", "/api/v1/policies", h_policies, POLICY_PUBLIC,
     .summary = "Every published policy version (the archive), newest first"},
    {"GET", "/api/v1/policies/{id}", h_policy, POLICY_PUBLIC, .query = policy_query,
     .summary = "One policy version with its text"},
    {"GET", "/api/v1/me/privacy/consent", h_consent, POLICY_USER, .gate_exempt = true,
     .summary = "My consent to each document: the version in force, the one I accepted, whether "
                "I must accept"},
    {"POST", "/api/v1/me/privacy/consent", h_accept, POLICY_USER, .body = accept_body,
     .gate_exempt = true, .summary = "Accept a policy version; the receipt is kept"},
    {"GET", "/api/v1/me/privacy/receipts", h_receipts, POLICY_USER, .query = page_query,
     .gate_exempt = true, .summary = "My consent receipts, newest first"},
    {"GET", "/api/v1/me/privacy/purposes", h_purposes, POLICY_USER, .gate_exempt = true,
     .summary = "My switch for each optional purpose"},
    {"GET", "/api/v1/me/privacy/purposes/{purpose}", h_purpose, POLICY_USER, .gate_exempt = true,
     .summary = "One purpose switch"},
    {"PUT", "/api/v1/me/privacy/purposes/{purpose}", h_purpose_put, POLICY_USER,
     .body = purpose_body, .gate_exempt = true,
     .summary = "Turn a purpose on or off, from the next request on"},
    {"GET", "/api/v1/me/privacy/purpose-history", h_purpose_history, POLICY_USER,
     .query = page_query, .gate_exempt = true,
     .summary = "Every change of my purpose switches, newest first"},
    {"GET", "/api/v1/me/privacy/disclosures", h_disclosures, POLICY_USER, .query = page_query,
     .gate_exempt = true, .summary = "Who received my data: the disclosure ledger, newest first"},
    {"GET", "/api/v1/me/privacy/staff-access", h_staff_access, POLICY_USER, .query = page_query,
     .gate_exempt = true,
     .summary = "Staff access to my data (role, action, fields, purpose), newest first"},
    {"GET", "/api/v1/me/inbox", h_inbox, POLICY_USER, .query = page_query, .gate_exempt = true,
     .summary = "My in-app notices, newest first"},
    {"POST", "/api/v1/me/inbox/{id}/read", h_inbox_read, POLICY_USER, .gate_exempt = true,
     .summary = "Mark a notice read"},
    {"POST", "/api/v1/staff/policies", h_publish, POLICY_STAFF, .body = publish_body,
     .roles = STAFF_POLICY_ROLES,
     .summary = "Publish a policy version (users are notified; material ones must be accepted)"},
    {"PUT", "/api/v1/staff/policies/{id}/texts/{lang}", h_text_add, POLICY_STAFF, .body = text_body,
     .roles = STAFF_POLICY_ROLES,
     .summary = "Add a version's text in another language (never replaced)"},
    {"GET", "/api/v1/staff/users/{id}/consent", h_staff_user_consent, POLICY_STAFF,
     .query = staff_read_query, .roles = STAFF_SUPPORT | STAFF_COMPLIANCE | STAFF_ADMIN,
     .summary = "A user's consent, receipts and purposes (audited, shown to the user)"},
};

void privacy_api_register(void)
{
    http_routes_add(privacy_routes, sizeof privacy_routes / sizeof privacy_routes[0]);
    for (size_t i = 0; i < sizeof OPEN_ROUTES / sizeof OPEN_ROUTES[0]; i++)
        http_gate_exempt(OPEN_ROUTES[i][0], OPEN_ROUTES[i][1]);
    http_set_gate(consent_gate);
}
