/*
 * crypto.c — keys, encrypted fields, blind indexes, tokens, one-time codes,
 * passwords and TOTP (crypto.h states every contract).
 *
 * The decision a reader must know: nothing is keyed by a master key
 * directly. Wrapping uses a KDF subkey of each master key, and the blind
 * index, token and code keys are KDF subkeys of an *index root* that does
 * not change when master keys rotate (the ring's index key, or a subkey of
 * its oldest master key). A rotation therefore re-wraps data keys only;
 * indexes, sessions and pending codes stay valid.
 *
 * The ring is one static structure behind a read/write lock: every
 * operation reads it, and only installs (start-up, reload during rotation)
 * write it. The hot paths (token hash on every authenticated request) take
 * a read lock and do one BLAKE2b.
 */
#include <liboath/oath.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"

/* KDF contexts (crypto_kdf_CONTEXTBYTES = 8 characters each). */
static const char CTX_WRAP[crypto_kdf_CONTEXTBYTES + 1] = "EPwrapky";
static const char CTX_ROOT[crypto_kdf_CONTEXTBYTES + 1] = "EPidxrot";
static const char CTX_BIDX[crypto_kdf_CONTEXTBYTES + 1] = "EPblindx";
static const char CTX_TOKEN[crypto_kdf_CONTEXTBYTES + 1] = "EPtokens";
static const char CTX_OTP[crypto_kdf_CONTEXTBYTES + 1] = "EPotpcod";

#define KEYLEN 32
#define NONCE  crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG    crypto_aead_xchacha20poly1305_ietf_ABYTES
#define HDR    5 /* version + key id */

#define COLUMN_MAX 128 /* bytes of a column name in field associated data */

_Static_assert(PASSWORD_HASH_BYTES == crypto_pwhash_STRBYTES, "PASSWORD_HASH_BYTES");
_Static_assert(CRYPTO_DATAKEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "data key");

/* A dummy Argon2id hash with today's parameters, of a random password
 * nobody kept: password_verify_dummy verifies against it. A test checks
 * that it does not need a rehash, so it follows any change of costs. */
static const char DUMMY_HASH[PASSWORD_HASH_BYTES] =
    "$argon2id$v=19$m=19456,t=2,p=1$VYZjU06GBeqJejCCUZN8pg$"
    "j3Z3sdLH8Bi1ov8Bh1ARiBBJrNsYdmvJGwB35QOiLBE";

/* ---------------------------------------------------------------- the ring */

struct ring {
    bool ready;
    size_t count;
    uint32_t ids[MASTER_KEYS_MAX];               /* ids[0] is the primary */
    unsigned char wrap[MASTER_KEYS_MAX][KEYLEN]; /* wrapping subkey of each */
    unsigned char root[KEYLEN];                  /* index root */
    unsigned char bidx[KEYLEN], token[KEYLEN], otp[KEYLEN];
};

static struct ring R;
static pthread_rwlock_t ring_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_once_t lock_once = PTHREAD_ONCE_INIT;

static void lock_memory(void)
{
    /* Best effort: keep the keys out of swap. */
    sodium_mlock(&R, sizeof R);
}

static bool sodium_ready(void)
{
    return sodium_init() >= 0;
}

static void derive(unsigned char out[KEYLEN], const char *ctx, const unsigned char key[KEYLEN])
{
    crypto_kdf_derive_from_key(out, KEYLEN, 1, ctx, key);
}

/* The index root a ring implies: its index key, or a subkey of the
 * master key with the lowest id. */
static void ring_root(const struct master_keyring *r, unsigned char out[KEYLEN])
{
    if (r->has_index) {
        memcpy(out, r->index_key, KEYLEN);
        return;
    }
    size_t low = 0;
    for (size_t i = 1; i < r->count; i++)
        if (r->ids[i] < r->ids[low])
            low = i;
    derive(out, CTX_ROOT, r->keys[low]);
}

/* Builds the runtime ring from r into *out (no lock). */
static enum st ring_build(const struct master_keyring *r, struct ring *out)
{
    if (r->count == 0 || r->count > MASTER_KEYS_MAX)
        return ST_INVALID;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < r->count; i++) {
        if (r->ids[i] == 0)
            return ST_INVALID;
        for (size_t j = 0; j < i; j++)
            if (r->ids[j] == r->ids[i])
                return ST_INVALID;
        out->ids[i] = r->ids[i];
        derive(out->wrap[i], CTX_WRAP, r->keys[i]);
    }
    out->count = r->count;
    ring_root(r, out->root);
    derive(out->bidx, CTX_BIDX, out->root);
    derive(out->token, CTX_TOKEN, out->root);
    derive(out->otp, CTX_OTP, out->root);
    out->ready = true;
    return ST_OK;
}

