/*
 * test_core.c — unit tests for src/core: status names, allocation helpers,
 * the capped buffer and JSON escaping, UTF-8 validation, the clock,
 * logging (captured from stderr), configuration, parsers and file helpers.
 *
 * Log output is captured by pointing fd 2 at a temporary file with dup2, so
 * the real single-write(2) path is what gets tested. Tests that expect the
 * process to end (die, out of memory, misuse of config readers) run in a
 * forked child.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"

/* ---------------------------------------------------------------- helpers */

static char tmpdir[64];

static char *tmp_path(const char *name)
{
    return xasprintf("%s/%s", tmpdir, name);
}

static void write_text(const char *path, const char *text)
{
    assert_int_equal(file_write_atomic(path, text, strlen(text), 0600), ST_OK);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_core.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Redirects fd 2 into a fresh temporary file until capture_end. O_APPEND
 * makes concurrent writers behave like writers to a pipe or terminal. */
static int cap_saved = -1;
static char *cap_file;

static void capture_begin(void)
{
    fflush(stderr);
    cap_file = tmp_path("stderr.XXXXXX");
    int fd = mkstemp(cap_file);
    assert_true(fd >= 0);
    close(fd);
    fd = open(cap_file, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    cap_saved = dup(STDERR_FILENO);
    assert_true(cap_saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    close(fd);
}

/* Restores stderr and returns what was written; caller frees. */
static char *capture_end(void)
{
    fflush(stderr);
    dup2(cap_saved, STDERR_FILENO);
    close(cap_saved);
    cap_saved = -1;
    char *out = NULL;
    assert_int_equal(file_read_all(cap_file, 16 * 1024 * 1024, &out, NULL), ST_OK);
    unlink(cap_file);
    xfree(cap_file);
    cap_file = NULL;
    return out;
}

/* A small strict JSON checker for log lines: one object whose values are
 * strings, true, false or null. Returns the position after the object, or
 * NULL when the text is not such an object. */
static const char *js_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *js_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    while (*p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c == '\0' || c < 0x20)
            return NULL;
        if (c == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || p[i] == '\0')
                        return NULL;
                p += 5;
            } else if (*p != '\0' && strchr("\"\\/bfnrt", *p)) {
                p++;
            } else {
                return NULL;
            }
        } else {
            p++;
        }
    }
    return p + 1;
}

static const char *js_object(const char *p)
{
    p = js_ws(p);
    if (*p++ != '{')
        return NULL;
    p = js_ws(p);
    if (*p == '}')
        return p + 1;
    for (;;) {
        p = js_string(js_ws(p));
        if (!p)
            return NULL;
        p = js_ws(p);
        if (*p++ != ':')
            return NULL;
        p = js_ws(p);
        if (*p == '"')
            p = js_string(p);
        else if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0)
            p += 4;
        else if (strncmp(p, "false", 5) == 0)
            p += 5;
        else
            return NULL;
        if (!p)
            return NULL;
        p = js_ws(p);
        if (*p == '}')
            return p + 1;
        if (*p++ != ',')
            return NULL;
    }
}

/* True when line[0..n) is exactly one valid JSON object in valid UTF-8. */
static bool json_line_ok(const char *line, size_t n)
{
    char *copy = xstrndup(line, n);
    const char *end = js_object(copy);
    bool ok = end && *js_ws(end) == '\0' && utf8_valid(copy, n);
    xfree(copy);
    return ok;
}

/* Returns the line at *pos (its '\n' replaced by NUL) and moves *pos past
 * it; NULL at the end. */
static char *next_line(char **pos)
{
    char *l = *pos, *nl = strchr(l, '\n');
    if (!nl)
        return NULL;
    *nl = '\0';
    *pos = nl + 1;
    return l;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Runs fn in a child with stderr sent to /dev/null; returns the wait status. */
static int run_child(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, STDERR_FILENO);
        fn();
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/* ---------------------------------------------------------------- status */

static void test_st_name(void **state)
{
    (void)state;
    static const char *const want[] = {
        "ok",
        "invalid",
        "not-found",
        "conflict",
        "forbidden",
        "unauthorized",
        "rate-limited",
        "too-large",
        "unsupported-media-type",
        "unprocessable",
        "unavailable",
        "internal",
    };
    assert_int_equal(sizeof want / sizeof want[0], ST__COUNT);
    for (int i = 0; i < ST__COUNT; i++)
        assert_string_equal(st_name((enum st)i), want[i]);
    assert_string_equal(st_name(ST__COUNT), "internal");
    assert_string_equal(st_name((enum st) - 1), "internal");
}

static void test_st_from_errno(void **state)
{
    (void)state;
    assert_int_equal(st_from_errno(0), ST_OK);
    assert_int_equal(st_from_errno(ENOENT), ST_NOTFOUND);
    assert_int_equal(st_from_errno(EACCES), ST_FORBIDDEN);
    assert_int_equal(st_from_errno(EEXIST), ST_CONFLICT);
    assert_int_equal(st_from_errno(ENOSPC), ST_UNAVAILABLE);
    assert_int_equal(st_from_errno(EIO), ST_INTERNAL);
}

/* ---------------------------------------------------------------- alloc */

static void test_alloc(void **state)
{
    (void)state;
    void *p = xmalloc(0);
    assert_non_null(p);
    xfree(p);

    unsigned char *z = xcalloc(16, 4);
    for (int i = 0; i < 64; i++)
        assert_int_equal(z[i], 0);
    z = xrealloc(z, 4096);
    z[4095] = 7;
    assert_int_equal(z[0], 0);
    xfree(z);
    xfree(NULL);
    assert_non_null(p = xcalloc(0, 8));
    xfree(p);
    assert_non_null(p = xrealloc(NULL, 0));
    xfree(p);

    char *s = xstrdup("héllo");
    assert_string_equal(s, "héllo");
    xfree(s);
    s = xstrndup("abcdef", 3);
    assert_string_equal(s, "abc");
    xfree(s);
    s = xstrndup("ab", 10);
    assert_string_equal(s, "ab");
    xfree(s);
    s = xasprintf("%s-%d-%05.1f", "x", 42, 3.14159);
    assert_string_equal(s, "x-42-003.1");
    xfree(s);
    s = xasprintf("%s", "");
    assert_string_equal(s, "");
    xfree(s);
}

static void child_die(void)
{
    die("cannot open %s: %d", "thing", 42);
}

static void test_die(void **state)
{
    (void)state;
    /* The message must reach stderr: capture it through a pipe. */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        child_die();
    }
    close(fds[1]);
    char out[256] = {0};
    size_t n = 0;
    ssize_t r;
    while (n < sizeof out - 1 && (r = read(fds[0], out + n, sizeof out - 1 - n)) > 0)
        n += (size_t)r;
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_non_null(strstr(out, "entrepot: cannot open thing: 42\n"));
}

static void child_oom(void)
{
    volatile size_t huge = SIZE_MAX - 64;
    void *p = xmalloc(huge);
    /* Not reached if xmalloc works as promised. */
    xfree(p);
    _exit(0);
}

