/*
 * jobs.c — the job queue: kind registry, enqueue, claim and execution.
 *
 * The one decision to know: attempts is the fencing token. A claim
 * increments it and every later write of that run (done mark, failure,
 * heartbeat) says WHERE state = 'running' AND attempts = <claimed value>,
 * so a run whose lease ran out and was claimed again can change nothing.
 * The done mark is written in the same transaction as the handler's own
 * writes (before the handler runs, for short handlers: on PostgreSQL that
 * also row-locks the job, so SKIP LOCKED claimers pass it by even if the
 * run outlives its lease), which is what makes completion exactly-once.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs_int.h"

struct jobs_counters jobs_counters;

/* ---------------------------------------------------------------- registry */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static const struct job_kind *kinds[JOBS_KINDS_MAX];
static size_t nkinds;
static const struct job_schedule *scheds[JOBS_SCHEDULES_MAX];
static size_t nscheds;

static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > JOBS_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static const struct job_kind *kind_find_locked(const char *name)
{
    for (size_t i = 0; i < nkinds; i++)
        if (strcmp(kinds[i]->name, name) == 0)
            return kinds[i];
    return NULL;
}

enum st jobs_register(const struct job_kind *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!name_ok(k[i].name) || !k[i].run || k[i].max_attempts < 0 || k[i].max_attempts > 100 ||
            k[i].backoff_ms < 0 || k[i].backoff_ms > 86400000 ||
            (k[i].lease_ms != 0 && (k[i].lease_ms < 1000 || k[i].lease_ms > 86400000)))
            return ST_INVALID;
        for (size_t j = 0; j < i; j++)
            if (strcmp(k[i].name, k[j].name) == 0)
                return ST_CONFLICT;
    }
    pthread_mutex_lock(&reg_mu);
    enum st st = nkinds + n > JOBS_KINDS_MAX ? ST_TOOLARGE : ST_OK;
    for (size_t i = 0; i < n && st == ST_OK; i++)
        if (kind_find_locked(k[i].name))
            st = ST_CONFLICT;
    for (size_t i = 0; i < n && st == ST_OK; i++)
        kinds[nkinds++] = &k[i];
    pthread_mutex_unlock(&reg_mu);
    return st;
}

const struct job_kind *jobs_kind_find(const char *name)
{
    if (!name)
        return NULL;
    pthread_mutex_lock(&reg_mu);
    const struct job_kind *k = kind_find_locked(name);
    pthread_mutex_unlock(&reg_mu);
    return k;
}

static bool schedule_ok(const struct job_schedule *s)
{
    if (!name_ok(s->name) || !jobs_kind_find(s->kind))
        return false;
    if (s->daily ? (s->daily_minute < 0 || s->daily_minute > 1439 || s->every_ms != 0)
                 : (s->every_ms < 1000 || s->every_ms > JOBS_EVERY_MAX_MS))
        return false;
    if (s->payload) {
        json_t *p = json_loads(s->payload, JSON_REJECT_DUPLICATES, NULL);
        bool ok = json_is_object(p);
        json_decref(p);
        return ok;
    }
    return true;
}

enum st jobs_schedule_add(const struct job_schedule *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!schedule_ok(&s[i]))
            return ST_INVALID;
        for (size_t j = 0; j < i; j++)
            if (strcmp(s[i].name, s[j].name) == 0)
                return ST_CONFLICT;
    }
    pthread_mutex_lock(&reg_mu);
    enum st st = nscheds + n > JOBS_SCHEDULES_MAX ? ST_TOOLARGE : ST_OK;
    for (size_t i = 0; i < n && st == ST_OK; i++)
        for (size_t j = 0; j < nscheds; j++)
            if (strcmp(scheds[j]->name, s[i].name) == 0)
                st = ST_CONFLICT;
    for (size_t i = 0; i < n && st == ST_OK; i++)
        scheds[nscheds++] = &s[i];
    pthread_mutex_unlock(&reg_mu);
    return st;
}

size_t jobs_schedules_snapshot(const struct job_schedule **out)
{
    pthread_mutex_lock(&reg_mu);
    size_t n = nscheds;
    memcpy(out, scheds, n * sizeof *out);
    pthread_mutex_unlock(&reg_mu);
    return n;
}

void jobs_registry_reset(void)
{
    pthread_mutex_lock(&reg_mu);
    nkinds = 0;
    nscheds = 0;
    pthread_mutex_unlock(&reg_mu);
}

