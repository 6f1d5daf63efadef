/*
 * requests.c — complaints and objections, corrections of verified fields
 * and guardians' requests about minors (requests.h), with the job that
 * escalates missed deadlines.
 *
 * The design decision: a deadline is computed once, when the request is
 * filed, by the one calendar (core/workdays.h), and stored with the row.
 * A holiday added to the configuration later does not move promises
 * already made; queues, flags and escalation compare stored deadlines
 * with the clock, so PostgreSQL and SQLite sort and filter the same way
 * without knowing anything about calendars.
 *
 * What users write is sealed under their data key (column name without
 * "_enc" as associated data, as the registry requires), opened only for
 * them and, with an audit entry in the same transaction, for staff.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "audit/audit.h"
#include "consent_int.h"
#include "core/i18n.h"
#include "jobs/jobs.h"
#include "notify/notify.h"
#include "requests.h"
#include "rights_int.h"

#define DAY_MS 86400000LL

static const char *const KINDS[] = {"complaint", "objection", "access", "other"};
static const char *const FIELDS[] = {"real_name", "company_name", "credit_code", "company_address",
                                     "legal_representative"};
#define NKINDS  (int)(sizeof KINDS / sizeof KINDS[0])
#define NFIELDS (int)(sizeof FIELDS / sizeof FIELDS[0])

bool privacy_ticket_kind_ok(const char *kind)
{
    return pc_lookup(KINDS, NKINDS, kind) >= 0;
}

bool privacy_correction_field_ok(const char *field)
{
    return pc_lookup(FIELDS, NFIELDS, field) >= 0;
}

bool privacy_queue_state_parse(const char *s, enum prq_state *out)
{
    static const char *const names[] = {"open", "overdue", "closed", "all"};
    int i = pc_lookup(names, 4, s ? s : "open");
    if (i < 0)
        return false;
    *out = (enum prq_state)i;
    return true;
}

/* A purpose a ticket may name: a switch, or a purpose of the registry. */
static bool purpose_ok(const char *p)
{
    enum privacy_purpose sw;
    if (privacy_purpose_parse(p, &sw))
        return true;
    for (int i = 1; i < PD_PURPOSE__COUNT; i++)
        if (strcmp(p, privacy_purpose_name((enum pd_purpose)i)) == 0)
            return true;
    return false;
}

static enum st refuse(struct privacy_error *err, const char *field, const char *code)
{
    if (err) {
        err->field = field;
        err->code = code;
    }
    return ST_INVALID;
}

/* ---------------------------------------------------------------- statements */

struct rows_to_array {
    json_t *a;
    prq_row_fn fn;
    const void *ctx;
};

static enum st append_row(struct db_stmt *s, void *p)
{
    struct rows_to_array *r = p;
    json_array_append_new(r->a, r->fn(s, r->ctx));
    return ST_OK;
}

enum st prq_rows(struct db_conn *c, json_t **out, prq_row_fn fn, const void *ctx, const char *sql,
                 const char *fmt, ...)
{
    struct rows_to_array r = {json_array(), fn, ctx};
    va_list ap;
    va_start(ap, fmt);
    enum st st = db_rowsf_v(c, append_row, &r, sql, fmt, ap);
    va_end(ap);
    if (st != ST_OK) {
        json_decref(r.a);
        r.a = NULL;
    }
    *out = r.a;
    return st;
}

json_t *prq_int_row(struct db_stmt *s, const void *ctx)
{
    (void)ctx;
    return json_integer(db_col_int64(s, 0));
}

/* ---------------------------------------------------------------- sealing */

/* The data key of one account, when it still has one. */
struct key {
    int64_t uid;
    bool have;
    unsigned char dk[CRYPTO_DATAKEY_BYTES];
};

static enum st key_load(struct db_conn *c, int64_t uid, struct key *k)
{
    k->uid = uid;
    enum st st = rights_user_dk(c, uid, k->dk);
    k->have = st == ST_OK;
    return st == ST_NOTFOUND ? ST_OK : st;
}

static void key_wipe(struct key *k)
{
    sodium_memzero(k->dk, sizeof k->dk);
    k->have = false;
}

static enum st key_seal(const struct key *k, const char *aad, const char *text, unsigned char **out,
                        size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!k->have)
        return ST_NOTFOUND;
    return crypto_field_seal(k->dk, k->uid, aad, text, strlen(text), out, n);
}

/* The text sealed in column col of s, or null (no key: shredded). */
static json_t *key_open(const struct key *k, struct db_stmt *s, int col, const char *aad)
{
    if (!k->have || db_col_is_null(s, col))
        return json_null();
    size_t n = 0, ptlen = 0;
    const unsigned char *b = db_col_blob(s, col, &n);
    unsigned char *pt = NULL;
    if (crypto_field_open(k->dk, k->uid, aad, b, n, &pt, &ptlen) != ST_OK) {
        log_kv(LOG_ERROR, "privacy requests: a sealed value does not open", "column", aad,
               (const char *)NULL);
        return json_null();
    }
    json_t *v = json_stringn((const char *)pt, ptlen);
    crypto_free_secret(pt, ptlen);
    return v ? v : json_null();
}

/* ---------------------------------------------------------------- shared */

/* The account as accounts_me shows it, or NULL when its addresses can no
 * longer be read; ST_NOTFOUND for no such account. */
static enum st contact_of(struct db_conn *c, int64_t uid, json_t **me)
{
    enum st st = accounts_me(c, uid, me);
    if (st == ST_INTERNAL) {
        *me = NULL;
        st = ST_OK;
    }
    return st;
}

/* The deadline's local date as users read it: the day it ends. */
static void due_date(int64_t due, char out[16])
{
    const struct workdays *w = workdays_get();
    workdays_date_format(workdays_day(w, due - 1), out);
}

/* Adds "due_at", "overdue" and "working_days_left" for a deadline (0:
 * none, the request is done). */
static void deadline(json_t *o, int64_t due, int64_t now)
{
    json_object_set_new(o, "due_at", due ? json_integer(due) : json_null());
    json_object_set_new(o, "overdue", json_boolean(due && now >= due));
    json_object_set_new(o, "working_days_left",
                        due ? json_integer(workdays_between(workdays_get(), now, due - 1))
                            : json_null());
}

