/*
 * accounts.h — accounts, sign-in, sessions and the user's security settings
 * (SPEC §1, §3). Plain C: the HTTP layer (accounts_api.c) turns requests
 * into these calls and their statuses into answers.
 *
 * What every function here promises:
 *   - no enumeration: code requests, password sign-ins and resets answer
 *     the same, at the same cost, whether or not the account exists;
 *   - sending codes and guessing passwords are rate-limited per target,
 *     per account and per address (ST_RATELIMIT with err->retry_after_ms);
 *   - phone numbers and e-mail addresses are stored sealed under the
 *     user's data key, found through blind indexes, and handed in clear
 *     only to the outbox (notify_send) for delivery;
 *   - every security event is appended to the audit log in the same
 *     transaction as the change it records.
 *
 * Functions take a borrowed connection with no transaction open and manage
 * their own transactions. Failures return a status and, when err is not
 * NULL, fill it so the caller can explain (which field, which message).
 */
#ifndef ENTREPOT_ACCOUNTS_H
#define ENTREPOT_ACCOUNTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "db/db.h"

/* Staff roles, the same bits as the HTTP layer's STAFF_* (users.staff_roles). */
#define ACC_ROLE_SUPPORT    (1u << 0)
#define ACC_ROLE_OPERATIONS (1u << 1)
#define ACC_ROLE_COMPLIANCE (1u << 2)
#define ACC_ROLE_ADMIN      (1u << 3)
#define ACC_ROLES_ALL       0xFu

/* One-time codes. */
#define ACC_OTP_TTL_MS          (10 * 60 * 1000) /* a code is good for 10 minutes */
#define ACC_OTP_MAX_TRIES       5                /* wrong guesses before the attempt dies */
#define ACC_OTP_PER_TARGET_HOUR 5                /* codes sent to one number/address an hour */
#define ACC_OTP_PER_IP_HOUR     20               /* codes requested from one address an hour */

/* Password guessing. After FREE failures each further attempt waits
 * 2^(failures - FREE) seconds (capped at DELAY_CAP_S) after the last
 * failure; at most MAX attempts an hour in all. */
#define ACC_PW_ACCOUNT_FREE     5
#define ACC_PW_ACCOUNT_MAX_HOUR 100
#define ACC_PW_IP_FREE          20
#define ACC_PW_IP_MAX_HOUR      300
#define ACC_PW_DELAY_CAP_S      30
#define ACC_HOUR_MS             (3600LL * 1000)

/* Text limits (code points), also declared by the API's body specs. */
#define ACC_USERNAME_MIN     3
#define ACC_USERNAME_MAX     32
#define ACC_NAME_MAX         64  /* display name */
#define ACC_PROFILE_MAX      100 /* company, title, department, industry */
#define ACC_SIGNATURE_MAX    280
#define ACC_UA_MAX           512  /* bytes of the User-Agent kept */
#define ACC_CSRF_CHARS       43   /* base64url of 32 bytes */
#define ACC_SESSION_CACHE_MS 3000 /* a node trusts its last check of a session this long */

/* Writes a signed-in user may make in an hour (ST_RATELIMIT past them). */
#define ACC_PROFILE_PER_HOUR  60 /* PATCH /me */
#define ACC_AVATAR_PER_HOUR   20 /* avatar uploads, counted before decoding */
#define ACC_ME_CODES_PER_HOUR 8  /* reauth codes, on top of the per-target limit */

/* Avatars: what an upload may be and what is kept of it. */
#define ACC_AVATAR_MAX_BYTES  (5 * 1024 * 1024) /* upload size (413 past it) */
#define ACC_AVATAR_MAX_SIDE   20000             /* pixels of either side */
#define ACC_AVATAR_MAX_PIXELS 50000000LL        /* width x height: refuses pixel bombs */
#define ACC_AVATAR_SIZE       256               /* the stored square, pixels */
#define ACC_AVATAR_QUALITY    82                /* WebP quality of the stored square */
#define ACC_AVATAR_TAG_BYTES  12                /* random version tag in URLs and ETags */
#define ACC_AVATAR_TAG_CHARS  16                /* its base64url length */

/* Session lifetimes. Defaults: 30 min idle / 12 h absolute; remember-me
 * ("keep me signed in on this device") 30 days idle / 90 days absolute;
 * staff 15 min idle / 8 h absolute. */
