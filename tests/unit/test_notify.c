/*
 * test_notify.c — src/notify: the outbox, its delivery worker, the
 * providers and the disclosure ledger.
 *
 * Every test in NOTIFY_TESTS runs on SQLite (a fresh file per test) and,
 * when ENTREPOT_TEST_PG_URL names a throwaway database (scripts/pg-cluster.sh
 * start DIR prints one), on PostgreSQL too, whose public schema is dropped
 * and recreated per test.
 *
 * E-mail goes to a real SMTP server: Postfix's smtp-sink, started per test
 * by scripts/smtp-sink.sh, which keeps every message as a file we parse.
 * SMS goes to a small HTTP server on a thread of this process. Time is
 * moved with clock_set_offset_ms to walk through the retry schedule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "db/db.h"
#include "fixture.h"
#include "notify/notify.h"

struct fx {
    FX_DB_FIELDS;
    char sink_dir[128]; /* "" when no smtp-sink runs */
    int sink_port;
};

static char sink_script[1024]; /* scripts/smtp-sink.sh; "" when smtp-sink is missing */

/* ---------------------------------------------------------------- db helpers */

static void exec_db(struct db *db, const char *sql)
{
    struct db_conn *c;
    assert_int_equal(db_acquire(db, &c), ST_OK);
    enum st st = db_exec(c, sql);
    if (st != ST_OK)
        fail_msg("db_exec(%s): %s: %s", sql, st_name(st), db_errmsg(c));
    db_release(c);
}

/* The first column of the first row of sql with up to one int64 argument
 * (arg < 0: none), as an integer; -1 when there is no row. */
static int64_t scalar(struct db *db, const char *sql, int64_t arg)
{
    struct db_conn *c;
    struct db_stmt *s;
    bool row = false;
    assert_int_equal(db_acquire(db, &c), ST_OK);
    enum st st = db_prepare(c, sql, &s);
    if (st != ST_OK)
        fail_msg("db_prepare(%s): %s: %s", sql, st_name(st), db_errmsg(c));
    if (arg >= 0)
        assert_int_equal(db_bind_int64(s, 1, arg), ST_OK);
    assert_int_equal(db_step(s, &row), ST_OK);
    int64_t v = row ? db_col_int64(s, 0) : -1;
    db_stmt_done(s);
    db_release(c);
    return v;
}

/* The first column as text into out ("" for NULL or no row). */
static void text_of(struct db *db, const char *sql, int64_t arg, char *out, size_t n)
{
    struct db_conn *c;
    struct db_stmt *s;
    bool row = false;
    assert_int_equal(db_acquire(db, &c), ST_OK);
    assert_int_equal(db_prepare(c, sql, &s), ST_OK);
    if (arg >= 0)
        assert_int_equal(db_bind_int64(s, 1, arg), ST_OK);
    assert_int_equal(db_step(s, &row), ST_OK);
    snprintf(out, n, "%s", row && !db_col_is_null(s, 0) ? db_col_text(s, 0) : "");
    db_stmt_done(s);
    db_release(c);
}

static void status_of(struct fx *f, int64_t id, char *out, size_t n)
{
    text_of(f->db, "SELECT status FROM outbox WHERE id = ?", id, out, n);
}

static void expect_status(struct fx *f, int64_t id, const char *want)
{
    char st[32];
    status_of(f, id, st, sizeof st);
    if (strcmp(st, want) != 0) {
        char err[400];
        text_of(f->db, "SELECT last_error FROM outbox WHERE id = ?", id, err, sizeof err);
        fail_msg("message %lld is '%s', expected '%s' (last_error: %s)", (long long)id, st, want,
                 err);
    }
}

/* Queues m in a transaction of its own, committed. */
static int64_t send_tx(struct fx *f, const struct notify_msg *m)
{
    struct db_conn *c;
    int64_t id = 0;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_begin(c), ST_OK);
    enum st st = notify_send(c, m, &id);
    if (st != ST_OK)
        fail_msg("notify_send: %s", st_name(st));
    assert_int_equal(db_commit(c), ST_OK);
    db_release(c);
    assert_true(id > 0);
    return id;
}

static enum st send_status(struct fx *f, const struct notify_msg *m)
{
    struct db_conn *c;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_begin(c), ST_OK);
    enum st st = notify_send(c, m, NULL);
    db_rollback(c);
    db_release(c);
    return st;
}

static void configure(const char *name, const char *value)
{
    char err[256];
    if (config_set(name, value, err, sizeof err) != ST_OK)
        fail_msg("config_set(%s): %s", name, err);
}

static void init_ok(void)
{
    char err[256] = "";
    if (notify_init(err, sizeof err) != ST_OK)
        fail_msg("notify_init: %s", err);
}

static const struct notify_msg otp_sms = {
    .channel = NOTIFY_SMS,
    .purpose = NOTIFY_SECURITY,
    .user_id = 42,
    .to = "+8613800138000",
    .template_name = "otp.login",
    .lang = "en",
    .body = "Your entrepot code is 482913. It expires in 10 minutes.",
    .data_types = "otp",
};

static const struct notify_msg otp_mail = {
    .channel = NOTIFY_EMAIL,
    .purpose = NOTIFY_SECURITY,
    .user_id = 42,
    .to = "buyer@example.com",
    .template_name = "otp.email_verify",
    .lang = "zh-Hans",
    .subject = "您的验证码",
    .body = "验证码：731526\n10 分钟内有效。\n",
    .data_types = "otp",
};

/* ---------------------------------------------------------------- smtp-sink */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void run_script(const char *args, char *out, size_t n)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s", sink_script, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    int rc = pclose(p);
    if (rc != 0)
        fail_msg("%s: exit %d", cmd, rc);
}

/* Starts smtp-sink (with extra smtp-sink options) and points the smtp
 * provider at it. Returns false (after print_message) when smtp-sink is
 * missing. */
static bool sink_start(struct fx *f, const char *opts)
{
    if (!sink_script[0])
        return false;
    snprintf(f->sink_dir, sizeof f->sink_dir, "%s/sink", f->dir);
    char args[512], out[64], url[128];
    snprintf(args, sizeof args, "start %s %s", f->sink_dir, opts ? opts : "");
    run_script(args, out, sizeof out);
    out[strcspn(out, "\n")] = '\0';
    int64_t port = 0;
    if (parse_int64(out, 1, 65535, &port) != ST_OK)
        fail_msg("smtp-sink.sh printed '%s', not a port", out);
    f->sink_port = (int)port;
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", f->sink_port);
    configure("mail_provider", "smtp");
    configure("smtp_url", url);
    configure("smtp_from", "Entrepot Café <no-reply@example.net>");
    init_ok();
    return true;
}

static void sink_stop(struct fx *f)
{
    if (!f->sink_dir[0])
        return;
    char args[256], out[64];
    snprintf(args, sizeof args, "stop %s", f->sink_dir);
    run_script(args, out, sizeof out);
    f->sink_dir[0] = '\0';
}