enum st crypto_keyring_install(const struct master_keyring *r)
{
    if (!sodium_ready())
        return ST_INTERNAL;
    pthread_once(&lock_once, lock_memory);
    struct ring *next = sodium_malloc(sizeof *next);
    if (!next)
        return ST_INTERNAL;
    enum st s = ring_build(r, next);
    if (s == ST_OK) {
        pthread_rwlock_wrlock(&ring_lock);
        memcpy(&R, next, sizeof R);
        pthread_rwlock_unlock(&ring_lock);
    }
    sodium_free(next); /* wipes */
    return s;
}

enum st crypto_init(const unsigned char master[MASTER_KEY_BYTES], uint32_t key_id)
{
    if (key_id == 0)
        return ST_INVALID;
    struct master_keyring r;
    memset(&r, 0, sizeof r);
    r.count = 1;
    r.ids[0] = key_id;
    memcpy(r.keys[0], master, MASTER_KEY_BYTES);
    enum st s = crypto_keyring_install(&r);
    masterkey_ring_wipe(&r);
    return s;
}

enum st crypto_keyring_add(uint32_t key_id, const unsigned char key[MASTER_KEY_BYTES])
{
    if (key_id == 0)
        return ST_INVALID;
    unsigned char w[KEYLEN];
    derive(w, CTX_WRAP, key);
    enum st s = ST_OK;
    pthread_rwlock_wrlock(&ring_lock);
    if (!R.ready) {
        s = ST_INTERNAL;
        goto out;
    }
    for (size_t i = 0; i < R.count; i++) {
        if (R.ids[i] == key_id) {
            s = sodium_memcmp(R.wrap[i], w, KEYLEN) == 0 ? ST_OK : ST_CONFLICT;
            goto out;
        }
    }
    if (R.count == MASTER_KEYS_MAX) {
        s = ST_TOOLARGE;
        goto out;
    }
    R.ids[R.count] = key_id;
    memcpy(R.wrap[R.count], w, KEYLEN);
    R.count++;
out:
    pthread_rwlock_unlock(&ring_lock);
    sodium_memzero(w, sizeof w);
    return s;
}

uint32_t crypto_keyring_primary_id(void)
{
    pthread_rwlock_rdlock(&ring_lock);
    uint32_t id = R.ready ? R.ids[0] : 0;
    pthread_rwlock_unlock(&ring_lock);
    return id;
}

bool crypto_keyring_has(uint32_t key_id)
{
    bool found = false;
    pthread_rwlock_rdlock(&ring_lock);
    for (size_t i = 0; R.ready && i < R.count; i++)
        if (R.ids[i] == key_id)
            found = true;
    pthread_rwlock_unlock(&ring_lock);
    return found;
}

enum st crypto_keyring_pin_index(struct master_keyring *r)
{
    if (r->count == 0)
        return ST_INVALID;
    if (!r->has_index) {
        ring_root(r, r->index_key);
        r->has_index = true;
    }
    return ST_OK;
}

/* ---------------------------------------------------------------- reloads */

static pthread_mutex_t reload_mu = PTHREAD_MUTEX_INITIALIZER;
static crypto_reload_fn reload_fn;
static void *reload_arg;
static uint64_t last_check_ns, last_unknown_ns;

void crypto_keyring_set_reload(crypto_reload_fn fn, void *arg)
{
    pthread_mutex_lock(&reload_mu);
    reload_fn = fn;
    reload_arg = arg;
    last_check_ns = last_unknown_ns = 0;
    pthread_mutex_unlock(&reload_mu);
}

/* Calls the hook when one is set and the last call of the same kind is
 * older than its interval. unknown: a wrapped key named a key id we lack. */
static void maybe_reload(bool unknown)
{
    pthread_mutex_lock(&reload_mu);
    if (reload_fn) {
        uint64_t now = clock_mono_ns();
        uint64_t *last = unknown ? &last_unknown_ns : &last_check_ns;
        uint64_t gap =
            (uint64_t)(unknown ? CRYPTO_KEYRING_RELOAD_MS : CRYPTO_KEYRING_RECHECK_MS) * 1000000u;
        if (*last == 0 || now - *last >= gap) {
            *last = now;
            last_check_ns = now; /* a reload for an unknown id is also a check */
            reload_fn(reload_arg);
        }
    }
    pthread_mutex_unlock(&reload_mu);
}

/* The watched key file; touched only under reload_mu (the hook runs there)
 * or before the hook is set. */
static struct {
    char *path;
    bool seen;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} watch;

