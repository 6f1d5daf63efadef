/*
 * fuzz_field_open.c — decoding encrypted values read back from the
 * database: crypto_field_open (sealed columns) and crypto_datakey_unwrap
 * (wrapped per-user keys), fed arbitrary bytes, plus round trips.
 *
 * The first input byte picks the mode; the rest is the payload.
 *
 * Arbitrary bytes as a sealed field (mode 0) or a wrapped key (mode 1):
 * the answer is exactly what the documented framing implies — empty:
 * ST_INVALID; a version byte other than 1: ST_UNSUPPORTED; a length other
 * than the format's (fields: under the 45-byte overhead; keys: not exactly
 * CRYPTO_WRAPPED_BYTES): ST_INVALID; a field's key id other than 0:
 * ST_UNSUPPORTED; a key's unknown master key id: ST_NOTFOUND; anything
 * else must authenticate or be ST_INVALID. On failure *out is NULL and
 * *outlen 0 (fields), dk all zero (keys); on success a field's plaintext
 * is inlen - 45 bytes followed by a NUL. Reads stay inside the input
 * (exact-size heap copy).
 *
 * The payload as plaintext (mode 2): sealing then opening gives it back;
 * opening as another owner or another column fails (ST_INVALID); every
 * single-byte change of the sealed value fails (ST_UNSUPPORTED in the
 * version and key-id bytes, ST_INVALID elsewhere), as does dropping its
 * last byte. A data key made for one user unwraps for that user only.
 */
#include <sodium.h>

#include "core/core.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

#define OWNER  42
#define COLUMN "users.phone"

static unsigned char dk[CRYPTO_DATAKEY_BYTES];

