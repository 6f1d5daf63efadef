/*
 * privacy.h — the privacy module. For now: the ONE personal-data registry
 * (DESIGN.md, data conventions).
 *
 * The registry (registry.c) names every column of every table in the
 * schema. A column either holds personal data — with its category,
 * purpose, legal basis, whether it is encrypted, how long it is kept, and
 * how the export and the erasure of an account treat it — or is declared
 * not personal with a reason (row keys, bookkeeping). A table that holds
 * no personal data at all says why. test_registry.c compares the registry
 * with the live schema on SQLite and PostgreSQL: a table or column that
 * is not registered, or a registered one that does not exist, fails it.
 *
 * The data inventory page, the export, the retention job and
 * crypto-shredding read this registry through the iteration API below;
 * none of them keeps its own list. `entrepot privacy inventory` prints it
 * as JSON (format in docs/architecture.md).
 *
 * Every name the registry uses (category, purpose, legal basis, retention
 * kind and event, export and erasure treatment) has a catalogue entry
 * "privacy.<group>.<name>" in every language, for the inventory page.
 */
#ifndef ENTREPOT_PRIVACY_H
#define ENTREPOT_PRIVACY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "db/db.h"

/* ---------------------------------------------------------------- vocabulary */

/* What kind of personal data a column holds. PD_NOT_PERSONAL (zero) marks
 * a column that is not personal data (its note says why). */
enum pd_category {
    PD_NOT_PERSONAL = 0,
    PD_IDENTITY,      /* who you are: user name, display name, real name */
    PD_CONTACT,       /* phone number, e-mail address, their lookups */
    PD_CREDENTIALS,   /* password hash, second-factor secrets, data keys */
    PD_PROFILE,       /* what you tell about yourself and your preferences */
    PD_ACCOUNT,       /* account records: type, status, roles, dates, its tasks */
    PD_BEHAVIOUR,     /* sign-ins and activity: when you used the service */
    PD_DEVICE,        /* devices and browsers you used */
    PD_NETWORK,       /* IP addresses and the approximate place they give */
    PD_COMMUNICATION, /* messages sent to you and their delivery */
    PD_DISCLOSURE,    /* records of your data going to other systems */
    PD_SECURITY,      /* security events, one-time codes, throttling */
    PD_CONTENT,       /* what you publish or write */
    PD_CONSENT,       /* policy acceptances and purpose switches */
    PD_PAYMENT,       /* orders, invoices, payment references */
    PD_VERIFICATION,  /* identity and enterprise verification material */
    PD_CATEGORY__COUNT
};

/* Why it is processed. */
enum pd_purpose {
    PD_PURPOSE_UNSET = 0,
    PD_FOR_ACCOUNT,           /* provide the account and the services used */
    PD_FOR_SECURITY,          /* protect accounts and the platform */
    PD_FOR_COMMUNICATION,     /* send the messages asked for or needed */
    PD_FOR_MARKETING,         /* marketing messages, with consent */
    PD_FOR_ACCOUNTABILITY,    /* records the law requires us to keep */
    PD_FOR_OPERATIONS,        /* background tasks the account or service started */
    PD_FOR_PERSONALISATION,   /* personalised recommendations, with consent */
    PD_FOR_CONTACT_MATCHING,  /* finding people you know, with consent */
    PD_FOR_MODEL_IMPROVEMENT, /* de-identified chat for models, with consent */
    PD_FOR_COMMERCE,          /* orders, payments, invoices */
    PD_FOR_COMMUNITY,         /* running the community: publishing, following */
    PD_FOR_MODERATION,        /* keeping the community safe: reports, moderators' records */
    PD_PURPOSE__COUNT
};

/* The legal basis; names match the disclosure ledger's legal_basis. */
enum pd_basis {
    PD_BASIS_UNSET = 0,
    PD_BASIS_CONTRACT,
    PD_BASIS_CONSENT,
    PD_BASIS_LEGAL_OBLIGATION,
    PD_BASIS_LEGITIMATE_INTERESTS,
    PD_BASIS_VITAL_INTERESTS,
    PD_BASIS_PUBLIC_TASK,
    PD_BASIS__COUNT
};

