/*
 * config.c — the typed configuration table and its loaders.
 *
 * Every setting is one row of config_table: name, type, textual default,
 * environment variable, help and range. Values are kept as text together
 * with where they came from, and are checked when they are set (type,
 * range and the rules that concern one field alone), so the readers
 * config_int/config_bool can parse without failing. Rules that tie fields
 * together wait for config_validate. Precedence needs no bookkeeping:
 * callers load defaults, file, environment and flags in that order, and a
 * later value simply overwrites an earlier one. A file or the environment
 * is applied all or nothing, so an error never leaves half of it in force.
 *
 * Threads: values are written during start-up by one thread and only read
 * afterwards, so there is no lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"

static const struct cfg_entry cfg_table[] = {
    {.name = "config",
     .type = CFG_STRING,
     .defval = "",
     .env = "ENTREPOT_CONFIG",
     .help = "path of a config file"},
    {.name = "listen",
     .type = CFG_STRING,
     .defval = "127.0.0.1:8080",
     .env = "ENTREPOT_LISTEN",
     .help = "address and port to serve on: host:port or [v6]:port"},
    {.name = "data_dir",
     .type = CFG_STRING,
     .defval = "var",
     .env = "ENTREPOT_DATA_DIR",
     .help = "directory for the database, keys and files"},
    {.name = "database",
     .type = CFG_STRING,
     .defval = "",
     .env = "ENTREPOT_DATABASE",
     .help = "sqlite:PATH or postgres://...; default sqlite:<data_dir>/entrepot.db",
     .secret = true /* a PostgreSQL URL may carry a password */},
    {.name = "static_dir",
     .type = CFG_STRING,
     .defval = "web/dist",
     .env = "ENTREPOT_STATIC_DIR",
     .help = "directory of the built web app"},
    {.name = "public_url",
     .type = CFG_STRING,
     .defval = "",
     .env = "ENTREPOT_PUBLIC_URL",
     .help = "the address users reach the site at (https://example.com), for canonical links "
             "of server-rendered pages; empty = relative links"},
    {.name = "master_key_file",
     .type = CFG_STRING,
     .defval = "",
     .env = "ENTREPOT_MASTER_KEY_FILE",
     .help = "default <data_dir>/master.key"},
    {.name = "master_key",
     .type = CFG_STRING,
     .defval = "",
     .env = "ENTREPOT_MASTER_KEY",
     .help = "hex master key; overrides the key file",
     .secret = true},
    {.name = "tls_cert",
     .type = CFG_STRING,
     .defval = "",
     .env = "ENTREPOT_TLS_CERT",
     .help = "PEM certificate chain; with tls_key, serve HTTPS"},
    {.name = "tls_key",
     .type = CFG_STRING,
     .defval = "",
     .env = "ENTREPOT_TLS_KEY",
     .help = "PEM private key file for tls_cert"},
    {.name = "trusted_proxies",
     .type = CFG_LIST,
     .defval = "",
     .env = "ENTREPOT_TRUSTED_PROXIES",
     .help = "addresses/CIDRs whose X-Forwarded-For is believed"},
    {.name = "threads",
     .type = CFG_INT,
     .defval = "0",
     .env = "ENTREPOT_THREADS",
     .help = "0 = number of cores",
     .min = 0,
     .max = 256},
    {.name = "db_pool_size",
     .type = CFG_INT,
     .defval = "0",
     .env = "ENTREPOT_DB_POOL_SIZE",
     .help = "0 = threads + 4",
     .min = 0,
     .max = 512},
    {.name = "max_body_bytes",
     .type = CFG_INT,
     .defval = "1048576",
     .env = "ENTREPOT_MAX_BODY_BYTES",
     .help = "largest request body accepted",
     .min = 1024,
     .max = 67108864},
    {.name = "connection_timeout_s",
     .type = CFG_INT,
     .defval = "15",
     .env = "ENTREPOT_CONNECTION_TIMEOUT",
     .help = "idle or slow client cut-off, seconds",
     .min = 1,
     .max = 3600},
    {.name = "body_timeout_s",
     .type = CFG_INT,
     .defval = "30",
     .env = "ENTREPOT_BODY_TIMEOUT",
     .help = "a request body must arrive whole within this, seconds",
     .min = 1,
     .max = 3600},
    {.name = "max_connections",
     .type = CFG_INT,
     .defval = "1024",
     .env = "ENTREPOT_MAX_CONNECTIONS",
     .help = "open connections in all",
     .min = 1,
     .max = 100000},
    {.name = "max_connections_per_ip",
     .type = CFG_INT,
     .defval = "64",
     .env = "ENTREPOT_MAX_CONNECTIONS_PER_IP",
     .help = "open connections from one address",
     .min = 1,
     .max = 100000},
    {.name = "auto_migrate",
     .type = CFG_BOOL,
     .defval = "true",
     .env = "ENTREPOT_AUTO_MIGRATE",
     .help = "apply pending migrations when serving"},
    {.name = "log_level",
     .type = CFG_STRING,
     .defval = "info",
     .env = "ENTREPOT_LOG_LEVEL",
     .help = "debug, info, warn or error"},
    {.name = "log_format",
     .type = CFG_STRING,
     .defval = "json",
     .env = "ENTREPOT_LOG_FORMAT",
     .help = "json or text"},
    {.name = "access_log",
     .type = CFG_BOOL,
     .defval = "true",
     .env = "ENTREPOT_ACCESS_LOG",
     .help = "log one line per request"},
    {.name = "mail_provider",
     .type = CFG_STRING,
     .defval = "dev",
     .env = "ENTREPOT_MAIL_PROVIDER",
     .help = "e-mail delivery: dev (log and outbox only) or smtp"},
    {.name = "smtp_url",
     .type = CFG_STRING,
     .defval = "",
     .env = "ENTREPOT_SMTP_URL",
     .help = "smtp://host:port, smtps://host, or smtp+starttls://host:587"},
    {.name = "smtp_from",
     .type = CFG_STRING,
     .defval = "",
     .env = "ENTREPOT_SMTP_FROM",
     .help = "sender: address or Name <address>"},
    {.name = "smtp_user",
     .type = CFG_STRING,
     .defval = "",
     .env = "ENTREPOT_SMTP_USER",
     .help = "SMTP login name; empty = no authentication"},
    {.name = "smtp_password",
     .type = CFG_STRING,
     .defval = "",
     .env = "ENTREPOT_SMTP_PASSWORD",
     .help = "SMTP password",
     .secret = true},
    {.name = "sms_provider",
     .type = CFG_STRING,
     .defval = "dev",
     .env = "ENTREPOT_SMS_PROVIDER",
     .help = "SMS delivery: dev (log and outbox only) or http"},
    {.name = "sms_http_url",
     .type = CFG_STRING,
     .defval = "",
     .env = "ENTREPOT_SMS_HTTP_URL",
     .help = "http(s) endpoint that takes POST {\"to\",\"text\"} JSON"},
    {.name = "sms_http_token",
     .type = CFG_STRING,
     .defval = "",
     .env = "ENTREPOT_SMS_HTTP_TOKEN",
     .help = "bearer token for sms_http_url",
     .secret = true},
    {.name = "session_idle_minutes",
     .type = CFG_INT,
     .defval = "30",
     .env = "ENTREPOT_SESSION_IDLE_MINUTES",
     .help = "a session unused this long ends (minutes)",
     .min = 1,
     .max = 1440},
    {.name = "session_absolute_hours",
     .type = CFG_INT,
     .defval = "12",
     .env = "ENTREPOT_SESSION_ABSOLUTE_HOURS",
     .help = "a session ends this long after sign-in, used or not (hours)",
     .min = 1,
     .max = 720},
    {.name = "session_remember_days",
     .type = CFG_INT,
     .defval = "30",
     .env = "ENTREPOT_SESSION_REMEMBER_DAYS",
     .help = "\"keep me signed in\" sessions: idle timeout (days)",
     .min = 1,
     .max = 365},
    {.name = "session_remember_absolute_days",
     .type = CFG_INT,
     .defval = "90",
     .env = "ENTREPOT_SESSION_REMEMBER_ABSOLUTE_DAYS",
     .help = "\"keep me signed in\" sessions: absolute lifetime (days)",
     .min = 1,
     .max = 400},
    {.name = "staff_session_idle_minutes",
     .type = CFG_INT,
     .defval = "15",
     .env = "ENTREPOT_STAFF_SESSION_IDLE_MINUTES",
     .help = "staff sessions: idle timeout (minutes)",
     .min = 1,
     .max = 240},
    {.name = "staff_session_absolute_hours",
     .type = CFG_INT,
     .defval = "8",
     .env = "ENTREPOT_STAFF_SESSION_ABSOLUTE_HOURS",
     .help = "staff sessions: absolute lifetime (hours)",
     .min = 1,
     .max = 24},
    {.name = "community_posts_per_minute",
     .type = CFG_INT,
     .defval = "10",
     .env = "ENTREPOT_COMMUNITY_POSTS_PER_MINUTE",
     .help = "community: topics and replies one member may post a minute (0 = no limit)",
     .min = 0,
     .max = 100000},
    {.name = "community_topics_per_hour",
     .type = CFG_INT,
     .defval = "30",
     .env = "ENTREPOT_COMMUNITY_TOPICS_PER_HOUR",
     .help = "community: topics one member may start an hour (0 = no limit)",
     .min = 0,
     .max = 100000},
    {.name = "export_ttl_days",
     .type = CFG_INT,
     .defval = "7",
     .env = "ENTREPOT_EXPORT_TTL_DAYS",
     .help = "privacy center: how long a user's export can be downloaded (days)",
     .min = 1,
     .max = 90},
    {.name = "cancel_cooling_off_days",
     .type = CFG_INT,
     .defval = "7",
     .env = "ENTREPOT_CANCEL_COOLING_OFF_DAYS",
     .help = "privacy center: days between a request to close an account and its erasure, "
             "during which the user may take it back (at most 10, inside the promised 15 "
             "working days)",
     .min = 0,
     .max = 10},
    {.name = "workdays_utc_offset_minutes",
     .type = CFG_INT,
     .defval = "480",
     .env = "ENTREPOT_WORKDAYS_UTC_OFFSET_MINUTES",
     .help = "working-day calendar: the fixed UTC offset its days are counted in, minutes "
             "(480 = UTC+8, China)",
     .min = -720,
     .max = 840},
    {.name = "workdays_holidays",
     .type = CFG_LIST,
     .defval = "",
     .env = "ENTREPOT_WORKDAYS_HOLIDAYS",
     .help = "working-day calendar: public holidays, YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD, "
             "comma-separated"},
    {.name = "workdays_makeup_days",
     .type = CFG_LIST,
     .defval = "",
     .env = "ENTREPOT_WORKDAYS_MAKEUP_DAYS",
     .help = "working-day calendar: weekend days that are worked (make-up working days), "
             "YYYY-MM-DD or ranges, comma-separated"},
    {.name = "jobs_in_serve",
     .type = CFG_BOOL,
     .defval = "true",
     .env = "ENTREPOT_JOBS_IN_SERVE",
     .help = "serve also runs the job worker (false when `entrepot worker` processes do)"},
    {.name = "jobs_threads",
     .type = CFG_INT,
     .defval = "1",
     .env = "ENTREPOT_JOBS_THREADS",
     .help = "threads of a job worker (in serve, or in `entrepot worker`)",
     .min = 1,
     .max = 16},
    {.name = "test_mode",
     .type = CFG_BOOL,
     .defval = "false",
     .env = "ENTREPOT_TEST_MODE",
     .help = "enables test-only routes such as moving the clock; never in production"},
};

