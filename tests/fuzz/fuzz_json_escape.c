/*
 * fuzz_json_escape.c — buf_json_strn / buf_json_str produce JSON that means
 * exactly what was put in.
 *
 * Properties: the output always parses with jansson as one string; for
 * valid UTF-8 input (NULs included, as \u0000) it decodes back to the very
 * same bytes; for invalid input it decodes to the input with each byte of an
 * ill-formed sequence replaced by U+FFFD (the reference decoder decides
 * which bytes those are); no raw control character appears in the output;
 * buf_json_str equals buf_json_strn up to the first NUL; and under a cap too
 * small for the result the call fails with ST_TOOLARGE leaving the buffer
 * exactly as it was.
 */
#include "core/core.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

/* Input with every ill-formed byte replaced by EF BF BD. Caller frees. */
static char *expected_of(const unsigned char *s, size_t n, size_t *outlen)
{
    char *e = malloc(3 * n + 1);
    if (!e)
        abort();
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = ref_utf8_next(s + i, n - i, &cp);
        if (k == 0) {
            memcpy(e + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(e + o, s + i, k);
            o += k;
            i += k;
        }
    }
    *outlen = o;
    return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char *s = fuzz_cstr(data, n);
    struct buf b;
    /* Worst case: "\u0000" or "\ufffd" (6 bytes) per input byte, 2 quotes. */
    buf_init(&b, 6 * n + 2);
    enum st st = buf_json_strn(&b, s, n);
    FUZZ_CHECK(st == ST_OK, "buf_json_strn failed (%d) with a big enough cap", st);
    FUZZ_CHECK(b.len >= 2 && b.data[0] == '"' && b.data[b.len - 1] == '"', "not quoted");
    FUZZ_CHECK(b.data[b.len] == '\0', "not NUL-terminated");
    for (size_t i = 0; i < b.len; i++)
        FUZZ_CHECK((unsigned char)b.data[i] >= 0x20, "raw control byte 0x%02X at %zu",
                   (unsigned char)b.data[i], i);

    json_error_t je;
    json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    FUZZ_CHECK(v, "output is not JSON: %s at %d", je.text, je.position);
    FUZZ_CHECK(json_is_string(v), "output is not a JSON string");
    size_t elen;
    char *expect = expected_of((const unsigned char *)s, n, &elen);
    FUZZ_CHECK(json_string_length(v) == elen && memcmp(json_string_value(v), expect, elen) == 0,
               "round trip differs (got %zu bytes, expected %zu)", json_string_length(v), elen);
    if (ref_utf8_valid((const unsigned char *)s, n, NULL))
        FUZZ_CHECK(elen == n && memcmp(expect, s, n) == 0, "valid input not preserved");
    json_decref(v);
    free(expect);

    /* The C-string variant sees the input up to its first NUL. */
    struct buf c;
    buf_init(&c, 6 * n + 2);
    FUZZ_CHECK(buf_json_str(&c, s) == ST_OK, "buf_json_str failed");
    struct buf d;
    buf_init(&d, 6 * n + 2);
    FUZZ_CHECK(buf_json_strn(&d, s, strlen(s)) == ST_OK, "buf_json_strn on prefix failed");
    FUZZ_CHECK(c.len == d.len && memcmp(c.data, d.data, c.len) == 0,
               "buf_json_str differs from buf_json_strn(strlen)");
    buf_free(&d);

    /* A cap one byte short of the result: must fail and change nothing. */
    struct buf t;
    buf_init(&t, 4 + b.len - 1);
    FUZZ_CHECK(buf_puts(&t, "pre:") == ST_OK, "buf_puts");
    st = buf_json_strn(&t, s, n);
    FUZZ_CHECK(st == ST_TOOLARGE, "over the cap returned %d, not ST_TOOLARGE", st);
    FUZZ_CHECK(t.len == 4 && memcmp(t.data, "pre:", 5) == 0, "buffer changed by a failed append");
    /* And exactly enough room succeeds with the same bytes. */
    struct buf x;
    buf_init(&x, b.len);
    FUZZ_CHECK(buf_json_strn(&x, s, n) == ST_OK, "exact cap failed");
    FUZZ_CHECK(x.len == b.len && memcmp(x.data, b.data, b.len) == 0, "exact cap differs");
    buf_free(&x);
    buf_free(&t);
    buf_free(&c);
    buf_free(&b);
    free(s);
    return 0;
}
