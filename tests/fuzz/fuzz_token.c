/*
 * fuzz_token.c — what the server reads from a presented session token:
 * crypto_token_parse_ok (the strict format check every cookie and bearer
 * token goes through before anything else), crypto_token_hash (the lookup
 * key) and the CSRF check accounts_csrf_ok.
 *
 * The input is split at its first newline into a token and a presented
 * CSRF value (each cut at a NUL, as C strings from a header would be).
 *
 * Properties: crypto_token_parse_ok accepts exactly what an independent
 * derivation accepts — libsodium decodes it as unpadded base64url into
 * exactly 32 bytes and encoding those bytes gives the input back (the
 * canonical form, so no two spellings of one token exist); it never reads
 * past the terminating NUL (exact-size heap copies). crypto_token_hash
 * succeeds exactly on accepted tokens, is deterministic, and differs for a
 * token with one character changed. accounts_csrf_ok(token, p) is true
 * exactly when p equals accounts_csrf_token(token), and the token's own
 * CSRF value always passes. (Cookies themselves are split by
 * libmicrohttpd, not by us: its parser is out of this target's reach.)
 */
#include <sodium.h>

#include "accounts/accounts.h"
#include "core/core.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

/* Independent verdict: canonical unpadded base64url of exactly 32 bytes. */
static bool ref_token_ok(const char *s)
{
    size_t len = strlen(s);
    if (len != CRYPTO_TOKEN_CHARS)
        return false;
    unsigned char bin[64];
    size_t blen = 0;
    const char *end = NULL;
    if (sodium_base642bin(bin, sizeof bin, s, len, NULL, &blen, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != s + len || blen != CRYPTO_TOKEN_BYTES)
        return false;
    char back[CRYPTO_TOKEN_CHARS + 1];
    sodium_bin2base64(back, sizeof back, bin, blen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return strcmp(back, s) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    fuzz_crypto_once(1, 1);
    const uint8_t *nl = memchr(data, '\n', n);
    size_t tn = nl ? (size_t)(nl - data) : n;
    char *token = fuzz_cstr(data, tn);
    char *presented = nl ? fuzz_cstr(nl + 1, n - tn - 1) : NULL;
    /* exact-size copy: a read past the NUL is a heap overflow under ASan */
    size_t tl = strlen(token);
    char *exact = malloc(tl + 1);
    if (!exact)
        abort();
    memcpy(exact, token, tl + 1);

    bool ok = crypto_token_parse_ok(exact);
    FUZZ_CHECK(ok == ref_token_ok(exact), "parse_ok says %d for \"%s\"", ok, exact);

    unsigned char h1[CRYPTO_HASH_BYTES], h2[CRYPTO_HASH_BYTES];
    enum st s = crypto_token_hash(exact, h1);
    FUZZ_CHECK((s == ST_OK) == ok, "hash %s for a token parse_ok judged %d", st_name(s), ok);
    if (ok) {
        FUZZ_CHECK(crypto_token_hash(exact, h2) == ST_OK && memcmp(h1, h2, sizeof h1) == 0,
                   "hash not deterministic");
        /* one character changed (to another valid one): another hash */
        char other[CRYPTO_TOKEN_CHARS + 1];
        memcpy(other, exact, sizeof other);
        size_t at = (size_t)(n % (CRYPTO_TOKEN_CHARS - 1));
        other[at] = other[at] == 'A' ? 'B' : 'A';
        FUZZ_CHECK(crypto_token_hash(other, h2) == ST_OK, "changed token not accepted");
        FUZZ_CHECK(memcmp(h1, h2, sizeof h1) != 0, "two tokens, one hash");
    }

    char want[ACC_CSRF_CHARS + 1];
    accounts_csrf_token(exact, want);
    FUZZ_CHECK(strlen(want) == ACC_CSRF_CHARS, "CSRF token of %zu chars", strlen(want));
    FUZZ_CHECK(accounts_csrf_ok(exact, want), "the token's own CSRF value refused");
    if (presented) {
        bool c = accounts_csrf_ok(exact, presented);
        FUZZ_CHECK(c == (strcmp(presented, want) == 0), "csrf_ok %d for \"%s\" (want \"%s\")", c,
                   presented, want);
    }
    FUZZ_CHECK(!accounts_csrf_ok(exact, NULL), "a missing CSRF value accepted");

    free(exact);
    free(token);
    free(presented);
    return 0;
}