static void test_xmalloc_exhaustion_aborts(void **state)
{
    (void)state;
    int status = run_child(child_oom);
    /* abort() (or the sanitizer's own report) — never a normal return. */
    assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---------------------------------------------------------------- buf */

static void test_buf_basic(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(b.len, 0);

    assert_int_equal(buf_puts(&b, "hello"), ST_OK);
    assert_int_equal(buf_putc(&b, ' '), ST_OK);
    assert_int_equal(buf_append(&b, "wor", 3), ST_OK);
    assert_string_equal(b.data, "hello wor");
    assert_int_equal(b.len, 9);
    /* Exactly to the cap is fine; one past it is not, and changes nothing. */
    assert_int_equal(buf_putc(&b, 'l'), ST_OK);
    assert_int_equal(b.len, 10);
    assert_int_equal(buf_putc(&b, 'd'), ST_TOOLARGE);
    assert_int_equal(buf_puts(&b, "!!"), ST_TOOLARGE);
    assert_int_equal(buf_append(&b, "", 0), ST_OK);
    assert_int_equal(buf_append(&b, NULL, 0), ST_OK);
    assert_string_equal(b.data, "hello worl");
    assert_int_equal(b.len, 10);
    assert_true(b.alloc <= b.cap + 1);

    buf_truncate(&b, 5);
    assert_string_equal(b.data, "hello");
    buf_truncate(&b, 50);
    assert_string_equal(b.data, "hello");
    buf_reset(&b);
    assert_string_equal(b.data, "");
    assert_int_equal(b.len, 0);
    assert_int_equal(buf_puts(&b, "0123456789"), ST_OK);

    char *t = buf_take(&b);
    assert_string_equal(t, "0123456789");
    xfree(t);
    assert_string_equal(b.data, "");
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 10);
    /* Taking from an empty buffer gives a fresh empty string. */
    t = buf_take(&b);
    assert_string_equal(t, "");
    xfree(t);
    /* Still usable after take. */
    assert_int_equal(buf_puts(&b, "again"), ST_OK);
    assert_string_equal(b.data, "again");
    buf_free(&b);
    assert_string_equal(b.data, "");
    buf_free(&b); /* twice is harmless */
}

static void test_buf_zero_cap_and_reserve(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_putc(&b, 'x'), ST_TOOLARGE);
    assert_int_equal(buf_printf(&b, "%s", ""), ST_OK);
    assert_string_equal(b.data, "");
    buf_free(&b);

    buf_init(&b, 1000);
    assert_int_equal(buf_reserve(&b, 1001), ST_TOOLARGE);
    assert_int_equal(buf_reserve(&b, 600), ST_OK);
    char *before = b.data;
    assert_true(b.alloc >= 601);
    for (int i = 0; i < 600; i++)
        assert_int_equal(buf_putc(&b, 'a'), ST_OK);
    assert_ptr_equal(b.data, before); /* no reallocation after reserve */
    buf_free(&b);

    /* Growth across many appends keeps content and terminator right. */
    buf_init(&b, SIZE_MAX);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(buf_printf(&b, "%d,", i % 10), ST_OK);
    assert_int_equal(b.len, 20000);
    assert_int_equal(b.data[b.len], '\0');
    assert_memory_equal(b.data + 19990, "5,6,7,8,9,", 10);
    buf_free(&b);
}

static void test_buf_printf(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_printf(&b, "%d-%s", 12, "ab"), ST_OK);
    assert_string_equal(b.data, "12-ab");
    assert_int_equal(buf_printf(&b, "%s", "xyzw"), ST_TOOLARGE);
    assert_string_equal(b.data, "12-ab");
    assert_int_equal(buf_printf(&b, "%s", "xyz"), ST_OK);
    assert_string_equal(b.data, "12-abxyz");
    buf_free(&b);
}

static char *json_of(const char *s)
{
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(buf_json_str(&b, s), ST_OK);
    return buf_take(&b);
}