static enum st audit_detail(struct db_conn *c, const struct privacy_actor *a, const char *action,
                            int64_t subject, const char *fields, const char *reason,
                            const char *key, int64_t id)
{
    char detail[96];
    snprintf(detail, sizeof detail, "{\"%s\":%lld}", key, (long long)id);
    struct audit_entry e = {
        .actor_id = a ? a->id : subject,
        .actor_role = a ? a->role : "user",
        .action = action,
        .subject_user_id = subject,
        .fields = fields,
        .reason = reason,
        .detail = detail,
        .ip = a ? a->ip : NULL,
    };
    return audit_append(c, &e, NULL);
}

/* A staff read of personal data: who, role, whose, which fields, why. */
static enum st audit_read(struct db_conn *c, const struct privacy_actor *a, int64_t subject,
                          const char *fields, const char *what, int64_t id)
{
    char reason[96];
    snprintf(reason, sizeof reason, "handling privacy request: %s #%lld", what, (long long)id);
    return audit_detail(c, a, "staff.read_personal_data", subject, fields, reason, "request_id",
                        id);
}

static void jdrop(json_t **o)
{
    json_decref(*o);
    *o = NULL;
}

/* ---------------------------------------------------------------- tickets */

#define TICKET_COLS                                                                                \
    "id, user_id, kind, purpose, status, created_at, ack_due_at, resolve_due_at, "                 \
    "acknowledged_at, resolved_at, ack_escalated_at, resolve_escalated_at"

static json_t *ticket_row(struct db_stmt *s, bool staff)
{
    int64_t now = clock_now_ms();
    const char *status = db_col_text(s, 4);
    bool open = strcmp(status, "open") == 0, done = strcmp(status, "resolved") == 0;
    json_t *o = json_pack(
        "{s:I, s:s, s:o, s:s, s:I, s:I, s:I, s:o, s:o}", "id", (json_int_t)db_col_int64(s, 0),
        "kind", db_col_text(s, 2), "purpose", pc_text(s, 3), "status", status, "created_at",
        (json_int_t)db_col_int64(s, 5), "ack_due_at", (json_int_t)db_col_int64(s, 6),
        "resolve_due_at", (json_int_t)db_col_int64(s, 7), "acknowledged_at", pc_intval(s, 8),
        "resolved_at", pc_intval(s, 9));
    deadline(o, done ? 0 : open ? db_col_int64(s, 6) : db_col_int64(s, 7), now);
    if (staff) {
        json_object_set_new(o, "user_id", json_integer(db_col_int64(s, 1)));
        json_object_set_new(o, "escalated",
                            json_boolean(!db_col_is_null(s, 10) || !db_col_is_null(s, 11)));
    }
    return o;
}

static json_t *ticket_row_user(struct db_stmt *s)
{
    return ticket_row(s, false);
}

static json_t *ticket_row_staff(struct db_stmt *s, const void *ctx)
{
    (void)ctx;
    return ticket_row(s, true);
}

/* A message of a ticket, opened with its owner's key (ctx). */
static json_t *message_row(struct db_stmt *s, const void *ctx)
{
    return json_pack("{s:I, s:s, s:o, s:o, s:I}", "id", (json_int_t)db_col_int64(s, 0), "author",
                     db_col_text(s, 1), "role", pc_text(s, 2), "body",
                     key_open(ctx, s, 3, "privacy_ticket_messages.body"), "created_at",
                     (json_int_t)db_col_int64(s, 4));
}

/* Ticket id (of owner, unless owner is 0) with its text and messages. */
static enum st ticket_detail(struct db_conn *c, int64_t id, int64_t owner, bool staff, json_t **out)
{
    *out = NULL;
    struct db_stmt *s = NULL;
    bool row = false;
    enum st st = owner ? pc_query(c, &s, &row,
                                  "SELECT " TICKET_COLS ", body_enc FROM privacy_tickets "
                                  "WHERE id = ? AND user_id = ?",
                                  "ii", id, owner)
                       : pc_query(c, &s, &row,
                                  "SELECT " TICKET_COLS ", body_enc FROM privacy_tickets "
                                  "WHERE id = ?",
                                  "i", id);
    struct key k = {0};
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK)
        st = key_load(c, db_col_int64(s, 1), &k);
    if (st == ST_OK) {
        *out = ticket_row(s, staff);
        json_object_set_new(*out, "body", key_open(&k, s, 12, "privacy_tickets.body"));
    }
    if (s)
        db_stmt_done(s);
    json_t *msgs = NULL;
    if (st == ST_OK)
        st = prq_rows(c, &msgs, message_row, &k,
                      "SELECT id, author, role, body_enc, created_at FROM privacy_ticket_messages "
                      "WHERE ticket_id = ? ORDER BY id LIMIT ?",
                      "ii", id, (int64_t)PRQ_MESSAGES_MAX);
    key_wipe(&k);
    if (st != ST_OK) {
        jdrop(out);
        return st;
    }
    json_object_set_new(*out, "messages", msgs);
    return ST_OK;
}

