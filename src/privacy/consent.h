/*
 * consent.h — the privacy center's promises about consent (SPEC §2):
 * versioned policies and the receipts of their acceptance, the consent
 * gate after a material version, a switch per optional purpose with the
 * history of its changes, the in-app inbox, and the user's view of staff
 * access to their data. (The personal-data registry is privacy.h.)
 *
 * Policies. Staff publish a version of a document ("privacy" policy or
 * "terms") with its text in one language, marked material or not, taking
 * effect now or later; more languages may be added, never rewritten. Every
 * active user is told in the inbox and, with a verified address, by e-mail
 * (a job, in batches). Versions are never changed or deleted.
 *
 * The gate. Once a material version is in effect, a user who has not
 * accepted it (or a later version of that document) must accept before any
 * other request: the HTTP layer asks privacy_gate_* for every POLICY_USER
 * route that is not exempt, and answers 403 consent-required. A user who
 * registered after the version took effect accepted it by registering
 * (the sign-up form shows the policy in force), so is not asked again.
 * Acceptance never expires, so a node may remember for POLICY_CACHE_MS
 * that a user is through the gate; the list of material versions is
 * cached as long, and dropped at once on the node that publishes.
 *
 * Purposes. Every optional purpose needs consent: no row means off. A
 * switch is read from the database on every call (no cache), so turning
 * it off takes effect for the next request; every change is kept (old,
 * new, when, channel). notify's marketing check is wired to the e-mail and
 * SMS switches, at queueing time and again at delivery.
 *
 * Staff access. A user sees every audit entry about them made by staff
 * (support, operations, compliance, administrator): when, the role, the
 * action, the fields and the stated purpose — not who. The person is
 * identifiable to compliance from the audit log (actor_id) when a
 * complaint needs it; showing staff members' identities to every user
 * they served would expose staff personal data with no added protection.
 *
 * Functions take a borrowed connection with no transaction open, unless
 * they say otherwise, and manage their own transactions. Domain code:
 * plain C arguments, enum st results, no HTTP.
 */
#ifndef ENTREPOT_PRIVACY_CONSENT_H
#define ENTREPOT_PRIVACY_CONSENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "db/db.h"

/* ---------------------------------------------------------------- limits */

#define POLICY_TITLE_MAX    200    /* code points of a policy title */
#define POLICY_BODY_MAX     200000 /* code points of a policy text */
#define POLICY_CACHE_MS     3000   /* a node trusts its view of the gate this long */
#define POLICY_NOTICE_BATCH 200    /* users one notice job handles */
#define PRIVACY_LIST_MAX    100    /* rows a list call returns at most */
#define PRIVACY_UA_MAX      512    /* bytes of a User-Agent kept on a receipt */
#define INBOX_KIND_MAX      64     /* bytes of an inbox kind */
#define INBOX_PARAMS_MAX    4096   /* bytes of an inbox item's params, as JSON */
#define INBOX_REF_MAX       200    /* bytes of an inbox item's ref */

/* Where a consent came from: the web app (cookie session) or an app or
 * API client (bearer token); the others are for switches changed outside
 * the privacy center. Stored as "web", "app", "email_link",
 * "sms_keyword", "staff". */
enum consent_channel {
    CHANNEL_WEB,
    CHANNEL_APP,
    CHANNEL_EMAIL_LINK,
    CHANNEL_SMS_KEYWORD,
    CHANNEL_STAFF,
};
const char *privacy_channel_name(enum consent_channel ch);

/* Who is acting, for receipts and the audit log. */
struct consent_client {
    const char *ip;         /* may be NULL */
    const char *user_agent; /* may be NULL; cut to PRIVACY_UA_MAX bytes */
    enum consent_channel channel;
};

/* ---------------------------------------------------------------- policies */

enum policy_doc { POLICY_PRIVACY, POLICY_TERMS, POLICY_DOC__COUNT };

/* "privacy" / "terms"; "" (name) or false (parse) for anything else. */
const char *privacy_doc_name(enum policy_doc d);
bool privacy_doc_parse(const char *s, enum policy_doc *out);

struct policy_new {
    enum policy_doc doc;
    bool material;
    int64_t effective_at; /* 0 = now; else not before now */
    const char *lang;     /* one of i18n_langs */
    const char *title;    /* 1..POLICY_TITLE_MAX code points */
    const char *body;     /* 1..POLICY_BODY_MAX code points */
    int64_t staff_id;     /* who publishes (audit log) */
    const char *staff_role;
    const char *ip;
};

