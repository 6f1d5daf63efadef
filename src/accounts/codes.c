/*
 * codes.c — one-time codes: issuing, rate-limiting and consuming them, and
 * the public "send me a code" entry points.
 *
 * A code is six random digits, valid ACC_OTP_TTL_MS, used once. Only
 * crypto_otp_hash(code, purpose, attempt token) is stored, so a code is
 * good for nothing but the purpose and the attempt it was sent for, and the
 * attempt token (handed to whoever asked) is itself stored only hashed.
 *
 * Enumeration: a request for an account that does not exist makes the
 * same row with a code nobody receives and answers the same; sending is
 * what costs money and annoys people, so it is limited per target (blind
 * index) and per address whether or not the account exists.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts_int.h"

enum st acc_code_limits(struct db_conn *c, const struct acc_client *cl,
                        const unsigned char target[CRYPTO_BLIND_BYTES], struct acc_error *err)
{
    unsigned char kt[CRYPTO_BLIND_BYTES], ki[CRYPTO_BLIND_BYTES];
    char hex[2 * CRYPTO_BLIND_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, target, CRYPTO_BLIND_BYTES);
    acc_limit_key("otp-target", hex, kt);
    acc_limit_key("otp-ip", cl->ip, ki);
    int64_t retry = 0;
    enum st st = acc_limit_hit(c, ki, ACC_HOUR_MS, ACC_OTP_PER_IP_HOUR, &retry);
    if (st == ST_OK)
        st = acc_limit_hit(c, kt, ACC_HOUR_MS, ACC_OTP_PER_TARGET_HOUR, &retry);
    if (st == ST_RATELIMIT && err) {
        err->retry_after_ms = retry;
        err->detail = "accounts.codes_limited";
    }
    return st;
}

enum st acc_code_issue(struct db_conn *c, const struct acc_client *cl, const char *purpose,
                       const unsigned char target[CRYPTO_BLIND_BYTES], const char *channel,
                       int64_t user_id, const char *to, const char *msg_key,
                       char attempt[CRYPTO_TOKEN_CHARS + 1])
{
    char code[CRYPTO_OTP_DIGITS + 1];
    unsigned char ah[CRYPTO_HASH_BYTES], ch[CRYPTO_HASH_BYTES];
    enum st st = crypto_otp_new(code);
    if (st == ST_OK)
        st = crypto_token_new(attempt);
    if (st == ST_OK)
        st = crypto_token_hash(attempt, ah);
    if (st == ST_OK)
        st = crypto_otp_hash(code, purpose, attempt, ch);
    int64_t now = clock_now_ms();
    if (st == ST_OK)
        st = acc_exec(c, NULL,
                      "INSERT INTO otp_attempts (attempt_token_hash, purpose, target_bidx, "
                      "code_hash, channel, user_id, expires_at, tries, created_at, ip) "
                      "VALUES (?, ?, ?, ?, ?, NULLIF(CAST(? AS BIGINT), 0), ?, 0, ?, ?)",
                      "btbbtiiit", ah, sizeof ah, purpose, target, (size_t)CRYPTO_BLIND_BYTES, ch,
                      sizeof ch, channel, user_id, now + ACC_OTP_TTL_MS, now, cl->ip);
    if (st == ST_OK && to) {
        char device[64];
        acc_device_label(cl->user_agent, device, sizeof device);
        char *body =
            i18n_format(cl->lang, msg_key, "code", code, "device", device, (const char *)NULL);
        char tmpl[64];
        snprintf(tmpl, sizeof tmpl, "otp.%s", purpose);
        st = acc_send(c, user_id, channel, to, tmpl, cl->lang,
                      i18n_get(cl->lang, "msg.code.subject"), body);
        sodium_memzero(body, strlen(body));
        free(body);
    }
    sodium_memzero(code, sizeof code);
    return st;
}

static bool purpose_in(const char *p, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(p, *list) == 0)
            return true;
    return false;
}

static bool six_digits(const char *s)
{
    if (!s || strlen(s) != CRYPTO_OTP_DIGITS)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

enum st acc_code_consume(struct db_conn *c, const char *const *purposes, const char *attempt,
                         const char *code, const unsigned char *target, struct acc_code_row *out)
{
    memset(out, 0, sizeof *out);
    if (!crypto_token_parse_ok(attempt))
        return ST_UNAUTHORIZED;
    unsigned char ah[CRYPTO_HASH_BYTES];
    enum st st = crypto_token_hash(attempt, ah);
    if (st != ST_OK)
        return ST_UNAUTHORIZED;
    struct db_stmt *s;
    bool row;
    unsigned char stored[CRYPTO_HASH_BYTES];
    int64_t expires = 0, tries = 0;
    bool used = false;
    st = acc_query(c, &s, &row,
                   "SELECT id, purpose, target_bidx, code_hash, channel, user_id, expires_at, "
                   "used_at, tries FROM otp_attempts WHERE attempt_token_hash = ?",
                   "b", ah, sizeof ah);
    if (st == ST_OK && !row)
        st = ST_UNAUTHORIZED;
    if (st == ST_OK) {
        size_t n1 = 0, n2 = 0;
        const void *t = db_col_blob(s, 2, &n1);
        const void *h = db_col_blob(s, 3, &n2);
        if (n1 != CRYPTO_BLIND_BYTES || n2 != CRYPTO_HASH_BYTES) {
            st = ST_UNAUTHORIZED;
        } else {
            out->id = db_col_int64(s, 0);
            snprintf(out->purpose, sizeof out->purpose, "%s", db_col_text(s, 1));
            memcpy(out->target, t, CRYPTO_BLIND_BYTES);
            memcpy(stored, h, CRYPTO_HASH_BYTES);
            snprintf(out->channel, sizeof out->channel, "%s", db_col_text(s, 4));
            out->user_id = db_col_is_null(s, 5) ? 0 : db_col_int64(s, 5);
            expires = db_col_int64(s, 6);
            used = !db_col_is_null(s, 7);
            tries = db_col_int64(s, 8);
        }
    }
    acc_done(s);
    if (st != ST_OK)
        return st;
    if (used || expires <= clock_now_ms() || tries >= ACC_OTP_MAX_TRIES ||
        !purpose_in(out->purpose, purposes))
        return ST_UNAUTHORIZED;
    unsigned char h[CRYPTO_HASH_BYTES];
    bool ok = six_digits(code) && crypto_otp_hash(code, out->purpose, attempt, h) == ST_OK &&
              crypto_equal(h, stored, sizeof h);
    if (ok && target && !crypto_equal(target, out->target, CRYPTO_BLIND_BYTES))
        ok = false;
    if (!ok) {
        st = acc_exec(c, NULL, "UPDATE otp_attempts SET tries = tries + 1 WHERE id = ?", "i",
                      out->id);
        return st == ST_OK ? ST_UNAUTHORIZED : st;
    }
    int64_t changed = 0;
    st = acc_exec(c, &changed,
                  "UPDATE otp_attempts SET used_at = ? WHERE id = ? AND used_at IS NULL", "ii",
                  clock_now_ms(), out->id);
    if (st == ST_OK && changed != 1)
        st = ST_UNAUTHORIZED;
    return st;
}

/* ---------------------------------------------------------------- public entry points */

