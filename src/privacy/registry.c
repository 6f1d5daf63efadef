/*
 * registry.c — the one personal-data registry: every column of every
 * table, personal or not, with what the privacy promises need to know.
 *
 * The design decision: the registry lists *every* column, not only the
 * personal ones, and is checked against the live schema on both engines
 * (tests/unit/test_registry.c). So a migration that adds a table or a
 * column cannot ship without someone deciding here whether it is personal
 * data, why it is held, on what legal basis, for how long, and what the
 * export and the erasure of an account do with it. A table that holds no
 * personal data still lists its columns, so a personal column added to it
 * later is caught too.
 *
 * How to add a table: one `static const struct pd_column NAME_cols[]`
 * (COL for personal columns, SEALED for encrypted ones, NP for the others,
 * each with a short reason) and one entry in `tables[]`, in migration
 * order. The vocabulary is in privacy.h; each name used needs its
 * catalogue entries (test_registry.c checks all four languages).
 */
#include <stdio.h>
#include <string.h>

#include "privacy.h"

#define DAY_MS  86400000LL
#define YEAR_MS (365 * DAY_MS)

/* A personal column. */
#define COL(n, cat, pur, bas, ex, er, nt)                                                          \
    {                                                                                              \
        .name = (n), .category = (cat), .purpose = (pur), .basis = (bas), .exp = (ex),             \
        .erase = (er), .note = (nt)                                                                \
    }
/* A personal column sealed at rest. */
#define SEALED(n, cat, pur, bas, ex, er, nt)                                                       \
    {                                                                                              \
        .name = (n), .category = (cat), .purpose = (pur), .basis = (bas), .encrypted = true,       \
        .exp = (ex), .erase = (er), .note = (nt)                                                   \
    }
/* Not personal data, and why. */
#define NP(n, why)                                                                                 \
    {                                                                                              \
        .name = (n), .note = (why)                                                                 \
    }
#define KEEP_ACCOUNT                                                                               \
    {                                                                                              \
        .kind = PD_KEEP_ACCOUNT                                                                    \
    }
#define KEEP_AFTER(col, ms, ev)                                                                    \
    {                                                                                              \
        .kind = PD_KEEP_AFTER, .anchor = (col), .keep_ms = (ms), .event = (ev)                     \
    }
/* A personal column that names an account besides the owner column. */
#define REF(n, cat, pur, bas, ex, er, nt)                                                          \
    {                                                                                              \
        .name = (n), .category = (cat), .purpose = (pur), .basis = (bas), .exp = (ex),             \
        .erase = (er), .account_ref = true, .note = (nt)                                           \
    }
/* Content others can see: exported, and at erasure deleted or kept
 * detached from its author, as they chose. */
#define PUB(n, pur, bas, nt)                                                                       \
    {                                                                                              \
        .name = (n), .category = PD_CONTENT, .purpose = (pur), .basis = (bas),                     \
        .exp = PD_EXPORT_VALUE, .erase = PD_ERASE_DELETE, .public_content = true, .note = (nt)     \
    }

/* ---------------------------------------------------------------- 0001 init */

static const struct pd_column instance_cols[] = {
    NP("id", "row key"),
    NP("key", "setting name chosen by the operator"),
    NP("value", "setting value chosen by the operator"),
    NP("updated_at", "when the operator changed it"),
    {0},
};

/* Created by db_migrate itself (src/db/db.c). */
static const struct pd_column schema_migrations_cols[] = {
    NP("version", "migration number"),
    NP("name", "migration name"),
    NP("applied_at", "when it was applied"),
    {0},
};

/* ---------------------------------------------------------------- 0002 audit */

static const struct pd_column audit_log_cols[] = {
    NP("id", "position in the hash chain"),
    COL("at", PD_SECURITY, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "when the event happened"),
    REF("actor_id", PD_SECURITY, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_OMIT,
        PD_ERASE_KEEP_FOR_LAW,
        "who acted: the user, a staff member, or nobody (system); the export shows the role "
        "(actor_role), since staff are shown to users by role, not by identity"),
    COL("actor_role", PD_SECURITY, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
        PD_EXPORT_VALUE, PD_ERASE_KEEP_FOR_LAW, "in which role (user, support, compliance...)"),
    COL("action", PD_SECURITY, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "what happened (login.ok, staff.read_personal_data...)"),
    COL("subject_user_id", PD_SECURITY, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
        PD_EXPORT_VALUE, PD_ERASE_KEEP_FOR_LAW, "whose account or data it concerns"),
    COL("fields", PD_SECURITY, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "names of the fields a staff member read, never their values"),
    COL("reason", PD_SECURITY, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "why staff accessed the data"),
    COL("detail", PD_SECURITY, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "event details (JSON), never secrets or message content"),
    COL("ip", PD_NETWORK, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "the client address of the event"),
    NP("prev_hash", "hash chain link"),
    NP("entry_hash", "hash chain link"),
    {0},
};

static const struct pd_column audit_head_cols[] = {
    NP("id", "the single row's key"),
    NP("last_id", "position of the chain's head"),
    NP("last_hash", "hash of the chain's head"),
    {0},
};

/* ---------------------------------------------------------------- 0003 accounts */