#define CFG_COUNT (sizeof cfg_table / sizeof cfg_table[0])

/* The current value of each entry; val == NULL means the default. */
static struct {
    char *val;
    const char *source;
} cfg_vals[CFG_COUNT];

const struct cfg_entry *config_table(size_t *count)
{
    if (count)
        *count = CFG_COUNT;
    return cfg_table;
}

/* Index of the entry called name ('-' and '_' are the same), or -1. */
static int cfg_find(const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < CFG_COUNT; i++) {
        const char *a = cfg_table[i].name, *b = name;
        while (*a && (*a == *b || (*a == '_' && *b == '-'))) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0')
            return (int)i;
    }
    return -1;
}

/* A programming error: the name is not in the table. */
NORETURN static void cfg_bug(const char *what, const char *name)
{
    fprintf(stderr, "entrepot: bug: %s(\"%s\"): no such setting of that type\n", what,
            name ? name : "(null)");
    abort();
}

static const char *cfg_value(size_t i)
{
    return cfg_vals[i].val ? cfg_vals[i].val : cfg_table[i].defval;
}

static void cfg_store(size_t i, const char *val, const char *source)
{
    xfree(cfg_vals[i].val);
    cfg_vals[i].val = xstrdup(val);
    cfg_vals[i].source = source;
}