static void test_buf_json(void **state)
{
    (void)state;
    struct {
        const char *in, *out;
    } cases[] = {
        {"", "\"\""},
        {"plain", "\"plain\""},
        {"a\"b\\c", "\"a\\\"b\\\\c\""},
        {"\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\""},
        {"\x01\x1f", "\"\\u0001\\u001f\""},
        {"\x7f/", "\"\x7f/\""},
        {"é中😀", "\"é中😀\""},
        {"\xF4\x8F\xBF\xBF", "\"\xF4\x8F\xBF\xBF\""},
        /* invalid sequences: every bad byte becomes U+FFFD */
        {"a\xC0\xAF"
         "b",
         "\"a\\ufffd\\ufffdb\""},
        {"\xED\xA0\x80", "\"\\ufffd\\ufffd\\ufffd\""},
        {"x\xE4\xB8", "\"x\\ufffd\\ufffd\""},
        {"</script>", "\"</script>\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = json_of(cases[i].in);
        assert_string_equal(got, cases[i].out);
        xfree(got);
    }
    char *got = json_of(NULL);
    assert_string_equal(got, "null");
    xfree(got);

    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(buf_json_strn(&b, "a\0b", 3), ST_OK);
    assert_string_equal(b.data, "\"a\\u0000b\"");
    buf_free(&b);

    /* Over the cap: nothing of the string is left behind. */
    buf_init(&b, 10);
    assert_int_equal(buf_puts(&b, "x="), ST_OK);
    assert_int_equal(buf_json_str(&b, "\n\n\n\n"), ST_TOOLARGE); /* needs 10 */
    assert_string_equal(b.data, "x=");
    assert_int_equal(buf_json_str(&b, "abcdef"), ST_OK); /* exactly 8 */
    assert_string_equal(b.data, "x=\"abcdef\"");
    buf_free(&b);
}

/* ---------------------------------------------------------------- utf-8 */

static bool v(const char *s)
{
    return utf8_valid(s, strlen(s));
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(utf8_valid("", 0));
    assert_true(utf8_valid(NULL, 0));
    assert_false(utf8_valid(NULL, 1));
    assert_true(v("hello"));
    assert_true(v("\xC2\x80"));         /* U+0080, smallest 2-byte */
    assert_true(v("\xDF\xBF"));         /* U+07FF */
    assert_true(v("\xE0\xA0\x80"));     /* U+0800, smallest 3-byte */
    assert_true(v("\xED\x9F\xBF"));     /* U+D7FF, just below surrogates */
    assert_true(v("\xEE\x80\x80"));     /* U+E000, just above */
    assert_true(v("\xEF\xBF\xBF"));     /* U+FFFF */
    assert_true(v("\xF0\x90\x80\x80")); /* U+10000, smallest 4-byte */
    assert_true(v("\xF4\x8F\xBF\xBF")); /* U+10FFFF, the maximum */
    assert_true(v("日本語 and 😀"));

    assert_false(v("\xC0\xAF"));         /* overlong '/' */
    assert_false(v("\xC1\xBF"));         /* overlong */
    assert_false(v("\xE0\x80\xAF"));     /* overlong 3-byte */
    assert_false(v("\xE0\x9F\xBF"));     /* overlong 3-byte, top */
    assert_false(v("\xF0\x80\x80\xAF")); /* overlong 4-byte */
    assert_false(v("\xF0\x8F\xBF\xBF")); /* overlong 4-byte, top */
    assert_false(v("\xED\xA0\x80"));     /* U+D800 surrogate */
    assert_false(v("\xED\xBF\xBF"));     /* U+DFFF surrogate */
    assert_false(v("\xF4\x90\x80\x80")); /* U+110000 */
    assert_false(v("\xF5\x80\x80\x80"));
    assert_false(v("\xFF"));
    assert_false(v("\xFE"));
    assert_false(v("\x80")); /* lone continuation */
    assert_false(v("a\xBF"
                   "b"));
    assert_false(v("\xE4\xB8"));     /* truncated 3-byte */
    assert_false(v("\xF0\x9F\x98")); /* truncated 4-byte */
    assert_false(v("\xC3"));         /* truncated 2-byte */
    assert_false(v("\xC3"
                   "a")); /* bad continuation */
    assert_false(v("\xE4"
                   "a"
                   "\xAD"));
    /* Truncated by n even though the bytes continue. */
    assert_false(utf8_valid("\xE4\xB8\xAD", 2));
    assert_true(utf8_valid("\xE4\xB8\xAD", 3));
    /* NUL bytes are refused. */
    assert_false(utf8_valid("a\0b", 3));
    assert_false(utf8_valid("\0", 1));
}

static void test_utf8_len_next(void **state)
{
    (void)state;
    assert_int_equal(utf8_len("", 0), 0);
    assert_int_equal(utf8_len("abc", 3), 3);
    assert_int_equal(utf8_len("é中😀", strlen("é中😀")), 3);
    assert_int_equal(utf8_len("深圳 ok", strlen("深圳 ok")), 5);

    uint32_t cp = 0;
    assert_int_equal(utf8_next("A", 1, &cp), 1);
    assert_int_equal(cp, 'A');
    assert_int_equal(utf8_next("é", 2, &cp), 2);
    assert_int_equal(cp, 0xE9);
    assert_int_equal(utf8_next("中", 3, &cp), 3);
    assert_int_equal(cp, 0x4E2D);
    assert_int_equal(utf8_next("\xF4\x8F\xBF\xBF", 4, &cp), 4);
    assert_int_equal(cp, 0x10FFFF);
    assert_int_equal(utf8_next("\0", 1, &cp), 1);
    assert_int_equal(cp, 0);
    assert_int_equal(utf8_next("\xC0\xAF", 2, NULL), 0);
    assert_int_equal(utf8_next("\xE4\xB8\xAD", 2, NULL), 0);
    assert_int_equal(utf8_next("x", 0, NULL), 0);
}

/* ---------------------------------------------------------------- clock */

static void test_clock(void **state)
{
    (void)state;
    clock_set_offset_ms(0);
    assert_int_equal(clock_offset_ms(), 0);
    int64_t sys = (int64_t)time(NULL) * 1000;
    int64_t now = clock_now_ms();
    assert_true(now >= sys - 1000 && now <= sys + 2000);

    int64_t day = 86400000;
    clock_set_offset_ms(3 * day);
    assert_int_equal(clock_offset_ms(), 3 * day);
    int64_t later = clock_now_ms();
    assert_true(later - now >= 3 * day && later - now < 3 * day + 2000);
    clock_set_offset_ms(-day);
    assert_true(clock_now_ms() < now);
    clock_set_offset_ms(0);
    assert_true(clock_now_ms() >= now);

    uint64_t a = clock_mono_ns();
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    uint64_t b = clock_mono_ns();
    assert_true(b > a);
    assert_true(b - a >= 2000000);
}

/* ---------------------------------------------------------------- log */

static void test_log_levels(void **state)
{
    (void)state;
    enum log_level l = LOG_INFO;
    assert_int_equal(log_level_parse("debug", &l), ST_OK);
    assert_int_equal(l, LOG_DEBUG);
    assert_int_equal(log_level_parse("error", &l), ST_OK);
    assert_int_equal(l, LOG_ERROR);
    assert_int_equal(log_level_parse("ERROR", &l), ST_INVALID);
    assert_int_equal(log_level_parse("verbose", &l), ST_INVALID);
    assert_int_equal(log_level_parse(NULL, &l), ST_INVALID);
    assert_string_equal(log_level_name(LOG_WARN), "warn");
    assert_string_equal(log_level_name(LOG_INFO), "info");

    log_init(LOG_WARN, true);
    assert_int_equal(log_min_level(), LOG_WARN);
    capture_begin();
    log_msg(LOG_DEBUG, "dropped-debug");
    log_msg(LOG_INFO, "dropped-info");
    log_infof("dropped %d", 1);
    log_debugf("dropped %d", 2);
    log_kv(LOG_INFO, "dropped-kv", "a", "b", (const char *)NULL);
    log_warnf("kept %s", "warn");
    log_errorf("kept %d", 7);
    char *out = capture_end();
    assert_null(strstr(out, "dropped"));
    assert_non_null(strstr(out, "\"level\":\"warn\",\"msg\":\"kept warn\""));
    assert_non_null(strstr(out, "\"level\":\"error\",\"msg\":\"kept 7\""));
    assert_int_equal(count_lines(out), 2);
    xfree(out);
    log_init(LOG_INFO, true);
}

static void test_log_json_line(void **state)
{
    (void)state;
    log_init(LOG_DEBUG, true);
    log_set_request_id(NULL);
    capture_begin();
    log_msg(LOG_INFO, "hello \"world\"\nnext");
    log_set_request_id("req-42");
    assert_string_equal(log_request_id(), "req-42");
    log_kv(LOG_DEBUG, "with fields", "user", "ana", "path", "/a?b=\"c\"", "none",
           (const char *)NULL, (const char *)NULL);
    log_set_request_id("");
    assert_string_equal(log_request_id(), "");
    log_infof("n=%d", 5);
    char *out = capture_end();
    log_init(LOG_INFO, true);

    assert_int_equal(count_lines(out), 3);
    char *pos = out;
    char *l1 = next_line(&pos);
    char *l2 = next_line(&pos);
    char *l3 = next_line(&pos);
    assert_non_null(l1);
    assert_non_null(l2);
    assert_non_null(l3);
    assert_true(json_line_ok(l1, strlen(l1)));
    assert_true(json_line_ok(l2, strlen(l2)));
    assert_true(json_line_ok(l3, strlen(l3)));

    /* {"ts":"YYYY-MM-DDTHH:MM:SS.mmmZ","level":... */
    assert_memory_equal(l1, "{\"ts\":\"", 7);
    const char *ts = l1 + 7;
    assert_int_equal(strlen(ts) > 24, true);
    assert_int_equal(ts[4], '-');
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[19], '.');
    assert_int_equal(ts[23], 'Z');
    assert_int_equal(ts[24], '"');
    assert_non_null(strstr(l1, "\"level\":\"info\",\"msg\":\"hello \\\"world\\\"\\nnext\"}"));
    assert_null(strstr(l1, "\"rid\""));

    assert_non_null(strstr(l2, "\"level\":\"debug\",\"msg\":\"with fields\",\"rid\":\"req-42\","
                               "\"user\":\"ana\",\"path\":\"/a?b=\\\"c\\\"\",\"none\":null}"));
    assert_non_null(strstr(l3, "\"msg\":\"n=5\"}"));
    assert_null(strstr(l3, "\"rid\""));
    xfree(out);
}

