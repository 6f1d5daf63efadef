/*
 * sessions.c — sessions and devices: making, checking, listing and ending
 * them, and the sign-in step every successful login ends with.
 *
 * A session token is 256 random bits shown once; the table keeps its keyed
 * hash. Checking one costs one indexed SELECT; last_seen_at is written at
 * most once a minute, so an authenticated GET is nearly as cheap as an
 * anonymous one. The CSRF token is a keyed hash of the session token:
 * derived again on every request, never stored.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts_int.h"

#define TOUCH_EVERY_MS 60000

static void device_hash(const char *device, unsigned char out[CRYPTO_BLIND_BYTES])
{
    acc_limit_key("device", device ? device : "", out);
}

enum st acc_session_new(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                        bool bearer, bool remember, bool staff, int64_t device_id,
                        struct acc_session *out)
{
    memset(out, 0, sizeof *out);
    unsigned char th[CRYPTO_HASH_BYTES];
    enum st st = crypto_token_new(out->token);
    if (st == ST_OK)
        st = crypto_token_hash(out->token, th);
    if (st != ST_OK)
        return st;
    accounts_csrf_token(out->token, out->csrf);
    int64_t now = clock_now_ms();
    int64_t idle = staff      ? acc_opt.staff_idle_ms
                   : remember ? acc_opt.remember_idle_ms
                              : acc_opt.idle_ms;
    int64_t abs = staff      ? acc_opt.staff_absolute_ms
                  : remember ? acc_opt.remember_absolute_ms
                             : acc_opt.absolute_ms;
    char place[64], ua[ACC_UA_MAX + 1] = "";
    acc_place(cl->ip, place, sizeof place);
    if (cl->user_agent) {
        /* Keep valid UTF-8 only, cut at a character boundary. */
        size_t n = strlen(cl->user_agent), k = 0;
        while (k < n && k < ACC_UA_MAX) {
            size_t l = utf8_next(cl->user_agent + k, n - k, NULL);
            if (l == 0 || k + l > ACC_UA_MAX || cl->user_agent[k] == '\0')
                break;
            k += l;
        }
        memcpy(ua, cl->user_agent, k);
        ua[k] = '\0';
    }
    out->user_id = user_id;
    out->bearer = bearer;
    out->remember = remember;
    out->staff = staff;
    out->expires_at = now + abs;
    out->idle_timeout_ms = idle;
    return acc_query_int(c, &out->id,
                         "INSERT INTO sessions (user_id, token_hash, kind, remember, staff, "
                         "created_at, last_seen_at, idle_timeout_ms, absolute_expires_at, "
                         "device_id, ip, place, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                         "NULLIF(CAST(? AS BIGINT), 0), ?, ?, ?) RETURNING id",
                         "ibtiiiiiiittt", user_id, th, sizeof th, bearer ? "bearer" : "cookie",
                         (int64_t)remember, (int64_t)staff, now, now, idle, now + abs, device_id,
                         cl->ip, place, ua[0] ? ua : NULL);
}

enum st acc_sessions_revoke_all(struct db_conn *c, int64_t user_id, int64_t keep)
{
    return acc_exec(c, NULL,
                    "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL "
                    "AND id <> ?",
                    "iii", clock_now_ms(), user_id, keep);
}

enum st acc_device_find(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                        int64_t *device_id)
{
    *device_id = 0;
    if (!cl->device || !*cl->device)
        return ST_OK;
    unsigned char h[CRYPTO_BLIND_BYTES];
    device_hash(cl->device, h);
    enum st st =
        acc_query_int(c, device_id, "SELECT id FROM devices WHERE user_id = ? AND device_hash = ?",
                      "ib", user_id, h, sizeof h);
    if (st == ST_NOTFOUND) {
        *device_id = 0;
        st = ST_OK;
    }
    return st;
}

enum st acc_device_remember(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                            int64_t *device_id)
{
    *device_id = 0;
    if (!cl->device || !*cl->device)
        return ST_OK;
    unsigned char h[CRYPTO_BLIND_BYTES];
    device_hash(cl->device, h);
    char label[64];
    acc_device_label(cl->user_agent, label, sizeof label);
    int64_t now = clock_now_ms();
    return acc_query_int(c, device_id,
                         "INSERT INTO devices (user_id, device_hash, label, first_seen_at, "
                         "last_seen_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, device_hash) "
                         "DO UPDATE SET last_seen_at = ?, label = ? RETURNING id",
                         "ibtiiit", user_id, h, sizeof h, label, now, now, now, label);
}

enum st acc_network_known(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                          bool *known)
{
    char place[64];
    acc_place(cl->ip, place, sizeof place);
    int64_t one = 0;
    enum st st =
        acc_query_int(c, &one, "SELECT id FROM sessions WHERE user_id = ? AND place = ? LIMIT 1",
                      "it", user_id, place);
    *known = st == ST_OK;
    return st == ST_NOTFOUND ? ST_OK : st;
}

