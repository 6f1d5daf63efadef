/*
 * log.c — structured logs: one JSON object (or one human-readable line) per
 * event on stderr.
 *
 * Each line is assembled in a capped buffer and handed to the kernel with a
 * single write(2), so lines from concurrent threads never interleave (and
 * since a line is at most CAP_LOG_LINE = PIPE_BUF bytes, that holds even on
 * a pipe). Over-long input is cut inside a string value, never in the
 * middle of the syntax, so every line stays valid JSON, and the line says
 * "truncated":true. Key/value fields are built first within their own
 * share of the budget so that a huge message cannot push out the request id
 * and fields, and many fields cannot push out the message. Values of keys
 * that look like secrets are replaced before they reach any buffer.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

static _Atomic int log_min = LOG_INFO;
static atomic_bool log_json = true;
static _Thread_local char log_rid[CAP_REQUEST_ID + 1];

/* Room kept for the closing part of a line: the truncation marker, the '}'
 * and the newline. */
#define LOG_TAIL_JSON ",\"truncated\":true}"
#define LOG_TAIL_TEXT " [truncated]"
#define LOG_BUDGET    (CAP_LOG_LINE - 1 - (sizeof LOG_TAIL_JSON - 1))
/* Bytes of the line that key/value fields may not take from the message. */
#define LOG_MSG_SHARE 512

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* Substrings that mark a key as naming a secret, matched in any case. */
static const char *const secret_words[] = {
    "password", "passwd", "token", "secret", "code", "key", "cookie", "authorization", "otp",
};

const char *log_level_name(enum log_level lvl)
{
    if ((unsigned)lvl > LOG_ERROR)
        return "error";
    return level_names[lvl];
}

enum st log_level_parse(const char *s, enum log_level *out)
{
    if (!s)
        return ST_INVALID;
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            if (out)
                *out = (enum log_level)i;
            return ST_OK;
        }
    }
    return ST_INVALID;
}

void log_init(enum log_level min, bool json)
{
    atomic_store(&log_min, (int)min);
    atomic_store(&log_json, json);
}

enum log_level log_min_level(void)
{
    return (enum log_level)atomic_load(&log_min);
}

void log_set_request_id(const char *rid)
{
    size_t n = rid ? strnlen(rid, CAP_REQUEST_ID) : 0;
    /* Do not split a multibyte character when cutting. */
    if (rid && n == CAP_REQUEST_ID && rid[n] != '\0')
        while (n > 0 && ((unsigned char)rid[n] & 0xC0) == 0x80)
            n--;
    if (n)
        memcpy(log_rid, rid, n);
    log_rid[n] = '\0';
}

const char *log_request_id(void)
{
    return log_rid;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive substring test; needle is lower case. */
static bool contains_ci(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < nl && hay[i] && lower(hay[i]) == needle[i])
            i++;
        if (i == nl)
            return true;
    }
    return false;
}

static bool is_secret_key(const char *key)
{
    for (size_t i = 0; i < sizeof secret_words / sizeof secret_words[0]; i++)
        if (contains_ci(key, secret_words[i]))
            return true;
    return false;
}

/* In text format a value is written bare unless that would be ambiguous or
 * unsafe (spaces, '=', quotes, control characters, invalid UTF-8); then it
 * is written as a JSON string. A message may contain spaces. */
static bool text_needs_quotes(const char *s, bool is_msg)
{
    if (!is_msg && *s == '\0')
        return true;
    if (*s == '"')
        return true;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7F || c == '\\')
            return true;
        if (!is_msg && (c == ' ' || c == '=' || c == '"'))
            return true;
    }
    return !utf8_valid(s, strlen(s));
}

static enum st put_n(struct buf *b, const char *s, size_t n, bool quote)
{
    return quote ? buf_json_strn(b, s, n) : buf_append(b, s, n);
}

/* Appends s (as a JSON string when quote), or if it does not fit the
 * longest prefix that does, cut at a character boundary. Returns 0 when all
 * of s was written, 1 when it was cut, -1 when not even an empty value fits
 * (the buffer is then unchanged). */
static int put_fit(struct buf *b, const char *s, bool quote)
{
    size_t n = strlen(s);
    if (put_n(b, s, n, quote) == ST_OK)
        return 0;
    size_t saved = b->len;
    if (put_n(b, s, 0, quote) != ST_OK)
        return -1;
    buf_truncate(b, saved);
    /* Binary search for the longest prefix that fits: escaped length grows
     * with the prefix (except inside a sequence cut short, which the
     * boundary step below and the final loop take care of). */
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (put_n(b, s, mid, quote) == ST_OK)
            lo = mid;
        else
            hi = mid;
        buf_truncate(b, saved);
    }
    size_t k = lo;
    for (;;) {
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        if (put_n(b, s, k, quote) == ST_OK)
            return 1;
        k--; /* k > 0 here: the empty prefix fits */
    }
}

