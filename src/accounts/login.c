/*
 * login.c — getting in: registration, password and code sign-in, the
 * second step for new devices and networks, unfreezing, password reset and
 * staff sign-in with TOTP.
 *
 * The decision to know: a failed password sign-in costs and says the same
 * whether the account exists or not. An unknown login text still burns one
 * Argon2id verification (password_verify_dummy), is counted by the same
 * throttle (keyed by the login text instead of the account id) and answers
 * with the same problem. Only after the password is right may the answer
 * differ (frozen account, code needed).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts_int.h"

enum login_kind { LK_PHONE, LK_EMAIL, LK_USERNAME, LK_BAD };

/* Works out what a login text is and normalises it into norm ("phone:+86...",
 * "email:a@b.c", "username:li", "bad:..."). */
static enum login_kind classify(const char *login, char *norm, size_t len, char *value, size_t vlen)
{
    char tmp[256];
    enum login_kind k;
    const char *p = login ? login : "";
    while (*p == ' ' || *p == '\t')
        p++;
    if (strchr(p, '@'))
        k = acc_email_norm(p, tmp) == ST_OK ? LK_EMAIL : LK_BAD;
    else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
        k = acc_username_norm(p, tmp) == ST_OK ? LK_USERNAME : LK_BAD;
    else
        k = acc_phone_norm(p, tmp) == ST_OK ? LK_PHONE : LK_BAD;
    if (k == LK_BAD)
        snprintf(tmp, sizeof tmp, "%.200s", p);
    static const char *const prefix[] = {"phone", "email", "username", "bad"};
    snprintf(norm, len, "%s:%s", prefix[k], tmp);
    snprintf(value, vlen, "%s", tmp);
    sodium_memzero(tmp, sizeof tmp);
    return k;
}

/* The account a login text names; 0 when none (or closed). */
static enum st find_login(struct db_conn *c, enum login_kind k, const char *value, int64_t *uid)
{
    *uid = 0;
    unsigned char bidx[CRYPTO_BLIND_BYTES];
    enum st st = ST_OK;
    switch (k) {
    case LK_PHONE:
    case LK_EMAIL:
        st = acc_bidx(k == LK_EMAIL ? "email" : "phone", value, bidx);
        if (st == ST_OK)
            st = acc_user_by_bidx(c, k == LK_EMAIL, bidx, uid);
        break;
    case LK_USERNAME:
        st = acc_user_by_username(c, value, uid);
        break;
    case LK_BAD:
        break;
    }
    return st;
}

static enum st check_password(const char *field, const char *pw, struct acc_error *err)
{
    const char *reason = NULL;
    if (password_check_policy(pw, &reason) == ST_OK)
        return ST_OK;
    if (err) {
        err->field = field;
        err->min = PASSWORD_MIN_CHARS;
        err->max = PASSWORD_MAX_CHARS;
        err->code = !reason                            ? "invalid"
                    : strcmp(reason, "too_short") == 0 ? "too_short"
                    : strcmp(reason, "too_long") == 0  ? "too_long"
                    : strcmp(reason, "common") == 0    ? "password_common"
                                                       : "utf8";
    }
    return ST_INVALID;
}

static enum st code_failed(struct db_conn *c, enum st st, struct acc_error *err)
{
    /* A wrong code counts a try: keep it. */
    if (st == ST_UNAUTHORIZED) {
        enum st cs = db_commit(c);
        if (cs != ST_OK)
            return cs;
        return acc_fail(err, ST_UNAUTHORIZED, NULL, NULL, "accounts.code_invalid");
    }
    db_rollback(c);
    return st;
}

/* ---------------------------------------------------------------- register */

enum st accounts_register(struct db_conn *c, const struct acc_client *cl,
                          const struct acc_register *r, struct acc_login *out,
                          struct acc_error *err)
{
    memset(out, 0, sizeof *out);
    char phone[24], username[ACC_USERNAME_MAX + 1] = "";
    if (acc_phone_norm(r->phone, phone) != ST_OK)
        return acc_fail(err, ST_INVALID, "phone", "invalid_phone", NULL);
    const char *type = r->account_type ? r->account_type : "individual";
    if (strcmp(type, "individual") != 0 && strcmp(type, "enterprise") != 0)
        return acc_fail(err, ST_INVALID, "account_type", "choice", NULL);
    if (r->username && acc_username_norm(r->username, username) != ST_OK)
        return acc_fail(err, ST_INVALID, "username", "invalid_username", NULL);
    if (r->password && check_password("password", r->password, err) != ST_OK)
        return ST_INVALID;
    const char *lang = r->lang ? i18n_match(r->lang, strlen(r->lang)) : NULL;
    unsigned char bidx[CRYPTO_BLIND_BYTES];
    enum st st = acc_bidx("phone", phone, bidx);
    if (st != ST_OK)
        return st;
    char hash[PASSWORD_HASH_BYTES] = "";
    if (r->password && (st = password_hash(r->password, hash)) != ST_OK)
        return st;

