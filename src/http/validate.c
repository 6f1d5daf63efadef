/*
 * validate.c — declared validation of query parameters and JSON bodies.
 *
 * Before jansson sees a body, a small pre-scanner walks it once to enforce
 * the nesting cap and check that every string is valid UTF-8, remembering
 * the JSON pointer of where it is: jansson would reject both too, but could
 * not say *which field* was wrong, and a user deserves to be told. Then
 * jansson parses with duplicate keys rejected, and each declared field is
 * checked for presence, type, length in code points and range. Unknown
 * fields are errors: a typo must not be silently ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

/* ------------------------------------------------------------ pre-scan */

struct scan_level {
    bool is_object;
    long index;      /* array index, or -1 */
    char key[64];    /* last key seen at this object level */
    bool expect_key; /* inside an object, the next string is a key */
};

/* Writes the JSON pointer of the current place, escaped per RFC 6901,
 * truncated (never overrun) when it does not fit. */
static void pointer_of(const struct scan_level *lv, int depth, char *out, size_t outlen)
{
    struct buf b;
    buf_init(&b, outlen - 1);
    buf_putc(&b, '#');
    for (int i = 0; i < depth; i++) {
        if (buf_putc(&b, '/') != ST_OK)
            break;
        if (!lv[i].is_object) {
            buf_printf(&b, "%ld", lv[i].index < 0 ? 0 : lv[i].index);
            continue;
        }
        for (const char *k = lv[i].key; *k; k++)
            if ((*k == '~' || *k == '/') ? buf_puts(&b, *k == '~' ? "~0" : "~1") : buf_putc(&b, *k))
                break;
    }
    /* a cut may split a multi-byte character: drop the partial tail */
    while (b.len > 1 && !utf8_valid(b.data, b.len))
        b.len--;
    memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    buf_free(&b);
}

enum st http_json_prescan(const char *s, size_t n, int max_depth, char *pointer, size_t plen,
                          const char **code)
{
    struct scan_level lv[CAP_JSON_DEPTH + 1];
    int depth = 0;
    if (max_depth > CAP_JSON_DEPTH)
        max_depth = CAP_JSON_DEPTH;
    *code = NULL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '{' || c == '[') {
            if (depth >= max_depth) {
                pointer_of(lv, depth, pointer, plen);
                *code = "depth";
                return ST_INVALID;
            }
            lv[depth].is_object = c == '{';
            lv[depth].index = c == '[' ? 0 : -1;
            lv[depth].key[0] = '\0';
            lv[depth].expect_key = c == '{';
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth > 0)
                depth--;
        } else if (c == ',') {
            if (depth > 0) {
                if (lv[depth - 1].is_object)
                    lv[depth - 1].expect_key = true;
                else
                    lv[depth - 1].index++;
            }
        } else if (c == '"') {
            size_t start = ++i;
            while (i < n && s[i] != '"') {
                if (s[i] == '\\' && i + 1 < n)
                    i++;
                i++;
            }
            size_t len = (i < n ? i : n) - start;
            bool is_key = depth > 0 && lv[depth - 1].is_object && lv[depth - 1].expect_key;
            if (is_key) {
                struct scan_level *l = &lv[depth - 1];
                size_t k = len < sizeof l->key - 1 ? len : sizeof l->key - 1;
                /* keys go into the pointer: keep only the valid UTF-8 prefix */
                while (k > 0 && !utf8_valid(s + start, k))
                    k--;
                memcpy(l->key, s + start, k);
                l->key[k] = '\0';
                l->expect_key = false;
            }
            /* raw NULs are impossible in JSON strings; \u0000 is jansson's job */
            if (!utf8_valid(s + start, len)) {
                pointer_of(lv, depth, pointer, plen);
                *code = "utf8";
                return ST_INVALID;
            }
        }
    }
    return ST_OK;
}

/* ------------------------------------------------------------ fields */

