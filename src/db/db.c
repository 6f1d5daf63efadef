/*
 * db.c — the engine-independent half of src/db: URL parsing, the connection
 * pool, the per-connection statement cache, argument checks, migrations,
 * and dispatch to a backend (db_sqlite.c, db_pg.c) through its table.
 *
 * The design decision to know: a connection that fails is never repaired in
 * place. A backend marks it broken, every later call on it answers
 * ST_UNAVAILABLE at once, and the next db_acquire that picks the slot drops
 * its statement cache and opens a fresh connection. There are no retry
 * loops: during an outage a request fails within one connect timeout, and
 * the first request after the outage simply works.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_int.h"

/* ---------------------------------------------------------------- helpers */

void db_conn_seterr(struct db_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    /* Engines end their messages with newlines; a log line should not. */
    size_t n = strlen(c->errmsg);
    while (n > 0 && (c->errmsg[n - 1] == '\n' || c->errmsg[n - 1] == ' '))
        c->errmsg[--n] = '\0';
}

static void seterr(char *err, size_t errlen, const char *msg)
{
    if (err && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

/* Counts ST_UNAVAILABLE answers for db_get_stats. */
static enum st note(struct db *db, enum st st)
{
    if (st == ST_UNAVAILABLE)
        atomic_fetch_add(&db->errors, 1);
    return st;
}

/*
 * Every statement run goes through eng_exec or eng_step, and db_prepare
 * calls inject itself, so that a fault-injection build (fault.h) can make
 * the Nth of them fail the way the engine would, through the backend's own
 * mapping.
 */
static enum st inject(struct db_conn *c, const char *op, const char *sql)
{
#ifdef ENTREPOT_FAULT_INJECTION
    char what[96];
    snprintf(what, sizeof what, "%s %s", op, sql);
    enum fault_kind k = fault_hit(FAULT_DB, what);
    if (k != FAULT_NONE)
        return c->db->be->fault(c, k);
#else
    (void)c;
    (void)op;
    (void)sql;
#endif
    return ST_OK;
}

static enum st eng_exec(struct db_conn *c, const char *sql)
{
    enum st st = inject(c, "exec", sql);
    return st != ST_OK ? st : c->db->be->exec(c, sql);
}

/* Only the step that executes a statement counts: later steps read rows. */
static enum st eng_step(struct db_stmt *s, bool *row)
{
    enum st st = s->started ? ST_OK : inject(s->c, "step", s->sql);
    return st != ST_OK ? st : s->c->db->be->step(s, row);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static bool ident_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '$' || (unsigned char)ch >= 0x80;
}

/* Length of a dollar-quote tag ("$tag$" or "$$") starting at p, 0 if none. */
static size_t dollar_tag(const char *p)
{
    size_t i = 1;
    if (p[i] == '$')
        return 2;
    if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') || p[i] == '_' ||
          (unsigned char)p[i] >= 0x80))
        return 0;
    while (ident_char(p[i]) && p[i] != '$')
        i++;
    return p[i] == '$' ? i + 1 : 0;
}

/* Index just past the end of the quoted run or comment that starts at i, or
 * i itself when nothing quoted starts there. */
static size_t skip_quoted(const char *sql, size_t i)
{
    char ch = sql[i];
    if (ch == '\'') {
        /* E'...' strings honour backslash escapes. */
        bool esc = i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                   (i == 1 || !ident_char(sql[i - 2]));
        for (i++; sql[i]; i++) {
            if (esc && sql[i] == '\\' && sql[i + 1]) {
                i++;
            } else if (sql[i] == '\'') {
                if (sql[i + 1] != '\'')
                    return i + 1;
                i++;
            }
        }
        return i;
    }
    if (ch == '"') {
        for (i++; sql[i] && sql[i] != '"'; i++)
            ;
        return sql[i] ? i + 1 : i;
    }
    if (ch == '-' && sql[i + 1] == '-') {
        while (sql[i] && sql[i] != '\n')
            i++;
        return i;
    }
    if (ch == '/' && sql[i + 1] == '*') {
        int depth = 0; /* PostgreSQL nests block comments */
        while (sql[i]) {
            if (sql[i] == '/' && sql[i + 1] == '*') {
                depth++;
                i += 2;
            } else if (sql[i] == '*' && sql[i + 1] == '/') {
                i += 2;
                if (--depth == 0)
                    return i;
            } else {
                i++;
            }
        }
        return i;
    }
    if (ch == '$' && (i == 0 || !ident_char(sql[i - 1]))) {
        size_t tag = dollar_tag(sql + i);
        if (tag == 0)
            return i;
        const char *end;
        for (end = sql + i + tag; *end; end++)
            if (*end == '$' && strncmp(end, sql + i, tag) == 0)
                return (size_t)(end - sql) + tag;
        return (size_t)(end - sql);
    }
    return i;
}