/* ---------------------------------------------------------------- enqueue */

static bool key_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > JOBS_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7E)
            return false;
    return true;
}

enum st jobs_enqueue(struct db_conn *c, const char *kind, const json_t *payload,
                     const struct job_opts *o, int64_t *id)
{
    static const struct job_opts none;
    if (!o)
        o = &none;
    if (id)
        *id = 0;
    const struct job_kind *k = jobs_kind_find(kind);
    if (!k || (payload && !json_is_object(payload)) || (o->unique_key && !key_ok(o->unique_key)) ||
        o->user_id < 0 || o->run_at < 0)
        return ST_INVALID;
    char *text = payload ? json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS) : xstrdup("{}");
    if (!text)
        return ST_INVALID;
    if (strlen(text) > JOBS_PAYLOAD_MAX) {
        free(text);
        return ST_INVALID;
    }
    int64_t now = clock_now_ms();
    struct db_stmt *s;
    enum st st = db_prepare(c,
                            "INSERT INTO jobs (kind, payload, state, run_at, attempts, "
                            "max_attempts, lease_ms, unique_key, user_id, created_at) "
                            "VALUES (?, ?, 'queued', ?, 0, ?, ?, ?, ?, ?) "
                            "ON CONFLICT (unique_key) DO NOTHING RETURNING id",
                            &s);
    if (st != ST_OK) {
        free(text);
        return st;
    }
    st = db_bind_text(s, 1, k->name, SIZE_MAX);
    if (st == ST_OK)
        st = db_bind_text(s, 2, text, SIZE_MAX);
    if (st == ST_OK)
        st = db_bind_int64(s, 3, o->run_at ? o->run_at : now);
    if (st == ST_OK)
        st = db_bind_int64(s, 4, k->max_attempts ? k->max_attempts : JOBS_MAX_ATTEMPTS);
    if (st == ST_OK)
        st = db_bind_int64(s, 5, k->lease_ms ? k->lease_ms : JOBS_LEASE_MS);
    if (st == ST_OK)
        st = db_bind_text(s, 6, o->unique_key, SIZE_MAX);
    if (st == ST_OK)
        st = o->user_id ? db_bind_int64(s, 7, o->user_id) : db_bind_null(s, 7);
    if (st == ST_OK)
        st = db_bind_int64(s, 8, now);
    free(text);
    bool row = false;
    if (st == ST_OK)
        st = db_step(s, &row);
    if (st == ST_OK && row && id)
        *id = db_col_int64(s, 0);
    while (st == ST_OK && row)
        st = db_step(s, &row);
    db_stmt_done(s);
    return st;
}

enum st jobs_cancel(struct db_conn *c, int64_t id, bool *removed)
{
    int64_t n = 0;
    enum st st = db_execf(c, &n, "DELETE FROM jobs WHERE id = ? AND state = 'queued'", "i", id);
    if (removed)
        *removed = st == ST_OK && n > 0;
    return st;
}

enum st jobs_purge(struct db_conn *c, int64_t done_before, int64_t dead_before, int64_t *deleted)
{
    return db_execf(c, deleted,
                    "DELETE FROM jobs WHERE (state = 'done' AND finished_at < ?) "
                    "OR (state = 'dead' AND finished_at < ?)",
                    "ii", done_before, dead_before);
}

/* ---------------------------------------------------------------- claim */

void job_free(struct job *j)
{
    if (!j)
        return;
    json_decref(j->payload);
    xfree(j);
}

/* The claim: one statement. A due row (queued and due, or running with an
 * expired lease) is taken for this run, or, when its lease expired on the
 * last allowed attempt, set dead. SET expressions all see the old row. */
static const char CLAIM_SQL[] =
    "UPDATE jobs SET "
    "state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'running' END, "
    "attempts = CASE WHEN attempts >= max_attempts THEN attempts ELSE attempts + 1 END, "
    "lease_until = CASE WHEN attempts >= max_attempts THEN NULL ELSE ? + lease_ms END, "
    "finished_at = CASE WHEN attempts >= max_attempts THEN CAST(? AS BIGINT) ELSE NULL END, "
    "started_at = CASE WHEN attempts >= max_attempts THEN started_at "
    "ELSE CAST(? AS BIGINT) END, "
    "last_error = CASE WHEN attempts >= max_attempts "
    "THEN 'interrupted: the lease expired on the last attempt' ELSE last_error END, "
    "worker = ? "
    "WHERE id = (SELECT id FROM jobs WHERE kind IN (%s) AND ((state = 'queued' AND run_at <= ?) "
    "OR (state = 'running' AND lease_until <= ?)) ORDER BY run_at, id LIMIT 1%s) "
    "RETURNING id, kind, payload, state, attempts, max_attempts, run_at, lease_ms, user_id";