static const char *type_name(enum field_type t)
{
    switch (t) {
    case FT_STRING:
        return "string";
    case FT_INT:
        return "integer";
    case FT_BOOL:
        return "boolean";
    case FT_STRING_ARRAY:
        return "array";
    case FT_OBJECT:
        return "object";
    }
    return "value";
}

/* pointer is the escaped JSON pointer of the value, field its field name. */
static enum st check_string(struct http_req *req, const char *pointer, const char *field,
                            const char *s, size_t n, const struct field_spec *f)
{
    if (!utf8_valid(s, n))
        return http_field_error_at(req, pointer, field, "utf8", 0, 0, NULL);
    size_t cps = utf8_len(s, n);
    if (f->max > 0 && (int64_t)cps > f->max)
        return http_field_error_at(req, pointer, field, "too_long", f->min, f->max, NULL);
    if ((int64_t)cps < f->min)
        return http_field_error_at(req, pointer, field, "too_short", f->min, f->max, NULL);
    return ST_OK;
}

static enum st check_top_string(struct http_req *req, const char *field, const char *s, size_t n,
                                const struct field_spec *f)
{
    char pointer[96];
    snprintf(pointer, sizeof pointer, "#/%s", field); /* declared names need no escaping */
    return check_string(req, pointer, field, s, n, f);
}

static enum st check_value(struct http_req *req, const struct field_spec *f, json_t *v)
{
    const char *name = f->name;
    if (json_is_null(v)) {
        if (f->nullable && !f->required)
            return ST_OK;
        return http_field_error(req, name, f->required ? "required" : "type", 0, 0,
                                type_name(f->type));
    }
    switch (f->type) {
    case FT_STRING:
        if (!json_is_string(v))
            return http_field_error(req, name, "type", 0, 0, "string");
        return check_top_string(req, name, json_string_value(v), json_string_length(v), f);
    case FT_INT: {
        if (!json_is_integer(v))
            return http_field_error(req, name, "type", 0, 0, "integer");
        json_int_t x = json_integer_value(v);
        if (x < f->min || x > f->max)
            return http_field_error(req, name, "range", f->min, f->max, NULL);
        return ST_OK;
    }
    case FT_BOOL:
        return json_is_boolean(v) ? ST_OK : http_field_error(req, name, "type", 0, 0, "boolean");
    case FT_OBJECT:
        return json_is_object(v) ? ST_OK : http_field_error(req, name, "type", 0, 0, "object");
    case FT_STRING_ARRAY: {
        if (!json_is_array(v))
            return http_field_error(req, name, "type", 0, 0, "array");
        if (f->max_items > 0 && json_array_size(v) > (size_t)f->max_items)
            return http_field_error(req, name, "too_many", 0, f->max_items, NULL);
        size_t i;
        json_t *e;
        enum st s = ST_OK;
        json_array_foreach(v, i, e)
        {
            char elem[96];
            snprintf(elem, sizeof elem, "#/%s/%zu", name, i);
            if (!json_is_string(e))
                s = http_field_error_at(req, elem, name, "type", 0, 0, "string");
            else if (check_string(req, elem, name, json_string_value(e), json_string_length(e),
                                  f) != ST_OK)
                s = ST_INVALID;
        }
        return s;
    }
    }
    return ST_INTERNAL;
}