struct accounts_options {
    int64_t idle_ms;
    int64_t absolute_ms;
    int64_t remember_idle_ms;
    int64_t remember_absolute_ms;
    int64_t staff_idle_ms;
    int64_t staff_absolute_ms;
    const char *default_cc; /* country code for national numbers: "86" */
};
void accounts_options_default(struct accounts_options *o);
/* Sets the options (copied; default_cc is copied too). Call at start-up. */
void accounts_configure(const struct accounts_options *o);

/* Where a call comes from. ip is required; device is the device token the
 * client presented (cookie or app), always set by the API layer (it makes
 * a fresh one for a client without); lang picks the language of messages. */
struct acc_client {
    const char *ip;
    const char *user_agent; /* may be NULL */
    const char *lang;
    const char *device;
};

/* Why a call failed. field/code name a field error (code is a stable code
 * such as "invalid_phone"; its message is the catalogue's "field.<code>");
 * detail is a catalogue key for the problem's detail text. */
struct acc_error {
    const char *field;
    const char *code;
    int64_t min, max;       /* for too_short / too_long */
    const char *detail;     /* NULL or a catalogue key */
    int64_t retry_after_ms; /* with ST_RATELIMIT */
};

/* A fresh session: the token is shown once and stored only hashed. */
struct acc_session {
    char token[CRYPTO_TOKEN_CHARS + 1];
    char csrf[ACC_CSRF_CHARS + 1];
    int64_t id;
    int64_t user_id;
    bool bearer;
    bool remember;
    bool staff;
    int64_t expires_at; /* absolute expiry, ms */
    int64_t idle_timeout_ms;
};

/* Outcome of a sign-in step. */
struct acc_login {
    bool done; /* true: session is set; false: a code was sent */
    struct acc_session session;
    char attempt[CRYPTO_TOKEN_CHARS + 1]; /* !done: the attempt to verify */
    char sent_to[32];                     /* !done: masked destination, "+86 138****0001" */
    bool existing;                        /* register: signed in to an existing account */
};

/* Re-authentication for sensitive changes: the current password, or a
 * fresh code of purpose "reauth" (accounts_me_code_request). */
struct acc_reauth {
    const char *password;
    const char *attempt;
    const char *code;
};

/* What the authenticator learns from a token. */
struct acc_identity {
    int64_t user_id;
    int64_t session_id;
    unsigned staff_roles; /* only for staff sessions */
};

/* ---------------------------------------------------------------- codes */

/* Sends a one-time code for purpose "register" (phone only), "login",
 * "reset" or "unfreeze" to phone or email (exactly one non-NULL) and
 * writes the attempt token (to present with the code) into attempt. The
 * answer is the same whether or not an account exists: codes for login,
 * reset and unfreeze go only to existing accounts, the others vanish. A
 * register code to a number that has an account says so in the message.
 * ST_INVALID (field phone/email/purpose), ST_RATELIMIT. */
enum st accounts_code_request(struct db_conn *c, const struct acc_client *cl, const char *purpose,
                              const char *phone, const char *email,
                              char attempt[CRYPTO_TOKEN_CHARS + 1], struct acc_error *err);
/* A code for a signed-in user to their own phone ("sms") or verified
 * e-mail ("email"): purpose "reauth". ST_INVALID when the user has no
 * verified e-mail and asked for one. */
enum st accounts_me_code_request(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                                 const char *channel, char attempt[CRYPTO_TOKEN_CHARS + 1],
                                 struct acc_error *err);

/* ---------------------------------------------------------------- sign-in */

struct acc_register {
    const char *phone;
    const char *attempt;
    const char *code;
    const char *account_type; /* "individual" (NULL) or "enterprise" */
    const char *display_name; /* may be NULL */
    const char *username;     /* may be NULL */
    const char *password;     /* may be NULL: code-only sign-in */
    const char *lang;         /* may be NULL */
    bool remember;
    bool bearer;
};
/* Creates the account for a verified phone number and signs in. When the
 * number already has an account the code proves ownership: that account
 * is signed in instead (out->existing; the other fields are ignored).
 * ST_UNAUTHORIZED for a wrong/expired/used code, ST_INVALID, ST_CONFLICT
 * (username taken), ST_FORBIDDEN (the existing account is frozen). */
enum st accounts_register(struct db_conn *c, const struct acc_client *cl,
                          const struct acc_register *r, struct acc_login *out,
                          struct acc_error *err);
/* Password sign-in by phone, e-mail or username. From a known device on a
 * known network: out->done. Otherwise a code goes to the account's phone
 * and out->attempt must be verified with accounts_login_verify.
 * ST_UNAUTHORIZED (same answer for unknown accounts and wrong passwords),
 * ST_RATELIMIT, ST_FORBIDDEN (frozen). */