int db_placeholders(const char *sql, char **out)
{
    size_t len = strlen(sql), i = 0, o = 0, size = 0;
    int n = 0;
    char *w = NULL;
    if (out) {
        /* Each `?` grows into at most "$2147483647": 10 more bytes. */
        size_t q = 0;
        for (size_t k = 0; k < len; k++)
            q += sql[k] == '?';
        size = len + q * 10 + 1;
        w = xmalloc(size);
    }
    while (i < len) {
        size_t j = skip_quoted(sql, i);
        if (j > i) {
            if (w)
                memcpy(w + o, sql + i, j - i);
            o += j - i;
            i = j;
            continue;
        }
        if (sql[i] == '?') {
            n++;
            if (w)
                o += (size_t)snprintf(w + o, size - o, "$%d", n);
            i++;
            continue;
        }
        if (w)
            w[o] = sql[i];
        o++;
        i++;
    }
    if (w) {
        w[o] = '\0';
        *out = w;
    }
    return n;
}

/* ---------------------------------------------------------------- open/close */

static enum st parse_url(const char *url, const struct db_backend **be, const char **target,
                         char *err, size_t errlen)
{
    if (!url || !*url) {
        seterr(err, errlen, "database URL is empty");
        return ST_INVALID;
    }
    if (strncmp(url, "sqlite:", 7) == 0) {
        *be = &db_backend_sqlite;
        *target = url + 7;
    } else if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        *be = &db_backend_postgres;
        *target = url;
    } else if (strstr(url, "://")) {
        seterr(err, errlen, "unsupported database URL scheme (use sqlite:PATH or postgres://)");
        return ST_INVALID;
    } else {
        *be = &db_backend_sqlite;
        *target = url;
    }
    if (!**target) {
        seterr(err, errlen, "sqlite database path is empty");
        return ST_INVALID;
    }
    return ST_OK;
}

static void cache_drop(struct db_conn *c, bool live)
{
    struct db_stmt *s = c->stmts;
    while (s) {
        struct db_stmt *next = s->next;
        free(s->sql);
        c->db->be->finalize(s, live);
        s = next;
    }
    c->stmts = NULL;
    c->ncached = 0;
}

/* Closes a slot's connection; the caller holds the slot (in_use or closing). */
static void conn_shut(struct db_conn *c)
{
    if (!c->h)
        return;
    cache_drop(c, false);
    c->db->be->disconnect(c);
    c->h = NULL;
    c->broken = false;
    pthread_mutex_lock(&c->db->mu);
    c->db->open--;
    pthread_mutex_unlock(&c->db->mu);
}

static enum st conn_start(struct db_conn *c)
{
    c->errmsg[0] = '\0';
    enum st st = c->db->be->connect(c);
    if (st != ST_OK)
        return st;
    c->broken = false;
    pthread_mutex_lock(&c->db->mu);
    c->db->open++;
    pthread_mutex_unlock(&c->db->mu);
    return ST_OK;
}

enum st db_open(const char *url, int pool_size, struct db **out, char *err, size_t errlen)
{
    const struct db_backend *be;
    const char *target;
    *out = NULL;
    seterr(err, errlen, "");
    if (pool_size < 1 || pool_size > DB_POOL_MAX) {
        seterr(err, errlen, "database pool size out of range");
        return ST_INVALID;
    }
    enum st st = parse_url(url, &be, &target, err, errlen);
    if (st != ST_OK)
        return st;

