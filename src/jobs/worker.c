/*
 * worker.c — the threads that run jobs, the scheduler of recurring jobs,
 * and the queue's own housekeeping job.
 *
 * The design decision: the scheduler keeps no state of its own in the
 * database. A slot is one row whose unique_key names the schedule and the
 * slot's start ("sched:jobs.purge:1700000000000"), so enqueueing it is
 * idempotent and any number of workers, on any number of nodes, may tick
 * the scheduler at once: the unique constraint lets exactly one insert
 * through. Each worker remembers only when the next slot starts, so an
 * idle worker writes nothing between slots.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobs_int.h"

/* ---------------------------------------------------------------- scheduler */

/* The start of the current slot of s at now, and of the next one. */
static void slot_of(const struct job_schedule *s, int64_t now, int64_t *slot, int64_t *next)
{
    if (s->daily) {
        int64_t day = now - now % 86400000LL;
        int64_t t = day + (int64_t)s->daily_minute * 60000;
        if (t > now)
            t -= 86400000LL;
        *slot = t;
        *next = t + 86400000LL;
    } else {
        *slot = now - now % s->every_ms;
        *next = *slot + s->every_ms;
    }
}

enum st jobs_schedule_tick(struct db *db, int *enqueued, int64_t *next_ms)
{
    const struct job_schedule *list[JOBS_SCHEDULES_MAX];
    size_t n = jobs_schedules_snapshot(list);
    int added = 0;
    int64_t now = clock_now_ms(), next = INT64_MAX;
    struct db_conn *c = NULL;
    enum st st = n ? db_acquire(db, &c) : ST_OK;
    for (size_t i = 0; i < n && st == ST_OK; i++) {
        int64_t slot, after;
        slot_of(list[i], now, &slot, &after);
        if (after < next)
            next = after;
        char key[JOBS_KEY_MAX + 1];
        snprintf(key, sizeof key, "sched:%s:%lld", list[i]->name, (long long)slot);
        json_t *payload = list[i]->payload ? json_loads(list[i]->payload, 0, NULL) : NULL;
        struct job_opts o = {.run_at = slot, .unique_key = key};
        int64_t id = 0;
        st = jobs_enqueue(c, list[i]->kind, payload, &o, &id);
        json_decref(payload);
        if (st == ST_OK && id > 0) {
            added++;
            atomic_fetch_add(&jobs_counters.scheduled, 1);
        }
    }
    if (c)
        db_release(c);
    if (enqueued)
        *enqueued = added;
    if (next_ms)
        *next_ms = next;
    return st;
}

/* ---------------------------------------------------------------- built-in */

static enum st purge_run(struct job_ctx *ctx)
{
    int64_t now = clock_now_ms();
    return jobs_purge(ctx->c, now - JOBS_KEEP_DONE_MS, now - JOBS_KEEP_DEAD_MS, NULL);
}

static const struct job_kind builtin_kinds[] = {
    {.name = "jobs.purge", .run = purge_run},
};

static const struct job_schedule builtin_schedules[] = {
    {.name = "jobs.purge", .kind = "jobs.purge", .every_ms = JOBS_PURGE_EVERY_MS},
};

enum st jobs_builtin_register(void)
{
    if (jobs_kind_find(builtin_kinds[0].name))
        return ST_OK;
    enum st st = jobs_register(builtin_kinds, sizeof builtin_kinds / sizeof builtin_kinds[0]);
    if (st == ST_OK)
        st = jobs_schedule_add(builtin_schedules,
                               sizeof builtin_schedules / sizeof builtin_schedules[0]);
    return st;
}

/* ---------------------------------------------------------------- worker */

/* Every worker of the process waits on one condition variable; jobs_wake
 * bumps the sequence number and broadcasts. */
static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cv;
static pthread_once_t wake_once = PTHREAD_ONCE_INIT;
static uint64_t wake_seq;

static void wake_init(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wake_cv, &ca);
    pthread_condattr_destroy(&ca);
}

void jobs_wake(void)
{
    pthread_once(&wake_once, wake_init);
    pthread_mutex_lock(&wake_mu);
    wake_seq++;
    pthread_cond_broadcast(&wake_cv);
    pthread_mutex_unlock(&wake_mu);
}