#define SKIP_WITHOUT_SINK(f, opts)                                                                 \
    do {                                                                                           \
        if (!sink_start(f, opts)) {                                                                \
            print_message("smtp-sink is missing (/usr/sbin/smtp-sink, Debian package postfix; "    \
                          "scripts/install-deps.sh installs it): SMTP test skipped\n");            \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* Reads the messages smtp-sink kept, oldest name first; returns how many
 * (at most max), each a malloc'ed string in out[]. Waits up to 2 s for
 * want files. */
static int sink_messages(struct fx *f, char **out, int max, int want)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s/mail", f->sink_dir);
    int n = 0;
    for (int tries = 0; tries < 40; tries++) {
        for (int i = 0; i < n; i++)
            free(out[i]);
        n = 0;
        struct dirent **names;
        int k = scandir(dir, &names, NULL, alphasort);
        for (int i = 0; i < k; i++) {
            if (names[i]->d_name[0] != '.' && n < max) {
                char path[512];
                snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
                char *text = NULL;
                if (file_read_all(path, 1 << 20, &text, NULL) == ST_OK)
                    out[n++] = text;
            }
            free(names[i]);
        }
        if (k >= 0)
            free(names);
        /* A message is complete once smtp-sink wrote the blank line after it. */
        if (n >= want && (n == 0 || strstr(out[n - 1], "\n\n")))
            break;
        usleep(50000);
    }
    return n;
}

/* The value of header name in an RFC 5322 message (dump format, LF line
 * ends), with folded lines joined; "" when absent. */
static void header_value(const char *msg, const char *name, char *out, size_t n)
{
    out[0] = '\0';
    size_t nl = strlen(name), o = 0;
    const char *p = msg;
    while (*p && *p != '\n') {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            p += nl + 1;
            while (*p == ' ')
                p++;
            for (;;) {
                const char *e = strchr(p, '\n');
                size_t len = e ? (size_t)(e - p) : strlen(p);
                if (len > 0 && p[len - 1] == '\r')
                    len--;
                if (o + len + 1 >= n)
                    fail_msg("header %s too long", name);
                memcpy(out + o, p, len);
                o += len;
                out[o] = '\0';
                if (!e || (e[1] != ' ' && e[1] != '\t'))
                    return;
                p = e + 2; /* the fold: CRLF SP becomes nothing between words */
            }
        }
        const char *e = strchr(p, '\n');
        if (!e)
            break;
        p = e + 1;
    }
}

/* Decodes a run of "=?UTF-8?B?...?=" words (as joined by header_value). */
static void decode_words(const char *s, char *out, size_t n)
{
    size_t o = 0;
    while (*s) {
        if (strncmp(s, "=?UTF-8?B?", 10) != 0)
            fail_msg("not an encoded-word: %s", s);
        s += 10;
        const char *e = strstr(s, "?=");
        assert_non_null(e);
        size_t got = 0;
        assert_int_equal(sodium_base642bin((unsigned char *)out + o, n - o - 1, s, (size_t)(e - s),
                                           NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL),
                         0);
        o += got;
        s = e + 2;
        while (*s == ' ')
            s++;
    }
    out[o] = '\0';
}

/* The body after the header block; base64 decoded when so encoded. */
static void body_of(const char *msg, char *out, size_t n)
{
    char cte[64];
    header_value(msg, "Content-Transfer-Encoding", cte, sizeof cte);
    const char *b = strstr(msg, "\n\n");
    assert_non_null(b);
    b += 2;
    /* smtp-sink appends one empty line after the message. */
    size_t len = strlen(b);
    if (len > 0 && b[len - 1] == '\n')
        len--;
    if (strcmp(cte, "base64") == 0) {
        size_t got = 0;
        assert_int_equal(sodium_base642bin((unsigned char *)out, n - 1, b, len, "\r\n", &got, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        out[got] = '\0';
    } else {
        snprintf(out, n, "%.*s", (int)len, b);
    }
}

/* ---------------------------------------------------------------- http server */

struct httpd {
    int fd, port;
    pthread_t thread;
    atomic_int status; /* what to answer */
    atomic_int requests;
    atomic_bool stop;
    pthread_mutex_t mu;
    char body[4096];   /* last request body */
    char auth[256];    /* last Authorization header */
    char ctype[128];   /* last Content-Type */
    char request[256]; /* last request line */
};

static void hdr_copy(const char *req, const char *name, char *out, size_t n)
{
    out[0] = '\0';
    const char *p = strcasestr(req, name);
    if (!p)
        return;
    p += strlen(name);
    while (*p == ' ')
        p++;
    size_t len = strcspn(p, "\r\n");
    snprintf(out, n, "%.*s", (int)len, p);
}

static void *httpd_main(void *arg)
{
    struct httpd *h = arg;
    while (!atomic_load(&h->stop)) {
        struct pollfd pf = {.fd = h->fd, .events = POLLIN};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        int c = accept(h->fd, NULL, NULL);
        if (c < 0)
            continue;
        char req[16384];
        size_t len = 0;
        const char *end = NULL;
        long clen = 0;
        for (;;) {
            ssize_t r = recv(c, req + len, sizeof req - 1 - len, 0);
            if (r <= 0)
                break;
            len += (size_t)r;
            req[len] = '\0';
            if (!end && (end = strstr(req, "\r\n\r\n")) != NULL) {
                char cl[32];
                hdr_copy(req, "\nContent-Length:", cl, sizeof cl);
                clen = strtol(cl, NULL, 10);
            }
            if (end && len >= (size_t)(end + 4 - req) + (size_t)clen)
                break;
        }
        if (end) {
            pthread_mutex_lock(&h->mu);
            snprintf(h->body, sizeof h->body, "%s", end + 4);
            hdr_copy(req, "\nAuthorization:", h->auth, sizeof h->auth);
            hdr_copy(req, "\nContent-Type:", h->ctype, sizeof h->ctype);
            snprintf(h->request, sizeof h->request, "%.*s", (int)strcspn(req, "\r\n"), req);
            pthread_mutex_unlock(&h->mu);
        }
        atomic_fetch_add(&h->requests, 1);
        char resp[256];
        int n = snprintf(resp, sizeof resp,
                         "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                         "Content-Length: 11\r\nConnection: close\r\n\r\n{\"id\":\"m1\"}",
                         atomic_load(&h->status));
        ssize_t w = send(c, resp, (size_t)n, MSG_NOSIGNAL);
        (void)w;
        close(c);
    }
    return NULL;
}

static void httpd_start(struct httpd *h, int status)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
    atomic_store(&h->status, status);
    h->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_int_equal(bind(h->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(h->fd, 16), 0);
    assert_int_equal(getsockname(h->fd, (struct sockaddr *)&a, &alen), 0);
    h->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&h->thread, NULL, httpd_main, h), 0);
}

static void httpd_stop(struct httpd *h)
{
    atomic_store(&h->stop, true);
    pthread_join(h->thread, NULL);
    close(h->fd);
    pthread_mutex_destroy(&h->mu);
}

/* ---------------------------------------------------------------- fixtures */

static int setup_kind(void **state, enum db_kind kind)
{
    char err[256];
    struct fx *f = calloc(1, sizeof *f);
    f->kind = kind;
    *state = f;
    if (FX_OPEN(f, "notify", 6, true) != 0)
        return -1;
    config_reset();
    clock_set_offset_ms(0);
    notify_set_marketing_check(NULL, NULL);
    if (notify_init(err, sizeof err) != ST_OK) {
        print_error("notify_init: %s\n", err);
        return -1;
    }
    return 0;
}

static int setup_sqlite(void **state)
{
    return setup_kind(state, DB_SQLITE);
}

static int setup_pg(void **state)
{
    return setup_kind(state, DB_POSTGRES);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (!f)
        return 0;
    notify_worker_stop();
    sink_stop(f);
    FX_CLOSE(f);
    free(f);
    clock_set_offset_ms(0);
    notify_set_marketing_check(NULL, NULL);
    config_reset();
    return 0;
}

/* ---------------------------------------------------------------- dev provider */

static void test_dev_delivery(void **state)
{
    struct fx *f = *state;
    int64_t t0 = clock_now_ms();
    int64_t sms_id = send_tx(f, &otp_sms);
    int64_t mail_id = send_tx(f, &otp_mail);
    expect_status(f, sms_id, "pending");
    assert_int_equal(scalar(f->db, "SELECT attempts FROM outbox WHERE id = ?", sms_id), 0);
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM disclosures", -1), 0);

    assert_int_equal(notify_deliver_due(f->db, 10), 2);
    expect_status(f, sms_id, "sent");
    expect_status(f, mail_id, "sent");
    assert_true(scalar(f->db, "SELECT sent_at FROM outbox WHERE id = ?", sms_id) >= t0);
    assert_int_equal(scalar(f->db, "SELECT attempts FROM outbox WHERE id = ?", sms_id), 1);
    char prov[32];
    text_of(f->db, "SELECT provider FROM outbox WHERE id = ?", sms_id, prov, sizeof prov);
    assert_string_equal(prov, "dev");
    /* Nothing more is due. */
    assert_int_equal(notify_deliver_due(f->db, 10), 0);

    /* The dev provider keeps the content: tests read their codes here. */
    json_t *list = NULL;
    assert_int_equal(notify_outbox_find(f->db, "+8613800138000", 5, &list), ST_OK);
    assert_int_equal(json_array_size(list), 1);
    json_t *m = json_array_get(list, 0);
    assert_int_equal(json_integer_value(json_object_get(m, "id")), sms_id);
    assert_string_equal(json_string_value(json_object_get(m, "body")), otp_sms.body);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "sent");
    assert_string_equal(json_string_value(json_object_get(m, "template")), "otp.login");
    assert_true(json_is_null(json_object_get(m, "subject")));
    json_decref(list);
    assert_int_equal(notify_outbox_find(f->db, "buyer@example.com", 5, &list), ST_OK);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "subject")),
                        otp_mail.subject);
    json_decref(list);
    assert_int_equal(notify_outbox_find(f->db, "+8613800138001", 5, &list), ST_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);

    /* One disclosure per delivery, in the user's ledger, newest first. */
    assert_int_equal(notify_disclosures_list(f->db, 42, 0, 10, &list), ST_OK);
    assert_int_equal(json_array_size(list), 2);
    json_t *d0 = json_array_get(list, 0), *d1 = json_array_get(list, 1);
    assert_true(json_integer_value(json_object_get(d0, "id")) >
                json_integer_value(json_object_get(d1, "id")));
    assert_string_equal(json_string_value(json_object_get(d0, "recipient_system")), "email:dev");
    assert_string_equal(json_string_value(json_object_get(d1, "recipient_system")), "sms:dev");
    json_t *types = json_object_get(d1, "data_types");
    assert_int_equal(json_array_size(types), 2);
    assert_string_equal(json_string_value(json_array_get(types, 0)), "phone");
    assert_string_equal(json_string_value(json_array_get(types, 1)), "otp");
    assert_string_equal(json_string_value(json_object_get(d1, "purpose")), "security");
    assert_string_equal(json_string_value(json_object_get(d1, "legal_basis")), "contract");
    char ref[32];
    snprintf(ref, sizeof ref, "outbox:%lld", (long long)sms_id);
    assert_string_equal(json_string_value(json_object_get(d1, "reference")), ref);
    assert_true(json_integer_value(json_object_get(d1, "at")) >= t0);
    json_decref(list);
    /* Another user's ledger is empty. */
    assert_int_equal(notify_disclosures_list(f->db, 43, 0, 10, &list), ST_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
}

