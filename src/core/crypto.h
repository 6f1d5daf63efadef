/*
 * crypto.h — the security core: master key ring, per-user data keys,
 * encrypted fields, blind indexes, session tokens, one-time codes,
 * passwords and staff TOTP. Everything is libsodium except TOTP (liboath,
 * since libsodium has no HMAC-SHA1).
 *
 * Included by core.h; nothing here knows about SQL or HTTP. Every function
 * that can fail returns an enum st. Functions that need keys return
 * ST_INTERNAL until crypto_init (or crypto_keyring_install) has run.
 *
 * Threads: after start-up every function is thread-safe. The key ring is
 * read under a read/write lock and may be replaced at any time (rotation).
 */
#ifndef ENTREPOT_CRYPTO_H
#define ENTREPOT_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h" /* enum st, MASTER_KEY_BYTES, struct master_keyring */

/* ---------------------------------------------------------------- key ring */

/* The master keys live outside the database (core.h: masterkey_ring_load).
 * Several may be known at once while a rotation runs: the primary one wraps
 * new data keys, any known one unwraps. Ids are 1..UINT32_MAX; 0 is
 * reserved ("the row owner's data key" in encrypted fields).
 *
 * The blind-index, token and one-time-code keys are derived
 * (crypto_kdf_derive_from_key) from an *index root* that stays the same
 * across master-key rotations, so lookups, sessions and pending codes
 * survive a rotation: the ring's index key when it has one, else a KDF
 * subkey of the master key with the lowest id (a legacy single-key file). */

/* Installs a ring holding one master key, which becomes the primary. Also
 * initialises libsodium. Returns ST_INVALID for key_id 0. */
enum st crypto_init(const unsigned char master[MASTER_KEY_BYTES], uint32_t key_id);
/* Adds a further (older, non-primary) master key so values it wrapped can
 * be unwrapped. ST_CONFLICT when key_id is known with different bytes
 * (adding the same key twice is ST_OK), ST_TOOLARGE past MASTER_KEYS_MAX,
 * ST_INTERNAL before crypto_init. */
enum st crypto_keyring_add(uint32_t key_id, const unsigned char key[MASTER_KEY_BYTES]);
/* Replaces the whole ring at once with r (keys[0] becomes the primary), as
 * read by masterkey_ring_load. Initialises libsodium. r is not kept: the
 * caller wipes it (masterkey_ring_wipe). */
enum st crypto_keyring_install(const struct master_keyring *r);
/* Id of the primary master key; 0 before crypto_init. */
uint32_t crypto_keyring_primary_id(void);
/* True when a master key with this id is in the ring. */
bool crypto_keyring_has(uint32_t key_id);

/* Makes r's index key explicit (has_index), as implied by its keys when it
 * had none, so the file can drop the key it was derived from. */
enum st crypto_keyring_pin_index(struct master_keyring *r);

/* Key rotation without downtime. `entrepot keys rotate` (src/cmd/keys.c)
 * first writes the key file with the new key as primary and the old one
 * second, waits CRYPTO_KEYRING_ROTATE_GRACE_S, re-wraps every data key, and
 * finally rewrites the file with the new key only. A running server learns
 * of each step through a reload hook:
 *   - before wrapping a data key, at most every CRYPTO_KEYRING_RECHECK_MS,
 *     so new keys are wrapped with the new primary within seconds;
 *   - when it meets a wrapped key whose key id it does not know (another
 *     node wrapped it with a newer key), at most once a second.
 * The hook returns ST_OK when the ring is current (reloaded or unchanged).
 * `serve` sets it with crypto_keyring_watch_file when the key comes from a
 * file; with ENTREPOT_MASTER_KEY there is nothing to re-read. fn NULL
 * removes the hook. */
typedef enum st (*crypto_reload_fn)(void *arg);
void crypto_keyring_set_reload(crypto_reload_fn fn, void *arg);
/* Sets a reload hook that re-reads the key file at path whenever its inode,
 * size or modification time changed (a cheap stat otherwise). A file whose
 * index key differs from the running one is refused with an error in the
 * log (it would silently break every blind index and session), and so is
 * a file without the key that is primary now unless it has a newer one. */
