/*
 * notify.h — outbound e-mail and SMS (SPEC §11) and the disclosure ledger
 * (SPEC §2: every time personal data leaves the platform, a record says
 * what, to whom, why and when).
 *
 * Messages are queued durably in the table `outbox` by notify_send, inside
 * the caller's transaction: a code is never sent for a request that rolled
 * back, and never lost for one that committed. A delivery worker (a thread
 * of `serve` or `worker`, or notify_deliver_due called directly) claims due
 * messages, hands each to the provider configured for its channel, and
 * records the outcome: 'sent' with a disclosure record, or a retry with
 * exponential backoff, or 'failed' after NOTIFY_MAX_ATTEMPTS (the row is
 * kept; notify_requeue sends it again).
 *
 * Delivery is at least once: a worker that dies between handing a message
 * to the provider and recording it (crash, lost database) leaves the row
 * 'sending' with a lease; when the lease runs out the message is sent again.
 * E-mails keep their Message-ID across attempts so mail systems can drop
 * the duplicate.
 *
 * Providers are tables of functions chosen by name from the configuration
 * (mail_provider = dev | smtp, sms_provider = dev | http). The dev provider
 * delivers nothing: it logs the message (with its text, so developers can
 * sign in with the code) and keeps it readable through notify_outbox_find,
 * which is how tests read the codes they were sent.
 *
 * Personal data at rest: recipient, subject, body and unsubscribe link are
 * one AEAD-sealed payload column (never in clear in the database); the
 * payload is dropped once a real provider has delivered it. Account
 * erasure calls notify_forget_user.
 *
 * Domain code: plain C arguments, enum st results, no HTTP.
 */
#ifndef ENTREPOT_NOTIFY_H
#define ENTREPOT_NOTIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "db/db.h"

/* ---------------------------------------------------------------- limits */

#define NOTIFY_ADDRESS_MAX       254           /* bytes of an e-mail address */
#define NOTIFY_SUBJECT_CHARS     200           /* code points of a subject */
#define NOTIFY_EMAIL_BODY_MAX    (256 * 1024)  /* bytes of an e-mail body */
#define NOTIFY_SMS_CHARS         670           /* code points of an SMS (10 UCS-2 parts) */
#define NOTIFY_NAME_MAX          64            /* bytes of template, lang, purpose names */
#define NOTIFY_TYPES_MAX         256           /* bytes of a data_types list */
#define NOTIFY_URL_MAX           2048          /* bytes of an unsubscribe URL */
#define NOTIFY_SYSTEM_MAX        200           /* bytes of a recipient_system */
#define NOTIFY_REFERENCE_MAX     200           /* bytes of a disclosure reference */
#define NOTIFY_ERROR_MAX         300           /* bytes of last_error kept */
#define NOTIFY_LIST_MAX          100           /* rows a list call returns at most */
#define NOTIFY_MAX_ATTEMPTS      10            /* deliveries tried before 'failed' */
#define NOTIFY_BACKOFF_MS        30000         /* first retry after 30 s, then doubling */
#define NOTIFY_BACKOFF_CAP_MS    (3600 * 1000) /* ... up to one hour */
#define NOTIFY_LEASE_MS          (5 * 60000)   /* a 'sending' row is reclaimed after this */
#define NOTIFY_CONNECT_TIMEOUT_S 10            /* provider connect timeout */
#define NOTIFY_TIMEOUT_S         60            /* whole provider call */
#define NOTIFY_POLL_MS           1000          /* worker looks for due messages this often */
#define NOTIFY_BATCH             32            /* messages one worker claims at once */

/* ---------------------------------------------------------------- messages */

enum notify_channel { NOTIFY_EMAIL, NOTIFY_SMS };

/* Why a message is sent. Security and service notices are always
 * delivered; marketing only with the user's consent (see
 * notify_set_marketing_check) and, for e-mail, with an unsubscribe link. */
enum notify_purpose { NOTIFY_SECURITY, NOTIFY_SERVICE, NOTIFY_MARKETING };

/* "email" / "sms" and "security" / "service" / "marketing", as stored. */
const char *notify_channel_name(enum notify_channel ch);
const char *notify_purpose_name(enum notify_purpose p);