enum st privacy_ticket_create(struct db_conn *c, int64_t user_id, const char *kind,
                              const char *purpose, const char *body, json_t **out,
                              struct privacy_error *err)
{
    *out = NULL;
    if (!privacy_ticket_kind_ok(kind))
        return refuse(err, "kind", "choice");
    if (purpose && !purpose_ok(purpose))
        return refuse(err, "purpose", "choice");
    int64_t now = clock_now_ms(), recent = 0, id = 0;
    enum st st = pc_int(c, &recent,
                        "SELECT COUNT(*) FROM privacy_tickets WHERE user_id = ? AND created_at > ?",
                        "ii", user_id, now - DAY_MS);
    if (st == ST_OK && recent >= PRQ_TICKETS_PER_DAY)
        return ST_RATELIMIT;
    struct key k = {0};
    unsigned char *sealed = NULL;
    size_t slen = 0;
    if (st == ST_OK)
        st = key_load(c, user_id, &k);
    if (st == ST_OK)
        st = key_seal(&k, "privacy_tickets.body", body, &sealed, &slen);
    key_wipe(&k);
    if (st != ST_OK) {
        free(sealed);
        return st;
    }
    const struct workdays *w = workdays_get();
    int64_t ack = workdays_add(w, now, PRQ_ACK_WORKDAYS);
    int64_t res = workdays_add(w, now, PRQ_RESOLVE_WORKDAYS);
    st = db_begin(c);
    if (st == ST_OK)
        st = db_runf(c, NULL, &id,
                     "INSERT INTO privacy_tickets (user_id, kind, purpose, body_enc, status, "
                     "created_at, ack_due_at, resolve_due_at, updated_at) "
                     "VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?) RETURNING id",
                     "ittbiiii", user_id, kind, purpose, sealed, slen, now, ack, res, now);
    free(sealed);
    if (st == ST_OK)
        st = audit_detail(c, NULL, "privacy.ticket_filed", user_id, NULL, NULL, "ticket_id", id);
    if (st == ST_OK) {
        char ref[48];
        snprintf(ref, sizeof ref, "ticket:%lld", (long long)id);
        json_t *p = json_pack("{s:I, s:s, s:I, s:I}", "ticket_id", (json_int_t)id, "kind", kind,
                              "ack_due_at", (json_int_t)ack, "resolve_due_at", (json_int_t)res);
        st = privacy_inbox_add(c, user_id, "privacy.ticket_received", p, ref, NULL);
        json_decref(p);
    }
    st = pc_finish(c, st);
    if (st == ST_OK)
        st = ticket_detail(c, id, user_id, false, out);
    return st;
}

enum st privacy_tickets_mine(struct db_conn *c, int64_t user_id, int64_t before, int limit,
                             json_t **out, int64_t *next)
{
    return pc_page(c,
                   "SELECT " TICKET_COLS " FROM privacy_tickets WHERE user_id = ? AND id < ? "
                   "ORDER BY id DESC LIMIT ?",
                   user_id, before, limit, ticket_row_user, out, next);
}

enum st privacy_ticket_get(struct db_conn *c, int64_t user_id, int64_t id, json_t **out)
{
    return ticket_detail(c, id, user_id, false, out);
}

/* The owner and status of ticket id (of owner, unless 0). */
static enum st ticket_state(struct db_conn *c, int64_t id, int64_t owner, int64_t *uid,
                            char status[16])
{
    struct db_stmt *s;
    bool row;
    enum st st =
        pc_query(c, &s, &row, "SELECT user_id, status FROM privacy_tickets WHERE id = ?", "i", id);
    if (st == ST_OK && (!row || (owner && db_col_int64(s, 0) != owner)))
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        *uid = db_col_int64(s, 0);
        snprintf(status, 16, "%s", db_col_text(s, 1));
    }
    if (s)
        db_stmt_done(s);
    return st;
}

/* Appends a message to ticket id, sealed under its owner's key. */
static enum st message_add(struct db_conn *c, int64_t id, int64_t uid, const char *author,
                           const char *role, const char *body, int64_t now, int64_t *msg_id)
{
    int64_t count = 0;
    enum st st = pc_int(
        c, &count, "SELECT COUNT(*) FROM privacy_ticket_messages WHERE ticket_id = ?", "i", id);
    if (st == ST_OK && count >= PRQ_MESSAGES_MAX)
        return ST_CONFLICT;
    struct key k = {0};
    unsigned char *sealed = NULL;
    size_t slen = 0;
    if (st == ST_OK)
        st = key_load(c, uid, &k);
    if (st == ST_OK)
        st = key_seal(&k, "privacy_ticket_messages.body", body, &sealed, &slen);
    key_wipe(&k);
    if (st == ST_OK)
        st = db_runf(c, NULL, msg_id,
                     "INSERT INTO privacy_ticket_messages (ticket_id, author, role, body_enc, "
                     "created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
                     "ittbi", id, author, role, sealed, slen, now);
    free(sealed);
    if (st == ST_OK)
        st = pc_exec(c, NULL, "UPDATE privacy_tickets SET updated_at = ? WHERE id = ?", "ii", now,
                     id);
    return st;
}

enum st privacy_ticket_message(struct db_conn *c, int64_t user_id, int64_t id, const char *body,
                               json_t **out)
{
    *out = NULL;
    int64_t uid = 0, msg = 0;
    char status[16];
    enum st st = ticket_state(c, id, user_id, &uid, status);
    if (st == ST_OK && strcmp(status, "resolved") == 0)
        st = ST_CONFLICT;
    if (st == ST_OK)
        st = db_begin(c);
    else
        return st;
    if (st == ST_OK)
        st = message_add(c, id, uid, "user", NULL, body, clock_now_ms(), &msg);
    st = pc_finish(c, st);
    if (st == ST_OK)
        st = ticket_detail(c, id, user_id, false, out);
    return st;
}

/* WHERE conditions of the queues: two "now" parameters each, used or not
 * (cast, so PostgreSQL does not take an unused one for a 32-bit integer). */
static const char *queue_where(enum prq_state state, bool tickets)
{
    if (tickets) {
        switch (state) {
        case PRQ_STATE_OPEN:
            return "status <> 'resolved' AND CAST(? AS BIGINT) > 0 AND CAST(? AS BIGINT) > 0";
        case PRQ_STATE_OVERDUE:
            return "((status = 'open' AND ack_due_at <= ?) OR "
                   "(status = 'acknowledged' AND resolve_due_at <= ?))";
        case PRQ_STATE_CLOSED:
            return "status = 'resolved' AND CAST(? AS BIGINT) > 0 AND CAST(? AS BIGINT) > 0";
        case PRQ_STATE_ALL:
            break;
        }
        return "CAST(? AS BIGINT) > 0 AND CAST(? AS BIGINT) > 0";
    }
    switch (state) {
    case PRQ_STATE_OPEN:
        return "status = 'pending' AND CAST(? AS BIGINT) > 0 AND CAST(? AS BIGINT) > 0";
    case PRQ_STATE_OVERDUE:
        return "status = 'pending' AND due_at <= ? AND CAST(? AS BIGINT) > 0";
    case PRQ_STATE_CLOSED:
        return "status <> 'pending' AND CAST(? AS BIGINT) > 0 AND CAST(? AS BIGINT) > 0";
    case PRQ_STATE_ALL:
        break;
    }
    return "CAST(? AS BIGINT) > 0 AND CAST(? AS BIGINT) > 0";
}

