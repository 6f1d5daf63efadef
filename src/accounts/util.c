/*
 * util.c — the plumbing of the accounts module: options, SQL helpers,
 * users' sealed fields, normalised identifiers, rate-limit counters and
 * the wrappers around the outbox and the audit log.
 *
 * The one decision to know: rate-limit counters are keyed by a keyed hash
 * of what they count (an address, an account, a login text), never by the
 * value itself, so the counter table holds no personal data in clear.
 */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts_int.h"

struct accounts_options acc_opt = {
    .idle_ms = 30LL * 60 * 1000,
    .absolute_ms = 12LL * 3600 * 1000,
    .remember_idle_ms = 30LL * 86400 * 1000,
    .remember_absolute_ms = 90LL * 86400 * 1000,
    .staff_idle_ms = 15LL * 60 * 1000,
    .staff_absolute_ms = 8LL * 3600 * 1000,
    .default_cc = "86",
};

void accounts_options_default(struct accounts_options *o)
{
    const int64_t minute = 60 * 1000, hour = 60 * minute, day = 24 * hour;
    o->idle_ms = config_int("session_idle_minutes") * minute;
    o->absolute_ms = config_int("session_absolute_hours") * hour;
    o->remember_idle_ms = config_int("session_remember_days") * day;
    o->remember_absolute_ms = config_int("session_remember_absolute_days") * day;
    o->staff_idle_ms = config_int("staff_session_idle_minutes") * minute;
    o->staff_absolute_ms = config_int("staff_session_absolute_hours") * hour;
    o->default_cc = "86";
}

void accounts_configure(const struct accounts_options *o)
{
    static char cc[8];
    acc_opt = *o;
    snprintf(cc, sizeof cc, "%s", o->default_cc && *o->default_cc ? o->default_cc : "86");
    acc_opt.default_cc = cc;
    if (acc_images_init() != ST_OK)
        log_kv(LOG_ERROR, "the image library did not start: avatar uploads will fail",
               (const char *)NULL);
}

/* ---------------------------------------------------------------- SQL */

void acc_done(struct db_stmt *s)
{
    if (s)
        db_stmt_done(s);
}

enum st acc_finish(struct db_conn *c, enum st s)
{
    if (s != ST_OK) {
        db_rollback(c);
        return s;
    }
    return db_commit(c);
}

enum st acc_fail(struct acc_error *err, enum st s, const char *field, const char *code,
                 const char *detail)
{
    if (err) {
        err->field = field;
        err->code = code;
        err->detail = detail;
    }
    return s;
}

/* ---------------------------------------------------------------- users */

enum st acc_user_load(struct db_conn *c, int64_t id, struct acc_user *u)
{
    memset(u, 0, sizeof *u);
    struct db_stmt *s;
    bool row;
    enum st st = acc_query(c, &s, &row,
                           "SELECT id, status, password_hash, staff_roles, totp_secret_enc, "
                           "totp_last_step, email_bidx, lang FROM users WHERE id = ?",
                           "i", id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        u->id = db_col_int64(s, 0);
        snprintf(u->status, sizeof u->status, "%s", db_col_text(s, 1) ? db_col_text(s, 1) : "");
        if (!db_col_is_null(s, 2))
            u->password_hash = xstrdup(db_col_text(s, 2));
        u->staff_roles = (unsigned)db_col_int64(s, 3) & ACC_ROLES_ALL;
        u->has_totp = !db_col_is_null(s, 4);
        u->totp_last_step = db_col_int64(s, 5);
        u->has_email = !db_col_is_null(s, 6);
        snprintf(u->lang, sizeof u->lang, "%s", db_col_is_null(s, 7) ? "" : db_col_text(s, 7));
    }
    acc_done(s);
    return st;
}

void acc_user_free(struct acc_user *u)
{
    if (u->password_hash) {
        sodium_memzero(u->password_hash, strlen(u->password_hash));
        free(u->password_hash);
    }
    u->password_hash = NULL;
}