/* Builds the claim statement for the kinds registered now; copies their
 * names into names[] and returns how many. */
static size_t claim_sql(struct buf *sql, bool pg, const char **names)
{
    pthread_mutex_lock(&reg_mu);
    size_t n = nkinds;
    for (size_t i = 0; i < n; i++)
        names[i] = kinds[i]->name;
    pthread_mutex_unlock(&reg_mu);
    struct buf in;
    buf_init(&in, JOBS_KINDS_MAX * 3);
    for (size_t i = 0; i < n; i++)
        buf_puts(&in, i ? ", ?" : "?");
    buf_printf(sql, CLAIM_SQL, in.data, pg ? " FOR UPDATE SKIP LOCKED" : "");
    buf_free(&in);
    return n;
}

static void log_job(enum log_level lvl, const char *msg, const struct job *j, const char *key,
                    const char *val)
{
    char id[24], att[24];
    snprintf(id, sizeof id, "%lld", (long long)j->id);
    snprintf(att, sizeof att, "%lld", (long long)j->attempts);
    log_kv(lvl, msg, "job", id, "kind", j->k ? j->k->name : "?", "attempt", att, key, val,
           (const char *)NULL);
}

/* Reads one claimed row. A kind unregistered since the claim cannot
 * happen (the claim names registered kinds), but is handled as dead. */
static struct job *job_read(struct db_stmt *s, bool *dead)
{
    struct job *j = xcalloc(1, sizeof *j);
    j->id = db_col_int64(s, 0);
    j->k = jobs_kind_find(db_col_text(s, 1));
    j->payload = json_loads(db_col_is_null(s, 2) ? "" : db_col_text(s, 2), 0, NULL);
    *dead = strcmp(db_col_text(s, 3), "dead") == 0;
    j->attempts = db_col_int64(s, 4);
    j->max_attempts = db_col_int64(s, 5);
    j->run_at = db_col_int64(s, 6);
    j->lease_ms = db_col_int64(s, 7);
    j->user_id = db_col_int64(s, 8);
    return j;
}

enum st jobs_claim(struct db *db, const char *worker, struct job **out)
{
    *out = NULL;
    struct db_conn *c;
    enum st st = db_acquire(db, &c);
    if (st != ST_OK)
        return st;
    /* A read first, so an idle queue costs no write (and on SQLite no write
     * lock) per poll. */
    int64_t now = clock_now_ms();
    struct db_stmt *s;
    bool row = false;
    st = db_prepare(c,
                    "SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= ?) "
                    "OR (state = 'running' AND lease_until <= ?) LIMIT 1",
                    &s);
    if (st == ST_OK) {
        st = db_bind_int64(s, 1, now);
        if (st == ST_OK)
            st = db_bind_int64(s, 2, now);
        if (st == ST_OK)
            st = db_step(s, &row);
        db_stmt_done(s);
    }
    const char *names[JOBS_KINDS_MAX];
    struct buf sql;
    buf_init(&sql, sizeof CLAIM_SQL + JOBS_KINDS_MAX * 3 + 64);
    size_t n = row ? claim_sql(&sql, db_kind(db) == DB_POSTGRES, names) : 0;
    /* Jobs found dead are set aside and the next one is tried. */
    for (int tries = 0; st == ST_OK && n > 0 && !*out && tries < 16; tries++) {
        st = db_prepare(c, sql.data, &s);
        if (st != ST_OK)
            break;
        int p = 1;
        st = db_bind_int64(s, p++, now);
        for (int k = 0; k < 2 && st == ST_OK; k++)
            st = db_bind_int64(s, p++, now);
        if (st == ST_OK)
            st = db_bind_text(s, p++, worker ? worker : "?", SIZE_MAX);
        for (size_t i = 0; i < n && st == ST_OK; i++)
            st = db_bind_text(s, p++, names[i], SIZE_MAX);
        for (int k = 0; k < 2 && st == ST_OK; k++)
            st = db_bind_int64(s, p++, now);
        struct job *j = NULL;
        bool dead = false;
        if (st == ST_OK)
            st = db_step(s, &row);
        if (st == ST_OK && row)
            j = job_read(s, &dead);
        while (st == ST_OK && row)
            st = db_step(s, &row);
        db_stmt_done(s);
        if (st != ST_OK || !j) {
            job_free(j);
            break;
        }
        if (dead) {
            atomic_fetch_add(&jobs_counters.dead, 1);
            log_job(LOG_ERROR, "jobs: dead (interrupted on its last attempt)", j, "worker", worker);
            job_free(j);
            continue;
        }
        atomic_fetch_add(&jobs_counters.claimed, 1);
        *out = j;
    }
    buf_free(&sql);
    db_release(c);
    return st;
}