    st = db_begin(c);
    if (st != ST_OK)
        return st;
    static const char *const purposes[] = {"register", NULL};
    struct acc_code_row row;
    st = acc_code_consume(c, purposes, r->attempt, r->code, bidx, &row);
    if (st != ST_OK) {
        sodium_memzero(hash, sizeof hash);
        return code_failed(c, st, err);
    }
    int64_t uid = 0;
    st = acc_user_by_bidx(c, false, bidx, &uid);
    if (st == ST_OK && uid) {
        /* The code proves the number is theirs: sign in to that account. */
        struct acc_user u;
        st = acc_user_load(c, uid, &u);
        if (st == ST_OK && strcmp(u.status, "active") != 0) {
            acc_user_free(&u);
            sodium_memzero(hash, sizeof hash);
            st = db_commit(c);
            return st != ST_OK ? st : acc_fail(err, ST_FORBIDDEN, NULL, NULL, "accounts.frozen");
        }
        acc_user_free(&u);
        out->existing = true;
        if (st == ST_OK)
            st = acc_signin(c, cl, uid, "code", r->remember, r->bearer, false, &out->session);
    } else if (st == ST_OK) {
        int64_t other = 0;
        if (username[0])
            st = acc_user_by_username(c, username, &other);
        if (st == ST_OK && other) {
            db_rollback(c);
            sodium_memzero(hash, sizeof hash);
            return acc_fail(err, ST_CONFLICT, "username", "taken", "accounts.username_taken");
        }
        int64_t now = clock_now_ms();
        if (st == ST_OK)
            st = acc_query_int(c, &uid,
                               "INSERT INTO users (account_type, status, username, display_name, "
                               "password_hash, phone_bidx, public_fields, lang, created_at, "
                               "updated_at) VALUES (?, 'active', ?, ?, ?, ?, '[]', ?, ?, ?) "
                               "RETURNING id",
                               "ttttbtii", type, username[0] ? username : NULL,
                               r->display_name ? r->display_name : "", hash[0] ? hash : NULL, bidx,
                               sizeof bidx, lang, now, now);
        unsigned char dk[CRYPTO_DATAKEY_BYTES];
        unsigned char *wrapped = NULL, *sealed = NULL;
        size_t wlen = 0, slen = 0;
        if (st == ST_OK)
            st = crypto_datakey_new(uid, dk, &wrapped, &wlen);
        if (st == ST_OK)
            st = acc_exec(c, NULL, "INSERT INTO user_keys (user_id, wrapped_key) VALUES (?, ?)",
                          "ib", uid, wrapped, wlen);
        if (st == ST_OK)
            st = acc_seal(dk, uid, "users.phone", phone, &sealed, &slen);
        if (st == ST_OK)
            st = acc_exec(c, NULL, "UPDATE users SET phone_enc = ? WHERE id = ?", "bi", sealed,
                          slen, uid);
        sodium_memzero(dk, sizeof dk);
        free(wrapped);
        free(sealed);
        if (st == ST_OK) {
            char detail[64];
            snprintf(detail, sizeof detail, "{\"account_type\":\"%s\"}", type);
            st = acc_audit(c, cl, uid, "user", "security.register", uid, detail);
        }
        if (st == ST_OK)
            st = acc_signin(c, cl, uid, "register", r->remember, r->bearer, false, &out->session);
        if (st == ST_CONFLICT && username[0]) /* a concurrent registration took it */
            acc_fail(err, ST_CONFLICT, "username", "taken", "accounts.username_taken");
    }
    sodium_memzero(hash, sizeof hash);
    st = acc_finish(c, st);
    if (st == ST_OK) {
        out->done = true;
        notify_worker_wake();
    }
    return st;
}

/* ---------------------------------------------------------------- password sign-in */