    struct db *db = xcalloc(1, sizeof *db);
    db->be = be;
    db->target = xstrdup(target);
    db->pool_size = pool_size;
    pthread_mutex_init(&db->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&db->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&db->errors, 0);
    atomic_init(&db->stmt_hits, 0);
    atomic_init(&db->stmt_misses, 0);

    st = be->db_init(db, err, errlen);
    if (st != ST_OK) {
        db->be = NULL; /* nothing of the backend's to free */
        db_close(db);
        return st;
    }
    db->conns = xcalloc((size_t)db->pool_size, sizeof *db->conns);
    for (int i = 0; i < db->pool_size; i++)
        db->conns[i].db = db;

    /* A local file that cannot be opened is a configuration error worth
     * reporting now; a PostgreSQL server may come up later. */
    if (be->kind == DB_SQLITE) {
        st = conn_start(&db->conns[0]);
        if (st != ST_OK) {
            seterr(err, errlen, db->conns[0].errmsg);
            db_close(db);
            return st;
        }
    }
    *out = db;
    return ST_OK;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    for (int i = 0; db->conns && i < db->pool_size; i++)
        conn_shut(&db->conns[i]);
    if (db->be && db->be->db_free)
        db->be->db_free(db);
    free(db->conns);
    free(db->target);
    pthread_cond_destroy(&db->cv);
    pthread_mutex_destroy(&db->mu);
    free(db);
}

enum db_kind db_kind(const struct db *db)
{
    return db->be->kind;
}

const char *db_kind_name(const struct db *db)
{
    return db->be->name;
}

/* ---------------------------------------------------------------- pool */

static struct db_conn *pool_pick(struct db *db)
{
    struct db_conn *closed = NULL;
    for (int i = 0; i < db->pool_size; i++) {
        struct db_conn *c = &db->conns[i];
        if (c->in_use)
            continue;
        if (c->h)
            return c; /* prefer a connection that is already open */
        if (!closed)
            closed = c;
    }
    return closed;
}

static void pool_put(struct db_conn *c)
{
    struct db *db = c->db;
    pthread_mutex_lock(&db->mu);
    c->in_use = false;
    db->in_use--;
    pthread_cond_signal(&db->cv);
    pthread_mutex_unlock(&db->mu);
}

enum st db_acquire(struct db *db, struct db_conn **out)
{
    struct timespec deadline;
    struct db_conn *c;
    bool waited = false;

    *out = NULL;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += DB_ACQUIRE_TIMEOUT_MS / 1000;
    deadline.tv_nsec += (long)(DB_ACQUIRE_TIMEOUT_MS % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }

    pthread_mutex_lock(&db->mu);
    while (!(c = pool_pick(db))) {
        if (!waited) {
            db->waits++;
            waited = true;
        }
        int rc = pthread_cond_timedwait(&db->cv, &db->mu, &deadline);
        if (rc == ETIMEDOUT && !(c = pool_pick(db)))
            break;
    }
    if (c) {
        c->in_use = true;
        db->in_use++;
    }
    pthread_mutex_unlock(&db->mu);
    if (!c) {
        log_warnf("db: no connection free within %d ms (pool of %d)", DB_ACQUIRE_TIMEOUT_MS,
                  db->pool_size);
        return note(db, ST_UNAVAILABLE);
    }

    if (c->h && (c->broken || !db->be->alive(c)))
        conn_shut(c);
    if (!c->h) {
        enum st st = conn_start(c);
        if (st != ST_OK) {
            log_warnf("db: cannot connect (%s): %s", db->be->name, c->errmsg);
            pool_put(c);
            return note(db, st);
        }
    }
    c->errmsg[0] = '\0';
    c->tx_failed = false;
    *out = c;
    return ST_OK;
}

