/*
 * notify.c — the outbox (a durable queue of e-mails and SMS), its delivery
 * worker, and the disclosure ledger.
 *
 * The design decision to know: a message is a row written in the caller's
 * transaction, and delivery happens later, outside any transaction. A
 * worker claims due rows with one UPDATE ... RETURNING (PostgreSQL adds FOR
 * UPDATE SKIP LOCKED so nodes share the queue; SQLite serialises writers),
 * which sets status 'sending', counts the attempt and sets next_attempt_at
 * to a lease expiry. Then, with no database connection held, it calls the
 * provider, and records the outcome in a short transaction: 'sent' plus a
 * disclosure record, or 'pending' again with backoff (30 s × 2^(n-1) after
 * the n-th failed attempt, at most an hour), or 'failed' after
 * NOTIFY_MAX_ATTEMPTS or a permanent refusal. A crash anywhere in between
 * leaves the row 'sending'; once its lease is over it is claimed again, so
 * delivery is at least once, never lost, and a message that keeps killing
 * workers still runs out of attempts.
 *
 * The personal part of a message (recipient, subject, body, unsubscribe
 * link) is sealed as one JSON payload with crypto_field_seal, owner = the
 * row id, under a key derived from the key ring's index root through the
 * keyed blind-index hash (domain "notify.outbox.v1"): the root stays the
 * same across master-key rotation, so queued messages survive a rotation,
 * and no per-user key is needed for a code sent before the account exists.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify_int.h"

#define PAYLOAD_COLUMN "outbox.payload"
#define PAYLOAD_DOMAIN "notify.outbox.v1"
#define FIND_SCAN      1000 /* newest rows notify_outbox_find looks at */

_Static_assert(CRYPTO_BLIND_BYTES == CRYPTO_DATAKEY_BYTES, "payload key size");

/* ---------------------------------------------------------------- names */

static const char *const channel_names[] = {"email", "sms"};
static const char *const purpose_names[] = {"security", "service", "marketing"};

const char *notify_channel_name(enum notify_channel ch)
{
    return ch == NOTIFY_SMS ? channel_names[1] : channel_names[0];
}

const char *notify_purpose_name(enum notify_purpose p)
{
    return (unsigned)p <= NOTIFY_MARKETING ? purpose_names[p] : purpose_names[0];
}

static bool channel_parse(const char *s, enum notify_channel *out)
{
    for (int i = 0; i < 2; i++)
        if (s && strcmp(s, channel_names[i]) == 0) {
            *out = (enum notify_channel)i;
            return true;
        }
    return false;
}

static bool purpose_parse(const char *s, enum notify_purpose *out)
{
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, purpose_names[i]) == 0) {
            *out = (enum notify_purpose)i;
            return true;
        }
    return false;
}

/* ---------------------------------------------------------------- checks */

static bool is_lower_alnum(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* 1..max bytes of [a-z0-9] and the characters in extra. */
static bool name_ok(const char *s, size_t max, const char *extra)
{
    if (!s || !*s)
        return false;
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= max || !(is_lower_alnum(s[n]) || strchr(extra, s[n])))
            return false;
    return true;
}

static bool lang_ok(const char *s)
{
    if (!s || !*s)
        return false;
    for (size_t n = 0; s[n]; n++) {
        char ch = s[n];
        if (n >= NOTIFY_NAME_MAX || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                                      (ch >= '0' && ch <= '9') || ch == '-'))
            return false;
    }
    return true;
}

/* A comma-separated list of [a-z0-9_] items, no empty item. */
static bool types_ok(const char *s)
{
    if (!s || !*s || strlen(s) > NOTIFY_TYPES_MAX)
        return false;
    bool item = false;
    for (; *s; s++) {
        if (*s == ',') {
            if (!item)
                return false;
            item = false;
        } else if (is_lower_alnum(*s) || *s == '_') {
            item = true;
        } else {
            return false;
        }
    }
    return item;
}

/* Printable ASCII, 1..max bytes. */
static bool ascii_ok(const char *s, size_t max)
{
    if (!s || !*s)
        return false;
    for (size_t n = 0; s[n]; n++)
        if (n >= max || s[n] < 0x20 || s[n] > 0x7E)
            return false;
    return true;
}

/* Valid UTF-8 of at most max_chars code points (and max_bytes bytes), no
 * control characters but, when multiline, \n, \r and \t. */
static bool text_ok(const char *s, size_t max_bytes, size_t max_chars, bool multiline)
{
    if (!s || !*s)
        return false;
    size_t n = strlen(s);
    if (n > max_bytes || !utf8_valid(s, n) || utf8_len(s, n) > max_chars)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && !(multiline && (ch == '\n' || ch == '\r' || ch == '\t'))) || ch == 0x7F)
            return false;
    }
    return true;
}

