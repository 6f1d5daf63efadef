/*
 * requests_api.c — the privacy center's requests over HTTP: a user's
 * complaints and objections, corrections and the security incidents that
 * concern them (/api/v1/me/privacy/...), and the staff queues that
 * handle them with the breach register and the working-day calendar
 * (/api/v1/staff/privacy/...).
 *
 * Every route here is part of the privacy center, so the user's ones stay
 * open while the consent gate is closed (gate_exempt), as privacy_api.c
 * decides for its own. Each staff route names the roles that may call it:
 * complaints and corrections for support and compliance, minors and
 * breaches for compliance; administrators everywhere.
 */
#include <stdio.h>
#include <string.h>

#include "http/http.h"
#include "privacy.h"
#include "requests.h"

#define STAFF_QUEUE_ROLES (STAFF_SUPPORT | STAFF_COMPLIANCE | STAFF_ADMIN)
#define STAFF_DPO_ROLES   (STAFF_COMPLIANCE | STAFF_ADMIN)
#define STAFF_ALL_ROLES   (STAFF_SUPPORT | STAFF_OPERATIONS | STAFF_COMPLIANCE | STAFF_ADMIN)

/* ---------------------------------------------------------------- helpers */

static int64_t uid_of(struct http_req *req)
{
    return http_req_identity(req)->user_id;
}

static const char *body_str(struct http_req *req, const char *name)
{
    return json_string_value(json_object_get(http_req_body(req), name));
}

static enum st path_id(struct http_req *req, int64_t *id)
{
    const char *s = http_req_param(req, "id");
    return s && parse_int64(s, 1, INT64_MAX, id) == ST_OK ? ST_OK : ST_NOTFOUND;
}

/* The staff member acting, in the role this route uses them in. */
static struct privacy_actor actor_of(struct http_req *req)
{
    unsigned r = http_req_identity(req)->staff_roles;
    return (struct privacy_actor){
        .id = uid_of(req),
        .role = r & STAFF_COMPLIANCE ? "compliance"
                : r & STAFF_ADMIN    ? "administrator"
                : r & STAFF_SUPPORT  ? "support"
                                     : "operations",
        .ip = http_req_client_ip(req),
    };
}

static enum st answer(struct http_resp *resp, enum st st, unsigned status, json_t *o)
{
    if (st != ST_OK) {
        json_decref(o);
        return st;
    }
    return http_resp_json(resp, status, o);
}

/* A domain refusal as a field error. */
static enum st refused(struct http_req *req, enum st st, const struct privacy_error *e)
{
    if (st == ST_INVALID && e->field)
        return http_field_error(req, e->field, e->code, 0, 0, NULL);
    return st;
}

/* The ?state= of a queue (validated as a string by the layer). */
static enum st state_of(struct http_req *req, enum prq_state *out)
{
    return privacy_queue_state_parse(http_req_query(req, "state"), out)
               ? ST_OK
               : http_field_error(req, "state", "choice", 0, 0, NULL);
}

/* Runs fn(c, id, actor) for a route with an {id}. */
typedef enum st (*staff_id_fn)(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                               json_t **out);

static enum st staff_by_id(struct http_req *req, struct http_resp *resp, staff_id_fn fn)
{
    struct db_conn *c;
    int64_t id;
    json_t *o = NULL;
    struct privacy_actor a = actor_of(req);
    enum st st = path_id(req, &id);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = fn(c, &a, id, &o);
    return answer(resp, st, 200, o);
}

/* ---------------------------------------------------------------- my tickets */

static enum st h_ticket_new(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    json_t *o = NULL;
    struct privacy_error e = {0};
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = refused(req,
                     privacy_ticket_create(c, uid_of(req), body_str(req, "kind"),
                                           body_str(req, "purpose"), body_str(req, "body"), &o, &e),
                     &e);
    return answer(resp, st, 201, o);
}