/* A correction in the staff queue, without its value; ctx: now. */
static json_t *correction_queue_row(struct db_stmt *s, const void *ctx)
{
    bool pending = strcmp(db_col_text(s, 3), "pending") == 0;
    json_t *o =
        json_pack("{s:I, s:I, s:s, s:s, s:I, s:o, s:b}", "id", (json_int_t)db_col_int64(s, 0),
                  "user_id", (json_int_t)db_col_int64(s, 1), "field", db_col_text(s, 2), "status",
                  db_col_text(s, 3), "created_at", (json_int_t)db_col_int64(s, 4), "decided_at",
                  pc_intval(s, 6), "escalated", !db_col_is_null(s, 7));
    deadline(o, pending ? db_col_int64(s, 5) : 0, *(const int64_t *)ctx);
    return o;
}

/* {name: rows, "counts":{"open","overdue"}, "now"} of a queue. */
static enum st queue(struct db_conn *c, enum prq_state state, bool tickets, const char *name,
                     json_t **out)
{
    *out = NULL;
    int64_t now = clock_now_ms(), open = 0, overdue = 0;
    char sql[1024];
    if (tickets)
        snprintf(sql, sizeof sql,
                 "SELECT " TICKET_COLS " FROM privacy_tickets WHERE %s ORDER BY "
                 "(status = 'resolved'), CASE status WHEN 'open' THEN ack_due_at "
                 "ELSE resolve_due_at END, id LIMIT %d",
                 queue_where(state, true), PRQ_QUEUE_MAX);
    else
        snprintf(sql, sizeof sql,
                 "SELECT id, user_id, field, status, created_at, due_at, decided_at, "
                 "escalated_at FROM correction_requests WHERE %s ORDER BY "
                 "(status <> 'pending'), due_at, id LIMIT %d",
                 queue_where(state, false), PRQ_QUEUE_MAX);
    json_t *a = NULL;
    enum st st = prq_rows(c, &a, tickets ? ticket_row_staff : correction_queue_row, &now, sql, "ii",
                          now, now);
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s WHERE %s",
             tickets ? "privacy_tickets" : "correction_requests",
             queue_where(PRQ_STATE_OPEN, tickets));
    if (st == ST_OK)
        st = pc_int(c, &open, sql, "ii", now, now);
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s WHERE %s",
             tickets ? "privacy_tickets" : "correction_requests",
             queue_where(PRQ_STATE_OVERDUE, tickets));
    if (st == ST_OK)
        st = pc_int(c, &overdue, sql, "ii", now, now);
    if (st != ST_OK) {
        json_decref(a);
        return st;
    }
    *out = json_pack("{s:o, s:{s:I, s:I}, s:I}", name, a, "counts", "open", (json_int_t)open,
                     "overdue", (json_int_t)overdue, "now", (json_int_t)now);
    return ST_OK;
}

enum st privacy_tickets_queue(struct db_conn *c, enum prq_state state, json_t **out)
{
    return queue(c, state, true, "tickets", out);
}

enum st privacy_ticket_staff_get(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                                 json_t **out)
{
    *out = NULL;
    int64_t uid = 0;
    char status[16];
    enum st st = ticket_state(c, id, 0, &uid, status);
    if (st != ST_OK)
        return st;
    st = db_begin(c);
    if (st == ST_OK)
        st = audit_read(c, a, uid, "privacy_tickets.body,privacy_ticket_messages.body", "ticket",
                        id);
    if (st == ST_OK)
        st = ticket_detail(c, id, 0, true, out);
    st = pc_finish(c, st);
    if (st != ST_OK)
        jdrop(out);
    return st;
}

static const char *const ACTIONS[][3] = {
    /* audit action, inbox kind, mail key (NULL: inbox only) */
    [PRQ_ACKNOWLEDGE] = {"privacy.ticket_acknowledged", "privacy.ticket_acknowledged",
                         "privacy.mail.ticket_acknowledged"},
    [PRQ_REPLY] = {"privacy.ticket_replied", "privacy.ticket_replied", NULL},
    [PRQ_RESOLVE] = {"privacy.ticket_resolved", "privacy.ticket_resolved",
                     "privacy.mail.ticket_resolved"},
};

/* The status change an action makes, guarded by the status it needs. */
static enum st ticket_transition(struct db_conn *c, int64_t id, enum prq_action action, int64_t now)
{
    int64_t n = 0;
    enum st st = ST_OK;
    if (action == PRQ_ACKNOWLEDGE)
        st = pc_exec(c, &n,
                     "UPDATE privacy_tickets SET status = 'acknowledged', acknowledged_at = ?, "
                     "updated_at = ? WHERE id = ? AND status = 'open'",
                     "iii", now, now, id);
    else if (action == PRQ_RESOLVE)
        st = pc_exec(c, &n,
                     "UPDATE privacy_tickets SET status = 'resolved', resolved_at = ?, "
                     "acknowledged_at = COALESCE(acknowledged_at, ?), updated_at = ? "
                     "WHERE id = ? AND status <> 'resolved'",
                     "iiii", now, now, now, id);
    else
        n = 1;
    return st == ST_OK && n != 1 ? ST_CONFLICT : st;
}

