/*
 * worker.c — `entrepot worker`: runs background jobs (src/jobs) and
 * delivers queued e-mail and SMS (src/notify) in a process of its own,
 * beside `serve` or on other machines sharing its database.
 *
 * Several workers, and the in-process worker of `serve`, may run at once:
 * claims are safe on both engines and recurring jobs are enqueued once per
 * slot whoever ticks first. Set jobs_in_serve = false to leave all jobs to
 * worker processes. SIGTERM stops gracefully: no new job is claimed, jobs
 * in progress finish (long ones see job_stopping and are retried later),
 * then the process exits 0. Like serve, signals are taken with sigwait.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "jobs/jobs.h"
#include "notify/notify.h"

static const char *const keys[] = {
    "config",       "data_dir",     "database",  "master_key_file", "master_key",
    "db_pool_size", "jobs_threads", "log_level", "log_format",      NULL};

static const char USAGE[] =
    "usage: entrepot worker [OPTIONS]\n\n"
    "Runs background jobs (retention, exports, reminders...) and delivers queued\n"
    "e-mail and SMS, until SIGTERM. The database must be migrated (`entrepot\n"
    "migrate`, or a serve with auto_migrate) and the master key must exist.";

/* The worker never migrates: it refuses a schema older than its code. */
static enum st schema_current(struct db *db)
{
    size_t n =
        db_kind(db) == DB_POSTGRES ? db_migrations_postgres_count : db_migrations_sqlite_count;
    const struct db_migration *m =
        db_kind(db) == DB_POSTGRES ? db_migrations_postgres : db_migrations_sqlite;
    int64_t version = 0;
    enum st s = db_schema_version(db, &version);
    if (s != ST_OK) {
        fprintf(stderr, "entrepot: cannot read the schema version (%s)\n", st_name(s));
        return s;
    }
    if (n > 0 && version < m[n - 1].version) {
        fprintf(stderr,
                "entrepot: the database schema (version %lld) is older than this program "
                "(%d): run `entrepot migrate` first\n",
                (long long)version, m[n - 1].version);
        return ST_CONFLICT;
    }
    return ST_OK;
}

int cmd_worker(int argc, char **argv)
{
    int rc = cmd_configure(argc, argv, USAGE, keys);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (cmd_install_keys(false) != ST_OK)
        return 1;
    int threads = (int)config_int("jobs_threads");
    int pool = (int)config_int("db_pool_size");
    if (pool <= 0)
        pool = threads + 2; /* the job threads, message delivery, one spare */
    struct db *db = NULL;
    if (cmd_open_db(&db, pool) != ST_OK)
        return 1;
    if (schema_current(db) != ST_OK) {
        db_close(db);
        return 1;
    }

    /* Block the signals we wait for before any thread exists. */
    sigset_t set;
    cmd_signals_block(&set);

    char err[512] = "";
    if (notify_init(err, sizeof err) != ST_OK) {
        fprintf(stderr, "entrepot: %s\n", err);
        db_close(db);
        return 1;
    }
    struct jobs_worker *w = NULL;
    if (cmd_register_jobs() != ST_OK || jobs_worker_start(db, threads, "worker", &w) != ST_OK) {
        fprintf(stderr, "entrepot: the job worker did not start\n");
        notify_cleanup();
        db_close(db);
        return 1;
    }
    if (notify_worker_start(db) != ST_OK)
        log_kv(LOG_ERROR, "the delivery worker did not start: messages wait in the outbox",
               (const char *)NULL);
    log_kv(LOG_INFO, "worker running", "database", db_kind_name(db), (const char *)NULL);
    printf("entrepot: worker running (%d job thread%s)\n", threads, threads == 1 ? "" : "s");
    fflush(stdout);

    cmd_signals_wait(&set);
    jobs_worker_stop(w);
    notify_worker_stop();
    notify_cleanup();
    db_close(db);
    log_infof("stopped");
    return 0;
}