static void remember(const struct stat *st)
{
    watch.seen = true;
    watch.dev = st->st_dev;
    watch.ino = st->st_ino;
    watch.size = st->st_size;
    watch.mtime = st->st_mtim;
}

static enum st reload_file(void *arg)
{
    (void)arg;
    struct stat st;
    if (stat(watch.path, &st) != 0) {
        log_kv(LOG_WARN, "master key file vanished; keeping the keys in memory", "path", watch.path,
               (const char *)NULL);
        return ST_NOTFOUND;
    }
    if (watch.seen && st.st_dev == watch.dev && st.st_ino == watch.ino &&
        st.st_size == watch.size && st.st_mtim.tv_sec == watch.mtime.tv_sec &&
        st.st_mtim.tv_nsec == watch.mtime.tv_nsec)
        return ST_OK;
    remember(&st); /* judge each version of the file once */
    struct master_keyring r;
    char err[256];
    enum st s = masterkey_ring_load(watch.path, NULL, false, &r, err, sizeof err);
    if (s != ST_OK) {
        log_kv(LOG_ERROR, "cannot reload the master key file; keeping the keys in memory", "error",
               err, (const char *)NULL);
        return s;
    }
    unsigned char root[KEYLEN];
    ring_root(&r, root);
    pthread_rwlock_rdlock(&ring_lock);
    bool same_root = R.ready && sodium_memcmp(root, R.root, KEYLEN) == 0;
    uint32_t primary = R.ready ? R.ids[0] : 0;
    pthread_rwlock_unlock(&ring_lock);
    sodium_memzero(root, sizeof root);
    bool keeps_primary = false;
    for (size_t i = 0; i < r.count; i++)
        if (r.ids[i] == primary)
            keeps_primary = true;
    if (!same_root) {
        log_kv(LOG_ERROR,
               "refusing the new master key file: its index key differs from the running one "
               "(every blind index and session would break); keeping the keys in memory",
               "path", watch.path, (const char *)NULL);
        s = ST_INVALID;
    } else if (!keeps_primary && r.ids[0] < primary) {
        log_kv(LOG_ERROR,
               "refusing the new master key file: it lacks the primary key in use and has no "
               "newer one (an old copy?); keeping the keys in memory",
               "path", watch.path, (const char *)NULL);
        s = ST_INVALID;
    } else {
        s = crypto_keyring_install(&r);
        char id[16];
        snprintf(id, sizeof id, "%lu", (unsigned long)r.ids[0]);
        char n[16];
        snprintf(n, sizeof n, "%zu", r.count);
        /* (log_kv redacts any name containing "key": hence "primary", "count") */
        if (s == ST_OK)
            log_kv(LOG_INFO, "reloaded the master key file", "path", watch.path, "primary", id,
                   "count", n, (const char *)NULL);
    }
    masterkey_ring_wipe(&r);
    return s;
}

enum st crypto_keyring_watch_file(const char *path)
{
    if (!path || !*path)
        return ST_INVALID;
    pthread_mutex_lock(&reload_mu);
    xfree(watch.path);
    watch.path = xstrdup(path);
    struct stat st;
    watch.seen = false;
    if (stat(path, &st) == 0)
        remember(&st);
    reload_fn = reload_file;
    reload_arg = NULL;
    last_check_ns = last_unknown_ns = 0;
    pthread_mutex_unlock(&reload_mu);
    return ST_OK;
}