static void test_rollback_sends_nothing(void **state)
{
    struct fx *f = *state;
    struct db_conn *c;
    int64_t id = 0;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_begin(c), ST_OK);
    assert_int_equal(notify_send(c, &otp_sms, &id), ST_OK);
    assert_true(id > 0);
    assert_int_equal(db_rollback(c), ST_OK);
    db_release(c);
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM outbox", -1), 0);
    assert_int_equal(notify_deliver_due(f->db, 10), 0);
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM disclosures", -1), 0);
}

static void test_validation(void **state)
{
    struct fx *f = *state;
    struct notify_msg m;
#define BAD(field, value)                                                                          \
    do {                                                                                           \
        m = otp_mail;                                                                              \
        m.field = value;                                                                           \
        assert_int_equal(send_status(f, &m), ST_INVALID);                                          \
    } while (0)
#define BAD_SMS(field, value)                                                                      \
    do {                                                                                           \
        m = otp_sms;                                                                               \
        m.field = value;                                                                           \
        assert_int_equal(send_status(f, &m), ST_INVALID);                                          \
    } while (0)
    m = otp_mail;
    assert_int_equal(send_status(f, &m), ST_OK);
    BAD(to, "not-an-address");
    BAD(to, "a@b@c");
    BAD(to, "Eve <eve@example.com>");
    BAD(to, "eve@example.com\r\nBcc: x@example.com");
    BAD(to, "名@example.com"); /* internationalised addresses: not yet */
    BAD(to, NULL);
    BAD(subject, NULL);
    BAD(subject, "");
    BAD(subject, "Hello\r\nBcc: x@example.com"); /* header injection */
    BAD(subject, "\xff\xfe");
    BAD(body, NULL);
    BAD(body, "");
    BAD(body, "bad \x01 control");
    BAD(template_name, "Upper");
    BAD(template_name, "");
    BAD(lang, "en_US!");
    BAD(data_types, "otp,,name");
    BAD(data_types, "OTP");
    BAD(user_id, -1);
    BAD(unsubscribe_url, "javascript:alert(1)");
    BAD(unsubscribe_url, "https://x.example/u?a=<b>");
    BAD(purpose, NOTIFY_MARKETING); /* marketing e-mail needs an unsubscribe link */
    m = otp_mail;
    m.purpose = NOTIFY_MARKETING;
    m.unsubscribe_url = "https://shop.example.net/unsubscribe?t=abc";
    assert_int_equal(send_status(f, &m), ST_OK);

    m = otp_sms;
    assert_int_equal(send_status(f, &m), ST_OK);
    m.user_id = 0; /* before the account exists */
    assert_int_equal(send_status(f, &m), ST_OK);
    BAD_SMS(to, "13800138000"); /* E.164 only: the caller normalises */
    BAD_SMS(to, "+0123456789");
    BAD_SMS(to, "+1234567");
    BAD_SMS(to, "+1234567890123456");
    BAD_SMS(to, "+86 138 0013 8000");
    BAD_SMS(subject, "a subject");
    BAD_SMS(unsubscribe_url, "https://x.example/u");
    char long_sms[NOTIFY_SMS_CHARS * 3 + 8];
    size_t o = 0;
    for (int i = 0; i < NOTIFY_SMS_CHARS + 1; i++) {
        memcpy(long_sms + o, "码", 3);
        o += 3;
    }
    long_sms[o] = '\0';
    BAD_SMS(body, long_sms);
    long_sms[o - 3] = '\0'; /* exactly the limit */
    m = otp_sms;
    m.body = long_sms;
    assert_int_equal(send_status(f, &m), ST_OK);
#undef BAD
#undef BAD_SMS
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM outbox", -1), 0);
}