enum st accounts_login_password(struct db_conn *c, const struct acc_client *cl, const char *login,
                                const char *password, bool remember, bool bearer,
                                struct acc_login *out, struct acc_error *err)
{
    memset(out, 0, sizeof *out);
    char norm[300], value[256];
    enum login_kind k = classify(login, norm, sizeof norm, value, sizeof value);
    int64_t uid = 0;
    enum st st = find_login(c, k, value, &uid);
    struct acc_user u = {0};
    if (st == ST_OK && uid) {
        st = acc_user_load(c, uid, &u);
        if (st == ST_OK && strcmp(u.status, "closed") == 0)
            uid = 0;
    }
    if (st != ST_OK) {
        acc_user_free(&u);
        return st;
    }
    unsigned char ka[CRYPTO_BLIND_BYTES], ki[CRYPTO_BLIND_BYTES];
    acc_pw_keys(uid, norm, cl->ip, ka, ki);
    st = acc_pw_throttled(c, ka, ki, err);
    if (st != ST_OK) {
        acc_user_free(&u);
        return st;
    }
    bool ok;
    if (uid && u.password_hash)
        ok = password_verify(u.password_hash, password);
    else
        ok = password_verify_dummy(password);
    char rehash[PASSWORD_HASH_BYTES] = "";
    if (ok && password_needs_rehash(u.password_hash))
        password_hash(password, rehash);

    st = db_begin(c);
    if (st != ST_OK) {
        acc_user_free(&u);
        return st;
    }
    if (!ok) {
        st = acc_throttle_fail(c, ka);
        if (st == ST_OK)
            st = acc_throttle_fail(c, ki);
        if (st == ST_OK)
            st = acc_audit(c, cl, 0, "anonymous", "security.login_failed", uid, NULL);
        acc_user_free(&u);
        st = acc_finish(c, st);
        return st != ST_OK ? st
                           : acc_fail(err, ST_UNAUTHORIZED, NULL, NULL, "accounts.login_failed");
    }
    st = acc_throttle_clear(c, ka);
    if (st == ST_OK && rehash[0])
        st =
            acc_exec(c, NULL, "UPDATE users SET password_hash = ? WHERE id = ?", "ti", rehash, uid);
    if (st == ST_OK && strcmp(u.status, "active") != 0) {
        st = acc_audit(c, cl, uid, "user", "security.login_refused_frozen", uid, NULL);
        acc_user_free(&u);
        st = acc_finish(c, st);
        return st != ST_OK ? st : acc_fail(err, ST_FORBIDDEN, NULL, NULL, "accounts.frozen");
    }
    acc_user_free(&u);
    int64_t device_id = 0;
    bool net_known = false;
    if (st == ST_OK)
        st = acc_device_find(c, cl, uid, &device_id);
    if (st == ST_OK)
        st = acc_network_known(c, cl, uid, &net_known);
    if (st == ST_OK && device_id && net_known) {
        st = acc_signin(c, cl, uid, "password", remember, bearer, false, &out->session);
        if (st == ST_OK)
            out->done = true;
    } else if (st == ST_OK) {
        /* New device or network: the password is not enough. */
        char *phone = NULL;
        unsigned char bidx[CRYPTO_BLIND_BYTES];
        st = acc_user_contact(c, uid, &phone, NULL);
        if (st == ST_OK && !phone)
            st = ST_INTERNAL;
        if (st == ST_OK)
            st = acc_bidx("phone", phone, bidx);
        if (st == ST_OK)
            st = acc_code_limits(c, cl, bidx, err);
        if (st == ST_OK)
            st = acc_code_issue(c, cl, "login_2fa", bidx, "sms", uid, phone, "msg.code.login_2fa",
                                out->attempt);
        if (st == ST_OK) {
            acc_mask_phone(phone, out->sent_to, sizeof out->sent_to);
            char detail[64];
            snprintf(detail, sizeof detail, "{\"new_device\":%s,\"new_network\":%s}",
                     device_id ? "false" : "true", net_known ? "false" : "true");
            st = acc_audit(c, cl, uid, "user", "security.login_challenge", uid, detail);
        }
        free(phone);
    }
    sodium_memzero(rehash, sizeof rehash);
    st = acc_finish(c, st);
    if (st == ST_OK)
        notify_worker_wake();
    return st;
}

/* ---------------------------------------------------------------- code sign-in */

/* The account a code row is for: its user_id, else the owner of its target. */
static enum st row_user(struct db_conn *c, const struct acc_code_row *row, int64_t *uid)
{
    *uid = row->user_id;
    enum st st = ST_OK;
    if (!*uid)
        st = acc_user_by_bidx(c, strcmp(row->channel, "email") == 0, row->target, uid);
    return st;
}