bool notify_email_address_ok(const char *s)
{
    if (!s)
        return false;
    const char *at = strrchr(s, '@');
    size_t n = strlen(s);
    if (!at || at == s || n > NOTIFY_ADDRESS_MAX || (size_t)(at - s) > 64)
        return false;
    for (const char *p = s; p < at; p++)
        if (*p <= 0x20 || *p > 0x7E || strchr("<>()[]\\,;:\"@", *p))
            return false;
    const char *d = at + 1;
    if (!*d || *d == '.' || *d == '-' || d[strlen(d) - 1] == '.' || strstr(d, ".."))
        return false;
    for (; *d; d++)
        if (!((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z') || (*d >= '0' && *d <= '9') ||
              *d == '.' || *d == '-'))
            return false;
    return true;
}

bool notify_phone_ok(const char *s)
{
    if (!s || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return false;
    size_t n = 0;
    for (const char *p = s + 1; *p; p++, n++)
        if (*p < '0' || *p > '9')
            return false;
    return n >= 8 && n <= 15;
}

bool notify_url_ok(const char *s)
{
    if (!s || !(strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0 ||
                strncmp(s, "mailto:", 7) == 0))
        return false;
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= NOTIFY_URL_MAX || s[n] <= 0x20 || s[n] > 0x7E || strchr("<>\"\\", s[n]))
            return false;
    return n > 8;
}

/* Names the first rule m breaks, or NULL when it is valid. */
static const char *msg_problem(const struct notify_msg *m)
{
    if (!m)
        return "message";
    if (m->channel != NOTIFY_EMAIL && m->channel != NOTIFY_SMS)
        return "channel";
    if ((unsigned)m->purpose > NOTIFY_MARKETING)
        return "purpose";
    if (m->user_id < 0)
        return "user_id";
    if (!name_ok(m->template_name, NOTIFY_NAME_MAX, "_.-"))
        return "template";
    if (!lang_ok(m->lang))
        return "lang";
    /* Room for the "email,"/"phone," the ledger puts in front. */
    if (m->data_types && *m->data_types &&
        (!types_ok(m->data_types) || strlen(m->data_types) > NOTIFY_TYPES_MAX - 16))
        return "data_types";
    if (m->channel == NOTIFY_EMAIL) {
        if (!notify_email_address_ok(m->to))
            return "to";
        if (!text_ok(m->subject, NOTIFY_SUBJECT_CHARS * 4, NOTIFY_SUBJECT_CHARS, false))
            return "subject";
        if (!text_ok(m->body, NOTIFY_EMAIL_BODY_MAX, NOTIFY_EMAIL_BODY_MAX, true))
            return "body";
        if (m->unsubscribe_url ? !notify_url_ok(m->unsubscribe_url)
                               : m->purpose == NOTIFY_MARKETING)
            return "unsubscribe_url";
    } else {
        if (!notify_phone_ok(m->to))
            return "to";
        if (m->subject)
            return "subject";
        if (m->unsubscribe_url)
            return "unsubscribe_url";
        if (!text_ok(m->body, NOTIFY_SMS_CHARS * 4, NOTIFY_SMS_CHARS, true))
            return "body";
    }
    return NULL;
}

/* ---------------------------------------------------------------- db helpers */

static const char *col_text_or_null(struct db_stmt *s, int col)
{
    return db_col_is_null(s, col) ? NULL : db_col_text(s, col);
}

static json_t *text_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *int_or_null(struct db_stmt *s, int col)
{
    return db_col_is_null(s, col) ? json_null() : json_integer(db_col_int64(s, col));
}

/* ---------------------------------------------------------------- payload */

struct payload {
    json_t *root;
    const char *to, *subject, *body, *unsubscribe;
};

static void payload_free(struct payload *p)
{
    json_decref(p->root);
    memset(p, 0, sizeof *p);
}

static enum st payload_key(unsigned char k[CRYPTO_DATAKEY_BYTES])
{
    /* A PRF output under the index root, for a domain nothing else uses:
     * see the comment at the top of the file. */
    return crypto_blind_index(PAYLOAD_DOMAIN, "payload key", k);
}

static enum st payload_seal(int64_t id, const struct notify_msg *m, unsigned char **out,
                            size_t *outlen)
{
    struct buf b;
    buf_init(&b, 2 * NOTIFY_EMAIL_BODY_MAX);
    enum st st = buf_puts(&b, "{\"to\":");
    if (st == ST_OK)
        st = buf_json_str(&b, m->to);
    if (st == ST_OK)
        st = buf_puts(&b, ",\"subject\":");
    if (st == ST_OK)
        st = buf_json_str(&b, m->subject);
    if (st == ST_OK)
        st = buf_puts(&b, ",\"body\":");
    if (st == ST_OK)
        st = buf_json_str(&b, m->body);
    if (st == ST_OK)
        st = buf_puts(&b, ",\"unsubscribe\":");
    if (st == ST_OK)
        st = buf_json_str(&b, m->unsubscribe_url);
    if (st == ST_OK)
        st = buf_putc(&b, '}');
    unsigned char k[CRYPTO_DATAKEY_BYTES];
    if (st == ST_OK)
        st = payload_key(k);
    if (st == ST_OK)
        st = crypto_field_seal(k, id, PAYLOAD_COLUMN, b.data, b.len, out, outlen);
    sodium_memzero(k, sizeof k);
    if (b.len)
        sodium_memzero(b.data, b.len);
    buf_free(&b);
    return st;
}

/* ST_OK; ST_INTERNAL when the key ring is not loaded (try later);
 * ST_INVALID when the payload is missing, tampered with or unreadable. */
static enum st payload_open(int64_t id, const unsigned char *in, size_t inlen, struct payload *p)
{
    memset(p, 0, sizeof *p);
    if (!in || inlen == 0)
        return ST_INVALID;
    unsigned char k[CRYPTO_DATAKEY_BYTES];
    enum st st = payload_key(k);
    if (st != ST_OK)
        return ST_INTERNAL;
    unsigned char *pt = NULL;
    size_t n = 0;
    st = crypto_field_open(k, id, PAYLOAD_COLUMN, in, inlen, &pt, &n);
    sodium_memzero(k, sizeof k);
    if (st != ST_OK)
        return st == ST_INTERNAL ? ST_INTERNAL : ST_INVALID;
    p->root = json_loadb((const char *)pt, n, 0, NULL);
    crypto_free_secret(pt, n);
    if (!json_is_object(p->root)) {
        payload_free(p);
        return ST_INVALID;
    }
    p->to = json_string_value(json_object_get(p->root, "to"));
    p->subject = json_string_value(json_object_get(p->root, "subject"));
    p->body = json_string_value(json_object_get(p->root, "body"));
    p->unsubscribe = json_string_value(json_object_get(p->root, "unsubscribe"));
    if (!p->to || !p->body) {
        payload_free(p);
        return ST_INVALID;
    }
    return ST_OK;
}

/* ---------------------------------------------------------------- send */

enum st notify_send(struct db_conn *c, const struct notify_msg *m, int64_t *id)
{
    if (id)
        *id = 0;
    const char *bad = msg_problem(m);
    if (bad) {
        log_kv(LOG_WARN, "notify: message refused", "field", bad, "template",
               m && m->template_name && ascii_ok(m->template_name, NOTIFY_NAME_MAX)
                   ? m->template_name
                   : "?",
               NULL);
        return ST_INVALID;
    }
    char types[NOTIFY_TYPES_MAX + 16];
    snprintf(types, sizeof types, "%s,%s", m->channel == NOTIFY_EMAIL ? "email" : "phone",
             m->data_types && *m->data_types ? m->data_types : "message");
    int64_t now = clock_now_ms(), rid = 0;
    enum st st =
        db_runf(c, NULL, &rid,
                "INSERT INTO outbox (channel, user_id, purpose, template, lang, data_types, "
                "status, attempts, next_attempt_at, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) RETURNING id",
                "tIttttii", notify_channel_name(m->channel), m->user_id,
                notify_purpose_name(m->purpose), m->template_name, m->lang, types, now, now);
    if (st != ST_OK)
        return st;
    if (rid <= 0)
        return ST_INTERNAL;
    unsigned char *sealed = NULL;
    size_t slen = 0;
    st = payload_seal(rid, m, &sealed, &slen);
    if (st != ST_OK)
        return st;
    int64_t changed = 0;
    st = db_execf(c, &changed, "UPDATE outbox SET payload = ? WHERE id = ?", "bi", sealed, slen,
                  rid);
    xfree(sealed);
    if (st == ST_OK && changed != 1)
        st = ST_INTERNAL;
    if (st == ST_OK && id)
        *id = rid;
    return st;
}

/* ---------------------------------------------------------------- state */

static struct {
    pthread_mutex_t mu; /* guards everything below but the worker's own fields */
    bool inited;
    bool curl_ready;
    const struct notify_provider *email, *sms;
    notify_consent_fn consent;
    void *consent_arg;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct {
    pthread_mutex_t mu; /* guards wake, running, cv */
    pthread_cond_t cv;
    pthread_t thread;
    bool running;
    bool wake;
    atomic_bool stop;
    struct db *db;
} w = {.mu = PTHREAD_MUTEX_INITIALIZER};

static const struct notify_provider *const providers[] = {
    &notify_dev_email,
    &notify_smtp,
    &notify_dev_sms,
    &notify_sms_http,
};

bool notify_stopping(void)
{
    return atomic_load(&w.stop);
}

int notify_curl_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
    (void)p;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return notify_stopping() ? 1 : 0;
}

static const struct notify_provider *provider_find(enum notify_channel ch, const char *name)
{
    for (size_t i = 0; i < sizeof providers / sizeof providers[0]; i++)
        if (providers[i]->channel == ch && strcmp(providers[i]->name, name) == 0)
            return providers[i];
    return NULL;
}

static enum st init_locked(char *err, size_t errlen)
{
    if (!g.curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(err, errlen, "libcurl could not be initialised");
            return ST_INTERNAL;
        }
        g.curl_ready = true;
    }
    const char *en = config_str("mail_provider"), *sn = config_str("sms_provider");
    const struct notify_provider *e = provider_find(NOTIFY_EMAIL, en);
    const struct notify_provider *s = provider_find(NOTIFY_SMS, sn);
    if (!e) {
        snprintf(err, errlen, "mail_provider: expected dev or smtp");
        return ST_INVALID;
    }
    if (!s) {
        snprintf(err, errlen, "sms_provider: expected dev or http");
        return ST_INVALID;
    }
    enum st st = e->configure(err, errlen);
    if (st == ST_OK)
        st = s->configure(err, errlen);
    if (st != ST_OK)
        return st;
    g.email = e;
    g.sms = s;
    g.inited = true;
    log_kv(LOG_DEBUG, "notify: providers", "email", e->name, "email_system", e->system(), "sms",
           s->name, "sms_system", s->system(), NULL);
    return ST_OK;
}