/* Recipient, subject and body never reach the database in clear. */
static void test_content_sealed(void **state)
{
    struct fx *f = *state;
    int64_t id = send_tx(f, &otp_sms);
    send_tx(f, &otp_mail);
    assert_int_equal(notify_deliver_due(f->db, 10), 2);
    static const char *const needles[] = {"8613800138000", "482913", "buyer@example.com", "731526",
                                          "验证码"};
    if (f->kind == DB_SQLITE) {
        const char *files[] = {"t.db", "t.db-wal"};
        for (size_t i = 0; i < 2; i++) {
            char path[128], *data = NULL;
            size_t len = 0;
            snprintf(path, sizeof path, "%s/%s", f->dir, files[i]);
            if (file_read_all(path, 64 << 20, &data, &len) != ST_OK)
                continue;
            for (size_t k = 0; k < sizeof needles / sizeof needles[0]; k++)
                if (memmem(data, len, needles[k], strlen(needles[k])))
                    fail_msg("%s found in clear in %s", needles[k], files[i]);
            free(data);
        }
    }
    /* Both engines: no column of either table holds them. */
    struct db_conn *c;
    struct db_stmt *s;
    bool row = false;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_prepare(c,
                                "SELECT channel, purpose, template, lang, data_types, payload, "
                                "status, last_error, provider FROM outbox",
                                &s),
                     ST_OK);
    int rows = 0;
    while (db_step(s, &row) == ST_OK && row) {
        rows++;
        for (int col = 0; col < 9; col++) {
            size_t len = 0;
            const void *v = db_col_is_null(s, col) ? NULL : db_col_blob(s, col, &len);
            for (size_t k = 0; v && k < sizeof needles / sizeof needles[0]; k++)
                assert_null(memmem(v, len, needles[k], strlen(needles[k])));
        }
    }
    db_stmt_done(s);
    db_release(c);
    assert_int_equal(rows, 2);
    /* The payload is bound to its row: moved to another, it does not open. */
    exec_db(f->db, "UPDATE outbox SET payload = (SELECT payload FROM outbox WHERE id = 2) "
                   "WHERE id = 1");
    json_t *o = NULL;
    assert_int_equal(notify_outbox_get(f->db, id, &o), ST_OK);
    assert_true(json_is_null(json_object_get(o, "body")));
    assert_true(json_is_null(json_object_get(o, "to")));
    json_decref(o);
}

static void test_ledger_paging(void **state)
{
    struct fx *f = *state;
    struct db_conn *c;
    int64_t ids[7];
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_begin(c), ST_OK);
    for (int i = 0; i < 7; i++) {
        struct notify_disclosure d = {
            .user_id = i == 3 ? 8 : 7,
            .recipient_system = "translation:libretranslate.example.org",
            .data_types = "message_content",
            .purpose = "translation",
            .legal_basis = "consent",
            .reference = i % 2 ? "chat:12" : NULL,
        };
        assert_int_equal(notify_disclosure_record(c, &d, &ids[i]), ST_OK);
        assert_true(ids[i] > 0);
    }
    struct notify_disclosure bad = {
        .recipient_system = "x",
        .data_types = "phone",
        .purpose = "security",
        .legal_basis = "because",
    };
    int64_t bid = 99;
    assert_int_equal(notify_disclosure_record(c, &bad, &bid), ST_INVALID);
    assert_int_equal(bid, 0);
    bad.legal_basis = "contract";
    bad.recipient_system = "line\nbreak";
    assert_int_equal(notify_disclosure_record(c, &bad, NULL), ST_INVALID);
    bad.recipient_system = "sms:x";
    bad.data_types = "";
    assert_int_equal(notify_disclosure_record(c, &bad, NULL), ST_INVALID);
    bad.data_types = "phone";
    assert_int_equal(notify_disclosure_record(c, &bad, NULL), ST_OK); /* user_id 0: nobody's */
    assert_int_equal(db_commit(c), ST_OK);
    db_release(c);

    json_t *page = NULL;
    assert_int_equal(notify_disclosures_list(f->db, 7, 0, 4, &page), ST_OK);
    assert_int_equal(json_array_size(page), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(page, 0), "id")), ids[6]);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(page, 3), "id")), ids[2]);
    assert_true(json_is_null(json_object_get(json_array_get(page, 0), "reference")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(page, 1), "reference")),
                        "chat:12");
    int64_t cursor = json_integer_value(json_object_get(json_array_get(page, 3), "id"));
    json_decref(page);
    assert_int_equal(notify_disclosures_list(f->db, 7, cursor, 4, &page), ST_OK);
    assert_int_equal(json_array_size(page), 2); /* ids[1], ids[0]; ids[3] is user 8's */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(page, 0), "id")), ids[1]);
    json_decref(page);
    assert_int_equal(notify_disclosures_list(f->db, 7, 0, 0, &page), ST_INVALID);
    assert_int_equal(notify_disclosures_list(f->db, 7, 0, NOTIFY_LIST_MAX + 1, &page), ST_INVALID);
    assert_int_equal(notify_disclosures_list(f->db, 0, 0, 10, &page), ST_INVALID);
    assert_null(page);
}

/* ---------------------------------------------------------------- smtp */

static void test_smtp_delivery(void **state)
{
    struct fx *f = *state;
    SKIP_WITHOUT_SINK(f, NULL);
    assert_string_equal(notify_provider_name(NOTIFY_EMAIL), "smtp");
    int64_t id = send_tx(f, &otp_mail);
    struct notify_msg ascii = otp_mail;
    ascii.to = "second@example.org";
    ascii.subject = "Your sign-in code";
    ascii.body = "Code: 120934\n.\n.. a line with dots\nBye";
    ascii.lang = "en";
    int64_t id2 = send_tx(f, &ascii);
    assert_int_equal(notify_deliver_due(f->db, 10), 2);
    expect_status(f, id, "sent");
    expect_status(f, id2, "sent");

    char *msgs[4];
    int n = sink_messages(f, msgs, 4, 2);
    assert_int_equal(n, 2);
    /* Which file is which: by recipient. */
    if (!strstr(msgs[0], "X-Rcpt-Args: <buyer@example.com>")) {
        char *t = msgs[0];
        msgs[0] = msgs[1];
        msgs[1] = t;
    }
    char v[1024], dec[1024];
    const char *m = msgs[0];
    assert_non_null(strstr(m, "X-Mail-Args: <no-reply@example.net>"));
    assert_non_null(strstr(m, "X-Rcpt-Args: <buyer@example.com>"));
    header_value(m, "To", v, sizeof v);
    assert_string_equal(v, "buyer@example.com");
    header_value(m, "From", v, sizeof v);
    char *lt = strstr(v, " <no-reply@example.net>");
    assert_non_null(lt);
    *lt = '\0';
    decode_words(v, dec, sizeof dec);
    assert_string_equal(dec, "Entrepot Café");
    header_value(m, "Subject", v, sizeof v);
    decode_words(v, dec, sizeof dec);
    assert_string_equal(dec, otp_mail.subject);
    header_value(m, "Message-ID", v, sizeof v);
    char want[128];
    snprintf(want, sizeof want, ".%lld@example.net>", (long long)id);
    assert_true(v[0] == '<' && strstr(v, want));
    header_value(m, "Date", v, sizeof v);
    assert_true(strlen(v) == 31 && strstr(v, " +0000")); /* "Sun, 22 Nov 2026 12:05:54 +0000" */
    header_value(m, "MIME-Version", v, sizeof v);
    assert_string_equal(v, "1.0");
    header_value(m, "Content-Type", v, sizeof v);
    assert_string_equal(v, "text/plain; charset=utf-8");
    header_value(m, "Content-Transfer-Encoding", v, sizeof v);
    assert_string_equal(v, "base64");
    header_value(m, "List-Unsubscribe", v, sizeof v);
    assert_string_equal(v, ""); /* security notices have none */
    body_of(m, dec, sizeof dec);
    assert_string_equal(dec, "验证码：731526\r\n10 分钟内有效。\r\n");

    m = msgs[1];
    header_value(m, "Subject", v, sizeof v);
    assert_string_equal(v, "Your sign-in code");
    header_value(m, "Content-Transfer-Encoding", v, sizeof v);
    assert_string_equal(v, "7bit");
    body_of(m, dec, sizeof dec);
    /* Dot-stuffing was undone by the server: the lines arrive as written. */
    assert_string_equal(dec, "Code: 120934\n.\n.. a line with dots\nBye\n");
    free(msgs[0]);
    free(msgs[1]);

    /* The ledger names the SMTP relay; the content was dropped once sent. */
    char sys[128];
    text_of(f->db, "SELECT recipient_system FROM disclosures WHERE reference = 'outbox:1'", -1, sys,
            sizeof sys);
    assert_string_equal(sys, "smtp:127.0.0.1");
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM outbox WHERE payload IS NULL", -1), 2);
    json_t *o = NULL;
    assert_int_equal(notify_outbox_get(f->db, id, &o), ST_OK);
    assert_true(json_is_null(json_object_get(o, "body")));
    assert_string_equal(json_string_value(json_object_get(o, "provider")), "smtp");
    assert_string_equal(json_string_value(json_object_get(o, "status")), "sent");
    json_decref(o);
}

