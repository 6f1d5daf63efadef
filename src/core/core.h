/*
 * core.h — the public face of src/core: status codes, memory helpers,
 * bounded buffers, UTF-8, time, logging and configuration.
 *
 * Everything above core (db, http, domain modules, commands) includes only
 * this header. Nothing here knows about HTTP or SQL: the status enum is
 * mapped to HTTP in src/http, exactly once.
 */
#ifndef ENTREPOT_CORE_H
#define ENTREPOT_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caps.h"

#define ENTREPOT_VERSION "0.1.0"

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN          __attribute__((noreturn))
#else
#define PRINTF_LIKE(f, a)
#define NORETURN
#endif

/* ---------------------------------------------------------------- status */

/* One status enum, returned by every function that can fail. src/http maps
 * each value to an HTTP status and a problem type in one table. */
enum st {
    ST_OK = 0,
    ST_INVALID,      /* input rejected; a field name usually accompanies it */
    ST_NOTFOUND,     /* no such object, or not visible to the caller */
    ST_CONFLICT,     /* uniqueness or state conflict */
    ST_FORBIDDEN,    /* authenticated but not allowed */
    ST_UNAUTHORIZED, /* not authenticated */
    ST_RATELIMIT,    /* too many requests */
    ST_TOOLARGE,     /* payload over a cap */
    ST_UNSUPPORTED,  /* unsupported media type or format */
    ST_UNAVAILABLE,  /* a dependency (database, provider) is down: retry later */
    ST_INTERNAL,     /* a bug or an unexpected failure */
    ST__COUNT
};

/* Short stable name of a status ("invalid", "not-found", ...), used as the
 * last segment of problem type URIs and in logs. Never NULL. */
const char *st_name(enum st s);

/* ---------------------------------------------------------------- memory */

/* xmalloc and friends abort the process on exhaustion: callers never check
 * for NULL. xfree(NULL) is a no-op, like free. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh allocation; caller frees. */
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);
NORETURN void die(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* ---------------------------------------------------------------- buffer */

/* A growable byte buffer with a hard cap set at init. Appends past the cap
 * fail with ST_TOOLARGE and leave the content unchanged. The content is
 * always NUL-terminated (the NUL is not counted in len nor in the cap). */
struct buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap;
};

void buf_init(struct buf *b, size_t cap);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
enum st buf_append(struct buf *b, const void *p, size_t n);
enum st buf_puts(struct buf *b, const char *s);
enum st buf_putc(struct buf *b, char c);
enum st buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
enum st buf_vprintf(struct buf *b, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);
/* Appends s as a JSON string literal, quotes included. */
enum st buf_json_str(struct buf *b, const char *s);
/* Hands the content to the caller (caller frees) and resets b. */
char *buf_take(struct buf *b);

/* ---------------------------------------------------------------- utf-8 */

/* True when s[0..n) is well-formed UTF-8 per RFC 3629: no overlong forms, no
 * surrogates (U+D800..DFFF), nothing above U+10FFFF. NUL bytes are rejected
 * too: no text field of ours may carry one. */
bool utf8_valid(const char *s, size_t n);
/* Number of code points in valid UTF-8 s[0..n). */
size_t utf8_len(const char *s, size_t n);

/* ---------------------------------------------------------------- time */

/* Milliseconds since the epoch, UTC. All domain code reads the time through
 * clock_now_ms so tests can move it: clock_set_offset_ms shifts the clock
 * for the whole process (used by the test-only clock route and unit tests). */
int64_t clock_now_ms(void);
void clock_set_offset_ms(int64_t offset);
int64_t clock_offset_ms(void);
/* Monotonic nanoseconds, for measuring durations only. */
uint64_t clock_mono_ns(void);

/* ---------------------------------------------------------------- logging */

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Logs are JSON lines on stderr: {"ts":..,"level":..,"msg":..,"rid":..,..}.
 * The request id of the calling thread (log_set_request_id) is added
 * automatically. Never pass secrets: log_kv keys named like secrets
 * (password, token, code, key, secret, cookie, authorization) are redacted. */
void log_init(enum log_level min, bool json);
enum log_level log_min_level(void);
void log_set_request_id(const char *rid);
const char *log_request_id(void);
void log_msg(enum log_level lvl, const char *msg);
/* Key/value pairs: NULL-terminated list of (const char *key, const char *val). */
void log_kv(enum log_level lvl, const char *msg, ...);
void log_errorf(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_infof(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_warnf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* ---------------------------------------------------------------- config */

enum cfg_type { CFG_STRING, CFG_INT, CFG_BOOL, CFG_LIST };

/* The configuration is one typed table (config.c). Values come from, in
 * increasing precedence: built-in defaults, the config file (key = value
 * lines, '#' comments), ENTREPOT_* environment variables, command-line flags. */
struct cfg_entry {
    const char *name;   /* e.g. "listen"; flag is --listen, file key listen */
    enum cfg_type type;
    const char *defval; /* textual default */
    const char *env;    /* e.g. "ENTREPOT_LISTEN" */
    const char *help;
    int64_t min, max;   /* range for CFG_INT */
};

const struct cfg_entry *config_table(size_t *count);
/* Resets every value to its default. */
void config_reset(void);
/* Loads a file; on error returns ST_INVALID and writes a message to err. */
enum st config_load_file(const char *path, char *err, size_t errlen);
/* Applies ENTREPOT_* environment variables. */
enum st config_load_env(char *err, size_t errlen);
/* Sets one value by name from text (flags go through here). */
enum st config_set(const char *name, const char *value, char *err, size_t errlen);
/* Checks cross-field rules (TLS cert and key together, listen parses...). */
enum st config_validate(char *err, size_t errlen);
const char *config_str(const char *name);
int64_t config_int(const char *name);
bool config_bool(const char *name);
/* Where a value came from: "default", "file", "env" or "flag". */
const char *config_source(const char *name);

/* Splits "host:port" or "[v6]:port". Returns ST_INVALID when malformed. */
enum st parse_host_port(const char *s, char *host, size_t hostlen, uint16_t *port);
/* Strict decimal parse of the whole string into [min,max]. */
enum st parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* ---------------------------------------------------------------- files */

/* Reads a whole file (up to cap bytes) into a fresh NUL-terminated buffer. */
enum st file_read_all(const char *path, size_t cap, char **out, size_t *len);
/* Creates dir and parents with the given mode if missing. */
enum st file_mkdirs(const char *dir, unsigned mode);
/* Writes data to path atomically (temp file + fsync + rename) with mode. */
enum st file_write_atomic(const char *path, const void *data, size_t n, unsigned mode);

#endif