static enum st h_tickets_mine(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    int64_t before = 0, limit = 50, next = 0;
    const char *q = http_req_query(req, "before");
    if (q)
        parse_int64(q, 1, INT64_MAX, &before);
    q = http_req_query(req, "limit");
    if (q)
        parse_int64(q, 1, PRIVACY_LIST_MAX, &limit);
    json_t *a = NULL;
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_tickets_mine(c, uid_of(req), before, (int)limit, &a, &next);
    return answer(resp, st, 200,
                  st == ST_OK ? json_pack("{s:o, s:o}", "tickets", a, "next_before",
                                          next ? json_integer(next) : json_null())
                              : NULL);
}

static enum st h_ticket_mine(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    int64_t id;
    json_t *o = NULL;
    enum st st = path_id(req, &id);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_ticket_get(c, uid_of(req), id, &o);
    return answer(resp, st, 200, o);
}

static enum st h_ticket_message(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    int64_t id;
    json_t *o = NULL;
    enum st st = path_id(req, &id);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_ticket_message(c, uid_of(req), id, body_str(req, "body"), &o);
    return answer(resp, st, 201, o);
}

/* ---------------------------------------------------------------- my corrections and incidents */

static enum st h_correction_new(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    json_t *o = NULL;
    struct privacy_error e = {0};
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = refused(req,
                     privacy_correction_create(c, uid_of(req), body_str(req, "field"),
                                               body_str(req, "value"), body_str(req, "evidence"),
                                               &o, &e),
                     &e);
    return answer(resp, st, 201, o);
}

typedef enum st (*mine_fn)(struct db_conn *c, int64_t user_id, json_t **out);

static enum st mine(struct http_req *req, struct http_resp *resp, mine_fn fn)
{
    struct db_conn *c;
    json_t *o = NULL;
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = fn(c, uid_of(req), &o);
    return answer(resp, st, 200, o);
}

static enum st h_corrections_mine(struct http_req *req, struct http_resp *resp)
{
    return mine(req, resp, privacy_corrections_mine);
}

static enum st h_breaches_mine(struct http_req *req, struct http_resp *resp)
{
    return mine(req, resp, privacy_breaches_mine);
}

/* ---------------------------------------------------------------- staff: calendar */

static enum st h_calendar(struct http_req *req, struct http_resp *resp)
{
    (void)req;
    const struct workdays *w = workdays_get();
    int64_t now = clock_now_ms(), today = workdays_day(w, now);
    char d[16];
    json_t *hol = json_array(), *mk = json_array(), *next = json_array();
    for (size_t i = 0; i < w->nholidays; i++) {
        workdays_date_format(w->holidays[i], d);
        json_array_append_new(hol, json_string(d));
    }
    for (size_t i = 0; i < w->nmakeup; i++) {
        workdays_date_format(w->makeup[i], d);
        json_array_append_new(mk, json_string(d));
    }
    for (int64_t day = today; day < today + 21; day++) {
        workdays_date_format(day, d);
        json_array_append_new(next, json_pack("{s:s, s:i, s:b, s:b, s:b}", "date", d, "weekday",
                                              workdays_weekday(day), "working",
                                              workdays_is_working(w, day), "holiday",
                                              workdays_is_holiday(w, day), "makeup",
                                              workdays_is_makeup(w, day)));
    }
    workdays_date_format(today, d);
    return http_resp_json(
        resp, 200,
        json_pack("{s:i, s:s, s:I, s:o, s:o, s:o, s:{s:I, s:I, s:I}}", "utc_offset_minutes",
                  w->offset_min, "today", d, "now", (json_int_t)now, "holidays", hol, "makeup_days",
                  mk, "next_days", next, "deadlines_if_filed_now", "acknowledge",
                  (json_int_t)workdays_add(w, now, PRQ_ACK_WORKDAYS), "resolve",
                  (json_int_t)workdays_add(w, now, PRQ_RESOLVE_WORKDAYS), "correction",
                  (json_int_t)workdays_add(w, now, PRQ_CORRECTION_WORKDAYS)));
}

/* ---------------------------------------------------------------- staff: tickets */

typedef enum st (*queue_fn)(struct db_conn *c, enum prq_state state, json_t **out);