enum st acc_user_by_bidx(struct db_conn *c, bool email,
                         const unsigned char bidx[CRYPTO_BLIND_BYTES], int64_t *id)
{
    *id = 0;
    enum st st = acc_query_int(c, id,
                               email ? "SELECT id FROM users WHERE email_bidx = ?"
                                     : "SELECT id FROM users WHERE phone_bidx = ?",
                               "b", bidx, (size_t)CRYPTO_BLIND_BYTES);
    if (st == ST_NOTFOUND) {
        *id = 0;
        st = ST_OK;
    }
    return st;
}

enum st acc_user_by_username(struct db_conn *c, const char *username, int64_t *id)
{
    *id = 0;
    enum st st = acc_query_int(c, id, "SELECT id FROM users WHERE username = ?", "t", username);
    if (st == ST_NOTFOUND) {
        *id = 0;
        st = ST_OK;
    }
    return st;
}

enum st acc_dk_from_row(struct db_stmt *s, int col, int64_t user_id,
                        unsigned char dk[CRYPTO_DATAKEY_BYTES])
{
    if (db_col_is_null(s, col))
        return ST_INTERNAL;
    size_t n = 0;
    const void *w = db_col_blob(s, col, &n);
    enum st st = crypto_datakey_unwrap(user_id, w, n, dk);
    if (st != ST_OK) {
        log_kv(LOG_ERROR, "cannot unwrap a user's data key", "status", st_name(st),
               (const char *)NULL);
        st = ST_INTERNAL;
    }
    return st;
}

enum st acc_user_dk(struct db_conn *c, int64_t user_id, unsigned char dk[CRYPTO_DATAKEY_BYTES])
{
    struct db_stmt *s;
    bool row;
    enum st st =
        acc_query(c, &s, &row, "SELECT wrapped_key FROM user_keys WHERE user_id = ?", "i", user_id);
    if (st == ST_OK)
        st = row ? acc_dk_from_row(s, 0, user_id, dk) : ST_INTERNAL;
    acc_done(s);
    return st;
}

static char *open_text(const unsigned char dk[CRYPTO_DATAKEY_BYTES], int64_t uid,
                       const char *column, const void *blob, size_t n, enum st *st)
{
    unsigned char *pt = NULL;
    size_t ptlen = 0;
    *st = crypto_field_open(dk, uid, column, blob, n, &pt, &ptlen);
    if (*st != ST_OK) {
        log_kv(LOG_ERROR, "cannot open a sealed field", "column", column, "status", st_name(*st),
               (const char *)NULL);
        *st = ST_INTERNAL;
        return NULL;
    }
    char *out = xstrndup((const char *)pt, ptlen);
    crypto_free_secret(pt, ptlen);
    return out;
}

enum st acc_contact_from_row(struct db_stmt *s, int col, int64_t user_id, char **phone,
                             char **email)
{
    if (phone)
        *phone = NULL;
    if (email)
        *email = NULL;
    unsigned char dk[CRYPTO_DATAKEY_BYTES];
    enum st st = acc_dk_from_row(s, col, user_id, dk);
    size_t n;
    if (st == ST_OK && phone && !db_col_is_null(s, col + 1)) {
        const void *b = db_col_blob(s, col + 1, &n);
        *phone = open_text(dk, user_id, "users.phone", b, n, &st);
    }
    if (st == ST_OK && email && !db_col_is_null(s, col + 2)) {
        const void *b = db_col_blob(s, col + 2, &n);
        *email = open_text(dk, user_id, "users.email", b, n, &st);
    }
    sodium_memzero(dk, sizeof dk);
    if (st != ST_OK) {
        if (phone) {
            free(*phone);
            *phone = NULL;
        }
        if (email) {
            free(*email);
            *email = NULL;
        }
    }
    return st;
}