/* Signs in with a consumed code row: the account must be active. */
static enum st code_signin(struct db_conn *c, const struct acc_client *cl, int64_t uid,
                           const char *method, bool remember, bool bearer, struct acc_login *out,
                           struct acc_error *err)
{
    struct acc_user u;
    enum st st = acc_user_load(c, uid, &u);
    if (st == ST_NOTFOUND)
        return ST_UNAUTHORIZED;
    if (st != ST_OK)
        return st;
    bool active = strcmp(u.status, "active") == 0;
    bool closed = strcmp(u.status, "closed") == 0;
    acc_user_free(&u);
    if (closed)
        return ST_UNAUTHORIZED;
    if (!active) {
        acc_fail(err, ST_FORBIDDEN, NULL, NULL, "accounts.frozen");
        return ST_FORBIDDEN;
    }
    st = acc_signin(c, cl, uid, method, remember, bearer, false, &out->session);
    if (st == ST_OK)
        out->done = true;
    return st;
}

enum st accounts_login_verify(struct db_conn *c, const struct acc_client *cl, const char *attempt,
                              const char *code, bool remember, bool bearer, struct acc_login *out,
                              struct acc_error *err)
{
    memset(out, 0, sizeof *out);
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    static const char *const purposes[] = {"login", "login_2fa", NULL};
    struct acc_code_row row;
    st = acc_code_consume(c, purposes, attempt, code, NULL, &row);
    if (st != ST_OK)
        return code_failed(c, st, err);
    int64_t uid = 0;
    st = row_user(c, &row, &uid);
    if (st == ST_OK && !uid)
        st = ST_UNAUTHORIZED;
    if (st == ST_OK)
        st = code_signin(c, cl, uid,
                         strcmp(row.purpose, "login_2fa") == 0 ? "password+code" : "code", remember,
                         bearer, out, err);
    if (st == ST_FORBIDDEN || st == ST_UNAUTHORIZED) {
        /* The code is used up either way. */
        enum st cs = db_commit(c);
        if (cs != ST_OK)
            return cs;
        if (st == ST_UNAUTHORIZED)
            acc_fail(err, st, NULL, NULL, "accounts.code_invalid");
        return st;
    }
    st = acc_finish(c, st);
    if (st == ST_OK)
        notify_worker_wake();
    return st;
}

enum st accounts_unfreeze(struct db_conn *c, const struct acc_client *cl, const char *attempt,
                          const char *code, bool remember, bool bearer, struct acc_login *out,
                          struct acc_error *err)
{
    memset(out, 0, sizeof *out);
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    static const char *const purposes[] = {"unfreeze", NULL};
    struct acc_code_row row;
    st = acc_code_consume(c, purposes, attempt, code, NULL, &row);
    if (st != ST_OK)
        return code_failed(c, st, err);
    int64_t uid = 0, n = 0;
    st = row_user(c, &row, &uid);
    if (st == ST_OK && !uid)
        st = ST_UNAUTHORIZED;
    if (st == ST_OK)
        st = acc_exec(c, &n,
                      "UPDATE users SET status = 'active', updated_at = ? WHERE id = ? AND "
                      "status = 'frozen'",
                      "ii", clock_now_ms(), uid);
    if (st == ST_OK && n == 1) {
        st = acc_audit(c, cl, uid, "user", "security.account_unfrozen", uid, NULL);
        if (st == ST_OK)
            st = acc_notice(c, cl, uid, "msg.notice.unfrozen");
    }
    if (st == ST_OK)
        st = code_signin(c, cl, uid, "code", remember, bearer, out, err);
    if (st == ST_UNAUTHORIZED) {
        enum st cs = db_commit(c);
        return cs != ST_OK ? cs
                           : acc_fail(err, ST_UNAUTHORIZED, NULL, NULL, "accounts.code_invalid");
    }
    st = acc_finish(c, st);
    if (st == ST_OK)
        notify_worker_wake();
    return st;
}

enum st accounts_password_reset(struct db_conn *c, const struct acc_client *cl, const char *attempt,
                                const char *code, const char *new_password, struct acc_error *err)
{
    if (check_password("new_password", new_password, err) != ST_OK)
        return ST_INVALID;
    char hash[PASSWORD_HASH_BYTES];
    enum st st = password_hash(new_password, hash);
    if (st != ST_OK)
        return st;
    st = db_begin(c);
    if (st != ST_OK)
        return st;
    static const char *const purposes[] = {"reset", NULL};
    struct acc_code_row row;
    st = acc_code_consume(c, purposes, attempt, code, NULL, &row);
    if (st != ST_OK) {
        sodium_memzero(hash, sizeof hash);
        return code_failed(c, st, err);
    }
    int64_t uid = 0;
    st = row_user(c, &row, &uid);
    if (st == ST_OK && !uid) {
        sodium_memzero(hash, sizeof hash);
        return code_failed(c, ST_UNAUTHORIZED, err);
    }
    if (st == ST_OK)
        st = acc_exec(c, NULL, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
                      "tii", hash, clock_now_ms(), uid);
    if (st == ST_OK)
        st = acc_sessions_revoke_all(c, uid, 0);
    if (st == ST_OK)
        st = acc_audit(c, cl, uid, "user", "security.password_reset", uid, NULL);
    if (st == ST_OK)
        st = acc_notice(c, cl, uid, "msg.notice.password_reset");
    sodium_memzero(hash, sizeof hash);
    st = acc_finish(c, st);
    acc_session_cache_forget(uid, 0);
    if (st == ST_OK)
        notify_worker_wake();
    return st;
}

