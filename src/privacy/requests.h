/*
 * requests.h — the privacy center's requests with deadlines and its
 * registers (SPEC §2): complaints and objections, corrections of verified
 * fields, guardians' requests about minors, and the breach register; with
 * the staff queues that handle them.
 *
 * Deadlines. Every deadline promised in working days is computed by the
 * one calendar (core/workdays.h) when the request is filed and stored
 * with it: a ticket must be acknowledged within PRQ_ACK_WORKDAYS and
 * resolved within PRQ_RESOLVE_WORKDAYS, a correction decided within
 * PRQ_CORRECTION_WORKDAYS. A recurring job (privacy.requests_overdue,
 * every PRQ_OVERDUE_EVERY_MS) escalates each missed deadline once: an
 * inbox notice to every compliance staff member (administrators when
 * there is none) and an audit entry. The queues sort by the next
 * deadline and flag what is overdue. Breach deadlines are clock hours,
 * not working days: the regulator is told within BREACH_MAJOR_REPORT_MS
 * of detection for a major incident and within BREACH_REPORT_MS for every
 * incident; affected users without undue delay.
 *
 * Personal data. What users write (a ticket, its messages, a corrected
 * value and its evidence) is sealed under their data key, so erasing the
 * account shreds it; the rows themselves are kept three years as the
 * proof the request was handled in time (registry.c). Every staff read
 * of it is written to the audit log (who, role, whose data, which fields,
 * why) in the same transaction, and the user sees it in the privacy
 * center. Staff are shown to users by role, never by name.
 *
 * Verified fields. The accounts module has no verified real-name or
 * company fields: an approved correction is kept in verified_fields
 * (sealed), which is where those values live until it has.
 *
 * Minors. A guardian's request recorded by compliance staff closes the
 * account at once (status closing, sessions ended) and queues the
 * erasure, which runs privacy_erase_account — the erasure a cancellation
 * runs, without its cooling-off period — with public content deleted.
 *
 * Functions take a borrowed connection with no transaction open and
 * manage their own transactions. Domain code: plain C arguments, enum st
 * results, no HTTP.
 */
#ifndef ENTREPOT_PRIVACY_REQUESTS_H
#define ENTREPOT_PRIVACY_REQUESTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "consent.h"
#include "core/core.h"
#include "db/db.h"

/* ---------------------------------------------------------------- limits */

#define PRQ_ACK_WORKDAYS        5    /* acknowledge a ticket within */
#define PRQ_RESOLVE_WORKDAYS    15   /* resolve a ticket within */
#define PRQ_CORRECTION_WORKDAYS 2    /* decide a correction within */
#define PRQ_TEXT_MAX            5000 /* code points of a ticket's text or a message */
#define PRQ_VALUE_MAX           200  /* code points of a corrected value */
#define PRQ_EVIDENCE_MAX        2000 /* code points of evidence or a guardian's note */
#define PRQ_REASON_MAX          1000 /* code points of a rejection's reason */
#define PRQ_CONTACT_MAX         300  /* code points of a guardian's or breach contact */
#define PRQ_TICKETS_PER_DAY     10   /* tickets one account may file in 24 hours */
#define PRQ_MESSAGES_MAX        200  /* messages one ticket holds */
#define PRQ_QUEUE_MAX           100  /* rows a staff queue shows */
#define PRQ_OVERDUE_EVERY_MS    (15 * 60000LL)

#define BREACH_TITLE_MAX       200
#define BREACH_TEXT_MAX        10000 /* code points of a description, measures... */
#define BREACH_AFFECTED_MAX    5000  /* accounts one call adds */
#define BREACH_NOTICE_BATCH    200   /* notices one job run sends */
#define BREACH_MAJOR_REPORT_MS (4 * 3600000LL)
#define BREACH_REPORT_MS       (72 * 3600000LL)
#define BREACH_REPORT_MAX      (256 * 1024) /* bytes of the regulator report */

/* Who acts on the staff side: their account, the role they act in, and
 * their address, for the audit log. */
struct privacy_actor {
    int64_t id;
    const char *role; /* "support", "compliance", "administrator"... */
    const char *ip;
};

/* ---------------------------------------------------------------- tickets */

/* "complaint", "objection", "access", "other". */
bool privacy_ticket_kind_ok(const char *kind);

/* Files a ticket for user_id: kind (above), purpose (NULL, or a purpose
 * switch's key or a registry purpose name), body (1..PRQ_TEXT_MAX code
 * points, checked by the caller). Deadlines from the calendar; a notice
 * in the user's inbox. *out as privacy_ticket_get shows it. ST_INVALID
 * with err for a bad kind or purpose; ST_RATELIMIT past
 * PRQ_TICKETS_PER_DAY; ST_NOTFOUND when the account has no key (closed). */
enum st privacy_ticket_create(struct db_conn *c, int64_t user_id, const char *kind,
                              const char *purpose, const char *body, json_t **out,
                              struct privacy_error *err);