/* How the export of an account ("everything about me") treats a column. */
enum pd_export {
    PD_EXPORT_UNSET = 0,
    PD_EXPORT_VALUE,    /* the stored value */
    PD_EXPORT_DECRYPT,  /* the value, opened with the owner's key */
    PD_EXPORT_PRESENCE, /* only whether it is set (secrets: password hash...) */
    PD_EXPORT_OMIT,     /* not exported; the note says why */
    PD_EXPORT__COUNT
};

/* What the erasure of an account (cancellation, a minor's closure) does. */
enum pd_erase {
    PD_ERASE_UNSET = 0,
    PD_ERASE_SHRED,        /* sealed under the owner's data key: unreadable once it is
                              destroyed, everywhere and in backups; the value is cleared */
    PD_ERASE_DELETE,       /* the value (or the row) is deleted */
    PD_ERASE_ANONYMISE,    /* the row stays, detached from the person (reference
                              cleared, value neutralised) */
    PD_ERASE_KEEP_FOR_LAW, /* kept until its legal period ends, then purged */
    PD_ERASE__COUNT
};

/* How long rows (or a column's value) are kept. */
enum pd_keep {
    PD_KEEP_AS_ROW = 0, /* columns only: as long as the row */
    PD_KEEP_ACCOUNT,    /* while the account exists; removed by its erasure */
    PD_KEEP_AFTER,      /* keep_ms after the time in column anchor */
    PD_KEEP_CHECKPOINT, /* keep_ms after anchor, then removed only up to a published
                           checkpoint of the audit chain (its root stays) */
    PD_KEEP_LATEST,     /* the keep_n newest rows of each owner, by anchor */
    PD_KEEP__COUNT
};

/* Tables that exist on one engine only (an FTS5 table on SQLite...). */
enum pd_engine { PD_BOTH = 0, PD_SQLITE_ONLY, PD_POSTGRES_ONLY };

struct pd_retention {
    enum pd_keep kind;
    const char *anchor; /* PD_KEEP_AFTER/CHECKPOINT: a time column of the table */
    int64_t keep_ms;    /* PD_KEEP_AFTER/CHECKPOINT: 0 = as soon as anchor is set */
    int64_t keep_n;     /* PD_KEEP_LATEST: rows kept per owner */
    const char *event;  /* what anchor records, for people: "last_use", "expiry",
                           "delivery", "creation", "finish", "recording", "last_hit" */
};

/* Sealed columns. Under the owner's data key (the default) the column's
 * name ends in "_enc" and its associated data is "TABLE.NAME" without
 * that suffix ("users.phone_enc" is sealed as "users.phone"): the export
 * opens it with the owner's key, and destroying the key shreds it. A
 * column sealed under a server key (server_key) is opened by the module
 * that sealed it, and shredding cannot reach it: erasure deletes it. */
struct pd_column {
    const char *name;
    enum pd_category category; /* PD_NOT_PERSONAL: note says why */
    enum pd_purpose purpose;
    enum pd_basis basis;
    bool encrypted;  /* sealed (AEAD) at rest */
    bool server_key; /* sealed under a server key, not the owner's data key */
    enum pd_export exp;
    enum pd_erase erase;
    /* Holds the id of an account other than through the table's owner
     * column (a follower's followee, a moderator who acted). When that
     * account is erased, erase applies to the rows it names: delete
     * deletes them, anonymise clears the column, keep_for_law keeps it. */
    bool account_ref;
    /* Content others can see (a post's text). At erasure the account
     * holder's choice applies: "delete" clears it (erase is delete),
     * "anonymise" keeps it in the row detached from them. */
    bool public_content;
    /* A sealed upload (a picture): the export writes it as a file, with
     * the media type found in this column of the row. */
    const char *media_col;
    struct pd_retention keep; /* zero: as the row */
    const char *note;         /* one sentence for reviewers and the inventory */
};