struct notify_msg {
    enum notify_channel channel;
    enum notify_purpose purpose;
    int64_t user_id;             /* the account it is about; 0 = none yet (registration) */
    const char *to;              /* e-mail: ASCII address local@domain (internationalised
                                    addresses are not supported yet); SMS: E.164, "+8613800138000" */
    const char *template_name;   /* what kind of message: 1..64 of [a-z0-9_.-], "otp.login" */
    const char *lang;            /* language of the text: 1..64 of [A-Za-z0-9-], "zh-Hant" */
    const char *subject;         /* e-mail: required, 1..200 code points, no control
                                    characters; SMS: must be NULL */
    const char *body;            /* required UTF-8 text; only \n, \r and \t as control
                                    characters; e-mail up to 256 KiB, SMS 670 code points */
    const char *data_types;      /* NULL or what personal data the text carries besides the
                                    address, up to 240 bytes of [a-z0-9_,]: "otp",
                                    "name,order". The ledger records "email"/"phone"
                                    plus this (or "message"). */
    const char *unsubscribe_url; /* e-mail only; required for marketing: http(s):// or
                                    mailto: URL, printable ASCII, no spaces or <> */
};

/* Queues m for delivery and returns its outbox id in *id (may be NULL).
 * Must run inside the caller's transaction (db_begin ... db_commit): it
 * writes two statements, and the message is sent only if the transaction
 * commits. Call notify_worker_wake after the commit for prompt delivery.
 * ST_INVALID when m breaks a rule above; ST_INTERNAL when the key ring is
 * not loaded (crypto_init). */
enum st notify_send(struct db_conn *c, const struct notify_msg *m, int64_t *id);

/* ---------------------------------------------------------------- delivery */

/* Reads mail_provider, smtp_*, sms_provider and sms_http_* from the
 * configuration, checks them and selects the providers; also initialises
 * libcurl. ST_INVALID with a message in err for an unknown provider or a
 * bad setting (an smtp provider without smtp_url or smtp_from, credentials
 * over plain SMTP to a host other than loopback, a URL with a user or
 * password in it...). May be called again to re-read the configuration,
 * but not while the worker runs (ST_CONFLICT). Delivery functions call it
 * on first use when nobody has. */
enum st notify_init(char *err, size_t errlen);
/* Releases libcurl's global state. After notify_worker_stop; for tests
 * and a clean exit. */
void notify_cleanup(void);
/* Name of the provider selected for a channel ("dev", "smtp", "http"). */
const char *notify_provider_name(enum notify_channel ch);

/* Claims up to max (1..NOTIFY_BATCH*8) due messages (pending, or sending
 * with an expired lease) and delivers them one by one, synchronously.
 * Returns how many it claimed (delivered or not), or -1 when the database
 * or the configuration failed (logged). For tests and the worker. */
int notify_deliver_due(struct db *db, int max);

/* Starts the delivery thread on db (which must outlive it): it delivers
 * what is due, then waits NOTIFY_POLL_MS or until notify_worker_wake.
 * ST_CONFLICT when it already runs; ST_INVALID for a bad configuration
 * (logged). Several processes may run workers on one PostgreSQL database
 * (claims use FOR UPDATE SKIP LOCKED) or one SQLite file. */
enum st notify_worker_start(struct db *db);
/* Stops it: a provider call in progress is abandoned (the message stays
 * queued and is tried again later). No-op when not running. */
void notify_worker_stop(void);
/* Makes a running worker look for due messages now. Safe from any thread,
 * and when no worker runs. */
void notify_worker_wake(void);

/* Consent check for marketing messages, made again at delivery time, so a
 * withdrawal takes effect for messages already queued: fn answers whether
 * user_id still agrees to marketing on that channel. A message it refuses
 * is 'cancelled' and its content dropped. c is a connection the hook may
 * query (no transaction open). Without a hook (fn NULL), marketing is
 * delivered as queued: callers check consent before notify_send. Set at
 * start-up, before the worker starts. */
typedef bool (*notify_consent_fn)(struct db_conn *c, int64_t user_id, enum notify_channel ch,
                                  void *arg);
void notify_set_marketing_check(notify_consent_fn fn, void *arg);

/* ---------------------------------------------------------------- outbox */

