/*
 * test_jobs.c — src/jobs: the durable queue, its fencing, retries, leases,
 * the scheduler and the worker threads.
 *
 * Every test in JOBS_TESTS runs on SQLite (a fresh file per test) and, when
 * ENTREPOT_TEST_PG_URL names a throwaway database (scripts/pg-cluster.sh
 * start DIR prints one), on PostgreSQL too, whose public schema is dropped
 * and recreated per test. Time is moved with clock_set_offset_ms. A crash
 * is a real one: a forked child claims a job, does the work and _exits
 * before its commit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "jobs/jobs_int.h" /* struct job: a claim's id */
#include "db_fixture.h"

/* ---------------------------------------------------------------- db helpers */

static void text_of(struct db *db, const char *sql, int64_t arg, char *out, size_t n)
{
    struct db_conn *c;
    struct db_stmt *s;
    bool row = false;
    assert_int_equal(db_acquire(db, &c), ST_OK);
    assert_int_equal(db_prepare(c, sql, &s), ST_OK);
    assert_int_equal(db_bind_int64(s, 1, arg), ST_OK);
    assert_int_equal(db_step(s, &row), ST_OK);
    snprintf(out, n, "%s", row && !db_col_is_null(s, 0) ? db_col_text(s, 0) : "");
    db_stmt_done(s);
    db_release(c);
}

static void expect_state(struct fx *f, int64_t id, const char *want)
{
    char st[32];
    text_of(f->db, "SELECT state FROM jobs WHERE id = ?", id, st, sizeof st);
    if (strcmp(st, want) != 0) {
        char err[400];
        text_of(f->db, "SELECT last_error FROM jobs WHERE id = ?", id, err, sizeof err);
        fail_msg("job %lld is '%s', expected '%s' (last_error: %s)", (long long)id, st, want, err);
    }
}

/* Enqueues one job in a committed transaction of its own. */
static int64_t enqueue(struct fx *f, const char *kind, const char *payload,
                       const struct job_opts *o)
{
    struct db_conn *c;
    int64_t id = 0;
    json_t *p = payload ? json_loads(payload, 0, NULL) : NULL;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_begin(c), ST_OK);
    enum st st = jobs_enqueue(c, kind, p, o, &id);
    if (st != ST_OK)
        fail_msg("jobs_enqueue(%s): %s", kind, st_name(st));
    assert_int_equal(db_commit(c), ST_OK);
    db_release(c);
    json_decref(p);
    return id;
}

static int64_t effects(struct fx *f, int64_t job_id)
{
    return fx_scalar(f->db, "SELECT COUNT(*) FROM job_effects WHERE job_id = ?", job_id);
}

static bool run_one(struct fx *f, const char *worker)
{
    bool ran = false;
    assert_int_equal(jobs_run_one(f->db, worker, &ran), ST_OK);
    return ran;
}

static void clock_forward(int64_t ms)
{
    clock_set_offset_ms(clock_offset_ms() + ms);
}

/* ---------------------------------------------------------------- handlers */

#define RUNS_MAX 4096
static atomic_int runs[RUNS_MAX]; /* handler starts per job id */
static bool crash_after_work;     /* set in the forked child only */
static struct db *main_db;        /* for handlers that look from outside */

static void count_run(const struct job_ctx *ctx)
{
    if (ctx->id > 0 && ctx->id < RUNS_MAX)
        atomic_fetch_add(&runs[ctx->id], 1);
}

static enum st write_effect(struct job_ctx *ctx)
{
    struct db_stmt *s;
    bool row;
    enum st st = db_prepare(ctx->c, "INSERT INTO job_effects (job_id, attempt) VALUES (?, ?)", &s);
    if (st != ST_OK)
        return st;
    st = db_bind_int64(s, 1, ctx->id);
    if (st == ST_OK)
        st = db_bind_int64(s, 2, ctx->attempt);
    if (st == ST_OK)
        st = db_step(s, &row);
    db_stmt_done(s);
    return st;
}

/* Short: writes an effect; {"fail":"unavailable"|"invalid"} fails after
 * writing it (so the effect must be rolled back). */
static enum st h_effect(struct job_ctx *ctx)
{
    count_run(ctx);
    enum st st = write_effect(ctx);
    if (st != ST_OK)
        return st;
    if (crash_after_work)
        _exit(0); /* the work is done, the commit never happens */
    const char *fail = json_string_value(json_object_get(ctx->payload, "fail"));
    if (fail && strcmp(fail, "invalid") == 0) {
        job_set_error(ctx, "payload says invalid");
        return ST_INVALID;
    }
    if (fail) {
        job_set_error(ctx, "provider down (attempt %d)", ctx->attempt);
        return ST_UNAVAILABLE;
    }
    return ST_OK;
}