/* Erasure of account A treats the rows whose owner column names A: when
 * the owner column's own treatment is delete, the rows are deleted;
 * otherwise each personal column of them gets its treatment (shred and
 * delete clear the value: NULL, or for a NOT NULL column its default, or
 * '' / 0 / fresh random bytes), and an anonymised owner column is
 * cleared last (the row stays, about nobody). Then every account_ref
 * column naming A gets its own treatment. The users row itself is never
 * deleted: it stays as the closed account's tombstone. */
struct pd_table {
    const char *name;
    const char *owner;        /* the column naming the account a row is about ("user_id";
                                 "id" for users); NULL when rows cannot be tied to one */
    const char *owner_in;     /* NULL, or the table whose row (by its "id") the owner column
                                 names: the rows belong to that row's owner */
    const char *removed_at;   /* NULL, or a time column set when erasure deletes the
                                 row's public content (the module's own removal mark) */
    const char *not_personal; /* non-NULL: no personal data here, and why */
    enum pd_engine engine;
    struct pd_retention keep;        /* of the rows (personal tables) */
    const struct pd_column *columns; /* every column, ended by {0} */
    const char *note;
};

/* ---------------------------------------------------------------- iteration */

/* The registered tables, in schema order. Never NULL for i < count. */
size_t privacy_table_count(void);
const struct pd_table *privacy_table_at(size_t i);
/* NULL when not registered. */
const struct pd_table *privacy_table_find(const char *name);
const struct pd_column *privacy_column_find(const struct pd_table *t, const char *name);
bool privacy_column_personal(const struct pd_column *c);
/* A column's retention: its own, or the row's when it has none. */
const struct pd_retention *privacy_column_keep(const struct pd_table *t, const struct pd_column *c);

/* Calls fn for every personal column of every table (in registry order)
 * until it returns false. */
typedef bool (*privacy_visit_fn)(const struct pd_table *t, const struct pd_column *c, void *arg);
void privacy_each_personal(privacy_visit_fn fn, void *arg);

/* Stable names ("contact", "account", "legal_obligation", "decrypt",
 * "shred", "after"...): the JSON values and the catalogue keys'
 * last part. "" for an out-of-range value. */
const char *privacy_category_name(enum pd_category c);
const char *privacy_purpose_name(enum pd_purpose p);
const char *privacy_basis_name(enum pd_basis b);
const char *privacy_export_name(enum pd_export e);
const char *privacy_erase_name(enum pd_erase e);
const char *privacy_keep_name(enum pd_keep k);

/* ---------------------------------------------------------------- checks */

/* Checks a registry against its own rules (see registry.c): complete
 * annotations on personal columns, reasons on the others, owner and
 * anchors naming columns of their table, encrypted columns shredded or
 * deleted, no duplicate names. Appends one English sentence per problem
 * to problems (a JSON array). tables may be the live registry
 * (privacy_table_at(0)) or a test's. */
void privacy_registry_check(const struct pd_table *tables, size_t n, json_t *problems);

/* Compares tables with the live schema of db: every table and column of
 * the database must be registered (for db's engine), and every registered
 * one must exist. Tables SQLite keeps for an FTS5 table (NAME_data,
 * NAME_idx, ...) count as part of it. Appends one sentence per problem to
 * problems. ST_OK when the schema could be read (problems or not). */
enum st privacy_schema_compare(struct db *db, const struct pd_table *tables, size_t n,
                               json_t *problems);

/* ---------------------------------------------------------------- inventory */

/* The registry as JSON (caller json_decref's):
 *   {"version":1, "tables":[{"name","owner"|null,"engine","personal":bool,
 *     "reason"?, "note"?, "retention"?:{...},
 *     "columns":[{"name","personal":false,"note"} |
 *                {"name","personal":true,"category","purpose","legal_basis",
 *                 "encrypted","export","erasure","retention":{"kind",
 *                 "anchor"?, "keep_ms"?, "event"?},"note"?}]}]} */
