/*
 * buf.c — the one growable byte buffer, with a hard cap fixed at init.
 *
 * Every piece of text the server builds from outside input (JSON, log
 * lines, files read) goes through a struct buf, so the cap is the single
 * place where "how big may this get" is decided. Appends are all or
 * nothing: an append that would pass the cap returns ST_TOOLARGE and leaves
 * the content exactly as it was, which lets callers try something shorter.
 * An empty buffer points at a shared one-byte empty string instead of
 * allocating, so b->data is always a valid C string.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"

/* Shared by every buffer that owns no memory (alloc == 0). Only ever read,
 * or written with its own terminating NUL. */
static char buf_empty[1];

#define BUF_MIN_ALLOC 64

void buf_init(struct buf *b, size_t cap)
{
    b->data = buf_empty;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void buf_free(struct buf *b)
{
    if (b->alloc)
        xfree(b->data);
    b->data = buf_empty;
    b->len = 0;
    b->alloc = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->alloc)
        b->data[0] = '\0';
    else
        b->data = buf_empty;
}

void buf_truncate(struct buf *b, size_t len)
{
    if (len >= b->len)
        return;
    b->len = len;
    b->data[len] = '\0';
}

/* True when n more bytes (plus the NUL) fit under the cap without size_t
 * overflow. */
static bool buf_fits(const struct buf *b, size_t n)
{
    return b->len <= b->cap && n <= b->cap - b->len && n < SIZE_MAX - b->len;
}

enum st buf_reserve(struct buf *b, size_t n)
{
    if (!buf_fits(b, n))
        return ST_TOOLARGE;
    size_t need = b->len + n + 1;
    if (need <= b->alloc)
        return ST_OK;
    size_t na = b->alloc ? b->alloc : BUF_MIN_ALLOC;
    while (na < need)
        na = na > SIZE_MAX / 2 ? need : na * 2;
    /* Never hold more than the cap can use. */
    if (b->cap < SIZE_MAX && na > b->cap + 1)
        na = b->cap + 1;
    if (na < need)
        na = need;
    if (b->alloc) {
        b->data = xrealloc(b->data, na);
    } else {
        b->data = xmalloc(na);
        b->data[0] = '\0';
    }
    b->alloc = na;
    return ST_OK;
}

enum st buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0)
        return buf_fits(b, 0) ? ST_OK : ST_TOOLARGE;
    enum st s = buf_reserve(b, n);
    if (s != ST_OK)
        return s;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return ST_OK;
}

enum st buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

enum st buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

enum st buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return ST_INTERNAL;
    enum st s = buf_reserve(b, (size_t)n);
    if (s != ST_OK)
        return s;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return ST_OK;
}

enum st buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum st s = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return s;
}

/* Bytes that may appear unescaped inside a JSON string: printable ASCII
 * other than '"' and '\\'. Bytes >= 0x80 are checked as UTF-8 separately. */
static bool json_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

static enum st json_escape_byte(struct buf *b, unsigned char c)
{
    switch (c) {
    case '"':
        return buf_append(b, "\\\"", 2);
    case '\\':
        return buf_append(b, "\\\\", 2);
    case '\b':
        return buf_append(b, "\\b", 2);
    case '\f':
        return buf_append(b, "\\f", 2);
    case '\n':
        return buf_append(b, "\\n", 2);
    case '\r':
        return buf_append(b, "\\r", 2);
    case '\t':
        return buf_append(b, "\\t", 2);
    default:
        return buf_printf(b, "\\u%04x", (unsigned)c);
    }
}

enum st buf_json_strn(struct buf *b, const char *s, size_t n)
{
    size_t saved = b->len;
    enum st st = buf_putc(b, '"');
    size_t i = 0;
    while (st == ST_OK && i < n) {
        /* Copy the longest run needing no escape in one append. */
        size_t run = i;
        for (;;) {
            if (run < n && json_plain((unsigned char)s[run])) {
                run++;
                continue;
            }
            size_t k =
                run < n && (unsigned char)s[run] >= 0x80 ? utf8_next(s + run, n - run, NULL) : 0;
            if (k == 0)
                break;
            run += k;
        }
        if (run > i) {
            st = buf_append(b, s + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80)
            st = buf_append(b, "\\ufffd", 6); /* a byte of an invalid sequence */
        else
            st = json_escape_byte(b, c);
        i++;
    }
    if (st == ST_OK)
        st = buf_putc(b, '"');
    if (st != ST_OK)
        buf_truncate(b, saved);
    return st;
}

enum st buf_json_str(struct buf *b, const char *s)
{
    if (!s)
        return buf_append(b, "null", 4);
    return buf_json_strn(b, s, strlen(s));
}

char *buf_take(struct buf *b)
{
    char *p = b->alloc ? b->data : xstrdup("");
    b->data = buf_empty;
    b->len = 0;
    b->alloc = 0;
    return p;
}