enum st privacy_ticket_act(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                           enum prq_action action, const char *body, json_t **out)
{
    *out = NULL;
    if ((unsigned)action > PRQ_RESOLVE || (action != PRQ_ACKNOWLEDGE && !body))
        return ST_INVALID;
    int64_t uid = 0, msg = 0, now = clock_now_ms(), res_due = 0;
    char status[16];
    enum st st = ticket_state(c, id, 0, &uid, status);
    if (st == ST_OK && (strcmp(status, "resolved") == 0 ||
                        (action == PRQ_ACKNOWLEDGE && strcmp(status, "open") != 0)))
        st = ST_CONFLICT;
    json_t *me = NULL;
    if (st == ST_OK)
        st = contact_of(c, uid, &me);
    if (st == ST_OK)
        st =
            pc_int(c, &res_due, "SELECT resolve_due_at FROM privacy_tickets WHERE id = ?", "i", id);
    if (st == ST_OK)
        st = db_begin(c);
    else {
        json_decref(me);
        return st;
    }
    if (st == ST_OK && body)
        st = message_add(c, id, uid, "staff", a->role, body, now, &msg);
    if (st == ST_OK)
        st = ticket_transition(c, id, action, now);
    if (st == ST_OK)
        st = audit_detail(c, a, ACTIONS[action][0], uid, NULL, NULL, "ticket_id", id);
    if (st == ST_OK) {
        const char *lang = rights_lang(me, NULL);
        char ref[64], idtext[24], date[16];
        snprintf(ref, sizeof ref, "%s:%lld:%lld", ACTIONS[action][1], (long long)id,
                 (long long)msg);
        snprintf(idtext, sizeof idtext, "%lld", (long long)id);
        due_date(res_due, date);
        json_t *p = json_pack("{s:I}", "ticket_id", (json_int_t)id);
        if (ACTIONS[action][2])
            st = rights_tell(c, uid, me, false, lang, ACTIONS[action][1], p, ref,
                             ACTIONS[action][2], "id", idtext, "date", date, (const char *)NULL);
        else
            st = privacy_inbox_add(c, uid, ACTIONS[action][1], p, ref, NULL);
        json_decref(p);
    }
    json_decref(me);
    st = pc_finish(c, st);
    if (st == ST_OK) {
        notify_worker_wake();
        st = ticket_detail(c, id, 0, true, out);
    }
    return st;
}

/* ---------------------------------------------------------------- corrections */

#define CORRECTION_COLS                                                                            \
    "id, user_id, field, status, reason, created_at, due_at, decided_at, escalated_at, "           \
    "value_enc, evidence_enc"

static json_t *correction_row(struct db_stmt *s, const struct key *k, bool staff)
{
    bool pending = strcmp(db_col_text(s, 3), "pending") == 0;
    json_t *o = json_pack(
        "{s:I, s:s, s:o, s:o, s:s, s:o, s:I, s:I, s:o}", "id", (json_int_t)db_col_int64(s, 0),
        "field", db_col_text(s, 2), "value", key_open(k, s, 9, "correction_requests.value"),
        "evidence", key_open(k, s, 10, "correction_requests.evidence"), "status", db_col_text(s, 3),
        "reason", pc_text(s, 4), "created_at", (json_int_t)db_col_int64(s, 5), "due_at",
        (json_int_t)db_col_int64(s, 6), "decided_at", pc_intval(s, 7));
    deadline(o, pending ? db_col_int64(s, 6) : 0, clock_now_ms());
    json_object_set_new(o, "due_at", json_integer(db_col_int64(s, 6)));
    if (staff) {
        json_object_set_new(o, "user_id", json_integer(db_col_int64(s, 1)));
        json_object_set_new(o, "escalated", json_boolean(!db_col_is_null(s, 8)));
    }
    return o;
}

/* The current verified value of uid's field, or null. */
static enum st verified_value(struct db_conn *c, const struct key *k, const char *field,
                              json_t **out)
{
    struct db_stmt *s;
    bool row;
    enum st st = pc_query(c, &s, &row,
                          "SELECT value_enc, verified_at FROM verified_fields "
                          "WHERE user_id = ? AND field = ?",
                          "it", k->uid, field);
    if (st == ST_OK)
        *out = row ? json_pack("{s:o, s:I}", "value", key_open(k, s, 0, "verified_fields.value"),
                               "verified_at", (json_int_t)db_col_int64(s, 1))
                   : json_null();
    if (s)
        db_stmt_done(s);
    return st;
}

/* Request id (of owner, unless 0) as JSON; staff also get the field's
 * current verified value. */
static enum st correction_detail(struct db_conn *c, int64_t id, int64_t owner, bool staff,
                                 json_t **out)
{
    *out = NULL;
    struct db_stmt *s;
    bool row;
    enum st st = pc_query(
        c, &s, &row, "SELECT " CORRECTION_COLS " FROM correction_requests WHERE id = ?", "i", id);
    struct key k = {0};
    if (st == ST_OK && (!row || (owner && db_col_int64(s, 1) != owner)))
        st = ST_NOTFOUND;
    if (st == ST_OK)
        st = key_load(c, db_col_int64(s, 1), &k);
    if (st == ST_OK)
        *out = correction_row(s, &k, staff);
    char field[32] = "";
    if (st == ST_OK)
        snprintf(field, sizeof field, "%s", db_col_text(s, 2));
    if (s)
        db_stmt_done(s);
    json_t *cur = NULL;
    if (st == ST_OK && staff)
        st = verified_value(c, &k, field, &cur);
    if (st == ST_OK && staff)
        json_object_set_new(*out, "current", cur);
    key_wipe(&k);
    if (st != ST_OK)
        jdrop(out);
    return st;
}

enum st privacy_correction_create(struct db_conn *c, int64_t user_id, const char *field,
                                  const char *value, const char *evidence, json_t **out,
                                  struct privacy_error *err)
{
    *out = NULL;
    if (!privacy_correction_field_ok(field))
        return refuse(err, "field", "choice");
    struct key k = {0};
    unsigned char *v = NULL, *e = NULL;
    size_t vlen = 0, elen = 0;
    int64_t now = clock_now_ms(), id = 0;
    enum st st = key_load(c, user_id, &k);
    if (st == ST_OK)
        st = key_seal(&k, "correction_requests.value", value, &v, &vlen);
    if (st == ST_OK)
        st = key_seal(&k, "correction_requests.evidence", evidence, &e, &elen);
    key_wipe(&k);
    if (st == ST_OK)
        st = db_begin(c);
    if (st == ST_OK)
        st =
            db_runf(c, NULL, &id,
                    "INSERT INTO correction_requests (user_id, field, value_enc, evidence_enc, "
                    "status, created_at, due_at) VALUES (?, ?, ?, ?, 'pending', ?, ?) RETURNING id",
                    "itbbii", user_id, field, v, vlen, e, elen, now,
                    workdays_add(workdays_get(), now, PRQ_CORRECTION_WORKDAYS));
    free(v);
    free(e);
    if (st == ST_OK)
        st = audit_detail(c, NULL, "privacy.correction_requested", user_id, NULL, NULL,
                          "request_id", id);
    st = pc_finish(c, st);
    if (st == ST_OK)
        st = correction_detail(c, id, user_id, false, out);
    return st;
}