static enum st h_noop(struct job_ctx *ctx)
{
    count_run(ctx);
    return ST_OK;
}

/* Long: {"mode":"heartbeat"} walks the clock past the first lease while
 * heartbeating and checks nobody can claim it meanwhile; otherwise it
 * heartbeats, begins and writes an effect. */
static enum st h_long(struct job_ctx *ctx)
{
    count_run(ctx);
    const char *mode = json_string_value(json_object_get(ctx->payload, "mode"));
    enum st st = ST_OK;
    if (mode && strcmp(mode, "heartbeat") == 0) {
        for (int i = 0; i < 3 && st == ST_OK; i++) {
            clock_forward(2000); /* lease 3 s: 6 s in all, heartbeats every 2 s */
            st = job_heartbeat(ctx);
            struct job *other = NULL;
            if (st == ST_OK && jobs_claim(main_db, "intruder", &other) == ST_OK && other) {
                job_free(other);
                return ST_INTERNAL; /* claimed under our feet: the test fails */
            }
        }
    } else {
        st = job_heartbeat(ctx);
    }
    if (st == ST_OK)
        st = job_begin(ctx);
    if (st == ST_OK)
        st = write_effect(ctx);
    return st;
}

/* Long: works until the worker stops, then asks to be retried. */
static atomic_bool sleeper_started;
static enum st h_sleep(struct job_ctx *ctx)
{
    count_run(ctx);
    atomic_store(&sleeper_started, true);
    for (int i = 0; i < 1000 && !job_stopping(ctx); i++)
        usleep(10000);
    return job_stopping(ctx) ? ST_UNAVAILABLE : ST_OK;
}

static const struct job_kind test_kinds[] = {
    {.name = "t.effect", .run = h_effect, .max_attempts = 3, .lease_ms = 5000},
    {.name = "t.retry", .run = h_effect, .max_attempts = 4, .backoff_ms = 10000},
    {.name = "t.once", .run = h_effect, .max_attempts = 1, .lease_ms = 2000},
    {.name = "t.long", .run = h_long, .lease_ms = 3000, .long_running = true},
    {.name = "t.sleep", .run = h_sleep, .long_running = true},
    {.name = "t.noop", .run = h_noop},
};

static const struct job_schedule test_schedules[] = {
    {.name = "t.every", .kind = "t.noop", .every_ms = 60000},
    {.name = "t.daily",
     .kind = "t.noop",
     .daily = true,
     .daily_minute = 180,
     .payload = "{\"daily\":true}"},
};

/* ---------------------------------------------------------------- fixture */

static int setup(void **state, enum db_kind kind)
{
    struct fx *f = calloc(1, sizeof *f);
    *state = f;
    if (fx_open(f, kind, "test_jobs", 8) != 0)
        return -1;
    fx_exec(f->db, "CREATE TABLE job_effects (job_id BIGINT NOT NULL, attempt BIGINT NOT NULL)");
    clock_set_offset_ms(0);
    for (size_t i = 0; i < RUNS_MAX; i++)
        atomic_store(&runs[i], 0);
    main_db = f->db;
    return 0;
}

static int setup_sqlite(void **state)
{
    return setup(state, DB_SQLITE);
}

static int setup_pg(void **state)
{
    return setup(state, DB_POSTGRES);
}

static int teardown(void **state)
{
    fx_close(*state);
    clock_set_offset_ms(0);
    main_db = NULL;
    return 0;
}

/* ---------------------------------------------------------------- tests */

static void test_enqueue_rules(void **state)
{
    struct fx *f = *state;
    struct db_conn *c;
    int64_t id = -1;
    json_t *arr = json_array(), *big = json_object();
    char *filler = xcalloc(1, JOBS_PAYLOAD_MAX + 1);
    memset(filler, 'x', JOBS_PAYLOAD_MAX);
    json_object_set_new(big, "x", json_string(filler));
    free(filler);
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_begin(c), ST_OK);
    assert_int_equal(jobs_enqueue(c, "no.such.kind", NULL, NULL, &id), ST_INVALID);
    assert_int_equal(id, 0);
    assert_int_equal(jobs_enqueue(c, "t.noop", arr, NULL, NULL), ST_INVALID);
    assert_int_equal(jobs_enqueue(c, "t.noop", big, NULL, NULL), ST_INVALID);
    struct job_opts bad = {.unique_key = "has space"};
    assert_int_equal(jobs_enqueue(c, "t.noop", NULL, &bad, NULL), ST_INVALID);
    /* A unique key enqueues once; the duplicate leaves the transaction usable. */
    struct job_opts once = {.unique_key = "export:user:42", .user_id = 42};
    int64_t first = 0, second = -1;
    assert_int_equal(jobs_enqueue(c, "t.noop", NULL, &once, &first), ST_OK);
    assert_true(first > 0);
    assert_int_equal(jobs_enqueue(c, "t.noop", NULL, &once, &second), ST_OK);
    assert_int_equal(second, 0);
    assert_int_equal(db_commit(c), ST_OK);
    /* A rolled-back enqueue leaves no job. */
    assert_int_equal(db_begin(c), ST_OK);
    assert_int_equal(jobs_enqueue(c, "t.noop", NULL, NULL, &id), ST_OK);
    assert_int_equal(db_rollback(c), ST_OK);
    db_release(c);
    json_decref(arr);
    json_decref(big);
    assert_int_equal(fx_scalar(f->db, "SELECT COUNT(*) FROM jobs", -1), 1);
    assert_int_equal(fx_scalar(f->db, "SELECT user_id FROM jobs WHERE id = ?", first), 42);
}