enum st acc_signin(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                   const char *method, bool remember, bool bearer, bool staff,
                   struct acc_session *out)
{
    int64_t device_id = 0;
    bool net_known = false;
    enum st st = acc_device_find(c, cl, user_id, &device_id);
    bool new_device = device_id == 0;
    if (st == ST_OK)
        st = acc_network_known(c, cl, user_id, &net_known);
    if (st == ST_OK)
        st = acc_device_remember(c, cl, user_id, &device_id);
    if (st == ST_OK)
        st = acc_session_new(c, cl, user_id, bearer, remember, staff, device_id, out);
    if (st != ST_OK)
        return st;
    char detail[256], label[64], place[64];
    acc_device_label(cl->user_agent, label, sizeof label);
    acc_place(cl->ip, place, sizeof place);
    json_t *d = json_pack("{s:s, s:I, s:s, s:s, s:b, s:b}", "method", method, "session",
                          (json_int_t)out->id, "device", label, "place", place, "new_device",
                          new_device, "new_network", !net_known);
    char *txt = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(d);
    snprintf(detail, sizeof detail, "%s", txt ? txt : "{}");
    free(txt);
    st = acc_audit(c, cl, user_id, staff ? "staff" : "user",
                   staff ? "security.staff_login" : "security.login", user_id, detail);
    if (st == ST_OK && (new_device || !net_known) && strcmp(method, "register") != 0)
        st = acc_notice(c, cl, user_id, "msg.notice.new_login");
    return st;
}

/* ---------------------------------------------------------------- checking */

/* The session cache: each node remembers for ACC_SESSION_CACHE_MS the
 * sessions it has checked, so an authenticated request usually costs one
 * keyed hash and a table lookup instead of a database round trip. Every
 * revocation on this node forgets the entries at once (and bumps a
 * generation counter, so a check that read the database before the
 * revocation cannot put a stale entry back); other nodes follow within
 * ACC_SESSION_CACHE_MS. A hit never extends a session: once the database's
 * last_seen_at is a minute old the check goes to the database again, which
 * also judges idle timeouts. */
#define CACHE_SLOTS   1024
#define CACHE_STRIPES 16

struct cache_slot {
    bool used;
    bool bearer;
    unsigned char hash[CRYPTO_HASH_BYTES];
    struct acc_identity id;
    int64_t last_seen_ms; /* sessions.last_seen_at when loaded */
    int64_t expires_ms;   /* absolute expiry */
    uint64_t loaded_ns;   /* clock_mono_ns() when loaded */
};

static struct cache_slot cache[CACHE_SLOTS];
static pthread_mutex_t cache_locks[CACHE_STRIPES] = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER};
static _Atomic uint64_t cache_gen;

static size_t slot_of(const unsigned char hash[CRYPTO_HASH_BYTES])
{
    size_t i;
    memcpy(&i, hash, sizeof i); /* a keyed hash: its bytes are uniform */
    return i % CACHE_SLOTS;
}

void acc_session_cache_forget(int64_t user_id, int64_t session_id)
{
    cache_gen++;
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        pthread_mutex_t *m = &cache_locks[i % CACHE_STRIPES];
        pthread_mutex_lock(m);
        if (cache[i].used && ((session_id > 0 && cache[i].id.session_id == session_id) ||
                              (session_id <= 0 && cache[i].id.user_id == user_id)))
            memset(&cache[i], 0, sizeof cache[i]);
        pthread_mutex_unlock(m);
    }
}

void accounts_sessions_forget_user(int64_t user_id)
{
    acc_session_cache_forget(user_id, 0);
}

enum st accounts_session_cached(const char *token, bool bearer, struct acc_identity *out)
{
    memset(out, 0, sizeof *out);
    unsigned char th[CRYPTO_HASH_BYTES];
    if (!crypto_token_parse_ok(token) || crypto_token_hash(token, th) != ST_OK)
        return ST_UNAUTHORIZED;
    size_t i = slot_of(th);
    pthread_mutex_t *m = &cache_locks[i % CACHE_STRIPES];
    int64_t now = clock_now_ms();
    uint64_t mono = clock_mono_ns();
    enum st st = ST_NOTFOUND;
    pthread_mutex_lock(m);
    struct cache_slot *e = &cache[i];
    if (e->used && crypto_equal(e->hash, th, sizeof th) && e->bearer == bearer &&
        mono - e->loaded_ns < (uint64_t)ACC_SESSION_CACHE_MS * 1000000u &&
        now - e->last_seen_ms < TOUCH_EVERY_MS && now < e->expires_ms) {
        *out = e->id;
        st = ST_OK;
    }
    pthread_mutex_unlock(m);
    return st;
}