/* ---------------------------------------------------------------- staff */

/* The user's TOTP secret, decrypted; caller wipes and frees. */
static enum st totp_secret(struct db_conn *c, int64_t uid, char **out)
{
    *out = NULL;
    unsigned char dk[CRYPTO_DATAKEY_BYTES];
    enum st st = acc_user_dk(c, uid, dk);
    if (st != ST_OK)
        return st;
    struct db_stmt *s;
    bool row;
    st = acc_query(c, &s, &row, "SELECT totp_secret_enc FROM users WHERE id = ?", "i", uid);
    if (st == ST_OK && (!row || db_col_is_null(s, 0)))
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        size_t n = 0, ptlen = 0;
        const void *b = db_col_blob(s, 0, &n);
        unsigned char *pt = NULL;
        st = crypto_field_open(dk, uid, "users.totp_secret", b, n, &pt, &ptlen);
        if (st == ST_OK) {
            *out = xstrndup((const char *)pt, ptlen);
            crypto_free_secret(pt, ptlen);
        } else {
            st = ST_INTERNAL;
        }
    }
    acc_done(s);
    sodium_memzero(dk, sizeof dk);
    return st;
}

enum st accounts_staff_login(struct db_conn *c, const struct acc_client *cl, const char *login,
                             const char *password, const char *totp, bool bearer,
                             struct acc_login *out, struct acc_error *err)
{
    memset(out, 0, sizeof *out);
    char norm[300], value[256];
    enum login_kind k = classify(login, norm, sizeof norm, value, sizeof value);
    int64_t uid = 0;
    enum st st = find_login(c, k, value, &uid);
    struct acc_user u = {0};
    if (st == ST_OK && uid)
        st = acc_user_load(c, uid, &u);
    if (st != ST_OK) {
        acc_user_free(&u);
        return st;
    }
    unsigned char ka[CRYPTO_BLIND_BYTES], ki[CRYPTO_BLIND_BYTES];
    acc_pw_keys(uid, norm, cl->ip, ka, ki);
    st = acc_pw_throttled(c, ka, ki, err);
    if (st != ST_OK) {
        acc_user_free(&u);
        return st;
    }
    bool staff =
        uid && u.staff_roles && u.has_totp && u.password_hash && strcmp(u.status, "active") == 0;
    bool ok = staff ? password_verify(u.password_hash, password) : password_verify_dummy(password);
    int64_t step = 0;
    if (ok) {
        char *secret = NULL;
        st = totp_secret(c, uid, &secret);
        if (st != ST_OK) {
            acc_user_free(&u);
            return st;
        }
        ok =
            totp_verify(secret, totp, clock_now_ms(), 1, &step) == ST_OK && step > u.totp_last_step;
        sodium_memzero(secret, strlen(secret));
        free(secret);
    }
    acc_user_free(&u);
    st = db_begin(c);
    if (st != ST_OK)
        return st;
    int64_t n = 0;
    if (ok) {
        /* Only a step newer than the last one used: a replayed code fails,
         * also against a concurrent sign-in with the same code. */
        st = acc_exec(c, &n,
                      "UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?",
                      "iii", step, uid, step);
        ok = st == ST_OK && n == 1;
    }
    if (st == ST_OK && !ok) {
        st = acc_throttle_fail(c, ka);
        if (st == ST_OK)
            st = acc_throttle_fail(c, ki);
        if (st == ST_OK)
            st = acc_audit(c, cl, 0, "anonymous", "security.staff_login_failed", uid, NULL);
        st = acc_finish(c, st);
        return st != ST_OK
                   ? st
                   : acc_fail(err, ST_UNAUTHORIZED, NULL, NULL, "accounts.staff_login_failed");
    }
    if (st == ST_OK)
        st = acc_throttle_clear(c, ka);
    if (st == ST_OK)
        st = acc_signin(c, cl, uid, "password+totp", false, bearer, true, &out->session);
    st = acc_finish(c, st);
    if (st == ST_OK) {
        out->done = true;
        notify_worker_wake();
    }
    return st;
}