static void test_run_to_done(void **state)
{
    struct fx *f = *state;
    int64_t t0 = clock_now_ms();
    int64_t id = enqueue(f, "t.effect", "{\"n\":1}", NULL);
    int64_t later = enqueue(f, "t.effect", NULL, &(struct job_opts){.run_at = t0 + 60000});
    expect_state(f, id, "queued");
    assert_true(run_one(f, "w1"));
    expect_state(f, id, "done");
    assert_int_equal(effects(f, id), 1);
    assert_int_equal(fx_scalar(f->db, "SELECT attempts FROM jobs WHERE id = ?", id), 1);
    assert_true(fx_scalar(f->db, "SELECT finished_at FROM jobs WHERE id = ?", id) >= t0);
    assert_int_equal(fx_scalar(f->db, "SELECT lease_until IS NULL FROM jobs WHERE id = ?", id), 1);
    char w[64];
    text_of(f->db, "SELECT worker FROM jobs WHERE id = ?", id, w, sizeof w);
    assert_string_equal(w, "w1");
    /* Nothing else is due: the later job waits for its time. */
    assert_false(run_one(f, "w1"));
    expect_state(f, later, "queued");
    clock_forward(60000);
    assert_true(run_one(f, "w1"));
    expect_state(f, later, "done");
    assert_false(run_one(f, "w1"));
    assert_int_equal(atomic_load(&runs[id]), 1);
}

/* Threads that claim (and, with execute, run) jobs until none is due. */
struct racer {
    struct db *db;
    pthread_barrier_t *go;
    bool execute;
    char name[16];
    int64_t ids[RUNS_MAX];
    int n;
    enum st err;
};

static void *race_main(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->go);
    for (int spins = 0; spins < 100000; spins++) {
        struct job *j = NULL;
        enum st st = jobs_claim(r->db, r->name, &j);
        if (st == ST_CONFLICT || st == ST_UNAVAILABLE)
            continue; /* contention (a busy SQLite file, a serialization failure): again */
        if (st != ST_OK) {
            r->err = st;
            return NULL;
        }
        if (!j)
            return NULL;
        r->ids[r->n++] = j->id;
        if (r->execute)
            jobs_execute(r->db, j);
        job_free(j);
    }
    r->err = ST_INTERNAL;
    return NULL;
}

/* Starts n racers (each on its own connection) at once, waits for them and
 * returns how many jobs they claimed in all. */
static int race(struct fx *f, struct racer *r, int n, bool execute)
{
    pthread_t t[8];
    pthread_barrier_t go;
    assert_true(n <= 8);
    pthread_barrier_init(&go, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        r[i] = (struct racer){.db = f->db, .go = &go, .execute = execute};
        snprintf(r[i].name, sizeof r[i].name, "racer-%d", i);
        assert_int_equal(pthread_create(&t[i], NULL, race_main, &r[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].err, ST_OK);
        total += r[i].n;
    }
    pthread_barrier_destroy(&go);
    return total;
}

static void enqueue_many(struct fx *f, const char *kind, int n)
{
    struct db_conn *c;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_begin(c), ST_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(jobs_enqueue(c, kind, NULL, NULL, NULL), ST_OK);
    assert_int_equal(db_commit(c), ST_OK);
    db_release(c);
}

/* Two threads, two connections, claiming only: no job is claimed twice. */
static void test_claim_race(void **state)
{
    struct fx *f = *state;
    enum { N = 400, T = 2 };
    enqueue_many(f, "t.noop", N);
    static struct racer r[T];
    assert_int_equal(race(f, r, T, false), N);
    static int seen[RUNS_MAX];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < T; i++)
        for (int k = 0; k < r[i].n; k++) {
            assert_true(r[i].ids[k] > 0 && r[i].ids[k] < RUNS_MAX);
            if (seen[r[i].ids[k]]++)
                fail_msg("job %lld claimed twice", (long long)r[i].ids[k]);
        }
    /* On PostgreSQL both take a share (SKIP LOCKED: the claims really run
     * side by side). SQLite serialises writers on the file lock and its
     * busy handler sleeps, so one thread may well take everything. */
    if (f->kind == DB_POSTGRES && (r[0].n == 0 || r[1].n == 0))
        fail_msg("no race: claims %d and %d", r[0].n, r[1].n);
    assert_int_equal(
        fx_scalar(f->db, "SELECT COUNT(*) FROM jobs WHERE state = 'running' AND attempts = 1", -1),
        N);
}

