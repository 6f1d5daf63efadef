/*
 * db_pg.c — the PostgreSQL backend over libpq: one PGconn per pooled
 * connection, statements prepared server-side under names unique to the
 * connection, `?` rewritten to `$n` on the way.
 *
 * The decision to know is how an outage looks: every connection attempt is
 * bounded by connect_timeout (at most DB_CONNECT_TIMEOUT_S) and a dead
 * socket by tcp_user_timeout and keepalives, and nothing retries. A result
 * that says the connection is gone (SQLSTATE 08xxx, 57Pxx, or a PGconn no
 * longer CONNECTION_OK) marks the pooled connection broken; the pool opens a
 * fresh one on the next db_acquire. Idle pooled connections are checked
 * before they are lent (a non-blocking look at the socket), so a server
 * restart costs no failed request once the server is back.
 *
 * Parameters travel as text except blobs, which go binary (so NUL bytes
 * survive); results come back as text and bytea columns are decoded for
 * db_col_blob.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db_int.h"

#define PG_BOOLOID  16
#define PG_BYTEAOID 17

/* The conninfo of db_open's URL, as keyword/value arrays for
 * PQconnectdbParams, with our timeouts and encoding filled in. */
struct pg_cfg {
    int n;
    char **keys; /* NULL-terminated */
    char **vals;
};

struct pg_stmt {
    struct db_stmt base; /* first: db.c sees only this */
    char name[24];
    char **vals; /* nparams bound values (NULL = SQL NULL) */
    int *lens;
    int *fmts; /* 0 text, 1 binary (blobs) */
    PGresult *res;
    int row, nrows, ncols;
    unsigned char **dec; /* bytea decoded per column, for the current row */
    size_t *declen;
};

static PGconn *H(struct db_conn *c)
{
    return c->h;
}

static struct pg_stmt *PS(struct db_stmt *s)
{
    return (struct pg_stmt *)s;
}

/* ---------------------------------------------------------------- config */

static void cfg_add(struct pg_cfg *cfg, const char *k, const char *v)
{
    cfg->keys[cfg->n] = xstrdup(k);
    cfg->vals[cfg->n] = xstrdup(v);
    cfg->n++;
    cfg->keys[cfg->n] = cfg->vals[cfg->n] = NULL;
}

static void pg_db_free(struct db *db)
{
    struct pg_cfg *cfg = db->be_data;
    if (!cfg)
        return;
    for (int i = 0; i < cfg->n; i++) {
        free(cfg->keys[i]);
        free(cfg->vals[i]);
    }
    free(cfg->keys);
    free(cfg->vals);
    free(cfg);
    db->be_data = NULL;
}

static enum st pg_db_init(struct db *db, char *err, size_t errlen)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(db->target, &perr);
    if (!opts) {
        /* libpq's message may quote parts of the URL, password included. */
        PQfreemem(perr);
        if (err && errlen)
            snprintf(err, errlen, "invalid PostgreSQL URL (see libpq connection URIs)");
        return ST_INVALID;
    }
    size_t total = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        total++;
    struct pg_cfg *cfg = xcalloc(1, sizeof *cfg);
    cfg->keys = xcalloc(total + 8, sizeof *cfg->keys);
    cfg->vals = xcalloc(total + 8, sizeof *cfg->vals);
    db->be_data = cfg;

    bool has_tcp_user = false, has_keepalives = false, has_appname = false;
    long timeout = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (strcmp(o->keyword, "connect_timeout") == 0) {
            timeout = strtol(o->val, NULL, 10);
            continue;
        }
        if (strcmp(o->keyword, "client_encoding") == 0)
            continue;
        has_tcp_user |= strcmp(o->keyword, "tcp_user_timeout") == 0;
        has_keepalives |= strncmp(o->keyword, "keepalives", 10) == 0;
        has_appname |= strcmp(o->keyword, "application_name") == 0;
        cfg_add(cfg, o->keyword, o->val);
    }
    PQconninfoFree(opts);

    /* A URL may shorten the connect timeout, never lengthen it: a request
     * during an outage must fail fast. */
    char num[24];
    if (timeout <= 0 || timeout > DB_CONNECT_TIMEOUT_S)
        timeout = DB_CONNECT_TIMEOUT_S;
    snprintf(num, sizeof num, "%ld", timeout);
    cfg_add(cfg, "connect_timeout", num);
    cfg_add(cfg, "client_encoding", "UTF8");
    /* A server that vanishes without closing the socket (host down,
     * partition) is noticed within seconds instead of TCP's minutes. */
    if (!has_tcp_user)
        cfg_add(cfg, "tcp_user_timeout", "10000");
    if (!has_keepalives) {
        cfg_add(cfg, "keepalives_idle", "30");
        cfg_add(cfg, "keepalives_interval", "5");
        cfg_add(cfg, "keepalives_count", "3");
    }
    if (!has_appname)
        cfg_add(cfg, "application_name", "entrepot");
    return ST_OK;
}