struct worker_thread {
    struct jobs_worker *w;
    int index;
    pthread_t tid;
    char label[128]; /* host/pid/name-index, kept in the rows it claims */
};

struct jobs_worker {
    struct db *db;
    int threads;
    atomic_bool stop;
    char name[32];
    struct worker_thread t[JOBS_THREADS_MAX];
};

static uint64_t wake_seq_now(void)
{
    pthread_mutex_lock(&wake_mu);
    uint64_t v = wake_seq;
    pthread_mutex_unlock(&wake_mu);
    return v;
}

/* Waits up to ms, or until jobs_wake after seen, or the stop. */
static void wait_for_work(struct jobs_worker *w, uint64_t seen, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&wake_mu);
    while (wake_seq == seen && !atomic_load(&w->stop))
        if (pthread_cond_timedwait(&wake_cv, &wake_mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&wake_mu);
}

static void *worker_main(void *arg)
{
    struct worker_thread *t = arg;
    struct jobs_worker *w = t->w;
    char rid[48];
    snprintf(rid, sizeof rid, "jobs-%s-%d", w->name, t->index);
    log_set_request_id(rid);
    int64_t next_tick = 0;
    while (!atomic_load(&w->stop)) {
        uint64_t seen = wake_seq_now();
        int64_t now = clock_now_ms(), wait = JOBS_POLL_MS;
        /* The first thread also runs the scheduler, when a slot starts. */
        if (t->index == 0 && now >= next_tick) {
            enum st st = jobs_schedule_tick(w->db, NULL, &next_tick);
            if (st != ST_OK) {
                log_kv(LOG_WARN, "jobs: scheduler failed", "status", st_name(st),
                       (const char *)NULL);
                next_tick = now + 5 * JOBS_POLL_MS;
            }
        }
        struct job *j = NULL;
        enum st st = jobs_claim(w->db, t->label, &j);
        if (j) {
            jobs_execute_as(w->db, j, &w->stop);
            job_free(j);
            continue; /* more may be due */
        }
        if (st == ST_CONFLICT)
            continue; /* lost a race for the row: look again at once */
        if (st != ST_OK) {
            log_kv(LOG_WARN, "jobs: cannot claim", "status", st_name(st), (const char *)NULL);
            wait = 5 * JOBS_POLL_MS; /* do not hammer a failing database */
        }
        if (t->index == 0 && next_tick - now < wait)
            wait = next_tick - now < 1 ? 1 : next_tick - now;
        wait_for_work(w, seen, wait);
    }
    return NULL;
}

enum st jobs_worker_start(struct db *db, int threads, const char *name, struct jobs_worker **out)
{
    *out = NULL;
    if (!db || threads < 1 || threads > JOBS_THREADS_MAX || !name || !*name)
        return ST_INVALID;
    pthread_once(&wake_once, wake_init);
    struct jobs_worker *w = xcalloc(1, sizeof *w);
    w->db = db;
    snprintf(w->name, sizeof w->name, "%s", name);
    atomic_store(&w->stop, false);
    char host[64] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "%s", "?");
    for (int i = 0; i < threads; i++) {
        struct worker_thread *t = &w->t[i];
        t->w = w;
        t->index = i;
        snprintf(t->label, sizeof t->label, "%.60s/%ld/%s-%d", host, (long)getpid(), w->name, i);
        if (pthread_create(&t->tid, NULL, worker_main, t) != 0) {
            w->threads = i;
            jobs_worker_stop(w);
            return ST_INTERNAL;
        }
        w->threads = i + 1;
    }
    char n[16];
    snprintf(n, sizeof n, "%d", threads);
    log_kv(LOG_INFO, "jobs: worker started", "name", w->name, "threads", n, (const char *)NULL);
    *out = w;
    return ST_OK;
}

void jobs_worker_stop(struct jobs_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&wake_mu);
    atomic_store(&w->stop, true);
    pthread_cond_broadcast(&wake_cv);
    pthread_mutex_unlock(&wake_mu);
    for (int i = 0; i < w->threads; i++)
        pthread_join(w->t[i].tid, NULL);
    log_kv(LOG_INFO, "jobs: worker stopped", "name", w->name, (const char *)NULL);
    xfree(w);
}
