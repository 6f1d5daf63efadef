/*
 * accounts_int.h — internals shared by the files of src/accounts: SQL
 * helpers, rate limits, one-time codes, sessions, devices, sealed fields,
 * messages and audit entries. Not for use outside this folder.
 */
#ifndef ENTREPOT_ACCOUNTS_INT_H
#define ENTREPOT_ACCOUNTS_INT_H

#include <stdarg.h>

#include "accounts.h"
#include "audit/audit.h"
#include "notify/notify.h"

extern struct accounts_options acc_opt;

/* ---------------------------------------------------------------- SQL */

/* Statements bound by a format string: the db layer's helpers (db.h
 * lists the letters). acc_query's *s must be finished with acc_done (also
 * when the call fails: it may be NULL then); acc_query_int is ST_NOTFOUND
 * without a row. */
#define acc_query     db_queryf
#define acc_exec      db_execf
#define acc_query_int db_query_int64f
void acc_done(struct db_stmt *s);
/* Commits, or rolls back when s is not ST_OK; returns s or the commit's failure. */
enum st acc_finish(struct db_conn *c, enum st s);

/* ---------------------------------------------------------------- errors */

enum st acc_fail(struct acc_error *err, enum st s, const char *field, const char *code,
                 const char *detail);

/* ---------------------------------------------------------------- users */

struct acc_user {
    int64_t id;
    char status[12];
    char *password_hash; /* NULL when none; freed by acc_user_free */
    unsigned staff_roles;
    bool has_totp;
    int64_t totp_last_step;
    bool has_email;
    char lang[16];
};
/* ST_NOTFOUND when there is no such user. */
enum st acc_user_load(struct db_conn *c, int64_t id, struct acc_user *u);
void acc_user_free(struct acc_user *u);
/* Finds a user by a blind index column ("phone_bidx" or "email_bidx"); *id 0 when none. */
enum st acc_user_by_bidx(struct db_conn *c, bool email,
                         const unsigned char bidx[CRYPTO_BLIND_BYTES], int64_t *id);
enum st acc_user_by_username(struct db_conn *c, const char *username, int64_t *id);

/* The user's unwrapped data key; wipe with sodium_memzero. */
enum st acc_user_dk(struct db_conn *c, int64_t user_id, unsigned char dk[CRYPTO_DATAKEY_BYTES]);
/* Decrypts the user's phone and (verified) e-mail; either out may be NULL.
 * Caller frees with free(). A missing e-mail reads as NULL. */
enum st acc_user_contact(struct db_conn *c, int64_t user_id, char **phone, char **email);
/* The same from a query on "users u" that selected ACC_CONTACT_COLUMNS
 * from column col on, so a reader of the user's row needs no second and
 * third query (GET /me is one SELECT). */
#define ACC_CONTACT_COLUMNS                                                                        \
    "(SELECT wrapped_key FROM user_keys WHERE user_id = u.id), u.phone_enc, u.email_enc"
/* Unwraps user_id's data key selected as column col of s (wipe dk after). */
enum st acc_dk_from_row(struct db_stmt *s, int col, int64_t user_id,
                        unsigned char dk[CRYPTO_DATAKEY_BYTES]);
enum st acc_contact_from_row(struct db_stmt *s, int col, int64_t user_id, char **phone,
                             char **email);
/* Seals text for user_id's column into *out (caller frees). */
enum st acc_seal(const unsigned char dk[CRYPTO_DATAKEY_BYTES], int64_t user_id, const char *column,
                 const char *text, unsigned char **out, size_t *outlen);

/* Phone and e-mail in the forms stored in blind indexes. ST_INVALID. */
enum st acc_phone_norm(const char *in, char out[24]);
enum st acc_email_norm(const char *in, char out[256]);
enum st acc_bidx(const char *domain, const char *normalized, unsigned char out[CRYPTO_BLIND_BYTES]);
/* Lower-cases and checks a username: 3..32 of [a-z0-9._-], starting with a letter. */
enum st acc_username_norm(const char *in, char out[ACC_USERNAME_MAX + 1]);
/* "+86138****0001", "a***@example.com". */
void acc_mask_phone(const char *e164, char *out, size_t len);
void acc_mask_email(const char *email, char *out, size_t len);

/* ---------------------------------------------------------------- limits */

/* A keyed hash naming what is limited: kind ("ip", "acct", "otp-target"...) and value. */
void acc_limit_key(const char *kind, const char *value, unsigned char out[CRYPTO_BLIND_BYTES]);
/* Counts one event in a window of window_ms; ST_RATELIMIT (and *retry_ms)
 * when limit events were already counted in the current window. */
enum st acc_limit_hit(struct db_conn *c, const unsigned char key[CRYPTO_BLIND_BYTES],
                      int64_t window_ms, int64_t limit, int64_t *retry_ms);
/* Password throttle: ST_RATELIMIT with *retry_ms when the failures counted
 * under key call for waiting (see ACC_PW_*). Reads only. */
/* Counts one write of kind ("profile", "avatar"...) by user_id in the
 * current hour; ST_RATELIMIT with err filled (retry, detail) past limit. */
enum st acc_write_limit(struct db_conn *c, int64_t user_id, const char *kind, int64_t limit,
                        struct acc_error *err);