void config_reset(void)
{
    for (size_t i = 0; i < CFG_COUNT; i++) {
        xfree(cfg_vals[i].val);
        cfg_vals[i].val = NULL;
        cfg_vals[i].source = NULL;
    }
}

/* Copies text for an error message, at most 40 bytes, with anything that
 * is not printable ASCII shown as '?', so a message cannot carry control
 * characters to a terminal. */
static void cfg_quote(char *out, size_t outlen, const char *s)
{
    size_t o = 0;
    for (; *s && o + 4 < outlen && o < 40; s++)
        out[o++] = (*s >= 0x20 && *s < 0x7F) ? *s : '?';
    if (*s && o + 4 <= outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool is_hex(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
            return false;
    return true;
}

/* Checks each comma-separated item of trusted_proxies. */
static bool check_proxies(const char *list, char *msg, size_t msglen)
{
    if (*list == '\0')
        return true;
    size_t count = 0;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        char item[64], shown[48];
        if (n == 0) {
            snprintf(msg, msglen, "empty entry in the list");
            return false;
        }
        if (n >= sizeof item) {
            snprintf(msg, msglen, "entry %zu is too long for an address", count + 1);
            return false;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (parse_cidr(item, NULL) != ST_OK) {
            cfg_quote(shown, sizeof shown, item);
            snprintf(msg, msglen, "\"%s\" is not an IP address or CIDR network", shown);
            return false;
        }
        if (++count > CAP_TRUSTED_PROXIES) {
            snprintf(msg, msglen, "more than %d entries", CAP_TRUSTED_PROXIES);
            return false;
        }
        if (!end)
            return true;
        p = end + 1;
    }
}

/* Checks value for entry i: its type, its range, and the rules about this
 * field alone. On success writes the canonical text to canon (bools become
 * true/false, ints plain decimal) and returns true; otherwise writes the
 * problem to msg (without the value when the entry is secret). */
static bool cfg_check(size_t i, const char *value, char *canon, size_t canonlen, char *msg,
                      size_t msglen)
{
    const struct cfg_entry *e = &cfg_table[i];
    char shown[48];
    cfg_quote(shown, sizeof shown, value);
    if (e->secret)
        snprintf(shown, sizeof shown, "(secret)");

    size_t n = strlen(value);
    if (!utf8_valid(value, n)) {
        snprintf(msg, msglen, "not valid UTF-8");
        return false;
    }
    for (size_t k = 0; k < n; k++) {
        if ((unsigned char)value[k] < 0x20 || value[k] == 0x7F) {
            snprintf(msg, msglen, "control characters are not allowed");
            return false;
        }
    }

    switch (e->type) {
    case CFG_INT: {
        int64_t v;
        if (parse_int64(value, e->min, e->max, &v) != ST_OK) {
            snprintf(msg, msglen, "expected an integer in %lld..%lld, got \"%s\"",
                     (long long)e->min, (long long)e->max, shown);
            return false;
        }
        snprintf(canon, canonlen, "%lld", (long long)v);
        return true;
    }
    case CFG_BOOL: {
        bool v;
        if (!parse_bool(value, &v)) {
            snprintf(msg, msglen, "expected true/false, yes/no, on/off or 1/0, got \"%s\"", shown);
            return false;
        }
        snprintf(canon, canonlen, "%s", v ? "true" : "false");
        return true;
    }
    case CFG_LIST:
    case CFG_STRING:
        break;
    }

    if (strcmp(e->name, "listen") == 0 && parse_host_port(value, NULL, 0, NULL) != ST_OK) {
        snprintf(msg, msglen, "expected host:port or [v6]:port with port 1..65535, got \"%s\"",
                 shown);
        return false;
    }
    if (strcmp(e->name, "log_level") == 0 && log_level_parse(value, NULL) != ST_OK) {
        snprintf(msg, msglen, "expected debug, info, warn or error, got \"%s\"", shown);
        return false;
    }
    if (strcmp(e->name, "log_format") == 0 && strcmp(value, "json") != 0 &&
        strcmp(value, "text") != 0) {
        snprintf(msg, msglen, "expected json or text, got \"%s\"", shown);
        return false;
    }
    if (strcmp(e->name, "trusted_proxies") == 0 && !check_proxies(value, msg, msglen))
        return false;
    if ((strcmp(e->name, "workdays_holidays") == 0 ||
         strcmp(e->name, "workdays_makeup_days") == 0) &&
        workdays_list_check(value, msg, msglen) != ST_OK)
        return false;
    if (strcmp(e->name, "master_key") == 0 && (!is_hex(value) || n % 2 != 0)) {
        snprintf(msg, msglen, "expected hexadecimal digits (an even number of them)");
        return false;
    }
    /* db_open also takes a bare SQLite path; refuse only what it cannot
     * open: another URL scheme, or "sqlite:" without a path. */
    if (strcmp(e->name, "database") == 0 && n > 0 && strncmp(value, "postgres://", 11) != 0 &&
        strncmp(value, "postgresql://", 13) != 0 &&
        (strstr(value, "://") || strcmp(value, "sqlite:") == 0)) {
        snprintf(msg, msglen,
                 "expected sqlite:PATH, a file path, postgres://... or "
                 "postgresql://...");
        return false;
    }
    if (strlen(value) >= canonlen) {
        snprintf(msg, msglen, "longer than %zu bytes", canonlen - 1);
        return false;
    }
    memcpy(canon, value, n + 1);
    return true;
}

static enum st cfg_set_from(const char *name, const char *value, const char *source, char *err,
                            size_t errlen)
{
    int i = cfg_find(name);
    char canon[CAP_CONFIG_LINE], msg[256], shown[48];
    if (i < 0) {
        cfg_quote(shown, sizeof shown, name ? name : "");
        snprintf(err, errlen, "unknown setting \"%s\"", shown);
        return ST_INVALID;
    }
    if (!value) {
        snprintf(err, errlen, "%s: missing value", cfg_table[i].name);
        return ST_INVALID;
    }
    if (!cfg_check((size_t)i, value, canon, sizeof canon, msg, sizeof msg)) {
        snprintf(err, errlen, "%s: %s", cfg_table[i].name, msg);
        return ST_INVALID;
    }
    cfg_store((size_t)i, canon, source);
    return ST_OK;
}

enum st config_set(const char *name, const char *value, char *err, size_t errlen)
{
    return cfg_set_from(name, value, "flag", err, errlen);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* One checked assignment waiting to be applied. */
struct pending {
    size_t idx;
    char *val;
    int line; /* 0 for the environment */
};

static void pending_free(struct pending *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        xfree(p[i].val);
    xfree(p);
}

/* Parses the file text into checked assignments. Returns ST_OK or writes
 * "FILE:LINE: problem" to err. */
static enum st parse_file(const char *path, char *text, size_t len, struct pending *out,
                          size_t *nout, char *err, size_t errlen)
{
    int lineno = 0;
    size_t pos = 0;
    char canon[CAP_CONFIG_LINE], msg[256], shown[48];
    int seen[CFG_COUNT] = {0};

    while (pos < len) {
        lineno++;
        char *line = text + pos;
        char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl ? 1 : 0);
        if (ll > CAP_CONFIG_LINE) {
            snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, lineno,
                     CAP_CONFIG_LINE);
            return ST_INVALID;
        }
        if (memchr(line, '\0', ll) || !utf8_valid(line, ll)) {
            snprintf(err, errlen, "%s:%d: not valid UTF-8 text", path, lineno);
            return ST_INVALID;
        }
        line[ll] = '\0'; /* overwrites the '\n' (or the final NUL) */

        /* Trim; skip blank lines and comments. */
        while (is_space(*line))
            line++;
        size_t n = strlen(line);
        while (n > 0 && is_space(line[n - 1]))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;

        char *eq = strchr(line, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected \"key = value\"", path, lineno);
            return ST_INVALID;
        }
        char *key = line, *kend = eq, *val = eq + 1;
        while (kend > key && is_space(kend[-1]))
            kend--;
        *kend = '\0';
        while (is_space(*val))
            val++;
        size_t vl = strlen(val);
        if (vl > 0 && val[0] == '"') {
            if (vl < 2 || val[vl - 1] != '"') {
                snprintf(err, errlen, "%s:%d: unterminated quote", path, lineno);
                return ST_INVALID;
            }
            val[vl - 1] = '\0';
            val++;
        }

        int i = cfg_find(key);
        if (i < 0) {
            cfg_quote(shown, sizeof shown, key);
            snprintf(err, errlen, "%s:%d: unknown setting \"%s\"", path, lineno, shown);
            return ST_INVALID;
        }
        if (strcmp(cfg_table[i].name, "config") == 0) {
            snprintf(err, errlen, "%s:%d: config cannot be set inside a config file", path, lineno);
            return ST_INVALID;
        }
        if (seen[i]) {
            snprintf(err, errlen, "%s:%d: %s is already set on line %d", path, lineno,
                     cfg_table[i].name, seen[i]);
            return ST_INVALID;
        }
        seen[i] = lineno;
        if (!cfg_check((size_t)i, val, canon, sizeof canon, msg, sizeof msg)) {
            snprintf(err, errlen, "%s:%d: %s: %s", path, lineno, cfg_table[i].name, msg);
            return ST_INVALID;
        }
        out[*nout].idx = (size_t)i;
        out[*nout].val = xstrdup(canon);
        out[*nout].line = lineno;
        (*nout)++;
    }
    return ST_OK;
}