static void test_log_redaction(void **state)
{
    (void)state;
    log_init(LOG_INFO, true);
    log_set_request_id(NULL);
    capture_begin();
    log_kv(LOG_INFO, "login", "password", "hunter2", "new_Password", "pw-a", "passwd", "pw-b",
           "X-Auth-Token", "tok-1", "client_secret", "sec-1", "otp", "123456", "reset_code",
           "code-1", "API_KEY", "key-1", "Cookie", "sid=abc", "authorization", "Bearer xyz", "user",
           "ana", "route", "/login", (const char *)NULL);
    char *out = capture_end();
    const char *secrets[] = {"hunter2", "pw-a",  "pw-b",    "tok-1",  "sec-1", "123456",
                             "code-1",  "key-1", "sid=abc", "Bearer", "xyz"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        assert_null(strstr(out, secrets[i]));
    assert_non_null(strstr(out, "\"password\":\"[redacted]\""));
    assert_non_null(strstr(out, "\"API_KEY\":\"[redacted]\""));
    assert_non_null(strstr(out, "\"Cookie\":\"[redacted]\""));
    assert_non_null(strstr(out, "\"otp\":\"[redacted]\""));
    assert_non_null(strstr(out, "\"user\":\"ana\""));
    assert_non_null(strstr(out, "\"route\":\"/login\""));
    assert_true(json_line_ok(out, strlen(out) - 1));
    xfree(out);

    /* Text format redacts too. */
    log_init(LOG_INFO, false);
    capture_begin();
    log_kv(LOG_INFO, "t", "session_token", "abc123", (const char *)NULL);
    out = capture_end();
    log_init(LOG_INFO, true);
    assert_null(strstr(out, "abc123"));
    assert_non_null(strstr(out, "session_token=[redacted]"));
    xfree(out);
}

static void test_log_text(void **state)
{
    (void)state;
    log_init(LOG_INFO, false);
    log_set_request_id("r1");
    capture_begin();
    log_kv(LOG_WARN, "disk almost full", "free", "3%", "dir", "/var/lib/my data", "empty", "",
           (const char *)NULL);
    log_msg(LOG_INFO, "two\nlines");
    char *out = capture_end();
    log_set_request_id(NULL);
    log_init(LOG_INFO, true);

    assert_int_equal(count_lines(out), 2);
    /* "ts level msg k=v": the timestamp, then the padded level. */
    assert_int_equal(out[10], 'T');
    assert_non_null(strstr(
        out, "Z warn  disk almost full rid=r1 free=3% dir=\"/var/lib/my data\" empty=\"\"\n"));
    /* A newline in the message cannot forge a second line. */
    assert_non_null(strstr(out, "Z info  \"two\\nlines\" rid=r1\n"));
    xfree(out);
}

static void test_log_truncation(void **state)
{
    (void)state;
    log_init(LOG_INFO, true);
    log_set_request_id("rid-trunc");
    size_t big = 3 * CAP_LOG_LINE;
    char *msg = xmalloc(big + 1);
    /* A mix of multibyte characters and bytes that need escaping, so a cut
     * in the wrong place would show. */
    for (size_t i = 0; i < big;) {
        static const char pat[] = "é\"\n中x";
        size_t n = sizeof pat - 1;
        if (i + n > big)
            n = big - i;
        memcpy(msg + i, pat, n);
        i += n;
    }
    msg[big] = '\0';

    capture_begin();
    log_kv(LOG_INFO, msg, "user", "ana", (const char *)NULL);
    log_kv(LOG_INFO, "short", "blob", msg, "after", "x", (const char *)NULL);
    log_msg(LOG_INFO, msg);
    char *out = capture_end();
    log_set_request_id(NULL);

    assert_int_equal(count_lines(out), 3);
    char *p = out;
    for (int i = 0; i < 3; i++) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl);
        size_t n = (size_t)(nl - p) + 1;
        assert_true(n <= CAP_LOG_LINE);
        assert_true(json_line_ok(p, n - 1));
        *nl = '\0';
        assert_non_null(strstr(p, ",\"truncated\":true}"));
        /* The request id survives a huge message. */
        assert_non_null(strstr(p, "\"rid\":\"rid-trunc\""));
        if (i == 0)
            assert_non_null(strstr(p, "\"user\":\"ana\""));
        if (i == 1) {
            assert_non_null(strstr(p, "\"msg\":\"short\""));
            assert_null(strstr(p, "\"after\"")); /* fields after the cut are dropped */
        }
        p = nl + 1;
    }
    xfree(out);

    /* A line that fits exactly is not marked. */
    capture_begin();
    log_msg(LOG_INFO, "fits");
    out = capture_end();
    assert_null(strstr(out, "truncated"));
    xfree(out);
    xfree(msg);
}

struct log_thread_arg {
    int id;
};

#define LOG_THREADS    4
#define LOG_PER_THREAD 300

static void *log_thread(void *p)
{
    const struct log_thread_arg *a = p;
    char rid[16], msg[32], pad[600];
    snprintf(rid, sizeof rid, "t%d", a->id);
    memset(pad, 'a' + a->id, sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    log_set_request_id(rid);
    for (int i = 0; i < LOG_PER_THREAD; i++) {
        snprintf(msg, sizeof msg, "m%d-%d", a->id, i);
        log_kv(LOG_INFO, msg, "pad", pad, (const char *)NULL);
    }
    return NULL;
}

static void test_log_threads(void **state)
{
    (void)state;
    log_init(LOG_INFO, true);
    pthread_t th[LOG_THREADS];
    struct log_thread_arg args[LOG_THREADS];
    capture_begin();
    for (int i = 0; i < LOG_THREADS; i++) {
        args[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, log_thread, &args[i]), 0);
    }
    for (int i = 0; i < LOG_THREADS; i++)
        pthread_join(th[i], NULL);
    char *out = capture_end();
    /* The main thread's request id is untouched by the others. */
    assert_string_equal(log_request_id(), "");

    assert_int_equal(count_lines(out), LOG_THREADS * LOG_PER_THREAD);
    int seen[LOG_THREADS] = {0};
    char *pos = out;
    for (char *l; (l = next_line(&pos)) != NULL;) {
        assert_true(json_line_ok(l, strlen(l)));
        const char *m = strstr(l, "\"msg\":\"m");
        assert_non_null(m);
        int id = m[8] - '0';
        assert_true(id >= 0 && id < LOG_THREADS);
        char want[32];
        snprintf(want, sizeof want, "\"rid\":\"t%d\"", id);
        assert_non_null(strstr(l, want));
        seen[id]++;
    }
    for (int i = 0; i < LOG_THREADS; i++)
        assert_int_equal(seen[i], LOG_PER_THREAD);
    xfree(out);
}

/* ---------------------------------------------------------------- config */

static int config_setup(void **state)
{
    (void)state;
    size_t n;
    const struct cfg_entry *t = config_table(&n);
    for (size_t i = 0; i < n; i++)
        if (t[i].env)
            unsetenv(t[i].env);
    config_reset();
    return 0;
}

