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
    ST_INVALID,       /* input rejected; a field name usually accompanies it */
    ST_NOTFOUND,      /* no such object, or not visible to the caller */
    ST_CONFLICT,      /* uniqueness or state conflict */
    ST_FORBIDDEN,     /* authenticated but not allowed */
    ST_UNAUTHORIZED,  /* not authenticated */
    ST_RATELIMIT,     /* too many requests */
    ST_TOOLARGE,      /* payload over a cap */
    ST_UNSUPPORTED,   /* unsupported media type or format */
    ST_UNPROCESSABLE, /* well-formed but unusable content (an undecodable image) */
    ST_UNAVAILABLE,   /* a dependency (database, provider) is down: retry later */
    ST_INTERNAL,      /* a bug or an unexpected failure */
    ST__COUNT
};

/* Short stable name of a status ("invalid", "not-found", ...), used as the
 * last segment of problem type URIs and in logs. Never NULL. */
const char *st_name(enum st s);
/* Maps an errno value from a failed system call to a status: ENOENT and
 * ENOTDIR are ST_NOTFOUND, EACCES/EPERM/EROFS ST_FORBIDDEN, EEXIST
 * ST_CONFLICT, EFBIG ST_TOOLARGE, ENOSPC/EDQUOT/EMFILE/ENFILE ST_UNAVAILABLE,
 * anything else ST_INTERNAL. */
enum st st_from_errno(int err);

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
void xfree(void *p);
/* Prints "entrepot: MESSAGE" on stderr and exits with status 1. For fatal
 * start-up errors, not for bugs (those abort). */
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

/* A buffer needs no allocation until the first append: after buf_init (or
 * buf_free, buf_take) data points at a shared empty string, so b->data is
 * always a valid C string. */
void buf_init(struct buf *b, size_t cap);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* Shortens the content to len bytes (no-op when len >= b->len). */
void buf_truncate(struct buf *b, size_t len);
/* Makes room for n more bytes so the next appends of up to n bytes do not
 * reallocate. ST_TOOLARGE when len + n would pass the cap. */
enum st buf_reserve(struct buf *b, size_t n);
enum st buf_append(struct buf *b, const void *p, size_t n);
enum st buf_puts(struct buf *b, const char *s);
enum st buf_putc(struct buf *b, char c);
enum st buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
enum st buf_vprintf(struct buf *b, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);
/* Appends s as a JSON string literal, quotes included (RFC 8259): '"', '\\'
 * and control characters are escaped, valid UTF-8 passes through unchanged,
 * and each byte of an invalid sequence becomes \ufffd, so the output is
 * always valid JSON. s == NULL appends the literal null. On ST_TOOLARGE the
 * content is unchanged. */
enum st buf_json_str(struct buf *b, const char *s);
/* The same for s[0..n), which may contain NUL bytes (escaped as \u0000). */
enum st buf_json_strn(struct buf *b, const char *s, size_t n);
/* Hands the content to the caller (caller frees) and resets b. */
char *buf_take(struct buf *b);

/* ---------------------------------------------------------------- utf-8 */

/* True when s[0..n) is well-formed UTF-8 per RFC 3629: no overlong forms, no
 * surrogates (U+D800..DFFF), nothing above U+10FFFF. NUL bytes are rejected
 * too: no text field of ours may carry one. */
bool utf8_valid(const char *s, size_t n);
/* Number of code points in valid UTF-8 s[0..n). */
size_t utf8_len(const char *s, size_t n);
/* Decodes the code point at s[0..n) into *cp (cp may be NULL) and returns
 * its length in bytes, or 0 when s does not start with a well-formed
 * sequence (or n == 0). A NUL byte decodes as U+0000 with length 1. */
size_t utf8_next(const char *s, size_t n, uint32_t *cp);

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

