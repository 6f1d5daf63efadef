/*
 * masterkey.c — the master key that wraps every user's data key.
 *
 * It lives outside the database on purpose: a stolen database (or backup)
 * without the key file reveals no encrypted field. The key comes from
 * ENTREPOT_MASTER_KEY (hex) when set, else from a key file that is created
 * on first start with 32 random bytes and mode 0600.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"

static enum st from_hex(const char *hex, size_t hexlen, unsigned char key[MASTER_KEY_BYTES])
{
    size_t bin_len = 0;
    const char *end = NULL;
    if (sodium_hex2bin(key, MASTER_KEY_BYTES, hex, hexlen, " \n\r\t", &bin_len, &end) != 0 ||
        bin_len != MASTER_KEY_BYTES)
        return ST_INVALID;
    return ST_OK;
}

enum st masterkey_load(const char *path, const char *hex, bool create,
                       unsigned char key[MASTER_KEY_BYTES], char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return ST_INTERNAL;
    }
    if (hex && *hex) {
        if (from_hex(hex, strlen(hex), key) != ST_OK) {
            snprintf(err, errlen, "master_key: expected %d bytes as hex", MASTER_KEY_BYTES);
            return ST_INVALID;
        }
        return ST_OK;
    }
    char *text = NULL;
    size_t len = 0;
    enum st s = file_read_all(path, 4096, &text, &len);
    if (s == ST_NOTFOUND && create) {
        unsigned char k[MASTER_KEY_BYTES];
        char out[MASTER_KEY_BYTES * 2 + 2];
        randombytes_buf(k, sizeof k);
        sodium_bin2hex(out, sizeof out, k, sizeof k);
        size_t n = strlen(out);
        out[n] = '\n';
        s = file_write_atomic(path, out, n + 1, 0600);
        sodium_memzero(out, sizeof out);
        if (s != ST_OK) {
            sodium_memzero(k, sizeof k);
            snprintf(err, errlen, "cannot write master key file %s", path);
            return s;
        }
        memcpy(key, k, sizeof k);
        sodium_memzero(k, sizeof k);
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
    s = from_hex(text, len, key);
    sodium_memzero(text, len);
    free(text);
    if (s != ST_OK)
        snprintf(err, errlen, "%s: expected %d bytes as hex", path, MASTER_KEY_BYTES);
    return s;
}