enum st acc_throttle_check(struct db_conn *c, const unsigned char key[CRYPTO_BLIND_BYTES],
                           int64_t free_failures, int64_t max_hour, int64_t *retry_ms);
enum st acc_throttle_fail(struct db_conn *c, const unsigned char key[CRYPTO_BLIND_BYTES]);
enum st acc_throttle_clear(struct db_conn *c, const unsigned char key[CRYPTO_BLIND_BYTES]);
/* The throttle keys of a password attempt: the account (or, for an unknown
 * one, the login text, so both behave alike) and the address. */
void acc_pw_keys(int64_t user_id, const char *login_norm, const char *ip,
                 unsigned char acct[CRYPTO_BLIND_BYTES], unsigned char ipk[CRYPTO_BLIND_BYTES]);
/* Checks both password throttles; ST_RATELIMIT with err filled. */
enum st acc_pw_throttled(struct db_conn *c, const unsigned char acct[CRYPTO_BLIND_BYTES],
                         const unsigned char ipk[CRYPTO_BLIND_BYTES], struct acc_error *err);

/* ---------------------------------------------------------------- codes */

struct acc_code_row {
    int64_t id;
    int64_t user_id;
    char purpose[24];
    char channel[8];
    unsigned char target[CRYPTO_BLIND_BYTES];
};
/* Issues a code: a row in otp_attempts bound to purpose and a fresh attempt
 * token (written to attempt). When to is not NULL the code is sent there
 * (channel "sms" or "email") with the catalogue text msg_key ({code},
 * {device} filled); otherwise it is made and never delivered, so the
 * answer costs the same. Runs in the caller's transaction. */
enum st acc_code_issue(struct db_conn *c, const struct acc_client *cl, const char *purpose,
                       const unsigned char target[CRYPTO_BLIND_BYTES], const char *channel,
                       int64_t user_id, const char *to, const char *msg_key,
                       char attempt[CRYPTO_TOKEN_CHARS + 1]);
/* Rate limits of code sending (per target and per address); err filled. */
enum st acc_code_limits(struct db_conn *c, const struct acc_client *cl,
                        const unsigned char target[CRYPTO_BLIND_BYTES], struct acc_error *err);
/* Checks and uses a code: its attempt must exist, be unused, unexpired,
 * under ACC_OTP_MAX_TRIES, of one of purposes (NULL-terminated), and (when
 * target is not NULL) for that target. A wrong code counts a try.
 * ST_UNAUTHORIZED for every failure: the caller must still COMMIT (the
 * try counts). Runs in the caller's transaction. */
enum st acc_code_consume(struct db_conn *c, const char *const *purposes, const char *attempt,
                         const char *code, const unsigned char *target, struct acc_code_row *out);

/* ---------------------------------------------------------------- sessions, devices */

enum st acc_session_new(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                        bool bearer, bool remember, bool staff, int64_t device_id,
                        struct acc_session *out);
/* Drops this node's cached session checks of a session (session_id > 0)
 * or of every session of user_id. Call after the revoking commit. */
void acc_session_cache_forget(int64_t user_id, int64_t session_id);
/* Ends sessions of user_id: all, or all but keep (> 0). */
enum st acc_sessions_revoke_all(struct db_conn *c, int64_t user_id, int64_t keep);
/* The device row of the client's device token for user_id; 0 when unknown. */
enum st acc_device_find(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                        int64_t *device_id);
/* Records (or refreshes) the client's device for user_id. */
enum st acc_device_remember(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                            int64_t *device_id);
/* True when user_id has had a session from the client's coarse network. */
enum st acc_network_known(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                          bool *known);
/* Coarse network of an address: "203.0.113.0/24", "2001:db8:1::/48". */
void acc_place(const char *ip, char *out, size_t len);
/* "Firefox on Linux", "entrepot app", "unknown device". */
void acc_device_label(const char *ua, char *out, size_t len);

/* Signs user_id in: device recorded, session made, audit entry written,
 * and a notice sent when the device or network was new. Runs in the
 * caller's transaction. method names how ("password", "code", ...). */
enum st acc_signin(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                   const char *method, bool remember, bool bearer, bool staff,
                   struct acc_session *out);

/* ---------------------------------------------------------------- profile, avatar */

/* True when the JSON list public_fields names field. */
bool acc_field_public(const char *public_fields, const char *field);
/* Starts libvips once per process (idempotent, thread-safe). */
enum st acc_images_init(void);
/* Turns an uploaded picture into the stored form (see accounts_avatar_set):
 * *out (caller frees) is the WebP. No database. */
enum st acc_avatar_process(const void *in, size_t len, const char *declared, unsigned char **out,
                           size_t *outlen, struct acc_error *err);

/* ---------------------------------------------------------------- messages, audit */

/* Queues a security message (code or notice). Runs in the caller's transaction. */
enum st acc_send(struct db_conn *c, int64_t user_id, const char *channel, const char *to,
                 const char *template_name, const char *lang, const char *subject,
                 const char *body);
/* Sends the catalogue notice msg_key ({device}, {place} filled) to the
 * user's verified e-mail, else their phone. */
enum st acc_notice(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                   const char *msg_key);
/* Appends a security event about subject (actor = subject unless staff). */
enum st acc_audit(struct db_conn *c, const struct acc_client *cl, int64_t actor, const char *role,
                  const char *action, int64_t subject, const char *detail);

#endif