/* A request as its owner sees it, opened with their key (ctx). */
static json_t *correction_row_user(struct db_stmt *s, const void *ctx)
{
    return correction_row(s, ctx, false);
}

static json_t *verified_row(struct db_stmt *s, const void *ctx)
{
    return json_pack("{s:s, s:o, s:I}", "field", db_col_text(s, 0), "value",
                     key_open(ctx, s, 1, "verified_fields.value"), "verified_at",
                     (json_int_t)db_col_int64(s, 2));
}

enum st privacy_corrections_mine(struct db_conn *c, int64_t user_id, json_t **out)
{
    *out = NULL;
    struct key k = {0};
    json_t *reqs = NULL, *ver = NULL;
    enum st st = key_load(c, user_id, &k);
    if (st == ST_OK)
        st = prq_rows(c, &reqs, correction_row_user, &k,
                      "SELECT " CORRECTION_COLS " FROM correction_requests WHERE user_id = ? "
                      "ORDER BY id DESC LIMIT ?",
                      "ii", user_id, (int64_t)PRQ_QUEUE_MAX);
    if (st == ST_OK)
        st = prq_rows(c, &ver, verified_row, &k,
                      "SELECT field, value_enc, verified_at FROM verified_fields "
                      "WHERE user_id = ? ORDER BY field",
                      "i", user_id);
    key_wipe(&k);
    if (st != ST_OK) {
        json_decref(reqs);
        return st;
    }
    *out = json_pack("{s:o, s:o}", "requests", reqs, "verified", ver);
    return ST_OK;
}

enum st privacy_corrections_queue(struct db_conn *c, enum prq_state state, json_t **out)
{
    return queue(c, state, false, "corrections", out);
}

#define CORRECTION_FIELDS                                                                          \
    "correction_requests.value,correction_requests.evidence,verified_fields.value"

enum st privacy_correction_staff_get(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                                     json_t **out)
{
    *out = NULL;
    int64_t uid = 0;
    enum st st = pc_int(c, &uid, "SELECT user_id FROM correction_requests WHERE id = ?", "i", id);
    if (st != ST_OK)
        return st;
    st = db_begin(c);
    if (st == ST_OK)
        st = audit_read(c, a, uid, CORRECTION_FIELDS, "correction", id);
    if (st == ST_OK)
        st = correction_detail(c, id, 0, true, out);
    st = pc_finish(c, st);
    if (st != ST_OK)
        jdrop(out);
    return st;
}

/* Makes request id's value the verified one (re-sealed for its column). */
static enum st correction_apply(struct db_conn *c, int64_t id, int64_t uid, const char *field,
                                int64_t now)
{
    struct key k = {0};
    struct db_stmt *s = NULL;
    bool row = false;
    enum st st = key_load(c, uid, &k);
    if (st == ST_OK && !k.have)
        st = ST_NOTFOUND;
    if (st == ST_OK)
        st = pc_query(c, &s, &row, "SELECT value_enc FROM correction_requests WHERE id = ?", "i",
                      id);
    json_t *v = row ? key_open(&k, s, 0, "correction_requests.value") : json_null();
    if (s)
        db_stmt_done(s);
    unsigned char *sealed = NULL;
    size_t slen = 0;
    if (st == ST_OK && !json_is_string(v))
        st = ST_INTERNAL;
    if (st == ST_OK)
        st = key_seal(&k, "verified_fields.value", json_string_value(v), &sealed, &slen);
    json_decref(v);
    key_wipe(&k);
    if (st == ST_OK)
        st = db_runf(c, NULL, NULL,
                     "INSERT INTO verified_fields (user_id, field, value_enc, request_id, "
                     "verified_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, field) DO UPDATE "
                     "SET value_enc = excluded.value_enc, request_id = excluded.request_id, "
                     "verified_at = excluded.verified_at",
                     "itbii", uid, field, sealed, slen, id, now);
    free(sealed);
    return st;
}

enum st privacy_correction_decide(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                                  bool approve, const char *reason, json_t **out)
{
    *out = NULL;
    if (!approve && (!reason || !*reason))
        return ST_INVALID;
    struct db_stmt *s;
    bool row;
    int64_t uid = 0, now = clock_now_ms(), n = 0;
    char field[32] = "", status[16] = "";
    enum st st =
        pc_query(c, &s, &row, "SELECT user_id, field, status FROM correction_requests WHERE id = ?",
                 "i", id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        uid = db_col_int64(s, 0);
        snprintf(field, sizeof field, "%s", db_col_text(s, 1));
        snprintf(status, sizeof status, "%s", db_col_text(s, 2));
    }
    if (s)
        db_stmt_done(s);
    if (st == ST_OK && strcmp(status, "pending") != 0)
        st = ST_CONFLICT;
    json_t *me = NULL;
    if (st == ST_OK)
        st = contact_of(c, uid, &me);
    if (st == ST_OK)
        st = db_begin(c);
    else
        return st;
    if (st == ST_OK)
        st = pc_exec(c, &n,
                     "UPDATE correction_requests SET status = ?, reason = ?, decided_at = ? "
                     "WHERE id = ? AND status = 'pending'",
                     "ttii", approve ? "approved" : "rejected", approve ? NULL : reason, now, id);
    if (st == ST_OK && n != 1)
        st = ST_CONFLICT;
    if (st == ST_OK && approve)
        st = correction_apply(c, id, uid, field, now);
    const char *what = approve ? "privacy.correction_approved" : "privacy.correction_rejected";
    if (st == ST_OK)
        st = audit_detail(c, a, what, uid, field, NULL, "request_id", id);
    if (st == ST_OK) {
        const char *lang = rights_lang(me, NULL);
        char ref[64], fkey[64];
        snprintf(ref, sizeof ref, "correction:%lld", (long long)id);
        snprintf(fkey, sizeof fkey, "privacy.correction.field.%s", field);
        json_t *p = json_pack("{s:I, s:s}", "request_id", (json_int_t)id, "field", field);
        char mkey[64];
        snprintf(mkey, sizeof mkey, "privacy.mail.%s", what + 8);
        st = rights_tell(c, uid, me, false, lang, what, p, ref, mkey, "field", i18n_get(lang, fkey),
                         "reason", reason ? reason : "", (const char *)NULL);
        json_decref(p);
    }
    json_decref(me);
    st = pc_finish(c, st);
    if (st == ST_OK) {
        notify_worker_wake();
        st = correction_detail(c, id, 0, true, out);
    }
    return st;
}