static void test_config_table(void **state)
{
    (void)state;
    size_t n = 0;
    const struct cfg_entry *t = config_table(&n);
    assert_true(n >= 21); /* modules add their own settings */
    char err[256];
    for (size_t i = 0; i < n; i++) {
        assert_non_null(t[i].name);
        assert_non_null(t[i].defval);
        assert_non_null(t[i].env);
        assert_non_null(t[i].help);
        assert_memory_equal(t[i].env, "ENTREPOT_", 9);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(t[i].name, t[j].name);
            assert_string_not_equal(t[i].env, t[j].env);
        }
        /* Every default is a value the entry itself accepts. */
        assert_int_equal(config_set(t[i].name, t[i].defval, err, sizeof err), ST_OK);
        assert_string_equal(config_str(t[i].name), t[i].defval);
        if (t[i].type == CFG_INT)
            assert_true(t[i].min <= t[i].max);
    }
    config_reset();
    for (size_t i = 0; i < n; i++)
        assert_string_equal(config_source(t[i].name), "default");
    assert_int_equal(config_validate(err, sizeof err), ST_OK);

    assert_string_equal(config_str("listen"), "127.0.0.1:8080");
    assert_string_equal(config_str("data_dir"), "var");
    assert_string_equal(config_str("static_dir"), "web/dist");
    assert_int_equal(config_int("max_body_bytes"), 1048576);
    assert_int_equal(config_int("connection_timeout_s"), 15);
    assert_int_equal(config_int("max_connections"), 1024);
    assert_int_equal(config_int("max_connections_per_ip"), 64);
    assert_int_equal(config_int("threads"), 0);
    assert_true(config_bool("auto_migrate"));
    assert_true(config_bool("access_log"));
    assert_false(config_bool("test_mode"));
    assert_string_equal(config_str("log_level"), "info");
    assert_string_equal(config_str("log_format"), "json");

    assert_true(config_is_secret("master_key"));
    assert_true(config_is_secret("master-key"));
    assert_false(config_is_secret("listen"));
    assert_false(config_is_secret("nope"));
    assert_null(config_source("nope"));
}

static void test_config_set_types(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(config_set("threads", "8", err, sizeof err), ST_OK);
    assert_int_equal(config_int("threads"), 8);
    assert_string_equal(config_source("threads"), "flag");
    assert_int_equal(config_set("threads", "007", err, sizeof err), ST_OK);
    assert_string_equal(config_str("threads"), "7"); /* canonical */

    assert_int_equal(config_set("threads", "257", err, sizeof err), ST_INVALID);
    assert_non_null(strstr(err, "threads"));
    assert_non_null(strstr(err, "0..256"));
    assert_int_equal(config_int("threads"), 7); /* unchanged */
    assert_int_equal(config_set("threads", "-1", err, sizeof err), ST_INVALID);
    assert_int_equal(config_set("threads", " 4", err, sizeof err), ST_INVALID);
    assert_int_equal(config_set("threads", "4x", err, sizeof err), ST_INVALID);
    assert_int_equal(config_set("threads", "", err, sizeof err), ST_INVALID);
    assert_int_equal(config_set("max_body_bytes", "1023", err, sizeof err), ST_INVALID);
    assert_int_equal(config_set("max_body_bytes", "67108864", err, sizeof err), ST_OK);
    assert_int_equal(config_set("max_body_bytes", "67108865", err, sizeof err), ST_INVALID);

    const char *yes[] = {"true", "1", "yes", "on", "TRUE", "On"};
    const char *no[] = {"false", "0", "no", "off", "No"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        assert_int_equal(config_set("test_mode", yes[i], err, sizeof err), ST_OK);
        assert_true(config_bool("test_mode"));
        assert_string_equal(config_str("test_mode"), "true");
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        assert_int_equal(config_set("test_mode", no[i], err, sizeof err), ST_OK);
        assert_false(config_bool("test_mode"));
    }
    assert_int_equal(config_set("test_mode", "maybe", err, sizeof err), ST_INVALID);
    assert_non_null(strstr(err, "test_mode"));

    /* '-' for '_' in names. */
    assert_int_equal(config_set("db-pool-size", "12", err, sizeof err), ST_OK);
    assert_int_equal(config_int("db_pool_size"), 12);
    assert_int_equal(config_int("db-pool-size"), 12);

    assert_int_equal(config_set("no_such", "1", err, sizeof err), ST_INVALID);
    assert_non_null(strstr(err, "no_such"));
    assert_int_equal(config_set("threads", NULL, err, sizeof err), ST_INVALID);

    assert_int_equal(config_set("log_level", "verbose", err, sizeof err), ST_INVALID);
    assert_int_equal(config_set("log_level", "debug", err, sizeof err), ST_OK);
    assert_int_equal(config_set("log_format", "xml", err, sizeof err), ST_INVALID);
    assert_int_equal(config_set("log_format", "text", err, sizeof err), ST_OK);
    assert_int_equal(config_set("listen", "localhost", err, sizeof err), ST_INVALID);
    assert_int_equal(config_set("listen", "[::1]:9000", err, sizeof err), ST_OK);
    assert_int_equal(config_set("data_dir", "bad\nname", err, sizeof err), ST_INVALID);
    assert_int_equal(config_set("data_dir", "\xC0\xAF", err, sizeof err), ST_INVALID);
    assert_int_equal(config_set("database", "mysql://x", err, sizeof err), ST_INVALID);
    assert_int_equal(config_set("database", "sqlite:", err, sizeof err), ST_INVALID);
    assert_int_equal(config_set("database", "sqlite:/tmp/x.db", err, sizeof err), ST_OK);
    assert_int_equal(config_set("database", "postgres://u@h/db", err, sizeof err), ST_OK);

    /* A secret's value never appears in an error. */
    assert_int_equal(config_set("master_key", "zz-SECRETVALUE", err, sizeof err), ST_INVALID);
    assert_null(strstr(err, "SECRETVALUE"));
    assert_non_null(strstr(err, "master_key"));
    assert_int_equal(config_set("master_key", "00ff", err, sizeof err), ST_OK);

    config_reset();
    assert_string_equal(config_source("threads"), "default");
    assert_int_equal(config_int("threads"), 0);
}

