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
#include <strings.h>

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

/* ------------------------------------------------------------ request head */

/* RFC 9110 §5.6.2 tchar */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_token(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return false;
    return n > 0;
}

static bool name_is(const struct http_hdr *h, const char *name)
{
    return h->klen == strlen(name) && strncasecmp(h->key, name, h->klen) == 0;
}

/* RFC 3986 unreserved / sub-delims (':' for IP literals passed separately) */
static bool is_host_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~!$&'()*+,;=", c) != NULL);
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool http_host_valid(const char *v, size_t n)
{
    size_t i = 0;
    if (n > 0 && v[0] == '[') { /* IP-literal: IPv6 or IPvFuture, loosely */
        for (i = 1; i < n && v[i] != ']'; i++)
            if (!is_host_char((unsigned char)v[i]) && v[i] != ':')
                return false;
        if (i == n || i == 1)
            return false;
        i++;
    } else { /* reg-name or IPv4address (which is a reg-name too); may be empty */
        for (; i < n && v[i] != ':'; i++) {
            if (v[i] == '%') {
                if (i + 2 >= n || !is_hex((unsigned char)v[i + 1]) ||
                    !is_hex((unsigned char)v[i + 2]))
                    return false;
                i += 2;
            } else if (!is_host_char((unsigned char)v[i])) {
                return false;
            }
        }
    }
    if (i == n)
        return true;
    if (v[i] != ':')
        return false;
    for (i++; i < n; i++) /* port = *DIGIT */
        if (v[i] < '0' || v[i] > '9')
            return false;
    return true;
}

/* Judges a Transfer-Encoding value (RFC 9112 §6.1, §6.3): NULL when it is
 * exactly "chunked" — the one coding libmicrohttpd decodes, compared as it
 * does — else the problem and *status. */
static const char *transfer_coding_check(const char *v, size_t n, unsigned *status)
{
    if (n == 7 && strncasecmp(v, "chunked", 7) == 0)
        return NULL;
    /* #transfer-coding: a comma list of tokens, each maybe with parameters */
    size_t codings = 0, chunked = 0;
    bool last_chunked = false;
    for (size_t i = 0; i < n;) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        if (i == n)
            break;
        size_t s = i;
        while (i < n && is_tchar((unsigned char)v[i]))
            i++;
        if (i == s) {
            *status = 400;
            return "bad-framing";
        }
        last_chunked = i - s == 7 && strncasecmp(v + s, "chunked", 7) == 0;
        codings++;
        chunked += last_chunked;
        for (; i < n && v[i] != ','; i++) /* OWS and parameters: allowed, not read */
            if ((unsigned char)v[i] < 0x20 && v[i] != '\t') {
                *status = 400;
                return "bad-framing";
            }
    }
    /* chunked must come last and once, or the length of the body cannot
     * be known (400); a valid list we cannot decode is 501. */
    *status = codings == 0 || !last_chunked || chunked > 1 ? 400 : 501;
    return *status == 400 ? "bad-framing" : "unsupported-transfer-coding";
}

const char *http_head_check(const struct http_hdr *h, size_t n, bool http11, unsigned *status)
{
    size_t ncl = 0, nte = 0, nhost = 0;
    const struct http_hdr *te = NULL, *host = NULL;
    *status = 400;
    for (size_t i = 0; i < n; i++) {
        if (!is_token(h[i].key, h[i].klen))
            return "bad-header";
        for (size_t j = 0; j < h[i].vlen; j++) {
            unsigned char c = (unsigned char)h[i].val[j];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return "bad-header";
        }
        if (name_is(&h[i], "Content-Length")) {
            ncl++;
            for (size_t j = 0; j < h[i].vlen; j++)
                if (h[i].val[j] < '0' || h[i].val[j] > '9')
                    return "bad-framing";
            if (h[i].vlen == 0)
                return "bad-framing";
        } else if (name_is(&h[i], "Transfer-Encoding")) {
            nte++;
            te = &h[i];
        } else if (name_is(&h[i], "Host")) {
            nhost++;
            host = &h[i];
        }
    }
    /* RFC 9112 §6.3: several lengths, or a length and a coding, or a coding
     * on HTTP/1.0, cannot be read the same way by every hop: refused. */
    if (ncl > 1 || nte > 1 || (nte && ncl) || (nte && !http11))
        return "bad-framing";
    if (te) {
        const char *p = transfer_coding_check(te->val, te->vlen, status);
        if (p)
            return p;
    }
    /* RFC 9112 §3.2 */
    if (nhost > 1 || (http11 && nhost == 0) || (host && !http_host_valid(host->val, host->vlen)))
        return "bad-host";
    return NULL;
}

bool http_head_layout_ok(size_t line_end, const struct http_span *s, size_t n, size_t section_len)
{
    size_t end = line_end; /* where the previous line's terminator starts */
    if (line_end > section_len || section_len > SIZE_MAX / 4) /* no sum below can wrap */
        return false;
    for (size_t i = 0; i < n; i++) {
        /* the line starts right after "\n" or "\r\n"; its value after the colon */
        if (s[i].key < end + 1 || s[i].key > end + 2 || s[i].klen > section_len ||
            s[i].val < s[i].key + s[i].klen + 1 || s[i].vlen > section_len ||
            s[i].val > section_len - s[i].vlen)
            return false;
        end = s[i].val + s[i].vlen;
    }
    /* then the line's terminator and an empty line, 1 or 2 bytes each */
    return section_len >= end + 2 && section_len <= end + 4;
}