enum st notify_init(char *err, size_t errlen)
{
    char tmp[8];
    if (!err || errlen == 0) {
        err = tmp;
        errlen = sizeof tmp;
    }
    err[0] = '\0';
    pthread_mutex_lock(&w.mu);
    bool running = w.running;
    pthread_mutex_unlock(&w.mu);
    if (running) {
        snprintf(err, errlen, "the delivery worker is running");
        return ST_CONFLICT;
    }
    pthread_mutex_lock(&g.mu);
    enum st st = init_locked(err, errlen);
    pthread_mutex_unlock(&g.mu);
    return st;
}

void notify_cleanup(void)
{
    pthread_mutex_lock(&g.mu);
    if (g.curl_ready)
        curl_global_cleanup();
    g.curl_ready = false;
    g.inited = false;
    pthread_mutex_unlock(&g.mu);
}

const char *notify_provider_name(enum notify_channel ch)
{
    pthread_mutex_lock(&g.mu);
    const struct notify_provider *p = ch == NOTIFY_SMS ? g.sms : g.email;
    pthread_mutex_unlock(&g.mu);
    return p ? p->name
             : (ch == NOTIFY_SMS ? config_str("sms_provider") : config_str("mail_provider"));
}

void notify_set_marketing_check(notify_consent_fn fn, void *arg)
{
    pthread_mutex_lock(&g.mu);
    g.consent = fn;
    g.consent_arg = arg;
    pthread_mutex_unlock(&g.mu);
}