static void test_smtp_marketing_unsubscribe(void **state)
{
    struct fx *f = *state;
    SKIP_WITHOUT_SINK(f, NULL);
    struct notify_msg m = {
        .channel = NOTIFY_EMAIL,
        .purpose = NOTIFY_MARKETING,
        .user_id = 5,
        .to = "fan@example.com",
        .template_name = "newsletter",
        .lang = "fr",
        .subject = "Les nouveautés de la semaine",
        .body = "Bonjour,\nvoici les nouvelles offres.\n",
        .unsubscribe_url = "https://entrepot.example.net/u/abc123",
    };
    send_tx(f, &m);
    assert_int_equal(notify_deliver_due(f->db, 10), 1);
    char *msgs[2], v[512];
    assert_int_equal(sink_messages(f, msgs, 2, 1), 1);
    header_value(msgs[0], "List-Unsubscribe", v, sizeof v);
    assert_string_equal(v, "<https://entrepot.example.net/u/abc123>");
    header_value(msgs[0], "List-Unsubscribe-Post", v, sizeof v);
    assert_string_equal(v, "List-Unsubscribe=One-Click");
    free(msgs[0]);
    json_t *l = NULL;
    assert_int_equal(notify_disclosures_list(f->db, 5, 0, 5, &l), ST_OK);
    assert_int_equal(json_array_size(l), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "legal_basis")),
                        "consent");
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "purpose")),
                        "marketing");
    json_decref(l);
}

/* The retry schedule while the server is down, then delivery once it is
 * back: the message is never lost. */
static void test_smtp_retry_backoff(void **state)
{
    struct fx *f = *state;
    char url[64];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", free_port());
    configure("mail_provider", "smtp");
    configure("smtp_url", url);
    configure("smtp_from", "no-reply@example.net");
    init_ok();
    int64_t id = send_tx(f, &otp_mail);
    int64_t offset = 0;
    static const int64_t delays_s[] = {30, 60, 120, 240, 480, 960, 1920, 3600, 3600};
    for (int attempt = 1; attempt <= 9; attempt++) {
        assert_int_equal(notify_deliver_due(f->db, 10), 1);
        expect_status(f, id, "pending");
        assert_int_equal(scalar(f->db, "SELECT attempts FROM outbox WHERE id = ?", id), attempt);
        int64_t next = scalar(f->db, "SELECT next_attempt_at FROM outbox WHERE id = ?", id);
        int64_t wait = next - clock_now_ms();
        if (wait > delays_s[attempt - 1] * 1000 || wait < delays_s[attempt - 1] * 1000 - 5000)
            fail_msg("attempt %d: next try in %lld ms, expected %lld s", attempt, (long long)wait,
                     (long long)delays_s[attempt - 1]);
        char err[NOTIFY_ERROR_MAX];
        text_of(f->db, "SELECT last_error FROM outbox WHERE id = ?", id, err, sizeof err);
        assert_non_null(strstr(err, "smtp:"));
        /* Not due yet: nothing is claimed. */
        offset += delays_s[attempt - 1] * 1000 - 2000;
        clock_set_offset_ms(offset);
        assert_int_equal(notify_deliver_due(f->db, 10), 0);
        offset += 2000;
        clock_set_offset_ms(offset);
    }
    /* The server comes back before the last attempt. */
    if (!sink_start(f, NULL)) {
        print_message("smtp-sink is missing: recovery part skipped\n");
        return;
    }
    assert_int_equal(notify_deliver_due(f->db, 10), 1);
    expect_status(f, id, "sent");
    assert_int_equal(scalar(f->db, "SELECT attempts FROM outbox WHERE id = ?", id), 10);
    char *msgs[2];
    assert_int_equal(sink_messages(f, msgs, 2, 1), 1);
    assert_non_null(strstr(msgs[0], "X-Rcpt-Args: <buyer@example.com>"));
    free(msgs[0]);
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM disclosures", -1), 1);
}

/* After NOTIFY_MAX_ATTEMPTS the message is 'failed' but kept whole, and an
 * operator can put it back in the queue. */
static void test_smtp_gives_up_keeps_message(void **state)
{
    struct fx *f = *state;
    char url[64];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", free_port());
    configure("mail_provider", "smtp");
    configure("smtp_url", url);
    configure("smtp_from", "no-reply@example.net");
    init_ok();
    int64_t id = send_tx(f, &otp_mail);
    for (int attempt = 1; attempt <= NOTIFY_MAX_ATTEMPTS; attempt++) {
        assert_int_equal(notify_deliver_due(f->db, 10), 1);
        clock_set_offset_ms(clock_offset_ms() + NOTIFY_BACKOFF_CAP_MS);
    }
    expect_status(f, id, "failed");
    assert_int_equal(notify_deliver_due(f->db, 10), 0);
    clock_set_offset_ms(clock_offset_ms() + 24 * NOTIFY_BACKOFF_CAP_MS);
    assert_int_equal(notify_deliver_due(f->db, 10), 0);
    json_t *o = NULL;
    assert_int_equal(notify_outbox_get(f->db, id, &o), ST_OK);
    assert_string_equal(json_string_value(json_object_get(o, "body")), otp_mail.body);
    assert_string_equal(json_string_value(json_object_get(o, "to")), otp_mail.to);
    assert_int_equal(json_integer_value(json_object_get(o, "attempts")), NOTIFY_MAX_ATTEMPTS);
    json_decref(o);
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM disclosures", -1), 0);
    /* A retention purge spares it until it is old enough. */
    int64_t deleted = -1;
    assert_int_equal(notify_purge(f->db, 0, &deleted), ST_OK);
    assert_int_equal(deleted, 0);

    assert_int_equal(notify_requeue(f->db, id + 100), ST_NOTFOUND);
    assert_int_equal(notify_requeue(f->db, id), ST_OK);
    assert_int_equal(notify_requeue(f->db, id), ST_CONFLICT); /* pending now */
    expect_status(f, id, "pending");
    if (!sink_start(f, NULL)) {
        print_message("smtp-sink is missing: requeue delivery skipped\n");
        return;
    }
    assert_int_equal(notify_deliver_due(f->db, 10), 1);
    expect_status(f, id, "sent");
}

static void test_smtp_permanent_refusal(void **state)
{
    struct fx *f = *state;
    SKIP_WITHOUT_SINK(f, "-f RCPT");
    int64_t id = send_tx(f, &otp_mail);
    assert_int_equal(notify_deliver_due(f->db, 10), 1);
    expect_status(f, id, "failed");
    assert_int_equal(scalar(f->db, "SELECT attempts FROM outbox WHERE id = ?", id), 1);
    char err[NOTIFY_ERROR_MAX];
    text_of(f->db, "SELECT last_error FROM outbox WHERE id = ?", id, err, sizeof err);
    assert_non_null(strstr(err, "reply 5"));
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM disclosures", -1), 0);
}

static void test_smtp_soft_refusal_retries(void **state)
{
    struct fx *f = *state;
    SKIP_WITHOUT_SINK(f, "-r RCPT");
    int64_t id = send_tx(f, &otp_mail);
    assert_int_equal(notify_deliver_due(f->db, 10), 1);
    expect_status(f, id, "pending");
    char err[NOTIFY_ERROR_MAX];
    text_of(f->db, "SELECT last_error FROM outbox WHERE id = ?", id, err, sizeof err);
    assert_non_null(strstr(err, "reply 4"));
}