void db_release(struct db_conn *c)
{
    if (!c)
        return;
    const struct db_backend *be = c->db->be;
    for (struct db_stmt *s = c->stmts; s; s = s->next) {
        if (!s->busy)
            continue;
        log_warnf("db: statement released without db_stmt_done: %.80s", s->sql);
        db_stmt_done(s);
    }
    if (c->h && !c->broken && be->in_tx(c)) {
        if (eng_exec(c, "ROLLBACK") != ST_OK)
            c->broken = true; /* closing the connection rolls back */
    }
    /* Close a broken connection now rather than at its next borrowing: an
     * SQLite handle whose ROLLBACK failed still holds the write lock, and
     * would block every other writer while it sits idle in the pool. */
    if (c->broken)
        conn_shut(c);
    c->tx_failed = false;
    pool_put(c);
}

void db_get_stats(struct db *db, struct db_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&db->mu);
    out->pool_size = db->pool_size;
    out->open = db->open;
    out->in_use = db->in_use;
    out->waits = db->waits;
    pthread_mutex_unlock(&db->mu);
    out->errors = atomic_load(&db->errors);
    out->stmt_hits = atomic_load(&db->stmt_hits);
    out->stmt_misses = atomic_load(&db->stmt_misses);
}

/* ---------------------------------------------------------------- statements */

/*
 * Transactions fail the same way on both engines. PostgreSQL aborts a
 * transaction at its first error and refuses everything but ROLLBACK; SQLite
 * would carry on (or, after some errors, silently drop back to autocommit).
 * Code tested on SQLite only must not pass there and break on PostgreSQL,
 * so db.c applies PostgreSQL's rule to both: after a failed statement inside
 * a transaction, statements answer ST_INTERNAL and db_commit rolls back.
 */

static enum st conn_usable(struct db_conn *c)
{
    if (!c || !c->h)
        return ST_INTERNAL;
    if (c->broken) {
        db_conn_seterr(c, "connection lost; it is reopened on the next db_acquire");
        return note(c->db, ST_UNAVAILABLE);
    }
    return ST_OK;
}

/* Checks before a statement runs; *in_tx says whether one is open. */
static enum st run_check(struct db_conn *c, bool *in_tx)
{
    enum st st = conn_usable(c);
    if (st != ST_OK)
        return st;
    if (c->tx_failed) {
        db_conn_seterr(c, "transaction aborted by an earlier error: roll it back");
        return ST_INTERNAL;
    }
    *in_tx = c->db->be->in_tx(c);
    return ST_OK;
}

static enum st run_done(struct db_conn *c, bool in_tx, enum st st)
{
    if (st != ST_OK && in_tx)
        c->tx_failed = true;
    return note(c->db, st);
}

enum st db_exec(struct db_conn *c, const char *sql)
{
    bool in_tx;
    enum st st = run_check(c, &in_tx);
    if (st != ST_OK)
        return st;
    return run_done(c, in_tx, eng_exec(c, sql));
}

enum st db_begin(struct db_conn *c)
{
    enum st st = conn_usable(c);
    if (st != ST_OK)
        return st;
    if (c->db->be->in_tx(c)) {
        db_conn_seterr(c, "db_begin inside a transaction");
        return ST_INTERNAL;
    }
    c->tx_failed = false;
    return note(c->db, eng_exec(c, c->db->be->begin_sql));
}

enum st db_commit(struct db_conn *c)
{
    enum st st = conn_usable(c);
    if (st != ST_OK)
        return st;
    const struct db_backend *be = c->db->be;
    if (c->tx_failed || (be->tx_aborted && be->tx_aborted(c))) {
        /* PostgreSQL would answer COMMIT with a silent ROLLBACK. */
        if (be->in_tx(c))
            eng_exec(c, "ROLLBACK");
        c->tx_failed = false;
        db_conn_seterr(c, "commit of a transaction aborted by an earlier error: rolled back");
        return ST_INTERNAL;
    }
    if (!be->in_tx(c)) {
        db_conn_seterr(c, "db_commit without a transaction");
        return ST_INTERNAL;
    }
    st = eng_exec(c, "COMMIT");
    /* A failed COMMIT ends the transaction on PostgreSQL but not on SQLite
     * (busy, deferred foreign key): end it here too. */
    if (st != ST_OK && !c->broken && be->in_tx(c)) {
        char keep[DB_ERRMSG_MAX];
        memcpy(keep, c->errmsg, sizeof keep);
        eng_exec(c, "ROLLBACK");
        memcpy(c->errmsg, keep, sizeof keep);
    }
    return note(c->db, st);
}