static const struct pd_column users_cols[] = {
    NP("id", "internal account number, meaningless outside the database"),
    COL("account_type", PD_ACCOUNT, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_ANONYMISE, "individual or enterprise; kept in the closed account's tombstone"),
    COL("status", PD_ACCOUNT, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_ANONYMISE, "active, frozen, closing or closed; the tombstone says closed"),
    COL("username", PD_IDENTITY, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "cleared, so the name is free again"),
    COL("display_name", PD_IDENTITY, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "replaced by an empty name"),
    COL("password_hash", PD_CREDENTIALS, PD_FOR_SECURITY, PD_BASIS_CONTRACT, PD_EXPORT_PRESENCE,
        PD_ERASE_DELETE, "Argon2id hash; the export says whether a password is set"),
    SEALED("phone_enc", PD_CONTACT, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_DECRYPT,
           PD_ERASE_SHRED, "mobile number, sealed under the owner's data key"),
    COL("phone_bidx", PD_CONTACT, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_OMIT,
        PD_ERASE_DELETE,
        "keyed blind index of the number for sign-in lookups; the number itself is exported"),
    SEALED("email_enc", PD_CONTACT, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_DECRYPT,
           PD_ERASE_SHRED, "e-mail address, sealed under the owner's data key"),
    COL("email_bidx", PD_CONTACT, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_OMIT,
        PD_ERASE_DELETE, "keyed blind index of the address; the address itself is exported"),
    COL("email_verified_at", PD_CONTACT, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when the address was verified"),
    COL("gender", PD_PROFILE, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE, PD_ERASE_DELETE,
        "optional, as the user chose"),
    COL("signature", PD_PROFILE, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "optional one-line profile text"),
    COL("company", PD_PROFILE, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE, PD_ERASE_DELETE,
        "optional"),
    COL("title", PD_PROFILE, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE, PD_ERASE_DELETE,
        "optional job title"),
    COL("department", PD_PROFILE, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "optional"),
    COL("industry", PD_PROFILE, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE, PD_ERASE_DELETE,
        "optional"),
    COL("public_fields", PD_PROFILE, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "which profile fields the user made public"),
    COL("lang", PD_PROFILE, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE, PD_ERASE_DELETE,
        "preferred language"),
    COL("staff_roles", PD_ACCOUNT, PD_FOR_SECURITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "staff roles held (support, operations, compliance, admin)"),
    SEALED("totp_secret_enc", PD_CREDENTIALS, PD_FOR_SECURITY, PD_BASIS_CONTRACT,
           PD_EXPORT_PRESENCE, PD_ERASE_SHRED,
           "staff second-factor secret; the export says whether one is set"),
    COL("totp_last_step", PD_CREDENTIALS, PD_FOR_SECURITY, PD_BASIS_CONTRACT, PD_EXPORT_OMIT,
        PD_ERASE_DELETE,
        "last second-factor time step used, to refuse replays; meaningless "
        "alone"),
    COL("created_at", PD_ACCOUNT, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_ANONYMISE, "when the account was opened: the inventory's \"since when\""),
    COL("updated_at", PD_ACCOUNT, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_ANONYMISE, "when the account last changed"),
    {0},
};

static const struct pd_column user_keys_cols[] = {
    COL("user_id", PD_ACCOUNT, PD_FOR_SECURITY, PD_BASIS_CONTRACT, PD_EXPORT_OMIT, PD_ERASE_DELETE,
        "whose key"),
    {.name = "wrapped_key",
     .category = PD_CREDENTIALS,
     .purpose = PD_FOR_SECURITY,
     .basis = PD_BASIS_CONTRACT,
     .encrypted = true,
     .server_key = true,
     .exp = PD_EXPORT_OMIT,
     .erase = PD_ERASE_DELETE,
     .note = "the account's data key, wrapped by a master key; deleting it is the "
             "crypto-shredding, and a key is no use to its owner"},
    {0},
};

static const struct pd_column devices_cols[] = {
    NP("id", "row key"),
    COL("user_id", PD_ACCOUNT, PD_FOR_SECURITY, PD_BASIS_LEGITIMATE_INTERESTS, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "whose device"),
    COL("device_hash", PD_DEVICE, PD_FOR_SECURITY, PD_BASIS_LEGITIMATE_INTERESTS, PD_EXPORT_OMIT,
        PD_ERASE_DELETE,
        "keyed hash of the random id in the device cookie; says nothing to "
        "its owner"),
    COL("label", PD_DEVICE, PD_FOR_SECURITY, PD_BASIS_LEGITIMATE_INTERESTS, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "browser and system, from the user agent"),
    COL("first_seen_at", PD_BEHAVIOUR, PD_FOR_SECURITY, PD_BASIS_LEGITIMATE_INTERESTS,
        PD_EXPORT_VALUE, PD_ERASE_DELETE, "first sign-in from it"),
    COL("last_seen_at", PD_BEHAVIOUR, PD_FOR_SECURITY, PD_BASIS_LEGITIMATE_INTERESTS,
        PD_EXPORT_VALUE, PD_ERASE_DELETE, "last sign-in from it"),
    {0},
};

/* Sign-in records are network logs: kept six months (PRC Cybersecurity
 * Law art. 21), through an erasure too; the token itself goes at once. */
static const struct pd_column sessions_cols[] = {
    NP("id", "row key"),
    COL("user_id", PD_ACCOUNT, PD_FOR_SECURITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "whose sign-in"),
    COL("token_hash", PD_CREDENTIALS, PD_FOR_SECURITY, PD_BASIS_CONTRACT, PD_EXPORT_OMIT,
        PD_ERASE_DELETE, "keyed hash of the session token; the session ends at erasure"),
    NP("kind", "how the token travels: cookie or bearer"),
    COL("remember", PD_BEHAVIOUR, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "whether the user asked to stay signed in"),
    COL("staff", PD_ACCOUNT, PD_FOR_SECURITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "a staff sign-in (password and second factor)"),
    COL("created_at", PD_BEHAVIOUR, PD_FOR_SECURITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "sign-in time"),
    COL("last_seen_at", PD_BEHAVIOUR, PD_FOR_SECURITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "last use of the session"),
    NP("idle_timeout_ms", "session policy"),
    NP("absolute_expires_at", "session policy"),
    NP("device_id", "link to the devices row (personal there)"),
    COL("ip", PD_NETWORK, PD_FOR_SECURITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "client address at sign-in"),
    COL("place", PD_NETWORK, PD_FOR_SECURITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "coarse network (IPv4 /24, IPv6 /48): the approximate place"),
    COL("user_agent", PD_DEVICE, PD_FOR_SECURITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "browser's user agent"),
    COL("revoked_at", PD_BEHAVIOUR, PD_FOR_SECURITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "sign-out time"),
    {0},
};

/* Kept one day past expiry (accounts prunes them), so erasure and the
 * export can leave them to expire. */
static const struct pd_column otp_attempts_cols[] = {
    NP("id", "row key"),
    COL("attempt_token_hash", PD_SECURITY, PD_FOR_SECURITY, PD_BASIS_CONTRACT, PD_EXPORT_OMIT,
        PD_ERASE_DELETE, "keyed hash of the attempt token; expires within a day"),
    COL("purpose", PD_SECURITY, PD_FOR_SECURITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "what the code was for (login, e-mail verification...)"),
    COL("target_bidx", PD_CONTACT, PD_FOR_SECURITY, PD_BASIS_CONTRACT, PD_EXPORT_OMIT,
        PD_ERASE_DELETE, "blind index of the phone or e-mail the code went to"),
    COL("code_hash", PD_CREDENTIALS, PD_FOR_SECURITY, PD_BASIS_CONTRACT, PD_EXPORT_OMIT,
        PD_ERASE_DELETE, "keyed hash of the code"),
    COL("channel", PD_SECURITY, PD_FOR_SECURITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "sms or email"),
    COL("user_id", PD_ACCOUNT, PD_FOR_SECURITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE, PD_ERASE_DELETE,
        "the account, once known"),
    COL("expires_at", PD_SECURITY, PD_FOR_SECURITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when the code expires"),
    COL("used_at", PD_SECURITY, PD_FOR_SECURITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when it was used"),
    COL("tries", PD_SECURITY, PD_FOR_SECURITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE, PD_ERASE_DELETE,
        "wrong guesses"),
    COL("created_at", PD_SECURITY, PD_FOR_SECURITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when it was sent"),
    COL("ip", PD_NETWORK, PD_FOR_SECURITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE, PD_ERASE_DELETE,
        "client address that asked for it"),
    {0},
};

static const struct pd_column rate_limits_cols[] = {
    COL("key_hash", PD_SECURITY, PD_FOR_SECURITY, PD_BASIS_LEGITIMATE_INTERESTS, PD_EXPORT_OMIT,
        PD_ERASE_DELETE,
        "keyed hash of an address or account number being throttled; gone within two hours, "
        "and no account can be read back from it"),
    COL("window_start", PD_SECURITY, PD_FOR_SECURITY, PD_BASIS_LEGITIMATE_INTERESTS, PD_EXPORT_OMIT,
        PD_ERASE_DELETE, "throttling window"),
    COL("count", PD_SECURITY, PD_FOR_SECURITY, PD_BASIS_LEGITIMATE_INTERESTS, PD_EXPORT_OMIT,
        PD_ERASE_DELETE, "attempts in the window"),
    COL("last_at", PD_SECURITY, PD_FOR_SECURITY, PD_BASIS_LEGITIMATE_INTERESTS, PD_EXPORT_OMIT,
        PD_ERASE_DELETE, "last attempt"),
    {0},
};

/* ---------------------------------------------------------------- 0004 notify */

/* The legal basis is per row: contract for security and service messages,
 * consent for marketing ones (the purpose column says which). */
static const struct pd_column outbox_cols[] = {
    NP("id", "row key"),
    COL("channel", PD_COMMUNICATION, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "email or sms"),
    COL("user_id", PD_ACCOUNT, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "the addressee's account"),
    COL("purpose", PD_COMMUNICATION, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "security, service or marketing"),
    COL("template", PD_COMMUNICATION, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "what kind of message"),
    COL("lang", PD_COMMUNICATION, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "language of the text"),
    COL("data_types", PD_COMMUNICATION, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "what personal data the text carries"),
    {.name = "payload",
     .category = PD_COMMUNICATION,
     .purpose = PD_FOR_COMMUNICATION,
     .basis = PD_BASIS_CONTRACT,
     .encrypted = true,
     .server_key = true,
     .exp = PD_EXPORT_DECRYPT,
     .erase = PD_ERASE_DELETE,
     .keep = KEEP_AFTER("sent_at", 0, "delivery"),
     .note = "recipient, subject, body and unsubscribe link, sealed under a server key; dropped "
             "once delivered"},
    COL("status", PD_COMMUNICATION, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "pending, sending, sent, failed or cancelled"),
    NP("attempts", "delivery bookkeeping"),
    NP("next_attempt_at", "delivery bookkeeping (and lease)"),
    NP("last_error", "provider's answer, without message content"),
    COL("provider", PD_COMMUNICATION, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "which provider delivered it"),
    COL("created_at", PD_COMMUNICATION, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when it was queued"),
    COL("sent_at", PD_COMMUNICATION, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when it was delivered"),
    {0},
};

/* The ledger outlives the account, detached from it: the record that a
 * disclosure happened stays, about nobody. */
static const struct pd_column disclosures_cols[] = {
    NP("id", "row key"),
    COL("user_id", PD_DISCLOSURE, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_ANONYMISE, "whose data; cleared at erasure"),
    COL("at", PD_DISCLOSURE, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_ANONYMISE, "when"),
    COL("recipient_system", PD_DISCLOSURE, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
        PD_EXPORT_VALUE, PD_ERASE_ANONYMISE, "who received it"),
    COL("data_types", PD_DISCLOSURE, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
        PD_EXPORT_VALUE, PD_ERASE_ANONYMISE, "which kinds of data"),
    COL("purpose", PD_DISCLOSURE, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_ANONYMISE, "why"),
    COL("legal_basis", PD_DISCLOSURE, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
        PD_EXPORT_VALUE, PD_ERASE_ANONYMISE, "on what legal basis"),
    COL("reference", PD_DISCLOSURE, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
        PD_EXPORT_VALUE, PD_ERASE_ANONYMISE, "the local object (outbox:42)"),
    {0},
};

/* ---------------------------------------------------------------- 0005 jobs */

/* Payloads carry references (ids), never personal values (jobs.h). At
 * erasure the account's jobs are detached (user_id cleared, payload and
 * unique_key emptied): a queued one then finds nothing to do. */
static const struct pd_column jobs_cols[] = {
    NP("id", "row key"),
    COL("kind", PD_ACCOUNT, PD_FOR_OPERATIONS, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_ANONYMISE, "what task (privacy.export...)"),
    COL("payload", PD_ACCOUNT, PD_FOR_OPERATIONS, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "the task's arguments: ids, never personal values; emptied at erasure"),
    NP("state", "queue bookkeeping"),
    NP("run_at", "queue bookkeeping"),
    NP("attempts", "queue bookkeeping (fencing token)"),
    NP("max_attempts", "queue bookkeeping"),
    NP("lease_ms", "queue bookkeeping"),
    NP("lease_until", "queue bookkeeping"),
    NP("worker", "which server process ran it"),
    COL("unique_key", PD_ACCOUNT, PD_FOR_OPERATIONS, PD_BASIS_CONTRACT, PD_EXPORT_OMIT,
        PD_ERASE_DELETE, "idempotency key; may name the account (export:user:42)"),
    COL("user_id", PD_ACCOUNT, PD_FOR_OPERATIONS, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_ANONYMISE, "the account the task is for"),
    NP("last_error", "failure reason; never personal data (job_set_error)"),
    NP("created_at", "queue bookkeeping"),
    NP("started_at", "queue bookkeeping"),
    NP("finished_at", "queue bookkeeping"),
    {0},
};

/* ---------------------------------------------------------------- 0006 avatars */

/* The picture is re-encoded without metadata and sealed under the owner's
 * data key (src/accounts/avatar.c): shredded with the key, and the row
 * goes with the account. */
static const struct pd_column avatars_cols[] = {
    COL("user_id", PD_IDENTITY, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE, PD_ERASE_DELETE,
        "whose picture"),
    NP("tag", "random version tag of the picture for caches and URLs"),
    NP("media_type", "what the sealed picture decrypts to (image/webp)"),
    {.name = "image_enc",
     .category = PD_IDENTITY,
     .purpose = PD_FOR_ACCOUNT,
     .basis = PD_BASIS_CONTRACT,
     .encrypted = true,
     .exp = PD_EXPORT_DECRYPT,
     .erase = PD_ERASE_SHRED,
     .media_col = "media_type",
     .note = "the profile picture (256x256 WebP, no metadata), sealed under the owner's data "
             "key; the export holds it as a file"},
    NP("width", "size of the stored square"),
    NP("height", "size of the stored square"),
    NP("created_at", "when the picture was stored"),
    {0},
};

/* ---------------------------------------------------------------- 0007 community */

/* Board settings are the operator's and the board owner's public
 * choices; only the link to the owner is personal. */
static const struct pd_column boards_cols[] = {
    NP("id", "row key"),
    NP("slug", "public address of the board"),
    NP("name", "public name of the board"),
    NP("description", "public description of the board"),
    COL("owner_id", PD_IDENTITY, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_ANONYMISE, "who owns the board (a community role); cleared at erasure"),
    NP("position", "display order"),
    NP("version", "cache version counter"),
    NP("topic_count", "counter"),
    NP("post_count", "counter"),
    NP("last_post_at", "time of the board's last post"),
    NP("created_at", "when the board was made"),
    NP("updated_at", "when the board was changed"),
    {0},
};

static const struct pd_column board_moderators_cols[] = {
    NP("board_id", "which board"),
    COL("user_id", PD_IDENTITY, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "the moderator (a community role); the role ends at erasure"),
    REF("appointed_by", PD_IDENTITY, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_ANONYMISE, "who appointed the moderator; cleared when that account is erased"),
    COL("created_at", PD_IDENTITY, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "since when"),
    {0},
};

static const struct pd_column topics_cols[] = {
    NP("id", "row key"),
    NP("board_id", "which board"),
    COL("author_id", PD_CONTENT, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_ANONYMISE, "who started the topic; cleared at erasure"),
    PUB("title", PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, "the topic's title, public"),
    COL("tags", PD_CONTENT, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_ANONYMISE, "labels from the shared tag list; kept with the detached topic"),
    NP("pinned", "moderation flag"),
    NP("locked", "moderation flag"),
    NP("hidden", "moderation flag"),
    NP("deleted_at", "removal mark (set by the author, or by erasure when content is deleted)"),
    NP("version", "cache version counter"),
    NP("reply_count", "counter"),
    NP("like_count", "counter"),
    NP("score", "counter"),
    NP("last_post_at", "time of the topic's last post"),
    NP("created_at", "when it was posted"),
    NP("updated_at", "when it was changed"),
    {0},
};

static const struct pd_column posts_cols[] = {
    NP("id", "row key"),
    NP("topic_id", "which topic"),
    COL("author_id", PD_CONTENT, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_ANONYMISE, "who wrote the post; cleared at erasure"),
    NP("position", "place in the topic"),
    NP("parent_id", "the reply it answers"),
    NP("quote_post_id", "the post it quotes"),
    PUB("body_md", PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, "the post as written (Markdown), public"),
    PUB("body_html", PD_FOR_COMMUNITY, PD_BASIS_CONTRACT,
        "the post rendered to sanitised HTML, public"),
    NP("like_count", "counter"),
    NP("hidden", "moderation flag"),
    NP("deleted_at", "removal mark (set by the author, or by erasure when content is deleted)"),
    NP("edit_count", "counter"),
    NP("edited_at", "time of the last edit"),
    NP("created_at", "when it was posted"),
    NP("updated_at", "when it was changed"),
    {0},
};

static const struct pd_column post_revisions_cols[] = {
    NP("id", "row key"),
    NP("post_id", "which post"),
    COL("editor_id", PD_CONTENT, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_ANONYMISE, "who edited; cleared at erasure"),
    PUB("title", PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, "the title before the edit"),
    PUB("body_md", PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, "the text before the edit"),
    NP("created_at", "when the edit was made"),
    {0},
};

static const struct pd_column tags_cols[] = {
    NP("id", "row key"),
    NP("name", "a label of the shared tag list"),
    NP("topic_count", "counter"),
    NP("created_at", "when the tag was first used"),
    {0},
};

static const struct pd_column topic_tags_cols[] = {
    NP("topic_id", "which topic"),
    NP("tag_id", "which tag"),
    {0},
};

static const struct pd_column post_likes_cols[] = {
    NP("post_id", "which post"),
    COL("user_id", PD_BEHAVIOUR, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "who liked it"),
    COL("created_at", PD_BEHAVIOUR, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when"),
    {0},
};

static const struct pd_column topic_favourites_cols[] = {
    NP("topic_id", "which topic"),
    COL("user_id", PD_BEHAVIOUR, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "whose favourite"),
    COL("created_at", PD_BEHAVIOUR, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when"),
    {0},
};

static const struct pd_column user_follows_cols[] = {
    COL("follower_id", PD_BEHAVIOUR, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "who follows"),
    REF("followee_id", PD_BEHAVIOUR, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "whom; the follows of an erased account go with it"),
    COL("created_at", PD_BEHAVIOUR, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when"),
    {0},
};

static const struct pd_column board_follows_cols[] = {
    COL("user_id", PD_BEHAVIOUR, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "who follows the board"),
    NP("board_id", "which board"),
    COL("created_at", PD_BEHAVIOUR, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when"),
    {0},
};

/* A suspension that has run out no longer counts; it is kept a year for
 * repeat offences. */
static const struct pd_column board_suspensions_cols[] = {
    NP("board_id", "which board"),
    COL("user_id", PD_ACCOUNT, PD_FOR_MODERATION, PD_BASIS_LEGITIMATE_INTERESTS, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "the member suspended"),
    COL("until_at", PD_ACCOUNT, PD_FOR_MODERATION, PD_BASIS_LEGITIMATE_INTERESTS, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "until when"),
    COL("reason", PD_ACCOUNT, PD_FOR_MODERATION, PD_BASIS_LEGITIMATE_INTERESTS, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "why, as the moderator wrote it"),
    REF("suspended_by", PD_IDENTITY, PD_FOR_MODERATION, PD_BASIS_LEGITIMATE_INTERESTS,
        PD_EXPORT_OMIT, PD_ERASE_ANONYMISE,
        "the moderator who decided: their identity stays with the moderators' record, not in "
        "the suspended member's export"),
    COL("created_at", PD_ACCOUNT, PD_FOR_MODERATION, PD_BASIS_LEGITIMATE_INTERESTS, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when"),
    {0},
};

static const struct pd_column reports_cols[] = {
    NP("id", "row key"),
    NP("post_id", "the post reported"),
    COL("reporter_id", PD_IDENTITY, PD_FOR_MODERATION, PD_BASIS_LEGITIMATE_INTERESTS,
        PD_EXPORT_VALUE, PD_ERASE_ANONYMISE, "who reported; cleared at erasure"),
    COL("reason", PD_CONTENT, PD_FOR_MODERATION, PD_BASIS_LEGITIMATE_INTERESTS, PD_EXPORT_VALUE,
        PD_ERASE_ANONYMISE, "spam, abuse, off_topic, illegal or other; kept with the report"),
    COL("detail", PD_CONTENT, PD_FOR_MODERATION, PD_BASIS_LEGITIMATE_INTERESTS, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "what the reporter wrote"),
    NP("status", "open, upheld or dismissed"),
    REF("handled_by", PD_IDENTITY, PD_FOR_MODERATION, PD_BASIS_LEGITIMATE_INTERESTS,
        PD_EXPORT_VALUE, PD_ERASE_ANONYMISE,
        "the moderator who handled it; cleared when that account is erased"),
    NP("handled_at", "when it was handled"),
    NP("created_at", "when it was filed"),
    {0},
};

/* The moderators' accountability record: what a moderator or staff member
 * did, to whom, kept three years, also through an erasure. */
static const struct pd_column moderator_actions_cols[] = {
    NP("id", "row key"),
    NP("board_id", "where"),
    NP("topic_id", "which topic"),
    NP("post_id", "which post"),
    COL("actor_id", PD_IDENTITY, PD_FOR_MODERATION, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "the moderator or staff member who acted"),
    REF("target_user_id", PD_ACCOUNT, PD_FOR_MODERATION, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_OMIT,
        PD_ERASE_KEEP_FOR_LAW,
        "the member acted upon; the record is the moderator's, not part of that member's export"),
    NP("action", "what was done: hide, lock, pin, move, suspend, appoint..."),
    COL("reason", PD_CONTENT, PD_FOR_MODERATION, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "why, as the moderator wrote it"),
    NP("detail", "the boards of a move, the end of a suspension (ids and times)"),
    NP("created_at", "when"),
    {0},
};

static const struct pd_column recently_viewed_cols[] = {
    COL("user_id", PD_BEHAVIOUR, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "whose browsing history"),
    NP("topic_id", "which topic"),
    COL("viewed_at", PD_BEHAVIOUR, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when"),
    {0},
};

/* A normalised copy of each post's text for search, owned through the
 * post: cleared with it. */
static const struct pd_column post_search_cols[] = {
    NP("post_id", "the post (whose author owns the row)"),
    {.name = "title",
     .category = PD_CONTENT,
     .purpose = PD_FOR_COMMUNITY,
     .basis = PD_BASIS_CONTRACT,
     .exp = PD_EXPORT_OMIT,
     .erase = PD_ERASE_DELETE,
     .public_content = true,
     .note = "normalised copy of the topic's title for search; the title is exported with topics"},
    {.name = "body",
     .category = PD_CONTENT,
     .purpose = PD_FOR_COMMUNITY,
     .basis = PD_BASIS_CONTRACT,
     .exp = PD_EXPORT_OMIT,
     .erase = PD_ERASE_DELETE,
     .public_content = true,
     .note = "normalised copy of the post's text for search; the text is exported with posts"},
    {.name = "words",
     .category = PD_CONTENT,
     .purpose = PD_FOR_COMMUNITY,
     .basis = PD_BASIS_CONTRACT,
     .exp = PD_EXPORT_OMIT,
     .erase = PD_ERASE_DELETE,
     .public_content = true,
     .note = "the distinct words of the post for search; the text is exported with posts"},
    {0},
};

/* SQLite's full-text index over post_search (external content): its
 * triggers keep it in step with post_search, so clearing that clears it. */
static const struct pd_column post_fts_cols[] = {
    COL("title", PD_CONTENT, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_OMIT, PD_ERASE_DELETE,
        "search index of post_search.title, kept in step by triggers"),
    COL("body", PD_CONTENT, PD_FOR_COMMUNITY, PD_BASIS_CONTRACT, PD_EXPORT_OMIT, PD_ERASE_DELETE,
        "search index of post_search.body, kept in step by triggers"),
    {0},
};

/* ---------------------------------------------------------------- 0008 privacy */

/* Published documents: the same for everyone. Who published one is in
 * the audit log. */
static const struct pd_column policy_versions_cols[] = {
    NP("id", "row key"),
    NP("document", "which document: privacy or terms"),
    NP("version", "version number of the document"),
    NP("material", "whether every user must accept it"),
    NP("effective_at", "when it takes effect"),
    NP("published_at", "when it was published"),
    {0},
};

static const struct pd_column policy_texts_cols[] = {
    NP("version_id", "which version"),
    NP("lang", "language of the text"),
    NP("title", "the document's title, the same for everyone"),
    NP("body", "the document's text, the same for everyone"),
    NP("added_at", "when this language was added"),
    {0},
};

/* Consent receipts are the proof of consent: kept five years (the
 * limitation period), through an erasure too. */
static const struct pd_column policy_acceptances_cols[] = {
    NP("id", "row key"),
    COL("user_id", PD_CONSENT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "who accepted"),
    COL("version_id", PD_CONSENT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "which policy version"),
    COL("lang", PD_CONSENT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "the language the text was shown in"),
    COL("accepted_at", PD_CONSENT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
        PD_EXPORT_VALUE, PD_ERASE_KEEP_FOR_LAW, "when"),
    COL("ip", PD_NETWORK, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "client address of the acceptance"),
    COL("user_agent", PD_DEVICE, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "browser or app of the acceptance"),
    COL("channel", PD_CONSENT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "web app or app"),
    {0},
};

static const struct pd_column purpose_settings_cols[] = {
    COL("user_id", PD_CONSENT, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE, PD_ERASE_DELETE,
        "whose choice"),
    COL("purpose", PD_CONSENT, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE, PD_ERASE_DELETE,
        "which optional purpose"),
    COL("enabled", PD_CONSENT, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE, PD_ERASE_DELETE,
        "on or off (no row: off)"),
    COL("updated_at", PD_CONSENT, PD_FOR_ACCOUNT, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when it was last changed"),
    {0},
};

/* The record of consent given and withdrawn, kept like the receipts. */
static const struct pd_column purpose_changes_cols[] = {
    NP("id", "row key"),
    COL("user_id", PD_CONSENT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "whose choice"),
    COL("purpose", PD_CONSENT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "which optional purpose"),
    COL("old_enabled", PD_CONSENT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
        PD_EXPORT_VALUE, PD_ERASE_KEEP_FOR_LAW, "the switch before"),
    COL("new_enabled", PD_CONSENT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
        PD_EXPORT_VALUE, PD_ERASE_KEEP_FOR_LAW, "the switch after"),
    COL("at", PD_CONSENT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "when"),
    COL("channel", PD_CONSENT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "through what: web app, app, e-mail link, SMS keyword, staff"),
    {0},
};

static const struct pd_column inbox_cols[] = {
    NP("id", "row key"),
    COL("user_id", PD_COMMUNICATION, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "the addressee"),
    COL("kind", PD_COMMUNICATION, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "what kind of notice (policy.published...)"),
    COL("params", PD_COMMUNICATION, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "the notice's values: ids, names, dates, never secrets"),
    NP("ref", "de-duplication key of the job that sent it (policy:42)"),
    COL("created_at", PD_COMMUNICATION, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when it arrived"),
    COL("read_at", PD_BEHAVIOUR, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when it was read"),
    {0},
};

/* ---------------------------------------------------------------- 0009 real name */

/* Identity documents: the number and the photos are sealed under the
 * owner's data key (src/community/verify.c), shredded with it; the photos
 * are kept 90 days after the decision, long enough for a complaint about
 * it, then cleared by the retention job. */
static const struct pd_column identity_verifications_cols[] = {
    NP("id", "row key"),
    COL("user_id", PD_VERIFICATION, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "whose verification"),
    COL("id_type", PD_VERIFICATION, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "PRC identity card or passport"),
    SEALED("id_number_enc", PD_VERIFICATION, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION,
           PD_EXPORT_DECRYPT, PD_ERASE_SHRED,
           "the document's number, sealed under the owner's key"),
    COL("id_number_bidx", PD_VERIFICATION, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION,
        PD_EXPORT_OMIT, PD_ERASE_DELETE,
        "keyed blind index of the number, to see how many accounts use one document; the number "
        "itself is exported"),
    {.name = "front_enc",
     .category = PD_VERIFICATION,
     .purpose = PD_FOR_ACCOUNT,
     .basis = PD_BASIS_LEGAL_OBLIGATION,
     .encrypted = true,
     .exp = PD_EXPORT_DECRYPT,
     .erase = PD_ERASE_SHRED,
     .media_col = "photo_type",
     .keep = KEEP_AFTER("reviewed_at", 90 * DAY_MS, "finish"),
     .note = "photo of the document's front, re-encoded without metadata and sealed; a file of "
             "the export"},
    {.name = "back_enc",
     .category = PD_VERIFICATION,
     .purpose = PD_FOR_ACCOUNT,
     .basis = PD_BASIS_LEGAL_OBLIGATION,
     .encrypted = true,
     .exp = PD_EXPORT_DECRYPT,
     .erase = PD_ERASE_SHRED,
     .media_col = "photo_type",
     .keep = KEEP_AFTER("reviewed_at", 90 * DAY_MS, "finish"),
     .note = "photo of the document's back, re-encoded without metadata and sealed; a file of "
             "the export"},
    NP("photo_type", "what the sealed photos open to (image/jpeg)"),
    COL("status", PD_VERIFICATION, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "draft, pending, approved or rejected"),
    COL("reason", PD_VERIFICATION, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "why it was rejected"),
    REF("reviewer_id", PD_IDENTITY, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_OMIT,
        PD_ERASE_ANONYMISE,
        "the staff member who decided: staff are shown to users by role, not by name; cleared "
        "when that account is erased"),
    COL("reviewed_at", PD_VERIFICATION, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when it was decided"),
    COL("submitted_at", PD_VERIFICATION, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when it was sent for review"),
    COL("created_at", PD_VERIFICATION, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when it was started"),
    COL("updated_at", PD_VERIFICATION, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when it last changed"),
    {0},
};

/* ---------------------------------------------------------------- 0010 privacy rights */

/* Exports are archives of everything about the account, sealed under its
 * data key in a file with a random name; the row says where and until
 * when it can be downloaded. */
static const struct pd_column privacy_exports_cols[] = {
    NP("id", "row key"),
    COL("user_id", PD_ACCOUNT, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "whose export"),
    COL("status", PD_ACCOUNT, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "queued, running, ready or failed"),
    COL("lang", PD_ACCOUNT, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "language of the archive's labels"),
    COL("file_name", PD_ACCOUNT, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_OMIT,
        PD_ERASE_DELETE,
        "random name of the sealed archive on the server; the archive itself is "
        "what you download"),
    NP("size_bytes", "size of the archive"),
    NP("sha256", "checksum of the archive"),
    COL("categories", PD_ACCOUNT, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "the categories of data the archive holds"),
    COL("requested_at", PD_ACCOUNT, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when it was asked for"),
    COL("ready_at", PD_ACCOUNT, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when it was ready"),
    COL("expires_at", PD_ACCOUNT, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "until when it can be downloaded"),
    COL("downloaded_at", PD_ACCOUNT, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "last download"),
    NP("download_count", "counter"),
    NP("last_error", "why it failed; never personal data"),
    {0},
};

/* The proof that a cancellation was asked for, taken back or carried out
 * in time: kept three years after it ended, through the erasure itself. */
static const struct pd_column account_cancellations_cols[] = {
    NP("id", "row key"),
    COL("user_id", PD_ACCOUNT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "whose account"),
    COL("status", PD_ACCOUNT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "pending, withdrawn or completed"),
    COL("content", PD_ACCOUNT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "what was chosen for public content: delete or anonymise"),
    COL("requested_at", PD_ACCOUNT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
        PD_EXPORT_VALUE, PD_ERASE_KEEP_FOR_LAW, "when it was asked for"),
    COL("effective_at", PD_ACCOUNT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
        PD_EXPORT_VALUE, PD_ERASE_KEEP_FOR_LAW, "end of the cooling-off period"),
    COL("closed_at", PD_ACCOUNT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_KEEP_FOR_LAW, "when it was taken back or carried out"),
    NP("job_id", "the background task that carries it out"),
    {0},
};

static const struct pd_column retention_runs_cols[] = {
    NP("table_name", "a table of the registry"),
    NP("last_run_at", "when its retention rule was last applied"),
    NP("last_removed", "rows removed or cleared by that run"),
    NP("total_removed", "rows removed or cleared since the start"),
    NP("pending", "rows past their period that wait (an audit checkpoint)"),
    {0},
};

/* ---------------------------------------------------------------- 0011 privacy requests */

/* Requests to the privacy center (src/privacy/requests.c) are the proof
 * that each was handled in time: their rows stay three years after they
 * end, through the account's erasure, while what the user wrote is sealed
 * under their key and shredded with it. */
#define LAW(n, cat, nt)                                                                            \
    COL(n, cat, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,                 \
        PD_ERASE_KEEP_FOR_LAW, nt)

static const struct pd_column privacy_tickets_cols[] = {
    NP("id", "row key"),
    LAW("user_id", PD_ACCOUNT, "who filed it"),
    LAW("kind", PD_COMMUNICATION, "complaint, objection, access question or other"),
    LAW("purpose", PD_COMMUNICATION, "the purpose of processing it is about, if any"),
    SEALED("body_enc", PD_COMMUNICATION, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
           PD_EXPORT_DECRYPT, PD_ERASE_SHRED, "what you wrote"),
    LAW("status", PD_COMMUNICATION, "open, acknowledged or resolved"),
    LAW("created_at", PD_COMMUNICATION, "when it was filed"),
    LAW("ack_due_at", PD_COMMUNICATION, "acknowledgement deadline (5 working days)"),
    LAW("resolve_due_at", PD_COMMUNICATION, "resolution deadline (15 working days)"),
    LAW("acknowledged_at", PD_COMMUNICATION, "when staff acknowledged it"),
    LAW("resolved_at", PD_COMMUNICATION, "when staff resolved it"),
    LAW("ack_escalated_at", PD_COMMUNICATION,
        "when a missed acknowledgement was escalated to compliance staff"),
    LAW("resolve_escalated_at", PD_COMMUNICATION,
        "when a missed resolution was escalated to compliance staff"),
    NP("updated_at", "when the row last changed"),
    {0},
};

static const struct pd_column privacy_ticket_messages_cols[] = {
    NP("id", "row key"),
    COL("ticket_id", PD_COMMUNICATION, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
        PD_EXPORT_VALUE, PD_ERASE_DELETE, "the request it belongs to"),
    COL("author", PD_COMMUNICATION, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
        PD_EXPORT_VALUE, PD_ERASE_DELETE, "you or staff"),
    COL("role", PD_COMMUNICATION, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "the role of the staff member who wrote, never who"),
    SEALED("body_enc", PD_COMMUNICATION, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
           PD_EXPORT_DECRYPT, PD_ERASE_SHRED, "the message"),
    COL("created_at", PD_COMMUNICATION, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
        PD_EXPORT_VALUE, PD_ERASE_DELETE, "when it was written"),
    {0},
};

static const struct pd_column correction_requests_cols[] = {
    NP("id", "row key"),
    LAW("user_id", PD_ACCOUNT, "who asked"),
    LAW("field", PD_IDENTITY, "which verified field (real name, company name...)"),
    SEALED("value_enc", PD_IDENTITY, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_DECRYPT,
           PD_ERASE_SHRED, "the value asked for"),
    SEALED("evidence_enc", PD_VERIFICATION, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION,
           PD_EXPORT_DECRYPT, PD_ERASE_SHRED, "what you gave as evidence"),
    LAW("status", PD_IDENTITY, "pending, approved or rejected"),
    LAW("reason", PD_IDENTITY, "why staff rejected it"),
    LAW("created_at", PD_IDENTITY, "when it was asked for"),
    LAW("due_at", PD_IDENTITY, "deadline (2 working days)"),
    LAW("decided_at", PD_IDENTITY, "when staff decided"),
    LAW("escalated_at", PD_IDENTITY, "when a missed deadline was escalated to compliance staff"),
    {0},
};

static const struct pd_column verified_fields_cols[] = {
    COL("user_id", PD_IDENTITY, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "whose"),
    COL("field", PD_IDENTITY, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "which verified field"),
    SEALED("value_enc", PD_IDENTITY, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_DECRYPT,
           PD_ERASE_SHRED, "the verified value"),
    NP("request_id", "the correction request that set it"),
    COL("verified_at", PD_IDENTITY, PD_FOR_ACCOUNT, PD_BASIS_LEGAL_OBLIGATION, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when staff approved it"),
    {0},
};

static const struct pd_column minor_requests_cols[] = {
    NP("id", "row key"),
    LAW("user_id", PD_ACCOUNT, "the minor's account"),
    COL("guardian_contact", PD_CONTACT, PD_FOR_ACCOUNTABILITY, PD_BASIS_LEGAL_OBLIGATION,
        PD_EXPORT_OMIT, PD_ERASE_KEEP_FOR_LAW,
        "how to reach the guardian who asked: their data, not the account's, so not exported"),
    LAW("evidence_note", PD_VERIFICATION, "what staff saw as evidence of the request"),
    LAW("status", PD_ACCOUNT, "closing or closed"),
    LAW("created_at", PD_ACCOUNT, "when it was recorded"),
    LAW("closed_at", PD_ACCOUNT, "when the account was erased"),
    NP("job_id", "the background task that erases the account"),
    {0},
};

static const struct pd_column breach_incidents_cols[] = {
    NP("id", "row key"),
    NP("title", "the incident's name"),
    NP("description", "what happened (written without personal data)"),
    NP("cause", "why it happened"),
    NP("impact", "its possible consequences"),
    NP("detected_at", "when it was detected"),
    NP("occurred_at", "when it happened, when known"),
    NP("major", "whether it is a major incident"),
    NP("categories", "the categories of personal data involved"),
    NP("measures", "what was done"),
    NP("user_advice", "what users can do"),
    NP("contact", "the platform's contact for it"),
    NP("status", "open or closed"),
    NP("regulator_reported_at", "when the regulator was told"),
    NP("regulator_reference", "the regulator's reference"),
    NP("notices_sent_at", "when users were last sent notices"),
    NP("created_at", "when it was registered"),
    NP("updated_at", "when it last changed"),
    NP("closed_at", "when it was closed"),
    {0},
};

static const struct pd_column breach_affected_cols[] = {
    NP("incident_id", "the incident"),
    LAW("user_id", PD_SECURITY, "an account the incident concerns"),
    LAW("added_at", PD_SECURITY, "when it was found to be affected"),
    LAW("notified_at", PD_SECURITY, "when you were sent the notice"),
    {0},
};

/* ---------------------------------------------------------------- 0012 feed */

/* Interests the feed learned, written only while personalised
 * recommendations are on (src/community/feed.c); the weights halve every
 * 14 days, so after half a year they say nothing and are deleted. */
#define FEED(n, nt)                                                                                \
    COL(n, PD_BEHAVIOUR, PD_FOR_PERSONALISATION, PD_BASIS_CONSENT, PD_EXPORT_VALUE,                \
        PD_ERASE_DELETE, nt)

static const struct pd_column feed_affinity_cols[] = {
    FEED("user_id", "whose interests"),
    FEED("kind", "board, tag or author"),
    FEED("target_id", "which board, tag or author"),
    FEED("weight", "how strong the interest is"),
    FEED("updated_at", "when it last changed"),
    {0},
};

static const struct pd_column notification_settings_cols[] = {
    COL("user_id", PD_PROFILE, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "whose choice"),
    COL("kind", PD_PROFILE, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "which in-app notification"),
    COL("enabled", PD_PROFILE, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "on or off (no row: on)"),
    COL("updated_at", PD_PROFILE, PD_FOR_COMMUNICATION, PD_BASIS_CONTRACT, PD_EXPORT_VALUE,
        PD_ERASE_DELETE, "when it was changed"),
    {0},
};

/* ---------------------------------------------------------------- the registry */

static const struct pd_table tables[] = {
    {.name = "schema_migrations",
     .not_personal = "which migrations ran",
     .columns = schema_migrations_cols},
    {.name = "instance",
     .not_personal = "instance settings chosen by the operator",
     .columns = instance_cols},
    {.name = "audit_log",
     .owner = "subject_user_id",
     .keep =
         {.kind = PD_KEEP_CHECKPOINT, .anchor = "at", .keep_ms = 3 * YEAR_MS, .event = "recording"},
     .columns = audit_log_cols,
     .note = "append-only, hash-chained record of security events and of every staff access "
             "to personal data"},
    {.name = "audit_head",
     .not_personal = "the audit chain's head: a position and a hash",
     .columns = audit_head_cols},
    {.name = "users",
     .owner = "id",
     .keep = KEEP_ACCOUNT,
     .columns = users_cols,
     .note = "the account; at erasure a tombstone (id, type, status closed, dates) remains so "
             "references stay valid"},
    {.name = "user_keys",
     .owner = "user_id",
     .keep = KEEP_ACCOUNT,
     .columns = user_keys_cols,
     .note = "one data key per account"},
    {.name = "devices",
     .owner = "user_id",
     .keep = KEEP_AFTER("last_seen_at", YEAR_MS, "last_use"),
     .columns = devices_cols,
     .note = "devices signed in from; a device unused for a year is forgotten"},
    {.name = "sessions",
     .owner = "user_id",
     .keep = KEEP_AFTER("last_seen_at", 180 * DAY_MS, "last_use"),
     .columns = sessions_cols,
     .note = "sign-ins; login records are kept six months as the law requires"},
    {.name = "otp_attempts",
     .owner = "user_id",
     .keep = KEEP_AFTER("expires_at", DAY_MS, "expiry"),
     .columns = otp_attempts_cols,
     .note = "one-time codes sent"},
    {.name = "rate_limits",
     .keep = KEEP_AFTER("last_at", 2 * 3600 * 1000LL, "last_hit"),
     .columns = rate_limits_cols,
     .note = "throttling counters under keyed hashes; no owner column, they expire within two "
             "hours"},
    {.name = "outbox",
     .owner = "user_id",
     .keep = KEEP_AFTER("created_at", 30 * DAY_MS, "creation"),
     .columns = outbox_cols,
     .note = "e-mails and SMS; pending messages are never purged"},
    {.name = "disclosures",
     .owner = "user_id",
     .keep = KEEP_AFTER("at", 3 * YEAR_MS, "recording"),
     .columns = disclosures_cols,
     .note = "the disclosure ledger"},
    {.name = "jobs",
     .owner = "user_id",
     .keep = KEEP_AFTER("finished_at", 7 * DAY_MS, "finish"),
     .columns = jobs_cols,
     .note = "background tasks; dead ones are kept 30 days for an operator"},
    {.name = "avatars",
     .owner = "user_id",
     .keep = KEEP_ACCOUNT,
     .columns = avatars_cols,
     .note = "your profile picture"},
    {.name = "boards",
     .owner = "owner_id",
     .keep = KEEP_ACCOUNT,
     .columns = boards_cols,
     .note = "community boards; only the link to their owner is personal"},
    {.name = "board_moderators",
     .owner = "user_id",
     .keep = KEEP_ACCOUNT,
     .columns = board_moderators_cols,
     .note = "who moderates which board"},
    {.name = "topics",
     .owner = "author_id",
     .removed_at = "deleted_at",
     .keep = KEEP_ACCOUNT,
     .columns = topics_cols,
     .note = "community topics you started; kept until you delete them or your account"},
    {.name = "posts",
     .owner = "author_id",
     .removed_at = "deleted_at",
     .keep = KEEP_ACCOUNT,
     .columns = posts_cols,
     .note = "community posts you wrote; kept until you delete them or your account"},
    {.name = "post_revisions",
     .owner = "editor_id",
     .keep = KEEP_ACCOUNT,
     .columns = post_revisions_cols,
     .note = "earlier versions of posts you edited"},
    {.name = "tags", .not_personal = "the shared list of topic labels", .columns = tags_cols},
    {.name = "topic_tags",
     .not_personal = "which topic carries which label",
     .columns = topic_tags_cols},
    {.name = "post_likes",
     .owner = "user_id",
     .keep = KEEP_ACCOUNT,
     .columns = post_likes_cols,
     .note = "posts you liked; kept until you undo it"},
    {.name = "topic_favourites",
     .owner = "user_id",
     .keep = KEEP_ACCOUNT,
     .columns = topic_favourites_cols,
     .note = "topics you saved; kept until you undo it"},
    {.name = "user_follows",
     .owner = "follower_id",
     .keep = KEEP_ACCOUNT,
     .columns = user_follows_cols,
     .note = "members you follow; kept until you undo it"},
    {.name = "board_follows",
     .owner = "user_id",
     .keep = KEEP_ACCOUNT,
     .columns = board_follows_cols,
     .note = "boards you follow; kept until you undo it"},
    {.name = "board_suspensions",
     .owner = "user_id",
     .keep = KEEP_AFTER("until_at", YEAR_MS, "expiry"),
     .columns = board_suspensions_cols,
     .note = "suspensions from posting in a board"},
    {.name = "reports",
     .owner = "reporter_id",
     .keep = KEEP_AFTER("handled_at", YEAR_MS, "finish"),
     .columns = reports_cols,
     .note = "posts you reported to the moderators"},
    {.name = "moderator_actions",
     .owner = "actor_id",
     .keep = KEEP_AFTER("created_at", 3 * YEAR_MS, "recording"),
     .columns = moderator_actions_cols,
     .note = "what moderators and staff did; kept three years for accountability"},
    {.name = "recently_viewed",
     .owner = "user_id",
     .keep = {.kind = PD_KEEP_LATEST, .anchor = "viewed_at", .keep_n = 100},
     .columns = recently_viewed_cols,
     .note = "topics you viewed recently (your own history)"},
    {.name = "post_search",
     .owner = "post_id",
     .owner_in = "posts",
     .keep = KEEP_ACCOUNT,
     .columns = post_search_cols,
     .note = "the search copy of your posts' text"},
    {.name = "post_fts",
     .engine = PD_SQLITE_ONLY,
     .keep = KEEP_ACCOUNT,
     .columns = post_fts_cols,
     .note = "SQLite's full-text index over post_search; no rows of its own to export or erase"},
    {.name = "policy_versions",
     .not_personal = "published policy versions, the same for everyone",
     .columns = policy_versions_cols},
    {.name = "policy_texts",
     .not_personal = "the texts of published policies, the same for everyone",
     .columns = policy_texts_cols},
    {.name = "policy_acceptances",
     .owner = "user_id",
     .keep = KEEP_AFTER("accepted_at", 5 * YEAR_MS, "recording"),
     .columns = policy_acceptances_cols,
     .note = "consent receipts: which policy version you accepted, when and from where"},
    {.name = "purpose_settings",
     .owner = "user_id",
     .keep = KEEP_ACCOUNT,
     .columns = purpose_settings_cols,
     .note = "your switch for each optional purpose"},
    {.name = "purpose_changes",
     .owner = "user_id",
     .keep = KEEP_AFTER("at", 5 * YEAR_MS, "recording"),
     .columns = purpose_changes_cols,
     .note = "every change of your purpose switches"},
    {.name = "inbox",
     .owner = "user_id",
     .keep = KEEP_AFTER("created_at", YEAR_MS, "creation"),
     .columns = inbox_cols,
     .note = "in-app notices"},
    {.name = "identity_verifications",
     .owner = "user_id",
     .keep = KEEP_ACCOUNT,
     .columns = identity_verifications_cols,
     .note = "your real-name verification: the document's number and photos"},
    {.name = "privacy_exports",
     .owner = "user_id",
     .keep = KEEP_AFTER("expires_at", 0, "expiry"),
     .columns = privacy_exports_cols,
     .note = "your exports; each archive can be downloaded for a limited time, then it is "
             "deleted"},
    {.name = "account_cancellations",
     .owner = "user_id",
     .keep = KEEP_AFTER("closed_at", 3 * YEAR_MS, "finish"),
     .columns = account_cancellations_cols,
     .note = "your requests to close the account: the proof they were honoured in time"},
    {.name = "feed_affinity",
     .owner = "user_id",
     .keep = KEEP_AFTER("updated_at", 180 * DAY_MS, "last_use"),
     .columns = feed_affinity_cols,
     .note = "what your activity says you are interested in, only while personalised "
             "recommendations are on"},
    {.name = "notification_settings",
     .owner = "user_id",
     .keep = KEEP_ACCOUNT,
     .columns = notification_settings_cols,
     .note = "your switch for each kind of in-app notification"},
    {.name = "retention_runs",
     .not_personal = "when each retention rule last ran and how many rows it removed",
     .columns = retention_runs_cols},
    {.name = "privacy_tickets",
     .owner = "user_id",
     .keep = KEEP_AFTER("resolved_at", 3 * YEAR_MS, "finish"),
     .columns = privacy_tickets_cols,
     .note = "your complaints, objections and questions to the privacy center"},
    {.name = "privacy_ticket_messages",
     .owner = "ticket_id",
     .owner_in = "privacy_tickets",
     .keep = KEEP_ACCOUNT,
     .columns = privacy_ticket_messages_cols,
     .note = "the conversation of each request"},
    {.name = "correction_requests",
     .owner = "user_id",
     .keep = KEEP_AFTER("decided_at", 3 * YEAR_MS, "finish"),
     .columns = correction_requests_cols,
     .note = "your requests to correct verified fields"},
    {.name = "verified_fields",
     .owner = "user_id",
     .keep = KEEP_ACCOUNT,
     .columns = verified_fields_cols,
     .note = "your verified real name and company data, as staff approved them"},
    {.name = "minor_requests",
     .owner = "user_id",
     .keep = KEEP_AFTER("closed_at", 3 * YEAR_MS, "finish"),
     .columns = minor_requests_cols,
     .note = "a guardian's request to close a minor's account: why it was erased"},
    {.name = "breach_incidents",
     .not_personal = "the breach register: incidents of the platform, not about a person (who "
                     "opened or changed one is in the audit log)",
     .columns = breach_incidents_cols},
    {.name = "breach_affected",
     .owner = "user_id",
     .keep = KEEP_AFTER("notified_at", 3 * YEAR_MS, "delivery"),
     .columns = breach_affected_cols,
     .note = "security incidents that concern you, and when you were told"},
};

#define NTABLES (sizeof tables / sizeof tables[0])

/* ---------------------------------------------------------------- iteration */

size_t privacy_table_count(void)
{
    return NTABLES;
}

const struct pd_table *privacy_table_at(size_t i)
{
    return i < NTABLES ? &tables[i] : NULL;
}

const struct pd_table *privacy_table_find(const char *name)
{
    for (size_t i = 0; name && i < NTABLES; i++)
        if (strcmp(tables[i].name, name) == 0)
            return &tables[i];
    return NULL;
}

const struct pd_column *privacy_column_find(const struct pd_table *t, const char *name)
{
    for (const struct pd_column *c = t && name ? t->columns : NULL; c && c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

bool privacy_column_personal(const struct pd_column *c)
{
    return c->category != PD_NOT_PERSONAL;
}

const struct pd_retention *privacy_column_keep(const struct pd_table *t, const struct pd_column *c)
{
    return c->keep.kind != PD_KEEP_AS_ROW ? &c->keep : &t->keep;
}

void privacy_each_personal(privacy_visit_fn fn, void *arg)
{
    for (size_t i = 0; i < NTABLES; i++)
        for (const struct pd_column *c = tables[i].columns; c && c->name; c++)
            if (privacy_column_personal(c) && !fn(&tables[i], c, arg))
                return;
}

/* ---------------------------------------------------------------- names */

static const char *const category_names[PD_CATEGORY__COUNT] = {
    [PD_NOT_PERSONAL] = "not_personal", [PD_IDENTITY] = "identity",
    [PD_CONTACT] = "contact",           [PD_CREDENTIALS] = "credentials",
    [PD_PROFILE] = "profile",           [PD_ACCOUNT] = "account",
    [PD_BEHAVIOUR] = "behaviour",       [PD_DEVICE] = "device",
    [PD_NETWORK] = "network",           [PD_COMMUNICATION] = "communication",
    [PD_DISCLOSURE] = "disclosure",     [PD_SECURITY] = "security",
    [PD_CONTENT] = "content",           [PD_CONSENT] = "consent",
    [PD_PAYMENT] = "payment",           [PD_VERIFICATION] = "verification",
};

static const char *const purpose_names[PD_PURPOSE__COUNT] = {
    [PD_PURPOSE_UNSET] = "",
    [PD_FOR_ACCOUNT] = "account",
    [PD_FOR_SECURITY] = "security",
    [PD_FOR_COMMUNICATION] = "communication",
    [PD_FOR_MARKETING] = "marketing",
    [PD_FOR_ACCOUNTABILITY] = "accountability",
    [PD_FOR_OPERATIONS] = "operations",
    [PD_FOR_PERSONALISATION] = "personalisation",
    [PD_FOR_CONTACT_MATCHING] = "contact_matching",
    [PD_FOR_MODEL_IMPROVEMENT] = "model_improvement",
    [PD_FOR_COMMERCE] = "commerce",
    [PD_FOR_COMMUNITY] = "community",
    [PD_FOR_MODERATION] = "moderation",
};

static const char *const basis_names[PD_BASIS__COUNT] = {
    [PD_BASIS_UNSET] = "",
    [PD_BASIS_CONTRACT] = "contract",
    [PD_BASIS_CONSENT] = "consent",
    [PD_BASIS_LEGAL_OBLIGATION] = "legal_obligation",
    [PD_BASIS_LEGITIMATE_INTERESTS] = "legitimate_interests",
    [PD_BASIS_VITAL_INTERESTS] = "vital_interests",
    [PD_BASIS_PUBLIC_TASK] = "public_task",
};

static const char *const export_names[PD_EXPORT__COUNT] = {
    [PD_EXPORT_UNSET] = "",          [PD_EXPORT_VALUE] = "value",
    [PD_EXPORT_DECRYPT] = "decrypt", [PD_EXPORT_PRESENCE] = "presence",
    [PD_EXPORT_OMIT] = "omit",
};

static const char *const erase_names[PD_ERASE__COUNT] = {
    [PD_ERASE_UNSET] = "",
    [PD_ERASE_SHRED] = "shred",
    [PD_ERASE_DELETE] = "delete",
    [PD_ERASE_ANONYMISE] = "anonymise",
    [PD_ERASE_KEEP_FOR_LAW] = "keep_for_law",
};

static const char *const keep_names[PD_KEEP__COUNT] = {
    [PD_KEEP_AS_ROW] = "row",    [PD_KEEP_ACCOUNT] = "account",
    [PD_KEEP_AFTER] = "after",   [PD_KEEP_CHECKPOINT] = "checkpoint",
    [PD_KEEP_LATEST] = "latest",
};

#define NAME_OF(table, v) ((unsigned)(v) < sizeof table / sizeof table[0] ? table[v] : "")

const char *privacy_category_name(enum pd_category c)
{
    return NAME_OF(category_names, c);
}

const char *privacy_purpose_name(enum pd_purpose p)
{
    return NAME_OF(purpose_names, p);
}

const char *privacy_basis_name(enum pd_basis b)
{
    return NAME_OF(basis_names, b);
}

const char *privacy_export_name(enum pd_export e)
{
    return NAME_OF(export_names, e);
}

const char *privacy_erase_name(enum pd_erase e)
{
    return NAME_OF(erase_names, e);
}

const char *privacy_keep_name(enum pd_keep k)
{
    return NAME_OF(keep_names, k);
}

/* ---------------------------------------------------------------- inventory */

json_t *privacy_retention_json(const struct pd_retention *k)
{
    json_t *o = json_pack("{s:s}", "kind", privacy_keep_name(k->kind));
    if (k->kind == PD_KEEP_AFTER || k->kind == PD_KEEP_CHECKPOINT) {
        json_object_set_new(o, "anchor", json_string(k->anchor ? k->anchor : ""));
        json_object_set_new(o, "keep_ms", json_integer(k->keep_ms));
        json_object_set_new(o, "event", json_string(k->event ? k->event : ""));
    } else if (k->kind == PD_KEEP_LATEST) {
        json_object_set_new(o, "anchor", json_string(k->anchor ? k->anchor : ""));
        json_object_set_new(o, "keep_n", json_integer(k->keep_n));
    }
    return o;
}

static json_t *column_json(const struct pd_table *t, const struct pd_column *c)
{
    if (!privacy_column_personal(c))
        return json_pack("{s:s, s:b, s:s}", "name", c->name, "personal", false, "note",
                         c->note ? c->note : "");
    json_t *o = json_pack("{s:s, s:b, s:s, s:s, s:s, s:b, s:s, s:s, s:o}", "name", c->name,
                          "personal", true, "category", privacy_category_name(c->category),
                          "purpose", privacy_purpose_name(c->purpose), "legal_basis",
                          privacy_basis_name(c->basis), "encrypted", c->encrypted, "export",
                          privacy_export_name(c->exp), "erasure", privacy_erase_name(c->erase),
                          "retention", privacy_retention_json(privacy_column_keep(t, c)));
    if (c->account_ref)
        json_object_set_new(o, "account_ref", json_true());
    if (c->public_content)
        json_object_set_new(o, "public", json_true());
    if (c->note)
        json_object_set_new(o, "note", json_string(c->note));
    return o;
}

json_t *privacy_inventory_json(void)
{
    static const char *const engines[] = {"both", "sqlite", "postgres"};
    json_t *list = json_array();
    for (size_t i = 0; i < NTABLES; i++) {
        const struct pd_table *t = &tables[i];
        json_t *o = json_pack("{s:s, s:o, s:s, s:b}", "name", t->name, "owner",
                              t->owner ? json_string(t->owner) : json_null(), "engine",
                              engines[t->engine], "personal", t->not_personal == NULL);
        if (t->not_personal)
            json_object_set_new(o, "reason", json_string(t->not_personal));
        else
            json_object_set_new(o, "retention", privacy_retention_json(&t->keep));
        if (t->owner_in)
            json_object_set_new(o, "owner_in", json_string(t->owner_in));
        if (t->note)
            json_object_set_new(o, "note", json_string(t->note));
        json_t *cols = json_array();
        for (const struct pd_column *c = t->columns; c && c->name; c++)
            json_array_append_new(cols, column_json(t, c));
        json_object_set_new(o, "columns", cols);
        json_array_append_new(list, o);
    }
    return json_pack("{s:i, s:o}", "version", 1, "tables", list);
}
