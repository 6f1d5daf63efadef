/*
 * fuzz_int64.c — parse_int64, the strict decimal parser.
 *
 * Properties: on the full range it accepts exactly -?[0-9]+ whose value
 * fits in int64 (decided here with 128-bit arithmetic), and on every
 * accepted input strtoll consumes the whole string without ERANGE and
 * yields the same value; with narrower bounds (picked from the input's
 * last bytes when it is long enough, plus a few fixed ones) it accepts
 * exactly the full-range results inside them; out is written only on
 * success.
 */
#include <errno.h>

#include "core/core.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static bool ref_parse(const char *s, __int128 *out)
{
    const char *p = s + (*s == '-');
    if (!*p)
        return false;
    __int128 v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
        if (v > (__int128)INT64_MAX + 1)
            return false;
    }
    if (*s == '-')
        v = -v;
    if (v > INT64_MAX)
        return false;
    *out = v;
    return true;
}

static void check_bounds(const char *s, bool full_ok, int64_t full, int64_t min, int64_t max)
{
    int64_t v = 42;
    enum st st = parse_int64(s, min, max, &v);
    bool want = full_ok && full >= min && full <= max;
    FUZZ_CHECK((st == ST_OK) == want, "[%lld,%lld]: status %d, expected %s", (long long)min,
               (long long)max, st, want ? "ok" : "invalid");
    if (st == ST_OK)
        FUZZ_CHECK(v == full, "value differs under bounds");
    else
        FUZZ_CHECK(v == 42 && st == ST_INVALID, "out written on failure (status %d)", st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    /* Bounds from the tail of longer inputs; the string is what precedes. */
    int64_t bmin = 0, bmax = 0;
    bool have_bounds = false;
    if (n > 16 && data[n - 17] == 0) {
        memcpy(&bmin, data + n - 16, 8);
        memcpy(&bmax, data + n - 8, 8);
        have_bounds = true;
        n -= 17;
    }
    char *s = fuzz_cstr(data, n);

    __int128 ref = 0;
    bool want = ref_parse(s, &ref);
    int64_t v = 42;
    enum st st = parse_int64(s, INT64_MIN, INT64_MAX, &v);
    FUZZ_CHECK((st == ST_OK) == want, "parse_int64(\"%s\")=%d, reference %d", s, st, want);
    if (st == ST_OK) {
        FUZZ_CHECK(v == (int64_t)ref, "value %lld, reference differs", (long long)v);
        errno = 0;
        char *end;
        long long x = strtoll(s, &end, 10);
        FUZZ_CHECK(errno == 0 && *end == '\0' && end != s, "strtoll rejects \"%s\"", s);
        FUZZ_CHECK(x == v, "strtoll %lld, parse_int64 %lld", x, (long long)v);
    } else {
        FUZZ_CHECK(v == 42, "out written on failure");
    }
    FUZZ_CHECK((parse_int64(s, INT64_MIN, INT64_MAX, NULL) == ST_OK) == want, "out=NULL differs");

    check_bounds(s, want, v, 0, 65535);
    check_bounds(s, want, v, 1, 65535);
    check_bounds(s, want, v, -1000, 1000);
    check_bounds(s, want, v, INT64_MIN, -1);
    check_bounds(s, want, v, INT64_MAX, INT64_MAX);
    if (have_bounds)
        check_bounds(s, want, v, bmin, bmax);
    free(s);
    return 0;
}