static void test_subject_encoding(void **state)
{
    (void)state;
    static const char *const subjects[] = {
        "Simple ASCII subject",
        "Votre code de connexion — entrepot",
        "您的验证码是：请在十分钟内使用。如果不是您本人操作，请立即修改密码并联系客服。谢谢！",
        "A long ASCII subject line that goes on and on past the seventy-eight column mark "
        "of a header",
        "=?UTF-8?B?not really?=",
        "😀 emoji 😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀 end",
    };
    for (size_t i = 0; i < sizeof subjects / sizeof subjects[0]; i++) {
        struct notify_email e = {
            .from = "\"Entrepot, Inc.\" <no-reply@example.net>",
            .to = "a@example.com",
            .subject = subjects[i],
            .body = "x",
            .message_id = "1.2@example.net",
            .date_ms = 1700000000000LL,
        };
        struct buf b;
        buf_init(&b, 1 << 20);
        assert_int_equal(notify_email_render(&e, &b), ST_OK);
        /* Every header line is ASCII and at most 78 characters. */
        const char *p = b.data, *end = strstr(b.data, "\r\n\r\n");
        assert_non_null(end);
        while (p < end) {
            const char *nl = strstr(p, "\r\n");
            assert_true(nl - p <= 78);
            for (const char *q = p; q < nl; q++)
                assert_true(*q >= 0x20 && *q < 0x7F);
            p = nl + 2;
        }
        /* In dump form (LF), the subject decodes to the original. */
        char lf[8192], v[2048], dec[2048];
        size_t o = 0;
        for (const char *q = b.data; *q && o + 1 < sizeof lf; q++)
            if (*q != '\r')
                lf[o++] = *q;
        lf[o] = '\0';
        header_value(lf, "Subject", v, sizeof v);
        if (strncmp(v, "=?UTF-8?B?", 10) == 0 && i != 0) {
            decode_words(v, dec, sizeof dec);
            assert_string_equal(dec, subjects[i]);
        } else {
            assert_int_equal(i, 0);
            assert_string_equal(v, subjects[i]);
        }
        header_value(lf, "From", v, sizeof v);
        assert_string_equal(v, "\"Entrepot, Inc.\" <no-reply@example.net>");
        header_value(lf, "Date", v, sizeof v);
        assert_string_equal(v, "Tue, 14 Nov 2023 22:13:20 +0000");
        buf_free(&b);
    }
    /* Header injection through any field is refused. */
    struct notify_email e = {
        .from = "no-reply@example.net",
        .to = "a@example.com",
        .subject = "hi\r\nBcc: victim@example.com",
        .body = "x",
        .message_id = "1.2@example.net",
    };
    struct buf b;
    buf_init(&b, 1 << 16);
    assert_int_equal(notify_email_render(&e, &b), ST_INVALID);
    e.subject = "ok";
    e.from = "Eve\n <eve@example.net>";
    assert_int_equal(notify_email_render(&e, &b), ST_INVALID);
    e.from = "no-reply@example.net";
    e.message_id = "a b@c";
    assert_int_equal(notify_email_render(&e, &b), ST_INVALID);
    assert_int_equal(b.len, 0);
    /* Long lines and non-ASCII bodies go base64; short ASCII stays 7bit. */
    e.message_id = "1@x";
    char body[1200];
    memset(body, 'a', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    e.body = body;
    assert_int_equal(notify_email_render(&e, &b), ST_OK);
    assert_non_null(strstr(b.data, "Content-Transfer-Encoding: base64\r\n"));
    buf_free(&b);
}

/* ---------------------------------------------------------------- http sms */

static void use_http_sms(struct httpd *h, const char *token)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/sms", h->port);
    configure("sms_provider", "http");
    configure("sms_http_url", url);
    configure("sms_http_token", token);
    init_ok();
}

static void test_sms_http(void **state)
{
    struct fx *f = *state;
    struct httpd h;
    httpd_start(&h, 200);
    use_http_sms(&h, "tok-123");
    assert_string_equal(notify_provider_name(NOTIFY_SMS), "http");
    struct notify_msg m = otp_sms;
    m.body = "验证码 482913 \"quoted\"\nline";
    int64_t id = send_tx(f, &m);
    assert_int_equal(notify_deliver_due(f->db, 10), 1);
    expect_status(f, id, "sent");
    assert_int_equal(atomic_load(&h.requests), 1);
    pthread_mutex_lock(&h.mu);
    assert_string_equal(h.request, "POST /v1/sms HTTP/1.1");
    assert_string_equal(h.auth, "Bearer tok-123");
    assert_string_equal(h.ctype, "application/json");
    json_t *body = json_loads(h.body, 0, NULL);
    pthread_mutex_unlock(&h.mu);
    assert_non_null(body);
    assert_int_equal(json_object_size(body), 2);
    assert_string_equal(json_string_value(json_object_get(body, "to")), "+8613800138000");
    assert_string_equal(json_string_value(json_object_get(body, "text")), m.body);
    json_decref(body);
    char sys[128];
    text_of(f->db, "SELECT recipient_system FROM disclosures", -1, sys, sizeof sys);
    assert_string_equal(sys, "sms:127.0.0.1");
    assert_int_equal(scalar(f->db, "SELECT payload IS NULL FROM outbox WHERE id = ?", id), 1);

    /* 500: the gateway is in trouble; try again later. */
    atomic_store(&h.status, 500);
    int64_t id2 = send_tx(f, &otp_sms);
    assert_int_equal(notify_deliver_due(f->db, 10), 1);
    expect_status(f, id2, "pending");
    char err[NOTIFY_ERROR_MAX];
    text_of(f->db, "SELECT last_error FROM outbox WHERE id = ?", id2, err, sizeof err);
    assert_string_equal(err, "sms: HTTP 500");
    /* 401 (a wrong token) is our configuration: retried as well. */
    atomic_store(&h.status, 401);
    clock_set_offset_ms(NOTIFY_BACKOFF_MS);
    assert_int_equal(notify_deliver_due(f->db, 10), 1);
    expect_status(f, id2, "pending");
    /* Back to 200 at the next attempt: sent, exactly one disclosure more. */
    atomic_store(&h.status, 202);
    clock_set_offset_ms(NOTIFY_BACKOFF_MS * 3);
    assert_int_equal(notify_deliver_due(f->db, 10), 1);
    expect_status(f, id2, "sent");
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM disclosures", -1), 2);

    /* 400: the gateway refuses this message; no point retrying. */
    atomic_store(&h.status, 400);
    int64_t id3 = send_tx(f, &otp_sms);
    assert_int_equal(notify_deliver_due(f->db, 10), 1);
    expect_status(f, id3, "failed");
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM disclosures", -1), 2);
    httpd_stop(&h);

    /* Gateway gone: connection refused is retried. */
    int64_t id4 = send_tx(f, &otp_sms);
    assert_int_equal(notify_deliver_due(f->db, 10), 1);
    expect_status(f, id4, "pending");
    text_of(f->db, "SELECT last_error FROM outbox WHERE id = ?", id4, err, sizeof err);
    assert_non_null(strstr(err, "sms: "));
}

