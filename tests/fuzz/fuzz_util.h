/*
 * fuzz_util.h — helpers shared by the fuzz targets in tests/fuzz.
 *
 * FUZZ_CHECK turns a broken property into a crash that libFuzzer records
 * (abort = "deadly signal", the input is saved as crash-<sha1>), with a
 * message saying which property failed. The reference UTF-8 decoder here is
 * written independently of src/core/utf8.c on purpose: it decodes by
 * arithmetic on the code point (count the lead byte's ones, gather the bits,
 * then reject overlong, surrogate and out-of-range values) where the library
 * uses Unicode's table 3-7 of allowed second-byte ranges. Two different
 * derivations agreeing on every input is the property the utf8 target checks.
 */
#ifndef ENTREPOT_FUZZ_UTIL_H
#define ENTREPOT_FUZZ_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz: property failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Installs a key ring of one master key (id key_id, bytes derived from
 * seed) once per process, for targets of the security core. */
static inline void fuzz_crypto_once(unsigned char seed, uint32_t key_id)
{
    static bool done;
    if (done)
        return;
    unsigned char master[MASTER_KEY_BYTES];
    for (size_t i = 0; i < sizeof master; i++)
        master[i] = (unsigned char)(i * 7 + seed);
    FUZZ_CHECK(crypto_init(master, key_id) == ST_OK, "crypto_init failed");
    done = true;
}

/* Copies data into a fresh NUL-terminated string (data may contain NULs;
 * C consumers then see only the part before the first one). Caller frees. */
static inline char *fuzz_cstr(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

/* Reference decoder: length of the well-formed UTF-8 sequence at s[0..n)
 * and its code point, or 0 when there is none. NUL is U+0000, length 1. */
static inline size_t ref_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    unsigned c = s[0];
    size_t len = 0;
    while (len < 8 && (c & (0x80u >> len)))
        len++;
    if (len == 0) {
        *cp = c;
        return 1;
    }
    if (len == 1 || len > 4 || n < len)
        return 0; /* continuation byte as lead, 5/6-byte forms, truncated */
    uint32_t v = c & (0x7Fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_for_len[len])
        return 0; /* overlong */
    if (v >= 0xD800 && v <= 0xDFFF)
        return 0; /* surrogate */
    if (v > 0x10FFFF)
        return 0;
    *cp = v;
    return len;
}

/* Reference validity: well-formed and free of NUL (the library's contract). */
static inline bool ref_utf8_valid(const unsigned char *s, size_t n, size_t *cps)
{
    size_t i = 0, count = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = ref_utf8_next(s + i, n - i, &cp);
        if (k == 0 || cp == 0)
            return false;
        i += k;
        count++;
    }
    if (cps)
        *cps = count;
    return true;
}

/* The field codes http_field_error may be called with (validate.c). */
static inline bool fuzz_known_code(const char *code)
{
    static const char *const codes[] = {"required",  "type", "too_long", "too_short",
                                        "range",     "utf8", "too_many", "unknown",
                                        "duplicate", "json", "depth",    NULL};
    for (size_t i = 0; codes[i]; i++)
        if (strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

/* True when p is "#" followed by RFC 6901 reference tokens: each '~' is
 * followed by '0' or '1'. */
static inline bool fuzz_pointer_syntax(const char *p)
{
    if (p[0] != '#' || (p[1] && p[1] != '/'))
        return false;
    for (p++; *p; p++)
        if (*p == '~' && p[1] != '0' && p[1] != '1')
            return false;
    return true;
}

/* Resolves a "#/a/0/b" pointer in root (RFC 6901 unescaping); NULL when it
 * names nothing. */
static inline json_t *fuzz_pointer_resolve(json_t *root, const char *p)
{
    json_t *v = root;
    p++; /* '#' */
    while (v && *p == '/') {
        p++;
        size_t len = strcspn(p, "/");
        char *tok = malloc(len + 1);
        if (!tok)
            abort();
        size_t k = 0;
        for (size_t i = 0; i < len; i++) {
            if (p[i] == '~' && i + 1 < len && (p[i + 1] == '0' || p[i + 1] == '1')) {
                tok[k++] = p[i + 1] == '0' ? '~' : '/';
                i++;
            } else {
                tok[k++] = p[i];
            }
        }
        tok[k] = '\0';
        if (json_is_object(v)) {
            v = json_object_get(v, tok);
        } else if (json_is_array(v)) {
            char *end;
            unsigned long idx = strtoul(tok, &end, 10);
            v = k && *end == '\0' && (tok[0] != '0' || k == 1) ? json_array_get(v, idx) : NULL;
        } else {
            v = NULL;
        }
        free(tok);
        p += len;
    }
    return v;
}

/* Checks the field-error array that validate_body/validate_query leave in
 * req->errors: NULL or an array of at most 32 objects, each exactly
 * {pointer, field, code, detail} with string values (jansson guarantees
 * valid UTF-8), a known code, a non-empty detail, and a pointer that is a
 * syntactically valid RFC 6901 pointer; the whole array survives a dump and
 * re-parse unchanged. When the body was parsed (root != NULL), the pointer
 * of an error about a value that exists (unknown, type, range, too_long,
 * too_short, too_many, utf8) must resolve to a value in root: it has to
 * show the user where the problem is. Pointers of 900 bytes or more are
 * exempt (a cap on pointer length is fair). Returns the number of entries. */
static inline size_t fuzz_check_errors(json_t *errors, json_t *root)
{
    if (!errors)
        return 0;
    FUZZ_CHECK(json_is_array(errors), "errors is not an array");
    size_t n = json_array_size(errors);
    FUZZ_CHECK(n <= 32, "%zu errors, cap is 32", n);
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        FUZZ_CHECK(json_is_object(e), "error %zu is not an object", i);
        FUZZ_CHECK(json_object_size(e) == 4, "error %zu has %zu members", i, json_object_size(e));
        const char *pointer = json_string_value(json_object_get(e, "pointer"));
        const char *field = json_string_value(json_object_get(e, "field"));
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *detail = json_string_value(json_object_get(e, "detail"));
        FUZZ_CHECK(pointer && field && code && detail, "error %zu lacks a string member", i);
        FUZZ_CHECK(fuzz_known_code(code), "unknown code \"%s\"", code);
        FUZZ_CHECK(detail[0] != '\0', "empty detail for code %s", code);
        FUZZ_CHECK(fuzz_pointer_syntax(pointer), "pointer \"%s\" is not an RFC 6901 pointer",
                   pointer);
        bool about_value = strcmp(code, "required") != 0 && strcmp(code, "duplicate") != 0 &&
                           strcmp(code, "json") != 0 && strcmp(code, "depth") != 0;
        if (root && about_value && strlen(pointer) < 900)
            FUZZ_CHECK(fuzz_pointer_resolve(root, pointer),
                       "%s error: pointer \"%s\" (field \"%s\") names nothing in the body", code,
                       pointer, field);
    }
    char *text = json_dumps(errors, JSON_COMPACT);
    FUZZ_CHECK(text, "errors cannot be serialised");
    json_error_t je;
    json_t *back = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    FUZZ_CHECK(back, "errors serialise to invalid JSON: %s", je.text);
    FUZZ_CHECK(json_equal(back, errors), "errors change in a JSON round trip");
    json_decref(back);
    free(text);
    return n;
}

#endif
