/*
 * db_sqlite.c — the SQLite backend: one file in WAL mode, one sqlite3
 * handle per pooled connection.
 *
 * The decision to know is durability: WAL with synchronous=NORMAL (the
 * usual advice) only fsyncs the log at checkpoints, so a power cut can lose
 * transactions that were already acknowledged to the user. We promise that
 * an acknowledged write survives, so every connection runs with
 * synchronous=FULL: each COMMIT fsyncs the WAL before returning. Writes cost
 * one fsync each; reads are unaffected.
 *
 * Handles are opened with SQLITE_OPEN_NOMUTEX: the pool lends a connection
 * to one thread at a time, so SQLite's own per-handle mutex would be pure
 * overhead. Writers queue on the file lock for DB_BUSY_TIMEOUT_MS, and
 * db_begin takes that lock at once (BEGIN IMMEDIATE), so a transaction that
 * reads then writes never fails half-way with SQLITE_BUSY.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db_int.h"

struct sq_stmt {
    struct db_stmt base; /* first: db.c sees only this */
    sqlite3_stmt *st;
};

static sqlite3 *H(struct db_conn *c)
{
    return c->h;
}

static sqlite3_stmt *ST(struct db_stmt *s)
{
    return ((struct sq_stmt *)s)->st;
}

static bool is_memory(const char *path)
{
    return strcmp(path, ":memory:") == 0;
}

/* Maps an (extended) SQLite result code to a status and records msg. */
static enum st sq_map(struct db_conn *c, int rc, const char *msg)
{
    db_conn_seterr(c, "sqlite: %s (code %d)", msg, rc);
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return ST_CONFLICT;
        return ST_INVALID;
    case SQLITE_BUSY:
        /* A read transaction that tried to write after another writer
         * committed: like PostgreSQL's serialization failure, retryable. */
        if (rc == SQLITE_BUSY_SNAPSHOT)
            return ST_CONFLICT;
        return ST_UNAVAILABLE;
    case SQLITE_LOCKED:
        return ST_UNAVAILABLE;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        log_errorf("db: sqlite storage failure: %s", c->errmsg);
        return ST_UNAVAILABLE;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        log_errorf("db: sqlite database damaged: %s", c->errmsg);
        return ST_INTERNAL;
    default:
        return ST_INTERNAL;
    }
}

/* Maps the failure rc of the last call on c. */
static enum st sq_fail(struct db_conn *c, int rc)
{
    return sq_map(c, rc, c->h ? sqlite3_errmsg(H(c)) : sqlite3_errstr(rc));
}

/* ---------------------------------------------------------------- fault injection */

#ifdef ENTREPOT_FAULT_INJECTION
/*
 * A VFS shim over the default one: every write and sync of the database,
 * its WAL and journals counts as a FAULT_SQLIO call (fault.h) and the Nth
 * fails as SQLITE_IOERR_WRITE / SQLITE_IOERR_FSYNC or SQLITE_FULL, so SQLite
 * itself meets the failure (and rolls back or keeps its WAL as it would)
 * rather than a failure made up above it.
 */
#define FV_NAME "entrepot-fault"

struct fv_file {
    sqlite3_file base;
    sqlite3_file *real; /* the default VFS's file, allocated right after */
};

static sqlite3_vfs *fv_real;

static sqlite3_file *RF(sqlite3_file *f)
{
    return ((struct fv_file *)f)->real;
}

