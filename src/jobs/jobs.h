/*
 * jobs.h — the durable job queue and the scheduler for recurring jobs
 * (retention, expiry, reminders, exports...), run by the worker threads of
 * `entrepot serve` or by `entrepot worker` processes, on SQLite or
 * PostgreSQL.
 *
 * A domain module declares what it can do as a table of job kinds (name →
 * handler) and registers it at start-up; work is queued with jobs_enqueue,
 * inside the caller's transaction, so a job exists exactly when the request
 * that wanted it committed. Workers claim due jobs one at a time (one
 * UPDATE ... RETURNING; PostgreSQL adds FOR UPDATE SKIP LOCKED so workers
 * on several nodes never take the same row, SQLite serialises writers) and
 * hold each under a lease.
 *
 * THE CONTRACT: at-least-once start, exactly-once completion.
 *
 *  - A handler may be started more than once for one job: after a failure
 *    (retried with exponential backoff and jitter, up to max_attempts, then
 *    the job is 'dead'), or when a worker crashed or lost the database
 *    mid-run and the lease ran out.
 *  - A job is completed at most once. The handler's writes through ctx->c
 *    and the job's 'done' mark commit in one transaction, and the mark is
 *    fenced: it only applies while the job is still claimed by this run
 *    (state 'running' with the attempt number this run claimed). A run
 *    that crashed before its commit left nothing behind; a run whose lease
 *    ran out and was claimed again by another worker finds its mark
 *    refused (ST_CONFLICT) and its writes are rolled back.
 *  - So a handler whose whole effect is in the database runs to completion
 *    exactly once. An effect outside the database (a file, a call to
 *    another system) may happen again when a run is repeated: make it
 *    idempotent, keyed by ctx->id (a file named after the job, a provider
 *    request id...).
 *
 * Two shapes of handler (struct job_kind.long_running):
 *  - short (default): the runner opens the transaction and marks the job
 *    done before calling the handler, which just writes through ctx->c.
 *    The transaction holds SQLite's write lock (and PostgreSQL's row lock
 *    on the job) while the handler runs: keep it to short database work.
 *  - long_running: the handler starts with no transaction open, may work
 *    for long (reading in batches, writing files), calls job_heartbeat at
 *    least every lease_ms / 3 to keep its lease, and calls job_begin
 *    before its final writes; job_begin opens the transaction and takes
 *    the fenced done mark. If the handler returns ST_OK without calling
 *    job_begin, the runner marks the job done alone.
 *
 * A handler returns ST_OK (done), ST_INVALID (this job can never succeed,
 * e.g. a malformed payload: dead at once) or any other status (try again
 * later, until max_attempts).
 *
 * Recurring jobs: a schedule (every N seconds, or daily at HH:MM UTC)
 * enqueues its kind once per slot with unique_key "sched:NAME:SLOT", so
 * any number of workers may run the scheduler without doubling a slot.
 * Only the current slot is enqueued: after downtime a schedule runs once,
 * not once per missed slot.
 *
 * Time comes from clock_now_ms (tests move it); all times are int64 ms UTC.
 * Domain code: plain C arguments, enum st results, no HTTP.
 */
#ifndef ENTREPOT_JOBS_H
#define ENTREPOT_JOBS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "db/db.h"

/* ---------------------------------------------------------------- limits */

#define JOBS_NAME_MAX       64                  /* bytes of a kind or schedule name */
#define JOBS_KEY_MAX        200                 /* bytes of a unique_key */
#define JOBS_PAYLOAD_MAX    (64 * 1024)         /* bytes of a payload, as JSON */
#define JOBS_ERROR_MAX      300                 /* bytes of last_error kept */
#define JOBS_KINDS_MAX      64                  /* kinds one process registers */
#define JOBS_SCHEDULES_MAX  64                  /* schedules one process registers */
#define JOBS_THREADS_MAX    16                  /* threads of one worker */
#define JOBS_MAX_ATTEMPTS   8                   /* default attempts before 'dead' */
#define JOBS_BACKOFF_MS     10000               /* default first retry delay */
#define JOBS_BACKOFF_CAP_MS (6 * 3600 * 1000LL) /* retry delays stop doubling here */
#define JOBS_LEASE_MS       (5 * 60000)         /* default lease of a claimed job */
#define JOBS_POLL_MS        1000                /* an idle worker looks this often */
#define JOBS_KEEP_DONE_MS   (7 * 86400000LL)    /* done jobs are purged after this */
#define JOBS_KEEP_DEAD_MS   (30 * 86400000LL)   /* dead jobs are kept this long */
#define JOBS_EVERY_MAX_MS   86400000LL          /* longest "every" period (1 day) */
#define JOBS_PURGE_EVERY_MS 3600000LL           /* the jobs.purge schedule */