enum st config_load_file(const char *path, char *err, size_t errlen)
{
    if (!path || !*path) {
        snprintf(err, errlen, "config file path is empty");
        return ST_INVALID;
    }
    char *text;
    size_t len;
    enum st s = file_read_all(path, CAP_CONFIG_FILE, &text, &len);
    if (s == ST_TOOLARGE) {
        snprintf(err, errlen, "%s: larger than %d bytes", path, CAP_CONFIG_FILE);
        return s;
    }
    if (s != ST_OK) {
        snprintf(err, errlen, "%s: cannot read: %s", path,
                 s == ST_NOTFOUND ? "no such file" : st_name(s));
        return s;
    }
    /* Each assignment names a distinct entry, so CFG_COUNT bounds them. */
    struct pending *p = xcalloc(CFG_COUNT, sizeof *p);
    size_t n = 0;
    s = parse_file(path, text, len, p, &n, err, errlen);
    if (s == ST_OK)
        for (size_t i = 0; i < n; i++)
            cfg_store(p[i].idx, p[i].val, "file");
    pending_free(p, n);
    xfree(text);
    return s;
}

enum st config_load_env(char *err, size_t errlen)
{
    struct pending p[CFG_COUNT];
    size_t n = 0;
    char canon[CAP_CONFIG_LINE], msg[256];
    enum st s = ST_OK;
    for (size_t i = 0; i < CFG_COUNT && s == ST_OK; i++) {
        const char *v = cfg_table[i].env ? getenv(cfg_table[i].env) : NULL;
        if (!v)
            continue;
        if (!cfg_check(i, v, canon, sizeof canon, msg, sizeof msg)) {
            snprintf(err, errlen, "%s: %s", cfg_table[i].env, msg);
            s = ST_INVALID;
            break;
        }
        p[n].idx = i;
        p[n].val = xstrdup(canon);
        p[n].line = 0;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        if (s == ST_OK)
            cfg_store(p[i].idx, p[i].val, "env");
        xfree(p[i].val);
    }
    return s;
}

