/*
 * fuzz_utf8.c — utf8_valid, utf8_next and utf8_len against a reference.
 *
 * The reference decoder in fuzz_util.h derives well-formedness from the
 * decoded code point; the library derives it from the allowed range of each
 * byte. Both must agree on every input: validity, the length and code point
 * of the sequence starting at every offset, and the validity of prefixes.
 * utf8_len must never exceed the byte count and must equal the reference
 * count on valid input. The input is an exact-size heap copy, so a read past
 * the end is an ASan error.
 */
#include "core/core.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    /* A heap copy of exactly n bytes, so ASan sees any read past the end. */
    char *s = malloc(n ? n : 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, data, n);
    const unsigned char *u = (const unsigned char *)s;

    size_t ref_cps = 0;
    bool ref = ref_utf8_valid(u, n, &ref_cps);
    bool got = utf8_valid(s, n);
    FUZZ_CHECK(got == ref, "utf8_valid=%d, reference=%d (n=%zu)", got, ref, n);

    size_t len = utf8_len(s, n);
    FUZZ_CHECK(len <= n, "utf8_len=%zu > n=%zu", len, n);
    if (ref)
        FUZZ_CHECK(len == ref_cps, "utf8_len=%zu, reference=%zu", len, ref_cps);

    /* Every starting offset, including mid-sequence ones. */
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = 0xFFFFFFFF, rcp = 0xFFFFFFFF;
        size_t k = utf8_next(s + i, n - i, &cp);
        size_t rk = ref_utf8_next(u + i, n - i, &rcp);
        FUZZ_CHECK(k == rk, "utf8_next at %zu: length %zu, reference %zu", i, k, rk);
        if (k)
            FUZZ_CHECK(cp == rcp, "utf8_next at %zu: U+%04X, reference U+%04X", i, cp, rcp);
        FUZZ_CHECK(utf8_next(s + i, n - i, NULL) == k, "utf8_next(cp=NULL) differs at %zu", i);
    }
    /* Prefixes: valid exactly when the reference decodes up to that point
     * without a failure and lands on a sequence boundary. Computed in one
     * pass; checked everywhere on short inputs, at both ends on long ones
     * (each utf8_valid call is linear, all of them would be quadratic). */
    bool *pre = calloc(n + 1, sizeof *pre);
    if (!pre)
        abort();
    pre[0] = true;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = ref_utf8_next(u + i, n - i, &cp);
        if (k == 0 || cp == 0)
            break;
        i += k;
        pre[i] = true;
    }
    for (size_t i = 0; i <= n; i++) {
        if (n > 512 && i > 64 && i + 64 < n)
            continue;
        FUZZ_CHECK(utf8_valid(s, i) == pre[i], "prefix of %zu bytes: utf8_valid=%d, reference=%d",
                   i, !pre[i], pre[i]);
    }
    free(pre);
    FUZZ_CHECK(utf8_next(s, 0, NULL) == 0, "utf8_next with n=0 is not 0");
    free(s);
    return 0;
}