/* ---------------------------------------------------------------- kinds */

struct job;

/* What a handler gets. Fields are read-only for the handler, except that
 * it uses c for its queries. */
struct job_ctx {
    struct db *db;         /* the database (for extra connections, rarely needed) */
    struct db_conn *c;     /* the handler's connection; see the two shapes above */
    int64_t id;            /* the job's id: the idempotency key of outside effects */
    const char *kind;      /* its kind's name */
    const json_t *payload; /* its payload, always a JSON object */
    int64_t user_id;       /* the account it concerns; 0 = none */
    int attempt;           /* 1 for the first run */
    int max_attempts;
    int64_t run_at;  /* when it was due (a schedule's slot) */
    void *arg;       /* the kind's arg */
    struct job *job; /* private to the runner */
};

typedef enum st (*job_fn)(struct job_ctx *ctx);

struct job_kind {
    const char *name;   /* "privacy.export": 1..64 of [a-z0-9_.-] */
    job_fn run;         /* the handler */
    void *arg;          /* passed as ctx->arg */
    int max_attempts;   /* 0 = JOBS_MAX_ATTEMPTS; 1..100 */
    int64_t lease_ms;   /* 0 = JOBS_LEASE_MS; 1000..86400000 */
    int64_t backoff_ms; /* 0 = JOBS_BACKOFF_MS: first retry delay, doubling */
    bool long_running;  /* see "two shapes" above */
};

/* Registers n kinds (the table must outlive the process: it is kept by
 * pointer). Call at start-up, before any worker starts. ST_INVALID for a
 * bad name or setting, ST_CONFLICT for a name already registered (nothing
 * of the table is registered then), ST_TOOLARGE past JOBS_KINDS_MAX. */
enum st jobs_register(const struct job_kind *kinds, size_t n);
/* The registered kind called name, or NULL. */
const struct job_kind *jobs_kind_find(const char *name);

/* A recurring job: its kind is enqueued once per slot. Exactly one of
 * every_ms (a slot starts at each multiple of it since the epoch: 1000 ..
 * JOBS_EVERY_MAX_MS) and daily (daily_minute = minutes after 00:00 UTC,
 * 0..1439) is used. */
struct job_schedule {
    const char *name; /* unique: 1..64 of [a-z0-9_.-], part of the slot's unique_key */
    const char *kind; /* a registered kind */
    int64_t every_ms;
    bool daily;
    int daily_minute;
    const char *payload; /* NULL or a JSON object, as text */
};

/* Registers n schedules (kept by pointer, like kinds). ST_INVALID for a
 * bad one (unknown kind, bad period or payload), ST_CONFLICT for a name
 * already registered. */
enum st jobs_schedule_add(const struct job_schedule *s, size_t n);

/* Registers the queue's own kinds and schedules: "jobs.purge", hourly,
 * deletes done jobs after JOBS_KEEP_DONE_MS and dead ones after
 * JOBS_KEEP_DEAD_MS. Idempotent. */
enum st jobs_builtin_register(void);

/* Forgets every kind and schedule (tests only; no worker may run). */
void jobs_registry_reset(void);

/* ---------------------------------------------------------------- enqueue */

struct job_opts {
    int64_t run_at;         /* 0 = now */
    const char *unique_key; /* NULL, or 1..200 printable ASCII: at most one job ever
                               has it (until it is purged) */
    int64_t user_id;        /* the account the job concerns; 0 = none */
};

/* Queues a job of a registered kind with payload (a JSON object, borrowed;
 * NULL = {}) and returns its id in *id (may be NULL). Run it inside the
 * caller's transaction so the job exists exactly when the caller's writes
 * do; call jobs_wake after the commit for a prompt start. When
 * o->unique_key already names a job, nothing is queued, *id is 0 and the
 * answer is ST_OK (the transaction stays usable). ST_INVALID for an
 * unknown kind, a payload that is not an object or is over
 * JOBS_PAYLOAD_MAX, or a bad unique_key. o may be NULL. */
enum st jobs_enqueue(struct db_conn *c, const char *kind, const json_t *payload,
                     const struct job_opts *o, int64_t *id);

/* Removes a job that has not started (state queued) inside the caller's
 * transaction, such as the erasure of an account whose owner took the
 * request back. *removed (may be NULL) says whether it was still queued;
 * a job already running or finished is left alone. */
