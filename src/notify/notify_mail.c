/*
 * notify_mail.c — e-mail: the RFC 5322 message writer and the SMTP
 * provider (libcurl).
 *
 * The design decision to know: every message is written in the most
 * conservative form that every mail system accepts — CRLF lines, ASCII
 * headers (RFC 2047 base64 encoded-words for anything else), and a body
 * that is either 7bit (ASCII, short lines) or base64 — so delivery never
 * depends on the relay announcing 8BITMIME or SMTPUTF8. The Message-ID
 * is derived from the outbox row, so a retried message (delivery is at
 * least once) carries the same id and mail systems can drop the copy.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "notify_int.h"

#define ENCODED_CHUNK 39 /* bytes per encoded-word: "Subject: " + 64 chars fits 76 */
#define B64_LINE      57 /* bytes per base64 body line (76 characters) */

/* ---------------------------------------------------------------- writer */

static bool header_text_ok(const char *s)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    if (!utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return false;
    return true;
}

static bool plain_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7E)
            return false;
    return true;
}

static enum st put_b64(struct buf *out, const unsigned char *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char tmp[sodium_base64_ENCODED_LEN(B64_LINE, sodium_base64_VARIANT_ORIGINAL)];
    if (cap > sizeof tmp)
        return ST_INTERNAL;
    sodium_bin2base64(tmp, sizeof tmp, p, n, sodium_base64_VARIANT_ORIGINAL);
    return buf_puts(out, tmp);
}

/* Writes s as RFC 2047 encoded-words ("=?UTF-8?B?...?="), each holding at
 * most ENCODED_CHUNK bytes of whole UTF-8 characters, folded onto
 * continuation lines. */
static enum st put_encoded_words(struct buf *out, const char *s)
{
    size_t n = strlen(s), i = 0;
    enum st st = ST_OK;
    while (i < n && st == ST_OK) {
        size_t take = 0;
        while (i + take < n) {
            size_t len = utf8_next(s + i + take, n - i - take, NULL);
            if (len == 0 || take + len > ENCODED_CHUNK)
                break;
            take += len;
        }
        if (take == 0)
            return ST_INVALID;
        if (i > 0)
            st = buf_puts(out, "\r\n ");
        if (st == ST_OK)
            st = buf_puts(out, "=?UTF-8?B?");
        if (st == ST_OK)
            st = put_b64(out, (const unsigned char *)s + i, take);
        if (st == ST_OK)
            st = buf_puts(out, "?=");
        i += take;
    }
    return st;
}

/* An unstructured header value (Subject): as is when it is short printable
 * ASCII that cannot be mistaken for an encoded-word, else encoded-words. */
static enum st put_unstructured(struct buf *out, const char *name, const char *s)
{
    size_t n = strlen(s);
    if (plain_ascii(s, n) && !strstr(s, "=?") && strlen(name) + 2 + n <= 78)
        return buf_puts(out, s);
    return put_encoded_words(out, s);
}

/* A display name: an atom sequence as is, quoted when it holds specials,
 * encoded-words when it is not ASCII. */
static enum st put_phrase(struct buf *out, const char *s)
{
    size_t n = strlen(s);
    if (!plain_ascii(s, n) || n > 60)
        return put_encoded_words(out, s);
    bool atoms = true;
    for (size_t i = 0; i < n; i++)
        if (strchr("()<>[]:;@\\,.\"", s[i]))
            atoms = false;
    if (atoms)
        return buf_puts(out, s);
    enum st st = buf_putc(out, '"');
    for (size_t i = 0; i < n && st == ST_OK; i++) {
        if (s[i] == '"' || s[i] == '\\')
            st = buf_putc(out, '\\');
        if (st == ST_OK)
            st = buf_putc(out, s[i]);
    }
    return st == ST_OK ? buf_putc(out, '"') : st;
}

/* Splits "Name <addr>" or "addr": name (may be "") and addr into the
 * buffers. False when malformed. */