enum st config_validate(char *err, size_t errlen)
{
    char canon[CAP_CONFIG_LINE], msg[256];
    /* Field rules again, for values that were never set (defaults). */
    for (size_t i = 0; i < CFG_COUNT; i++) {
        if (!cfg_check(i, cfg_value(i), canon, sizeof canon, msg, sizeof msg)) {
            snprintf(err, errlen, "%s: %s", cfg_table[i].name, msg);
            return ST_INVALID;
        }
    }
    if ((config_str("tls_cert")[0] == '\0') != (config_str("tls_key")[0] == '\0')) {
        snprintf(err, errlen, "tls_cert and tls_key must be set together");
        return ST_INVALID;
    }
    if (config_str("data_dir")[0] == '\0') {
        snprintf(err, errlen, "data_dir: must not be empty");
        return ST_INVALID;
    }
    const char *pub = config_str("public_url");
    if (pub[0] && ((strncmp(pub, "https://", 8) != 0 && strncmp(pub, "http://", 7) != 0) ||
                   strpbrk(pub, " \"'<>\\?#"))) {
        snprintf(err, errlen,
                 "public_url: an http(s) address without query, e.g. "
                 "https://example.com");
        return ST_INVALID;
    }
    /* An idle timeout longer than the session's whole life means nothing. */
    if (config_int("session_idle_minutes") > 60 * config_int("session_absolute_hours") ||
        config_int("session_remember_days") > config_int("session_remember_absolute_days") ||
        config_int("staff_session_idle_minutes") >
            60 * config_int("staff_session_absolute_hours")) {
        snprintf(err, errlen,
                 "session lifetimes: an idle timeout may not exceed its absolute "
                 "timeout");
        return ST_INVALID;
    }
    /* The calendar as a whole: no day both a holiday and a make-up day. */
    struct workdays *w = xmalloc(sizeof *w);
    char wmsg[256];
    enum st wst = workdays_parse(w, (int)config_int("workdays_utc_offset_minutes"),
                                 config_str("workdays_holidays"),
                                 config_str("workdays_makeup_days"), wmsg, sizeof wmsg);
    xfree(w);
    if (wst != ST_OK) {
        snprintf(err, errlen, "working-day calendar: %s", wmsg);
        return ST_INVALID;
    }
    return ST_OK;
}

const char *config_str(const char *name)
{
    int i = cfg_find(name);
    if (i < 0)
        cfg_bug("config_str", name);
    return cfg_value((size_t)i);
}

int64_t config_int(const char *name)
{
    int i = cfg_find(name);
    if (i < 0 || cfg_table[i].type != CFG_INT)
        cfg_bug("config_int", name);
    int64_t v = 0;
    /* Checked when set; a failure here would mean a bad default. */
    if (parse_int64(cfg_value((size_t)i), INT64_MIN, INT64_MAX, &v) != ST_OK)
        cfg_bug("config_int", name);
    return v;
}

bool config_bool(const char *name)
{
    int i = cfg_find(name);
    bool v = false;
    if (i < 0 || cfg_table[i].type != CFG_BOOL || !parse_bool(cfg_value((size_t)i), &v))
        cfg_bug("config_bool", name);
    return v;
}

const char *config_source(const char *name)
{
    int i = cfg_find(name);
    if (i < 0)
        return NULL;
    return cfg_vals[i].source ? cfg_vals[i].source : "default";
}

bool config_is_secret(const char *name)
{
    int i = cfg_find(name);
    return i >= 0 && cfg_table[i].secret;
}