/* "debug", "info", "warn", "error". */
const char *log_level_name(enum log_level lvl);
/* Parses one of those names; ST_INVALID otherwise. */
enum st log_level_parse(const char *s, enum log_level *out);

/* Logs are JSON lines on stderr: {"ts":..,"level":..,"msg":..,"rid":..,..}.
 * The request id of the calling thread (log_set_request_id) is added
 * automatically. Never pass secrets: log_kv keys containing (any case)
 * password, passwd, token, secret, code, key, cookie, authorization or otp
 * get the value "[redacted]" -- so do not name harmless fields that way
 * ("status", not "status_code"). A line is at most CAP_LOG_LINE bytes and is
 * written with one write(2); an over-long line is cut and gets
 * "truncated":true. Before log_init: level info, JSON. Thread-safe. */
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
void log_debugf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* ---------------------------------------------------------------- config */

enum cfg_type { CFG_STRING, CFG_INT, CFG_BOOL, CFG_LIST };

/* The configuration is one typed table (config.c). Values come from, in
 * increasing precedence: built-in defaults, the config file (key = value
 * lines, '#' comments), ENTREPOT_* environment variables, command-line flags.
 * Callers load in that order and each later value overwrites the earlier.
 * Names may be written with '-' in place of '_' everywhere.
 *
 * Threads: the configuration is written during start-up only (one thread)
 * and read-only afterwards, so it takes no locks. */
struct cfg_entry {
    const char *name; /* e.g. "listen"; flag is --listen, file key listen */
    enum cfg_type type;
    const char *defval; /* textual default */
    const char *env;    /* e.g. "ENTREPOT_LISTEN" */
    const char *help;
    int64_t min, max; /* range for CFG_INT */
    bool secret;      /* value never printed (config check, errors) */
};

const struct cfg_entry *config_table(size_t *count);
/* Resets every value to its default. */
void config_reset(void);
/* Loads a file; on error returns ST_INVALID and writes "FILE:LINE: ..." to
 * err. A file that cannot be read returns that status instead (ST_NOTFOUND,
 * ST_TOOLARGE over CAP_CONFIG_FILE, ...). All or nothing: on any error no
 * value of the file is applied. Duplicate keys are an error. */
enum st config_load_file(const char *path, char *err, size_t errlen);
/* Applies ENTREPOT_* environment variables (all or nothing, like files); the
 * error message names the variable. */
enum st config_load_env(char *err, size_t errlen);
/* Sets one value by name from text, with source "flag" (flags go through
 * here). Types and single-field rules are checked here; bools are stored as
 * "true"/"false" and ints in canonical decimal. */
enum st config_set(const char *name, const char *value, char *err, size_t errlen);
/* Checks cross-field rules (TLS cert and key together, listen parses...). */
enum st config_validate(char *err, size_t errlen);
/* Readers. An unknown name (or config_int/config_bool on an entry of
 * another type) is a programming error and aborts. config_str works for
 * every type and returns the stored text. */
const char *config_str(const char *name);
int64_t config_int(const char *name);
bool config_bool(const char *name);
/* Where a value came from: "default", "file", "env" or "flag"; NULL for an
 * unknown name. */
const char *config_source(const char *name);
/* True when the named entry must never be printed (master_key, database). */
bool config_is_secret(const char *name);

/* Splits "host:port" or "[v6]:port". Returns ST_INVALID when malformed.
 * The host is a name or IPv4 address (letters, digits, '.', '-', '_', at
 * most 253 bytes) or a bracketed IPv6 address, copied without brackets;
 * the port is 1..65535. host and port may be NULL to only validate. */
enum st parse_host_port(const char *s, char *host, size_t hostlen, uint16_t *port);
/* Strict decimal parse of the whole string into [min,max]: optional '-',
 * digits only, no spaces or '+'. out is written only on success. */