static enum st staff_queue(struct http_req *req, struct http_resp *resp, queue_fn fn)
{
    struct db_conn *c;
    enum prq_state state;
    json_t *o = NULL;
    enum st st = state_of(req, &state);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = fn(c, state, &o);
    return answer(resp, st, 200, o);
}

static enum st h_tickets_queue(struct http_req *req, struct http_resp *resp)
{
    return staff_queue(req, resp, privacy_tickets_queue);
}

static enum st h_ticket_staff(struct http_req *req, struct http_resp *resp)
{
    return staff_by_id(req, resp, privacy_ticket_staff_get);
}

static enum st ticket_act(struct http_req *req, struct http_resp *resp, enum prq_action action)
{
    struct db_conn *c;
    int64_t id;
    json_t *o = NULL;
    struct privacy_actor a = actor_of(req);
    enum st st = path_id(req, &id);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_ticket_act(c, &a, id, action, body_str(req, "body"), &o);
    return answer(resp, st, 200, o);
}

static enum st h_ticket_ack(struct http_req *req, struct http_resp *resp)
{
    return ticket_act(req, resp, PRQ_ACKNOWLEDGE);
}

static enum st h_ticket_reply(struct http_req *req, struct http_resp *resp)
{
    return ticket_act(req, resp, PRQ_REPLY);
}

static enum st h_ticket_resolve(struct http_req *req, struct http_resp *resp)
{
    return ticket_act(req, resp, PRQ_RESOLVE);
}

/* ---------------------------------------------------------------- staff: corrections */

static enum st h_corrections_queue(struct http_req *req, struct http_resp *resp)
{
    return staff_queue(req, resp, privacy_corrections_queue);
}

static enum st h_correction_staff(struct http_req *req, struct http_resp *resp)
{
    return staff_by_id(req, resp, privacy_correction_staff_get);
}

static enum st correction_decide(struct http_req *req, struct http_resp *resp, bool approve)
{
    struct db_conn *c;
    int64_t id;
    json_t *o = NULL;
    struct privacy_actor a = actor_of(req);
    enum st st = path_id(req, &id);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_correction_decide(c, &a, id, approve, approve ? NULL : body_str(req, "reason"),
                                       &o);
    return answer(resp, st, 200, o);
}

static enum st h_correction_approve(struct http_req *req, struct http_resp *resp)
{
    return correction_decide(req, resp, true);
}

static enum st h_correction_reject(struct http_req *req, struct http_resp *resp)
{
    return correction_decide(req, resp, false);
}

/* ---------------------------------------------------------------- staff: minors */

/* A staff list that takes no argument. */
typedef enum st (*list_fn)(struct db_conn *c, json_t **out);

static enum st listed(struct http_req *req, struct http_resp *resp, list_fn fn)
{
    struct db_conn *c;
    json_t *o = NULL;
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = fn(c, &o);
    return answer(resp, st, 200, o);
}

static enum st h_minors(struct http_req *req, struct http_resp *resp)
{
    return listed(req, resp, privacy_minors_list);
}

static enum st h_minor_new(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    json_t *o = NULL;
    struct privacy_actor a = actor_of(req);
    int64_t uid = json_integer_value(json_object_get(http_req_body(req), "user_id"));
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_minor_request(c, &a, uid, body_str(req, "guardian_contact"),
                                   body_str(req, "evidence"), &o);
    if (st == ST_NOTFOUND) /* the account named does not exist (or is closed) */
        return http_field_error(req, "user_id", "choice", 0, 0, NULL);
    return answer(resp, st, 201, o);
}

static enum st h_minor(struct http_req *req, struct http_resp *resp)
{
    return staff_by_id(req, resp, privacy_minor_get);
}

/* ---------------------------------------------------------------- staff: breaches */

static enum st h_breaches(struct http_req *req, struct http_resp *resp)
{
    return listed(req, resp, privacy_breaches_list);
}