/* The providers and hook to use now; initialises on first use. */
static enum st current(const struct notify_provider **email, const struct notify_provider **sms,
                       notify_consent_fn *consent, void **consent_arg)
{
    char err[256] = "";
    enum st st = ST_OK;
    pthread_mutex_lock(&g.mu);
    if (!g.inited)
        st = init_locked(err, sizeof err);
    *email = g.email;
    *sms = g.sms;
    *consent = g.consent;
    *consent_arg = g.consent_arg;
    pthread_mutex_unlock(&g.mu);
    if (st != ST_OK)
        log_kv(LOG_ERROR, "notify: bad configuration", "error", err, NULL);
    return st;
}

/* ---------------------------------------------------------------- ledger */

static const char *const legal_bases[] = {"consent",         "contract",    "legal_obligation",
                                          "vital_interests", "public_task", "legitimate_interests"};

enum st notify_disclosure_record(struct db_conn *c, const struct notify_disclosure *d, int64_t *id)
{
    if (id)
        *id = 0;
    if (!d || d->user_id < 0 || !ascii_ok(d->recipient_system, NOTIFY_SYSTEM_MAX) ||
        !types_ok(d->data_types) || !name_ok(d->purpose, NOTIFY_NAME_MAX, "_.-") ||
        (d->reference && !ascii_ok(d->reference, NOTIFY_REFERENCE_MAX)))
        return ST_INVALID;
    bool basis = false;
    for (size_t i = 0; i < sizeof legal_bases / sizeof legal_bases[0]; i++)
        if (d->legal_basis && strcmp(d->legal_basis, legal_bases[i]) == 0)
            basis = true;
    if (!basis)
        return ST_INVALID;
    int64_t rid = 0;
    enum st st =
        db_runf(c, NULL, &rid,
                "INSERT INTO disclosures (user_id, at, recipient_system, data_types, "
                "purpose, legal_basis, reference) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                "Iittttt", d->user_id, clock_now_ms(), d->recipient_system, d->data_types,
                d->purpose, d->legal_basis, d->reference);
    if (st == ST_OK && id)
        *id = rid;
    return st;
}

/* "phone,otp" → ["phone","otp"]. */
static json_t *types_array(const char *s)
{
    json_t *a = json_array();
    while (s && *s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n > 0)
            json_array_append_new(a, json_stringn(s, n));
        s = e ? e + 1 : NULL;
    }
    return a;
}

enum st notify_disclosures_list(struct db *db, int64_t user_id, int64_t before_id, int limit,
                                json_t **out)
{
    *out = NULL;
    if (user_id <= 0 || before_id < 0 || limit < 1 || limit > NOTIFY_LIST_MAX)
        return ST_INVALID;
    struct db_conn *c;
    enum st st = db_acquire(db, &c);
    if (st != ST_OK)
        return st;
    struct db_stmt *s;
    st = db_prepare(c,
                    "SELECT id, at, recipient_system, data_types, purpose, legal_basis, reference "
                    "FROM disclosures WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                    &s);
    if (st != ST_OK) {
        db_release(c);
        return st;
    }
    st = db_bind_int64(s, 1, user_id);
    if (st == ST_OK)
        st = db_bind_int64(s, 2, before_id > 0 ? before_id : INT64_MAX);
    if (st == ST_OK)
        st = db_bind_int64(s, 3, limit);
    json_t *a = json_array();
    bool row = false;
    while (st == ST_OK && (st = db_step(s, &row)) == ST_OK && row) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(db_col_int64(s, 0)));
        json_object_set_new(o, "at", json_integer(db_col_int64(s, 1)));
        json_object_set_new(o, "recipient_system", text_or_null(col_text_or_null(s, 2)));
        json_object_set_new(o, "data_types", types_array(col_text_or_null(s, 3)));
        json_object_set_new(o, "purpose", text_or_null(col_text_or_null(s, 4)));
        json_object_set_new(o, "legal_basis", text_or_null(col_text_or_null(s, 5)));
        json_object_set_new(o, "reference", text_or_null(col_text_or_null(s, 6)));
        json_array_append_new(a, o);
    }
    db_stmt_done(s);
    db_release(c);
    if (st != ST_OK) {
        json_decref(a);
        return st;
    }
    *out = a;
    return ST_OK;
}

/* ---------------------------------------------------------------- delivery */

/* A claimed row, copied out of the statement. */
struct claimed {
    int64_t id, user_id, created_at, attempts;
    enum notify_channel channel;
    enum notify_purpose purpose;
    char template_name[NOTIFY_NAME_MAX + 1];
    char data_types[NOTIFY_TYPES_MAX + 16];
    unsigned char *payload;
    size_t payload_len;
    bool bad; /* channel or purpose unreadable */
};

static int64_t backoff_ms(int64_t attempt)
{
    int64_t d = NOTIFY_BACKOFF_MS;
    for (int64_t i = 1; i < attempt && d < NOTIFY_BACKOFF_CAP_MS; i++)
        d *= 2;
    return d < NOTIFY_BACKOFF_CAP_MS ? d : NOTIFY_BACKOFF_CAP_MS;
}