/* ---------------------------------------------------------------- execute */

/* Applies a write to this run's job row only while the run still holds it
 * (state 'running', the attempt number it claimed): sql ends with "WHERE
 * id = ? AND state = 'running' AND attempts = ?" and takes v first.
 * ST_CONFLICT, and the run is marked lost, when the fence refuses. */
static enum st fenced(struct job *j, const char *sql, int64_t v)
{
    int64_t changed = 0;
    enum st st = db_execf(j->c, &changed, sql, "iii", v, j->id, j->attempts);
    if (st == ST_OK && changed != 1) {
        j->lost = true;
        st = ST_CONFLICT;
    }
    return st;
}

enum st job_begin(struct job_ctx *ctx)
{
    struct job *j = ctx->job;
    if (j->begun || j->lost)
        return j->lost ? ST_CONFLICT : ST_OK;
    enum st st = db_begin(j->c);
    if (st == ST_OK)
        st = fenced(j,
                    "UPDATE jobs SET state = 'done', finished_at = ?, lease_until = NULL, "
                    "last_error = NULL WHERE id = ? AND state = 'running' AND attempts = ?",
                    clock_now_ms());
    if (st != ST_OK)
        db_rollback(j->c);
    else
        j->begun = true;
    return st;
}

enum st job_heartbeat(struct job_ctx *ctx)
{
    struct job *j = ctx->job;
    if (j->begun || j->lost)
        return j->lost ? ST_CONFLICT : ST_OK;
    return fenced(j,
                  "UPDATE jobs SET lease_until = ? WHERE id = ? AND state = 'running' "
                  "AND attempts = ?",
                  clock_now_ms() + j->lease_ms);
}

void job_set_error(struct job_ctx *ctx, const char *fmt, ...)
{
    struct job *j = ctx->job;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->error, sizeof j->error, fmt, ap);
    va_end(ap);
    /* Cut at a character boundary: the text may be UTF-8. */
    size_t n = strlen(j->error);
    while (n > 0 && !utf8_valid(j->error, n))
        j->error[--n] = '\0';
}

bool job_stopping(const struct job_ctx *ctx)
{
    return ctx->job->stopping && atomic_load(ctx->job->stopping);
}

/* Delay before attempt n + 1: backoff doubled n - 1 times, capped, plus up
 * to a quarter more at random so failed jobs do not retry in step. */
static int64_t backoff_ms(const struct job *j)
{
    int64_t d = j->k && j->k->backoff_ms ? j->k->backoff_ms : JOBS_BACKOFF_MS;
    for (int64_t i = 1; i < j->attempts && d < JOBS_BACKOFF_CAP_MS; i++)
        d *= 2;
    if (d > JOBS_BACKOFF_CAP_MS)
        d = JOBS_BACKOFF_CAP_MS;
    return d + (int64_t)randombytes_uniform((uint32_t)(d / 4 + 1));
}

/* A failed run: queued again after backoff, or dead. Fenced like the done
 * mark. If this write fails too, the lease runs out and the job is tried
 * again then. */
static void record_failure(struct db_conn *c, struct job *j, enum st why)
{
    bool dead = why == ST_INVALID || j->attempts >= j->max_attempts;
    int64_t now = clock_now_ms(), next = dead ? now : now + backoff_ms(j);
    if (!j->error[0])
        snprintf(j->error, sizeof j->error, "%s", st_name(why));
    enum st st = db_execf(c, NULL,
                          "UPDATE jobs SET state = ?, run_at = ?, lease_until = NULL, "
                          "last_error = ?, finished_at = ? WHERE id = ? AND state = 'running' "
                          "AND attempts = ?",
                          "titIii", dead ? "dead" : "queued", next, j->error, dead ? now : 0, j->id,
                          j->attempts);
    char in[24];
    snprintf(in, sizeof in, "%lld", (long long)((next - now) / 1000));
    atomic_fetch_add(dead ? &jobs_counters.dead : &jobs_counters.failed, 1);
    log_job(dead ? LOG_ERROR : LOG_WARN, dead ? "jobs: failed for good (dead)" : "jobs: failed", j,
            "error", j->error);
    if (!dead)
        log_job(LOG_INFO, "jobs: retry scheduled", j, "retry_in_s", in);
    if (st != ST_OK)
        log_job(LOG_WARN, "jobs: outcome not recorded; the lease will expire", j, "status",
                st_name(st));
}