/* Messages sent to `to` (compared exactly), newest first, at most limit
 * (1..NOTIFY_LIST_MAX), among the newest 1000 that still have their
 * content. *out is a new JSON array (caller json_decref's) of
 *   {"id","channel","user_id"|null,"purpose","template","lang","to",
 *    "subject"|null,"body","status","attempts","created_at","sent_at"|null}
 * For development and tests (the dev provider's inbox: "the last code sent
 * to this number"); never expose it outside test mode. */
enum st notify_outbox_find(struct db *db, const char *to, int limit, json_t **out);
/* One message, as above plus "next_attempt_at","last_error","provider";
 * "to", "subject" and "body" are null once delivered content was dropped.
 * ST_NOTFOUND when there is no such row. */
enum st notify_outbox_get(struct db *db, int64_t id, json_t **out);
/* Puts a 'failed' or 'cancelled' message back in the queue (attempts 0,
 * due now), e.g. after an operator fixed the provider. ST_NOTFOUND when
 * there is no such row, ST_CONFLICT when it is not failed or cancelled or
 * its content is gone. */
enum st notify_requeue(struct db *db, int64_t id);
/* Retention: deletes sent, failed and cancelled messages created before
 * before_ms; *deleted (may be NULL) gets the count. Pending messages are
 * never purged. */
enum st notify_purge(struct db *db, int64_t before_ms, int64_t *deleted);
/* Account erasure: deletes every outbox row of user_id (queued ones too)
 * and detaches their disclosure records from the account (user_id NULL;
 * the record that a disclosure happened stays, about nobody). Runs in the
 * caller's transaction. */
enum st notify_forget_user(struct db_conn *c, int64_t user_id);

/* ---------------------------------------------------------------- ledger */

struct notify_disclosure {
    int64_t user_id;              /* whose data; 0 = no account known */
    const char *recipient_system; /* who received it: "smtp:mail.example.net", "sms:dev",
                                     "payment:...": 1..200 printable ASCII */
    const char *data_types;       /* what: "phone,otp", 1..256 of [a-z0-9_,] */
    const char *purpose;          /* why: "security", "service", "marketing", "payment",
                                     "translation", ...: 1..64 of [a-z0-9_.-] */
    const char *legal_basis;      /* "consent", "contract", "legal_obligation",
                                     "vital_interests", "public_task" or
                                     "legitimate_interests" */
    const char *reference;        /* NULL or the local object, "outbox:42"; printable
                                     ASCII up to 200 bytes */
};

/* Writes one disclosure record, stamped with clock_now_ms(), and returns
 * its id in *id (may be NULL). Every integration that sends personal data
 * out (notify, payments, translation, exports to authorities) calls it,
 * ideally in the transaction that records the outcome. ST_INVALID when d
 * breaks a rule above. */
enum st notify_disclosure_record(struct db_conn *c, const struct notify_disclosure *d, int64_t *id);
/* user_id's disclosure records, newest first: those with id < before_id (0 =
 * from the newest), at most limit (1..NOTIFY_LIST_MAX). *out is a new JSON
 * array (caller json_decref's) of
 *   {"id","at","recipient_system","data_types":[..],"purpose",
 *    "legal_basis","reference"|null}
 * The last element's id is the cursor for the next page. */
enum st notify_disclosures_list(struct db *db, int64_t user_id, int64_t before_id, int limit,
                                json_t **out);

/* ---------------------------------------------------------------- e-mail format */

/* One e-mail as the SMTP provider writes it. */
struct notify_email {
    const char *from;            /* "address" or "Display Name <address>" */
    const char *to;              /* address */
    const char *subject;         /* UTF-8 */
    const char *body;            /* UTF-8 text */
    const char *unsubscribe_url; /* NULL or a URL: List-Unsubscribe (RFC 2369/8058) */
    const char *message_id;      /* without angle brackets: "1700000000000.42@example.net" */
    int64_t date_ms;             /* the Date header */
};

/* Appends to out an RFC 5322 message with CRLF line ends: Date, From, To,
 * Subject (RFC 2047 base64 encoded-words for non-ASCII or long subjects and
 * display names), Message-ID, MIME-Version, Content-Type text/plain;
 * charset=utf-8, Content-Transfer-Encoding (7bit for short-lined ASCII,
 * else base64), Auto-Submitted, List-Unsubscribe when given; then the body.
 * ST_INVALID for a header value with control characters or an address it
 * cannot write; ST_TOOLARGE past out's cap. */
enum st notify_email_render(const struct notify_email *e, struct buf *out);

#endif
