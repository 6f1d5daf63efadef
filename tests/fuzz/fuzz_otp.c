/*
 * fuzz_otp.c — the one-time-code checks: crypto_otp_hash (the keyed hash
 * a typed code is looked up by) and staff TOTP (totp_verify, totp_code).
 *
 * The input is split at newlines into: a code, a purpose, a binding, a
 * base32 TOTP secret, then two bytes picking a time and a window.
 *
 * crypto_otp_hash succeeds exactly when the code is six ASCII digits and
 * the purpose is non-empty; the hash is deterministic, changes with the
 * code's last digit, and the length prefixes keep purpose and binding
 * apart ("ab"+"c" never hashes like "a"+"bc").
 *
 * totp_verify and totp_code judge the secret as an independent base32
 * reading does (A-Z, a-z, 2-7; spaces anywhere and '=' only at the end are
 * ignored; 16 to 64 bytes decoded) and the code as six digits and the
 * window as 0..10: ST_INVALID exactly when one of them is off; otherwise
 * ST_OK or ST_UNAUTHORIZED. With a valid secret, the code totp_code gives
 * for a moment verifies at that moment with window 0 and reports that
 * moment's 30-second step; the code of the step before verifies with
 * window 1 and, where the two codes differ, not with window 0.
 */
#include "core/core.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static bool ref_six_digits(const char *s)
{
    size_t i = 0;
    while (s[i] >= '0' && s[i] <= '9')
        i++;
    return i == 6 && s[6] == '\0';
}

/* Bytes a base32 secret decodes to, or -1 when it is malformed. */
static long ref_b32_bytes(const char *s)
{
    long chars = 0;
    bool padding = false;
    for (; *s; s++) {
        char c = *s;
        if (c == ' ')
            continue;
        if (c == '=') {
            padding = true;
            continue;
        }
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
        if (!alpha || padding)
            return -1;
        chars++;
        if (chars * 5 / 8 > 64)
            return -1;
    }
    return chars * 5 / 8;
}

/* Splits off the next newline-terminated piece of [*p, end) as a C string. */
static char *next_piece(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    const uint8_t *stop = nl ? nl : end;
    char *s = fuzz_cstr(*p, (size_t)(stop - *p));
    *p = nl ? nl + 1 : end;
    return s;
}

static void check_otp_hash(const char *code, const char *purpose, const char *binding)
{
    unsigned char h1[CRYPTO_HASH_BYTES], h2[CRYPTO_HASH_BYTES];
    bool ok = ref_six_digits(code) && purpose[0] != '\0';
    enum st s = crypto_otp_hash(code, purpose, binding, h1);
    FUZZ_CHECK((s == ST_OK) == ok, "otp_hash %s for code \"%s\" purpose \"%s\"", st_name(s), code,
               purpose);
    if (!ok)
        return;
    FUZZ_CHECK(crypto_otp_hash(code, purpose, binding, h2) == ST_OK &&
                   memcmp(h1, h2, sizeof h1) == 0,
               "otp_hash not deterministic");
    char other[7];
    memcpy(other, code, 7);
    other[5] = other[5] == '9' ? '0' : (char)(other[5] + 1);
    FUZZ_CHECK(crypto_otp_hash(other, purpose, binding, h2) == ST_OK &&
                   memcmp(h1, h2, sizeof h1) != 0,
               "two codes, one hash");
    size_t pl = strlen(purpose);
    if (pl >= 2) { /* move the purpose's last byte to the binding's front */
        char *p2 = fuzz_cstr((const uint8_t *)purpose, pl - 1);
        size_t bl = strlen(binding);
        char *b2 = malloc(bl + 2);
        if (!b2)
            abort();
        b2[0] = purpose[pl - 1];
        memcpy(b2 + 1, binding, bl + 1);
        FUZZ_CHECK(crypto_otp_hash(code, p2, b2, h2) == ST_OK && memcmp(h1, h2, sizeof h1) != 0,
                   "purpose and binding run together");
        free(p2);
        free(b2);
    }
}

static void check_totp(const char *secret, const char *code, int64_t now_ms, int window)
{
    long bytes = ref_b32_bytes(secret);
    bool secret_ok = bytes >= 16 && bytes <= 64;
    bool ok = secret_ok && ref_six_digits(code) && window >= 0 && window <= 10;
    int64_t step = -5;
    enum st s = totp_verify(secret, code, now_ms, window, &step);
    if (!ok)
        FUZZ_CHECK(s == ST_INVALID && step == -1, "totp_verify %s for a malformed input",
                   st_name(s));
    else
        FUZZ_CHECK(s == ST_OK || s == ST_UNAUTHORIZED, "totp_verify %s", st_name(s));
    char now_code[TOTP_DIGITS + 1], prev_code[TOTP_DIGITS + 1];
    s = totp_code(secret, now_ms, now_code);
    FUZZ_CHECK((s == ST_OK) == secret_ok, "totp_code %s for a secret of %ld bytes", st_name(s),
               bytes);
    if (!secret_ok)
        return;
    FUZZ_CHECK(ref_six_digits(now_code), "totp_code gave \"%s\"", now_code);
    FUZZ_CHECK(totp_verify(secret, now_code, now_ms, 0, &step) == ST_OK,
               "the current code does not verify");
    FUZZ_CHECK(step == now_ms / 1000 / TOTP_STEP_S, "matched step %lld at %lld ms", (long long)step,
               (long long)now_ms);
    if (now_ms < TOTP_STEP_S * 1000)
        return;
    FUZZ_CHECK(totp_code(secret, now_ms - TOTP_STEP_S * 1000, prev_code) == ST_OK,
               "totp_code of the step before failed");
    FUZZ_CHECK(totp_verify(secret, prev_code, now_ms, 1, NULL) == ST_OK,
               "the previous step's code does not verify with window 1");
    if (strcmp(prev_code, now_code) != 0)
        FUZZ_CHECK(totp_verify(secret, prev_code, now_ms, 0, NULL) == ST_UNAUTHORIZED,
                   "the previous step's code verifies with window 0");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    fuzz_crypto_once(0x5A, 3);
    if (n > 4096)
        return 0;
    const uint8_t *p = data, *end = data + n;
    char *code = next_piece(&p, end);
    char *purpose = next_piece(&p, end);
    char *binding = next_piece(&p, end);
    char *secret = next_piece(&p, end);
    uint8_t t = p < end ? p[0] : 0, w = p + 1 < end ? p[1] : 0;
    check_otp_hash(code, purpose, binding);
    /* moments from the epoch to year ~2100, and windows a little past the
     * valid 0..10 */
    int64_t now_ms = (int64_t)t * 16000000000LL + (int64_t)n * 7919;
    check_totp(secret, code, now_ms, (int)(w % 13) - 1);
    free(code);
    free(purpose);
    free(binding);
    free(secret);
    return 0;
}