enum st crypto_keyring_watch_file(const char *path);

#define CRYPTO_KEYRING_RECHECK_MS     5000 /* a wrap re-checks the key file this often */
#define CRYPTO_KEYRING_RELOAD_MS      1000 /* unknown key ids re-read it at most this often */
#define CRYPTO_KEYRING_ROTATE_GRACE_S 12   /* rotate waits this long for servers to reload */

/* ---------------------------------------------------------------- data keys */

/* Each user has a random 256-bit data key; only its wrapped form is stored
 * (user_keys.wrapped_key). Wrapped format, CRYPTO_WRAPPED_BYTES long:
 *   version (1 byte, CRYPTO_WRAP_V1) ‖ master key id (4 bytes, big endian)
 *   ‖ nonce (24 bytes) ‖ XChaCha20-Poly1305 ciphertext of the key (48 bytes)
 * with associated data = version ‖ key id ‖ user id (8 bytes, big endian),
 * so a wrapped key cannot be given to another user. The wrapping key is a
 * KDF subkey of the master key, never the master key itself.
 * Destroying the wrapped key (crypto-shredding) makes every field sealed
 * with the data key unreadable for good. */
#define CRYPTO_WRAP_V1       1
#define CRYPTO_WRAPPED_BYTES (1 + 4 + 24 + 32 + 16)
#define CRYPTO_DATAKEY_BYTES 32

/* Makes a fresh data key for user_id (> 0) into dk and wraps it with the
 * primary master key into *wrapped (caller frees with free/xfree). Wipe dk
 * with sodium_memzero when done. */
enum st crypto_datakey_new(int64_t user_id, unsigned char dk[CRYPTO_DATAKEY_BYTES],
                           unsigned char **wrapped, size_t *wlen);
/* Unwraps with whichever known master key the value names. ST_INVALID when
 * the value is malformed, tampered with or belongs to another user;
 * ST_UNSUPPORTED for an unknown version byte; ST_NOTFOUND when its master
 * key is not in the ring (after asking the reload hook). dk is zeroed on
 * failure. */
enum st crypto_datakey_unwrap(int64_t user_id, const unsigned char *wrapped, size_t wlen,
                              unsigned char dk[CRYPTO_DATAKEY_BYTES]);
/* Unwraps old (any known key) and wraps the same data key again with the
 * primary key into *out (caller frees). Used by key rotation. Errors as
 * crypto_datakey_unwrap. */
enum st crypto_datakey_rewrap(int64_t user_id, const unsigned char *old, size_t oldlen,
                              unsigned char **out, size_t *outlen);
/* The master key id a wrapped value names, or 0 when it is malformed. */
uint32_t crypto_wrapped_key_id(const unsigned char *wrapped, size_t wlen);

/* ---------------------------------------------------------------- fields */

/* Encrypted columns hold, CRYPTO_FIELD_OVERHEAD bytes longer than the value:
 *   version (1 byte, CRYPTO_FIELD_V1) ‖ key id (4 bytes BE; 0 = the row
 *   owner's data key, the only kind so far) ‖ nonce (24) ‖ ciphertext + tag
 * sealed with XChaCha20-Poly1305 under the owner's data key; associated data
 * = version ‖ key id ‖ owner id (8 bytes BE) ‖ column name, so a value cannot
 * be moved to another user or another column. */
#define CRYPTO_FIELD_V1       1
#define CRYPTO_FIELD_OVERHEAD (1 + 4 + 24 + 16)
#define CRYPTO_FIELD_MAX      (16 * 1024 * 1024) /* largest value sealed in one piece */

/* Seals pt[0..n) for owner_id's column into *out (caller frees). column is
 * a non-empty name such as "users.phone". ST_TOOLARGE over CRYPTO_FIELD_MAX. */
enum st crypto_field_seal(const unsigned char dk[CRYPTO_DATAKEY_BYTES], int64_t owner_id,
                          const char *column, const void *pt, size_t n, unsigned char **out,
                          size_t *outlen);
