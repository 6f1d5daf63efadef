/*
 * db.h — one database interface over two backends: SQLite (default,
 * embedded) and PostgreSQL (libpq), chosen by URL at start-up.
 *
 * SQL is written once with `?` placeholders and portable types (BIGINT,
 * TEXT, BLOB/BYTEA differ only in migrations); the PostgreSQL backend
 * rewrites `?` to `$n`. Inserted ids come back through `RETURNING id`, which
 * both engines support. Every call returns an `enum st`: a unique-constraint
 * violation (or a serialization failure / deadlock) is ST_CONFLICT, another
 * constraint (NOT NULL, CHECK, foreign key) ST_INVALID, a lost or
 * unreachable server, an exhausted pool, a busy or full disk ST_UNAVAILABLE
 * (so the HTTP layer answers 503 fast), anything else ST_INTERNAL.
 *
 * Threads: a `struct db` is shared by all threads; a `struct db_conn` is
 * borrowed by one thread at a time (db_acquire/db_release) from a fixed
 * pool. Statements belong to their connection and are cached by SQL text.
 */
#ifndef ENTREPOT_DB_H
#define ENTREPOT_DB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/core.h"

enum db_kind { DB_SQLITE, DB_POSTGRES };

struct db;
struct db_conn;
struct db_stmt;

/* Opens a database from a URL: "sqlite:PATH" (or a bare path) or
 * "postgres://..." / "postgresql://...". pool_size connections are made
 * lazily, at most that many at once. For PostgreSQL an unreachable server at
 * open time is not an error: requests get ST_UNAVAILABLE until it returns.
 * On failure returns non-OK and writes a message (no secrets) to err. */
enum st db_open(const char *url, int pool_size, struct db **out, char *err, size_t errlen);
/* Closes every connection. db_close(NULL) is a no-op. */
void db_close(struct db *db);
enum db_kind db_kind(const struct db *db);
/* "sqlite" or "postgres". */
const char *db_kind_name(const struct db *db);

/* Borrows a connection, waiting up to DB_ACQUIRE_TIMEOUT_MS. Reconnects a
 * PostgreSQL connection found broken; ST_UNAVAILABLE when the server cannot
 * be reached within DB_CONNECT_TIMEOUT_S. */
enum st db_acquire(struct db *db, struct db_conn **out);
/* Returns a connection to the pool; an open transaction is rolled back. */
void db_release(struct db_conn *c);

/* Runs SQL without parameters (may hold several statements separated by ';'
 * on SQLite; on PostgreSQL through PQexec, likewise). */
enum st db_exec(struct db_conn *c, const char *sql);

/* Transactions. db_begin takes the write lock at once on SQLite
 * (BEGIN IMMEDIATE) so a read-then-write transaction cannot deadlock.
 * Both engines follow PostgreSQL's rule: once a statement fails inside a
 * transaction, later statements answer ST_INTERNAL and db_commit rolls back
 * and answers ST_INTERNAL, so roll back (and retry on ST_CONFLICT).
 * db_begin inside a transaction and db_commit outside one are ST_INTERNAL;
 * db_rollback with nothing open is ST_OK. */
enum st db_begin(struct db_conn *c);
enum st db_commit(struct db_conn *c);
enum st db_rollback(struct db_conn *c);

/* Prepares (or takes from the connection's cache) a statement with `?`
 * placeholders. Finish with db_stmt_done, which resets and returns it to the
 * cache. */
enum st db_prepare(struct db_conn *c, const char *sql, struct db_stmt **out);
void db_stmt_done(struct db_stmt *s);

/* Binds are 1-based, like SQLite's. Text is copied; n may be SIZE_MAX to
 * mean strlen; a NULL v binds NULL. Text that is not valid UTF-8 or holds a
 * NUL byte is ST_INVALID (PostgreSQL cannot store it). An index out of
 * range, or a bind after db_step without db_stmt_done, is ST_INTERNAL.
 * On PostgreSQL a parameter's type is inferred from its context: write
 * CAST(? AS BIGINT) where the context says nothing (`? IS NULL`,
 * `SELECT ?`); SQL `?` operators (jsonb) cannot be used. */
enum st db_bind_int64(struct db_stmt *s, int idx, int64_t v);
enum st db_bind_text(struct db_stmt *s, int idx, const char *v, size_t n);
enum st db_bind_blob(struct db_stmt *s, int idx, const void *v, size_t n);
enum st db_bind_null(struct db_stmt *s, int idx);

/* Executes (first call) or advances. *row is true when a row is ready to be
 * read with db_col_*; false when done. */