static enum st claim(struct db *db, int max, struct claimed **out, size_t *count)
{
    static const char sql_sqlite[] =
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = ? "
        "WHERE id IN (SELECT id FROM outbox WHERE status IN ('pending', 'sending') "
        "AND next_attempt_at <= ? AND attempts < ? AND payload IS NOT NULL "
        "ORDER BY next_attempt_at, id LIMIT ?) "
        "RETURNING id, channel, purpose, user_id, template, data_types, payload, attempts, "
        "created_at";
    static const char sql_pg[] =
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = ? "
        "WHERE id IN (SELECT id FROM outbox WHERE status IN ('pending', 'sending') "
        "AND next_attempt_at <= ? AND attempts < ? AND payload IS NOT NULL "
        "ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED) "
        "RETURNING id, channel, purpose, user_id, template, data_types, payload, attempts, "
        "created_at";
    *out = NULL;
    *count = 0;
    struct db_conn *c;
    enum st st = db_acquire(db, &c);
    if (st != ST_OK)
        return st;
    int64_t now = clock_now_ms(), due = 0, gone = 0, empty = 0;
    /* A read first, so that an idle queue costs no write (and, on SQLite,
     * no write lock) per poll. */
    st = db_runf(c, NULL, &due,
                 "SELECT id FROM outbox WHERE status IN ('pending', 'sending') "
                 "AND next_attempt_at <= ? LIMIT 1",
                 "i", now);
    if (st != ST_OK || due == 0) {
        db_release(c);
        return st;
    }
    /* Rows whose lease ran out after their last allowed attempt: a worker
     * died (or lost the database) while delivering them each time. */
    st = db_execf(c, &gone,
                  "UPDATE outbox SET status = 'failed', last_error = ? WHERE status = 'sending' "
                  "AND next_attempt_at <= ? AND attempts >= ?",
                  "tii", "delivery interrupted (lease expired) on the last attempt", now,
                  (int64_t)NOTIFY_MAX_ATTEMPTS);
    /* Rows without content: notify_send called outside a transaction and
     * interrupted between its two statements. Given a lease's time in
     * case that caller is still busy, then set aside. */
    if (st == ST_OK)
        st =
            db_execf(c, &empty,
                     "UPDATE outbox SET status = 'failed', last_error = ? WHERE status = 'pending' "
                     "AND payload IS NULL AND created_at <= ?",
                     "ti", "no content (queued outside a transaction?)", now - NOTIFY_LEASE_MS);
    if (st == ST_OK && gone + empty > 0) {
        char n[24];
        snprintf(n, sizeof n, "%lld", (long long)(gone + empty));
        log_kv(LOG_WARN, "notify: messages set aside as failed (interrupted or empty)", "count", n,
               NULL);
    }
    struct db_stmt *s = NULL;
    if (st == ST_OK)
        st = db_prepare(c, db_kind(db) == DB_POSTGRES ? sql_pg : sql_sqlite, &s);
    if (st == ST_OK)
        st = db_bind_int64(s, 1, now + NOTIFY_LEASE_MS);
    if (st == ST_OK)
        st = db_bind_int64(s, 2, now);
    if (st == ST_OK)
        st = db_bind_int64(s, 3, NOTIFY_MAX_ATTEMPTS);
    if (st == ST_OK)
        st = db_bind_int64(s, 4, max);
    struct claimed *list = xcalloc((size_t)max, sizeof *list);
    size_t n = 0;
    bool row = false;
    while (st == ST_OK && (st = db_step(s, &row)) == ST_OK && row) {
        if (n == (size_t)max)
            continue; /* cannot happen (LIMIT); read to the end anyway */
        struct claimed *r = &list[n++];
        r->id = db_col_int64(s, 0);
        r->bad = !channel_parse(db_col_text(s, 1), &r->channel) ||
                 !purpose_parse(db_col_text(s, 2), &r->purpose);
        r->user_id = db_col_int64(s, 3);
        snprintf(r->template_name, sizeof r->template_name, "%s",
                 db_col_is_null(s, 4) ? "" : db_col_text(s, 4));
        snprintf(r->data_types, sizeof r->data_types, "%s",
                 db_col_is_null(s, 5) ? "message" : db_col_text(s, 5));
        size_t len = 0;
        const void *p = db_col_is_null(s, 6) ? NULL : db_col_blob(s, 6, &len);
        if (p && len > 0) {
            r->payload = xmalloc(len);
            memcpy(r->payload, p, len);
            r->payload_len = len;
        }
        r->attempts = db_col_int64(s, 7);
        r->created_at = db_col_int64(s, 8);
    }
    if (s)
        db_stmt_done(s);
    db_release(c);
    if (st != ST_OK) {
        /* The UPDATE did not commit (one statement): nothing is claimed. */
        for (size_t i = 0; i < n; i++)
            xfree(list[i].payload);
        xfree(list);
        return st;
    }
    *out = list;
    *count = n;
    return ST_OK;
}

static void id_text(int64_t id, char *out, size_t n)
{
    snprintf(out, n, "%lld", (long long)id);
}