enum st jobs_execute_as(struct db *db, struct job *j, const atomic_bool *stopping)
{
    j->stopping = stopping;
    j->begun = j->lost = false;
    j->error[0] = '\0';
    enum st st = db_acquire(db, &j->c);
    if (st != ST_OK)
        return st; /* the lease runs out and the job is claimed again */
    struct job_ctx ctx = {
        .db = db,
        .c = j->c,
        .id = j->id,
        .kind = j->k ? j->k->name : "",
        .payload = j->payload,
        .user_id = j->user_id,
        .attempt = (int)j->attempts,
        .max_attempts = (int)j->max_attempts,
        .run_at = j->run_at,
        .arg = j->k ? j->k->arg : NULL,
        .job = j,
    };
    if (!j->k || !json_is_object(j->payload)) {
        job_set_error(&ctx, "%s", j->k ? "payload is not a JSON object" : "unknown kind");
        st = ST_INVALID;
    } else if (!j->k->long_running) {
        st = job_begin(&ctx);
    }
    if (st == ST_OK)
        st = j->k->run(&ctx);
    if (st == ST_OK && !j->begun)
        st = job_begin(&ctx);
    if (st == ST_OK) {
        st = db_commit(j->c); /* rolls back by itself when it fails */
        if (st != ST_OK)
            job_set_error(&ctx, "commit failed: %s", st_name(st));
    } else {
        db_rollback(j->c);
    }
    if (st == ST_OK) {
        atomic_fetch_add(&jobs_counters.completed, 1);
        log_job(LOG_DEBUG, "jobs: done", j, "worker", "");
    } else if (j->lost) {
        atomic_fetch_add(&jobs_counters.lost, 1);
        st = ST_CONFLICT;
        log_job(LOG_WARN, "jobs: lease lost; this run's work was rolled back", j, "status",
                st_name(st));
    } else {
        record_failure(j->c, j, st);
    }
    db_release(j->c);
    j->c = NULL;
    return st;
}

enum st jobs_execute(struct db *db, struct job *j)
{
    return jobs_execute_as(db, j, NULL);
}

enum st jobs_run_one(struct db *db, const char *worker, bool *ran)
{
    struct job *j = NULL;
    enum st st = jobs_claim(db, worker, &j);
    if (ran)
        *ran = j != NULL;
    if (j)
        jobs_execute(db, j);
    job_free(j);
    return st;
}

/* ---------------------------------------------------------------- stats */

void jobs_get_stats(struct jobs_stats *out)
{
    out->claimed = atomic_load(&jobs_counters.claimed);
    out->completed = atomic_load(&jobs_counters.completed);
    out->failed = atomic_load(&jobs_counters.failed);
    out->dead = atomic_load(&jobs_counters.dead);
    out->lost = atomic_load(&jobs_counters.lost);
    out->scheduled = atomic_load(&jobs_counters.scheduled);
}

enum st jobs_metrics_render(struct buf *out)
{
    struct jobs_stats s;
    jobs_get_stats(&s);
    const struct {
        const char *name, *help;
        uint64_t v;
    } m[] = {
        {"claimed", "Job runs started.", s.claimed},
        {"completed", "Job runs that completed (done mark committed).", s.completed},
        {"failed", "Job runs that failed and were queued again.", s.failed},
        {"dead", "Jobs given up after their last attempt.", s.dead},
        {"lost", "Job runs whose lease had been lost (work rolled back).", s.lost},
        {"scheduled", "Jobs enqueued by the scheduler.", s.scheduled},
    };
    enum st st = ST_OK;
    for (size_t i = 0; i < sizeof m / sizeof m[0] && st == ST_OK; i++)
        st = buf_printf(out,
                        "# HELP entrepot_jobs_%s_total %s\n# TYPE entrepot_jobs_%s_total "
                        "counter\nentrepot_jobs_%s_total %llu\n",
                        m[i].name, m[i].help, m[i].name, m[i].name, (unsigned long long)m[i].v);
    return st;
}
