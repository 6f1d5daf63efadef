/*
 * db_int.h — what db.c and the two backends (db_sqlite.c, db_pg.c) share:
 * the backend function table and the layouts of the pool, connections and
 * statements. Nothing outside src/db includes this file (the unit test does,
 * to check the placeholder rewriter without a server).
 *
 * db.c owns everything both engines have in common — the pool, the statement
 * cache, bookkeeping of statement state, binding checks, migrations — and a
 * backend only talks to its engine. A backend allocates its own statement
 * struct with `struct db_stmt` as the first member.
 */
#ifndef ENTREPOT_DB_INT_H
#define ENTREPOT_DB_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "../core/fault.h"
#include "db.h"

#define DB_ERRMSG_MAX   512                  /* bytes kept of a connection's last error */
#define DB_STMT_CACHE   128                  /* statements cached per connection (LRU beyond) */
#define DB_POOL_MAX     256                  /* largest pool_size db_open accepts */
#define DB_MIGRATE_LOCK 0x656e747265706f74LL /* "entrepot": pg advisory lock key */

struct db_stmt {
    struct db_conn *c;
    char *sql;          /* the cache key: SQL text as the caller wrote it */
    uint64_t hash;      /* FNV-1a of sql, compared before strcmp */
    uint64_t last_used; /* connection tick of the last db_prepare, for LRU */
    bool busy;          /* lent out by db_prepare, not yet db_stmt_done */
    bool started;       /* executed at least once since the last reset */
    bool done;          /* db_step reported the end (or failed) */
    bool row;           /* a row is ready to read */
    int nparams;        /* `?` placeholders counted in sql */
    int64_t changes;    /* rows changed, valid once executed */
    struct db_stmt *next;
};

struct db_conn {
    struct db *db;
    void *h;        /* sqlite3 * or PGconn *; NULL while closed */
    bool in_use;    /* lent out by db_acquire */
    bool broken;    /* lost; reopened (cache dropped) on next acquire */
    bool tx_failed; /* a statement failed inside the open transaction */
    uint64_t tick;  /* counts db_prepare calls, orders the LRU */
    uint64_t seq;   /* source of unique prepared-statement names (pg) */
    int ncached;    /* statements in the list below */
    struct db_stmt *stmts;
    char errmsg[DB_ERRMSG_MAX];
};

struct db {
    const struct db_backend *be;
    char *target;  /* file path (sqlite) or URL (postgres) */
    void *be_data; /* backend-private configuration, freed by be->db_free */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a connection comes back */
    int pool_size;
    struct db_conn *conns; /* pool_size slots */
    int open;              /* slots with a live handle (under mu) */
    int in_use;            /* slots lent out (under mu) */
    uint64_t waits;        /* under mu */
    atomic_uint_fast64_t errors;
    atomic_uint_fast64_t stmt_hits;
    atomic_uint_fast64_t stmt_misses;
};

/*
 * One engine. Every function that returns a status leaves a message in
 * c->errmsg on failure; db.c counts ST_UNAVAILABLE answers. A backend sets
 * c->broken when the connection itself is lost.
 */
struct db_backend {
    const char *name;
    enum db_kind kind;
    const char *begin_sql; /* statement that opens a transaction */
    /* Validates db->target at db_open (no connection yet); may set
     * db->be_data and may adjust db->pool_size. */
    enum st (*db_init)(struct db *db, char *err, size_t errlen);
    void (*db_free)(struct db *db);
    /* Opens c->h. On failure c->h stays NULL and c->errmsg says why. */
    enum st (*connect)(struct db_conn *c);
    void (*disconnect)(struct db_conn *c);
    /* Cheap check of an idle connection before it is lent (no round trip). */
    bool (*alive)(struct db_conn *c);
    bool (*in_tx)(struct db_conn *c);
    /* True when the open transaction can only be rolled back (PostgreSQL
     * after an error); NULL when the engine has no such state. */
    bool (*tx_aborted)(struct db_conn *c);
    enum st (*exec)(struct db_conn *c, const char *sql);
    /* Allocates a statement (struct db_stmt first) and sets its nparams;
     * db.c fills the other common fields. */
    enum st (*prepare)(struct db_conn *c, const char *sql, struct db_stmt **out);
    void (*reset)(struct db_stmt *s); /* drops results and bindings */
    /* Frees s. live: the session goes on, so release what the server holds
     * for it too; false when the connection is about to be closed. */
    void (*finalize)(struct db_stmt *s, bool live);
    enum st (*bind_int64)(struct db_stmt *s, int idx, int64_t v);
    enum st (*bind_text)(struct db_stmt *s, int idx, const char *v, size_t n);
    enum st (*bind_blob)(struct db_stmt *s, int idx, const void *v, size_t n);
    enum st (*bind_null)(struct db_stmt *s, int idx);
    /* Executes on the first call (s->started false) and sets s->changes,
     * then advances. Sets *row. */
    enum st (*step)(struct db_stmt *s, bool *row);
    int (*col_count)(struct db_stmt *s);
    bool (*col_is_null)(struct db_stmt *s, int col);
    int64_t (*col_int64)(struct db_stmt *s, int col);
    const char *(*col_text)(struct db_stmt *s, int col);
    const void *(*col_blob)(struct db_stmt *s, int col, size_t *len);
#ifdef ENTREPOT_FAULT_INJECTION
    /* Fails the way the engine fails on a broken or full disk, through the
     * backend's own error mapping, leaving the engine in the state a real
     * failure of that kind leaves it in (fault.h). */
    enum st (*fault)(struct db_conn *c, enum fault_kind kind);
#endif
};

extern const struct db_backend db_backend_sqlite;
extern const struct db_backend db_backend_postgres;

/* Formats a message into c->errmsg (truncated to DB_ERRMSG_MAX). */
void db_conn_seterr(struct db_conn *c, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* Counts the `?` placeholders of sql that lie outside string literals,
 * quoted identifiers, dollar-quoted strings and comments. When out is not
 * NULL, writes sql with each of them replaced by $1..$n (caller frees
 * *out). PostgreSQL's `?`-operators (jsonb ?, ?|, ?&) cannot be used in
 * our SQL: write jsonb_exists() and friends instead. */
int db_placeholders(const char *sql, char **out);

/* Registers the `entrepot` FTS5 tokenizer (db_sqlite_fts.c) on a fresh
 * sqlite3 handle; an SQLite result code. */
int db_sqlite_fts_register(void *handle);

#endif