/* ---------------------------------------------------------------- errors */

static bool sqlstate_is(const char *state, const char *prefix)
{
    return state && strncmp(state, prefix, strlen(prefix)) == 0;
}

/* Maps a failed result (r may be NULL) to a status and records why. */
static enum st pg_fail(struct db_conn *c, const PGresult *r)
{
    PGconn *h = H(c);
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    /* Only the primary message: DETAIL quotes row values ("Key
     * (email)=(...) already exists") and error messages end up in logs. */
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg || !*msg)
        msg = PQerrorMessage(h);
    db_conn_seterr(c, "postgres: %s%s%s", state ? state : "", state ? " " : "", msg);

    if (PQstatus(h) != CONNECTION_OK || sqlstate_is(state, "08") || sqlstate_is(state, "57P")) {
        if (!c->broken)
            log_warnf("db: postgres connection lost: %s", c->errmsg);
        c->broken = true;
        return ST_UNAVAILABLE;
    }
    if (sqlstate_is(state, "23505"))
        return ST_CONFLICT;
    if (sqlstate_is(state, "23"))
        return ST_INVALID;
    if (sqlstate_is(state, "40001") || sqlstate_is(state, "40P01"))
        return ST_CONFLICT;
    if (sqlstate_is(state, "53")) {
        /* out of disk, memory or connection slots: like SQLITE_FULL */
        log_errorf("db: postgres out of resources: %s", c->errmsg);
        return ST_UNAVAILABLE;
    }
    if (sqlstate_is(state, "58")) {
        /* the server's own I/O failed (io_error, undefined_file): like
         * SQLITE_IOERR, a storage failure and not our bug */
        log_errorf("db: postgres storage failure: %s", c->errmsg);
        return ST_UNAVAILABLE;
    }
    return ST_INTERNAL;
}

#ifdef ENTREPOT_FAULT_INJECTION
/* The server fails the statement with the SQLSTATE of a failing (58030) or
 * full (53100) disk: the transaction is aborted on the server, as it would
 * be, and the answer goes through pg_fail like any other. */
static enum st pg_fault(struct db_conn *c, enum fault_kind kind)
{
    PGresult *r = PQexec(H(c), kind == FAULT_FULL ? "DO $$BEGIN RAISE EXCEPTION 'could not extend "
                                                    "file: No space left on device (injected)' "
                                                    "USING ERRCODE = 'disk_full'; END$$"
                                                  : "DO $$BEGIN RAISE EXCEPTION 'could not write "
                                                    "block: Input/output error (injected)' "
                                                    "USING ERRCODE = 'io_error'; END$$");
    enum st st = pg_fail(c, r);
    PQclear(r);
    return st;
}
#endif

/* ---------------------------------------------------------------- connections */

/* Notices ("there is no transaction in progress", ...) would go to stderr
 * raw, outside our JSON log lines, so they are dropped. But a FATAL error
 * that arrives while the connection sits idle in the pool (server shutdown,
 * pg_terminate_backend) is delivered as a notice too: it means the session
 * is over. */
static void on_notice(void *arg, const PGresult *r)
{
    struct db_conn *c = arg;
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
        c->broken = true;
}

static enum st pg_connect(struct db_conn *c)
{
    struct pg_cfg *cfg = c->db->be_data;
    PGconn *h =
        PQconnectdbParams((const char *const *)cfg->keys, (const char *const *)cfg->vals, 0);
    if (!h) {
        db_conn_seterr(c, "postgres: out of memory");
        return ST_UNAVAILABLE;
    }
    if (PQstatus(h) != CONNECTION_OK) {
        db_conn_seterr(c, "postgres: %s", PQerrorMessage(h));
        PQfinish(h);
        return ST_UNAVAILABLE;
    }
    PQsetNoticeReceiver(h, on_notice, c);
    c->h = h;
    return ST_OK;
}

static void pg_disconnect(struct db_conn *c)
{
    PQfinish(H(c));
    c->h = NULL;
}

