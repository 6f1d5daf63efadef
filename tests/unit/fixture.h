/*
 * fixture.h — the database fixture the unit tests share: a fresh SQLite
 * file in a temporary directory, or the throwaway PostgreSQL database that
 * ENTREPOT_TEST_PG_URL names (scripts/pg-cluster.sh), emptied and migrated
 * for every test. Header-only: each test program includes it once.
 *
 * A test file's own fixture struct starts with FX_DB_FIELDS, so its tests
 * keep reading f->db, f->dir, f->url and f->kind:
 *
 *     struct fx { FX_DB_FIELDS; struct db_conn *c; };
 *     ... f->kind = DB_SQLITE; if (FX_OPEN(f, "accounts", 4, true) != 0) return -1;
 *     ... FX_CLOSE(f);
 *
 * and its main runs the PostgreSQL group only when fx_pg_url() is set.
 */
#ifndef ENTREPOT_TEST_FIXTURE_H
#define ENTREPOT_TEST_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "db/db.h"

#define FX_DB_FIELDS                                                                               \
    struct db *db;                                                                                 \
    enum db_kind kind;                                                                             \
    char dir[64];                                                                                  \
    char url[512]

/* The PostgreSQL URL of the run, or NULL when the tests run on SQLite only. */
static inline const char *fx_pg_url(void)
{
    const char *u = getenv("ENTREPOT_TEST_PG_URL");
    return u && *u ? u : NULL;
}

/* Prints the line cmocka prints for a group that did not run. */
static inline void fx_pg_skipped(const char *group)
{
    printf("[  SKIPPED ] %s: set ENTREPOT_TEST_PG_URL (scripts/pg-cluster.sh) to run it\n", group);
}

/* Empties the PostgreSQL database for the next test. A backend of the
 * previous test may still be finishing after its client went away (slow
 * under the sanitizers) and can deadlock with the DROP: such leftovers
 * (started before this test opened its pool) are ended first, and the
 * reset is retried a few times with the server's error printed. */
static inline int fx_pg_reset(struct db *db, time_t opened_before)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
             "current_database() AND pid <> pg_backend_pid() AND backend_start < "
             "to_timestamp(%lld)",
             (long long)opened_before);
    for (int attempt = 1; attempt <= 10; attempt++) {
        struct db_conn *c;
        if (db_acquire(db, &c) != ST_OK)
            return -1;
        enum st st = db_exec(c, sql);
        if (st == ST_OK)
            st = db_exec(c, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
        if (st != ST_OK)
            fprintf(stderr, "fixture: resetting PostgreSQL (attempt %d): %s\n", attempt,
                    db_errmsg(c));
        db_release(c);
        if (st == ST_OK)
            return 0;
        struct timespec pause = {0, 200 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return -1;
}

/* Opens a test database of kind with a pool of pool connections into *db:
 * a temporary directory named after tag always (dir, 64 bytes; tests keep
 * files there), a fresh SQLite file in it or the emptied PostgreSQL
 * database (url, 512 bytes, gets its URL), migrated when migrate is true.
 * 0 on success, -1 otherwise (cmocka then fails the test). */
static inline int fx_db_open(struct db **db, enum db_kind kind, char *dir, char *url,
                             const char *tag, int pool, bool migrate)
{
    char err[256];
    time_t opened_before = time(NULL);
    snprintf(dir, 64, "/tmp/test_%s.XXXXXX", tag);
    if (!mkdtemp(dir))
        return -1;
    if (kind == DB_SQLITE)
        snprintf(url, 512, "sqlite:%s/t.db", dir);
    else if (fx_pg_url())
        snprintf(url, 512, "%s", fx_pg_url());
    else
        return -1;
    if (db_open(url, pool, db, err, sizeof err) != ST_OK) {
        fprintf(stderr, "fixture: db_open: %s\n", err);
        return -1;
    }
    if (kind == DB_POSTGRES && fx_pg_reset(*db, opened_before) != 0)
        return -1;
    if (migrate && db_migrate(*db, NULL) != ST_OK) {
        fprintf(stderr, "fixture: db_migrate failed\n");
        return -1;
    }
    return 0;
}

static int fx_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Closes the database and removes the temporary directory. */
static inline void fx_db_close(struct db **db, const char *dir)
{
    db_close(*db);
    *db = NULL;
    if (dir[0])
        nftw(dir, fx_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* The two calls on a fixture struct that starts with FX_DB_FIELDS. */
#define FX_OPEN(f, tag, pool, migrate)                                                             \
    fx_db_open(&(f)->db, (f)->kind, (f)->dir, (f)->url, (tag), (pool), (migrate))
#define FX_CLOSE(f) fx_db_close(&(f)->db, (f)->dir)

#endif