static void cache_put(const unsigned char th[CRYPTO_HASH_BYTES], bool bearer,
                      const struct acc_identity *id, int64_t last_seen, int64_t expires,
                      uint64_t gen)
{
    size_t i = slot_of(th);
    pthread_mutex_t *m = &cache_locks[i % CACHE_STRIPES];
    pthread_mutex_lock(m);
    if (cache_gen == gen) {
        struct cache_slot *e = &cache[i];
        e->used = true;
        e->bearer = bearer;
        memcpy(e->hash, th, CRYPTO_HASH_BYTES);
        e->id = *id;
        e->last_seen_ms = last_seen;
        e->expires_ms = expires;
        e->loaded_ns = clock_mono_ns();
    }
    pthread_mutex_unlock(m);
}

enum st accounts_session_check(struct db_conn *c, const char *token, bool bearer,
                               struct acc_identity *out)
{
    memset(out, 0, sizeof *out);
    unsigned char th[CRYPTO_HASH_BYTES];
    if (!crypto_token_parse_ok(token) || crypto_token_hash(token, th) != ST_OK)
        return ST_UNAUTHORIZED;
    uint64_t gen = cache_gen;
    struct db_stmt *s;
    bool row;
    enum st st = acc_query(c, &s, &row,
                           "SELECT s.id, s.user_id, s.kind, s.staff, s.last_seen_at, "
                           "s.idle_timeout_ms, s.absolute_expires_at, s.revoked_at, u.status, "
                           "u.staff_roles FROM sessions s JOIN users u ON u.id = s.user_id "
                           "WHERE s.token_hash = ?",
                           "b", th, sizeof th);
    int64_t now = clock_now_ms(), last_seen = 0, expires = 0;
    if (st == ST_OK && !row)
        st = ST_UNAUTHORIZED;
    if (st == ST_OK) {
        const char *kind = db_col_text(s, 2);
        const char *status = db_col_text(s, 8);
        last_seen = db_col_int64(s, 4);
        expires = db_col_int64(s, 6);
        bool live = db_col_is_null(s, 7) && now < expires && now < last_seen + db_col_int64(s, 5) &&
                    status && strcmp(status, "active") == 0 && kind &&
                    strcmp(kind, bearer ? "bearer" : "cookie") == 0;
        if (!live) {
            st = ST_UNAUTHORIZED;
        } else {
            out->session_id = db_col_int64(s, 0);
            out->user_id = db_col_int64(s, 1);
            if (db_col_int64(s, 3))
                out->staff_roles = (unsigned)db_col_int64(s, 9) & ACC_ROLES_ALL;
        }
    }
    acc_done(s);
    if (st == ST_OK && now - last_seen >= TOUCH_EVERY_MS) {
        /* A lost touch only shortens the idle window by a minute: ignore
         * failures (a busy SQLite writer must not fail a read). */
        if (acc_exec(c, NULL,
                     "UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?",
                     "iii", now, out->session_id, now) == ST_OK)
            last_seen = now;
    }
    if (st == ST_OK)
        cache_put(th, bearer, out, last_seen, expires, gen);
    return st;
}