static enum st h_breach_new(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    json_t *o = NULL, *body = http_req_body(req);
    struct privacy_error e = {0};
    struct privacy_actor a = actor_of(req);
    struct breach_new b = {
        .title = body_str(req, "title"),
        .description = body_str(req, "description"),
        .cause = body_str(req, "cause"),
        .impact = body_str(req, "impact"),
        .detected_at = json_integer_value(json_object_get(body, "detected_at")),
        .occurred_at = json_integer_value(json_object_get(body, "occurred_at")),
        .major = json_is_true(json_object_get(body, "major")),
        .categories = json_object_get(body, "categories"),
        .measures = body_str(req, "measures"),
        .user_advice = body_str(req, "user_advice"),
        .contact = body_str(req, "contact"),
        .user_ids = json_object_get(body, "user_ids"),
        .all_users = json_is_true(json_object_get(body, "all_users")),
    };
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = refused(req, privacy_breach_open(c, &a, &b, &o, &e), &e);
    return answer(resp, st, 201, o);
}

static enum st h_breach(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    int64_t id;
    json_t *o = NULL;
    enum st st = path_id(req, &id);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_breach_get(c, id, &o);
    return answer(resp, st, 200, o);
}

static enum st h_breach_patch(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    int64_t id;
    json_t *o = NULL;
    struct privacy_error e = {0};
    struct privacy_actor a = actor_of(req);
    enum st st = path_id(req, &id);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = refused(req, privacy_breach_update(c, &a, id, http_req_body(req), &o, &e), &e);
    return answer(resp, st, 200, o);
}

static enum st h_breach_affected(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    int64_t id, added = 0;
    json_t *o = NULL;
    struct privacy_error e = {0};
    struct privacy_actor a = actor_of(req);
    const json_t *body = http_req_body(req);
    enum st st = path_id(req, &id);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = refused(req,
                     privacy_breach_affected_add(c, &a, id, json_object_get(body, "user_ids"),
                                                 json_is_true(json_object_get(body, "all_users")),
                                                 &added, &e),
                     &e);
    if (st == ST_OK)
        st = privacy_breach_get(c, id, &o);
    if (st == ST_OK)
        json_object_set_new(o, "added", json_integer(added));
    return answer(resp, st, 200, o);
}

static enum st h_breach_notify(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    int64_t id, queued = 0;
    struct privacy_actor a = actor_of(req);
    enum st st = path_id(req, &id);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_breach_notify(c, &a, id, &queued);
    return answer(resp, st, 202, json_pack("{s:I}", "queued", (json_int_t)queued));
}

static enum st h_breach_reported(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    int64_t id;
    json_t *o = NULL;
    struct privacy_actor a = actor_of(req);
    enum st st = path_id(req, &id);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_breach_reported(c, &a, id, body_str(req, "reference"), &o);
    return answer(resp, st, 200, o);
}

static enum st h_breach_report(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    int64_t id;
    char *doc = NULL;
    size_t len = 0;
    const char *format = http_req_query(req, "format");
    bool html = !format || strcmp(format, "html") == 0;
    if (format && !html && strcmp(format, "text") != 0)
        return http_field_error(req, "format", "choice", 0, 0, NULL);
    struct privacy_actor a = actor_of(req);
    enum st st = path_id(req, &id);
    if (st == ST_OK)
        st = http_req_db(req, &c);
    if (st == ST_OK)
        st = privacy_breach_report(c, &a, id, html, &doc, &len);
    if (st != ST_OK)
        return st;
    char disp[96];
    snprintf(disp, sizeof disp, "attachment; filename=\"breach-%lld-report.%s\"", (long long)id,
             html ? "html" : "txt");
    http_resp_header(resp, "Content-Disposition", disp);
    st = http_resp_bytes(resp, 200, html ? "text/html; charset=utf-8" : "text/plain; charset=utf-8",
                         doc, len);
    xfree(doc);
    return st;
}

/* ---------------------------------------------------------------- declarations */

static const struct field_spec page_query[] = {
    {.name = "before",
     .type = FT_INT,
     .min = 1,
     .max = INT64_MAX,
     .help = "rows older than this id (the next_before of the previous page)"},
    {.name = "limit", .type = FT_INT, .min = 1, .max = PRIVACY_LIST_MAX, .help = "page size (50)"},
    {0},
};