/* ---------------------------------------------------------------- minors */

static json_t *minor_row(struct db_stmt *s, const void *ctx)
{
    (void)ctx;
    return json_pack("{s:I, s:I, s:s, s:I, s:o}", "id", (json_int_t)db_col_int64(s, 0), "user_id",
                     (json_int_t)db_col_int64(s, 1), "status", db_col_text(s, 2), "created_at",
                     (json_int_t)db_col_int64(s, 3), "closed_at", pc_intval(s, 4));
}

static enum st minor_detail(struct db_conn *c, int64_t id, json_t **out)
{
    *out = NULL;
    struct db_stmt *s;
    bool row;
    enum st st = pc_query(c, &s, &row,
                          "SELECT id, user_id, status, created_at, closed_at, guardian_contact, "
                          "evidence_note FROM minor_requests WHERE id = ?",
                          "i", id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        *out = minor_row(s, NULL);
        json_object_set_new(*out, "guardian_contact", json_string(db_col_text(s, 5)));
        json_object_set_new(*out, "evidence_note", json_string(db_col_text(s, 6)));
    }
    if (s)
        db_stmt_done(s);
    return st;
}

enum st privacy_minor_request(struct db_conn *c, const struct privacy_actor *a, int64_t user_id,
                              const char *guardian_contact, const char *evidence, json_t **out)
{
    *out = NULL;
    struct db_stmt *s;
    bool row;
    int64_t roles = 0, open = 0, id = 0, job = 0, now = clock_now_ms();
    char status[16] = "";
    enum st st =
        pc_query(c, &s, &row, "SELECT status, staff_roles FROM users WHERE id = ?", "i", user_id);
    if (st == ST_OK && row) {
        snprintf(status, sizeof status, "%s", db_col_text(s, 0));
        roles = db_col_int64(s, 1);
    }
    if (s)
        db_stmt_done(s);
    if (st == ST_OK && (!row || strcmp(status, "closed") == 0))
        st = ST_NOTFOUND;
    if (st == ST_OK)
        st = pc_int(c, &open,
                    "SELECT COUNT(*) FROM minor_requests WHERE user_id = ? AND status = 'closing'",
                    "i", user_id);
    if (st == ST_OK && (roles != 0 || open > 0))
        st = ST_CONFLICT;
    if (st == ST_OK)
        st = db_begin(c);
    else
        return st;
    if (st == ST_OK)
        st = pc_int(c, &id,
                    "INSERT INTO minor_requests (user_id, guardian_contact, evidence_note, status, "
                    "created_at) VALUES (?, ?, ?, 'closing', ?) RETURNING id",
                    "itti", user_id, guardian_contact, evidence, now);
    if (st == ST_OK) {
        char key[48];
        snprintf(key, sizeof key, "privacy.minor:%lld", (long long)id);
        json_t *payload = json_pack("{s:I}", "minor_request_id", (json_int_t)id);
        struct job_opts o = {.unique_key = key, .user_id = user_id};
        st = jobs_enqueue(c, "privacy.minor_close", payload, &o, &job);
        json_decref(payload);
    }
    if (st == ST_OK)
        st = pc_exec(c, NULL, "UPDATE minor_requests SET job_id = ? WHERE id = ?", "ii", job, id);
    /* The service ends now: no sign-in, no session, until the erasure. */
    if (st == ST_OK)
        st = pc_exec(c, NULL, "UPDATE users SET status = 'closing', updated_at = ? WHERE id = ?",
                     "ii", now, user_id);
    if (st == ST_OK)
        st = audit_detail(c, a, "privacy.minor_request", user_id, NULL, NULL, "request_id", id);
    st = pc_finish(c, st);
    if (st != ST_OK)
        return st;
    accounts_sessions_forget_user(user_id);
    jobs_wake();
    return minor_detail(c, id, out);
}

enum st privacy_minors_list(struct db_conn *c, json_t **out)
{
    json_t *a = NULL;
    enum st st = prq_rows(c, &a, minor_row, NULL,
                          "SELECT id, user_id, status, created_at, closed_at FROM minor_requests "
                          "ORDER BY id DESC LIMIT ?",
                          "i", (int64_t)PRQ_QUEUE_MAX);
    *out = st == ST_OK ? json_pack("{s:o}", "requests", a) : NULL;
    return st;
}

enum st privacy_minor_get(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                          json_t **out)
{
    *out = NULL;
    int64_t uid = 0;
    enum st st = pc_int(c, &uid, "SELECT user_id FROM minor_requests WHERE id = ?", "i", id);
    if (st == ST_OK)
        st = db_begin(c);
    else
        return st;
    if (st == ST_OK)
        st = audit_read(c, a, uid, "minor_requests.guardian_contact,minor_requests.evidence_note",
                        "minor", id);
    if (st == ST_OK)
        st = minor_detail(c, id, out);
    st = pc_finish(c, st);
    if (st != ST_OK)
        jdrop(out);
    return st;
}

/* The erasure: the same as a cancellation's, at once, content deleted. */
static enum st minor_close_run(struct job_ctx *ctx)
{
    int64_t id = json_integer_value(json_object_get(ctx->payload, "minor_request_id"));
    if (id <= 0) {
        job_set_error(ctx, "payload has no minor_request_id");
        return ST_INVALID;
    }
    int64_t uid = 0, n = 0;
    enum st st =
        pc_int(ctx->c, &uid,
               "SELECT user_id FROM minor_requests WHERE id = ? AND status = 'closing'", "i", id);
    if (st == ST_NOTFOUND)
        return ST_OK; /* done before */
    if (st == ST_OK)
        st = pc_exec(ctx->c, &n,
                     "UPDATE minor_requests SET status = 'closed', closed_at = ? "
                     "WHERE id = ? AND status = 'closing'",
                     "ii", clock_now_ms(), id);
    if (st != ST_OK || n != 1)
        return st;
    st = privacy_erase_account(ctx->db, ctx->c, uid, PRIVACY_CONTENT_DELETE, NULL);
    if (st != ST_OK)
        job_set_error(ctx, "erasure for minor request %lld: %s", (long long)id, st_name(st));
    return st;
}

