/*
 * audit.c — the hash-chained audit log (audit.h describes the chain).
 *
 * The decision a reader must know: appends are serialised by locking the
 * one-row audit_head table with an UPDATE before reading the last entry.
 * That works the same on both engines (SQLite's BEGIN IMMEDIATE already
 * holds the write lock; PostgreSQL keeps the row lock until commit), needs
 * no engine-specific SQL, and gives verify an anchor for the chain's end.
 * Ids are assigned here (last id + 1), never by the database, so they stay
 * dense even when a transaction rolls back.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

#define VERIFY_PAGE 1000

/* ---------------------------------------------------------------- hashing */

static void put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

static void h_null(crypto_hash_sha256_state *h)
{
    unsigned char t = 0;
    crypto_hash_sha256_update(h, &t, 1);
}

static void h_int(crypto_hash_sha256_state *h, int64_t v, bool null_if_zero)
{
    if (null_if_zero && v == 0) {
        h_null(h);
        return;
    }
    unsigned char b[9];
    b[0] = 1;
    put_be(b + 1, (uint64_t)v, 8);
    crypto_hash_sha256_update(h, b, sizeof b);
}

static void h_text(crypto_hash_sha256_state *h, const char *s)
{
    if (!s) {
        h_null(h);
        return;
    }
    size_t n = strlen(s);
    unsigned char b[5];
    b[0] = 2;
    put_be(b + 1, (uint64_t)n, 4);
    crypto_hash_sha256_update(h, b, sizeof b);
    crypto_hash_sha256_update(h, (const unsigned char *)s, n);
}

void audit_entry_hash(const unsigned char prev[AUDIT_HASH_BYTES], int64_t id, int64_t at,
                      const struct audit_entry *e, unsigned char out[AUDIT_HASH_BYTES])
{
    crypto_hash_sha256_state h;
    unsigned char leaf = 0x00;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, &leaf, 1);
    crypto_hash_sha256_update(&h, prev, AUDIT_HASH_BYTES);
    h_int(&h, id, false);
    h_int(&h, at, false);
    h_int(&h, e->actor_id, true);
    h_text(&h, e->actor_role);
    h_text(&h, e->action);
    h_int(&h, e->subject_user_id, true);
    h_text(&h, e->fields);
    h_text(&h, e->reason);
    h_text(&h, e->detail);
    h_text(&h, e->ip);
    crypto_hash_sha256_final(&h, out);
}

/* RFC 6962 Merkle tree hash, built leaf by leaf: the stack holds perfect
 * subtrees of strictly decreasing height, and folding it right to left
 * gives MTH (the split at the largest power of two below n). */
struct merkle {
    int top;
    unsigned char hash[64][AUDIT_HASH_BYTES];
    int height[64];
};

static void node_hash(const unsigned char *l, const unsigned char *r,
                      unsigned char out[AUDIT_HASH_BYTES])
{
    crypto_hash_sha256_state h;
    unsigned char node = 0x01;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, &node, 1);
    crypto_hash_sha256_update(&h, l, AUDIT_HASH_BYTES);
    crypto_hash_sha256_update(&h, r, AUDIT_HASH_BYTES);
    crypto_hash_sha256_final(&h, out);
}

static void merkle_push(struct merkle *m, const unsigned char leaf[AUDIT_HASH_BYTES])
{
    memcpy(m->hash[m->top], leaf, AUDIT_HASH_BYTES);
    m->height[m->top] = 0;
    m->top++;
    while (m->top >= 2 && m->height[m->top - 1] == m->height[m->top - 2]) {
        node_hash(m->hash[m->top - 2], m->hash[m->top - 1], m->hash[m->top - 2]);
        m->height[m->top - 2]++;
        m->top--;
    }
}