json_t *privacy_inventory_json(void);
/* One retention rule as the inventory shows it: {"kind", "anchor"?,
 * "keep_ms"?, "keep_n"?, "event"?}. */
json_t *privacy_retention_json(const struct pd_retention *k);

/* ================================================================ rights
 *
 * The user's rights built on the registry (export.c, erase.c,
 * retention.c; HTTP in export_api.c): a copy of everything held about
 * them, the closing of their account by crypto-shredding, and the
 * retention rules applied by a recurring job. None of them keeps a list
 * of tables: each walks the registry. */

#define PRIVACY_EXPORT_MAX_BYTES   CRYPTO_FIELD_MAX /* an archive is sealed in one piece */
#define PRIVACY_EXPORTS_PER_DAY    5                /* exports one account may ask for a day */
#define PRIVACY_EXPORT_LIST_MAX    20               /* exports a list shows */
#define PRIVACY_EXPORT_ROWS_MAX    100000           /* rows of one table in one export */
#define PRIVACY_ERASE_WORKDAYS     15               /* the promise: erased within 15 working days */
#define PRIVACY_RETENTION_EVERY_MS 3600000LL        /* the retention job runs hourly */

struct privacy_rights_options {
    const char *export_dir; /* where sealed archives are written (made 0700 when missing) */
    int64_t export_ttl_ms;  /* how long an archive can be downloaded (default 7 days) */
    int64_t cooling_off_ms; /* from a cancellation request to the erasure (default 7 days) */
};
/* Defaults: export_dir "var/exports", 7 days, 7 days. */
void privacy_rights_options_default(struct privacy_rights_options *o);
/* Sets the options (copied, strings too). Call at start-up. */
void privacy_rights_configure(const struct privacy_rights_options *o);

/* Registers the job kinds ("privacy.export", "privacy.erase",
 * "privacy.retention") and the hourly retention schedule. Idempotent;
 * call at start-up in every process that runs jobs. */
enum st privacy_rights_init(void);

/* ---------------------------------------------------------------- export */

/* Everything held about user_id, walked from the registry: for each
 * personal table with an owner, the rows that belong to them, with every
 * column whose export is not "omit" (sealed ones opened, "presence" ones
 * as true/false), grouped by category:
 *   {"format":1, "account_id", "generated_at", "lang",
 *    "categories":{CATEGORY:{"title", "tables":{TABLE:[{column:value}]}}},
 *    "files":[{"path","table","column","media_type","size"}],
 *    "omitted":[{"table","column","reason"}]}
 * Non-personal columns of a row (ids, counters, times) come with it in
 * every category it appears in. A sealed upload appears as its path
 * ("files/avatars/image-1.webp"); privacy_export_zip writes the bytes.
 * Runs on c (the caller may hold a transaction); db gives the engine.
 * Caller json_decref's. */
enum st privacy_export_collect(struct db *db, struct db_conn *c, int64_t user_id, const char *lang,
                               json_t **out);
/* The same as a zip in memory: manifest.json (the object above without
 * the rows), one categories/CATEGORY.json per category, and the files.
 * *zip is freed with free(); *categories (may be NULL) gets the JSON array
 * of the category names it holds. ST_TOOLARGE past
 * PRIVACY_EXPORT_MAX_BYTES. */
enum st privacy_export_zip(struct db *db, struct db_conn *c, int64_t user_id, const char *lang,
                           unsigned char **zip, size_t *len, json_t **categories);

/* Asks for an export: a row and its job, in one transaction. *out gets
 * the export as the list shows it. ST_CONFLICT when one is already
 * queued or running, ST_RATELIMIT past PRIVACY_EXPORTS_PER_DAY. */
enum st privacy_export_request(struct db_conn *c, int64_t user_id, const char *lang, json_t **out);
/* The user's exports, newest first (at most PRIVACY_EXPORT_LIST_MAX):
 *   [{"id","status","requested_at","ready_at"|null,"expires_at"|null,
 *     "size_bytes"|null,"categories":[..]|null,"downloaded_at"|null,
 *     "download_count","expired":bool}] */
