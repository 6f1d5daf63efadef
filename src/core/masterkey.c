/*
 * masterkey.c — the master keys that wrap every user's data key.
 *
 * They live outside the database on purpose: a stolen database (or backup)
 * without the key file reveals no encrypted field. The key comes from
 * ENTREPOT_MASTER_KEY (hex) when set, else from a key file that is created
 * on first start with 32 random bytes and mode 0600.
 *
 * The file is a small key ring so that `entrepot keys rotate` can add a new
 * key while the old one still unwraps (core.h gives the format). The one
 * decision a reader must know: the first format, a single bare hex line,
 * is still read (as key 1), so an existing installation never needs a
 * manual step; files are only ever written in the ring format.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"

#define KEYFILE_CAP 4096

void masterkey_ring_wipe(struct master_keyring *ring)
{
    if (ring)
        sodium_memzero(ring, sizeof *ring);
}

/* Exactly 64 hex digits, nothing else. */
static bool parse_key_hex(const char *hex, size_t n, unsigned char key[MASTER_KEY_BYTES])
{
    size_t bin_len = 0;
    const char *end = NULL;
    if (n != MASTER_KEY_BYTES * 2)
        return false;
    if (sodium_hex2bin(key, MASTER_KEY_BYTES, hex, n, NULL, &bin_len, &end) != 0 ||
        bin_len != MASTER_KEY_BYTES || end != hex + n) {
        sodium_memzero(key, MASTER_KEY_BYTES);
        return false;
    }
    return true;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

enum st masterkey_ring_parse(const char *text, size_t len, struct master_keyring *ring, char *err,
                             size_t errlen)
{
    memset(ring, 0, sizeof *ring);
    size_t pos = 0;
    int lineno = 0;
    int bare = 0;    /* bare hex lines (the first format) */
    int content = 0; /* non-comment lines */
    while (pos < len) {
        size_t start = pos;
        while (pos < len && text[pos] != '\n')
            pos++;
        size_t end = pos;
        if (pos < len)
            pos++;
        lineno++;
        while (start < end && is_space(text[start]))
            start++;
        while (end > start && is_space(text[end - 1]))
            end--;
        if (start == end || text[start] == '#')
            continue;
        content++;
        const char *line = text + start;
        size_t n = end - start;
        const char *colon = memchr(line, ':', n);
        unsigned char key[MASTER_KEY_BYTES];
        if (!colon) {
            if (!parse_key_hex(line, n, key)) {
                snprintf(err, errlen, "line %d: expected ID:HEX or %d bytes as hex", lineno,
                         MASTER_KEY_BYTES);
                goto bad;
            }
            bare++;
            if (ring->count > 0 || bare > 1) {
                sodium_memzero(key, sizeof key);
                snprintf(err, errlen, "line %d: a bare hex key must be the file's only key",
                         lineno);
                goto bad;
            }
            ring->ids[0] = 1;
            memcpy(ring->keys[0], key, sizeof key);
            ring->count = 1;
            sodium_memzero(key, sizeof key);
            continue;
        }
        size_t plen = (size_t)(colon - line);
        const char *hex = colon + 1;
        size_t hlen = n - plen - 1;
        if (!parse_key_hex(hex, hlen, key)) {
            snprintf(err, errlen, "line %d: expected %d bytes as hex after ':'", lineno,
                     MASTER_KEY_BYTES);
            goto bad;
        }
        if (plen == 5 && memcmp(line, "index", 5) == 0) {
            if (ring->has_index) {
                sodium_memzero(key, sizeof key);
                snprintf(err, errlen, "line %d: a second index key", lineno);
                goto bad;
            }
            memcpy(ring->index_key, key, sizeof key);
            ring->has_index = true;
            sodium_memzero(key, sizeof key);
            continue;
        }
        char idtext[16];
        int64_t id = 0;
        if (plen == 0 || plen >= sizeof idtext) {
            sodium_memzero(key, sizeof key);
            snprintf(err, errlen, "line %d: expected a key id 1..4294967295 before ':'", lineno);
            goto bad;
        }
        memcpy(idtext, line, plen);
        idtext[plen] = '\0';
        if (parse_int64(idtext, 1, UINT32_MAX, &id) != ST_OK || idtext[0] == '0') {
            sodium_memzero(key, sizeof key);
            snprintf(err, errlen, "line %d: expected a key id 1..4294967295 before ':'", lineno);
            goto bad;
        }
        if (bare) {
            sodium_memzero(key, sizeof key);
            snprintf(err, errlen, "line %d: a bare hex key must be the file's only key", lineno);
            goto bad;
        }
        for (size_t i = 0; i < ring->count; i++) {
            if (ring->ids[i] == (uint32_t)id) {
                sodium_memzero(key, sizeof key);
                snprintf(err, errlen, "line %d: key id %lld appears twice", lineno, (long long)id);
                goto bad;
            }
        }
        if (ring->count == MASTER_KEYS_MAX) {
            sodium_memzero(key, sizeof key);
            snprintf(err, errlen, "line %d: more than %d master keys", lineno, MASTER_KEYS_MAX);
            goto bad;
        }
        ring->ids[ring->count] = (uint32_t)id;
        memcpy(ring->keys[ring->count], key, sizeof key);
        ring->count++;
        sodium_memzero(key, sizeof key);
    }
    if (ring->count == 0) {
        snprintf(err, errlen, content ? "no master key (only an index key)" : "no master key");
        goto bad;
    }
    return ST_OK;
bad:
    masterkey_ring_wipe(ring);
    return ST_INVALID;
}

enum st masterkey_ring_save(const char *path, const struct master_keyring *ring, char *err,
                            size_t errlen)
{
    if (ring->count == 0 || ring->count > MASTER_KEYS_MAX) {
        snprintf(err, errlen, "refusing to write a key file with %zu keys", ring->count);
        return ST_INVALID;
    }
    struct buf b;
    char hex[MASTER_KEY_BYTES * 2 + 1];
    buf_init(&b, KEYFILE_CAP);
    enum st s = buf_puts(&b, "# entrepot master keys: ID:HEX, newest (primary) first; "
                             "index:HEX keys the blind indexes.\n"
                             "# Keep this file secret and backed up apart from the database.\n");
    for (size_t i = 0; s == ST_OK && i < ring->count; i++) {
        sodium_bin2hex(hex, sizeof hex, ring->keys[i], MASTER_KEY_BYTES);
        s = buf_printf(&b, "%lu:%s\n", (unsigned long)ring->ids[i], hex);
    }
    if (s == ST_OK && ring->has_index) {
        sodium_bin2hex(hex, sizeof hex, ring->index_key, MASTER_KEY_BYTES);
        s = buf_printf(&b, "index:%s\n", hex);
    }
    sodium_memzero(hex, sizeof hex);
    if (s == ST_OK) {
        s = file_write_atomic(path, b.data, b.len, 0600);
        if (s != ST_OK)
            snprintf(err, errlen, "cannot write master key file %s", path);
    } else {
        snprintf(err, errlen, "key file too large");
    }
    sodium_memzero(b.data, b.len);
    buf_free(&b);
    return s;
}

enum st masterkey_ring_load(const char *path, const char *hex, bool create,
                            struct master_keyring *ring, char *err, size_t errlen)
{
    memset(ring, 0, sizeof *ring);
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return ST_INTERNAL;
    }
    if (hex && *hex) {
        size_t n = strlen(hex);
        while (n > 0 && is_space(hex[n - 1]))
            n--;
        if (!parse_key_hex(hex, n, ring->keys[0])) {
            snprintf(err, errlen, "master_key: expected %d bytes as hex", MASTER_KEY_BYTES);
            return ST_INVALID;
        }
        ring->ids[0] = 1;
        ring->count = 1;
        return ST_OK;
    }
    char *text = NULL;
    size_t len = 0;
    enum st s = file_read_all(path, KEYFILE_CAP, &text, &len);
    if (s == ST_NOTFOUND && create) {
        ring->ids[0] = 1;
        ring->count = 1;
        randombytes_buf(ring->keys[0], MASTER_KEY_BYTES);
        s = masterkey_ring_save(path, ring, err, errlen);
        if (s != ST_OK) {
            masterkey_ring_wipe(ring);
            return s;
        }
        log_kv(LOG_INFO, "generated a new master key file", "path", path, (const char *)NULL);
        return ST_OK;
    }
    if (s != ST_OK) {
        snprintf(err, errlen, "cannot read master key file %s", path);
        return s;
    }
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        log_kv(LOG_WARN, "master key file is readable by others; chmod 600 it", "path", path,
               (const char *)NULL);
    char perr[160];
    s = masterkey_ring_parse(text, len, ring, perr, sizeof perr);
    sodium_memzero(text, len);
    free(text);
    if (s != ST_OK)
        snprintf(err, errlen, "%s: %s", path, perr);
    return s;
}

enum st masterkey_load(const char *path, const char *hex, bool create,
                       unsigned char key[MASTER_KEY_BYTES], char *err, size_t errlen)
{
    struct master_keyring ring;
    enum st s = masterkey_ring_load(path, hex, create, &ring, err, errlen);
    if (s == ST_OK)
        memcpy(key, ring.keys[0], MASTER_KEY_BYTES);
    masterkey_ring_wipe(&ring);
    return s;
}
