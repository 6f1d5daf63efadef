/*
 * fuzz_path_match.c — http_path_match on random pattern/path pairs.
 *
 * The input is "PATTERN\nPATH" (no newline: the pattern is empty). The
 * result is compared with a reference matcher that splits both on '/':
 * both empty, or both starting with '/' with the same number of segments,
 * each literal segment equal and each "{...}" segment matched by a
 * non-empty path segment, at most CAP_PATH_PARAMS of them. On a match the
 * captured values are exactly those path segments (so never contain '/'),
 * the names point just after the '{' in the pattern, and the count agrees
 * with a call that captures nothing. On a miss nothing is left allocated
 * and every value slot is NULL again. ASan's leak check covers "free
 * cleanly".
 */
#include "core/core.h"
#include "http/http.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

struct seg {
    const char *p;
    size_t n;
};

/* Splits s (starting with '/') into its segments; returns how many, or
 * SIZE_MAX when there are more than max. */
static size_t split(const char *s, struct seg *out, size_t max)
{
    size_t k = 0;
    while (*s == '/') {
        s++;
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (k == max)
            return SIZE_MAX;
        out[k].p = s;
        out[k].n = len;
        k++;
        s += len;
    }
    return k;
}

static bool ref_match(const char *pat, const char *path, struct seg *ps, struct seg *ss, size_t max,
                      size_t *nparams)
{
    *nparams = 0;
    if (!*pat && !*path)
        return true;
    if (pat[0] != '/' || path[0] != '/')
        return false;
    size_t np = split(pat, ps, max), ns = split(path, ss, max);
    if (np == SIZE_MAX || ns == SIZE_MAX || np != ns)
        return false;
    size_t params = 0;
    for (size_t i = 0; i < np; i++) {
        if (ps[i].n > 0 && ps[i].p[0] == '{') {
            if (ss[i].n == 0 || params == CAP_PATH_PARAMS)
                return false;
            params++;
        } else if (ps[i].n != ss[i].n || memcmp(ps[i].p, ss[i].p, ps[i].n) != 0) {
            return false;
        }
    }
    *nparams = params;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char *in = fuzz_cstr(data, n);
    char *nl = strchr(in, '\n');
    const char *pattern = in, *path = "";
    if (nl) {
        *nl = '\0';
        path = nl + 1;
    } else {
        pattern = "";
        path = in;
    }
    /* Both strings have at most n + 1 segments. */
    size_t max = n + 2;
    struct seg *ps = calloc(max, sizeof *ps), *ss = calloc(max, sizeof *ss);
    if (!ps || !ss)
        abort();
    size_t want_np;
    bool want = ref_match(pattern, path, ps, ss, max, &want_np);

    const char *names[CAP_PATH_PARAMS] = {0};
    char *values[CAP_PATH_PARAMS] = {0};
    size_t np = 12345;
    bool got = http_path_match(pattern, path, names, values, &np);
    FUZZ_CHECK(got == want, "match=%d, reference=%d for \"%s\" vs \"%s\"", got, want, pattern,
               path);
    if (got) {
        FUZZ_CHECK(np == want_np, "nparams=%zu, reference=%zu", np, want_np);
        size_t k = 0;
        for (size_t i = 0; i < max && ps[i].p; i++) {
            if (!(ps[i].n > 0 && ps[i].p[0] == '{'))
                continue;
            FUZZ_CHECK(names[k] == ps[i].p + 1, "name %zu does not point after its '{'", k);
            FUZZ_CHECK(values[k], "value %zu is NULL", k);
            FUZZ_CHECK(!strchr(values[k], '/'), "value %zu \"%s\" contains '/'", k, values[k]);
            FUZZ_CHECK(strlen(values[k]) == ss[i].n && memcmp(values[k], ss[i].p, ss[i].n) == 0,
                       "value %zu \"%s\" is not the path segment", k, values[k]);
            k++;
        }
        FUZZ_CHECK(k == np, "%zu captured segments, nparams=%zu", k, np);
        for (size_t i = np; i < CAP_PATH_PARAMS; i++)
            FUZZ_CHECK(!values[i], "value slot %zu written beyond nparams", i);
    } else {
        FUZZ_CHECK(np == 12345, "nparams written on a miss");
        for (size_t i = 0; i < CAP_PATH_PARAMS; i++)
            FUZZ_CHECK(!values[i], "value slot %zu left set after a miss", i);
    }
    /* Matching without captures gives the same answer and count. */
    size_t np2 = 0;
    FUZZ_CHECK(http_path_match(pattern, path, NULL, NULL, &np2) == got, "capture-free differs");
    if (got)
        FUZZ_CHECK(np2 == np, "capture-free count %zu != %zu", np2, np);
    FUZZ_CHECK(http_path_match(pattern, path, NULL, NULL, NULL) == got, "nparams=NULL differs");

    for (size_t i = 0; i < CAP_PATH_PARAMS; i++)
        free(values[i]);
    free(ps);
    free(ss);
    free(in);
    return 0;
}