enum st acc_user_contact(struct db_conn *c, int64_t user_id, char **phone, char **email)
{
    struct db_stmt *s;
    bool row;
    enum st st = acc_query(
        c, &s, &row, "SELECT " ACC_CONTACT_COLUMNS " FROM users u WHERE u.id = ?", "i", user_id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK)
        st = acc_contact_from_row(s, 0, user_id, phone, email);
    acc_done(s);
    return st;
}

enum st acc_seal(const unsigned char dk[CRYPTO_DATAKEY_BYTES], int64_t user_id, const char *column,
                 const char *text, unsigned char **out, size_t *outlen)
{
    return crypto_field_seal(dk, user_id, column, text, strlen(text), out, outlen);
}

/* ---------------------------------------------------------------- identifiers */

enum st acc_phone_norm(const char *in, char out[24])
{
    if (!in)
        return ST_INVALID;
    return crypto_normalize_phone(in, acc_opt.default_cc, out, 24) == ST_OK ? ST_OK : ST_INVALID;
}

enum st acc_email_norm(const char *in, char out[256])
{
    if (!in)
        return ST_INVALID;
    if (crypto_normalize_email(in, out, 256) != ST_OK)
        return ST_INVALID;
    /* The outbox takes ASCII addresses only (notify.h): refuse the others
     * here, where the user can be told. */
    for (const char *p = out; *p; p++)
        if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x21)
            return ST_INVALID;
    const char *at = strrchr(out, '@');
    if (!at || !strchr(at, '.') || at[1] == '.' || out[strlen(out) - 1] == '.')
        return ST_INVALID;
    return ST_OK;
}

enum st acc_bidx(const char *domain, const char *normalized, unsigned char out[CRYPTO_BLIND_BYTES])
{
    return crypto_blind_index(domain, normalized, out);
}