enum st privacy_exports_list(struct db_conn *c, int64_t user_id, json_t **out);
/* The archive of export id, opened, for its owner only: ST_NOTFOUND when
 * it is not theirs or not ready (another user's id looks exactly like a
 * missing one), ST_CONFLICT when it expired (the API answers 410). *data
 * is freed with free(); name receives "entrepot-export-ID.zip". Counts
 * the download. */
enum st privacy_export_fetch(struct db_conn *c, int64_t user_id, int64_t id, unsigned char **data,
                             size_t *len, char name[64]);

/* ---------------------------------------------------------------- erasure */

/* What happens to public content (posts...) when the account is erased. */
enum privacy_content { PRIVACY_CONTENT_DELETE, PRIVACY_CONTENT_ANONYMISE };
/* "delete" / "anonymise"; parse answers false for anything else. */
const char *privacy_content_name(enum privacy_content k);
bool privacy_content_parse(const char *s, enum privacy_content *out);

/* Asks to close the account (the caller has re-authenticated the user):
 * records the request and queues the erasure for the end of the
 * cooling-off period, tells the user (inbox and e-mail, or SMS without
 * an address) how to take it back, in one transaction. *out:
 *   {"id","status":"pending","content","requested_at","effective_at",
 *    "deadline_at","closed_at":null,"withdraw":{"method","path","how"}}
 * deadline_at is the promise (PRIVACY_ERASE_WORKDAYS working days after the
 * request, by the working-day calendar); the erasure runs at effective_at.
 * ST_CONFLICT when a request is already pending. */
enum st privacy_cancel_request(struct db_conn *c, int64_t user_id, enum privacy_content content,
                               const char *lang, json_t **out);
/* Takes a pending request back (its job is cancelled) and tells the user.
 * ST_NOTFOUND when none is pending. *out as above, status "withdrawn". */
enum st privacy_cancel_withdraw(struct db_conn *c, int64_t user_id, const char *lang, json_t **out);
/* The pending request ({...} as above) or JSON null. */
enum st privacy_cancel_status(struct db_conn *c, int64_t user_id, json_t **out);

/* Erases user_id inside the caller's transaction on c, as the registry
 * says (see struct pd_table): destroys the data key (every sealed field
 * of the account is unreadable from then on, in every copy), deletes or
 * detaches each row, treats public content as chosen, closes the account
 * (the users row stays as a tombstone with status closed), appends the
 * audit entry and queues the last notice to the address it had. The
 * account's export archives are deleted after the rows. *report (may be
 * NULL) gets {"tables":{TABLE:rows}} for the audit detail and tests. */
enum st privacy_erase_account(struct db *db, struct db_conn *c, int64_t user_id,
                              enum privacy_content content, json_t **report);

/* ---------------------------------------------------------------- retention */

/* Applies every retention rule of the registry once, as of clock_now_ms:
 * rows past "after" (and "checkpoint") periods deleted, columns with a
 * period of their own cleared, owners' rows past the latest N deleted;
 * tables whose module carries its rule out (the outbox keeps pending
 * messages, the job queue keeps dead jobs longer, export archives are
 * files) through that module. Each table in its own transaction;
 * retention_runs records the outcome. *report (may be NULL):
 *   {"tables":{TABLE:{"removed","pending"}}}. */
enum st privacy_retention_run(struct db *db, json_t **report);
/* The rules as staff see them: {"rules":[{"table","retention":{..},
 * "columns":[{"name","retention"}],"last_run_at"|null,"last_removed",
 * "total_removed","pending"}]}. */
enum st privacy_retention_rules(struct db_conn *c, json_t **out);

/* Registers the routes of export_api.c (export, cancellation, retention
 * rules for staff). */
void privacy_rights_api_register(void);
/* Registers GET /api/v1/me/privacy/inventory (inventory_api.c): what is
 * held about the caller, walked from the registry. */
void privacy_inventory_api_register(void);

#endif