static void merkle_root(const struct merkle *m, unsigned char out[AUDIT_HASH_BYTES])
{
    if (m->top == 0) {
        crypto_hash_sha256(out, NULL, 0);
        return;
    }
    unsigned char r[AUDIT_HASH_BYTES];
    memcpy(r, m->hash[m->top - 1], AUDIT_HASH_BYTES);
    for (int i = m->top - 2; i >= 0; i--)
        node_hash(m->hash[i], r, r);
    memcpy(out, r, AUDIT_HASH_BYTES);
}

/* ---------------------------------------------------------------- append */

static bool name_ok(const char *s, const char *extra, size_t max, bool required)
{
    if (!s)
        return !required;
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return n == 0 && !required;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              strchr(extra, c)))
            return false;
    }
    return true;
}

static const char *empty_null(const char *s)
{
    return s && *s ? s : NULL;
}

/* Checks e and normalises it into *out: "" becomes NULL and detail the
 * compact, key-sorted form (*detail, caller frees). */
static enum st check_entry(const struct audit_entry *e, struct audit_entry *out, char **detail)
{
    *detail = NULL;
    *out = *e;
    out->fields = empty_null(e->fields);
    out->reason = empty_null(e->reason);
    out->detail = NULL;
    out->ip = empty_null(e->ip);
    if (e->actor_id < 0 || e->subject_user_id < 0)
        return ST_INVALID;
    if (!name_ok(e->actor_role, ":-", AUDIT_NAME_MAX, true) ||
        !name_ok(e->action, ":-", AUDIT_NAME_MAX, true) ||
        !name_ok(out->fields, ",", AUDIT_FIELDS_MAX, false))
        return ST_INVALID;
    if (out->reason) {
        size_t n = strnlen(out->reason, AUDIT_REASON_MAX + 1);
        if (n > AUDIT_REASON_MAX || !utf8_valid(out->reason, n))
            return ST_INVALID;
    }
    if (out->ip) {
        size_t n = strnlen(out->ip, AUDIT_IP_MAX + 1);
        if (n > AUDIT_IP_MAX)
            return ST_INVALID;
        for (size_t i = 0; i < n; i++)
            if (out->ip[i] <= ' ' || out->ip[i] > '~')
                return ST_INVALID;
    }
    if (empty_null(e->detail)) {
        size_t n = strnlen(e->detail, AUDIT_DETAIL_MAX + 1);
        if (n > AUDIT_DETAIL_MAX)
            return ST_INVALID;
        json_error_t jerr;
        json_t *j = json_loadb(e->detail, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!j || !json_is_object(j)) {
            json_decref(j);
            return ST_INVALID;
        }
        *detail = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(j);
        if (!*detail)
            return ST_INTERNAL;
        if (strlen(*detail) > AUDIT_DETAIL_MAX) {
            free(*detail);
            *detail = NULL;
            return ST_INVALID;
        }
        out->detail = *detail;
    }
    return ST_OK;
}

static enum st bind_opt_int(struct db_stmt *s, int idx, int64_t v)
{
    return v ? db_bind_int64(s, idx, v) : db_bind_null(s, idx);
}

static enum st bind_opt_text(struct db_stmt *s, int idx, const char *v)
{
    return v ? db_bind_text(s, idx, v, SIZE_MAX) : db_bind_null(s, idx);
}

/* Runs a statement that returns no rows; *changes (may be NULL). */
static enum st step_done(struct db_stmt *s, int64_t *changes)
{
    bool row = true;
    enum st st = ST_OK;
    while (st == ST_OK && row)
        st = db_step(s, &row);
    if (changes)
        *changes = db_changes(s);
    return st;
}

enum st audit_append(struct db_conn *c, const struct audit_entry *e0, int64_t *id_out)
{
    struct audit_entry e;
    char *detail = NULL;
    struct db_stmt *s = NULL;
    bool row = false;
    int64_t changes = 0, last_id = 0;
    unsigned char prev[AUDIT_HASH_BYTES] = {0}, hash[AUDIT_HASH_BYTES];
    if (id_out)
        *id_out = 0;
    enum st st = check_entry(e0, &e, &detail);
    if (st != ST_OK)
        goto out;