enum st acc_username_norm(const char *in, char out[ACC_USERNAME_MAX + 1])
{
    if (!in)
        return ST_INVALID;
    size_t n = strlen(in);
    if (n < ACC_USERNAME_MIN || n > ACC_USERNAME_MAX)
        return ST_INVALID;
    for (size_t i = 0; i < n; i++) {
        char ch = in[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        bool ok = (ch >= 'a' && ch <= 'z') ||
                  (i > 0 && ((ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'));
        if (!ok)
            return ST_INVALID;
        out[i] = ch;
    }
    out[n] = '\0';
    return ST_OK;
}

void acc_mask_phone(const char *e164, char *out, size_t len)
{
    size_t n = strlen(e164);
    if (n < 8) {
        snprintf(out, len, "****");
        return;
    }
    size_t head = n >= 12 ? 6 : 3; /* '+' and country code plus a little */
    size_t tail = n >= 12 ? 4 : 2;
    snprintf(out, len, "%.*s****%s", (int)head, e164, e164 + n - tail);
}

void acc_mask_email(const char *email, char *out, size_t len)
{
    const char *at = strrchr(email, '@');
    if (!at || at == email) {
        snprintf(out, len, "***");
        return;
    }
    snprintf(out, len, "%c***%s", email[0], at);
}

/* ---------------------------------------------------------------- limits */

void acc_limit_key(const char *kind, const char *value, unsigned char out[CRYPTO_BLIND_BYTES])
{
    char *v = xasprintf("%s:%s", kind, value ? value : "");
    if (crypto_blind_index("ratelimit", v, out) != ST_OK)
        crypto_generichash(out, CRYPTO_BLIND_BYTES, (const unsigned char *)v, strlen(v), NULL, 0);
    free(v);
}

struct counter {
    bool found;
    int64_t window_start, count, last_at;
};

static enum st counter_read(struct db_conn *c, const unsigned char key[CRYPTO_BLIND_BYTES],
                            struct counter *out)
{
    memset(out, 0, sizeof *out);
    struct db_stmt *s;
    bool row;
    enum st st = acc_query(
        c, &s, &row, "SELECT window_start, count, last_at FROM rate_limits WHERE key_hash = ?", "b",
        key, (size_t)CRYPTO_BLIND_BYTES);
    if (st == ST_OK && row) {
        out->found = true;
        out->window_start = db_col_int64(s, 0);
        out->count = db_col_int64(s, 1);
        out->last_at = db_col_int64(s, 2);
    }
    acc_done(s);
    return st;
}

/* Counts one event: a new window starts when the current one (window_ms
 * long) is over. */
static enum st counter_bump(struct db_conn *c, const unsigned char key[CRYPTO_BLIND_BYTES],
                            int64_t window_ms)
{
    int64_t now = clock_now_ms();
    int64_t stale = now - window_ms;
    return acc_exec(c, NULL,
                    "INSERT INTO rate_limits (key_hash, window_start, count, last_at) "
                    "VALUES (?, ?, 1, ?) ON CONFLICT (key_hash) DO UPDATE SET "
                    "count = CASE WHEN rate_limits.window_start <= ? THEN 1 "
                    "ELSE rate_limits.count + 1 END, "
                    "window_start = CASE WHEN rate_limits.window_start <= ? THEN ? "
                    "ELSE rate_limits.window_start END, "
                    "last_at = ?",
                    "biiiiii", key, (size_t)CRYPTO_BLIND_BYTES, now, now, stale, stale, now, now);
}

/* Old counters go now and then (one call in 128), so the table stays the
 * size of the last day's activity. */
static void counters_prune(struct db_conn *c)
{
    static _Atomic unsigned calls;
    if ((calls++ & 127u) != 0)
        return;
    int64_t now = clock_now_ms();
    acc_exec(c, NULL, "DELETE FROM rate_limits WHERE last_at < ?", "i", now - 2 * ACC_HOUR_MS);
    acc_exec(c, NULL, "DELETE FROM otp_attempts WHERE expires_at < ?", "i", now - 86400000LL);
}

enum st acc_limit_hit(struct db_conn *c, const unsigned char key[CRYPTO_BLIND_BYTES],
                      int64_t window_ms, int64_t limit, int64_t *retry_ms)
{
    struct counter k;
    enum st st = counter_read(c, key, &k);
    if (st != ST_OK)
        return st;
    int64_t now = clock_now_ms();
    if (k.found && k.window_start > now - window_ms && k.count >= limit) {
        *retry_ms = k.window_start + window_ms - now;
        return ST_RATELIMIT;
    }
    counters_prune(c);
    return counter_bump(c, key, window_ms);
}

enum st acc_write_limit(struct db_conn *c, int64_t user_id, const char *kind, int64_t limit,
                        struct acc_error *err)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)user_id);
    unsigned char key[CRYPTO_BLIND_BYTES];
    acc_limit_key(kind, id, key);
    int64_t retry = 0;
    enum st st = acc_limit_hit(c, key, ACC_HOUR_MS, limit, &retry);
    if (st == ST_RATELIMIT && err) {
        err->retry_after_ms = retry;
        err->detail = "accounts.writes_limited";
    }
    return st;
}

enum st acc_throttle_check(struct db_conn *c, const unsigned char key[CRYPTO_BLIND_BYTES],
                           int64_t free_failures, int64_t max_hour, int64_t *retry_ms)
{
    struct counter k;
    enum st st = counter_read(c, key, &k);
    if (st != ST_OK || !k.found)
        return st;
    int64_t now = clock_now_ms();
    if (k.window_start <= now - ACC_HOUR_MS)
        return ST_OK; /* the window is over */
    if (k.count >= max_hour) {
        *retry_ms = k.window_start + ACC_HOUR_MS - now;
        return ST_RATELIMIT;
    }
    if (k.count >= free_failures) {
        int64_t over = k.count - free_failures;
        int64_t delay_s = over >= 5 ? ACC_PW_DELAY_CAP_S : (int64_t)1 << over;
        if (delay_s > ACC_PW_DELAY_CAP_S)
            delay_s = ACC_PW_DELAY_CAP_S;
        int64_t until = k.last_at + delay_s * 1000;
        if (now < until) {
            *retry_ms = until - now;
            return ST_RATELIMIT;
        }
    }
    return ST_OK;
}

enum st acc_throttle_fail(struct db_conn *c, const unsigned char key[CRYPTO_BLIND_BYTES])
{
    counters_prune(c);
    return counter_bump(c, key, ACC_HOUR_MS);
}

enum st acc_throttle_clear(struct db_conn *c, const unsigned char key[CRYPTO_BLIND_BYTES])
{
    return acc_exec(c, NULL, "DELETE FROM rate_limits WHERE key_hash = ?", "b", key,
                    (size_t)CRYPTO_BLIND_BYTES);
}

enum st accounts_rate_limits_reset(struct db_conn *c, int64_t *cleared)
{
    return acc_exec(c, cleared, "DELETE FROM rate_limits", "");
}

void acc_pw_keys(int64_t user_id, const char *login_norm, const char *ip,
                 unsigned char acct[CRYPTO_BLIND_BYTES], unsigned char ipk[CRYPTO_BLIND_BYTES])
{
    if (user_id > 0) {
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long)user_id);
        acc_limit_key("pw-acct", id, acct);
    } else {
        acc_limit_key("pw-login", login_norm, acct);
    }
    acc_limit_key("pw-ip", ip, ipk);
}