static bool pg_alive(struct db_conn *c)
{
    PGconn *h = H(c);
    /* An idle connection has nothing to read; if it has, the server either
     * said goodbye (a FATAL message, then end of file) or sent a harmless
     * parameter report. Read until the socket is quiet; libpq notices the
     * end of file on the read after the message. */
    for (int i = 0; i < 4 && PQstatus(h) == CONNECTION_OK && !c->broken; i++) {
        struct pollfd p = {.fd = PQsocket(h), .events = POLLIN};
        if (p.fd < 0 || poll(&p, 1, 0) < 0)
            return false;
        if (p.revents == 0)
            break;
        if (p.revents & (POLLERR | POLLNVAL))
            return false;
        /* PQconsumeInput only reads; PQisBusy parses, which hands an
         * unsolicited error to on_notice. */
        if (!PQconsumeInput(h))
            return false;
        PQisBusy(h);
    }
    return !c->broken && PQstatus(h) == CONNECTION_OK && PQtransactionStatus(h) == PQTRANS_IDLE;
}

static bool pg_in_tx(struct db_conn *c)
{
    PGTransactionStatusType ts = PQtransactionStatus(H(c));
    return ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR || ts == PQTRANS_ACTIVE;
}

static bool pg_tx_aborted(struct db_conn *c)
{
    return PQtransactionStatus(H(c)) == PQTRANS_INERROR;
}

static enum st pg_exec(struct db_conn *c, const char *sql)
{
    PGresult *r = PQexec(H(c), sql);
    ExecStatusType es = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    enum st st = ST_OK;
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK && es != PGRES_EMPTY_QUERY)
        st = pg_fail(c, r);
    PQclear(r);
    return st;
}

/* ---------------------------------------------------------------- statements */

static enum st pg_prepare(struct db_conn *c, const char *sql, struct db_stmt **out)
{
    char *text = NULL;
    int n = db_placeholders(sql, &text);
    if (n > 65535) {
        free(text);
        db_conn_seterr(c, "postgres: more than 65535 parameters");
        return ST_INTERNAL;
    }
    struct pg_stmt *s = xcalloc(1, sizeof *s);
    snprintf(s->name, sizeof s->name, "e%" PRIu64, ++c->seq);
    PGresult *r = PQprepare(H(c), s->name, text, 0, NULL);
    free(text);
    enum st st = ST_OK;
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
        st = pg_fail(c, r);
    PQclear(r);
    if (st != ST_OK) {
        free(s);
        return st;
    }
    s->base.nparams = n;
    if (n > 0) {
        s->vals = xcalloc((size_t)n, sizeof *s->vals);
        s->lens = xcalloc((size_t)n, sizeof *s->lens);
        s->fmts = xcalloc((size_t)n, sizeof *s->fmts);
    }
    *out = &s->base;
    return ST_OK;
}

static void clear_decoded(struct pg_stmt *p)
{
    for (int i = 0; p->dec && i < p->ncols; i++) {
        if (p->dec[i])
            PQfreemem(p->dec[i]);
        p->dec[i] = NULL;
    }
}

static void clear_result(struct pg_stmt *p)
{
    clear_decoded(p);
    free(p->dec);
    free(p->declen);
    p->dec = NULL;
    p->declen = NULL;
    PQclear(p->res);
    p->res = NULL;
    p->row = -1;
    p->nrows = p->ncols = 0;
}

static void pg_reset(struct db_stmt *s)
{
    struct pg_stmt *p = PS(s);
    clear_result(p);
    for (int i = 0; i < s->nparams; i++) {
        free(p->vals[i]);
        p->vals[i] = NULL;
        p->lens[i] = p->fmts[i] = 0;
    }
}

static void pg_finalize(struct db_stmt *s, bool live)
{
    struct pg_stmt *p = PS(s);
    pg_reset(s);
    if (live && !s->c->broken && PQstatus(H(s->c)) == CONNECTION_OK) {
        /* Best effort: a failure (aborted transaction) only leaves an
         * unused statement on the server until the session ends. */
        char sql[48];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", p->name);
        PQclear(PQexec(H(s->c), sql));
    }
    free(p->vals);
    free(p->lens);
    free(p->fmts);
    free(p);
}

static void set_param(struct db_stmt *s, int idx, char *v, int len, int fmt)
{
    struct pg_stmt *p = PS(s);
    free(p->vals[idx - 1]);
    p->vals[idx - 1] = v;
    p->lens[idx - 1] = len;
    p->fmts[idx - 1] = fmt;
}

static enum st pg_bind_int64(struct db_stmt *s, int idx, int64_t v)
{
    set_param(s, idx, xasprintf("%" PRId64, v), 0, 0);
    return ST_OK;
}