static void test_config_precedence(void **state)
{
    (void)state;
    char *path = tmp_path("prec.conf");
    write_text(path, "# entrepot configuration\n"
                     "\n"
                     "listen = 0.0.0.0:9000\n"
                     "  threads=3  \n"
                     "data-dir = \"/srv/my data\"\n"
                     "max_connections = 10\n"
                     "access_log = off\n"
                     "log_level = warn\r\n"
                     "trusted_proxies = 10.0.0.0/8, ::1\n"
                     "static_dir = \"\"\n"
                     "   # indented comment\n");
    char err[256] = "";
    assert_int_equal(config_load_file(path, err, sizeof err), ST_OK);
    assert_string_equal(config_str("listen"), "0.0.0.0:9000");
    assert_string_equal(config_source("listen"), "file");
    assert_int_equal(config_int("threads"), 3);
    assert_string_equal(config_str("data_dir"), "/srv/my data");
    assert_false(config_bool("access_log"));
    assert_string_equal(config_str("log_level"), "warn");
    assert_string_equal(config_str("trusted_proxies"), "10.0.0.0/8, ::1");
    assert_string_equal(config_str("static_dir"), "");
    assert_string_equal(config_source("static_dir"), "file");
    assert_string_equal(config_source("auto_migrate"), "default");

    setenv("ENTREPOT_THREADS", "5", 1);
    setenv("ENTREPOT_MAX_CONNECTIONS", "20", 1);
    setenv("ENTREPOT_TEST_MODE", "yes", 1);
    assert_int_equal(config_load_env(err, sizeof err), ST_OK);
    assert_int_equal(config_int("threads"), 5);
    assert_string_equal(config_source("threads"), "env");
    assert_int_equal(config_int("max_connections"), 20);
    assert_true(config_bool("test_mode"));
    assert_string_equal(config_source("test_mode"), "env");
    assert_string_equal(config_source("listen"), "file"); /* env did not touch it */

    assert_int_equal(config_set("threads", "6", err, sizeof err), ST_OK);
    assert_int_equal(config_int("threads"), 6);
    assert_string_equal(config_source("threads"), "flag");
    assert_int_equal(config_int("max_connections"), 20);
    assert_string_equal(config_source("max_connections"), "env");
    assert_string_equal(config_source("listen"), "file");
    assert_string_equal(config_source("connection_timeout_s"), "default");
    assert_int_equal(config_validate(err, sizeof err), ST_OK);

    unsetenv("ENTREPOT_THREADS");
    unsetenv("ENTREPOT_MAX_CONNECTIONS");
    unsetenv("ENTREPOT_TEST_MODE");
    xfree(path);
}

static void expect_file_error(const char *text, const char *want)
{
    char *path = tmp_path("bad.conf");
    write_text(path, text);
    char err[512] = "";
    assert_int_equal(config_load_file(path, err, sizeof err), ST_INVALID);
    char *full = xasprintf("%s:%s", path, want);
    if (strstr(err, full) != err) {
        print_error("error \"%s\" does not start with \"%s\"\n", err, full);
        fail();
    }
    xfree(full);
    xfree(path);
}

static void test_config_file_errors(void **state)
{
    (void)state;
    expect_file_error("listen = 1.2.3.4:80\n\n# c\nbogus = 1\n", "4: unknown setting \"bogus\"");
    expect_file_error("threads = 2\nthreads = many\n", "2: threads is already set on line 1");
    expect_file_error("threads = many\n", "1: threads: expected an integer in 0..256");
    expect_file_error("\nmax_connections = 0\n", "2: max_connections: expected an integer");
    expect_file_error("a line without equals\n", "1: expected \"key = value\"");
    expect_file_error("data_dir = \"unterminated\n", "1: unterminated quote");
    expect_file_error("x\n\nauto_migrate = perhaps\n", "1: expected");
    expect_file_error("listen = 1.2.3.4:80\nauto_migrate = perhaps\n", "2: auto_migrate:");
    expect_file_error("log_format = yaml\n", "1: log_format: expected json or text");
    expect_file_error("trusted_proxies = 10.0.0.0/8, 300.1.1.1\n",
                      "1: trusted_proxies: \"300.1.1.1\" is not an IP address");
    expect_file_error("config = other.conf\n", "1: config cannot be set");
    expect_file_error("listen = 1.2.3.4:80\ndata_dir = \xC0\xAF\n", "2: not valid UTF-8");
    expect_file_error("master_key = nothex-SECRETSTUFF\n", "1: master_key:");

    /* A bad line anywhere means nothing of the file is applied. */
    config_reset();
    char *path = tmp_path("half.conf");
    write_text(path, "threads = 9\nlisten = [::1]:81\nmax_body_bytes = 12\n");
    char err[512];
    assert_int_equal(config_load_file(path, err, sizeof err), ST_INVALID);
    assert_non_null(strstr(err, ":3: max_body_bytes:"));
    assert_int_equal(config_int("threads"), 0);
    assert_string_equal(config_source("threads"), "default");
    assert_string_equal(config_str("listen"), "127.0.0.1:8080");

    /* The secret is not echoed in the message. */
    write_text(path, "master_key = nothex-SECRETSTUFF\n");
    assert_int_equal(config_load_file(path, err, sizeof err), ST_INVALID);
    assert_null(strstr(err, "SECRETSTUFF"));
    xfree(path);

    /* Missing file. */
    path = tmp_path("missing.conf");
    assert_int_equal(config_load_file(path, err, sizeof err), ST_NOTFOUND);
    assert_non_null(strstr(err, path));
    xfree(path);

    /* Line and file caps. */
    path = tmp_path("long.conf");
    char *line = xmalloc(CAP_CONFIG_LINE + 32);
    memset(line, ' ', CAP_CONFIG_LINE + 30);
    memcpy(line, "threads = 1", 11);
    memcpy(line + CAP_CONFIG_LINE + 30, "\n", 2);
    char *text = xasprintf("# first\n%s", line);
    write_text(path, text);
    assert_int_equal(config_load_file(path, err, sizeof err), ST_INVALID);
    assert_non_null(strstr(err, ":2: line longer than"));
    xfree(text);
    xfree(line);

    struct buf b;
    buf_init(&b, SIZE_MAX);
    while (b.len <= CAP_CONFIG_FILE)
        assert_int_equal(buf_puts(&b, "# padding padding padding padding padding\n"), ST_OK);
    write_text(path, b.data);
    buf_free(&b);
    assert_int_equal(config_load_file(path, err, sizeof err), ST_TOOLARGE);
    assert_non_null(strstr(err, "larger than"));
    xfree(path);
    config_reset();
}

static void test_config_env(void **state)
{
    (void)state;
    char err[256] = "";
    setenv("ENTREPOT_LISTEN", "[::]:8443", 1);
    setenv("ENTREPOT_MAX_CONNECTIONS_PER_IP", "lots", 1);
    assert_int_equal(config_load_env(err, sizeof err), ST_INVALID);
    assert_memory_equal(err, "ENTREPOT_MAX_CONNECTIONS_PER_IP: ", 33);
    /* All or nothing: the good variable was not applied either. */
    assert_string_equal(config_str("listen"), "127.0.0.1:8080");
    assert_string_equal(config_source("listen"), "default");

    setenv("ENTREPOT_MAX_CONNECTIONS_PER_IP", "8", 1);
    setenv("ENTREPOT_TLS_CERT", "", 1); /* set but empty: applied */
    assert_int_equal(config_load_env(err, sizeof err), ST_OK);
    assert_string_equal(config_str("listen"), "[::]:8443");
    assert_int_equal(config_int("max_connections_per_ip"), 8);
    assert_string_equal(config_source("tls_cert"), "env");
    assert_string_equal(config_source("tls_key"), "default");

    setenv("ENTREPOT_MASTER_KEY", "not-hex-TOPSECRET", 1);
    assert_int_equal(config_load_env(err, sizeof err), ST_INVALID);
    assert_null(strstr(err, "TOPSECRET"));
    assert_non_null(strstr(err, "ENTREPOT_MASTER_KEY"));

    unsetenv("ENTREPOT_LISTEN");
    unsetenv("ENTREPOT_MAX_CONNECTIONS_PER_IP");
    unsetenv("ENTREPOT_TLS_CERT");
    unsetenv("ENTREPOT_MASTER_KEY");
    config_reset();
}