/* Opens a sealed value into a fresh buffer *out of *outlen bytes plus a NUL
 * after them (so text reads as a C string); caller frees with
 * crypto_free_secret(*out, *outlen). ST_INVALID when tampered with, moved
 * to another owner or column, or malformed; ST_UNSUPPORTED for an unknown
 * version byte or key id. *out is NULL on failure. */
enum st crypto_field_open(const unsigned char dk[CRYPTO_DATAKEY_BYTES], int64_t owner_id,
                          const char *column, const unsigned char *in, size_t inlen,
                          unsigned char **out, size_t *outlen);
/* Wipes n bytes at p and frees it; NULL is a no-op. */
void crypto_free_secret(void *p, size_t n);

/* ---------------------------------------------------------------- blind index */

#define CRYPTO_BLIND_BYTES 32

/* Keyed BLAKE2b-256 of a normalised value for equality lookups of an
 * encrypted column: out = BLAKE2b(key = index subkey, domain ‖ 0x00 ‖
 * normalized). domain ("phone", "email", ...) keeps equal strings of
 * different kinds apart. Stable across master-key rotation (see above). */
enum st crypto_blind_index(const char *domain, const char *normalized,
                           unsigned char out[CRYPTO_BLIND_BYTES]);
/* E-mail as stored in blind indexes: surrounding white space trimmed, ASCII
 * letters lower-cased. ST_INVALID unless it is valid UTF-8 without control
 * characters or inner spaces, of the form local@domain with both parts
 * non-empty and at most 254 bytes long; ST_TOOLARGE when outlen is too small. */
enum st crypto_normalize_email(const char *in, char *out, size_t outlen);
/* Phone number to E.164 ("+8613800138000"). Accepts "+CC...", "00CC..."
 * and national numbers, which get default_cc (digits, NULL means "86")
 * after a leading trunk '0' is dropped. Spaces, tabs, '-', '(' and ')' are
 * ignored, and so are their full-width forms and full-width digits and '+'.
 * ST_INVALID for anything else or unless 8..15 digits result (country code
 * included, not starting with 0); ST_TOOLARGE when outlen < 17. */
enum st crypto_normalize_phone(const char *in, const char *default_cc, char *out, size_t outlen);

/* ---------------------------------------------------------------- tokens */

/* Session and API tokens: 32 random bytes as base64url without padding. Only
 * crypto_token_hash of a token is stored, so a database leak yields no
 * usable session. */
#define CRYPTO_TOKEN_BYTES 32
#define CRYPTO_TOKEN_CHARS 43
#define TOKEN_CHARS        CRYPTO_TOKEN_CHARS
#define CRYPTO_HASH_BYTES  32

/* Writes a fresh token and its NUL. Cannot fail once libsodium is ready. */
enum st crypto_token_new(char out[CRYPTO_TOKEN_CHARS + 1]);
/* Keyed BLAKE2b-256 of the token text (key: the token subkey). ST_INVALID
 * unless crypto_token_parse_ok(token). */
enum st crypto_token_hash(const char *token, unsigned char out[CRYPTO_HASH_BYTES]);
/* Strict format check: exactly 43 characters of [A-Za-z0-9_-] whose last
 * one carries no stray bits (the canonical encoding of 32 bytes). NULL is
 * not ok. Safe on any input. */
bool crypto_token_parse_ok(const char *s);
/* Constant-time equality of a[0..n) and b[0..n). */
bool crypto_equal(const void *a, const void *b, size_t n);

/* ---------------------------------------------------------------- one-time codes */

#define CRYPTO_OTP_DIGITS 6

/* Six uniformly random decimal digits and a NUL. */
enum st crypto_otp_new(char out[CRYPTO_OTP_DIGITS + 1]);
/* Keyed BLAKE2b-256 over the length-prefixed purpose ("login", "register",
 * "phone_change"...), binding (the login attempt or challenge id the code was
 * sent for) and code, so a code is good only for what it was issued for.
 * ST_INVALID unless code is exactly six digits and purpose is non-empty
 * (binding may be ""). */