static void setup(void)
{
    fuzz_crypto_once(0x80, 7);
    for (size_t i = 0; i < sizeof dk; i++)
        dk[i] = (unsigned char)(i * 13 + 5);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void open_arbitrary_field(const unsigned char *in, size_t n)
{
    unsigned char *out = (unsigned char *)"x";
    size_t outlen = 99;
    enum st s = crypto_field_open(dk, OWNER, COLUMN, n ? in : NULL, n, &out, &outlen);
    enum st want = ST_INVALID; /* unless authenticated (a seed sealed with this key) */
    if (n > 0 && in[0] != CRYPTO_FIELD_V1)
        want = ST_UNSUPPORTED;
    else if (n >= CRYPTO_FIELD_OVERHEAD && be32(in + 1) != 0)
        want = ST_UNSUPPORTED;
    if (s == ST_OK) {
        FUZZ_CHECK(want == ST_INVALID && n >= CRYPTO_FIELD_OVERHEAD,
                   "a %zu-byte value with bad framing opened", n);
        FUZZ_CHECK(outlen == n - CRYPTO_FIELD_OVERHEAD && out[outlen] == '\0',
                   "plaintext of %zu bytes from %zu", outlen, n);
        crypto_free_secret(out, outlen + 1);
        return;
    }
    FUZZ_CHECK(s == want, "field_open gave %s, framing says %s (%zu bytes)", st_name(s),
               st_name(want), n);
    FUZZ_CHECK(out == NULL && outlen == 0, "outputs not cleared on failure");
}

static void unwrap_arbitrary_key(const unsigned char *in, size_t n)
{
    unsigned char key[CRYPTO_DATAKEY_BYTES];
    memset(key, 0xAA, sizeof key);
    enum st s = crypto_datakey_unwrap(OWNER, n ? in : NULL, n, key);
    enum st want = ST_INVALID;
    if (n > 0 && in[0] != CRYPTO_WRAP_V1)
        want = ST_UNSUPPORTED;
    else if (n == CRYPTO_WRAPPED_BYTES && !crypto_keyring_has(be32(in + 1)))
        want = ST_NOTFOUND;
    static const unsigned char zero[CRYPTO_DATAKEY_BYTES];
    if (s == ST_OK) {
        FUZZ_CHECK(want == ST_INVALID && n == CRYPTO_WRAPPED_BYTES,
                   "a %zu-byte wrapped key with bad framing unwrapped", n);
        return;
    }
    FUZZ_CHECK(s == want, "datakey_unwrap gave %s, framing says %s (%zu bytes)", st_name(s),
               st_name(want), n);
    FUZZ_CHECK(memcmp(key, zero, sizeof key) == 0, "dk not zeroed on failure");
}

static void round_trip(const unsigned char *pt, size_t n, uint8_t pick)
{
    unsigned char *sealed = NULL, *out = NULL;
    size_t slen = 0, outlen = 0;
    FUZZ_CHECK(crypto_field_seal(dk, OWNER, COLUMN, n ? pt : NULL, n, &sealed, &slen) == ST_OK,
               "seal failed");
    FUZZ_CHECK(slen == n + CRYPTO_FIELD_OVERHEAD, "sealed %zu bytes into %zu", n, slen);
    FUZZ_CHECK(crypto_field_open(dk, OWNER, COLUMN, sealed, slen, &out, &outlen) == ST_OK,
               "open of a fresh seal failed");
    FUZZ_CHECK(outlen == n && (n == 0 || memcmp(out, pt, n) == 0) && out[n] == '\0',
               "round trip changed the value");
    crypto_free_secret(out, outlen + 1);
    FUZZ_CHECK(crypto_field_open(dk, OWNER + 1, COLUMN, sealed, slen, &out, &outlen) == ST_INVALID,
               "opened as another owner");
    FUZZ_CHECK(crypto_field_open(dk, OWNER, "users.email", sealed, slen, &out, &outlen) ==
                   ST_INVALID,
               "opened as another column");
    size_t at = pick % slen;
    sealed[at] ^= (unsigned char)(1u << (pick % 8));
    enum st s = crypto_field_open(dk, OWNER, COLUMN, sealed, slen, &out, &outlen);
    FUZZ_CHECK(s == (at < 5 ? ST_UNSUPPORTED : ST_INVALID) && !out,
               "a value changed at byte %zu gave %s", at, st_name(s));
    sealed[at] ^= (unsigned char)(1u << (pick % 8));
    s = crypto_field_open(dk, OWNER, COLUMN, sealed, slen - 1, &out, &outlen);
    FUZZ_CHECK(s == ST_INVALID && !out, "a value cut by one byte gave %s", st_name(s));
    free(sealed);

    unsigned char key[CRYPTO_DATAKEY_BYTES], back[CRYPTO_DATAKEY_BYTES];
    unsigned char *wrapped = NULL;
    size_t wlen = 0;
    int64_t user = 1 + (int64_t)pick;
    FUZZ_CHECK(crypto_datakey_new(user, key, &wrapped, &wlen) == ST_OK, "datakey_new failed");
    FUZZ_CHECK(wlen == CRYPTO_WRAPPED_BYTES, "wrapped key of %zu bytes", wlen);
    FUZZ_CHECK(crypto_datakey_unwrap(user, wrapped, wlen, back) == ST_OK &&
                   memcmp(key, back, sizeof key) == 0,
               "data key does not unwrap to itself");
    FUZZ_CHECK(crypto_datakey_unwrap(user + 1, wrapped, wlen, back) == ST_INVALID,
               "data key unwrapped for another user");
    free(wrapped);
    sodium_memzero(key, sizeof key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    setup();
    if (n == 0)
        return 0;
    uint8_t mode = data[0] % 3;
    size_t len = n - 1;
    if (len > 4096)
        return 0; /* larger payloads add nothing the framing checks see */
    unsigned char *in = malloc(len ? len : 1); /* exact size: reads past it are caught */
    if (!in)
        abort();
    memcpy(in, data + 1, len);
    if (mode == 0)
        open_arbitrary_field(in, len);
    else if (mode == 1)
        unwrap_arbitrary_key(in, len);
    else
        round_trip(in, len, (uint8_t)(len ? in[len - 1] ^ len : 0));
    free(in);
    return 0;
}