static enum st json_error_to_field(struct http_req *req, const json_error_t *e)
{
    enum json_error_code code = json_error_code(e);
    if (code == json_error_duplicate_key) {
        /* jansson says: duplicate object key near '"name"' */
        const char *q = strstr(e->text, "'\"");
        char key[64] = "";
        if (q) {
            q += 2;
            const char *end = strstr(q, "\"'");
            size_t k = end ? (size_t)(end - q) : 0;
            if (k >= sizeof key)
                k = sizeof key - 1;
            memcpy(key, q, k);
            key[k] = '\0';
        }
        return http_field_error(req, key, "duplicate", 0, 0, NULL);
    }
    if (code == json_error_invalid_utf8)
        return http_field_error(req, "", "utf8", 0, 0, NULL);
    if (code == json_error_null_character || code == json_error_null_byte_in_key)
        return http_field_error(req, "", "utf8", 0, 0, NULL);
    /* jansson quotes the offending input, which may not be UTF-8 */
    char reason[200];
    if (utf8_valid(e->text, strlen(e->text)))
        snprintf(reason, sizeof reason, "%s at position %d", e->text, e->position);
    else
        snprintf(reason, sizeof reason, "syntax error at position %d", e->position);
    return http_field_error(req, "", "json", 0, 0, reason);
}

enum st validate_body(struct http_req *req, const struct field_spec *spec)
{
    char pointer[256];
    const char *code;
    if (req->body.len == 0)
        return http_field_error(req, "", "json", 0, 0, "empty body");
    if (http_json_prescan(req->body.data, req->body.len, CAP_JSON_DEPTH, pointer, sizeof pointer,
                          &code) != ST_OK)
        /* pointer is already escaped: pass it as is; the field is its path */
        return http_field_error_at(req, pointer, pointer[1] ? pointer + 2 : "", code, 0,
                                   CAP_JSON_DEPTH, NULL);
    json_error_t e;
    json_t *root = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &e);
    if (!root)
        return json_error_to_field(req, &e);
    req->json = root;
    if (!json_is_object(root))
        return http_field_error(req, "", "type", 0, 0, "object");
    enum st s = ST_OK;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        const struct field_spec *f = spec;
        while (f->name && strcmp(f->name, key) != 0)
            f++;
        if (!f->name)
            s = http_field_error(req, key, "unknown", 0, 0, NULL);
    }
    for (const struct field_spec *f = spec; f->name; f++) {
        json_t *val = json_object_get(root, f->name);
        if (!val) {
            if (f->required)
                s = http_field_error(req, f->name, "required", 0, 0, NULL);
            continue;
        }
        if (check_value(req, f, val) != ST_OK)
            s = ST_INVALID;
    }
    return s;
}

enum st validate_query(struct http_req *req, const struct field_spec *spec)
{
    enum st s = ST_OK;
    for (size_t i = 0; i < req->nquery; i++) {
        const struct field_spec *f = spec;
        while (f && f->name && strcmp(f->name, req->query[i].name) != 0)
            f++;
        if (!f || !f->name) {
            s = http_field_error(req, req->query[i].name, "unknown", 0, 0, NULL);
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(req->query[j].name, req->query[i].name) == 0) {
                s = http_field_error(req, f->name, "duplicate", 0, 0, NULL);
                goto next;
            }
        const char *val = req->query[i].value;
        size_t n = strlen(val);
        if (f->type == FT_INT) {
            int64_t x;
            if (parse_int64(val, f->min, f->max, &x) != ST_OK) {
                if (parse_int64(val, INT64_MIN, INT64_MAX, &x) == ST_OK)
                    s = http_field_error(req, f->name, "range", f->min, f->max, NULL);
                else
                    s = http_field_error(req, f->name, "type", 0, 0, "integer");
            }
        } else if (f->type == FT_BOOL) {
            if (strcmp(val, "true") != 0 && strcmp(val, "false") != 0)
                s = http_field_error(req, f->name, "type", 0, 0, "boolean");
        } else if (check_top_string(req, f->name, val, n, f) != ST_OK) {
            s = ST_INVALID;
        }
    next:;
    }
    for (const struct field_spec *f = spec; f && f->name; f++) {
        if (!f->required)
            continue;
        bool found = false;
        for (size_t i = 0; i < req->nquery && !found; i++)
            found = strcmp(req->query[i].name, f->name) == 0;
        if (!found)
            s = http_field_error(req, f->name, "required", 0, 0, NULL);
    }
    return s;
}