/* ---------------------------------------------------------------- data keys */

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be64(unsigned char *p, int64_t sv)
{
    uint64_t v = (uint64_t)sv;
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

/* Wraps dk with the primary key (caller holds the read lock). */
static enum st wrap_locked(int64_t user_id, const unsigned char dk[KEYLEN], unsigned char **out,
                           size_t *outlen)
{
    unsigned char *w = xmalloc(CRYPTO_WRAPPED_BYTES);
    unsigned char ad[HDR + 8];
    w[0] = CRYPTO_WRAP_V1;
    put_be32(w + 1, R.ids[0]);
    randombytes_buf(w + HDR, NONCE);
    memcpy(ad, w, HDR);
    put_be64(ad + HDR, user_id);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(w + HDR + NONCE, &clen, dk, KEYLEN, ad, sizeof ad,
                                               NULL, w + HDR, R.wrap[0]);
    *out = w;
    *outlen = CRYPTO_WRAPPED_BYTES;
    return ST_OK;
}

static enum st wrap(int64_t user_id, const unsigned char dk[KEYLEN], unsigned char **out,
                    size_t *outlen)
{
    maybe_reload(false);
    pthread_rwlock_rdlock(&ring_lock);
    enum st s = R.ready ? wrap_locked(user_id, dk, out, outlen) : ST_INTERNAL;
    pthread_rwlock_unlock(&ring_lock);
    return s;
}

enum st crypto_datakey_new(int64_t user_id, unsigned char dk[CRYPTO_DATAKEY_BYTES],
                           unsigned char **wrapped, size_t *wlen)
{
    *wrapped = NULL;
    *wlen = 0;
    if (user_id <= 0)
        return ST_INVALID;
    if (!sodium_ready())
        return ST_INTERNAL;
    crypto_aead_xchacha20poly1305_ietf_keygen(dk);
    enum st s = wrap(user_id, dk, wrapped, wlen);
    if (s != ST_OK)
        sodium_memzero(dk, CRYPTO_DATAKEY_BYTES);
    return s;
}

uint32_t crypto_wrapped_key_id(const unsigned char *wrapped, size_t wlen)
{
    if (!wrapped || wlen != CRYPTO_WRAPPED_BYTES || wrapped[0] != CRYPTO_WRAP_V1)
        return 0;
    return get_be32(wrapped + 1);
}

/* ST_NOTFOUND when the key id is not in the ring. */
static enum st unwrap_once(int64_t user_id, const unsigned char *w, unsigned char dk[KEYLEN])
{
    uint32_t id = get_be32(w + 1);
    unsigned char ad[HDR + 8];
    memcpy(ad, w, HDR);
    put_be64(ad + HDR, user_id);
    enum st s = ST_NOTFOUND;
    pthread_rwlock_rdlock(&ring_lock);
    if (!R.ready)
        s = ST_INTERNAL;
    for (size_t i = 0; R.ready && i < R.count; i++) {
        if (R.ids[i] != id)
            continue;
        unsigned long long mlen = 0;
        s = crypto_aead_xchacha20poly1305_ietf_decrypt(dk, &mlen, NULL, w + HDR + NONCE,
                                                       KEYLEN + TAG, ad, sizeof ad, w + HDR,
                                                       R.wrap[i]) == 0 &&
                    mlen == KEYLEN
                ? ST_OK
                : ST_INVALID;
        break;
    }
    pthread_rwlock_unlock(&ring_lock);
    return s;
}

enum st crypto_datakey_unwrap(int64_t user_id, const unsigned char *wrapped, size_t wlen,
                              unsigned char dk[CRYPTO_DATAKEY_BYTES])
{
    sodium_memzero(dk, CRYPTO_DATAKEY_BYTES);
    if (!wrapped || wlen == 0)
        return ST_INVALID;
    if (wrapped[0] != CRYPTO_WRAP_V1)
        return ST_UNSUPPORTED;
    if (wlen != CRYPTO_WRAPPED_BYTES || user_id <= 0)
        return ST_INVALID;
    enum st s = unwrap_once(user_id, wrapped, dk);
    if (s == ST_NOTFOUND) {
        /* Another node may have wrapped it with a key we have not read yet. */
        maybe_reload(true);
        s = unwrap_once(user_id, wrapped, dk);
    }
    if (s != ST_OK)
        sodium_memzero(dk, CRYPTO_DATAKEY_BYTES);
    return s;
}

enum st crypto_datakey_rewrap(int64_t user_id, const unsigned char *old, size_t oldlen,
                              unsigned char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    unsigned char dk[KEYLEN];
    enum st s = crypto_datakey_unwrap(user_id, old, oldlen, dk);
    if (s == ST_OK)
        s = wrap(user_id, dk, out, outlen);
    sodium_memzero(dk, sizeof dk);
    return s;
}

/* ---------------------------------------------------------------- fields */

static bool column_ok(const char *column, size_t *len)
{
    if (!column)
        return false;
    *len = strnlen(column, COLUMN_MAX + 1);
    return *len > 0 && *len <= COLUMN_MAX;
}

/* version ‖ key id ‖ owner id ‖ column */
static size_t field_ad(unsigned char *ad, const unsigned char *hdr, int64_t owner_id,
                       const char *column, size_t clen)
{
    memcpy(ad, hdr, HDR);
    put_be64(ad + HDR, owner_id);
    memcpy(ad + HDR + 8, column, clen);
    return HDR + 8 + clen;
}

enum st crypto_field_seal(const unsigned char dk[CRYPTO_DATAKEY_BYTES], int64_t owner_id,
                          const char *column, const void *pt, size_t n, unsigned char **out,
                          size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    size_t clen;
    if (owner_id <= 0 || !column_ok(column, &clen) || (!pt && n > 0))
        return ST_INVALID;
    if (n > CRYPTO_FIELD_MAX)
        return ST_TOOLARGE;
    if (!sodium_ready())
        return ST_INTERNAL;
    unsigned char *c = xmalloc(n + CRYPTO_FIELD_OVERHEAD);
    unsigned char ad[HDR + 8 + COLUMN_MAX];
    c[0] = CRYPTO_FIELD_V1;
    put_be32(c + 1, 0);
    randombytes_buf(c + HDR, NONCE);
    size_t adlen = field_ad(ad, c, owner_id, column, clen);
    unsigned long long clen_out = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(c + HDR + NONCE, &clen_out, pt, n, ad, adlen, NULL,
                                               c + HDR, dk);
    *out = c;
    *outlen = n + CRYPTO_FIELD_OVERHEAD;
    return ST_OK;
}

enum st crypto_field_open(const unsigned char dk[CRYPTO_DATAKEY_BYTES], int64_t owner_id,
                          const char *column, const unsigned char *in, size_t inlen,
                          unsigned char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    size_t clen;
    if (owner_id <= 0 || !column_ok(column, &clen) || !in || inlen == 0)
        return ST_INVALID;
    if (in[0] != CRYPTO_FIELD_V1)
        return ST_UNSUPPORTED;
    if (inlen < CRYPTO_FIELD_OVERHEAD || inlen - CRYPTO_FIELD_OVERHEAD > CRYPTO_FIELD_MAX)
        return ST_INVALID;
    if (get_be32(in + 1) != 0)
        return ST_UNSUPPORTED;
    if (!sodium_ready())
        return ST_INTERNAL;
    size_t n = inlen - CRYPTO_FIELD_OVERHEAD;
    unsigned char *p = xmalloc(n + 1);
    unsigned char ad[HDR + 8 + COLUMN_MAX];
    size_t adlen = field_ad(ad, in, owner_id, column, clen);
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            p, &mlen, NULL, in + HDR + NONCE, inlen - HDR - NONCE, ad, adlen, in + HDR, dk) != 0 ||
        mlen != n) {
        crypto_free_secret(p, n + 1);
        return ST_INVALID;
    }
    p[n] = '\0';
    *out = p;
    *outlen = n;
    return ST_OK;
}