/* Four threads running jobs to the end: each job's work is done once. */
static void test_parallel_runs(void **state)
{
    struct fx *f = *state;
    enum { N = 120, T = 4 };
    enqueue_many(f, "t.effect", N);
    static struct racer r[T];
    assert_int_equal(race(f, r, T, true), N);
    assert_int_equal(fx_scalar(f->db, "SELECT COUNT(*) FROM jobs WHERE state = 'done'", -1), N);
    assert_int_equal(fx_scalar(f->db, "SELECT COUNT(*) FROM job_effects", -1), N);
    assert_int_equal(fx_scalar(f->db, "SELECT COUNT(DISTINCT job_id) FROM job_effects", -1), N);
    for (int64_t id = 1; id <= N; id++)
        assert_int_equal(atomic_load(&runs[id]), 1);
}

/* A failing job is retried after 10 s, 20 s, 40 s (plus up to a quarter of
 * jitter), its effects rolled back each time, and is dead after 4 tries. */
static void test_backoff_and_dead(void **state)
{
    struct fx *f = *state;
    int64_t id = enqueue(f, "t.retry", "{\"fail\":\"unavailable\"}", NULL);
    int64_t delay = 10000;
    for (int attempt = 1; attempt <= 4; attempt++) {
        int64_t before = clock_now_ms();
        assert_true(run_one(f, "w"));
        assert_int_equal(fx_scalar(f->db, "SELECT attempts FROM jobs WHERE id = ?", id), attempt);
        assert_int_equal(effects(f, id), 0); /* rolled back with the failure */
        char err[128];
        text_of(f->db, "SELECT last_error FROM jobs WHERE id = ?", id, err, sizeof err);
        char want[64];
        snprintf(want, sizeof want, "provider down (attempt %d)", attempt);
        assert_string_equal(err, want);
        if (attempt == 4)
            break;
        expect_state(f, id, "queued");
        int64_t run_at = fx_scalar(f->db, "SELECT run_at FROM jobs WHERE id = ?", id);
        int64_t after = clock_now_ms();
        if (run_at < before + delay || run_at > after + delay + delay / 4)
            fail_msg("attempt %d: retry in %lld ms, expected %lld..%lld", attempt,
                     (long long)(run_at - before), (long long)delay,
                     (long long)(delay + delay / 4));
        /* Not a moment before its time. */
        clock_set_offset_ms(clock_offset_ms() + (run_at - clock_now_ms()) - 50);
        assert_false(run_one(f, "w"));
        clock_forward(100);
        delay *= 2;
    }
    expect_state(f, id, "dead");
    assert_true(fx_scalar(f->db, "SELECT finished_at FROM jobs WHERE id = ?", id) > 0);
    clock_forward(7 * 86400000LL);
    assert_false(run_one(f, "w")); /* dead stays dead */
    assert_int_equal(atomic_load(&runs[id]), 4);
}

static void test_invalid_is_dead_at_once(void **state)
{
    struct fx *f = *state;
    int64_t id = enqueue(f, "t.effect", "{\"fail\":\"invalid\"}", NULL);
    assert_true(run_one(f, "w"));
    expect_state(f, id, "dead");
    assert_int_equal(fx_scalar(f->db, "SELECT attempts FROM jobs WHERE id = ?", id), 1);
    assert_int_equal(effects(f, id), 0);
    char err[128];
    text_of(f->db, "SELECT last_error FROM jobs WHERE id = ?", id, err, sizeof err);
    assert_string_equal(err, "payload says invalid");
}

/* A worker that claimed a job and went silent: the lease holds the job
 * until it runs out, then another worker runs it; the first worker, if it
 * wakes up, can complete nothing. */