enum st jobs_cancel(struct db_conn *c, int64_t id, bool *removed);

/* Deletes finished jobs: done ones finished before done_before, dead ones
 * before dead_before; *deleted (may be NULL) gets the count. The
 * "jobs.purge" schedule and the retention job call it. */
enum st jobs_purge(struct db_conn *c, int64_t done_before, int64_t dead_before, int64_t *deleted);

/* ---------------------------------------------------------------- handler helpers */

/* long_running handlers: opens the handler's final transaction on ctx->c
 * and takes the job's fenced done mark in it; the runner commits after the
 * handler returns ST_OK. ST_CONFLICT when the lease was lost (another
 * worker has claimed the job again): return that status at once, the
 * runner rolls back. A no-op answering ST_OK when already begun (short
 * handlers start begun). */
enum st job_begin(struct job_ctx *ctx);
/* long_running handlers: extends the lease by the kind's lease_ms from
 * now. ST_CONFLICT when the lease was already lost (stop working and
 * return it); ST_OK and nothing to do once job_begin ran. */
enum st job_heartbeat(struct job_ctx *ctx);
/* Sets the reason kept in last_error when the handler fails (printf-like,
 * cut to JOBS_ERROR_MAX). Never put personal data in it. */
void job_set_error(struct job_ctx *ctx, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* True once the worker running this job is stopping (SIGTERM): a long
 * handler may return ST_UNAVAILABLE to be retried later. */
bool job_stopping(const struct job_ctx *ctx);

/* ---------------------------------------------------------------- running */

/* Claims the next due job of a registered kind (queued with run_at <= now,
 * or running with an expired lease), oldest run_at first, for worker (a
 * label kept in the row, "host/pid/thread"). *out is NULL when nothing is
 * due. A running job whose lease expired on its last attempt is set 'dead'
 * instead of being claimed. Free with job_free. */
enum st jobs_claim(struct db *db, const char *worker, struct job **out);
/* Runs a claimed job's handler and records the outcome (done; queued again
 * after backoff; dead). Returns ST_OK when the job completed, ST_CONFLICT
 * when its lease had been lost (nothing of this run was kept), else the
 * handler's (or the database's) failure status. j stays the caller's. */
enum st jobs_execute(struct db *db, struct job *j);
/* job_free(NULL) is a no-op. */
void job_free(struct job *j);
/* jobs_claim + jobs_execute: *ran (may be NULL) is true when a job was
 * claimed. Returns the claim's failure, or ST_OK (whatever the job's
 * outcome). */
enum st jobs_run_one(struct db *db, const char *worker, bool *ran);

/* Enqueues the current slot of every registered schedule (as of
 * clock_now_ms), skipping slots already queued. *enqueued (may be NULL)
 * gets how many jobs were new; *next_ms (may be NULL) the time the next
 * slot of any schedule starts (INT64_MAX when there are no schedules). */
enum st jobs_schedule_tick(struct db *db, int *enqueued, int64_t *next_ms);

/* A pool of worker threads on db (which must outlive it): each claims and
 * runs due jobs, then waits JOBS_POLL_MS or until jobs_wake; the first
 * also runs the scheduler. Several workers (threads, processes, nodes) may
 * share one database. */
struct jobs_worker;
/* threads 1..JOBS_THREADS_MAX; name labels the rows it claims and its log
 * lines ("serve", "worker"). */
enum st jobs_worker_start(struct db *db, int threads, const char *name, struct jobs_worker **out);
/* Graceful stop: no new job is claimed, jobs in progress finish (handlers
 * see job_stopping), threads are joined. jobs_worker_stop(NULL) is a no-op. */
void jobs_worker_stop(struct jobs_worker *w);
/* Makes every running worker of this process look for due jobs now. Safe
 * from any thread, also when no worker runs. */
void jobs_wake(void);

/* Counters since start-up, for /metrics and tests. */
struct jobs_stats {
    uint64_t claimed;   /* runs started */
    uint64_t completed; /* runs that committed their done mark */
    uint64_t failed;    /* runs that failed and were queued again */
    uint64_t dead;      /* jobs given up (failed or interrupted on the last attempt) */
    uint64_t lost;      /* runs whose lease had been lost: nothing kept */
    uint64_t scheduled; /* jobs enqueued by the scheduler */
};
void jobs_get_stats(struct jobs_stats *out);
/* Appends the counters in Prometheus text format (entrepot_jobs_*). */
enum st jobs_metrics_render(struct buf *out);

#endif