static void record_sent(struct db *db, const struct claimed *r, const struct notify_provider *p)
{
    struct db_conn *c;
    enum st st = db_acquire(db, &c);
    if (st == ST_OK) {
        st = db_begin(c);
        if (st == ST_OK)
            st = db_execf(c, NULL,
                          p->keeps_content
                              ? "UPDATE outbox SET status = 'sent', sent_at = ?, provider = ?, "
                                "last_error = NULL WHERE id = ?"
                              : "UPDATE outbox SET status = 'sent', sent_at = ?, provider = ?, "
                                "last_error = NULL, payload = NULL WHERE id = ?",
                          "iti", clock_now_ms(), p->name, r->id);
        char ref[48];
        snprintf(ref, sizeof ref, "outbox:%lld", (long long)r->id);
        struct notify_disclosure d = {
            .user_id = r->user_id,
            .recipient_system = p->system(),
            .data_types = r->data_types,
            .purpose = notify_purpose_name(r->purpose),
            .legal_basis = r->purpose == NOTIFY_MARKETING ? "consent" : "contract",
            .reference = ref,
        };
        if (st == ST_OK)
            st = notify_disclosure_record(c, &d, NULL);
        if (st == ST_OK)
            st = db_commit(c);
        if (st != ST_OK)
            db_rollback(c);
        db_release(c);
    }
    char idt[24];
    id_text(r->id, idt, sizeof idt);
    if (st != ST_OK)
        log_kv(LOG_ERROR, "notify: delivered but not recorded; it will be sent again", "id", idt,
               "status", st_name(st), NULL);
    else
        log_kv(LOG_INFO, "notify: delivered", "id", idt, "channel", notify_channel_name(r->channel),
               "template", r->template_name, "provider", p->name, NULL);
}

/* A failed attempt: back to 'pending' with backoff, or 'failed' when
 * permanent or out of attempts. Guarded by (status, attempts) so a worker
 * whose lease ran out cannot overwrite a newer claim's outcome. */
static void record_failure(struct db *db, const struct claimed *r, const char *provider,
                           bool permanent, const char *err)
{
    bool give_up = permanent || r->attempts >= NOTIFY_MAX_ATTEMPTS;
    int64_t now = clock_now_ms();
    int64_t next = give_up ? now : now + backoff_ms(r->attempts);
    char e[NOTIFY_ERROR_MAX];
    snprintf(e, sizeof e, "%s", err && *err ? err : "delivery failed");
    /* Cut at a character boundary: a provider's text may be UTF-8. */
    size_t n = strlen(e);
    while (n > 0 && !utf8_valid(e, n))
        e[--n] = '\0';
    struct db_conn *c;
    enum st st = db_acquire(db, &c);
    if (st == ST_OK) {
        st = db_execf(
            c, NULL,
            "UPDATE outbox SET status = ?, next_attempt_at = ?, last_error = ?, provider = ? "
            "WHERE id = ? AND status = 'sending' AND attempts = ?",
            "tittii", give_up ? "failed" : "pending", next, e, provider, r->id, r->attempts);
        db_release(c);
    }
    char idt[24], att[24], in[24];
    id_text(r->id, idt, sizeof idt);
    id_text(r->attempts, att, sizeof att);
    id_text(give_up ? 0 : (next - now) / 1000, in, sizeof in);
    log_kv(give_up ? LOG_ERROR : LOG_WARN,
           give_up ? "notify: delivery failed for good" : "notify: delivery failed, will retry",
           "id", idt, "attempt", att, "retry_in_s", in, "error", e, "db",
           st == ST_OK ? "ok" : st_name(st), NULL);
}

static void record_cancelled(struct db *db, const struct claimed *r)
{
    struct db_conn *c;
    if (db_acquire(db, &c) != ST_OK)
        return; /* the lease runs out and the next claim asks again */
    db_execf(c, NULL,
             "UPDATE outbox SET status = 'cancelled', payload = NULL, last_error = ? "
             "WHERE id = ? AND status = 'sending' AND attempts = ?",
             "tii", "marketing consent withdrawn", r->id, r->attempts);
    db_release(c);
}

static void deliver_one(struct db *db, const struct claimed *r, const struct notify_provider *email,
                        const struct notify_provider *sms, notify_consent_fn consent,
                        void *consent_arg)
{
    if (r->bad) {
        record_failure(db, r, NULL, true, "unknown channel or purpose");
        return;
    }
    const struct notify_provider *p = r->channel == NOTIFY_SMS ? sms : email;
    struct payload pl;
    enum st st = payload_open(r->id, r->payload, r->payload_len, &pl);
    if (st != ST_OK) {
        record_failure(db, r, p->name, st != ST_INTERNAL,
                       st == ST_INTERNAL ? "key ring not loaded" : "content cannot be opened");
        return;
    }
    if (r->purpose == NOTIFY_MARKETING && consent && r->user_id > 0) {
        struct db_conn *c;
        st = db_acquire(db, &c);
        if (st != ST_OK) {
            payload_free(&pl);
            record_failure(db, r, p->name, false, "database unavailable for the consent check");
            return;
        }
        bool ok = consent(c, r->user_id, r->channel, consent_arg);
        db_rollback(c);
        db_release(c);
        if (!ok) {
            payload_free(&pl);
            record_cancelled(db, r);
            return;
        }
    }
    struct notify_delivery d = {
        .id = r->id,
        .channel = r->channel,
        .purpose = r->purpose,
        .to = pl.to,
        .subject = pl.subject,
        .body = pl.body,
        .unsubscribe_url = pl.unsubscribe,
        .template_name = r->template_name,
        .created_at = r->created_at,
        .attempt = (int)r->attempts,
    };
    char err[NOTIFY_ERROR_MAX] = "";
    st = p->send(&d, err, sizeof err);
    payload_free(&pl);
    if (st == ST_OK)
        record_sent(db, r, p);
    else
        record_failure(db, r, p->name, st == ST_INVALID, err);
}

int notify_deliver_due(struct db *db, int max)
{
    if (max < 1)
        max = 1;
    if (max > NOTIFY_BATCH * 8)
        max = NOTIFY_BATCH * 8;
    const struct notify_provider *email, *sms;
    notify_consent_fn consent;
    void *consent_arg;
    if (current(&email, &sms, &consent, &consent_arg) != ST_OK)
        return -1;
    struct claimed *list;
    size_t n;
    enum st st = claim(db, max, &list, &n);
    if (st != ST_OK) {
        log_kv(LOG_WARN, "notify: cannot claim messages", "status", st_name(st), NULL);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        deliver_one(db, &list[i], email, sms, consent, consent_arg);
        xfree(list[i].payload);
    }
    xfree(list);
    return (int)n;
}