    /* 1. Lock the head: concurrent appenders wait here until we commit. */
    st = db_prepare(c, "UPDATE audit_head SET last_id = last_id WHERE id = 1", &s);
    if (st == ST_OK)
        st = step_done(s, &changes);
    db_stmt_done(s);
    s = NULL;
    if (st == ST_OK && changes != 1) {
        log_kv(LOG_ERROR, "audit: the audit_head row is missing", (const char *)NULL);
        st = ST_INTERNAL;
    }
    if (st != ST_OK)
        goto out;

    /* 2. The chain's end. */
    st = db_prepare(c, "SELECT id, entry_hash FROM audit_log ORDER BY id DESC LIMIT 1", &s);
    if (st == ST_OK)
        st = db_step(s, &row);
    if (st == ST_OK && row) {
        size_t n = 0;
        const void *h = db_col_blob(s, 1, &n);
        last_id = db_col_int64(s, 0);
        if (n != AUDIT_HASH_BYTES) {
            log_kv(LOG_ERROR, "audit: the last entry's hash is malformed", (const char *)NULL);
            st = ST_INTERNAL;
        } else {
            memcpy(prev, h, AUDIT_HASH_BYTES);
        }
    }
    db_stmt_done(s);
    s = NULL;
    if (st != ST_OK)
        goto out;