static enum st pg_bind_text(struct db_stmt *s, int idx, const char *v, size_t n)
{
    if (n > INT32_MAX)
        return ST_TOOLARGE;
    set_param(s, idx, xstrndup(v, n), (int)n, 0);
    return ST_OK;
}

static enum st pg_bind_blob(struct db_stmt *s, int idx, const void *v, size_t n)
{
    if (n > INT32_MAX)
        return ST_TOOLARGE;
    char *copy = xmalloc(n ? n : 1);
    memcpy(copy, v, n);
    set_param(s, idx, copy, (int)n, 1);
    return ST_OK;
}

static enum st pg_bind_null(struct db_stmt *s, int idx)
{
    set_param(s, idx, NULL, 0, 0);
    return ST_OK;
}

/* Rows changed, from the command tag: only INSERT/UPDATE/DELETE/MERGE
 * count, so a SELECT reports 0 as on SQLite. */
static int64_t tag_changes(PGresult *r)
{
    const char *tag = PQcmdStatus(r);
    if (strncmp(tag, "INSERT ", 7) != 0 && strncmp(tag, "UPDATE ", 7) != 0 &&
        strncmp(tag, "DELETE ", 7) != 0 && strncmp(tag, "MERGE ", 6) != 0)
        return 0;
    return strtoll(PQcmdTuples(r), NULL, 10);
}

static enum st pg_step(struct db_stmt *s, bool *row)
{
    struct pg_stmt *p = PS(s);
    if (!s->started) {
        clear_result(p);
        PGresult *r = PQexecPrepared(H(s->c), p->name, s->nparams, (const char *const *)p->vals,
                                     p->lens, p->fmts, 0);
        ExecStatusType es = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK) {
            enum st st = pg_fail(s->c, r);
            PQclear(r);
            return st;
        }
        p->res = r;
        p->nrows = PQntuples(r);
        p->ncols = PQnfields(r);
        if (p->ncols > 0) {
            p->dec = xcalloc((size_t)p->ncols, sizeof *p->dec);
            p->declen = xcalloc((size_t)p->ncols, sizeof *p->declen);
        }
        s->changes = tag_changes(r);
    }
    clear_decoded(p);
    if (p->row < p->nrows)
        p->row++;
    *row = p->row < p->nrows;
    return ST_OK;
}

static int pg_col_count(struct db_stmt *s)
{
    return PS(s)->ncols;
}

static bool pg_col_is_null(struct db_stmt *s, int col)
{
    struct pg_stmt *p = PS(s);
    return PQgetisnull(p->res, p->row, col);
}

static int64_t pg_col_int64(struct db_stmt *s, int col)
{
    struct pg_stmt *p = PS(s);
    if (PQgetisnull(p->res, p->row, col))
        return 0;
    const char *v = PQgetvalue(p->res, p->row, col);
    if (PQftype(p->res, col) == PG_BOOLOID)
        return v[0] == 't'; /* booleans read as 0/1, as SQLite stores them */
    return strtoll(v, NULL, 10);
}

static const char *pg_col_text(struct db_stmt *s, int col)
{
    struct pg_stmt *p = PS(s);
    if (PQgetisnull(p->res, p->row, col))
        return NULL;
    return PQgetvalue(p->res, p->row, col);
}

static const void *pg_col_blob(struct db_stmt *s, int col, size_t *len)
{
    struct pg_stmt *p = PS(s);
    if (PQgetisnull(p->res, p->row, col))
        return NULL;
    const char *v = PQgetvalue(p->res, p->row, col);
    if (PQftype(p->res, col) != PG_BYTEAOID) {
        *len = (size_t)PQgetlength(p->res, p->row, col);
        return v;
    }
    if (!p->dec[col]) {
        p->dec[col] = PQunescapeBytea((const unsigned char *)v, &p->declen[col]);
        if (!p->dec[col])
            die("out of memory decoding bytea");
    }
    *len = p->declen[col];
    return p->dec[col];
}

const struct db_backend db_backend_postgres = {
    .name = "postgres",
    .kind = DB_POSTGRES,
    .begin_sql = "BEGIN",
    .db_init = pg_db_init,
    .db_free = pg_db_free,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .alive = pg_alive,
    .in_tx = pg_in_tx,
    .tx_aborted = pg_tx_aborted,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .reset = pg_reset,
    .finalize = pg_finalize,
    .bind_int64 = pg_bind_int64,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .col_count = pg_col_count,
    .col_is_null = pg_col_is_null,
    .col_int64 = pg_col_int64,
    .col_text = pg_col_text,
    .col_blob = pg_col_blob,
#ifdef ENTREPOT_FAULT_INJECTION
    .fault = pg_fault,
#endif
};