static bool parse_mailbox(const char *s, char *name, size_t namelen, char *addr, size_t addrlen)
{
    if (!s || !header_text_ok(s))
        return false;
    const char *lt = strrchr(s, '<');
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        n--;
    if (!lt) {
        while (*s == ' ')
            s++, n--;
        if (n == 0 || n >= addrlen)
            return false;
        memcpy(addr, s, n);
        addr[n] = '\0';
        name[0] = '\0';
        return notify_email_address_ok(addr);
    }
    if (n == 0 || s[n - 1] != '>')
        return false;
    size_t alen = (size_t)(s + n - 1 - (lt + 1));
    if (alen == 0 || alen >= addrlen)
        return false;
    memcpy(addr, lt + 1, alen);
    addr[alen] = '\0';
    const char *b = s, *e = lt;
    while (b < e && *b == ' ')
        b++;
    while (e > b && e[-1] == ' ')
        e--;
    if (e - b >= 2 && *b == '"' && e[-1] == '"') {
        b++;
        e--;
    }
    if ((size_t)(e - b) >= namelen)
        return false;
    memcpy(name, b, (size_t)(e - b));
    name[e - b] = '\0';
    return notify_email_address_ok(addr);
}

static enum st put_date(struct buf *out, int64_t ms)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return ST_INVALID;
    return buf_printf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday],
                      tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                      tm.tm_sec);
}

/* The body with every line end made CRLF and a final CRLF. */
static enum st canonical_body(const char *body, struct buf *out, bool *seven_bit)
{
    size_t line = 0;
    *seven_bit = true;
    enum st st = ST_OK;
    for (const char *p = body; *p && st == ST_OK; p++) {
        if (*p == '\r' || *p == '\n') {
            if (*p == '\r' && p[1] == '\n')
                p++;
            st = buf_puts(out, "\r\n");
            line = 0;
            continue;
        }
        if ((unsigned char)*p >= 0x80 || ++line > 998)
            *seven_bit = false;
        st = buf_putc(out, *p);
    }
    if (st == ST_OK && (out->len < 2 || memcmp(out->data + out->len - 2, "\r\n", 2) != 0))
        st = buf_puts(out, "\r\n");
    return st;
}

enum st notify_email_render(const struct notify_email *e, struct buf *out)
{
    char name[512], addr[NOTIFY_ADDRESS_MAX + 1];
    if (!e || !parse_mailbox(e->from, name, sizeof name, addr, sizeof addr) ||
        !notify_email_address_ok(e->to) || !header_text_ok(e->subject) || !e->body ||
        !utf8_valid(e->body, strlen(e->body)) || !e->message_id || !*e->message_id ||
        (e->unsubscribe_url && !notify_url_ok(e->unsubscribe_url)))
        return ST_INVALID;
    for (const char *p = e->message_id; *p; p++)
        if (*p <= 0x20 || *p > 0x7E || *p == '<' || *p == '>')
            return ST_INVALID;