static const char *const PUBLIC_PURPOSES[] = {"register", "login", "reset", "unfreeze", NULL};

enum st accounts_code_request(struct db_conn *c, const struct acc_client *cl, const char *purpose,
                              const char *phone, const char *email,
                              char attempt[CRYPTO_TOKEN_CHARS + 1], struct acc_error *err)
{
    if (!purpose || !purpose_in(purpose, PUBLIC_PURPOSES))
        return acc_fail(err, ST_INVALID, "purpose", "choice", NULL);
    if ((phone != NULL) == (email != NULL))
        return acc_fail(err, ST_INVALID, phone ? "email" : "phone", phone ? "one_of" : "required",
                        NULL);
    bool by_email = email != NULL;
    if (by_email && strcmp(purpose, "register") == 0)
        return acc_fail(err, ST_INVALID, "email", "register_by_phone", NULL);
    char norm[256];
    if (by_email ? acc_email_norm(email, norm) != ST_OK : acc_phone_norm(phone, norm) != ST_OK)
        return acc_fail(err, ST_INVALID, by_email ? "email" : "phone",
                        by_email ? "invalid_email" : "invalid_phone", NULL);
    unsigned char bidx[CRYPTO_BLIND_BYTES];
    enum st st = acc_bidx(by_email ? "email" : "phone", norm, bidx);
    if (st != ST_OK)
        return st;
    st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = acc_code_limits(c, cl, bidx, err);
    if (st == ST_RATELIMIT) {
        /* The counters must not move for a refused request: roll back. */
        db_rollback(c);
        return st;
    }
    int64_t uid = 0;
    if (st == ST_OK)
        st = acc_user_by_bidx(c, by_email, bidx, &uid);
    struct acc_user u = {0};
    if (st == ST_OK && uid) {
        st = acc_user_load(c, uid, &u);
        if (st == ST_OK && strcmp(u.status, "closed") == 0)
            uid = 0;
    }
    const char *to = NULL;
    const char *msg = NULL;
    char key[48];
    if (st == ST_OK) {
        if (strcmp(purpose, "register") == 0) {
            to = norm;
            msg = uid ? "msg.code.register_existing" : "msg.code.register";
        } else if (uid) {
            to = norm;
            snprintf(key, sizeof key, "msg.code.%s", purpose);
            msg = key;
        }
        /* Unknown accounts for login/reset/unfreeze: a row, no message. */
    }
    if (st == ST_OK)
        st =
            acc_code_issue(c, cl, purpose, bidx, by_email ? "email" : "sms", uid, to, msg, attempt);
    acc_user_free(&u);
    st = acc_finish(c, st);
    if (st == ST_OK)
        notify_worker_wake();
    sodium_memzero(norm, sizeof norm);
    return st;
}

enum st accounts_me_code_request(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                                 const char *channel, char attempt[CRYPTO_TOKEN_CHARS + 1],
                                 struct acc_error *err)
{
    bool by_email = channel && strcmp(channel, "email") == 0;
    if (channel && !by_email && strcmp(channel, "sms") != 0)
        return acc_fail(err, ST_INVALID, "channel", "choice", NULL);
    char *phone = NULL, *email = NULL;
    enum st st = acc_user_contact(c, user_id, &phone, &email);
    if (st != ST_OK)
        return st;
    const char *to = by_email ? email : phone;
    if (!to) {
        free(phone);
        free(email);
        return acc_fail(err, ST_INVALID, "channel", "no_email", NULL);
    }
    unsigned char bidx[CRYPTO_BLIND_BYTES];
    st = acc_bidx(by_email ? "email" : "phone", to, bidx);
    if (st == ST_OK)
        st = db_begin(c);
    if (st == ST_OK) {
        st = acc_write_limit(c, user_id, "me-codes", ACC_ME_CODES_PER_HOUR, err);
        if (st == ST_OK)
            st = acc_code_limits(c, cl, bidx, err);
        if (st == ST_OK)
            st = acc_code_issue(c, cl, "reauth", bidx, by_email ? "email" : "sms", user_id, to,
                                "msg.code.reauth", attempt);
        st = acc_finish(c, st);
    }
    if (st == ST_OK)
        notify_worker_wake();
    free(phone);
    free(email);
    return st;
}
