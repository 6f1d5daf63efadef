/*
 * jobs_int.h — inside src/jobs only: what the queue (jobs.c) and the
 * worker and scheduler (worker.c) share.
 */
#ifndef ENTREPOT_JOBS_INT_H
#define ENTREPOT_JOBS_INT_H

#include <stdatomic.h>

#include "jobs.h"

/* A claimed job (jobs_claim) as the runner keeps it. */
struct job {
    int64_t id;
    const struct job_kind *k;
    json_t *payload; /* an object */
    int64_t user_id;
    int64_t attempts; /* the fencing token: this run's attempt number */
    int64_t max_attempts;
    int64_t run_at;
    int64_t lease_ms;
    const atomic_bool *stopping; /* the worker's stop flag, or NULL */
    struct db_conn *c;           /* while executing */
    bool begun;                  /* the final transaction and the done mark are taken */
    bool lost;                   /* the fence refused this run */
    char error[JOBS_ERROR_MAX];
};

/* Counters (jobs_get_stats). */
struct jobs_counters {
    atomic_ulong claimed, completed, failed, dead, lost, scheduled;
};
extern struct jobs_counters jobs_counters;

/* jobs_execute with the worker's stop flag for job_stopping. */
enum st jobs_execute_as(struct db *db, struct job *j, const atomic_bool *stopping);

/* The registered schedules, copied under the registry lock; returns the
 * count (at most JOBS_SCHEDULES_MAX). */
size_t jobs_schedules_snapshot(const struct job_schedule **out);

#endif