enum st db_rollback(struct db_conn *c)
{
    enum st st = conn_usable(c);
    if (st != ST_OK)
        return st;
    c->tx_failed = false;
    /* SQLite ends a transaction by itself after some errors (disk full,
     * busy); rolling back what is already gone is not a failure. */
    if (!c->db->be->in_tx(c))
        return ST_OK;
    return note(c->db, eng_exec(c, "ROLLBACK"));
}

static void cache_evict(struct db_conn *c)
{
    struct db_stmt **victim = NULL;
    for (struct db_stmt **pp = &c->stmts; *pp; pp = &(*pp)->next)
        if (!(*pp)->busy && (!victim || (*pp)->last_used < (*victim)->last_used))
            victim = pp;
    if (!victim)
        return; /* all lent out: the cache grows past its cap for a while */
    struct db_stmt *s = *victim;
    *victim = s->next;
    c->ncached--;
    free(s->sql);
    c->db->be->finalize(s, true);
}

enum st db_prepare(struct db_conn *c, const char *sql, struct db_stmt **out)
{
    bool in_tx;
    *out = NULL;
    enum st st = run_check(c, &in_tx);
    if (st != ST_OK)
        return st;
    /* Counted whether or not the statement is cached: a walk over a
     * request's calls must not depend on what the cache happens to hold. */
    st = inject(c, "prepare", sql);
    if (st != ST_OK)
        return run_done(c, in_tx, st);
    uint64_t h = fnv1a(sql);
    c->tick++;
    for (struct db_stmt *s = c->stmts; s; s = s->next) {
        if (s->busy || s->hash != h || strcmp(s->sql, sql) != 0)
            continue;
        s->busy = true;
        s->last_used = c->tick;
        atomic_fetch_add(&c->db->stmt_hits, 1);
        *out = s;
        return ST_OK;
    }
    atomic_fetch_add(&c->db->stmt_misses, 1);
    if (c->ncached >= DB_STMT_CACHE)
        cache_evict(c);
    struct db_stmt *s = NULL;
    st = c->db->be->prepare(c, sql, &s);
    if (st != ST_OK)
        return run_done(c, in_tx, st); /* PostgreSQL aborts on a bad Parse too */
    s->c = c;
    s->sql = xstrdup(sql);
    s->hash = h;
    s->last_used = c->tick;
    s->busy = true;
    s->started = s->done = s->row = false;
    s->changes = 0;
    s->next = c->stmts;
    c->stmts = s;
    c->ncached++;
    *out = s;
    return ST_OK;
}

void db_stmt_done(struct db_stmt *s)
{
    if (!s)
        return;
    s->c->db->be->reset(s);
    s->busy = s->started = s->done = s->row = false;
    s->changes = 0;
}

static enum st bind_check(struct db_stmt *s, int idx)
{
    if (!s || !s->busy)
        return ST_INTERNAL;
    enum st st = conn_usable(s->c);
    if (st != ST_OK)
        return st;
    if (s->started) {
        db_conn_seterr(s->c, "bind after db_step; call db_stmt_done first");
        return ST_INTERNAL;
    }
    if (idx < 1 || idx > s->nparams) {
        db_conn_seterr(s->c, "bind index %d out of range 1..%d", idx, s->nparams);
        return ST_INTERNAL;
    }
    return ST_OK;
}

enum st db_bind_int64(struct db_stmt *s, int idx, int64_t v)
{
    enum st st = bind_check(s, idx);
    return st != ST_OK ? st : s->c->db->be->bind_int64(s, idx, v);
}

enum st db_bind_text(struct db_stmt *s, int idx, const char *v, size_t n)
{
    enum st st = bind_check(s, idx);
    if (st != ST_OK)
        return st;
    if (!v)
        return s->c->db->be->bind_null(s, idx);
    if (n == SIZE_MAX)
        n = strlen(v);
    /* PostgreSQL refuses NUL and malformed UTF-8 in text while SQLite stores
     * anything: refusing both here keeps the engines interchangeable. */
    if (!utf8_valid(v, n)) {
        db_conn_seterr(s->c, "text bound to parameter %d is not valid UTF-8 (or holds NUL)", idx);
        return ST_INVALID;
    }
    return s->c->db->be->bind_text(s, idx, v, n);
}