static void test_config_errors(void **state)
{
    (void)state;
    char err[256];
    configure("mail_provider", "carrier-pigeon");
    assert_int_equal(notify_init(err, sizeof err), ST_INVALID);
    assert_non_null(strstr(err, "mail_provider"));
    configure("mail_provider", "smtp");
    assert_int_equal(notify_init(err, sizeof err), ST_INVALID);
    assert_non_null(strstr(err, "smtp_url"));
    configure("smtp_url", "http://mail.example.net");
    assert_int_equal(notify_init(err, sizeof err), ST_INVALID);
    assert_non_null(strstr(err, "smtp_url"));
    configure("smtp_url", "smtp://user:pw@mail.example.net");
    assert_int_equal(notify_init(err, sizeof err), ST_INVALID);
    configure("smtp_url", "smtp://mail.example.net:25");
    assert_int_equal(notify_init(err, sizeof err), ST_INVALID);
    assert_non_null(strstr(err, "smtp_from"));
    configure("smtp_from", "Nobody <not an address>");
    assert_int_equal(notify_init(err, sizeof err), ST_INVALID);
    configure("smtp_from", "Entrepot <no-reply@example.net>");
    assert_int_equal(notify_init(err, sizeof err), ST_OK);
    /* A password in clear over the network is refused; TLS or loopback is fine. */
    configure("smtp_user", "mailer");
    configure("smtp_password", "s3cret");
    assert_int_equal(notify_init(err, sizeof err), ST_INVALID);
    assert_non_null(strstr(err, "clear"));
    assert_null(strstr(err, "s3cret"));
    configure("smtp_url", "smtp+starttls://mail.example.net:587");
    assert_int_equal(notify_init(err, sizeof err), ST_OK);
    configure("smtp_url", "smtp://mail.example.net:587");
    assert_int_equal(notify_init(err, sizeof err), ST_OK);
    configure("smtp_url", "smtps://mail.example.net");
    assert_int_equal(notify_init(err, sizeof err), ST_OK);
    configure("smtp_url", "smtp://127.0.0.1:25");
    assert_int_equal(notify_init(err, sizeof err), ST_OK);

    configure("sms_provider", "http");
    assert_int_equal(notify_init(err, sizeof err), ST_INVALID);
    assert_non_null(strstr(err, "sms_http_url"));
    configure("sms_http_url", "ftp://sms.example.net/send");
    assert_int_equal(notify_init(err, sizeof err), ST_INVALID);
    configure("sms_http_token", "t0ken");
    configure("sms_http_url", "http://sms.example.net/send");
    assert_int_equal(notify_init(err, sizeof err), ST_INVALID);
    configure("sms_http_url", "https://sms.example.net/send");
    assert_int_equal(notify_init(err, sizeof err), ST_OK);
    assert_string_equal(notify_provider_name(NOTIFY_SMS), "http");
    configure("sms_provider", "dev");
    configure("mail_provider", "dev");
    assert_int_equal(notify_init(err, sizeof err), ST_OK);
}

/* ---------------------------------------------------------------- crashes, worker */

/* A worker died mid-delivery: the row stays 'sending' until its lease runs
 * out, then it is delivered (again: at least once). */
static void test_lease_expiry(void **state)
{
    struct fx *f = *state;
    int64_t id = send_tx(f, &otp_sms);
    /* What a claim does, without the delivery that should follow. */
    struct db_conn *c;
    struct db_stmt *s;
    bool row;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_prepare(c,
                                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, "
                                "next_attempt_at = ? WHERE id = ?",
                                &s),
                     ST_OK);
    assert_int_equal(db_bind_int64(s, 1, clock_now_ms() + NOTIFY_LEASE_MS), ST_OK);
    assert_int_equal(db_bind_int64(s, 2, id), ST_OK);
    assert_int_equal(db_step(s, &row), ST_OK);
    db_stmt_done(s);
    db_release(c);

    assert_int_equal(notify_deliver_due(f->db, 10), 0); /* leased */
    clock_set_offset_ms(NOTIFY_LEASE_MS - 1000);
    assert_int_equal(notify_deliver_due(f->db, 10), 0);
    clock_set_offset_ms(NOTIFY_LEASE_MS + 1000);
    assert_int_equal(notify_deliver_due(f->db, 10), 1);
    expect_status(f, id, "sent");
    assert_int_equal(scalar(f->db, "SELECT attempts FROM outbox WHERE id = ?", id), 2);

    /* A message whose every attempt was interrupted ends up 'failed'. */
    int64_t id2 = send_tx(f, &otp_sms);
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE outbox SET status = 'sending', attempts = %d, next_attempt_at = 0 "
             "WHERE id = %lld",
             NOTIFY_MAX_ATTEMPTS, (long long)id2);
    exec_db(f->db, sql);
    assert_int_equal(notify_deliver_due(f->db, 10), 0);
    expect_status(f, id2, "failed");

    /* A row without content (notify_send outside a transaction, cut
     * between its statements) is never handed to a provider; after a
     * lease's time it is set aside. */
    snprintf(sql, sizeof sql,
             "INSERT INTO outbox (channel, purpose, template, lang, data_types, status, "
             "next_attempt_at, created_at) VALUES ('sms', 'security', 'otp.login', 'en', "
             "'phone,otp', 'pending', %lld, %lld)",
             (long long)clock_now_ms(), (long long)clock_now_ms());
    exec_db(f->db, sql);
    int64_t empty = scalar(f->db, "SELECT MAX(id) FROM outbox", -1);
    assert_int_equal(notify_deliver_due(f->db, 10), 0);
    expect_status(f, empty, "pending");
    clock_set_offset_ms(clock_offset_ms() + NOTIFY_LEASE_MS + 1000);
    assert_int_equal(notify_deliver_due(f->db, 10), 0);
    expect_status(f, empty, "failed");
    assert_int_equal(scalar(f->db, "SELECT attempts FROM outbox WHERE id = ?", empty), 0);
}

static void test_worker_thread(void **state)
{
    struct fx *f = *state;
    assert_int_equal(notify_worker_start(f->db), ST_OK);
    assert_int_equal(notify_worker_start(f->db), ST_CONFLICT);
    char err[128];
    assert_int_equal(notify_init(err, sizeof err), ST_CONFLICT);
    int64_t id = send_tx(f, &otp_sms);
    notify_worker_wake();
    char st[32] = "";
    for (int i = 0; i < 100; i++) {
        status_of(f, id, st, sizeof st);
        if (strcmp(st, "sent") == 0)
            break;
        usleep(20000);
    }
    assert_string_equal(st, "sent");
    /* Without a wake-up, the poll finds it within NOTIFY_POLL_MS. */
    int64_t id2 = send_tx(f, &otp_mail);
    for (int i = 0; i < 150; i++) {
        status_of(f, id2, st, sizeof st);
        if (strcmp(st, "sent") == 0)
            break;
        usleep(20000);
    }
    assert_string_equal(st, "sent");
    notify_worker_stop();
    notify_worker_stop(); /* twice is fine */
    assert_int_equal(notify_init(err, sizeof err), ST_OK);
    /* Restartable. */
    assert_int_equal(notify_worker_start(f->db), ST_OK);
    notify_worker_stop();
}

struct racer {
    struct db *db;
    int claimed;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    int n, errors = 0;
    while ((n = notify_deliver_due(r->db, 3)) != 0 && errors < 100) {
        if (n > 0)
            r->claimed += n;
        else
            errors++;
    }
    return NULL;
}

/* Workers racing for one queue deliver each message exactly once. */
static void test_concurrent_workers(void **state)
{
    struct fx *f = *state;
    enum { N = 60, T = 4 };
    struct db_conn *c;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_begin(c), ST_OK);
    for (int i = 0; i < N; i++) {
        struct notify_msg m = otp_sms;
        m.user_id = 100 + i;
        assert_int_equal(notify_send(c, &m, NULL), ST_OK);
    }
    assert_int_equal(db_commit(c), ST_OK);
    db_release(c);
    pthread_t t[T];
    struct racer r[T];
    for (int i = 0; i < T; i++) {
        r[i] = (struct racer){.db = f->db};
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        total += r[i].claimed;
    }
    assert_int_equal(total, N);
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'", -1), N);
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM outbox WHERE attempts = 1", -1), N);
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM disclosures", -1), N);
    assert_int_equal(scalar(f->db, "SELECT COUNT(DISTINCT reference) FROM disclosures", -1), N);
}

