/*
 * fault.c — the counters behind fault_hit (see fault.h for the plans).
 *
 * The decision to know is how a per-request plan finds its calls: through
 * the request id the HTTP layer gives each thread for the request it is
 * serving (log_set_request_id). A request's database calls all run on the
 * thread that serves it, so counting per thread, restarted whenever the
 * thread's request id changes, counts exactly that request's calls, while
 * background threads (the delivery worker) keep their own ids and are never
 * touched. Only a test can aim: per-request plans need ENTREPOT_FAULTS=1 in
 * the environment on top of the build flag.
 */
#include "fault.h"

#ifdef ENTREPOT_FAULT_INJECTION

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define RID_PREFIX "fault-"

struct plan {
    enum fault_target target;
    enum fault_kind kind;
    bool persist; /* every call from n on fails, not only call n */
    long n;
};

static const char *const target_names[] = {
    [FAULT_DB] = "db", [FAULT_SQLIO] = "sqlio", [FAULT_FILE] = "file"};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool requests_on;      /* ENTREPOT_FAULTS=1: per-request plans honoured */
static bool env_on;           /* ENTREPOT_FAULT_PLAN parsed */
static struct plan env_plan;  /* ...and what it says */
static atomic_long env_calls; /* calls of env_plan.target so far */

static _Thread_local char tl_rid[CAP_REQUEST_ID + 1];
static _Thread_local bool tl_on;
static _Thread_local struct plan tl_plan;
static _Thread_local long tl_calls;

/* Reads the word of s up to '-' or the end into w; returns what follows. */
static const char *word(const char *s, char *w, size_t cap)
{
    size_t n = 0;
    while (s[n] && s[n] != '-')
        n++;
    if (n >= cap)
        n = cap - 1;
    memcpy(w, s, n);
    w[n] = '\0';
    return s[n] == '-' ? s + n + 1 : s + n;
}

/* "db-io-7", optionally followed by "-anything". */
static bool plan_parse(const char *s, struct plan *p)
{
    char t[8], k[8], n[24];
    s = word(s, t, sizeof t);
    s = word(s, k, sizeof k);
    word(s, n, sizeof n);
    memset(p, 0, sizeof *p);
    size_t i;
    for (i = 0; i < sizeof target_names / sizeof target_names[0]; i++)
        if (strcmp(t, target_names[i]) == 0)
            break;
    if (i == sizeof target_names / sizeof target_names[0])
        return false;
    p->target = (enum fault_target)i;
    size_t kl = strlen(k);
    p->persist = kl > 0 && k[kl - 1] == 'p';
    if (p->persist)
        k[kl - 1] = '\0';
    if (strcmp(k, "io") == 0)
        p->kind = FAULT_IO;
    else if (strcmp(k, "full") == 0)
        p->kind = FAULT_FULL;
    else
        return false;
    int64_t v;
    if (parse_int64(n, 1, 1000000000, &v) != ST_OK)
        return false;
    p->n = (long)v;
    return true;
}

static void load_env(void)
{
    const char *on = getenv("ENTREPOT_FAULTS");
    requests_on = on && strcmp(on, "1") == 0;
    const char *plan = getenv("ENTREPOT_FAULT_PLAN");
    if (plan && *plan) {
        env_on = plan_parse(plan, &env_plan);
        if (!env_on)
            log_kv(LOG_ERROR, "fault: ENTREPOT_FAULT_PLAN not understood (TARGET-KIND-N)", "plan",
                   plan, (const char *)NULL);
    }
    atomic_init(&env_calls, 0);
    if (env_on || requests_on)
        log_kv(LOG_WARN, "fault: FAULT INJECTION BUILD; faults will be injected", "plan",
               env_on ? plan : "", "per_request", requests_on ? "true" : "false",
               (const char *)NULL);
}

/* The plan that counts this call of target t on this thread, or NULL. */
static const struct plan *plan_for(enum fault_target t, long *call)
{
    if (env_on && env_plan.target == t) {
        *call = atomic_fetch_add(&env_calls, 1) + 1;
        return &env_plan;
    }
    if (!requests_on)
        return NULL;
    const char *rid = log_request_id();
    if (strncmp(rid, RID_PREFIX, strlen(RID_PREFIX)) != 0)
        return NULL;
    if (strcmp(rid, tl_rid) != 0) {
        snprintf(tl_rid, sizeof tl_rid, "%s", rid);
        tl_on = plan_parse(rid + strlen(RID_PREFIX), &tl_plan);
        tl_calls = 0;
    }
    if (!tl_on || tl_plan.target != t)
        return NULL;
    *call = ++tl_calls;
    return &tl_plan;
}

enum fault_kind fault_hit(enum fault_target t, const char *what)
{
    pthread_once(&once, load_env);
    long call = 0;
    const struct plan *p = plan_for(t, &call);
    if (!p || call < p->n || (call > p->n && !p->persist))
        return FAULT_NONE;
    char num[24];
    snprintf(num, sizeof num, "%ld", call);
    log_kv(LOG_WARN, "fault: injected", "target", target_names[t], "error",
           p->kind == FAULT_FULL ? "full" : "io", "call", num, "what", what, (const char *)NULL);
    return p->kind;
}

#else
typedef int fault_disabled; /* an empty translation unit is not ISO C */
#endif