enum st db_bind_blob(struct db_stmt *s, int idx, const void *v, size_t n)
{
    enum st st = bind_check(s, idx);
    if (st != ST_OK)
        return st;
    if (!v && n > 0)
        return ST_INTERNAL;
    return s->c->db->be->bind_blob(s, idx, v ? v : "", n);
}

enum st db_bind_null(struct db_stmt *s, int idx)
{
    enum st st = bind_check(s, idx);
    return st != ST_OK ? st : s->c->db->be->bind_null(s, idx);
}

enum st db_step(struct db_stmt *s, bool *row)
{
    *row = false;
    if (!s || !s->busy)
        return ST_INTERNAL;
    s->row = false;
    if (s->done)
        return conn_usable(s->c);
    bool in_tx;
    enum st st = run_check(s->c, &in_tx);
    if (st != ST_OK)
        return st;
    st = eng_step(s, row);
    s->started = true;
    if (st != ST_OK) {
        s->done = true;
        *row = false;
        return run_done(s->c, in_tx, st);
    }
    s->row = *row;
    if (!*row)
        s->done = true;
    return ST_OK;
}

int64_t db_changes(struct db_stmt *s)
{
    return s ? s->changes : 0;
}

static bool col_ok(struct db_stmt *s, int col)
{
    return s && s->row && col >= 0 && col < s->c->db->be->col_count(s);
}

int db_col_count(struct db_stmt *s)
{
    return s ? s->c->db->be->col_count(s) : 0;
}

bool db_col_is_null(struct db_stmt *s, int col)
{
    return col_ok(s, col) ? s->c->db->be->col_is_null(s, col) : true;
}

int64_t db_col_int64(struct db_stmt *s, int col)
{
    return col_ok(s, col) ? s->c->db->be->col_int64(s, col) : 0;
}

const char *db_col_text(struct db_stmt *s, int col)
{
    return col_ok(s, col) ? s->c->db->be->col_text(s, col) : NULL;
}

const void *db_col_blob(struct db_stmt *s, int col, size_t *len)
{
    *len = 0;
    return col_ok(s, col) ? s->c->db->be->col_blob(s, col, len) : NULL;
}

const char *db_errmsg(struct db_conn *c)
{
    return c ? c->errmsg : "";
}

/* ---------------------------------------------------------------- migrations */

static const struct db_migration *migrations_for(const struct db *db, size_t *n)
{
    if (db->be->kind == DB_POSTGRES) {
        *n = db_migrations_postgres_count;
        return db_migrations_postgres;
    }
    *n = db_migrations_sqlite_count;
    return db_migrations_sqlite;
}

/* Opens a migration transaction. On PostgreSQL the advisory lock makes a
 * second node starting at the same moment wait here, then find the work
 * done; BEGIN IMMEDIATE gives SQLite the same. The lock ends with the
 * transaction. */
static enum st migrate_begin(struct db_conn *c)
{
    enum st st = db_begin(c);
    if (st == ST_OK && c->db->be->kind == DB_POSTGRES) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%lld)", (long long)DB_MIGRATE_LOCK);
        st = db_exec(c, sql);
    }
    return st;
}

static enum st query_int64(struct db_conn *c, const char *sql, int64_t arg, bool bind, int64_t *out,
                           bool *found)
{
    struct db_stmt *s;
    bool row = false;
    enum st st = db_prepare(c, sql, &s);
    if (st != ST_OK)
        return st;
    if (bind)
        st = db_bind_int64(s, 1, arg);
    if (st == ST_OK)
        st = db_step(s, &row);
    *out = row ? db_col_int64(s, 0) : 0;
    if (found)
        *found = row;
    db_stmt_done(s);
    return st;
}