/* ---------------------------------------------------------------- consent, erasure */

static bool no_marketing_for_7(struct db_conn *c, int64_t user_id, enum notify_channel ch,
                               void *arg)
{
    (void)c;
    (void)ch;
    atomic_int *calls = arg;
    atomic_fetch_add(calls, 1);
    return user_id != 7;
}

static void test_marketing_consent(void **state)
{
    struct fx *f = *state;
    atomic_int calls = 0;
    notify_set_marketing_check(no_marketing_for_7, &calls);
    struct notify_msg m = otp_sms;
    m.purpose = NOTIFY_MARKETING;
    m.template_name = "promo.spring";
    m.body = "Spring offers! Reply STOP to opt out.";
    m.user_id = 7;
    int64_t refused = send_tx(f, &m);
    m.user_id = 8;
    int64_t ok = send_tx(f, &m);
    int64_t security = send_tx(f, &otp_sms); /* user 42, not marketing: never asked */
    assert_int_equal(notify_deliver_due(f->db, 10), 3);
    assert_int_equal(atomic_load(&calls), 2);
    expect_status(f, refused, "cancelled");
    expect_status(f, ok, "sent");
    expect_status(f, security, "sent");
    assert_int_equal(scalar(f->db, "SELECT payload IS NULL FROM outbox WHERE id = ?", refused), 1);
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM disclosures WHERE user_id = 7", -1), 0);
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM disclosures WHERE user_id = 8", -1), 1);
    notify_set_marketing_check(NULL, NULL);
}

static void test_purge_and_forget(void **state)
{
    struct fx *f = *state;
    int64_t a = send_tx(f, &otp_sms); /* user 42 */
    struct notify_msg m = otp_sms;
    m.user_id = 43;
    int64_t b = send_tx(f, &m);
    assert_int_equal(notify_deliver_due(f->db, 10), 2);
    int64_t pending = send_tx(f, &m);
    (void)b;

    struct db_conn *c;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_begin(c), ST_OK);
    assert_int_equal(notify_forget_user(c, 42), ST_OK);
    assert_int_equal(db_commit(c), ST_OK);
    db_release(c);
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM outbox WHERE id = ?", a), 0);
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM outbox WHERE user_id = 42", -1), 0);
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM disclosures WHERE user_id = 42", -1), 0);
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM disclosures WHERE user_id IS NULL", -1),
                     1);
    json_t *l = NULL;
    assert_int_equal(notify_disclosures_list(f->db, 42, 0, 10, &l), ST_OK);
    assert_int_equal(json_array_size(l), 0);
    json_decref(l);

    /* The retention purge takes delivered rows, never pending ones. */
    int64_t deleted = -1;
    assert_int_equal(notify_purge(f->db, clock_now_ms() + 1, &deleted), ST_OK);
    assert_int_equal(deleted, 1);
    expect_status(f, pending, "pending");
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM outbox", -1), 1);
}

#define NOTIFY_TESTS(setup)                                                                        \
    cmocka_unit_test_setup_teardown(test_dev_delivery, setup, teardown),                           \
        cmocka_unit_test_setup_teardown(test_rollback_sends_nothing, setup, teardown),             \
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),                         \
        cmocka_unit_test_setup_teardown(test_content_sealed, setup, teardown),                     \
        cmocka_unit_test_setup_teardown(test_ledger_paging, setup, teardown),                      \
        cmocka_unit_test_setup_teardown(test_smtp_delivery, setup, teardown),                      \
        cmocka_unit_test_setup_teardown(test_smtp_marketing_unsubscribe, setup, teardown),         \
        cmocka_unit_test_setup_teardown(test_smtp_retry_backoff, setup, teardown),                 \
        cmocka_unit_test_setup_teardown(test_smtp_gives_up_keeps_message, setup, teardown),        \
        cmocka_unit_test_setup_teardown(test_smtp_permanent_refusal, setup, teardown),             \
        cmocka_unit_test_setup_teardown(test_smtp_soft_refusal_retries, setup, teardown),          \
        cmocka_unit_test_setup_teardown(test_sms_http, setup, teardown),                           \
        cmocka_unit_test_setup_teardown(test_lease_expiry, setup, teardown),                       \
        cmocka_unit_test_setup_teardown(test_worker_thread, setup, teardown),                      \
        cmocka_unit_test_setup_teardown(test_concurrent_workers, setup, teardown),                 \
        cmocka_unit_test_setup_teardown(test_marketing_consent, setup, teardown),                  \
        cmocka_unit_test_setup_teardown(test_purge_and_forget, setup, teardown)

/* Finds scripts/smtp-sink.sh: from the working directory (make test runs
 * at the repository root), else three levels above this binary
 * ($(BUILD)/tests/test_notify with BUILD = build/<flavour>). */
static void find_sink_script(const char *argv0)
{
    if (access("/usr/sbin/smtp-sink", X_OK) != 0) {
        printf("[  SKIPPED ] SMTP tests: /usr/sbin/smtp-sink is missing (Debian package "
               "postfix; scripts/install-deps.sh installs it)\n");
        return;
    }
    if (access("scripts/smtp-sink.sh", X_OK) == 0) {
        char cwd[512];
        if (getcwd(cwd, sizeof cwd))
            snprintf(sink_script, sizeof sink_script, "%s/scripts/smtp-sink.sh", cwd);
        return;
    }
    const char *slash = strrchr(argv0, '/');
    int dirlen = slash ? (int)(slash - argv0) : 1;
    snprintf(sink_script, sizeof sink_script, "%.*s/../../../scripts/smtp-sink.sh", dirlen,
             slash ? argv0 : ".");
    if (access(sink_script, X_OK) != 0) {
        printf("[  SKIPPED ] SMTP tests: scripts/smtp-sink.sh not found (run from the "
               "repository root)\n");
        sink_script[0] = '\0';
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    log_init(LOG_ERROR, true); /* failed deliveries log on purpose */
    unsigned char key[MASTER_KEY_BYTES];
    if (sodium_init() < 0)
        return 1;
    randombytes_buf(key, sizeof key);
    if (crypto_init(key, 1) != ST_OK)
        return 1;
    sodium_memzero(key, sizeof key);
    static const char *const env[] = {
        "ENTREPOT_MAIL_PROVIDER", "ENTREPOT_SMTP_URL",       "ENTREPOT_SMTP_FROM",
        "ENTREPOT_SMTP_USER",     "ENTREPOT_SMTP_PASSWORD",  "ENTREPOT_SMS_PROVIDER",
        "ENTREPOT_SMS_HTTP_URL",  "ENTREPOT_SMS_HTTP_TOKEN", NULL};
    for (size_t i = 0; env[i]; i++)
        unsetenv(env[i]);
    find_sink_script(argv[0]);

    const struct CMUnitTest common[] = {
        cmocka_unit_test(test_subject_encoding),
        cmocka_unit_test(test_config_errors),
    };
    const struct CMUnitTest sqlite[] = {NOTIFY_TESTS(setup_sqlite)};
    const struct CMUnitTest postgres[] = {NOTIFY_TESTS(setup_pg)};
    int failed = cmocka_run_group_tests_name("notify", common, NULL, NULL);
    config_reset();
    failed += cmocka_run_group_tests_name("notify_sqlite", sqlite, NULL, NULL);
    if (fx_pg_url())
        failed += cmocka_run_group_tests_name("notify_postgres", postgres, NULL, NULL);
    else
        fx_pg_skipped("notify_postgres");
    notify_cleanup();
    return failed ? 1 : 0;
}