enum st accounts_login_password(struct db_conn *c, const struct acc_client *cl, const char *login,
                                const char *password, bool remember, bool bearer,
                                struct acc_login *out, struct acc_error *err);
/* Completes a sign-in with a code: the second step of a password sign-in,
 * or a sign-in by code (purpose "login"). Sends a notice when the device
 * or network is new. ST_UNAUTHORIZED, ST_FORBIDDEN (frozen). */
enum st accounts_login_verify(struct db_conn *c, const struct acc_client *cl, const char *attempt,
                              const char *code, bool remember, bool bearer, struct acc_login *out,
                              struct acc_error *err);
/* Unfreezes with a code of purpose "unfreeze" and signs in. */
enum st accounts_unfreeze(struct db_conn *c, const struct acc_client *cl, const char *attempt,
                          const char *code, bool remember, bool bearer, struct acc_login *out,
                          struct acc_error *err);
/* Sets a new password with a code of purpose "reset"; ends every session. */
enum st accounts_password_reset(struct db_conn *c, const struct acc_client *cl, const char *attempt,
                                const char *code, const char *new_password, struct acc_error *err);
/* Staff sign-in: password and a TOTP code, whose time step must be newer
 * than the last one used (no replay). Only accounts with staff roles and
 * an enrolled TOTP secret; the same answer for every failure. */
enum st accounts_staff_login(struct db_conn *c, const struct acc_client *cl, const char *login,
                             const char *password, const char *totp, bool bearer,
                             struct acc_login *out, struct acc_error *err);

/* ---------------------------------------------------------------- sessions */

/* Looks a presented token up: ST_OK and *out for a live session of the
 * right kind (bearer or cookie) of an active account, ST_UNAUTHORIZED for
 * anything else (unknown, revoked, idle or absolute timeout). Touches
 * last_seen_at at most once a minute. */
enum st accounts_session_check(struct db_conn *c, const char *token, bool bearer,
                               struct acc_identity *out);
/* The fast path of accounts_session_check: ST_OK and *out when this node
 * checked the session less than ACC_SESSION_CACHE_MS ago (and saw it used
 * less than a minute ago), ST_UNAUTHORIZED for a malformed token,
 * ST_NOTFOUND otherwise (ask accounts_session_check). No database. */
enum st accounts_session_cached(const char *token, bool bearer, struct acc_identity *out);
/* Forgets this node's cached checks of user_id's sessions: call after
 * changing what a session grants (staff roles, account status) outside
 * this module. Revocations here do it themselves. Other nodes follow within
 * ACC_SESSION_CACHE_MS. */
void accounts_sessions_forget_user(int64_t user_id);
/* The CSRF token of a session: a keyed hash of its token, so nothing needs
 * storing and a database leak does not reveal it. */
void accounts_csrf_token(const char *session_token, char out[ACC_CSRF_CHARS + 1]);
/* Constant-time check of a presented CSRF token against the session's. */
bool accounts_csrf_ok(const char *session_token, const char *presented);

/* Ends a session that a sign-in in the same browser replaces (a new token
 * at every sign-in: the old one must not live on unseen). */
enum st accounts_session_replaced(struct db_conn *c, int64_t session_id);
enum st accounts_logout(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                        int64_t session_id);
enum st accounts_logout_all(struct db_conn *c, const struct acc_client *cl, int64_t user_id);
/* The user's live sessions, newest activity first, as a JSON array of
 * {"id","kind","current","device","place","created_at","last_seen_at",
 *  "expires_at","remember","staff"}. */
enum st accounts_sessions_list(struct db_conn *c, int64_t user_id, int64_t current_session,
                               json_t **out);
/* Ends one of the user's sessions; ST_NOTFOUND when it is not theirs or
 * not live (another user's id looks exactly like a missing one). */
enum st accounts_session_revoke(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                                int64_t session_id);
/* The devices the user signed in from: {"id","label","first_seen_at",
 * "last_seen_at"}. */
enum st accounts_devices_list(struct db_conn *c, int64_t user_id, json_t **out);
/* Forgets a device (its sessions end; the next sign-in from it needs a
 * code). ST_NOTFOUND when not the user's. */
enum st accounts_device_forget(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                               int64_t device_id);

/* ---------------------------------------------------------------- the account */

/* The user's own view of their account (phone and e-mail decrypted). */
enum st accounts_me(struct db_conn *c, int64_t user_id, json_t **out);
/* The signed-in user as GET /auth/session shows it: id, display_name,
 * username, lang, and staff_roles (names) when staff_roles is not 0 (a
 * staff session). ST_NOTFOUND for an unknown account. No sealed field is
 * opened: this runs on every page load. */