void crypto_free_secret(void *p, size_t n)
{
    if (!p)
        return;
    sodium_memzero(p, n);
    free(p);
}

/* ---------------------------------------------------------------- blind index */

static void put_len(crypto_generichash_state *h, size_t n)
{
    unsigned char b[4];
    put_be32(b, (uint32_t)n);
    crypto_generichash_update(h, b, sizeof b);
}

enum st crypto_blind_index(const char *domain, const char *normalized,
                           unsigned char out[CRYPTO_BLIND_BYTES])
{
    if (!domain || !*domain || !normalized)
        return ST_INVALID;
    crypto_generichash_state h;
    pthread_rwlock_rdlock(&ring_lock);
    if (!R.ready) {
        pthread_rwlock_unlock(&ring_lock);
        return ST_INTERNAL;
    }
    crypto_generichash_init(&h, R.bidx, KEYLEN, CRYPTO_BLIND_BYTES);
    pthread_rwlock_unlock(&ring_lock);
    crypto_generichash_update(&h, (const unsigned char *)domain, strlen(domain) + 1);
    crypto_generichash_update(&h, (const unsigned char *)normalized, strlen(normalized));
    crypto_generichash_final(&h, out, CRYPTO_BLIND_BYTES);
    sodium_memzero(&h, sizeof h);
    return ST_OK;
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

enum st crypto_normalize_email(const char *in, char *out, size_t outlen)
{
    if (outlen > 0)
        out[0] = '\0';
    if (!in)
        return ST_INVALID;
    size_t n = strnlen(in, 4096);
    const char *s = in;
    while (n > 0 && is_ws((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_ws((unsigned char)s[n - 1]))
        n--;
    if (n == 0 || n > 254 || !utf8_valid(s, n))
        return ST_INVALID;
    size_t at = 0, ats = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == ' ')
            return ST_INVALID;
        if (c == '@') {
            at = i;
            ats++;
        }
    }
    if (ats != 1 || at == 0 || at == n - 1)
        return ST_INVALID;
    if (outlen < n + 1)
        return ST_TOOLARGE;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    return ST_OK;
}

enum st crypto_normalize_phone(const char *in, const char *default_cc, char *out, size_t outlen)
{
    if (outlen > 0)
        out[0] = '\0';
    if (outlen < 17)
        return ST_TOOLARGE;
    if (!in)
        return ST_INVALID;
    if (!default_cc)
        default_cc = "86";
    size_t cclen = strlen(default_cc);
    if (cclen < 1 || cclen > 3 || default_cc[0] < '1' || default_cc[0] > '9')
        return ST_INVALID;
    for (size_t i = 0; i < cclen; i++)
        if (default_cc[i] < '0' || default_cc[i] > '9')
            return ST_INVALID;

    char d[24];
    size_t nd = 0;
    bool plus = false;
    size_t n = strnlen(in, 256);
    if (n == 256)
        return ST_INVALID;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_next(in + i, n - i, &cp);
        if (k == 0)
            return ST_INVALID;
        i += k;
        if (cp == ' ' || cp == '\t' || cp == '-' || cp == '(' || cp == ')' || cp == 0xA0 ||
            cp == 0x3000 || cp == 0xFF0D || cp == 0xFF08 || cp == 0xFF09 ||
            (cp >= 0x2010 && cp <= 0x2015))
            continue;
        if (cp == '+' || cp == 0xFF0B) {
            if (plus || nd > 0)
                return ST_INVALID;
            plus = true;
            continue;
        }
        char digit;
        if (cp >= '0' && cp <= '9')
            digit = (char)cp;
        else if (cp >= 0xFF10 && cp <= 0xFF19)
            digit = (char)('0' + (cp - 0xFF10));
        else
            return ST_INVALID;
        if (nd == sizeof d)
            return ST_INVALID;
        d[nd++] = digit;
    }
    char e[24];
    size_t ne = 0;
    if (plus) {
        memcpy(e, d, nd);
        ne = nd;
    } else if (nd >= 2 && d[0] == '0' && d[1] == '0') {
        memcpy(e, d + 2, nd - 2);
        ne = nd - 2;
    } else {
        size_t skip = (nd > 0 && d[0] == '0') ? 1 : 0;
        if (cclen + nd - skip > sizeof e)
            return ST_INVALID;
        memcpy(e, default_cc, cclen);
        memcpy(e + cclen, d + skip, nd - skip);
        ne = cclen + nd - skip;
    }
    if (ne < 8 || ne > 15 || e[0] == '0')
        return ST_INVALID;
    out[0] = '+';
    memcpy(out + 1, e, ne);
    out[ne + 1] = '\0';
    return ST_OK;
}

