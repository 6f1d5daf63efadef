/*
 * fuzz_validate_query.c — declared validation of query parameters.
 *
 * The input is a query string ("a=1&b=x%C3%A9"), split on '&' and '=' and
 * percent-decoded ('+' is a space) the way libmicrohttpd hands arguments to
 * the server, each name and value then cut at its first NUL as a C string
 * would be, at most CAP_QUERY_PARAMS of them. They are validated against a
 * table with strings, bounded and unbounded integers, a bool and a required
 * parameter. The input length modulo 4 picks the request language.
 *
 * Properties: ST_OK or ST_INVALID; the field-error array is well-formed and
 * survives a JSON round trip; ST_INVALID always carries at least one field
 * error; ST_OK carries none; and the verdict equals an independent one:
 * valid exactly when every name is declared and given once, the required
 * one is present, integers are strict decimal within range, bools exactly
 * true/false, strings valid UTF-8 with a code-point length within limits.
 * No leaks.
 */
#include "http/http_int.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static const struct field_spec spec[] = {
    {.name = "id", .type = FT_INT, .required = true, .min = 1, .max = INT64_MAX},
    {.name = "q", .type = FT_STRING, .max = 100},
    {.name = "page", .type = FT_INT, .min = 1, .max = 10000},
    {.name = "since", .type = FT_INT, .min = INT64_MIN, .max = INT64_MAX},
    {.name = "desc", .type = FT_BOOL},
    {.name = "lang", .type = FT_STRING, .min = 2, .max = 8},
    {0},
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into a fresh C string (cut at the first NUL). */
static char *decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        abort();
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Strict decimal: -?[0-9]+ within [min,max]. */
static bool ref_int(const char *s, int64_t min, int64_t max)
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
            v = (__int128)INT64_MAX + 2; /* saturate: out of every range */
    }
    if (*s == '-')
        v = -v;
    return v >= min && v <= max;
}

static bool ref_value_ok(const struct field_spec *f, const char *v)
{
    size_t cps;
    switch (f->type) {
    case FT_INT:
        return ref_int(v, f->min, f->max);
    case FT_BOOL:
        return strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
    default:
        if (!ref_utf8_valid((const unsigned char *)v, strlen(v), &cps))
            return false;
        return (f->max <= 0 || (int64_t)cps <= f->max) && (int64_t)cps >= f->min;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static bool init;
    if (!init) {
        FUZZ_CHECK(i18n_init() == 4, "catalogues did not load");
        init = true;
    }
    char *in = fuzz_cstr(data, n);
    size_t len = strlen(in);
    struct http_req req;
    memset(&req, 0, sizeof req);
    req.lang = i18n_langs[n % 4];
    buf_init(&req.body, 1 << 20);
    req.query = calloc(CAP_QUERY_PARAMS, sizeof *req.query);
    if (!req.query)
        abort();
    size_t pos = 0;
    while (pos < len && req.nquery < CAP_QUERY_PARAMS) {
        const char *item = in + pos;
        const char *amp = memchr(item, '&', len - pos);
        size_t ilen = amp ? (size_t)(amp - item) : len - pos;
        pos += ilen + 1;
        if (ilen == 0)
            continue;
        const char *eq = memchr(item, '=', ilen);
        size_t nlen = eq ? (size_t)(eq - item) : ilen;
        req.query[req.nquery].name = decode(item, nlen);
        req.query[req.nquery].value = eq ? decode(eq + 1, ilen - nlen - 1) : decode("", 0);
        req.nquery++;
    }

    enum st st = validate_query(&req, spec);
    FUZZ_CHECK(st == ST_OK || st == ST_INVALID, "status %d", st);
    size_t nerr = fuzz_check_errors(req.errors, req.json);
    for (size_t i = 0; i < nerr; i++) {
        /* Query names are flat: the pointer is "#/" + the escaped name. */
        json_t *e = json_array_get(req.errors, i);
        const char *field = json_string_value(json_object_get(e, "field"));
        const char *pointer = json_string_value(json_object_get(e, "pointer"));
        char want[1024];
        size_t k = 0;
        want[k++] = '#';
        if (*field)
            want[k++] = '/';
        for (const char *c = field; *c && k + 3 < sizeof want; c++) {
            if (*c == '~' || *c == '/') {
                want[k++] = '~';
                want[k++] = *c == '~' ? '0' : '1';
            } else {
                want[k++] = *c;
            }
        }
        want[k] = '\0';
        /* A pointer at the layer's 1 KiB cap is cut there (then the field,
         * cut mid-character, may be blanked): compare only shorter ones. */
        if (k + 3 < sizeof want && strlen(pointer) < 1000)
            FUZZ_CHECK(strcmp(pointer, want) == 0, "pointer \"%s\" for parameter \"%s\"", pointer,
                       field);
    }
    if (st == ST_INVALID)
        FUZZ_CHECK(nerr > 0, "ST_INVALID without any field error");
    else
        FUZZ_CHECK(nerr == 0, "ST_OK with %zu field errors", nerr);

    /* The reference verdict, computed independently. */
    const char *why = NULL;
    for (size_t i = 0; i < req.nquery && !why; i++) {
        const struct field_spec *f = spec;
        while (f->name && strcmp(f->name, req.query[i].name) != 0)
            f++;
        if (!f->name)
            why = "an unknown parameter";
        for (size_t j = 0; j < i && !why; j++)
            if (strcmp(req.query[j].name, req.query[i].name) == 0)
                why = "a parameter given twice";
        if (!why && !ref_value_ok(f, req.query[i].value))
            why = "a bad value";
    }
    for (const struct field_spec *f = spec; f->name && !why; f++) {
        bool found = !f->required;
        for (size_t i = 0; i < req.nquery && !found; i++)
            found = strcmp(req.query[i].name, f->name) == 0;
        if (!found)
            why = "a required parameter missing";
    }
    FUZZ_CHECK((st == ST_OK) == (why == NULL), "validate_query=%d, reference: %s", st,
               why ? why : "valid");

    for (size_t i = 0; i < req.nquery; i++) {
        free(req.query[i].name);
        free(req.query[i].value);
    }
    free(req.query);
    json_decref(req.json);
    json_decref(req.errors);
    buf_free(&req.body);
    free(in);
    return 0;
}