static void test_lease_expiry_rerun(void **state)
{
    struct fx *f = *state;
    int64_t id = enqueue(f, "t.effect", NULL, NULL);
    struct job *stale = NULL;
    assert_int_equal(jobs_claim(f->db, "stuck", &stale), ST_OK);
    assert_non_null(stale);
    assert_false(run_one(f, "other")); /* leased */
    clock_forward(4900);
    assert_false(run_one(f, "other")); /* lease is 5 s */
    clock_forward(200);
    assert_true(run_one(f, "other"));
    expect_state(f, id, "done");
    assert_int_equal(fx_scalar(f->db, "SELECT attempts FROM jobs WHERE id = ?", id), 2);
    assert_int_equal(effects(f, id), 1);
    /* The stuck worker resumes: refused, its handler never starts. */
    assert_int_equal(jobs_execute(f->db, stale), ST_CONFLICT);
    job_free(stale);
    expect_state(f, id, "done");
    assert_int_equal(effects(f, id), 1);
    assert_int_equal(atomic_load(&runs[id]), 1);

    /* The same while the new claim is still at work: the attempt number,
     * not the state, fences the old run out. */
    id = enqueue(f, "t.effect", NULL, NULL);
    struct job *old = NULL, *fresh = NULL;
    assert_int_equal(jobs_claim(f->db, "old", &old), ST_OK);
    assert_non_null(old);
    clock_forward(5100);
    assert_int_equal(jobs_claim(f->db, "fresh", &fresh), ST_OK);
    assert_non_null(fresh);
    assert_int_equal(jobs_execute(f->db, old), ST_CONFLICT);
    expect_state(f, id, "running");
    assert_int_equal(effects(f, id), 0);
    assert_int_equal(jobs_execute(f->db, fresh), ST_OK);
    job_free(old);
    job_free(fresh);
    expect_state(f, id, "done");
    assert_int_equal(effects(f, id), 1);
    struct jobs_stats s;
    jobs_get_stats(&s);
    assert_true(s.lost >= 2);
}

/* A long handler keeps its lease with heartbeats, past the first lease. */
static void test_long_heartbeat(void **state)
{
    struct fx *f = *state;
    int64_t id = enqueue(f, "t.long", "{\"mode\":\"heartbeat\"}", NULL);
    assert_true(run_one(f, "w"));
    expect_state(f, id, "done");
    assert_int_equal(fx_scalar(f->db, "SELECT attempts FROM jobs WHERE id = ?", id), 1);
    assert_int_equal(effects(f, id), 1);
}

/* A long handler whose lease was lost finds its heartbeat refused and
 * keeps nothing. */
static void test_long_stale_run(void **state)
{
    struct fx *f = *state;
    int64_t id = enqueue(f, "t.long", NULL, NULL);
    struct job *stale = NULL;
    assert_int_equal(jobs_claim(f->db, "slow", &stale), ST_OK);
    assert_non_null(stale);
    clock_forward(3100);
    assert_true(run_one(f, "fast"));
    expect_state(f, id, "done");
    assert_int_equal(jobs_execute(f->db, stale), ST_CONFLICT);
    job_free(stale);
    assert_int_equal(effects(f, id), 1);
    assert_int_equal(atomic_load(&runs[id]), 2); /* started twice, completed once */
    expect_state(f, id, "done");
}

static void test_dead_when_lease_expires_on_last_attempt(void **state)
{
    struct fx *f = *state;
    int64_t id = enqueue(f, "t.once", NULL, NULL);
    struct job *j = NULL;
    assert_int_equal(jobs_claim(f->db, "doomed", &j), ST_OK);
    assert_non_null(j);
    job_free(j); /* the worker dies */
    clock_forward(2100);
    assert_false(run_one(f, "next"));
    expect_state(f, id, "dead");
    char err[128];
    text_of(f->db, "SELECT last_error FROM jobs WHERE id = ?", id, err, sizeof err);
    assert_non_null(strstr(err, "lease expired"));
}

/* A real crash: a child process claims the job, does the work in the
 * job's transaction, and _exits before its commit. */