static const struct field_spec state_query[] = {
    {.name = "state",
     .type = FT_STRING,
     .min = 1,
     .max = 16,
     .help = "open (default: not finished, next deadline first), overdue, closed or all"},
    {0},
};

static const struct field_spec report_query[] = {
    {.name = "format", .type = FT_STRING, .min = 1, .max = 8, .help = "html (default) or text"},
    {0},
};

#define F_BODY(req, what)                                                                          \
    {                                                                                              \
        .name = "body", .type = FT_STRING, .required = (req), .min = 1, .max = PRQ_TEXT_MAX,       \
        .help = (what)                                                                             \
    }

static const struct field_spec ticket_body[] = {
    {.name = "kind",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = 16,
     .help = "complaint, objection, access (a question about my data) or other"},
    {.name = "purpose",
     .type = FT_STRING,
     .min = 1,
     .max = 32,
     .help = "the purpose it is about: a purpose switch (marketing_email...) or a purpose of the "
             "data inventory (account, security...)"},
    F_BODY(true, "what happened and what I ask for"),
    {0},
};

static const struct field_spec message_body[] = {F_BODY(true, "the message"), {0}};
static const struct field_spec ack_body[] = {F_BODY(false, "a first reply to the user"), {0}};
static const struct field_spec resolve_body[] = {
    F_BODY(true, "the outcome, as the user will read it"), {0}};

static const struct field_spec correction_body[] = {
    {.name = "field",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = 32,
     .help = "real_name, company_name, credit_code, company_address or legal_representative"},
    {.name = "value",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = PRQ_VALUE_MAX,
     .help = "the correct value"},
    {.name = "evidence",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = PRQ_EVIDENCE_MAX,
     .help = "why it is correct: the document that shows it"},
    {0},
};

static const struct field_spec reject_body[] = {
    {.name = "reason",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = PRQ_REASON_MAX,
     .help = "why, as the user will read it"},
    {0},
};

static const struct field_spec minor_body[] = {
    {.name = "user_id",
     .type = FT_INT,
     .required = true,
     .min = 1,
     .max = INT64_MAX,
     .help = "the minor's account"},
    {.name = "guardian_contact",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = PRQ_CONTACT_MAX,
     .help = "how to reach the guardian who asked"},
    {.name = "evidence",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = PRQ_EVIDENCE_MAX,
     .help = "the evidence seen (documents checked), without copying ID numbers"},
    {0},
};

#define F_TEXT(n, req, cap, what)                                                                  \
    {                                                                                              \
        .name = (n), .type = FT_STRING, .required = (req), .min = (req) ? 1 : 0, .max = (cap),     \
        .help = (what)                                                                             \
    }
#define F_CATEGORIES(req)                                                                          \
    {                                                                                              \
        .name = "categories", .type = FT_STRING_ARRAY, .required = (req), .min = 1, .max = 32,     \
        .max_items = PD_CATEGORY__COUNT,                                                           \
        .help = "categories of personal data involved (contact, identity... as the inventory)"     \
    }
#define F_USERS                                                                                    \
    {.name = "user_ids",                                                                           \
     .type = FT_STRING_ARRAY,                                                                      \
     .min = 1,                                                                                     \
     .max = 19,                                                                                    \
     .max_items = BREACH_AFFECTED_MAX,                                                             \
     .help = "account numbers of the affected users"},                                             \
    {                                                                                              \
        .name = "all_users", .type = FT_BOOL, .help = "every open account is affected"             \
    }

#define BREACH_TEXTS(req)                                                                          \
    F_TEXT("description", req, BREACH_TEXT_MAX, "what happened (no personal data)"),               \
        F_TEXT("cause", false, BREACH_TEXT_MAX, "why it happened"),                                \
        F_TEXT("impact", false, BREACH_TEXT_MAX, "its possible consequences"),                     \
        F_TEXT("measures", false, BREACH_TEXT_MAX, "what was done"),                               \
        F_TEXT("user_advice", false, BREACH_TEXT_MAX, "what users can do"),                        \
        F_TEXT("contact", req, PRQ_CONTACT_MAX, "whom users and the regulator contact")