    size_t start = out->len;
    struct buf body;
    buf_init(&body, NOTIFY_EMAIL_BODY_MAX * 2 + 16);
    bool seven_bit;
    enum st st = canonical_body(e->body, &body, &seven_bit);
    if (st == ST_OK)
        st = put_date(out, e->date_ms);
    if (st == ST_OK)
        st = buf_puts(out, "From: ");
    if (st == ST_OK && name[0]) {
        st = put_phrase(out, name);
        if (st == ST_OK)
            st = buf_printf(out, " <%s>\r\n", addr);
    } else if (st == ST_OK) {
        st = buf_printf(out, "%s\r\n", addr);
    }
    if (st == ST_OK)
        st = buf_printf(out, "To: %s\r\nSubject: ", e->to);
    if (st == ST_OK)
        st = put_unstructured(out, "Subject", e->subject);
    if (st == ST_OK)
        st = buf_printf(out,
                        "\r\nMessage-ID: <%s>\r\n"
                        "MIME-Version: 1.0\r\n"
                        "Content-Type: text/plain; charset=utf-8\r\n"
                        "Content-Transfer-Encoding: %s\r\n"
                        "Auto-Submitted: auto-generated\r\n",
                        e->message_id, seven_bit ? "7bit" : "base64");
    if (st == ST_OK && e->unsubscribe_url) {
        st = buf_printf(out, "List-Unsubscribe: <%s>\r\n", e->unsubscribe_url);
        /* RFC 8058 one-click: a POST to the https URL unsubscribes. */
        if (st == ST_OK && strncmp(e->unsubscribe_url, "https://", 8) == 0)
            st = buf_puts(out, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
    }
    if (st == ST_OK)
        st = buf_puts(out, "\r\n");
    if (st == ST_OK && seven_bit) {
        st = buf_append(out, body.data, body.len);
    } else {
        for (size_t i = 0; i < body.len && st == ST_OK; i += B64_LINE) {
            size_t n = body.len - i < B64_LINE ? body.len - i : B64_LINE;
            st = put_b64(out, (const unsigned char *)body.data + i, n);
            if (st == ST_OK)
                st = buf_puts(out, "\r\n");
        }
    }
    buf_free(&body);
    if (st != ST_OK)
        buf_truncate(out, start);
    return st;
}

/* ---------------------------------------------------------------- smtp provider */

/* What smtp_configure parsed; read-only while deliveries run. */
static struct {
    char url[1024];   /* what libcurl gets: smtp:// or smtps://, EHLO domain as path */
    bool starttls;    /* require STARTTLS (smtp+starttls:// or port 587) */
    char system[300]; /* "smtp:HOST" for the ledger */
    char from[512];   /* From header as configured */
    char from_addr[NOTIFY_ADDRESS_MAX + 3]; /* "<addr>" for MAIL FROM */
    char domain[256];                       /* for Message-IDs */
} smtp;

static enum st smtp_configure(char *err, size_t errlen)
{
    const char *url = config_str("smtp_url"), *from = config_str("smtp_from");
    const char *user = config_str("smtp_user"), *pass = config_str("smtp_password");
    char host[256], scheme[32], name[512], addr[NOTIFY_ADDRESS_MAX + 1];
    long port = 0;
    if (!*url) {
        snprintf(err, errlen, "smtp_url: required when mail_provider is smtp");
        return ST_INVALID;
    }
    char why[128];
    enum st st = notify_url_check(url, "smtp,smtps,smtp+starttls", host, sizeof host, &port, scheme,
                                  sizeof scheme, why, sizeof why);
    if (st != ST_OK) {
        snprintf(err, errlen, "smtp_url: %s", why);
        return st;
    }
    if (!parse_mailbox(from, name, sizeof name, addr, sizeof addr)) {
        snprintf(err, errlen,
                 "smtp_from: expected an address or Name <address> when mail_provider is smtp");
        return ST_INVALID;
    }
    bool starttls =
        strcmp(scheme, "smtp+starttls") == 0 || (strcmp(scheme, "smtp") == 0 && port == 587);
    bool tls = starttls || strcmp(scheme, "smtps") == 0;
    if (*pass && !*user) {
        snprintf(err, errlen, "smtp_password: set smtp_user too");
        return ST_INVALID;
    }
    if (*user && !tls && !notify_host_is_loopback(host)) {
        snprintf(err, errlen,
                 "smtp_user: credentials would cross the network in clear; use smtps:// or "
                 "smtp+starttls://");
        return ST_INVALID;
    }
    const char *domain = strrchr(addr, '@') + 1;
    /* libcurl takes the URL's path as the EHLO name: ours, not "localhost". */
    CURLU *u = curl_url();
    char *out = NULL;
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (rc == CURLUE_OK && starttls)
        rc = curl_url_set(u, CURLUPART_SCHEME, "smtp", CURLU_NON_SUPPORT_SCHEME);
    char *path = NULL;
    if (rc == CURLUE_OK && curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK &&
        (!path[0] || strcmp(path, "/") == 0)) {
        char p[300];
        snprintf(p, sizeof p, "/%s", domain);
        rc = curl_url_set(u, CURLUPART_PATH, p, 0);
    }
    curl_free(path);
    if (rc == CURLUE_OK)
        rc = curl_url_get(u, CURLUPART_URL, &out, 0);
    curl_url_cleanup(u);
    if (rc != CURLUE_OK || strlen(out) >= sizeof smtp.url) {
        curl_free(out);
        snprintf(err, errlen, "smtp_url: cannot be used");
        return ST_INVALID;
    }
    snprintf(smtp.url, sizeof smtp.url, "%s", out);
    curl_free(out);
    smtp.starttls = starttls;
    snprintf(smtp.system, sizeof smtp.system, "smtp:%s", host);
    snprintf(smtp.from, sizeof smtp.from, "%s", from);
    snprintf(smtp.from_addr, sizeof smtp.from_addr, "<%s>", addr);
    snprintf(smtp.domain, sizeof smtp.domain, "%s", domain);
    return ST_OK;
}

static const char *smtp_system(void)
{
    return smtp.system;
}

struct upload {
    const char *p;
    size_t left;
};

static size_t upload_read(char *dst, size_t size, size_t nitems, void *arg)
{
    struct upload *u = arg;
    size_t n = size * nitems;
    if (n > u->left)
        n = u->left;
    memcpy(dst, u->p, n);
    u->p += n;
    u->left -= n;
    return n;
}

static enum st smtp_send(const struct notify_delivery *d, char *err, size_t errlen)
{
    char mid[320];
    snprintf(mid, sizeof mid, "%lld.%lld@%s", (long long)d->created_at, (long long)d->id,
             smtp.domain);
    struct notify_email e = {
        .from = smtp.from,
        .to = d->to,
        .subject = d->subject ? d->subject : "",
        .body = d->body,
        .unsubscribe_url = d->unsubscribe_url,
        .message_id = mid,
        .date_ms = clock_now_ms(),
    };
    struct buf msg;
    buf_init(&msg, NOTIFY_EMAIL_BODY_MAX * 2 + 64 * 1024);
    enum st st = notify_email_render(&e, &msg);
    if (st != ST_OK) {
        buf_free(&msg);
        snprintf(err, errlen, "message cannot be written (%s)", st_name(st));
        return ST_INVALID;
    }
    char rcpt_addr[NOTIFY_ADDRESS_MAX + 3], errbuf[CURL_ERROR_SIZE] = "";
    snprintf(rcpt_addr, sizeof rcpt_addr, "<%s>", d->to);
    struct curl_slist *rcpt = curl_slist_append(NULL, rcpt_addr);
    struct upload up = {.p = msg.data, .left = msg.len};
    CURL *h = curl_easy_init();
    if (!h || !rcpt) {
        curl_slist_free_all(rcpt);
        curl_easy_cleanup(h);
        buf_free(&msg);
        snprintf(err, errlen, "libcurl: out of memory");
        return ST_UNAVAILABLE;
    }
    curl_easy_setopt(h, CURLOPT_URL, smtp.url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, smtp.from_addr);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, upload_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &up);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg.len);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)NOTIFY_CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)NOTIFY_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, notify_curl_progress);
    if (smtp.starttls)
        curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    const char *user = config_str("smtp_user");
    if (*user) {
        curl_easy_setopt(h, CURLOPT_USERNAME, user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, config_str("smtp_password"));
    }
    CURLcode rc = curl_easy_perform(h);
    long reply = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply);
    curl_easy_cleanup(h);
    curl_slist_free_all(rcpt);
    if (msg.len)
        sodium_memzero(msg.data, msg.len);
    buf_free(&msg);
    if (rc == CURLE_OK)
        return ST_OK;
    snprintf(err, errlen, "smtp: %s (reply %ld)", errbuf[0] ? errbuf : curl_easy_strerror(rc),
             reply);
    /* A 5xx reply refuses this message for good, except the ones about
     * our own authentication, which a fixed configuration cures. */
    if (reply >= 500 && reply < 600 && reply != 530 && reply != 534 && reply != 535 &&
        reply != 538 && rc != CURLE_LOGIN_DENIED)
        return ST_INVALID;
    return ST_UNAVAILABLE;
}

const struct notify_provider notify_smtp = {
    .name = "smtp",
    .channel = NOTIFY_EMAIL,
    .keeps_content = false,
    .configure = smtp_configure,
    .system = smtp_system,
    .send = smtp_send,
};