static void test_crash_after_work(void **state)
{
    struct fx *f = *state;
    int64_t id = enqueue(f, "t.effect", NULL, NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct db *db;
        char err[256];
        crash_after_work = true;
        if (db_open(f->url, 1, &db, err, sizeof err) != ST_OK)
            _exit(3);
        bool ran = false;
        jobs_run_one(db, "doomed", &ran);
        _exit(4); /* not reached when the handler ran */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The child claimed the job and its work died with it. */
    expect_state(f, id, "running");
    assert_int_equal(fx_scalar(f->db, "SELECT attempts FROM jobs WHERE id = ?", id), 1);
    assert_int_equal(effects(f, id), 0);
    assert_false(run_one(f, "survivor")); /* leased to the dead child */
    clock_forward(5100);
    assert_true(run_one(f, "survivor"));
    expect_state(f, id, "done");
    assert_int_equal(fx_scalar(f->db, "SELECT attempts FROM jobs WHERE id = ?", id), 2);
    assert_int_equal(effects(f, id), 1);
    clock_forward(3600000);
    assert_false(run_one(f, "survivor"));
    assert_int_equal(effects(f, id), 1);
}

/* Several schedulers ticking at once enqueue each slot once. */
struct ticker {
    struct db *db;
    int added;
    enum st err;
};

static void *tick_many(void *arg)
{
    struct ticker *t = arg;
    for (int i = 0; i < 20; i++) {
        int n = 0;
        enum st st = jobs_schedule_tick(t->db, &n, NULL);
        if (st == ST_UNAVAILABLE)
            continue; /* busy: the next tick does it */
        if (st != ST_OK) {
            t->err = st;
            return NULL;
        }
        t->added += n;
    }
    return NULL;
}

static int tick_race(struct fx *f)
{
    enum { T = 3 };
    struct ticker t[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        t[i] = (struct ticker){.db = f->db};
        assert_int_equal(pthread_create(&th[i], NULL, tick_many, &t[i]), 0);
    }
    int added = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].err, ST_OK);
        added += t[i].added;
    }
    return added;
}

static int64_t sched_count(struct fx *f, const char *name)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM jobs WHERE unique_key LIKE 'sched:%s:%%'",
             name);
    return fx_scalar(f->db, sql, -1);
}

static void test_schedule_once_per_slot(void **state)
{
    struct fx *f = *state;
    /* 02:58:30 UTC, five days from now: away from any slot boundary. */
    int64_t real = clock_now_ms();
    int64_t t = real - real % 86400000LL + 5 * 86400000LL + (2 * 3600 + 58 * 60 + 30) * 1000LL;
    clock_set_offset_ms(t - real);
    int added = tick_race(f);
    assert_int_equal(added, 3); /* t.every, t.daily, jobs.purge */
    assert_int_equal(sched_count(f, "t.every"), 1);
    assert_int_equal(sched_count(f, "t.daily"), 1);
    assert_int_equal(sched_count(f, "jobs.purge"), 1);
    /* The slots start where they should: the minute, yesterday's 03:00. */
    int64_t minute = t - t % 60000;
    assert_int_equal(
        fx_scalar(f->db, "SELECT run_at FROM jobs WHERE unique_key LIKE 'sched:t.every:%'", -1),
        minute);
    int64_t yday3 = t - t % 86400000LL - 86400000LL + 3 * 3600000LL;
    assert_int_equal(
        fx_scalar(f->db, "SELECT run_at FROM jobs WHERE unique_key LIKE 'sched:t.daily:%'", -1),
        yday3);
    char payload[64];
    text_of(f->db, "SELECT payload FROM jobs WHERE run_at = ?", yday3, payload, sizeof payload);
    assert_string_equal(payload, "{\"daily\":true}");
    int64_t next = 0;
    assert_int_equal(jobs_schedule_tick(f->db, NULL, &next), ST_OK);
    assert_int_equal(next, minute + 60000);
    /* One minute on: a new t.every slot; at 03:00 today a new daily one. */
    clock_forward(60000);
    assert_int_equal(tick_race(f), 1);
    assert_int_equal(sched_count(f, "t.every"), 2);
    assert_int_equal(sched_count(f, "t.daily"), 1);
    clock_forward(60000); /* 03:00:30: also a new hour for jobs.purge */
    assert_int_equal(tick_race(f), 3);
    assert_int_equal(sched_count(f, "t.every"), 3);
    assert_int_equal(sched_count(f, "t.daily"), 2);
    assert_int_equal(sched_count(f, "jobs.purge"), 2);
    /* Downtime of ten minutes: one slot, not ten. */
    clock_forward(10 * 60000);
    assert_int_equal(tick_race(f), 1);
    assert_int_equal(sched_count(f, "t.every"), 4);
    /* The slots run once each. */
    int ran = 0;
    while (run_one(f, "w"))
        ran++;
    assert_int_equal(ran, 8);
    assert_int_equal(fx_scalar(f->db, "SELECT COUNT(*) FROM jobs WHERE state = 'done'", -1), 8);
}

static void wait_until_done(struct fx *f, int64_t want, const char *kind)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM jobs WHERE state = 'done' AND kind = '%s'",
             kind);
    for (int i = 0; i < 1000; i++) {
        if (fx_scalar(f->db, sql, -1) >= want)
            return;
        usleep(10000);
    }
    fail_msg("only %lld of %lld %s jobs done after 10 s", (long long)fx_scalar(f->db, sql, -1),
             (long long)want, kind);
}