static const struct field_spec breach_body[] = {
    F_TEXT("title", true, BREACH_TITLE_MAX, "the incident's name"),
    BREACH_TEXTS(true),
    {.name = "detected_at",
     .type = FT_INT,
     .required = true,
     .min = 1,
     .max = INT64_MAX,
     .help = "when it was detected, ms since the epoch, not in the future"},
    {.name = "occurred_at",
     .type = FT_INT,
     .min = 0,
     .max = INT64_MAX,
     .help = "when it happened, when known (not after detected_at)"},
    {.name = "major",
     .type = FT_BOOL,
     .required = true,
     .help = "a major incident: the regulator must be told within 4 hours"},
    F_CATEGORIES(true),
    F_USERS,
    {0},
};

static const struct field_spec breach_patch[] = {
    BREACH_TEXTS(false),
    {.name = "major", .type = FT_BOOL, .help = "a major incident"},
    F_CATEGORIES(false),
    {.name = "status", .type = FT_STRING, .min = 1, .max = 8, .help = "open or closed"},
    {0},
};

static const struct field_spec affected_body[] = {F_USERS, {0}};

static const struct field_spec reported_body[] = {
    {.name = "reference",
     .type = FT_STRING,
     .min = 1,
     .max = 200,
     .help = "the regulator's reference of the report, if any"},
    {0},
};