    /* 3. The entry. */
    int64_t id = last_id + 1, at = clock_now_ms();
    audit_entry_hash(prev, id, at, &e, hash);
    st = db_prepare(c,
                    "INSERT INTO audit_log (id, at, actor_id, actor_role, action, "
                    "subject_user_id, fields, reason, detail, ip, prev_hash, entry_hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    &s);
    if (st == ST_OK)
        st = db_bind_int64(s, 1, id);
    if (st == ST_OK)
        st = db_bind_int64(s, 2, at);
    if (st == ST_OK)
        st = bind_opt_int(s, 3, e.actor_id);
    if (st == ST_OK)
        st = db_bind_text(s, 4, e.actor_role, SIZE_MAX);
    if (st == ST_OK)
        st = db_bind_text(s, 5, e.action, SIZE_MAX);
    if (st == ST_OK)
        st = bind_opt_int(s, 6, e.subject_user_id);
    if (st == ST_OK)
        st = bind_opt_text(s, 7, e.fields);
    if (st == ST_OK)
        st = bind_opt_text(s, 8, e.reason);
    if (st == ST_OK)
        st = bind_opt_text(s, 9, e.detail);
    if (st == ST_OK)
        st = bind_opt_text(s, 10, e.ip);
    if (st == ST_OK)
        st = db_bind_blob(s, 11, prev, sizeof prev);
    if (st == ST_OK)
        st = db_bind_blob(s, 12, hash, sizeof hash);
    if (st == ST_OK)
        st = step_done(s, NULL);
    db_stmt_done(s);
    s = NULL;
    if (st != ST_OK)
        goto out;

    /* 4. Move the head. */
    st = db_prepare(c, "UPDATE audit_head SET last_id = ?, last_hash = ? WHERE id = 1", &s);
    if (st == ST_OK)
        st = db_bind_int64(s, 1, id);
    if (st == ST_OK)
        st = db_bind_blob(s, 2, hash, sizeof hash);
    if (st == ST_OK)
        st = step_done(s, NULL);
    db_stmt_done(s);
    if (st == ST_OK && id_out)
        *id_out = id;
out:
    if (st != ST_OK && st != ST_INVALID)
        log_kv(LOG_ERROR, "audit: append failed", "status", st_name(st), "db", db_errmsg(c),
               (const char *)NULL);
    free(detail);
    return st;
}

enum st audit_append_tx(struct db *db, const struct audit_entry *e, int64_t *id)
{
    struct db_conn *c;
    enum st st = db_acquire(db, &c);
    if (st != ST_OK)
        return st;
    st = db_begin(c);
    if (st == ST_OK) {
        st = audit_append(c, e, id);
        if (st == ST_OK)
            st = db_commit(c);
        else
            db_rollback(c);
    }
    if (st != ST_OK && id)
        *id = 0;
    db_release(c);
    return st;
}

/* ---------------------------------------------------------------- verify */

static enum st bad(struct audit_report *r, int64_t id, const char *fmt, ...) PRINTF_LIKE(3, 4);

static enum st bad(struct audit_report *r, int64_t id, const char *fmt, ...)
{
    va_list ap;
    r->first_bad_id = id;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    return ST_INVALID;
}

static const char *col_text_or_null(struct db_stmt *s, int col)
{
    return db_col_is_null(s, col) ? NULL : db_col_text(s, col);
}

/* Reads audit_head: its last id and hash. */
static enum st read_head(struct db_conn *c, int64_t *last_id, unsigned char hash[AUDIT_HASH_BYTES],
                         bool *present)
{
    struct db_stmt *s;
    bool row = false;
    *present = false;
    enum st st = db_prepare(c, "SELECT last_id, last_hash FROM audit_head WHERE id = 1", &s);
    if (st == ST_OK)
        st = db_step(s, &row);
    if (st == ST_OK && row) {
        size_t n = 0;
        const void *h = db_col_blob(s, 1, &n);
        *last_id = db_col_int64(s, 0);
        memset(hash, 0, AUDIT_HASH_BYTES);
        if (n == AUDIT_HASH_BYTES) {
            memcpy(hash, h, AUDIT_HASH_BYTES);
            *present = true;
        }
    }
    db_stmt_done(s);
    return st;
}

static enum st check_conn(struct db_conn *c, int64_t published_count,
                          const unsigned char *published_root, struct audit_report *r)
{
    struct merkle *m = xcalloc(1, sizeof *m);
    unsigned char prev[AUDIT_HASH_BYTES] = {0}, head_hash[AUDIT_HASH_BYTES];
    int64_t head_id = 0, expect = 1;
    bool head_ok = false;
    enum st st = read_head(c, &head_id, head_hash, &head_ok);
    if (st != ST_OK)
        goto out;
    if (!head_ok) {
        st = bad(r, 1, "the audit_head row is missing or malformed");
        goto out;
    }
    /* Only entries up to the head read above: later ones are appends that
     * committed while we walk, and the next run checks them. */
    for (bool more = true; more && st == ST_OK;) {
        struct db_stmt *s;
        bool row = false;
        int rows = 0;
        st = db_prepare(c,
                        "SELECT id, at, actor_id, actor_role, action, subject_user_id, fields, "
                        "reason, detail, ip, prev_hash, entry_hash FROM audit_log "
                        "WHERE id >= ? AND id <= ? ORDER BY id LIMIT ?",
                        &s);
        if (st == ST_OK)
            st = db_bind_int64(s, 1, expect);
        if (st == ST_OK)
            st = db_bind_int64(s, 2, head_id);
        if (st == ST_OK)
            st = db_bind_int64(s, 3, VERIFY_PAGE);
        while (st == ST_OK && (st = db_step(s, &row)) == ST_OK && row) {
            rows++;
            int64_t id = db_col_int64(s, 0);
            struct audit_entry e = {
                .actor_id = db_col_int64(s, 2),
                .actor_role = col_text_or_null(s, 3),
                .action = col_text_or_null(s, 4),
                .subject_user_id = db_col_int64(s, 5),
                .fields = col_text_or_null(s, 6),
                .reason = col_text_or_null(s, 7),
                .detail = col_text_or_null(s, 8),
                .ip = col_text_or_null(s, 9),
            };
            size_t plen = 0, hlen = 0;
            const unsigned char *p = db_col_blob(s, 10, &plen);
            const unsigned char *h = db_col_blob(s, 11, &hlen);
            unsigned char want[AUDIT_HASH_BYTES];
            if (id != expect) {
                st = bad(r, expect, "entry %lld is missing (the log goes on at entry %lld)",
                         (long long)expect, (long long)id);
                break;
            }
            if (plen != AUDIT_HASH_BYTES || memcmp(p, prev, AUDIT_HASH_BYTES) != 0) {
                st = bad(r, id,
                         "its prev_hash does not match the hash of entry %lld (entries "
                         "removed, reordered or altered)",
                         (long long)(id - 1));
                break;
            }
            audit_entry_hash(prev, id, db_col_int64(s, 1), &e, want);
            if (hlen != AUDIT_HASH_BYTES || memcmp(h, want, AUDIT_HASH_BYTES) != 0) {
                st = bad(r, id, "its content does not match its hash (the entry was altered)");
                break;
            }
            memcpy(prev, want, AUDIT_HASH_BYTES);
            merkle_push(m, want);
            r->checked++;
            expect++;
            if (published_count > 0 && r->checked == published_count) {
                unsigned char root[AUDIT_HASH_BYTES];
                merkle_root(m, root);
                if (memcmp(root, published_root, AUDIT_HASH_BYTES) != 0) {
                    st = bad(r, id,
                             "the first %lld entries do not match the published root (history "
                             "was rewritten)",
                             (long long)published_count);
                    break;
                }
            }
        }
        db_stmt_done(s);
        more = rows == VERIFY_PAGE;
    }
    if (st != ST_OK)
        goto out;
    if (r->checked < head_id) {
        st = bad(r, r->checked + 1,
                 "entries %lld to %lld are missing (audit_head says the log ends at %lld)",
                 (long long)(r->checked + 1), (long long)head_id, (long long)head_id);
        goto out;
    }
    if (memcmp(prev, head_hash, AUDIT_HASH_BYTES) != 0) {
        st = bad(r, head_id > 0 ? head_id : 1,
                 "the last entry's hash does not match audit_head (the end of the log was "
                 "replaced)");
        goto out;
    }
    /* Entries beyond the head were not written by audit_append. One
     * statement, one snapshot: a concurrent append cannot fool it. */
    {
        struct db_stmt *s;
        bool row = false;
        st = db_prepare(c,
                        "SELECT COUNT(*), MIN(audit_log.id) FROM audit_log, audit_head "
                        "WHERE audit_head.id = 1 AND (audit_log.id > audit_head.last_id "
                        "OR audit_log.id < 1)",
                        &s);
        if (st == ST_OK)
            st = db_step(s, &row);
        int64_t extra = 0, first = 0;
        if (st == ST_OK && row) {
            extra = db_col_int64(s, 0);
            first = db_col_int64(s, 1);
        }
        db_stmt_done(s);
        if (st == ST_OK && extra > 0)
            st = bad(r, first,
                     "%lld entries (the first with id %lld) are outside the chain that "
                     "audit_head records",
                     (long long)extra, (long long)first);
    }
    if (st == ST_OK && published_count > r->checked)
        st = bad(r, r->checked + 1, "the log has %lld entries but %lld were published",
                 (long long)r->checked, (long long)published_count);
    if (st == ST_OK)
        merkle_root(m, r->root);
out:
    free(m);
    return st;
}

enum st audit_check(struct db *db, int64_t published_count, const unsigned char *published_root,
                    struct audit_report *report)
{
    memset(report, 0, sizeof *report);
    if (published_count < 0 || (published_count > 0 && !published_root))
        return ST_INVALID;
    struct db_conn *c;
    enum st st = db_acquire(db, &c);
    if (st != ST_OK)
        return st;
    st = check_conn(c, published_count, published_root, report);
    if (st != ST_OK && st != ST_INVALID)
        log_kv(LOG_ERROR, "audit: verify failed", "status", st_name(st), "db", db_errmsg(c),
               (const char *)NULL);
    db_release(c);
    return st;
}

enum st audit_verify(struct db *db, int64_t *checked, int64_t *first_bad_id, char *why,
                     size_t whylen)
{
    struct audit_report r;
    enum st st = audit_check(db, 0, NULL, &r);
    if (checked)
        *checked = r.checked;
    if (first_bad_id)
        *first_bad_id = r.first_bad_id;
    if (why && whylen)
        snprintf(why, whylen, "%s", r.why);
    return st;
}

enum st audit_root(struct db *db, int64_t *count, unsigned char root[AUDIT_HASH_BYTES])
{
    struct audit_report r;
    enum st st = audit_check(db, 0, NULL, &r);
    if (count)
        *count = st == ST_OK ? r.checked : 0;
    if (st == ST_OK)
        memcpy(root, r.root, AUDIT_HASH_BYTES);
    else
        memset(root, 0, AUDIT_HASH_BYTES);
    return st;
}

/* ---------------------------------------------------------------- list */

static json_t *fields_array(const char *fields)
{
    json_t *a = json_array();
    if (!fields)
        return a;
    const char *p = fields;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n > 0)
            json_array_append_new(a, json_stringn(p, n));
        p += n;
        if (*p == ',')
            p++;
    }
    return a;
}