static void test_config_validate(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(config_validate(err, sizeof err), ST_OK);

    assert_int_equal(config_set("tls_cert", "/etc/cert.pem", err, sizeof err), ST_OK);
    assert_int_equal(config_validate(err, sizeof err), ST_INVALID);
    assert_non_null(strstr(err, "tls_cert and tls_key"));
    assert_int_equal(config_set("tls_key", "/etc/key.pem", err, sizeof err), ST_OK);
    assert_int_equal(config_validate(err, sizeof err), ST_OK);
    assert_int_equal(config_set("tls_cert", "", err, sizeof err), ST_OK);
    assert_int_equal(config_validate(err, sizeof err), ST_INVALID);
    assert_int_equal(config_set("tls_key", "", err, sizeof err), ST_OK);
    assert_int_equal(config_validate(err, sizeof err), ST_OK);

    const char *good[] = {"127.0.0.1",     "10.0.0.0/8", "::1",
                          "2001:db8::/32", "0.0.0.0/0",  " 192.168.1.0/24 , fe80::/10 "};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(config_set("trusted_proxies", good[i], err, sizeof err), ST_OK);
        assert_int_equal(config_validate(err, sizeof err), ST_OK);
    }
    const char *bad[] = {"10.0.0.0/33", "::1/129",     "localhost", "10.0.0.1,",  ",",
                         "1.2.3",       "10.0.0.0/-1", "10.0.0.0/", "1.2.3.4/8x", "fe80::1%eth0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (config_set("trusted_proxies", bad[i], err, sizeof err) != ST_INVALID) {
            print_error("trusted_proxies \"%s\" was accepted\n", bad[i]);
            fail();
        }
    }
    /* Too many entries. */
    struct buf b;
    buf_init(&b, 4096);
    for (int i = 0; i <= CAP_TRUSTED_PROXIES; i++)
        buf_printf(&b, "%s10.0.0.%d", i ? "," : "", i);
    assert_int_equal(config_set("trusted_proxies", b.data, err, sizeof err), ST_INVALID);
    buf_free(&b);

    assert_int_equal(config_set("data_dir", "", err, sizeof err), ST_OK);
    assert_int_equal(config_validate(err, sizeof err), ST_INVALID);
    assert_non_null(strstr(err, "data_dir"));
    config_reset();
    assert_int_equal(config_validate(err, sizeof err), ST_OK);
}

static void child_config_str_unknown(void)
{
    (void)config_str("no_such_setting");
}

static void child_config_int_wrong_type(void)
{
    (void)config_int("listen");
}

static void test_config_misuse_aborts(void **state)
{
    (void)state;
    int st = run_child(child_config_str_unknown);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    st = run_child(child_config_int_wrong_type);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

/* ---------------------------------------------------------------- parse */

static void test_parse_int64(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(parse_int64("0", INT64_MIN, INT64_MAX, &v), ST_OK);
    assert_int_equal(v, 0);
    assert_int_equal(parse_int64("-0", INT64_MIN, INT64_MAX, &v), ST_OK);
    assert_int_equal(v, 0);
    assert_int_equal(parse_int64("12345", INT64_MIN, INT64_MAX, &v), ST_OK);
    assert_int_equal(v, 12345);
    assert_int_equal(parse_int64("-42", INT64_MIN, INT64_MAX, &v), ST_OK);
    assert_true(v == -42);
    assert_int_equal(parse_int64("9223372036854775807", INT64_MIN, INT64_MAX, &v), ST_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(parse_int64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), ST_OK);
    assert_true(v == INT64_MIN);

    v = 77;
    const char *bad[] = {"9223372036854775808",
                         "-9223372036854775809",
                         "99999999999999999999",
                         "",
                         "-",
                         "+1",
                         " 1",
                         "1 ",
                         "1a",
                         "0x10",
                         "1.5",
                         "--1",
                         "1-"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse_int64(bad[i], INT64_MIN, INT64_MAX, &v) != ST_INVALID) {
            print_error("\"%s\" was accepted\n", bad[i]);
            fail();
        }
    }
    assert_int_equal(parse_int64(NULL, 0, 1, &v), ST_INVALID);
    assert_int_equal(v, 77); /* untouched on failure */

    assert_int_equal(parse_int64("10", 1, 10, &v), ST_OK);
    assert_int_equal(parse_int64("11", 1, 10, &v), ST_INVALID);
    assert_int_equal(parse_int64("0", 1, 10, &v), ST_INVALID);
    assert_int_equal(parse_int64("5", 1, 10, NULL), ST_OK);
}

static void test_parse_host_port(void **state)
{
    (void)state;
    char host[64];
    uint16_t port = 0;
    assert_int_equal(parse_host_port("127.0.0.1:8080", host, sizeof host, &port), ST_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(parse_host_port("localhost:1", host, sizeof host, &port), ST_OK);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 1);
    assert_int_equal(parse_host_port("[::1]:443", host, sizeof host, &port), ST_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 443);
    assert_int_equal(parse_host_port("[2001:db8::42]:65535", host, sizeof host, &port), ST_OK);
    assert_string_equal(host, "2001:db8::42");
    assert_int_equal(port, 65535);
    assert_int_equal(parse_host_port("[::]:80", host, sizeof host, &port), ST_OK);
    assert_string_equal(host, "::");
    assert_int_equal(parse_host_port("my-host.example.com:80", NULL, 0, NULL), ST_OK);

    port = 9;
    const char *bad[] = {"",           "localhost", ":80",      "host:",    "host:0",
                         "host:65536", "host:-1",   "host:80x", "host: 80", "host :80",
                         "::1:80",     "[::1]",     "[::1]80",  "[]:80",    "[zz]:80",
                         "[::1:80",    "a b:80",    "h/x:80",   "host:+80", "[1.2.3.4]:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse_host_port(bad[i], host, sizeof host, &port) != ST_INVALID) {
            print_error("\"%s\" was accepted\n", bad[i]);
            fail();
        }
    }
    assert_int_equal(port, 9);
    assert_int_equal(parse_host_port(NULL, host, sizeof host, &port), ST_INVALID);

    /* Host longer than the output buffer, and than any DNS name. */
    char small[4];
    assert_int_equal(parse_host_port("abcd:80", small, sizeof small, &port), ST_INVALID);
    assert_int_equal(parse_host_port("abc:80", small, sizeof small, &port), ST_OK);
    assert_string_equal(small, "abc");
    char *longhost = xmalloc(300);
    memset(longhost, 'a', 254);
    memcpy(longhost + 254, ":80", 4);
    assert_int_equal(parse_host_port(longhost, NULL, 0, NULL), ST_INVALID);
    longhost[253] = ':';
    memcpy(longhost + 253, ":80", 4);
    assert_int_equal(parse_host_port(longhost, NULL, 0, NULL), ST_OK);
    xfree(longhost);
}