static int fv_close(sqlite3_file *f)
{
    return RF(f)->pMethods->xClose(RF(f));
}
static int fv_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    return RF(f)->pMethods->xRead(RF(f), p, n, off);
}
/* The result code of an injected fault on this call, SQLITE_OK for none. */
static int fv_fault(const char *what, int io_rc)
{
    switch (fault_hit(FAULT_SQLIO, what)) {
    case FAULT_IO:
        return io_rc;
    case FAULT_FULL:
        return SQLITE_FULL;
    case FAULT_NONE:
        break;
    }
    return SQLITE_OK;
}
static int fv_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    int rc = fv_fault("sqlite write", SQLITE_IOERR_WRITE);
    return rc != SQLITE_OK ? rc : RF(f)->pMethods->xWrite(RF(f), p, n, off);
}
static int fv_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return RF(f)->pMethods->xTruncate(RF(f), size);
}
static int fv_sync(sqlite3_file *f, int flags)
{
    int rc = fv_fault("sqlite sync", SQLITE_IOERR_FSYNC);
    return rc != SQLITE_OK ? rc : RF(f)->pMethods->xSync(RF(f), flags);
}
static int fv_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return RF(f)->pMethods->xFileSize(RF(f), size);
}
static int fv_lock(sqlite3_file *f, int lock)
{
    return RF(f)->pMethods->xLock(RF(f), lock);
}
static int fv_unlock(sqlite3_file *f, int lock)
{
    return RF(f)->pMethods->xUnlock(RF(f), lock);
}
static int fv_reserved(sqlite3_file *f, int *out)
{
    return RF(f)->pMethods->xCheckReservedLock(RF(f), out);
}
static int fv_control(sqlite3_file *f, int op, void *arg)
{
    return RF(f)->pMethods->xFileControl(RF(f), op, arg);
}
static int fv_sector(sqlite3_file *f)
{
    return RF(f)->pMethods->xSectorSize(RF(f));
}
static int fv_devchar(sqlite3_file *f)
{
    return RF(f)->pMethods->xDeviceCharacteristics(RF(f));
}
static int fv_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
    return RF(f)->pMethods->xShmMap(RF(f), pg, pgsz, extend, pp);
}
static int fv_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return RF(f)->pMethods->xShmLock(RF(f), off, n, flags);
}
static void fv_shm_barrier(sqlite3_file *f)
{
    RF(f)->pMethods->xShmBarrier(RF(f));
}
static int fv_shm_unmap(sqlite3_file *f, int del)
{
    return RF(f)->pMethods->xShmUnmap(RF(f), del);
}
static int fv_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    return RF(f)->pMethods->xFetch(RF(f), off, n, pp);
}
static int fv_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return RF(f)->pMethods->xUnfetch(RF(f), off, p);
}

static const sqlite3_io_methods fv_methods = {
    .iVersion = 3,
    .xClose = fv_close,
    .xRead = fv_read,
    .xWrite = fv_write,
    .xTruncate = fv_truncate,
    .xSync = fv_sync,
    .xFileSize = fv_size,
    .xLock = fv_lock,
    .xUnlock = fv_unlock,
    .xCheckReservedLock = fv_reserved,
    .xFileControl = fv_control,
    .xSectorSize = fv_sector,
    .xDeviceCharacteristics = fv_devchar,
    .xShmMap = fv_shm_map,
    .xShmLock = fv_shm_lock,
    .xShmBarrier = fv_shm_barrier,
    .xShmUnmap = fv_shm_unmap,
    .xFetch = fv_fetch,
    .xUnfetch = fv_unfetch,
};

static int fv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    (void)vfs;
    struct fv_file *p = (struct fv_file *)f;
    p->real = (sqlite3_file *)(p + 1);
    memset(p->real, 0, (size_t)fv_real->szOsFile);
    int rc = fv_real->xOpen(fv_real, name, p->real, flags, out);
    /* A file whose open failed is not closed: no methods then. */
    p->base.pMethods = p->real->pMethods ? &fv_methods : NULL;
    return rc;
}
static int fv_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
    (void)vfs;
    return fv_real->xDelete(fv_real, name, sync);
}
static int fv_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return fv_real->xAccess(fv_real, name, flags, out);
}
static int fv_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return fv_real->xFullPathname(fv_real, name, n, out);
}
static int fv_random(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return fv_real->xRandomness(fv_real, n, out);
}
static int fv_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return fv_real->xSleep(fv_real, us);
}
static int fv_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return fv_real->xCurrentTime(fv_real, out);
}
static int fv_lasterr(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return fv_real->xGetLastError(fv_real, n, out);
}
static int fv_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return fv_real->xCurrentTimeInt64(fv_real, out);
}

static sqlite3_vfs fv_vfs = {
    .iVersion = 2,
    .mxPathname = 512,
    .zName = FV_NAME,
    .xOpen = fv_open,
    .xDelete = fv_delete,
    .xAccess = fv_access,
    .xFullPathname = fv_fullpath,
    .xRandomness = fv_random,
    .xSleep = fv_sleep,
    .xCurrentTime = fv_time,
    .xGetLastError = fv_lasterr,
    .xCurrentTimeInt64 = fv_time64,
};

static pthread_once_t fv_once = PTHREAD_ONCE_INIT;

static void fv_register(void)
{
    fv_real = sqlite3_vfs_find(NULL);
    if (!fv_real || fv_real->iVersion < 2)
        die("fault injection: no usable default SQLite VFS");
    fv_vfs.szOsFile = (int)sizeof(struct fv_file) + fv_real->szOsFile;
    fv_vfs.mxPathname = fv_real->mxPathname;
    if (sqlite3_vfs_register(&fv_vfs, 0) != SQLITE_OK)
        die("fault injection: cannot register the SQLite VFS shim");
}