/* ---------------------------------------------------------------- tokens */

enum st crypto_token_new(char out[CRYPTO_TOKEN_CHARS + 1])
{
    if (!sodium_ready())
        return ST_INTERNAL;
    unsigned char raw[CRYPTO_TOKEN_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, CRYPTO_TOKEN_CHARS + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    return ST_OK;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

bool crypto_token_parse_ok(const char *s)
{
    if (!s)
        return false;
    for (size_t i = 0; i < CRYPTO_TOKEN_CHARS; i++) {
        int v = b64url_value(s[i]); /* a NUL stops here: -1 */
        if (v < 0)
            return false;
        /* 43 characters carry 258 bits; the last one's 2 low bits are padding. */
        if (i == CRYPTO_TOKEN_CHARS - 1 && (v & 3) != 0)
            return false;
    }
    return s[CRYPTO_TOKEN_CHARS] == '\0';
}

enum st crypto_token_hash(const char *token, unsigned char out[CRYPTO_HASH_BYTES])
{
    if (!crypto_token_parse_ok(token))
        return ST_INVALID;
    pthread_rwlock_rdlock(&ring_lock);
    enum st s = ST_INTERNAL;
    if (R.ready) {
        crypto_generichash(out, CRYPTO_HASH_BYTES, (const unsigned char *)token, CRYPTO_TOKEN_CHARS,
                           R.token, KEYLEN);
        s = ST_OK;
    }
    pthread_rwlock_unlock(&ring_lock);
    return s;
}

bool crypto_equal(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}

/* ---------------------------------------------------------------- one-time codes */

static bool six_digits(const char *code)
{
    if (!code)
        return false;
    for (int i = 0; i < CRYPTO_OTP_DIGITS; i++)
        if (code[i] < '0' || code[i] > '9')
            return false;
    return code[CRYPTO_OTP_DIGITS] == '\0';
}

enum st crypto_otp_new(char out[CRYPTO_OTP_DIGITS + 1])
{
    if (!sodium_ready())
        return ST_INTERNAL;
    uint32_t v = randombytes_uniform(1000000);
    snprintf(out, CRYPTO_OTP_DIGITS + 1, "%06u", (unsigned)v);
    return ST_OK;
}

enum st crypto_otp_hash(const char *code, const char *purpose, const char *binding,
                        unsigned char out[CRYPTO_HASH_BYTES])
{
    if (!six_digits(code) || !purpose || !*purpose || !binding)
        return ST_INVALID;
    crypto_generichash_state h;
    pthread_rwlock_rdlock(&ring_lock);
    if (!R.ready) {
        pthread_rwlock_unlock(&ring_lock);
        return ST_INTERNAL;
    }
    crypto_generichash_init(&h, R.otp, KEYLEN, CRYPTO_HASH_BYTES);
    pthread_rwlock_unlock(&ring_lock);
    size_t pl = strlen(purpose), bl = strlen(binding);
    put_len(&h, pl);
    crypto_generichash_update(&h, (const unsigned char *)purpose, pl);
    put_len(&h, bl);
    crypto_generichash_update(&h, (const unsigned char *)binding, bl);
    crypto_generichash_update(&h, (const unsigned char *)code, CRYPTO_OTP_DIGITS);
    crypto_generichash_final(&h, out, CRYPTO_HASH_BYTES);
    sodium_memzero(&h, sizeof h);
    return ST_OK;
}

/* ---------------------------------------------------------------- passwords */

enum st password_hash(const char *pw, char out[PASSWORD_HASH_BYTES])
{
    out[0] = '\0';
    if (!pw)
        return ST_INVALID;
    size_t n = strnlen(pw, PASSWORD_MAX_BYTES + 1);
    if (n > PASSWORD_MAX_BYTES)
        return ST_TOOLARGE;
    if (!sodium_ready())
        return ST_INTERNAL;
    if (crypto_pwhash_str_alg(out, pw, n, PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        out[0] = '\0';
        return ST_INTERNAL;
    }
    return ST_OK;
}

bool password_verify(const char *hash, const char *pw)
{
    if (!hash || !pw || strnlen(hash, PASSWORD_HASH_BYTES) == PASSWORD_HASH_BYTES ||
        strncmp(hash, "$argon2id$", 10) != 0)
        return password_verify_dummy(pw);
    size_t n = strnlen(pw, PASSWORD_MAX_BYTES + 1);
    if (n > PASSWORD_MAX_BYTES || !sodium_ready())
        return password_verify_dummy("");
    return crypto_pwhash_str_verify(hash, pw, n) == 0;
}

bool password_needs_rehash(const char *hash)
{
    if (!hash || strnlen(hash, PASSWORD_HASH_BYTES) == PASSWORD_HASH_BYTES || !sodium_ready())
        return true;
    return crypto_pwhash_str_needs_rehash(hash, PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT) != 0;
}

bool password_verify_dummy(const char *pw)
{
    if (!sodium_ready())
        return false;
    size_t n = pw ? strnlen(pw, PASSWORD_MAX_BYTES) : 0;
    volatile int r = crypto_pwhash_str_verify(DUMMY_HASH, pw ? pw : "", n);
    (void)r;
    return false;
}

static int cmp_str(const void *key, const void *elem)
{
    return strcmp((const char *)key, *(const char *const *)elem);
}

bool password_is_common(const char *pw)
{
    char low[128];
    size_t n = pw ? strnlen(pw, sizeof low) : sizeof low;
    if (n == sizeof low)
        return false; /* longer than any entry */
    for (size_t i = 0; i < n; i++) {
        char c = pw[i];
        low[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    low[n] = '\0';
    return bsearch(low, crypto_common_passwords, crypto_common_passwords_count,
                   sizeof crypto_common_passwords[0], cmp_str) != NULL;
}

enum st password_check_policy(const char *pw, const char **reason)
{
    const char *why = NULL;
    size_t n = pw ? strnlen(pw, PASSWORD_MAX_BYTES + 1) : 0;
    if (pw && n > PASSWORD_MAX_BYTES)
        why = "too_long";
    else if (!pw || !utf8_valid(pw, n))
        why = "utf8";
    else if (utf8_len(pw, n) > PASSWORD_MAX_CHARS)
        why = "too_long";
    else if (utf8_len(pw, n) < PASSWORD_MIN_CHARS)
        why = "too_short";
    else if (password_is_common(pw))
        why = "common";
    if (reason)
        *reason = why;
    return why ? ST_INVALID : ST_OK;
}

/* ---------------------------------------------------------------- TOTP */

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static void b32_encode(const unsigned char *in, size_t n, char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = B32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = B32[(acc << (5 - bits)) & 31];
    out[o] = '\0';
}

/* Decodes into out (cap bytes); returns the length, or 0 when malformed. */
static size_t b32_decode(const char *in, unsigned char *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    bool pad = false;
    for (const char *p = in; *p; p++) {
        char c = *p;
        if (c == ' ')
            continue;
        if (c == '=') {
            pad = true;
            continue;
        }
        if (pad)
            return 0; /* data after padding */
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a';
        else if (c >= '2' && c <= '7')
            v = c - '2' + 26;
        else
            return 0;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            if (o == cap)
                return 0;
            out[o++] = (unsigned char)(acc >> (bits - 8));
            bits -= 8;
        }
        acc &= 0xff;
    }
    return o;
}

#define TOTP_SECRET_MIN 16 /* bytes: RFC 4226 asks for at least 128 bits */
#define TOTP_SECRET_MAX 64

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_status = -1;

static void oath_start(void)
{
    oath_status = oath_init();
}

enum st totp_secret_new(char *base32_out, size_t len)
{
    if (len > 0)
        base32_out[0] = '\0';
    if (len < TOTP_SECRET_CHARS + 1)
        return ST_TOOLARGE;
    if (!sodium_ready())
        return ST_INTERNAL;
    unsigned char raw[TOTP_SECRET_BYTES];
    randombytes_buf(raw, sizeof raw);
    b32_encode(raw, sizeof raw, base32_out);
    sodium_memzero(raw, sizeof raw);
    return ST_OK;
}

static int otp_cmp(void *handle, const char *test_otp)
{
    return sodium_memcmp(handle, test_otp, TOTP_DIGITS) == 0 ? 0 : 1;
}

enum st totp_verify(const char *base32_secret, const char *code, int64_t now_ms, int window,
                    int64_t *matched_step)
{
    if (matched_step)
        *matched_step = -1;
    if (!base32_secret || !six_digits(code) || window < 0 || window > 10 || now_ms < 0)
        return ST_INVALID;
    unsigned char secret[TOTP_SECRET_MAX];
    size_t n = b32_decode(base32_secret, secret, sizeof secret);
    if (n < TOTP_SECRET_MIN) {
        sodium_memzero(secret, sizeof secret);
        return ST_INVALID;
    }
    pthread_once(&oath_once, oath_start);
    if (oath_status != OATH_OK) {
        sodium_memzero(secret, sizeof secret);
        return ST_INTERNAL;
    }
    char want[TOTP_DIGITS + 1];
    memcpy(want, code, sizeof want);
    int pos = 0;
    uint64_t counter = 0;
    int rc = oath_totp_validate3_callback((const char *)secret, n, (time_t)(now_ms / 1000),
                                          TOTP_STEP_S, OATH_TOTP_DEFAULT_START_TIME, TOTP_DIGITS,
                                          (size_t)window, &pos, &counter, otp_cmp, want);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(want, sizeof want);
    if (rc >= 0) {
        if (matched_step)
            *matched_step = (int64_t)counter;
        return ST_OK;
    }
    return rc == OATH_INVALID_OTP ? ST_UNAUTHORIZED : ST_INTERNAL;
}

enum st totp_code(const char *base32_secret, int64_t now_ms, char out[TOTP_DIGITS + 1])
{
    out[0] = '\0';
    if (!base32_secret || now_ms < 0)
        return ST_INVALID;
    unsigned char secret[TOTP_SECRET_MAX];
    size_t n = b32_decode(base32_secret, secret, sizeof secret);
    if (n < TOTP_SECRET_MIN) {
        sodium_memzero(secret, sizeof secret);
        return ST_INVALID;
    }
    pthread_once(&oath_once, oath_start);
    int rc =
        oath_status == OATH_OK
            ? oath_totp_generate2((const char *)secret, n, (time_t)(now_ms / 1000), TOTP_STEP_S,
                                  OATH_TOTP_DEFAULT_START_TIME, TOTP_DIGITS, 0, out)
            : oath_status;
    sodium_memzero(secret, sizeof secret);
    if (rc != OATH_OK) {
        out[0] = '\0';
        return ST_INTERNAL;
    }
    return ST_OK;
}

static void pct_encode(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(b, e, 3);
        }
    }
}

char *totp_uri(const char *issuer, const char *account, const char *base32_secret)
{
    struct buf b;
    buf_init(&b, 4096);
    buf_puts(&b, "otpauth://totp/");
    pct_encode(&b, issuer ? issuer : "");
    buf_putc(&b, ':');
    pct_encode(&b, account ? account : "");
    buf_puts(&b, "?secret=");
    for (const char *p = base32_secret ? base32_secret : ""; *p; p++)
        if (*p != ' ' && *p != '=')
            buf_putc(&b, (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p);
    buf_puts(&b, "&issuer=");
    pct_encode(&b, issuer ? issuer : "");
    buf_printf(&b, "&algorithm=SHA1&digits=%d&period=%d", TOTP_DIGITS, TOTP_STEP_S);
    return buf_take(&b);
}