static json_t *text_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

enum st audit_list(struct db *db, int64_t subject_user_id, int64_t before_id, int limit,
                   bool include_actor, json_t **out, int64_t *next_before)
{
    *out = NULL;
    if (next_before)
        *next_before = 0;
    if (subject_user_id <= 0 || before_id < 0 || limit < 1 || limit > AUDIT_LIST_MAX)
        return ST_INVALID;
    struct db_conn *c;
    enum st st = db_acquire(db, &c);
    if (st != ST_OK)
        return st;
    struct db_stmt *s;
    st = db_prepare(c,
                    "SELECT id, at, actor_id, actor_role, action, fields, reason, detail, ip "
                    "FROM audit_log WHERE subject_user_id = ? AND id < ? "
                    "ORDER BY id DESC LIMIT ?",
                    &s);
    if (st == ST_OK)
        st = db_bind_int64(s, 1, subject_user_id);
    if (st == ST_OK)
        st = db_bind_int64(s, 2, before_id > 0 ? before_id : INT64_MAX);
    if (st == ST_OK)
        st = db_bind_int64(s, 3, limit + 1);
    json_t *a = json_array();
    bool row = false;
    int n = 0;
    int64_t last = 0;
    while (st == ST_OK && (st = db_step(s, &row)) == ST_OK && row) {
        if (n == limit) {
            if (next_before)
                *next_before = last;
            break;
        }
        int64_t id = db_col_int64(s, 0), actor = db_col_int64(s, 2);
        json_t *detail = NULL;
        const char *d = col_text_or_null(s, 7);
        if (d)
            detail = json_loads(d, 0, NULL);
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(id));
        json_object_set_new(o, "at", json_integer(db_col_int64(s, 1)));
        json_object_set_new(o, "action", text_or_null(col_text_or_null(s, 4)));
        json_object_set_new(o, "actor_role", text_or_null(col_text_or_null(s, 3)));
        json_object_set_new(o, "by_self", json_boolean(actor == subject_user_id));
        if (include_actor)
            json_object_set_new(o, "actor_id", actor ? json_integer(actor) : json_null());
        json_object_set_new(o, "fields", fields_array(col_text_or_null(s, 5)));
        json_object_set_new(o, "reason", text_or_null(col_text_or_null(s, 6)));
        json_object_set_new(o, "detail", detail ? detail : json_null());
        json_object_set_new(o, "ip", text_or_null(col_text_or_null(s, 8)));
        json_array_append_new(a, o);
        last = id;
        n++;
    }
    db_stmt_done(s);
    db_release(c);
    if (st != ST_OK) {
        json_decref(a);
        if (next_before)
            *next_before = 0;
        return st;
    }
    *out = a;
    return ST_OK;
}