static void test_worker_threads(void **state)
{
    struct fx *f = *state;
    struct jobs_stats before, after;
    jobs_get_stats(&before);
    struct jobs_worker *w = NULL;
    assert_int_equal(jobs_worker_start(f->db, 2, "test", &w), ST_OK);
    enqueue_many(f, "t.effect", 30);
    jobs_wake();
    wait_until_done(f, 30, "t.effect");
    /* The first thread ran the scheduler: the purge slot is there. */
    wait_until_done(f, 1, "jobs.purge");
    jobs_worker_stop(w);
    jobs_get_stats(&after);
    assert_true(after.completed - before.completed >= 31);
    assert_true(after.scheduled - before.scheduled >= 1);
    assert_int_equal(fx_scalar(f->db, "SELECT COUNT(*) FROM job_effects", -1), 30);
    struct buf m;
    buf_init(&m, 8192);
    assert_int_equal(jobs_metrics_render(&m), ST_OK);
    assert_non_null(strstr(m.data, "entrepot_jobs_completed_total "));
    buf_free(&m);
}

/* SIGTERM's path: a job in progress sees job_stopping and is retried
 * later; stopping does not wait for the handler's own 10 s. */
static void test_worker_graceful_stop(void **state)
{
    struct fx *f = *state;
    atomic_store(&sleeper_started, false);
    int64_t id = enqueue(f, "t.sleep", NULL, NULL);
    struct jobs_worker *w = NULL;
    assert_int_equal(jobs_worker_start(f->db, 1, "stopper", &w), ST_OK);
    for (int i = 0; i < 500 && !atomic_load(&sleeper_started); i++)
        usleep(10000);
    assert_true(atomic_load(&sleeper_started));
    uint64_t t0 = clock_mono_ns();
    jobs_worker_stop(w);
    assert_true(clock_mono_ns() - t0 < 5000000000ull);
    expect_state(f, id, "queued");
    assert_int_equal(fx_scalar(f->db, "SELECT attempts FROM jobs WHERE id = ?", id), 1);
}

static void test_purge(void **state)
{
    struct fx *f = *state;
    int64_t old_done = enqueue(f, "t.noop", NULL, NULL);
    int64_t old_dead = enqueue(f, "t.effect", "{\"fail\":\"invalid\"}", NULL);
    assert_true(run_one(f, "w"));
    assert_true(run_one(f, "w"));
    clock_forward(JOBS_KEEP_DONE_MS + 1000);
    int64_t waiting = enqueue(f, "t.noop", NULL, &(struct job_opts){.run_at = INT64_MAX / 2});
    int64_t purge = enqueue(f, "jobs.purge", NULL, NULL);
    assert_true(run_one(f, "w"));
    expect_state(f, purge, "done");
    assert_int_equal(fx_scalar(f->db, "SELECT COUNT(*) FROM jobs WHERE id = ?", old_done), 0);
    expect_state(f, old_dead, "dead"); /* dead jobs stay 30 days */
    expect_state(f, waiting, "queued");
    clock_forward(JOBS_KEEP_DEAD_MS);
    purge = enqueue(f, "jobs.purge", NULL, NULL);
    assert_true(run_one(f, "w"));
    assert_int_equal(fx_scalar(f->db, "SELECT COUNT(*) FROM jobs WHERE id = ?", old_dead), 0);
    expect_state(f, waiting, "queued");
}

/* jobs_cancel removes a job that has not started, and nothing else. */
static void test_cancel(void **state)
{
    struct fx *f = *state;
    int64_t later = enqueue(f, "t.noop", NULL, &(struct job_opts){.run_at = INT64_MAX / 2});
    int64_t done = enqueue(f, "t.noop", NULL, NULL);
    assert_true(run_one(f, "w"));
    struct db_conn *c;
    bool removed = true;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_begin(c), ST_OK);
    assert_int_equal(jobs_cancel(c, done, &removed), ST_OK);
    assert_false(removed);
    assert_int_equal(jobs_cancel(c, later, &removed), ST_OK);
    assert_true(removed);
    assert_int_equal(jobs_cancel(c, later, &removed), ST_OK);
    assert_false(removed);
    assert_int_equal(db_commit(c), ST_OK);
    db_release(c);
    assert_int_equal(fx_scalar(f->db, "SELECT COUNT(*) FROM jobs WHERE id = ?", later), 0);
    expect_state(f, done, "done");
}