/* Why a call was refused: field and code name a field error ("effective_at",
 * "range"); both NULL otherwise. */
struct privacy_error {
    const char *field;
    const char *code;
};

/* Publishes the next version of p->doc with its first text, records it in
 * the audit log and queues the notices, in one transaction. *out gets the
 * version as privacy_policy_get shows it. ST_INVALID with err filled for
 * a bad language or an effective time in the past. */
enum st privacy_policy_publish(struct db_conn *c, const struct policy_new *p, json_t **out,
                               struct privacy_error *err);
/* Adds version_id's text in lang (fields as above). ST_NOTFOUND for no
 * such version, ST_CONFLICT when that language is already there. */
enum st privacy_policy_text_add(struct db_conn *c, int64_t version_id, const char *lang,
                                const char *title, const char *body, int64_t staff_id,
                                const char *staff_role, const char *ip, json_t **out,
                                struct privacy_error *err);
/* Every published version, newest first, without texts:
 *   {"versions":[{"id","document","version","material","effective_at",
 *                 "published_at","languages":[..],"in_force":bool}]}
 * in_force: the version of its document in effect now. */
enum st privacy_policies_list(struct db_conn *c, json_t **out);
/* One version with its text in lang, else English, else the first
 * language it has: the list's fields plus "lang","title","body".
 * ST_NOTFOUND for no such version. */
enum st privacy_policy_get(struct db_conn *c, int64_t id, const char *lang, json_t **out);
/* The version of each document in effect now (as privacy_policy_get),
 * and the next one when one is published to take effect later:
 *   {"documents":[{"document","in_force":{..}|null,"upcoming":{..}|null}]} */
enum st privacy_policies_current(struct db_conn *c, const char *lang, json_t **out);

/* The user's consent, per document:
 *   {"consent_required":bool, "documents":[{"document",
 *     "in_force":{version..}|null,
 *     "accepted":{version.., "accepted_at"|null, "implicit":bool}|null,
 *     "must_accept":bool, "up_to_date":bool}]}
 * accepted is the newest version the user accepted, or (implicit) the one
 * in force when they registered; with texts in lang, so a client can show
 * what changed. must_accept: a material version the user has not accepted
 * is in force (the gate is closed). up_to_date: they accepted the version
 * in force (or a later one). */
enum st privacy_consent_state(struct db_conn *c, int64_t user_id, const char *lang, json_t **out);
/* Accepts version_id, shown in lang (a language it has), and writes the
 * receipt, unless the user already accepted that version (then *created
 * is false and *out is that receipt). Only the version in force or a
 * later one (published to take effect later) may be accepted:
 * ST_CONFLICT for a superseded version, ST_NOTFOUND for no such version,
 * ST_INVALID (field "lang") for a language it does not have. *out (may be
 * NULL) gets the receipt as privacy_receipts_list shows it. */
enum st privacy_policy_accept(struct db_conn *c, int64_t user_id, int64_t version_id,
                              const char *lang, const struct consent_client *cl, json_t **out,
                              bool *created, struct privacy_error *err);
/* The user's receipts, newest first, those with id < before (0 = from the
 * newest), at most limit (1..PRIVACY_LIST_MAX):
 *   [{"id","version_id","document","version","material","lang",
 *     "accepted_at","ip"|null,"user_agent"|null,"channel"}]
 * *next is the cursor of the next page, 0 when there is none. */
enum st privacy_receipts_list(struct db_conn *c, int64_t user_id, int64_t before, int limit,
                              json_t **out, int64_t *next);

/* The gate without the database: ST_OK with *blocked when this node can
 * tell (no material version in force, or the user was let through for the
 * same set of material versions less than POLICY_CACHE_MS ago), else
 * ST_NOTFOUND: ask privacy_gate_check. */
enum st privacy_gate_cached(int64_t user_id, bool *blocked);
/* The gate from the database: *blocked when a material version in force
 * waits for user_id's acceptance. Remembers a user let through. */
enum st privacy_gate_check(struct db_conn *c, int64_t user_id, bool *blocked);
/* Forgets this node's cached view (after a publication; tests). */
void privacy_gate_forget(void);

/* ---------------------------------------------------------------- purposes */