/* The user's tickets, newest first, paged like privacy_receipts_list:
 *   [{"id","kind","purpose"|null,"status","created_at","ack_due_at",
 *     "resolve_due_at","acknowledged_at"|null,"resolved_at"|null,
 *     "due_at"|null,"overdue","working_days_left"|null}] */
enum st privacy_tickets_mine(struct db_conn *c, int64_t user_id, int64_t before, int limit,
                             json_t **out, int64_t *next);
/* One of the user's tickets with its text and messages:
 *   {...as above, "body", "messages":[{"id","author":"user"|"staff",
 *     "role"|null,"body","created_at"}]}
 * ST_NOTFOUND when it is not theirs. */
enum st privacy_ticket_get(struct db_conn *c, int64_t user_id, int64_t id, json_t **out);
/* The user adds a message. ST_CONFLICT once resolved or past
 * PRQ_MESSAGES_MAX. *out as privacy_ticket_get. */
enum st privacy_ticket_message(struct db_conn *c, int64_t user_id, int64_t id, const char *body,
                               json_t **out);

/* Which tickets a staff queue shows. */
enum prq_state { PRQ_STATE_OPEN, PRQ_STATE_OVERDUE, PRQ_STATE_CLOSED, PRQ_STATE_ALL };
bool privacy_queue_state_parse(const char *s, enum prq_state *out);

/* The staff queue, next deadline first, at most PRQ_QUEUE_MAX, without
 * the texts: {"tickets":[{...as privacy_tickets_mine, "user_id",
 * "escalated"}], "counts":{"open","overdue"}, "now"}. */
enum st privacy_tickets_queue(struct db_conn *c, enum prq_state state, json_t **out);
/* One ticket with its text and messages, for staff: a read of personal
 * data written to the audit log with the actor and the ticket as reason. */
enum st privacy_ticket_staff_get(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                                 json_t **out);

enum prq_action { PRQ_ACKNOWLEDGE, PRQ_REPLY, PRQ_RESOLVE };
/* Staff act on a ticket: acknowledge (body optional: a first reply),
 * reply (body required) or resolve (body required: the outcome). The
 * user is told (inbox; e-mail or SMS for acknowledgement and
 * resolution); the action is audited. ST_CONFLICT when the ticket is
 * already resolved (or acknowledged, for acknowledge). *out as
 * privacy_ticket_get (no further audit entry: the actor wrote it). */
enum st privacy_ticket_act(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                           enum prq_action action, const char *body, json_t **out);

/* ---------------------------------------------------------------- corrections */

/* The verified fields: "real_name", "company_name", "credit_code",
 * "company_address", "legal_representative". */
bool privacy_correction_field_ok(const char *field);

/* Asks staff to correct a verified field. ST_CONFLICT when one for that
 * field is pending; ST_INVALID (err) for an unknown field. *out:
 *   {"id","field","value","evidence","status","reason"|null,"created_at",
 *    "due_at","decided_at"|null,"overdue","working_days_left"|null} */
enum st privacy_correction_create(struct db_conn *c, int64_t user_id, const char *field,
                                  const char *value, const char *evidence, json_t **out,
                                  struct privacy_error *err);
/* The user's requests (newest first, at most PRQ_QUEUE_MAX) and their
 * verified values: {"requests":[..], "verified":[{"field","value",
 * "verified_at"}]}. */
enum st privacy_corrections_mine(struct db_conn *c, int64_t user_id, json_t **out);
/* The staff queue, next deadline first, without values:
 *   {"corrections":[{"id","user_id","field","status","created_at",
 *     "due_at","decided_at"|null,"overdue","escalated"}],
 *    "counts":{"open","overdue"}, "now"} */
enum st privacy_corrections_queue(struct db_conn *c, enum prq_state state, json_t **out);
/* One request with its value and evidence (audited read), plus the
 * current verified value of that field: {...as the user sees it,
 * "user_id","current"|null}. */
enum st privacy_correction_staff_get(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                                     json_t **out);
/* Approves (the value becomes the verified one) or rejects it with a
 * reason (required then). The user is told; the decision is audited.
 * ST_CONFLICT when already decided. *out as privacy_correction_staff_get. */
enum st privacy_correction_decide(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                                  bool approve, const char *reason, json_t **out);

/* ---------------------------------------------------------------- minors */

/* Records a guardian's request about user_id and closes the account at
 * once: the row, status closing, the erasure job, the audit entry, in one
 * transaction. ST_NOTFOUND for no such account or one already closed;
 * ST_CONFLICT for a staff account or a request already recorded. *out as
 * privacy_minor_get. */
enum st privacy_minor_request(struct db_conn *c, const struct privacy_actor *a, int64_t user_id,
                              const char *guardian_contact, const char *evidence, json_t **out);
/* Every request, newest first, at most PRQ_QUEUE_MAX, without the
 * guardian's data: {"requests":[{"id","user_id","status","created_at",
 * "closed_at"|null}]}. */
enum st privacy_minors_list(struct db_conn *c, json_t **out);
/* One request with the guardian's contact and the evidence note (an
 * audited read). */