static void test_registration_rules(void **state)
{
    (void)state;
    static const struct job_kind bad_name[] = {{.name = "Bad Name", .run = h_noop}};
    static const struct job_kind dup[] = {{.name = "t.noop", .run = h_noop}};
    static const struct job_kind no_fn[] = {{.name = "t.nofn"}};
    static const struct job_kind bad_lease[] = {{.name = "t.lease", .run = h_noop, .lease_ms = 5}};
    assert_int_equal(jobs_register(bad_name, 1), ST_INVALID);
    assert_int_equal(jobs_register(dup, 1), ST_CONFLICT);
    assert_int_equal(jobs_register(no_fn, 1), ST_INVALID);
    assert_int_equal(jobs_register(bad_lease, 1), ST_INVALID);
    static const struct job_schedule unknown[] = {{.name = "s", .kind = "nope", .every_ms = 60000}};
    static const struct job_schedule fast[] = {{.name = "s", .kind = "t.noop", .every_ms = 10}};
    static const struct job_schedule late[] = {
        {.name = "s", .kind = "t.noop", .daily = true, .daily_minute = 1440}};
    static const struct job_schedule badpay[] = {
        {.name = "s", .kind = "t.noop", .every_ms = 60000, .payload = "[1]"}};
    static const struct job_schedule again[] = {
        {.name = "t.every", .kind = "t.noop", .every_ms = 60000}};
    assert_int_equal(jobs_schedule_add(unknown, 1), ST_INVALID);
    assert_int_equal(jobs_schedule_add(fast, 1), ST_INVALID);
    assert_int_equal(jobs_schedule_add(late, 1), ST_INVALID);
    assert_int_equal(jobs_schedule_add(badpay, 1), ST_INVALID);
    assert_int_equal(jobs_schedule_add(again, 1), ST_CONFLICT);
    assert_int_equal(jobs_builtin_register(), ST_OK); /* idempotent */
    assert_non_null(jobs_kind_find("jobs.purge"));
    assert_null(jobs_kind_find("t.nofn"));
}

#define JOBS_TESTS(setup)                                                                          \
    cmocka_unit_test_setup_teardown(test_enqueue_rules, setup, teardown),                          \
        cmocka_unit_test_setup_teardown(test_run_to_done, setup, teardown),                        \
        cmocka_unit_test_setup_teardown(test_claim_race, setup, teardown),                         \
        cmocka_unit_test_setup_teardown(test_parallel_runs, setup, teardown),                      \
        cmocka_unit_test_setup_teardown(test_backoff_and_dead, setup, teardown),                   \
        cmocka_unit_test_setup_teardown(test_invalid_is_dead_at_once, setup, teardown),            \
        cmocka_unit_test_setup_teardown(test_lease_expiry_rerun, setup, teardown),                 \
        cmocka_unit_test_setup_teardown(test_long_heartbeat, setup, teardown),                     \
        cmocka_unit_test_setup_teardown(test_long_stale_run, setup, teardown),                     \
        cmocka_unit_test_setup_teardown(test_dead_when_lease_expires_on_last_attempt, setup,       \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(test_crash_after_work, setup, teardown),                   \
        cmocka_unit_test_setup_teardown(test_schedule_once_per_slot, setup, teardown),             \
        cmocka_unit_test_setup_teardown(test_worker_threads, setup, teardown),                     \
        cmocka_unit_test_setup_teardown(test_worker_graceful_stop, setup, teardown),               \
        cmocka_unit_test_setup_teardown(test_purge, setup, teardown),                              \
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown)

int main(void)
{
    log_init(LOG_ERROR, true); /* failing jobs log on purpose */
    if (sodium_init() < 0)
        return 1;
    if (jobs_register(test_kinds, sizeof test_kinds / sizeof test_kinds[0]) != ST_OK ||
        jobs_builtin_register() != ST_OK ||
        jobs_schedule_add(test_schedules, sizeof test_schedules / sizeof test_schedules[0]) !=
            ST_OK) {
        fprintf(stderr, "cannot register the test kinds\n");
        return 1;
    }
    const struct CMUnitTest common[] = {cmocka_unit_test(test_registration_rules)};
    const struct CMUnitTest sqlite[] = {JOBS_TESTS(setup_sqlite)};
    const struct CMUnitTest postgres[] = {JOBS_TESTS(setup_pg)};
    int failed = cmocka_run_group_tests_name("jobs", common, NULL, NULL);
    failed += cmocka_run_group_tests_name("jobs_sqlite", sqlite, NULL, NULL);
    const char *pg = getenv("ENTREPOT_TEST_PG_URL");
    if (pg && *pg)
        failed += cmocka_run_group_tests_name("jobs_postgres", postgres, NULL, NULL);
    else
        printf("[  SKIPPED ] jobs_postgres: set ENTREPOT_TEST_PG_URL "
               "(scripts/pg-cluster.sh start DIR prints one)\n");
    return failed ? 1 : 0;
}
