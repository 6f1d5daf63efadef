/*
 * fuzz_validate_body.c — declared validation of a JSON request body.
 *
 * The body is the raw input, validated against a copy of the test echo
 * route's field table (string with length limits, bounded integer, bool,
 * bounded string array, nullable string) plus a free-form object, so every
 * check of validate.c is reachable. The input length modulo 4 picks the
 * request language (en, zh-Hans, zh-Hant, fr), so every catalogue's field
 * messages are formatted.
 *
 * Properties: the status is ST_OK or ST_INVALID; the field-error array is
 * well-formed (fuzz_check_errors) and survives a JSON round trip; the
 * pointer of an error about a value resolves to that value in the parsed
 * body; a pre-scan failure (depth, UTF-8) gives one error carrying the
 * pre-scanner's own pointer; ST_INVALID always comes with at least one
 * field error (a 400 must say what is wrong); ST_OK comes with none, and
 * then the parsed body satisfies the table, checked here independently
 * with jansson and the reference UTF-8 decoder: an object, no unknown
 * member, required members present, every value of its declared type and
 * within its limits. ASan checks that nothing leaks once json, errors and
 * the body buffer are freed.
 */
#include "http/http_int.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static const struct field_spec spec[] = {
    {.name = "name", .type = FT_STRING, .required = true, .min = 1, .max = 64},
    {.name = "count", .type = FT_INT, .min = 0, .max = 1000},
    {.name = "active", .type = FT_BOOL},
    {.name = "tags", .type = FT_STRING_ARRAY, .min = 1, .max = 32, .max_items = 5},
    {.name = "note", .type = FT_STRING, .nullable = true, .max = 200},
    {.name = "offset_ms", .type = FT_INT, .min = INT64_MIN, .max = INT64_MAX},
    {.name = "meta", .type = FT_OBJECT},
    {0},
};

static bool string_ok(const json_t *v, const struct field_spec *f)
{
    size_t cps;
    if (!json_is_string(v))
        return false;
    if (!ref_utf8_valid((const unsigned char *)json_string_value(v), json_string_length(v), &cps))
        return false;
    if (f->max > 0 && (int64_t)cps > f->max)
        return false;
    return (int64_t)cps >= f->min;
}

static bool value_ok(const json_t *v, const struct field_spec *f)
{
    if (json_is_null(v))
        return f->nullable && !f->required;
    switch (f->type) {
    case FT_STRING:
        return string_ok(v, f);
    case FT_INT:
        return json_is_integer(v) && json_integer_value(v) >= f->min &&
               json_integer_value(v) <= f->max;
    case FT_BOOL:
        return json_is_boolean(v);
    case FT_OBJECT:
        return json_is_object(v);
    case FT_STRING_ARRAY: {
        if (!json_is_array(v) || (f->max_items > 0 && json_array_size(v) > (size_t)f->max_items))
            return false;
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (!string_ok(e, f))
                return false;
        }
        return true;
    }
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static bool init;
    if (!init) {
        FUZZ_CHECK(i18n_init() == 4, "catalogues did not load");
        init = true;
    }
    struct http_req req;
    memset(&req, 0, sizeof req);
    req.lang = i18n_langs[n % 4];
    buf_init(&req.body, 1 << 20);
    if (buf_append(&req.body, data, n) != ST_OK) {
        buf_free(&req.body);
        return 0; /* over the cap: the server answers 413 before validating */
    }

    enum st st = validate_body(&req, spec);
    FUZZ_CHECK(st == ST_OK || st == ST_INVALID, "status %d", st);
    size_t nerr = fuzz_check_errors(req.errors, req.json);
    /* A pre-scan failure is reported as exactly one error, at the very
     * pointer the pre-scanner computed (already escaped per RFC 6901). */
    char pointer[256];
    const char *code = NULL;
    if (n > 0 && http_json_prescan(req.body.data, req.body.len, CAP_JSON_DEPTH, pointer,
                                   sizeof pointer, &code) != ST_OK) {
        FUZZ_CHECK(st == ST_INVALID && nerr == 1, "pre-scan failed: %zu errors", nerr);
        json_t *e = json_array_get(req.errors, 0);
        const char *got_code = json_string_value(json_object_get(e, "code"));
        const char *got = json_string_value(json_object_get(e, "pointer"));
        FUZZ_CHECK(strcmp(got_code, code) == 0, "code %s, pre-scan says %s", got_code, code);
        if (utf8_valid(pointer, strlen(pointer)))
            FUZZ_CHECK(strcmp(got, pointer) == 0, "pointer \"%s\", pre-scan found \"%s\"", got,
                       pointer);
    }
    if (st == ST_INVALID) {
        FUZZ_CHECK(nerr > 0, "ST_INVALID without any field error");
    } else {
        FUZZ_CHECK(nerr == 0, "ST_OK with %zu field errors", nerr);
        json_t *root = req.json;
        FUZZ_CHECK(json_is_object(root), "ST_OK but the body is not an object");
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v)
        {
            const struct field_spec *f = spec;
            while (f->name && strcmp(f->name, key) != 0)
                f++;
            FUZZ_CHECK(f->name, "ST_OK with unknown member \"%s\"", key);
            FUZZ_CHECK(value_ok(v, f), "ST_OK with a bad value for \"%s\"", key);
        }
        for (const struct field_spec *f = spec; f->name; f++)
            FUZZ_CHECK(!f->required || json_object_get(root, f->name),
                       "ST_OK without required \"%s\"", f->name);
    }
    json_decref(req.json);
    json_decref(req.errors);
    buf_free(&req.body);
    return 0;
}