enum st accounts_session_user(struct db_conn *c, int64_t user_id, unsigned staff_roles,
                              json_t **out);
/* What anyone may see of a user: display name, username and the profile
 * fields they made public. ST_NOTFOUND for closed or unknown accounts. */
enum st accounts_public_profile(struct db_conn *c, int64_t user_id, json_t **out);
/* Applies a validated PATCH object: display_name, username, gender,
 * signature, company, title, department, industry (string or null),
 * account_type, lang, public_fields (array of those field names). */
enum st accounts_profile_update(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                                json_t *patch, struct acc_error *err);
/* Changes the password after re-authentication; every other session ends
 * and the current one gets a new token (rotated). */
enum st accounts_password_change(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                                 int64_t session_id, const struct acc_reauth *ra,
                                 const char *new_password, struct acc_session *rotated,
                                 struct acc_error *err);
/* Starts an e-mail (or phone) change after re-authentication: a code goes
 * to the new address, to be confirmed with *_verify. */
enum st accounts_email_start(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                             const struct acc_reauth *ra, const char *email,
                             char attempt[CRYPTO_TOKEN_CHARS + 1], struct acc_error *err);
enum st accounts_email_verify(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                              const char *email, const char *attempt, const char *code,
                              struct acc_error *err);
enum st accounts_phone_start(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                             const struct acc_reauth *ra, const char *phone,
                             char attempt[CRYPTO_TOKEN_CHARS + 1], struct acc_error *err);
enum st accounts_phone_verify(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                              const char *phone, const char *attempt, const char *code,
                              struct acc_error *err);
/* Freezes the account at once: every session ends. */
enum st accounts_freeze(struct db_conn *c, const struct acc_client *cl, int64_t user_id);
/* Checks a re-authentication (for other modules' sensitive actions, such
 * as closing the account). ST_INVALID with a field error when missing or
 * wrong, ST_RATELIMIT when guessing. */
enum st accounts_reauth(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                        const struct acc_reauth *ra, struct acc_error *err);

/* ---------------------------------------------------------------- avatar */

/* A stored avatar: the re-encoded image and its version tag. */
struct acc_avatar {
    unsigned char *data; /* freed by acc_avatar_free */
    size_t len;
    char tag[ACC_AVATAR_TAG_CHARS + 1];
    char media_type[16];
};
void acc_avatar_free(struct acc_avatar *a);

/* Replaces the user's avatar with the picture in bytes, which must be an
 * image of media_type ("image/png", "image/jpeg" or "image/webp"). What is
 * stored is a fresh ACC_AVATAR_SIZE square WebP without metadata, sealed
 * under the user's data key, with a new random tag. ST_INVALID (empty),
 * ST_UNPROCESSABLE with field "avatar" (not that type, damaged, over
 * ACC_AVATAR_MAX_PIXELS), ST_RATELIMIT past ACC_AVATAR_PER_HOUR. */
enum st accounts_avatar_set(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                            const void *bytes, size_t len, const char *media_type,
                            struct acc_error *err);
/* The user's avatar. With public_only, ST_NOTFOUND unless the user made
 * "avatar" public (and the account is not closed), so a private picture
 * looks exactly like a missing one. */
enum st accounts_avatar_get(struct db_conn *c, int64_t user_id, bool public_only,
                            struct acc_avatar *out);
/* Removes the avatar; ST_NOTFOUND when there is none. */
enum st accounts_avatar_delete(struct db_conn *c, const struct acc_client *cl, int64_t user_id);

/* ---------------------------------------------------------------- staff */

/* Creates an administrator (`entrepot user create-admin`): phone, password
 * (policy-checked) and a fresh TOTP secret, written into secret (base32).
 * ST_CONFLICT when the number already has an account. */
enum st accounts_create_admin(struct db_conn *c, const char *phone, const char *password,
                              const char *display_name, int64_t *user_id,
                              char secret[TOTP_SECRET_CHARS + 1], struct acc_error *err);

/* Test mode only: forgets every rate-limit and throttle counter (the
 * accounts' and the community's: they share the table); *cleared = rows. */
enum st accounts_rate_limits_reset(struct db_conn *c, int64_t *cleared);

/* Role names: "support", "operations", "compliance", "administrator". */
json_t *accounts_role_names(unsigned roles);

/* ---------------------------------------------------------------- wiring */

/* Registers the module's routes and its authenticator with the HTTP layer
 * (defined in accounts_api.c, the one file of this folder that sees HTTP). */
void accounts_api_register(void);

#endif