enum st parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* An IPv4 or IPv6 network, e.g. from trusted_proxies. */
struct ip_cidr {
    int version;            /* 4 or 6 */
    unsigned char addr[16]; /* network byte order; 4 bytes used for v4 */
    unsigned prefix;        /* 0..32 or 0..128 */
};
/* Parses "ADDR" or "ADDR/PREFIX" (a bare address is a /32 or /128). */
enum st parse_cidr(const char *s, struct ip_cidr *out);
/* True when addr (4 or 16 bytes in network order, per version) is inside c.
 * No IPv4-mapped-IPv6 translation: callers normalise first. */
bool cidr_match(const struct ip_cidr *c, int version, const void *addr);

/* ---------------------------------------------------------------- files */

/* Failures map errno through st_from_errno and leave errno set by the
 * failing call, so callers can add strerror(errno) to their message. */

/* Reads a whole file (up to cap bytes) into a fresh NUL-terminated buffer;
 * caller frees *out. ST_NOTFOUND when missing, ST_TOOLARGE when longer than
 * cap. len may be NULL. On failure *out is NULL. */
enum st file_read_all(const char *path, size_t cap, char **out, size_t *len);
/* Creates dir and parents with the given mode (less the umask) if missing,
 * like mkdir -p. ST_INVALID when a component exists and is not a directory. */
enum st file_mkdirs(const char *dir, unsigned mode);
/* Writes data to path atomically (temp file + fsync + rename) with mode. */
enum st file_write_atomic(const char *path, const void *data, size_t n, unsigned mode);

/* ---------------------------------------------------------------- keys */

#define MASTER_KEY_BYTES 32
#define MASTER_KEYS_MAX  8 /* master keys one ring (key file) may hold */

/* The master keys known to this process (crypto.h explains their use).
 * keys[0] is the primary: it wraps new data keys; the others only unwrap,
 * during a rotation. index_key, when has_index, is the root of the blind
 * index, token and code keys, kept in the file so that they survive
 * rotation; without it they derive from the lowest-id master key. */
struct master_keyring {
    size_t count;
    uint32_t ids[MASTER_KEYS_MAX];
    unsigned char keys[MASTER_KEYS_MAX][MASTER_KEY_BYTES];
    bool has_index;
    unsigned char index_key[MASTER_KEY_BYTES];
};

/* Loads the master key ring: from hex (ENTREPOT_MASTER_KEY) when non-empty
 * (one key, id 1), else from the key file at path, creating it (mode 0600,
 * one fresh key with id 1) when missing and create is true.
 *
 * Key file format: UTF-8 text lines; blank lines and lines starting with
 * '#' are ignored; "ID:HEX" is a master key (ID decimal 1..4294967295, HEX
 * 64 hex digits), newest (primary) first; "index:HEX" is the index key. A
 * file whose only content is one bare HEX line (the first format) is key 1.
 * Duplicate ids, more than MASTER_KEYS_MAX keys or no key are errors
 * (ST_INVALID, message in err; never a key byte). Wipe the ring with
 * masterkey_ring_wipe after use. */
enum st masterkey_ring_load(const char *path, const char *hex, bool create,
                            struct master_keyring *ring, char *err, size_t errlen);
/* Parses key file text (same rules; for tests and fuzzing). */
enum st masterkey_ring_parse(const char *text, size_t len, struct master_keyring *ring, char *err,
                             size_t errlen);
/* Writes ring to path atomically with mode 0600, in the format above
 * (index line included when has_index). */
enum st masterkey_ring_save(const char *path, const struct master_keyring *ring, char *err,
                            size_t errlen);
void masterkey_ring_wipe(struct master_keyring *ring);
/* The primary key of masterkey_ring_load's ring (the first API; kept for
 * callers that need one key). Wipe key with sodium_memzero after use. */
enum st masterkey_load(const char *path, const char *hex, bool create,
                       unsigned char key[MASTER_KEY_BYTES], char *err, size_t errlen);

#include "i18n.h"
#include "crypto.h"
#include "workdays.h"

#endif