enum st crypto_otp_hash(const char *code, const char *purpose, const char *binding,
                        unsigned char out[CRYPTO_HASH_BYTES]);

/* ---------------------------------------------------------------- passwords */

/* Argon2id with these costs (OWASP's minimum: 19 MiB, 2 passes, 1 lane).
 * The hash string records them: "$argon2id$v=19$m=19456,t=2,p=1$...". */
#define PASSWORD_OPSLIMIT   2ULL
#define PASSWORD_MEMLIMIT   ((size_t)19 * 1024 * 1024)
#define PASSWORD_HASH_BYTES 128 /* crypto_pwhash_STRBYTES */
#define PASSWORD_MIN_CHARS  8
#define PASSWORD_MAX_CHARS  256
#define PASSWORD_MAX_BYTES  4096 /* longest input hashed at all */

/* Hashes pw into out (NUL-terminated). ST_TOOLARGE over PASSWORD_MAX_BYTES,
 * ST_INTERNAL when memory for Argon2 cannot be had. */
enum st password_hash(const char *pw, char out[PASSWORD_HASH_BYTES]);
/* True when pw matches hash. False for a malformed hash. Costs one Argon2id
 * computation with the hash's own parameters. */
bool password_verify(const char *hash, const char *pw);
/* True when hash was made with other parameters (or is malformed) and should
 * be replaced after the next successful verify. */
bool password_needs_rehash(const char *hash);
/* Burns the time of a real verify of pw, for unknown accounts, so timing
 * does not tell whether an account exists. Always returns false. */
bool password_verify_dummy(const char *pw);
/* ST_OK, or ST_INVALID with *reason (may be NULL) one of "utf8", "too_short"
 * (< 8 code points), "too_long" (> 256), "common" (in the common-password
 * list, compared case-insensitively). No composition rules. */
enum st password_check_policy(const char *pw, const char **reason);
/* True when pw (ASCII letters folded to lower case) is in the embedded
 * list of common passwords. */
bool password_is_common(const char *pw);

/* The common-password list (Debian john-data's password.lst), lower-cased,
 * de-duplicated and sorted by strcmp; generated by scripts/embed-passwords.sh. */
extern const char *const crypto_common_passwords[];
extern const size_t crypto_common_passwords_count;

/* ---------------------------------------------------------------- TOTP (staff) */

/* RFC 6238: HMAC-SHA-1, 30-second steps from the epoch, 6 digits. Secrets
 * are 20 random bytes (RFC 4226's recommended 160 bits) in base32. */
#define TOTP_SECRET_BYTES 20
#define TOTP_SECRET_CHARS 32 /* base32 of 20 bytes, no padding */
#define TOTP_STEP_S       30
#define TOTP_DIGITS       6

/* Writes a fresh base32 secret (upper case, no padding) and its NUL.
 * ST_TOOLARGE when len < TOTP_SECRET_CHARS + 1. */
enum st totp_secret_new(char *base32_out, size_t len);
/* Checks code (exactly 6 digits) against the steps now ± window (0..10) in
 * constant time per step. ST_OK and *matched_step (may be NULL) = the time
 * step that matched; callers store it and refuse a code whose step is not
 * greater than the last one used (no replay). ST_UNAUTHORIZED when no step
 * matches, ST_INVALID for a malformed secret, code or window. The secret is
 * base32, case-insensitive; spaces and '=' padding are ignored. */
enum st totp_verify(const char *base32_secret, const char *code, int64_t now_ms, int window,
                    int64_t *matched_step);
/* The code for the step containing now_ms (for tests and enrolment checks). */
enum st totp_code(const char *base32_secret, int64_t now_ms, char out[TOTP_DIGITS + 1]);
/* otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=ISSUER&algorithm=SHA1&
 * digits=6&period=30 with the label and issuer percent-encoded; for QR
 * codes at enrolment. Caller frees. */
char *totp_uri(const char *issuer, const char *account, const char *base32_secret);

#endif