static const struct route routes[] = {
    {"POST", "/api/v1/me/privacy/tickets", h_ticket_new, POLICY_USER, .body = ticket_body,
     .gate_exempt = true,
     .summary = "File a complaint, objection or question (acknowledged within 5 working days, "
                "resolved within 15)"},
    {"GET", "/api/v1/me/privacy/tickets", h_tickets_mine, POLICY_USER, .query = page_query,
     .gate_exempt = true, .summary = "My complaints and objections with their deadlines"},
    {"GET", "/api/v1/me/privacy/tickets/{id}", h_ticket_mine, POLICY_USER, .gate_exempt = true,
     .summary = "One of my complaints with its messages"},
    {"POST", "/api/v1/me/privacy/tickets/{id}/messages", h_ticket_message, POLICY_USER,
     .body = message_body, .gate_exempt = true, .summary = "Add a message to my complaint"},
    {"POST", "/api/v1/me/privacy/corrections", h_correction_new, POLICY_USER,
     .body = correction_body, .gate_exempt = true,
     .summary = "Ask staff to correct a verified field (decided within 2 working days)"},
    {"GET", "/api/v1/me/privacy/corrections", h_corrections_mine, POLICY_USER, .gate_exempt = true,
     .summary = "My correction requests and my verified values"},
    {"GET", "/api/v1/me/privacy/breaches", h_breaches_mine, POLICY_USER, .gate_exempt = true,
     .summary = "Security incidents that concern me"},
    {"GET", "/api/v1/staff/privacy/calendar", h_calendar, POLICY_STAFF, .roles = STAFF_ALL_ROLES,
     .summary = "The working-day calendar: offset, holidays, make-up days, the next days"},
    {"GET", "/api/v1/staff/privacy/tickets", h_tickets_queue, POLICY_STAFF, .query = state_query,
     .roles = STAFF_QUEUE_ROLES,
     .summary = "Complaints and objections, next deadline first, overdue flagged"},
    {"GET", "/api/v1/staff/privacy/tickets/{id}", h_ticket_staff, POLICY_STAFF,
     .roles = STAFF_QUEUE_ROLES, .summary = "One complaint with its text (audited read)"},
    {"POST", "/api/v1/staff/privacy/tickets/{id}/acknowledge", h_ticket_ack, POLICY_STAFF,
     .body = ack_body, .roles = STAFF_QUEUE_ROLES,
     .summary = "Acknowledge a complaint (the user is told)"},
    {"POST", "/api/v1/staff/privacy/tickets/{id}/reply", h_ticket_reply, POLICY_STAFF,
     .body = message_body, .roles = STAFF_QUEUE_ROLES, .summary = "Reply to a complaint"},
    {"POST", "/api/v1/staff/privacy/tickets/{id}/resolve", h_ticket_resolve, POLICY_STAFF,
     .body = resolve_body, .roles = STAFF_QUEUE_ROLES,
     .summary = "Resolve a complaint with its outcome (the user is told)"},
    {"GET", "/api/v1/staff/privacy/corrections", h_corrections_queue, POLICY_STAFF,
     .query = state_query, .roles = STAFF_QUEUE_ROLES,
     .summary = "Correction requests, next deadline first, overdue flagged"},
    {"GET", "/api/v1/staff/privacy/corrections/{id}", h_correction_staff, POLICY_STAFF,
     .roles = STAFF_QUEUE_ROLES,
     .summary = "One correction request with its value and evidence (audited read)"},
    {"POST", "/api/v1/staff/privacy/corrections/{id}/approve", h_correction_approve, POLICY_STAFF,
     .roles = STAFF_QUEUE_ROLES,
     .summary = "Approve a correction: the value becomes the verified one"},
    {"POST", "/api/v1/staff/privacy/corrections/{id}/reject", h_correction_reject, POLICY_STAFF,
     .body = reject_body, .roles = STAFF_QUEUE_ROLES,
     .summary = "Reject a correction with the reason"},
    {"GET", "/api/v1/staff/privacy/minors", h_minors, POLICY_STAFF, .roles = STAFF_DPO_ROLES,
     .summary = "Guardians' requests about minors"},
    {"POST", "/api/v1/staff/privacy/minors", h_minor_new, POLICY_STAFF, .body = minor_body,
     .roles = STAFF_DPO_ROLES,
     .summary = "Record a guardian's request: the minor's account is closed and erased at once"},
    {"GET", "/api/v1/staff/privacy/minors/{id}", h_minor, POLICY_STAFF, .roles = STAFF_DPO_ROLES,
     .summary = "One guardian's request with the guardian's contact (audited read)"},
    {"GET", "/api/v1/staff/privacy/breaches", h_breaches, POLICY_STAFF, .roles = STAFF_DPO_ROLES,
     .summary = "The breach register with its countdowns"},
    {"POST", "/api/v1/staff/privacy/breaches", h_breach_new, POLICY_STAFF, .body = breach_body,
     .roles = STAFF_DPO_ROLES, .summary = "Open an incident"},
    {"GET", "/api/v1/staff/privacy/breaches/{id}", h_breach, POLICY_STAFF, .roles = STAFF_DPO_ROLES,
     .summary = "One incident with its countdowns"},
    {"PATCH", "/api/v1/staff/privacy/breaches/{id}", h_breach_patch, POLICY_STAFF,
     .body = breach_patch, .roles = STAFF_DPO_ROLES,
     .summary = "Change an incident (what was done, advice, status...)"},
    {"POST", "/api/v1/staff/privacy/breaches/{id}/affected", h_breach_affected, POLICY_STAFF,
     .body = affected_body, .roles = STAFF_DPO_ROLES,
     .summary = "Add the accounts an incident concerns"},
    {"POST", "/api/v1/staff/privacy/breaches/{id}/notify", h_breach_notify, POLICY_STAFF,
     .roles = STAFF_DPO_ROLES,
     .summary = "Send the notices to affected users not yet told (in-app and e-mail or SMS)"},
    {"POST", "/api/v1/staff/privacy/breaches/{id}/regulator-report", h_breach_reported,
     POLICY_STAFF, .body = reported_body, .roles = STAFF_DPO_ROLES,
     .summary = "Record that the regulator was told"},
    {"GET", "/api/v1/staff/privacy/breaches/{id}/report", h_breach_report, POLICY_STAFF,
     .query = report_query, .roles = STAFF_DPO_ROLES,
     .summary = "The regulator report, in Chinese and English (HTML or text download)"},
};

void privacy_requests_api_register(void)
{
    http_routes_add(routes, sizeof routes / sizeof routes[0]);
}