/* The VFS connections open with. */
static const char *sq_vfs(void)
{
    pthread_once(&fv_once, fv_register);
    return FV_NAME;
}

/* A failed statement, as the engine reports a failing disk. */
static enum st sq_fault(struct db_conn *c, enum fault_kind kind)
{
    int rc = kind == FAULT_FULL ? SQLITE_FULL : SQLITE_IOERR_WRITE;
    return sq_map(c, rc,
                  kind == FAULT_FULL ? "database or disk is full (injected)"
                                     : "disk I/O error (injected)");
}
#else
static const char *sq_vfs(void)
{
    return NULL; /* the default */
}
#endif

static enum st sq_db_init(struct db *db, char *err, size_t errlen)
{
    if (is_memory(db->target)) {
        db->pool_size = 1; /* every :memory: handle is a database of its own */
        return ST_OK;
    }
    /* Create the file ourselves so it is born 0600: the data holds personal
     * data. SQLite gives the -wal and -shm files the same mode. */
    int fd = open(db->target, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
    } else if (errno != EEXIST) {
        if (err && errlen)
            snprintf(err, errlen, "cannot create sqlite database %s: %s", db->target,
                     strerror(errno));
        return ST_UNAVAILABLE;
    }
    return ST_OK;
}

static void sq_disconnect(struct db_conn *c)
{
    /* close_v2 would defer on unfinalized statements; db.c finalizes all
     * first, so a plain close must succeed. */
    if (sqlite3_close(H(c)) != SQLITE_OK)
        log_errorf("db: sqlite close failed: %s", sqlite3_errmsg(H(c)));
    c->h = NULL;
}

static int journal_cb(void *arg, int ncol, char **vals, char **names)
{
    (void)names;
    if (ncol > 0 && vals[0])
        snprintf(arg, 16, "%s", vals[0]);
    return 0;
}

/* Runs sql, retrying while the file is locked. Switching to WAL needs an
 * exclusive lock for which SQLite does not call the busy handler, so two
 * processes opening a fresh database at once would see SQLITE_BUSY. */
static int exec_patient(sqlite3 *h, const char *sql, int (*cb)(void *, int, char **, char **),
                        void *arg)
{
    uint64_t deadline = clock_mono_ns() + (uint64_t)DB_BUSY_TIMEOUT_MS * 1000000u;
    for (;;) {
        int rc = sqlite3_exec(h, sql, cb, arg, NULL);
        if ((rc & 0xff) != SQLITE_BUSY || clock_mono_ns() > deadline)
            return rc;
        sqlite3_sleep(10);
    }
}