static void format_ts(char *out, size_t outlen)
{
    /* Real time, not clock_now_ms(): when a test moves the domain clock,
     * the log still says when things actually happened. */
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
}

/* Appends one key/value field to f. Returns false when the field had to be
 * cut or dropped, after which no further field is added. */
static bool add_field(struct buf *f, bool json, const char *key, const char *val)
{
    size_t saved = f->len;
    bool ok = buf_putc(f, json ? ',' : ' ') == ST_OK;
    if (ok)
        ok = (json || text_needs_quotes(key, false) ? buf_json_str(f, key) : buf_puts(f, key)) ==
             ST_OK;
    if (ok)
        ok = buf_putc(f, json ? ':' : '=') == ST_OK;
    if (!ok) {
        buf_truncate(f, saved);
        return false;
    }
    int r;
    if (!val)
        r = buf_puts(f, "null") == ST_OK ? 0 : -1;
    else if (is_secret_key(key))
        r = put_fit(f, "[redacted]", json);
    else
        r = put_fit(f, val, json || text_needs_quotes(val, false));
    if (r < 0)
        buf_truncate(f, saved);
    return r == 0;
}

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report it */
        }
        p += w;
        n -= (size_t)w;
    }
}

static void emit(enum log_level lvl, const char *msg, va_list *kv)
{
    bool json = atomic_load(&log_json);
    char ts[48];
    format_ts(ts, sizeof ts);
    if (!msg)
        msg = "";

    struct buf line, fields;
    buf_init(&line, LOG_BUDGET);
    if (json)
        buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, log_level_name(lvl));
    else
        buf_printf(&line, "%s %-5s ", ts, log_level_name(lvl));

    /* Fields first, within what the message's share leaves. */
    bool cut = false;
    buf_init(&fields, LOG_BUDGET - line.len - LOG_MSG_SHARE);
    if (log_rid[0])
        cut = !add_field(&fields, json, "rid", log_rid);
    if (kv) {
        const char *key;
        while (!cut && (key = va_arg(*kv, const char *)) != NULL) {
            const char *val = va_arg(*kv, const char *);
            cut = !add_field(&fields, json, key, val);
        }
    }

    /* Then the message, in whatever room the fields left: at least
     * LOG_MSG_SHARE bytes, so an empty "" always fits and put_fit cannot
     * return -1 here. */
    line.cap = LOG_BUDGET - fields.len;
    if (put_fit(&line, msg, json || text_needs_quotes(msg, true)) != 0)
        cut = true;
    line.cap = CAP_LOG_LINE - 1; /* the last byte is for the newline */
    buf_append(&line, fields.data, fields.len);
    if (json)
        buf_puts(&line, cut ? LOG_TAIL_JSON : "}");
    else if (cut)
        buf_puts(&line, LOG_TAIL_TEXT);
    line.cap = CAP_LOG_LINE;
    buf_putc(&line, '\n');

    write_all(line.data, line.len);
    buf_free(&fields);
    buf_free(&line);
}

static bool enabled(enum log_level lvl)
{
    return (int)lvl >= atomic_load_explicit(&log_min, memory_order_relaxed);
}

void log_msg(enum log_level lvl, const char *msg)
{
    if (enabled(lvl))
        emit(lvl, msg, NULL);
}

void log_kv(enum log_level lvl, const char *msg, ...)
{
    if (!enabled(lvl))
        return;
    va_list ap;
    va_start(ap, msg);
    emit(lvl, msg, &ap);
    va_end(ap);
}

PRINTF_LIKE(2, 0) static void logv(enum log_level lvl, const char *fmt, va_list ap)
{
    if (!enabled(lvl))
        return;
    char msg[CAP_LOG_LINE];
    vsnprintf(msg, sizeof msg, fmt, ap);
    emit(lvl, msg, NULL);
}

void log_errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logv(LOG_ERROR, fmt, ap);
    va_end(ap);
}

void log_warnf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logv(LOG_WARN, fmt, ap);
    va_end(ap);
}

void log_infof(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logv(LOG_INFO, fmt, ap);
    va_end(ap);
}

void log_debugf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logv(LOG_DEBUG, fmt, ap);
    va_end(ap);
}