/* ---------------------------------------------------------------- worker */

static void *worker_main(void *arg)
{
    (void)arg;
    log_set_request_id("notify-worker");
    while (!atomic_load(&w.stop)) {
        int n = notify_deliver_due(w.db, NOTIFY_BATCH);
        if (n >= NOTIFY_BATCH)
            continue; /* more may be due */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        /* After an error, wait a little longer before hammering again. */
        int64_t ms = n < 0 ? 5 * NOTIFY_POLL_MS : NOTIFY_POLL_MS;
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&w.mu);
        while (!w.wake && !atomic_load(&w.stop))
            if (pthread_cond_timedwait(&w.cv, &w.mu, &ts) != 0)
                break;
        w.wake = false;
        pthread_mutex_unlock(&w.mu);
    }
    return NULL;
}

enum st notify_worker_start(struct db *db)
{
    if (!db)
        return ST_INVALID;
    const struct notify_provider *email, *sms;
    notify_consent_fn consent;
    void *consent_arg;
    if (current(&email, &sms, &consent, &consent_arg) != ST_OK)
        return ST_INVALID;
    pthread_mutex_lock(&w.mu);
    if (w.running) {
        pthread_mutex_unlock(&w.mu);
        return ST_CONFLICT;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_store(&w.stop, false);
    w.wake = false;
    w.db = db;
    if (pthread_create(&w.thread, NULL, worker_main, NULL) != 0) {
        pthread_cond_destroy(&w.cv);
        pthread_mutex_unlock(&w.mu);
        return ST_INTERNAL;
    }
    w.running = true;
    pthread_mutex_unlock(&w.mu);
    log_kv(LOG_INFO, "notify: delivery worker started", "email", email->name, "sms", sms->name,
           NULL);
    return ST_OK;
}

void notify_worker_stop(void)
{
    pthread_mutex_lock(&w.mu);
    if (!w.running) {
        pthread_mutex_unlock(&w.mu);
        return;
    }
    atomic_store(&w.stop, true);
    pthread_cond_broadcast(&w.cv);
    pthread_t t = w.thread;
    pthread_mutex_unlock(&w.mu);
    pthread_join(t, NULL);
    pthread_mutex_lock(&w.mu);
    w.running = false;
    w.db = NULL;
    pthread_cond_destroy(&w.cv);
    atomic_store(&w.stop, false);
    pthread_mutex_unlock(&w.mu);
}

void notify_worker_wake(void)
{
    pthread_mutex_lock(&w.mu);
    if (w.running) {
        w.wake = true;
        pthread_cond_signal(&w.cv);
    }
    pthread_mutex_unlock(&w.mu);
}

/* ---------------------------------------------------------------- outbox reads */

/* Columns: id, channel, user_id, purpose, template, lang, payload, status,
 * attempts, created_at, sent_at, next_attempt_at, last_error, provider. */
#define OUTBOX_COLS                                                                                \
    "id, channel, user_id, purpose, template, lang, payload, status, attempts, created_at, "       \
    "sent_at, next_attempt_at, last_error, provider"

static json_t *outbox_row(struct db_stmt *s, const struct payload *pl, bool full)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(db_col_int64(s, 0)));
    json_object_set_new(o, "channel", text_or_null(col_text_or_null(s, 1)));
    json_object_set_new(o, "user_id", int_or_null(s, 2));
    json_object_set_new(o, "purpose", text_or_null(col_text_or_null(s, 3)));
    json_object_set_new(o, "template", text_or_null(col_text_or_null(s, 4)));
    json_object_set_new(o, "lang", text_or_null(col_text_or_null(s, 5)));
    json_object_set_new(o, "to", text_or_null(pl ? pl->to : NULL));
    json_object_set_new(o, "subject", text_or_null(pl ? pl->subject : NULL));
    json_object_set_new(o, "body", text_or_null(pl ? pl->body : NULL));
    json_object_set_new(o, "status", text_or_null(col_text_or_null(s, 7)));
    json_object_set_new(o, "attempts", json_integer(db_col_int64(s, 8)));
    json_object_set_new(o, "created_at", json_integer(db_col_int64(s, 9)));
    json_object_set_new(o, "sent_at", int_or_null(s, 10));
    if (full) {
        json_object_set_new(o, "next_attempt_at", json_integer(db_col_int64(s, 11)));
        json_object_set_new(o, "last_error", text_or_null(col_text_or_null(s, 12)));
        json_object_set_new(o, "provider", text_or_null(col_text_or_null(s, 13)));
        json_object_set_new(o, "unsubscribe_url", text_or_null(pl ? pl->unsubscribe : NULL));
    }
    return o;
}

enum st notify_outbox_get(struct db *db, int64_t id, json_t **out)
{
    *out = NULL;
    if (id <= 0)
        return ST_NOTFOUND;
    struct db_conn *c;
    enum st st = db_acquire(db, &c);
    if (st != ST_OK)
        return st;
    struct db_stmt *s;
    st = db_prepare(c, "SELECT " OUTBOX_COLS " FROM outbox WHERE id = ?", &s);
    if (st != ST_OK) {
        db_release(c);
        return st;
    }
    bool row = false;
    st = db_bind_int64(s, 1, id);
    if (st == ST_OK)
        st = db_step(s, &row);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        struct payload pl;
        size_t len = 0;
        const void *p = db_col_is_null(s, 6) ? NULL : db_col_blob(s, 6, &len);
        bool open = p && payload_open(id, p, len, &pl) == ST_OK;
        *out = outbox_row(s, open ? &pl : NULL, true);
        if (open)
            payload_free(&pl);
    }
    db_stmt_done(s);
    db_release(c);
    return st;
}