void accounts_csrf_token(const char *session_token, char out[ACC_CSRF_CHARS + 1])
{
    unsigned char h[CRYPTO_BLIND_BYTES];
    if (crypto_blind_index("csrf", session_token ? session_token : "", h) != ST_OK)
        randombytes_buf(h, sizeof h); /* no key ring: a token nobody can match */
    sodium_bin2base64(out, ACC_CSRF_CHARS + 1, h, sizeof h,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(h, sizeof h);
}

bool accounts_csrf_ok(const char *session_token, const char *presented)
{
    if (!presented || strlen(presented) != ACC_CSRF_CHARS)
        return false;
    char want[ACC_CSRF_CHARS + 1];
    accounts_csrf_token(session_token, want);
    bool ok = crypto_equal(want, presented, ACC_CSRF_CHARS);
    sodium_memzero(want, sizeof want);
    return ok;
}

/* ---------------------------------------------------------------- managing */

enum st accounts_session_replaced(struct db_conn *c, int64_t session_id)
{
    enum st st =
        acc_exec(c, NULL, "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                 "ii", clock_now_ms(), session_id);
    acc_session_cache_forget(0, session_id);
    return st;
}

enum st accounts_logout(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                        int64_t session_id)
{
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = acc_exec(c, NULL,
                  "UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND "
                  "revoked_at IS NULL",
                  "iii", clock_now_ms(), session_id, user_id);
    if (st == ST_OK)
        st = acc_audit(c, cl, user_id, "user", "security.logout", user_id, NULL);
    st = acc_finish(c, st);
    acc_session_cache_forget(user_id, session_id);
    return st;
}

enum st accounts_logout_all(struct db_conn *c, const struct acc_client *cl, int64_t user_id)
{
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = acc_sessions_revoke_all(c, user_id, 0);
    if (st == ST_OK)
        st = acc_audit(c, cl, user_id, "user", "security.logout_all", user_id, NULL);
    st = acc_finish(c, st);
    acc_session_cache_forget(user_id, 0);
    return st;
}

enum st accounts_sessions_list(struct db_conn *c, int64_t user_id, int64_t current_session,
                               json_t **out)
{
    *out = NULL;
    int64_t now = clock_now_ms();
    struct db_stmt *s;
    bool row;
    enum st st = acc_query(c, &s, &row,
                           "SELECT id, kind, remember, staff, created_at, last_seen_at, "
                           "idle_timeout_ms, absolute_expires_at, place, user_agent FROM sessions "
                           "WHERE user_id = ? AND revoked_at IS NULL AND absolute_expires_at > ? "
                           "AND last_seen_at + idle_timeout_ms > ? ORDER BY last_seen_at DESC, "
                           "id DESC LIMIT 200",
                           "iii", user_id, now, now);
    json_t *a = json_array();
    while (st == ST_OK && row) {
        char label[64];
        acc_device_label(db_col_is_null(s, 9) ? NULL : db_col_text(s, 9), label, sizeof label);
        int64_t id = db_col_int64(s, 0);
        int64_t idle_end = db_col_int64(s, 5) + db_col_int64(s, 6);
        int64_t abs_end = db_col_int64(s, 7);
        json_array_append_new(
            a, json_pack("{s:I, s:s, s:b, s:s, s:s, s:I, s:I, s:I, s:b, s:b}", "id", (json_int_t)id,
                         "kind", db_col_text(s, 1), "current", id == current_session, "device",
                         label, "place", db_col_is_null(s, 8) ? "unknown" : db_col_text(s, 8),
                         "created_at", (json_int_t)db_col_int64(s, 4), "last_seen_at",
                         (json_int_t)db_col_int64(s, 5), "expires_at",
                         (json_int_t)(idle_end < abs_end ? idle_end : abs_end), "remember",
                         db_col_int64(s, 2) != 0, "staff", db_col_int64(s, 3) != 0));
        st = db_step(s, &row);
    }
    acc_done(s);
    if (st != ST_OK) {
        json_decref(a);
        return st;
    }
    *out = a;
    return ST_OK;
}

enum st accounts_session_revoke(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                                int64_t session_id)
{
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    int64_t n = 0;
    st = acc_exec(c, &n,
                  "UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND "
                  "revoked_at IS NULL",
                  "iii", clock_now_ms(), session_id, user_id);
    if (st == ST_OK && n == 0)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        char detail[64];
        snprintf(detail, sizeof detail, "{\"session\":%lld}", (long long)session_id);
        st = acc_audit(c, cl, user_id, "user", "session.revoked", user_id, detail);
    }
    st = acc_finish(c, st);
    acc_session_cache_forget(user_id, session_id);
    return st;
}

enum st accounts_devices_list(struct db_conn *c, int64_t user_id, json_t **out)
{
    *out = NULL;
    struct db_stmt *s;
    bool row;
    enum st st = acc_query(c, &s, &row,
                           "SELECT id, label, first_seen_at, last_seen_at FROM devices WHERE "
                           "user_id = ? ORDER BY last_seen_at DESC, id DESC LIMIT 200",
                           "i", user_id);
    json_t *a = json_array();
    while (st == ST_OK && row) {
        json_array_append_new(
            a, json_pack("{s:I, s:s, s:I, s:I}", "id", (json_int_t)db_col_int64(s, 0), "label",
                         db_col_text(s, 1), "first_seen_at", (json_int_t)db_col_int64(s, 2),
                         "last_seen_at", (json_int_t)db_col_int64(s, 3)));
        st = db_step(s, &row);
    }
    acc_done(s);
    if (st != ST_OK) {
        json_decref(a);
        return st;
    }
    *out = a;
    return ST_OK;
}

enum st accounts_device_forget(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                               int64_t device_id)
{
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = acc_exec(c, NULL,
                  "UPDATE sessions SET revoked_at = ? WHERE device_id = ? AND user_id = ? AND "
                  "revoked_at IS NULL",
                  "iii", clock_now_ms(), device_id, user_id);
    int64_t n = 0;
    if (st == ST_OK)
        st = acc_exec(c, &n, "DELETE FROM devices WHERE id = ? AND user_id = ?", "ii", device_id,
                      user_id);
    if (st == ST_OK && n == 0)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        char detail[64];
        snprintf(detail, sizeof detail, "{\"device\":%lld}", (long long)device_id);
        st = acc_audit(c, cl, user_id, "user", "security.device_forgotten", user_id, detail);
    }
    st = acc_finish(c, st);
    acc_session_cache_forget(user_id, 0);
    return st;
}