enum st db_step(struct db_stmt *s, bool *row);
/* Rows changed by the last executed INSERT/UPDATE/DELETE of s; 0 for a
 * query. Valid once db_step has reported the end (*row false): with
 * RETURNING, SQLite only counts after the last row. */
int64_t db_changes(struct db_stmt *s);

/* Columns are 0-based. Pointers stay valid until the next db_step or
 * db_stmt_done. NULL reads as 0 / NULL with *len 0; an empty blob is a
 * non-NULL pointer with *len 0. A boolean (PostgreSQL) reads as 0/1.
 * db_col_count is reliable once db_step has run. */
int db_col_count(struct db_stmt *s);
bool db_col_is_null(struct db_stmt *s, int col);
int64_t db_col_int64(struct db_stmt *s, int col);
const char *db_col_text(struct db_stmt *s, int col);
const void *db_col_blob(struct db_stmt *s, int col, size_t *len);

/* Binding by a format string (db_fmt.c): one letter per `?`, in order,
 * taking these arguments:
 *   'i'  int64_t
 *   'I'  int64_t, 0 binds NULL (an optional id)
 *   't'  const char * (NUL-terminated), NULL binds NULL
 *   'b'  const void *, size_t — a blob; a NULL pointer binds NULL
 *   'n'  no argument: binds NULL
 * Pass integers as int64_t (cast literals and ints). Any other letter is
 * ST_INTERNAL; so is a letter past the statement's last `?`. */
enum st db_bindf_v(struct db_stmt *s, const char *fmt, va_list ap);
/* Prepares, binds and steps once. *s is NULL when preparing failed;
 * otherwise finish it with db_stmt_done whatever the status. */
enum st db_queryf(struct db_conn *c, struct db_stmt **s, bool *row, const char *sql,
                  const char *fmt, ...);
enum st db_queryf_v(struct db_conn *c, struct db_stmt **s, bool *row, const char *sql,
                    const char *fmt, va_list ap);
/* Runs a statement to its end (RETURNING rows included, so the write
 * completes); *changes (may be NULL) gets the rows changed. */
enum st db_execf(struct db_conn *c, int64_t *changes, const char *sql, const char *fmt, ...);
/* As db_execf; *first (may be NULL) also gets column 0 of the first row
 * (a RETURNING id), left untouched when there is no row. */
enum st db_runf(struct db_conn *c, int64_t *changes, int64_t *first, const char *sql,
                const char *fmt, ...);
/* Column 0 of the first row into *out; ST_NOTFOUND (and *out untouched)
 * without a row. Runs RETURNING statements to their end. */
enum st db_query_int64f(struct db_conn *c, int64_t *out, const char *sql, const char *fmt, ...);
/* Calls fn for every row; a non-OK answer from fn stops and is returned. */
typedef enum st (*db_row_fn)(struct db_stmt *s, void *ctx);
enum st db_rowsf(struct db_conn *c, db_row_fn fn, void *ctx, const char *sql, const char *fmt, ...);
enum st db_rowsf_v(struct db_conn *c, db_row_fn fn, void *ctx, const char *sql, const char *fmt,
                   va_list ap);

/* Last error message of the connection (for logs only, never to clients). */
const char *db_errmsg(struct db_conn *c);

/* Applies pending embedded migrations in order, each inside a transaction,
 * recording them in schema_migrations. *applied (may be NULL) receives how
 * many ran. */
enum st db_migrate(struct db *db, int *applied);
/* Highest applied migration version, 0 when none. */
enum st db_schema_version(struct db *db, int64_t *version);
/* Cheap liveness check for /readyz: ST_OK or ST_UNAVAILABLE. */
enum st db_ping(struct db *db);

/* True for the code points SQLite's `entrepot` full-text tokenizer indexes
 * as Chinese/Japanese character pairs (Han, kana; db_sqlite_fts.c). Text
 * search code classifies text the same way through this function. */
bool db_text_is_cjk(uint32_t cp);

struct db_stats {
    int pool_size;        /* configured maximum */
    int open;             /* connections currently open */
    int in_use;           /* borrowed right now */
    uint64_t waits;       /* acquires that had to wait */
    uint64_t errors;      /* ST_UNAVAILABLE answers */
    uint64_t stmt_hits;   /* db_prepare served from a connection's cache */
    uint64_t stmt_misses; /* db_prepare that had to prepare anew */
};
void db_get_stats(struct db *db, struct db_stats *out);

/* An embedded migration (generated from src/db/migrations at build time). */
struct db_migration {
    int version;
    const char *name;
    const char *sql;
};
extern const struct db_migration db_migrations_sqlite[];
extern const size_t db_migrations_sqlite_count;
extern const struct db_migration db_migrations_postgres[];
extern const size_t db_migrations_postgres_count;

#endif