enum st acc_pw_throttled(struct db_conn *c, const unsigned char acct[CRYPTO_BLIND_BYTES],
                         const unsigned char ipk[CRYPTO_BLIND_BYTES], struct acc_error *err)
{
    int64_t r1 = 0, r2 = 0;
    enum st s1 = acc_throttle_check(c, acct, ACC_PW_ACCOUNT_FREE, ACC_PW_ACCOUNT_MAX_HOUR, &r1);
    if (s1 != ST_OK && s1 != ST_RATELIMIT)
        return s1;
    enum st s2 = acc_throttle_check(c, ipk, ACC_PW_IP_FREE, ACC_PW_IP_MAX_HOUR, &r2);
    if (s2 != ST_OK && s2 != ST_RATELIMIT)
        return s2;
    if (s1 == ST_OK && s2 == ST_OK)
        return ST_OK;
    if (err) {
        err->retry_after_ms = r1 > r2 ? r1 : r2;
        err->detail = "accounts.throttled";
    }
    return ST_RATELIMIT;
}

/* ---------------------------------------------------------------- places and devices */

void acc_place(const char *ip, char *out, size_t len)
{
    unsigned char a[16];
    char txt[INET6_ADDRSTRLEN];
    if (ip && inet_pton(AF_INET, ip, a) == 1) {
        snprintf(out, len, "%u.%u.%u.0/24", a[0], a[1], a[2]);
        return;
    }
    if (ip && inet_pton(AF_INET6, ip, a) == 1) {
        static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, v4mapped, 12) == 0) {
            snprintf(out, len, "%u.%u.%u.0/24", a[12], a[13], a[14]);
            return;
        }
        memset(a + 6, 0, 10);
        if (inet_ntop(AF_INET6, a, txt, sizeof txt)) {
            snprintf(out, len, "%s/48", txt);
            return;
        }
    }
    snprintf(out, len, "unknown");
}

static bool has(const char *ua, const char *needle)
{
    return strstr(ua, needle) != NULL;
}