static enum st migrate_one(struct db_conn *c, const struct db_migration *m, bool *ran)
{
    int64_t dummy;
    bool exists = false;
    *ran = false;
    enum st st = migrate_begin(c);
    if (st == ST_OK)
        st = query_int64(c, "SELECT version FROM schema_migrations WHERE version = ?", m->version,
                         true, &dummy, &exists);
    if (st == ST_OK && !exists) {
        st = db_exec(c, m->sql);
        if (st != ST_OK)
            log_errorf("db: migration %d_%s failed: %s", m->version, m->name, db_errmsg(c));
        struct db_stmt *s = NULL;
        bool row;
        if (st == ST_OK)
            st = db_prepare(c,
                            "INSERT INTO schema_migrations (version, name, applied_at) "
                            "VALUES (?, ?, ?)",
                            &s);
        if (st == ST_OK)
            st = db_bind_int64(s, 1, m->version);
        if (st == ST_OK)
            st = db_bind_text(s, 2, m->name, SIZE_MAX);
        if (st == ST_OK)
            st = db_bind_int64(s, 3, clock_now_ms());
        if (st == ST_OK)
            st = db_step(s, &row);
        db_stmt_done(s);
        *ran = st == ST_OK;
    }
    if (st == ST_OK)
        st = db_commit(c);
    else
        db_rollback(c);
    if (st != ST_OK)
        *ran = false;
    return st;
}

static enum st migrate_conn(struct db_conn *c, const struct db_migration *list, size_t n,
                            int *applied)
{
    enum st st = migrate_begin(c);
    if (st == ST_OK)
        st = db_exec(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        "version BIGINT PRIMARY KEY, name TEXT NOT NULL, "
                        "applied_at BIGINT NOT NULL)");
    if (st == ST_OK)
        st = db_commit(c);
    else
        db_rollback(c);
    for (size_t i = 0; st == ST_OK && i < n; i++) {
        bool ran;
        st = migrate_one(c, &list[i], &ran);
        if (ran) {
            log_infof("db: applied migration %d_%s", list[i].version, list[i].name);
            if (applied)
                (*applied)++;
        }
    }
    if (st == ST_OK && n > 0) {
        int64_t top;
        st = query_int64(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", 0, false,
                         &top, NULL);
        /* A newer node may have migrated ahead of this binary (rolling
         * upgrade): carry on, migrations only ever add. */
        if (st == ST_OK && top > list[n - 1].version)
            log_warnf("db: schema version %lld is newer than this binary's %d", (long long)top,
                      list[n - 1].version);
    }
    return st;
}

enum st db_migrate(struct db *db, int *applied)
{
    size_t n;
    const struct db_migration *list = migrations_for(db, &n);
    struct db_conn *c;
    if (applied)
        *applied = 0;
    for (size_t i = 0; i < n; i++) {
        if (list[i].version <= 0 || (i > 0 && list[i].version <= list[i - 1].version)) {
            log_errorf("db: embedded migrations out of order at %d_%s", list[i].version,
                       list[i].name);
            return ST_INTERNAL;
        }
    }
    enum st st = db_acquire(db, &c);
    if (st != ST_OK)
        return st;
    st = migrate_conn(c, list, n, applied);
    if (st != ST_OK)
        log_errorf("db: migration stopped: %s", db_errmsg(c));
    db_release(c);
    return st;
}

enum st db_schema_version(struct db *db, int64_t *version)
{
    struct db_conn *c;
    int64_t exists = 0;
    *version = 0;
    enum st st = db_acquire(db, &c);
    if (st != ST_OK)
        return st;
    if (db->be->kind == DB_POSTGRES)
        st = query_int64(c,
                         "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL "
                         "THEN 0 ELSE 1 END",
                         0, false, &exists, NULL);
    else
        st = query_int64(c,
                         "SELECT COUNT(*) FROM sqlite_master "
                         "WHERE type = 'table' AND name = 'schema_migrations'",
                         0, false, &exists, NULL);
    if (st == ST_OK && exists)
        st = query_int64(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", 0, false,
                         version, NULL);
    db_release(c);
    return st;
}

enum st db_ping(struct db *db)
{
    struct db_conn *c;
    if (db_acquire(db, &c) != ST_OK)
        return ST_UNAVAILABLE;
    enum st st = db_exec(c, "SELECT 1");
    db_release(c);
    return st == ST_OK ? ST_OK : ST_UNAVAILABLE;
}