enum st notify_outbox_find(struct db *db, const char *to, int limit, json_t **out)
{
    *out = NULL;
    if (!to || !*to || limit < 1 || limit > NOTIFY_LIST_MAX)
        return ST_INVALID;
    struct db_conn *c;
    enum st st = db_acquire(db, &c);
    if (st != ST_OK)
        return st;
    struct db_stmt *s;
    st = db_prepare(c,
                    "SELECT " OUTBOX_COLS " FROM outbox WHERE payload IS NOT NULL "
                    "ORDER BY id DESC LIMIT ?",
                    &s);
    if (st != ST_OK) {
        db_release(c);
        return st;
    }
    st = db_bind_int64(s, 1, FIND_SCAN);
    json_t *a = json_array();
    bool row = false;
    while (st == ST_OK && (int)json_array_size(a) < limit && (st = db_step(s, &row)) == ST_OK &&
           row) {
        struct payload pl;
        size_t len = 0;
        const void *p = db_col_blob(s, 6, &len);
        if (payload_open(db_col_int64(s, 0), p, len, &pl) != ST_OK)
            continue;
        if (strcmp(pl.to, to) == 0)
            json_array_append_new(a, outbox_row(s, &pl, false));
        payload_free(&pl);
    }
    db_stmt_done(s);
    db_release(c);
    if (st != ST_OK) {
        json_decref(a);
        return st;
    }
    *out = a;
    return ST_OK;
}

enum st notify_requeue(struct db *db, int64_t id)
{
    struct db_conn *c;
    enum st st = db_acquire(db, &c);
    if (st != ST_OK)
        return st;
    int64_t changed = 0, found = 0;
    st = db_execf(c, &changed,
                  "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, "
                  "last_error = NULL WHERE id = ? AND status IN ('failed', 'cancelled') "
                  "AND payload IS NOT NULL",
                  "ii", clock_now_ms(), id);
    if (st == ST_OK && changed == 0) {
        st = db_runf(c, NULL, &found, "SELECT id FROM outbox WHERE id = ?", "i", id);
        if (st == ST_OK)
            st = found ? ST_CONFLICT : ST_NOTFOUND;
    }
    db_release(c);
    if (st == ST_OK)
        notify_worker_wake();
    return st;
}

enum st notify_purge(struct db *db, int64_t before_ms, int64_t *deleted)
{
    if (deleted)
        *deleted = 0;
    struct db_conn *c;
    enum st st = db_acquire(db, &c);
    if (st != ST_OK)
        return st;
    st = db_execf(c, deleted,
                  "DELETE FROM outbox WHERE status IN ('sent', 'failed', 'cancelled') "
                  "AND created_at < ?",
                  "i", before_ms);
    db_release(c);
    return st;
}

enum st notify_forget_user(struct db_conn *c, int64_t user_id)
{
    if (user_id <= 0)
        return ST_INVALID;
    enum st st = db_execf(c, NULL, "DELETE FROM outbox WHERE user_id = ?", "i", user_id);
    if (st == ST_OK)
        st = db_execf(c, NULL, "UPDATE disclosures SET user_id = NULL WHERE user_id = ?", "i",
                      user_id);
    return st;
}

/* ---------------------------------------------------------------- provider helpers */

bool notify_host_is_loopback(const char *host)
{
    if (!host)
        return false;
    return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
           strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0;
}

enum st notify_url_check(const char *url, const char *schemes, char *host, size_t hostlen,
                         long *port, char *scheme, size_t schemelen, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *sch = NULL, *h = NULL, *p = NULL, *user = NULL, *pass = NULL;
    enum st st = ST_INVALID;
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return ST_INTERNAL;
    }
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &sch, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !h[0]) {
        snprintf(err, errlen, "not a URL with a host");
        goto out;
    }
    /* The scheme must be one of the comma-separated list, exactly. */
    bool known = false;
    for (const char *s = schemes; s && *s;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (strlen(sch) == n && strncmp(sch, s, n) == 0)
            known = true;
        s = e ? e + 1 : NULL;
    }
    if (!known) {
        snprintf(err, errlen, "the scheme must be one of %s", schemes);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
        snprintf(err, errlen, "no user or password in the URL: use the separate settings");
        goto out;
    }
    long pn = 0;
    if (curl_url_get(u, CURLUPART_PORT, &p, 0) == CURLUE_OK) {
        int64_t v;
        if (parse_int64(p, 1, 65535, &v) != ST_OK) {
            snprintf(err, errlen, "bad port");
            goto out;
        }
        pn = (long)v;
    }
    /* The ledger's recipient_system is "smtp:HOST" within NOTIFY_SYSTEM_MAX. */
    if (strlen(h) >= hostlen || strlen(h) > NOTIFY_SYSTEM_MAX - 16 || strlen(sch) >= schemelen) {
        snprintf(err, errlen, "host name too long");
        goto out;
    }
    if (host)
        snprintf(host, hostlen, "%s", h);
    if (scheme)
        snprintf(scheme, schemelen, "%s", sch);
    if (port)
        *port = pn;
    st = ST_OK;
out:
    curl_free(sch);
    curl_free(h);
    curl_free(p);
    curl_free(user);
    curl_free(pass);
    curl_url_cleanup(u);
    return st;
}