/* ---------------------------------------------------------------- overdue */

/* One kind of deadline the job watches: rows past it and not yet
 * escalated (id, user_id, deadline), and how to mark one escalated. */
struct overdue_rule {
    const char *type;
    const char *select;
    const char *mark;
};

static const struct overdue_rule OVERDUE[] = {
    {"ticket_acknowledgement",
     "SELECT id, user_id, ack_due_at FROM privacy_tickets WHERE status = 'open' AND "
     "ack_due_at <= ? AND ack_escalated_at IS NULL ORDER BY id LIMIT 500",
     "UPDATE privacy_tickets SET ack_escalated_at = ? WHERE id = ?"},
    {"ticket_resolution",
     "SELECT id, user_id, resolve_due_at FROM privacy_tickets WHERE status <> 'resolved' AND "
     "resolve_due_at <= ? AND resolve_escalated_at IS NULL ORDER BY id LIMIT 500",
     "UPDATE privacy_tickets SET resolve_escalated_at = ? WHERE id = ?"},
    {"correction",
     "SELECT id, user_id, due_at FROM correction_requests WHERE status = 'pending' AND "
     "due_at <= ? AND escalated_at IS NULL ORDER BY id LIMIT 500",
     "UPDATE correction_requests SET escalated_at = ? WHERE id = ?"},
};

/* [id, user_id, deadline] of a late request. */
static json_t *overdue_row(struct db_stmt *s, const void *ctx)
{
    (void)ctx;
    return json_pack("[I, I, I]", (json_int_t)db_col_int64(s, 0), (json_int_t)db_col_int64(s, 1),
                     (json_int_t)db_col_int64(s, 2));
}

/* Who hears of a missed deadline: compliance staff, else administrators. */
static enum st escalation_staff(struct db_conn *c, json_t **ids)
{
    static const int64_t roles[] = {ACC_ROLE_COMPLIANCE, ACC_ROLE_ADMIN};
    enum st st = ST_OK;
    *ids = NULL;
    for (size_t r = 0; r < 2 && st == ST_OK && json_array_size(*ids) == 0; r++) {
        json_decref(*ids);
        st = prq_rows(c, ids, prq_int_row, NULL,
                      "SELECT id FROM users WHERE status = 'active' AND (staff_roles & ?) <> 0 "
                      "ORDER BY id",
                      "i", roles[r]);
    }
    return st;
}

static enum st escalate(struct db_conn *c, const json_t *staff, const char *type, int64_t id,
                        int64_t uid, int64_t due)
{
    json_t *d =
        json_pack("{s:s, s:I, s:I}", "type", type, "id", (json_int_t)id, "due_at", (json_int_t)due);
    char *detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    struct audit_entry e = {.actor_role = "system",
                            .action = "privacy.request_overdue",
                            .subject_user_id = uid,
                            .detail = detail};
    enum st st = audit_append(c, &e, NULL);
    free(detail);
    char ref[96];
    snprintf(ref, sizeof ref, "overdue:%s:%lld", type, (long long)id);
    size_t i;
    json_t *v;
    json_array_foreach(staff, i, v)
    {
        if (st == ST_OK)
            st = privacy_inbox_add(c, json_integer_value(v), "staff.request_overdue", d, ref, NULL);
    }
    json_decref(d);
    return st;
}

static enum st overdue_run(struct job_ctx *ctx)
{
    int64_t now = clock_now_ms();
    json_t *staff = NULL;
    enum st st = escalation_staff(ctx->c, &staff);
    int escalated = 0;
    for (size_t r = 0; r < sizeof OVERDUE / sizeof OVERDUE[0] && st == ST_OK; r++) {
        /* Read first, then write: one statement open at a time. */
        json_t *rows = NULL;
        st = prq_rows(ctx->c, &rows, overdue_row, NULL, OVERDUE[r].select, "i", now);
        size_t i;
        json_t *v;
        json_array_foreach(rows, i, v)
        {
            int64_t id = json_integer_value(json_array_get(v, 0));
            if (st == ST_OK)
                st = pc_exec(ctx->c, NULL, OVERDUE[r].mark, "ii", now, id);
            if (st == ST_OK)
                st = escalate(ctx->c, staff, OVERDUE[r].type, id,
                              json_integer_value(json_array_get(v, 1)),
                              json_integer_value(json_array_get(v, 2)));
            escalated += st == ST_OK;
        }
        json_decref(rows);
    }
    json_decref(staff);
    if (st != ST_OK)
        job_set_error(ctx, "overdue requests: %s", st_name(st));
    else if (escalated)
        log_infof("privacy: %d missed deadlines escalated", escalated);
    return st;
}

/* ---------------------------------------------------------------- wiring */

static const struct job_kind kinds[] = {
    {.name = "privacy.requests_overdue", .run = overdue_run, .max_attempts = 3},
    {.name = "privacy.minor_close",
     .run = minor_close_run,
     .max_attempts = 10,
     .backoff_ms = 60000},
};

static const struct job_schedule schedules[] = {
    {.name = "privacy.requests_overdue",
     .kind = "privacy.requests_overdue",
     .every_ms = PRQ_OVERDUE_EVERY_MS},
};

enum st privacy_requests_init(void)
{
    enum st st = ST_OK;
    if (!jobs_kind_find(kinds[0].name)) {
        st = jobs_register(kinds, sizeof kinds / sizeof kinds[0]);
        if (st == ST_OK)
            st = jobs_schedule_add(schedules, sizeof schedules / sizeof schedules[0]);
    }
    return st == ST_OK ? privacy_breach_jobs_register() : st;
}