/* The optional purposes, each with its own switch. */
enum privacy_purpose {
    PURPOSE_RECOMMENDATIONS,   /* personalised recommendations and feed */
    PURPOSE_MARKETING_EMAIL,   /* marketing by e-mail */
    PURPOSE_MARKETING_SMS,     /* marketing by SMS */
    PURPOSE_MARKETING_CALLS,   /* marketing by telephone calls */
    PURPOSE_CONTACT_MATCHING,  /* "people you may know" */
    PURPOSE_MODEL_IMPROVEMENT, /* de-identified chats for model improvement */
    PURPOSE__COUNT
};

/* "recommendations", "marketing_email", "marketing_sms", "marketing_calls",
 * "contact_matching", "model_improvement"; "" / false otherwise. */
const char *privacy_purpose_key(enum privacy_purpose p);
bool privacy_purpose_parse(const char *s, enum privacy_purpose *out);

/* THE check for other modules: whether user_id agrees to purpose p now.
 * Reads the database every time (no cache), so a switch turned off
 * applies to the very next request. False when it is off, never set, or
 * cannot be read (fail closed). Usable inside the caller's transaction. */
bool privacy_purpose_on(struct db_conn *c, int64_t user_id, enum privacy_purpose p);
/* Every switch: {"purposes":[{"purpose","on","updated_at"|null}]}. */
enum st privacy_purposes_list(struct db_conn *c, int64_t user_id, json_t **out);
/* One switch, as an element of the list above. */
enum st privacy_purpose_get(struct db_conn *c, int64_t user_id, enum privacy_purpose p,
                            json_t **out);
/* Sets a switch and, when it changes, records the change (old, new, when,
 * channel) in the same transaction. *out (may be NULL) as privacy_purpose_get. */
enum st privacy_purpose_set(struct db_conn *c, int64_t user_id, enum privacy_purpose p, bool on,
                            enum consent_channel ch, json_t **out);
/* The changes, newest first, paged like privacy_receipts_list:
 *   [{"id","purpose","from","to","at","channel"}] */
enum st privacy_purpose_history(struct db_conn *c, int64_t user_id, int64_t before, int limit,
                                json_t **out, int64_t *next);

/* ---------------------------------------------------------------- inbox */

/* Adds a notice for user_id inside the caller's transaction: kind (1..64
 * of [a-z0-9_.-]), params (a JSON object, borrowed; NULL = {}; at most
 * INBOX_PARAMS_MAX bytes) and ref (NULL, or a key unique per user: a
 * second notice with it is not added). *added (may be NULL) says whether
 * it was. ST_INVALID for a bad kind or params. */
enum st privacy_inbox_add(struct db_conn *c, int64_t user_id, const char *kind,
                          const json_t *params, const char *ref, bool *added);
/* The user's notices, newest first, paged like privacy_receipts_list:
 *   [{"id","kind","params":{..},"created_at","read_at"|null}]
 * and *unread (may be NULL) the number not read. */
enum st privacy_inbox_list(struct db_conn *c, int64_t user_id, int64_t before, int limit,
                           json_t **out, int64_t *next, int64_t *unread);
/* Marks one notice read (idempotent). ST_NOTFOUND when it is not theirs. */
enum st privacy_inbox_read(struct db_conn *c, int64_t user_id, int64_t id);
/* Marks every unread notice of user_id read; *marked (may be NULL) gets
 * how many were. */
enum st privacy_inbox_read_all(struct db_conn *c, int64_t user_id, int64_t *marked);

/* ---------------------------------------------------------------- staff access */

/* The audit entries about user_id made by staff, newest first, paged like
 * privacy_receipts_list:
 *   [{"id","at","role","action","fields":[..],"purpose"|null}]
 * (purpose is the reason staff gave). */
enum st privacy_staff_accesses(struct db_conn *c, int64_t user_id, int64_t before, int limit,
                               json_t **out, int64_t *next);

/* ---------------------------------------------------------------- wiring */

/* Registers the job that sends policy notices and wires notify's
 * marketing check to the purpose switches. Idempotent; call at start-up
 * in every process that runs jobs or delivers messages. */
enum st privacy_consent_init(void);
/* Registers the privacy center's routes and the consent gate with the
 * HTTP layer (privacy_api.c). Call after the accounts routes: it exempts
 * some of theirs from the gate (sign-out, reading one's account). */
void privacy_api_register(void);

#endif
