/*
 * fuzz_json_prescan.c — the JSON pre-scanner of validate.c.
 *
 * Never crashes on any bytes, and agrees with jansson wherever jansson
 * accepts the text: then the pre-scan fails exactly when the nesting is
 * deeper than max_depth (code "depth"), and never with "utf8" (jansson
 * rejects ill-formed UTF-8 itself). In particular prescan OK + jansson OK
 * implies depth <= CAP_JSON_DEPTH. The pointer it reports is a
 * NUL-terminated string within plen, starts with '#', and is valid UTF-8
 * (the scanner trims keys to a valid prefix for that very reason). The
 * input length modulo 8 picks a second, small depth limit so the boundary
 * is exercised on short inputs too.
 */
#include "core/core.h"
#include "http/http.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static int depth_of(json_t *v)
{
    int d = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e)
        {
            int x = depth_of(e);
            d = x > d ? x : d;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            int x = depth_of(e);
            d = x > d ? x : d;
        }
        return d + 1;
    }
    return 0;
}

static void check_one(const char *s, size_t n, int max_depth, int jdepth, bool jok)
{
    static const size_t plens[] = {256, 7, 1};
    for (size_t t = 0; t < sizeof plens / sizeof plens[0]; t++) {
        size_t plen = plens[t];
        char pointer[256 + 16];
        memset(pointer, 'Z', sizeof pointer);
        const char *code = "unset";
        enum st st = http_json_prescan(s, n, max_depth, pointer, plen, &code);
        FUZZ_CHECK(st == ST_OK || st == ST_INVALID, "status %d", st);
        for (size_t i = plen; i < sizeof pointer; i++)
            FUZZ_CHECK(pointer[i] == 'Z', "pointer written past plen=%zu at %zu", plen, i);
        if (st == ST_OK) {
            FUZZ_CHECK(code == NULL, "code \"%s\" set on success", code);
        } else {
            FUZZ_CHECK(code && (strcmp(code, "depth") == 0 || strcmp(code, "utf8") == 0),
                       "unexpected code \"%s\"", code ? code : "(null)");
            FUZZ_CHECK(memchr(pointer, '\0', plen), "pointer not NUL-terminated in plen=%zu", plen);
            FUZZ_CHECK(pointer[0] == '#' || plen == 1, "pointer \"%s\" lacks '#'", pointer);
            if (plen == 256)
                FUZZ_CHECK(utf8_valid(pointer, strlen(pointer)), "pointer is not valid UTF-8");
        }
        if (jok) {
            int lim = max_depth > CAP_JSON_DEPTH ? CAP_JSON_DEPTH : max_depth;
            if (st == ST_OK)
                FUZZ_CHECK(jdepth <= lim, "prescan OK but depth %d > %d", jdepth, lim);
            else
                FUZZ_CHECK(strcmp(code, "depth") == 0 && jdepth > lim,
                           "prescan says %s on JSON jansson accepts (depth %d, limit %d)", code,
                           jdepth, lim);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    /* An exact-size heap copy: reads past the end are ASan errors. */
    char *s = malloc(n ? n : 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, data, n);
    json_error_t je;
    json_t *root = json_loadb(s, n, JSON_DECODE_ANY, &je);
    int jdepth = root ? depth_of(root) : -1;
    check_one(s, n, CAP_JSON_DEPTH, jdepth, root != NULL);
    check_one(s, n, 1 + (int)(n % 8), jdepth, root != NULL);
    check_one(s, n, 1000, jdepth, root != NULL); /* clamped to CAP_JSON_DEPTH */
    json_decref(root);
    free(s);
    return 0;
}