static void test_parse_cidr(void **state)
{
    (void)state;
    struct ip_cidr c;
    assert_int_equal(parse_cidr("10.1.0.0/16", &c), ST_OK);
    assert_int_equal(c.version, 4);
    assert_int_equal(c.prefix, 16);
    unsigned char in[4] = {10, 1, 200, 3}, out[4] = {10, 2, 0, 1};
    assert_true(cidr_match(&c, 4, in));
    assert_false(cidr_match(&c, 4, out));
    assert_false(cidr_match(&c, 6, in));

    assert_int_equal(parse_cidr("192.168.1.7", &c), ST_OK);
    assert_int_equal(c.prefix, 32);
    unsigned char same[4] = {192, 168, 1, 7}, next[4] = {192, 168, 1, 8};
    assert_true(cidr_match(&c, 4, same));
    assert_false(cidr_match(&c, 4, next));

    assert_int_equal(parse_cidr("10.0.0.0/13", &c), ST_OK); /* not on a byte boundary */
    unsigned char a13[4] = {10, 7, 255, 255}, b13[4] = {10, 8, 0, 0};
    assert_true(cidr_match(&c, 4, a13));
    assert_false(cidr_match(&c, 4, b13));

    assert_int_equal(parse_cidr("0.0.0.0/0", &c), ST_OK);
    assert_true(cidr_match(&c, 4, out));

    assert_int_equal(parse_cidr("2001:db8::/32", &c), ST_OK);
    assert_int_equal(c.version, 6);
    unsigned char v6in[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff}, v6out[16] = {0x20, 0x01, 0x0d, 0xb9};
    assert_true(cidr_match(&c, 6, v6in));
    assert_false(cidr_match(&c, 6, v6out));
    assert_int_equal(parse_cidr("::1", &c), ST_OK);
    assert_int_equal(c.prefix, 128);

    const char *bad[] = {"",       "/8",          "10.0.0.0/",    "10.0.0.0/33",
                         "::/129", "10.0.0.0/-0", "10.0.0.0/8/8", "1.2.3",
                         "host",   "1.2.3.4 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse_cidr(bad[i], &c) != ST_INVALID) {
            print_error("\"%s\" was accepted\n", bad[i]);
            fail();
        }
    }
}

/* ---------------------------------------------------------------- files */

static void test_file_read_all(void **state)
{
    (void)state;
    char *path = tmp_path("read.txt");
    write_text(path, "line one\nline two\n");
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(file_read_all(path, 1024, &data, &len), ST_OK);
    assert_int_equal(len, 18);
    assert_string_equal(data, "line one\nline two\n");
    xfree(data);

    /* Exactly at the cap is fine; one byte under it is too large. */
    assert_int_equal(file_read_all(path, 18, &data, &len), ST_OK);
    xfree(data);
    data = (char *)"sentinel";
    assert_int_equal(file_read_all(path, 17, &data, &len), ST_TOOLARGE);
    assert_null(data);

    write_text(path, "");
    assert_int_equal(file_read_all(path, 0, &data, NULL), ST_OK);
    assert_string_equal(data, "");
    xfree(data);

    /* Embedded NUL bytes are kept and counted. */
    assert_int_equal(file_write_atomic(path, "a\0b", 3, 0600), ST_OK);
    assert_int_equal(file_read_all(path, 10, &data, &len), ST_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "a\0b", 4);
    xfree(data);
    xfree(path);

    path = tmp_path("does-not-exist");
    assert_int_equal(file_read_all(path, 10, &data, &len), ST_NOTFOUND);
    assert_int_equal(errno, ENOENT);
    assert_null(data);
    xfree(path);

    /* A directory cannot be read as a file. */
    assert_int_not_equal(file_read_all(tmpdir, 10, &data, &len), ST_OK);
    assert_null(data);

    /* A non-regular file (no size from fstat) still honours the cap. */
    assert_int_equal(file_read_all("/dev/zero", 100000, &data, &len), ST_TOOLARGE);
    assert_int_equal(file_read_all("/dev/null", 10, &data, &len), ST_OK);
    assert_int_equal(len, 0);
    xfree(data);

    /* A bigger file, read in several pieces. */
    path = tmp_path("big.bin");
    size_t n = 200000;
    char *big = xmalloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 7);
    assert_int_equal(file_write_atomic(path, big, n, 0644), ST_OK);
    assert_int_equal(file_read_all(path, n, &data, &len), ST_OK);
    assert_int_equal(len, n);
    assert_memory_equal(data, big, n);
    xfree(data);
    xfree(big);
    xfree(path);
}

static void test_file_mkdirs(void **state)
{
    (void)state;
    char *deep = tmp_path("a/b//c/d/");
    assert_int_equal(file_mkdirs(deep, 0700), ST_OK);
    struct stat sb;
    assert_int_equal(stat(deep, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(file_mkdirs(deep, 0700), ST_OK); /* again: fine */
    xfree(deep);

    char *f = tmp_path("a/file");
    write_text(f, "x");
    char *under = tmp_path("a/file/sub");
    assert_int_equal(file_mkdirs(f, 0700), ST_INVALID);
    assert_int_not_equal(file_mkdirs(under, 0700), ST_OK);
    assert_int_equal(file_mkdirs("", 0700), ST_INVALID);
    xfree(under);
    xfree(f);
}

static void test_file_write_atomic(void **state)
{
    (void)state;
    char *path = tmp_path("atomic/key.txt");
    char *dir = tmp_path("atomic");
    /* The directory must exist. */
    assert_int_equal(file_write_atomic(path, "x", 1, 0600), ST_NOTFOUND);
    assert_int_equal(file_mkdirs(dir, 0700), ST_OK);

    assert_int_equal(file_write_atomic(path, "first", 5, 0600), ST_OK);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, 5);

    assert_int_equal(file_write_atomic(path, "second!", 7, 0640), ST_OK);
    char *data;
    size_t len;
    assert_int_equal(file_read_all(path, 100, &data, &len), ST_OK);
    assert_string_equal(data, "second!");
    xfree(data);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);

    assert_int_equal(file_write_atomic(path, NULL, 0, 0600), ST_OK);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 0);

    /* No temporary files are left behind. */
    DIR *d = opendir(dir);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            entries++;
    closedir(d);
    assert_int_equal(entries, 1);
    xfree(dir);
    xfree(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_st_name),
        cmocka_unit_test(test_st_from_errno),
        cmocka_unit_test(test_alloc),
        cmocka_unit_test(test_die),
        cmocka_unit_test(test_xmalloc_exhaustion_aborts),
        cmocka_unit_test(test_buf_basic),
        cmocka_unit_test(test_buf_zero_cap_and_reserve),
        cmocka_unit_test(test_buf_printf),
        cmocka_unit_test(test_buf_json),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_len_next),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_log_json_line),
        cmocka_unit_test(test_log_redaction),
        cmocka_unit_test(test_log_text),
        cmocka_unit_test(test_log_truncation),
        cmocka_unit_test(test_log_threads),
        cmocka_unit_test_setup(test_config_table, config_setup),
        cmocka_unit_test_setup(test_config_set_types, config_setup),
        cmocka_unit_test_setup(test_config_precedence, config_setup),
        cmocka_unit_test_setup(test_config_file_errors, config_setup),
        cmocka_unit_test_setup(test_config_env, config_setup),
        cmocka_unit_test_setup(test_config_validate, config_setup),
        cmocka_unit_test_setup(test_config_misuse_aborts, config_setup),
        cmocka_unit_test(test_parse_int64),
        cmocka_unit_test(test_parse_host_port),
        cmocka_unit_test(test_parse_cidr),
        cmocka_unit_test(test_file_read_all),
        cmocka_unit_test(test_file_mkdirs),
        cmocka_unit_test(test_file_write_atomic),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