static enum st sq_connect(struct db_conn *c)
{
    const char *path = c->db->target;
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(
        path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, sq_vfs());
    if (rc != SQLITE_OK) {
        db_conn_seterr(c, "sqlite: cannot open %s: %s", path,
                       h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
        sqlite3_close(h);
        return ST_UNAVAILABLE;
    }
    c->h = h;
    sqlite3_extended_result_codes(h, 1);
    sqlite3_busy_timeout(h, DB_BUSY_TIMEOUT_MS);

    /* WAL is a property of the file: ask first, convert only a new file. */
    char mode[16] = "";
    rc = exec_patient(h, "PRAGMA journal_mode", journal_cb, mode);
    if (rc == SQLITE_OK && strcmp(mode, "wal") != 0)
        rc = exec_patient(h, "PRAGMA journal_mode=WAL", journal_cb, mode);
    if (rc == SQLITE_OK && strcmp(mode, "wal") != 0 && !is_memory(path)) {
        db_conn_seterr(c, "sqlite: %s refuses WAL mode (journal_mode=%s)", path, mode);
        sq_disconnect(c);
        return ST_UNAVAILABLE;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(h, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = db_sqlite_fts_register(h); /* full-text tokenizer, before any migration */
    if (rc != SQLITE_OK) {
        enum st st = sq_fail(c, rc);
        sq_disconnect(c);
        return st;
    }
    return ST_OK;
}

static bool sq_alive(struct db_conn *c)
{
    (void)c;
    return true;
}

static bool sq_in_tx(struct db_conn *c)
{
    return !sqlite3_get_autocommit(H(c));
}

static enum st sq_exec(struct db_conn *c, const char *sql)
{
    int rc = sqlite3_exec(H(c), sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? ST_OK : sq_fail(c, rc);
}

static enum st sq_prepare(struct db_conn *c, const char *sql, struct db_stmt **out)
{
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(H(c), sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail);
    if (rc != SQLITE_OK)
        return sq_fail(c, rc);
    if (!st) {
        db_conn_seterr(c, "sqlite: empty statement");
        return ST_INTERNAL;
    }
    while (tail &&
           (*tail == ' ' || *tail == '\t' || *tail == '\n' || *tail == '\r' || *tail == ';'))
        tail++;
    if (tail && *tail) {
        /* PostgreSQL refuses several commands in a prepared statement too. */
        sqlite3_finalize(st);
        db_conn_seterr(c, "sqlite: several statements in one db_prepare (use db_exec)");
        return ST_INTERNAL;
    }
    struct sq_stmt *s = xcalloc(1, sizeof *s);
    s->st = st;
    s->base.nparams = sqlite3_bind_parameter_count(st);
    *out = &s->base;
    return ST_OK;
}

static void sq_reset(struct db_stmt *s)
{
    sqlite3_reset(ST(s));
    sqlite3_clear_bindings(ST(s));
}

static void sq_finalize(struct db_stmt *s, bool live)
{
    (void)live;
    sqlite3_finalize(ST(s));
    free(s);
}

static enum st sq_bind_rc(struct db_stmt *s, int rc)
{
    return rc == SQLITE_OK ? ST_OK : sq_fail(s->c, rc);
}

static enum st sq_bind_int64(struct db_stmt *s, int idx, int64_t v)
{
    return sq_bind_rc(s, sqlite3_bind_int64(ST(s), idx, v));
}

static enum st sq_bind_text(struct db_stmt *s, int idx, const char *v, size_t n)
{
    return sq_bind_rc(s, sqlite3_bind_text64(ST(s), idx, v, n, SQLITE_TRANSIENT, SQLITE_UTF8));
}

static enum st sq_bind_blob(struct db_stmt *s, int idx, const void *v, size_t n)
{
    return sq_bind_rc(s, sqlite3_bind_blob64(ST(s), idx, v, n, SQLITE_TRANSIENT));
}

static enum st sq_bind_null(struct db_stmt *s, int idx)
{
    return sq_bind_rc(s, sqlite3_bind_null(ST(s), idx));
}

static enum st sq_step(struct db_stmt *s, bool *row)
{
    sqlite3_stmt *st = ST(s);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        /* SQLite counts a statement's changes when it ends, which for
         * RETURNING is after the last row: db.h promises no earlier. */
        if (rc == SQLITE_DONE)
            s->changes = sqlite3_stmt_readonly(st) ? 0 : sqlite3_changes64(H(s->c));
        *row = rc == SQLITE_ROW;
        return ST_OK;
    }
    enum st res = sq_fail(s->c, rc);
    sqlite3_reset(st); /* releases the statement's locks now */
    return res;
}

static int sq_col_count(struct db_stmt *s)
{
    return sqlite3_column_count(ST(s));
}

static bool sq_col_is_null(struct db_stmt *s, int col)
{
    return sqlite3_column_type(ST(s), col) == SQLITE_NULL;
}

static int64_t sq_col_int64(struct db_stmt *s, int col)
{
    return sqlite3_column_int64(ST(s), col);
}

static const char *sq_col_text(struct db_stmt *s, int col)
{
    return (const char *)sqlite3_column_text(ST(s), col);
}

static const void *sq_col_blob(struct db_stmt *s, int col, size_t *len)
{
    const void *p = sqlite3_column_blob(ST(s), col);
    *len = (size_t)sqlite3_column_bytes(ST(s), col);
    /* SQLite answers NULL for an empty blob; only SQL NULL reads as NULL. */
    if (!p && sqlite3_column_type(ST(s), col) != SQLITE_NULL)
        p = "";
    return p;
}

const struct db_backend db_backend_sqlite = {
    .name = "sqlite",
    .kind = DB_SQLITE,
    .begin_sql = "BEGIN IMMEDIATE",
    .db_init = sq_db_init,
    .db_free = NULL,
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .alive = sq_alive,
    .in_tx = sq_in_tx,
    .tx_aborted = NULL,
    .exec = sq_exec,
    .prepare = sq_prepare,
    .reset = sq_reset,
    .finalize = sq_finalize,
    .bind_int64 = sq_bind_int64,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .col_count = sq_col_count,
    .col_is_null = sq_col_is_null,
    .col_int64 = sq_col_int64,
    .col_text = sq_col_text,
    .col_blob = sq_col_blob,
#ifdef ENTREPOT_FAULT_INJECTION
    .fault = sq_fault,
#endif
};