enum st privacy_minor_get(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                          json_t **out);

/* ---------------------------------------------------------------- breaches */

struct breach_new {
    const char *title;       /* 1..BREACH_TITLE_MAX */
    const char *description; /* what happened, 1..BREACH_TEXT_MAX */
    const char *cause;       /* NULL or why */
    const char *impact;      /* NULL or its possible consequences */
    int64_t detected_at;     /* when it was detected: not in the future */
    int64_t occurred_at;     /* 0 = unknown; else not after detected_at */
    bool major;
    const json_t *categories; /* array of registry category names (borrowed) */
    const char *measures;     /* NULL or what was done */
    const char *user_advice;  /* NULL or what users can do */
    const char *contact;      /* 1..PRQ_CONTACT_MAX: whom to contact */
    const json_t *user_ids;   /* NULL or the affected accounts (decimal strings, borrowed) */
    bool all_users;           /* every open account is affected */
};

/* Opens an incident with the accounts it concerns (audited), in one
 * transaction. ST_INVALID with err for a bad category, time or account.
 * *out as privacy_breach_get. */
enum st privacy_breach_open(struct db_conn *c, const struct privacy_actor *a,
                            const struct breach_new *b, json_t **out, struct privacy_error *err);
/* Changes an incident: any of "description","cause","impact","measures",
 * "user_advice","contact" (strings), "major" (bool), "categories" (array),
 * "status" ("open"/"closed"), each optional (the caller validated types
 * and lengths). Audited. *out as privacy_breach_get. */
enum st privacy_breach_update(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                              const json_t *patch, json_t **out, struct privacy_error *err);
/* Adds affected accounts: user_ids (array of decimal strings, borrowed)
 * and/or every open account (all). ST_INVALID (err field user_ids) when
 * one is not an account; *added (may be NULL) gets the new rows. */
enum st privacy_breach_affected_add(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                                    const json_t *user_ids, bool all, int64_t *added,
                                    struct privacy_error *err);
/* Queues the notices to every affected account not yet told (in-app, and
 * e-mail or SMS: what happened, what was done, what they can do, whom to
 * contact; each delivery lands in the disclosure ledger). *queued gets
 * how many wait. ST_CONFLICT when nobody waits. */
enum st privacy_breach_notify(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                              int64_t *queued);
/* Records that the regulator was told (reference may be NULL). */
enum st privacy_breach_reported(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                                const char *reference, json_t **out);
/* The register, open incidents first, newest first, at most
 * PRQ_QUEUE_MAX: {"incidents":[..as privacy_breach_get..], "now"}. */
enum st privacy_breaches_list(struct db_conn *c, json_t **out);
/* One incident with its countdowns:
 *   {"id","title","description","cause","impact","detected_at",
 *    "occurred_at"|null,"major","categories":[..],"measures","user_advice",
 *    "contact","status","created_at","updated_at","closed_at"|null,
 *    "regulator":{"initial_due_at"|null,"due_at","reported_at"|null,
 *                 "reference"|null,"overdue"},
 *    "users":{"affected","notified","pending","notices_sent_at"|null},
 *    "now"} */
enum st privacy_breach_get(struct db_conn *c, int64_t id, json_t **out);
/* The regulator report: every fact of the incident in Chinese and in
 * English, as an HTML document (html) or plain text; *doc is freed with
 * free(). Audited (privacy.breach.report). */
enum st privacy_breach_report(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                              bool html, char **doc, size_t *len);
/* The incidents user_id was told about, newest first:
 *   {"incidents":[{"id","title","description","impact","measures",
 *     "user_advice","contact","detected_at","notified_at"}]} */
enum st privacy_breaches_mine(struct db_conn *c, int64_t user_id, json_t **out);

/* ---------------------------------------------------------------- between requests.c and breach.c
 */

/* Turns one row into a list element; ctx is the caller's. */
typedef json_t *(*prq_row_fn)(struct db_stmt *s, const void *ctx);
/* Runs sql, binding by fmt (one letter an argument: 'i' int64_t, 'I'
 * int64_t bound as NULL when 0, 't' text or NULL, 'b' bytes: a pointer
 * and a size_t), and gives *out a new array of fn(row, ctx) for its rows
 * (NULL on failure). */
enum st prq_rows(struct db_conn *c, json_t **out, prq_row_fn fn, const void *ctx, const char *sql,
                 const char *fmt, ...);
/* A prq_row_fn: the row's first column as an integer (lists of ids). */
json_t *prq_int_row(struct db_stmt *s, const void *ctx);

/* ---------------------------------------------------------------- wiring */

/* Registers the job kinds (privacy.requests_overdue and its schedule,
 * privacy.minor_close, privacy.breach_notify). Idempotent; call at
 * start-up in every process that runs jobs. */
enum st privacy_requests_init(void);
/* breach.c: its job kind (called by privacy_requests_init). */
enum st privacy_breach_jobs_register(void);
/* Registers the routes of requests_api.c. */
void privacy_requests_api_register(void);

#endif