void acc_device_label(const char *ua, char *out, size_t len)
{
    if (!ua || !*ua) {
        snprintf(out, len, "unknown device");
        return;
    }
    const char *browser = NULL, *os = NULL;
    if (has(ua, "entrepot-app"))
        browser = "entrepot app";
    else if (has(ua, "Edg/"))
        browser = "Edge";
    else if (has(ua, "OPR/") || has(ua, "Opera"))
        browser = "Opera";
    else if (has(ua, "Firefox/"))
        browser = "Firefox";
    else if (has(ua, "Chromium/"))
        browser = "Chromium";
    else if (has(ua, "Chrome/"))
        browser = "Chrome";
    else if (has(ua, "Safari/"))
        browser = "Safari";
    else if (has(ua, "curl/"))
        browser = "curl";
    else if (has(ua, "Python"))
        browser = "Python";
    if (has(ua, "Android"))
        os = "Android";
    else if (has(ua, "iPhone") || has(ua, "iPad"))
        os = "iOS";
    else if (has(ua, "Windows"))
        os = "Windows";
    else if (has(ua, "Mac OS X") || has(ua, "Macintosh"))
        os = "macOS";
    else if (has(ua, "CrOS"))
        os = "ChromeOS";
    else if (has(ua, "Linux"))
        os = "Linux";
    if (browser && os)
        snprintf(out, len, "%s on %s", browser, os);
    else if (browser)
        snprintf(out, len, "%s", browser);
    else if (os)
        snprintf(out, len, "%s device", os);
    else
        snprintf(out, len, "unknown device");
}

/* ---------------------------------------------------------------- messages, audit */

enum st acc_send(struct db_conn *c, int64_t user_id, const char *channel, const char *to,
                 const char *template_name, const char *lang, const char *subject, const char *body)
{
    bool email = strcmp(channel, "email") == 0;
    struct notify_msg m = {
        .channel = email ? NOTIFY_EMAIL : NOTIFY_SMS,
        .purpose = NOTIFY_SECURITY,
        .user_id = user_id,
        .to = to,
        .template_name = template_name,
        .lang = lang && *lang ? lang : "en",
        .subject = email ? subject : NULL,
        .body = body,
        .data_types = strncmp(template_name, "otp.", 4) == 0 ? "otp" : "message",
    };
    enum st st = notify_send(c, &m, NULL);
    if (st != ST_OK)
        log_kv(LOG_ERROR, "cannot queue a security message", "template", template_name, "status",
               st_name(st), (const char *)NULL);
    return st;
}

enum st acc_notice(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                   const char *msg_key)
{
    char *phone = NULL, *email = NULL;
    enum st st = acc_user_contact(c, user_id, &phone, &email);
    if (st != ST_OK)
        return st;
    struct acc_user u;
    st = acc_user_load(c, user_id, &u);
    if (st != ST_OK) {
        free(phone);
        free(email);
        return st;
    }
    const char *lang = u.lang[0] ? u.lang : cl->lang;
    char device[64], place[64];
    acc_device_label(cl->user_agent, device, sizeof device);
    acc_place(cl->ip, place, sizeof place);
    char *body = i18n_format(lang, msg_key, "device", device, "place", place, (const char *)NULL);
    char tmpl[64];
    snprintf(tmpl, sizeof tmpl, "%s", msg_key + (strncmp(msg_key, "msg.", 4) == 0 ? 4 : 0));
    if (email)
        st = acc_send(c, user_id, "email", email, tmpl, lang, i18n_get(lang, "msg.notice.subject"),
                      body);
    else if (phone)
        st = acc_send(c, user_id, "sms", phone, tmpl, lang, NULL, body);
    free(body);
    free(phone);
    free(email);
    acc_user_free(&u);
    return st;
}

enum st acc_audit(struct db_conn *c, const struct acc_client *cl, int64_t actor, const char *role,
                  const char *action, int64_t subject, const char *detail)
{
    struct audit_entry e = {
        .actor_id = actor,
        .actor_role = role ? role : (actor ? "user" : "anonymous"),
        .action = action,
        .subject_user_id = subject,
        .detail = detail,
        .ip = cl ? cl->ip : NULL,
    };
    enum st st = audit_append(c, &e, NULL);
    if (st != ST_OK)
        log_kv(LOG_ERROR, "cannot append to the audit log", "action", action, "status", st_name(st),
               (const char *)NULL);
    return st;
}

json_t *accounts_role_names(unsigned roles)
{
    static const char *const names[] = {"support", "operations", "compliance", "administrator"};
    json_t *a = json_array();
    for (unsigned b = 0; b < 4; b++)
        if (roles & (1u << b))
            json_array_append_new(a, json_string(names[b]));
    return a;
}
