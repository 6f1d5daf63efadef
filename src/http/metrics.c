/*
 * metrics.c — Prometheus counters for requests, latency, connections, the
 * database pool and the job runner.
 *
 * Counters live in fixed arrays indexed by route and by a small table of
 * the statuses the server emits, updated with relaxed atomics: one
 * increment per request, no lock, no allocation on the hot path.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "http_int.h"
#include "jobs/jobs.h"

#define METRIC_ROUTES 1025 /* routes + one slot for "no route" */

static const unsigned statuses[] = {200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404,
                                    405, 409, 410, 413, 415, 422, 429, 431, 500, 503, 0};
#define NSTATUS (sizeof statuses / sizeof statuses[0])

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

static atomic_ulong *counts; /* [METRIC_ROUTES][NSTATUS] */
static atomic_ulong hist[NBUCKETS + 1];
static atomic_ulong hist_sum_us;
static atomic_ulong hist_count;

void metrics_init(void)
{
    if (!counts)
        counts = xcalloc((size_t)METRIC_ROUTES * NSTATUS, sizeof *counts);
}

static size_t status_slot(unsigned status)
{
    for (size_t i = 0; i < NSTATUS - 1; i++)
        if (statuses[i] == status)
            return i;
    return NSTATUS - 1; /* "other" */
}

void metrics_observe(int route_idx, unsigned status, uint64_t ns)
{
    size_t r = route_idx >= 0 && route_idx < METRIC_ROUTES - 1 ? (size_t)route_idx + 1 : 0;
    atomic_fetch_add_explicit(&counts[r * NSTATUS + status_slot(status)], 1, memory_order_relaxed);
    double s = (double)ns / 1e9;
    size_t b = 0;
    while (b < NBUCKETS && s > buckets[b])
        b++;
    atomic_fetch_add_explicit(&hist[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hist_sum_us, ns / 1000, memory_order_relaxed);
    atomic_fetch_add_explicit(&hist_count, 1, memory_order_relaxed);
}

void metrics_render(struct buf *out, struct http_server *srv)
{
    buf_puts(out, "# HELP entrepot_http_requests_total HTTP requests by route, method and "
                  "status.\n# TYPE entrepot_http_requests_total counter\n");
    for (size_t r = 0; r < METRIC_ROUTES; r++) {
        const struct route *rt = r ? http_route_at(r - 1) : NULL;
        if (r && !rt)
            break;
        for (size_t s = 0; s < NSTATUS; s++) {
            unsigned long v = atomic_load_explicit(&counts[r * NSTATUS + s], memory_order_relaxed);
            if (!v)
                continue;
            char st[12];
            if (statuses[s])
                snprintf(st, sizeof st, "%u", statuses[s]);
            else
                memcpy(st, "other", 6);
            buf_printf(out,
                       "entrepot_http_requests_total{route=\"%s\",method=\"%s\",status=\"%s\"} "
                       "%lu\n",
                       rt ? rt->pattern : "(none)", rt ? rt->method : "any", st, v);
        }
    }
    buf_puts(out, "# HELP entrepot_http_request_duration_seconds Request latency.\n"
                  "# TYPE entrepot_http_request_duration_seconds histogram\n");
    unsigned long cum = 0;
    for (size_t b = 0; b <= NBUCKETS; b++) {
        cum += atomic_load_explicit(&hist[b], memory_order_relaxed);
        if (b < NBUCKETS)
            buf_printf(out, "entrepot_http_request_duration_seconds_bucket{le=\"%g\"} %lu\n",
                       buckets[b], cum);
        else
            buf_printf(out, "entrepot_http_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n",
                       cum);
    }
    buf_printf(out, "entrepot_http_request_duration_seconds_sum %.6f\n",
               (double)atomic_load(&hist_sum_us) / 1e6);
    buf_printf(out, "entrepot_http_request_duration_seconds_count %lu\n",
               (unsigned long)atomic_load(&hist_count));
    buf_printf(out,
               "# HELP entrepot_http_open_connections Open client connections.\n"
               "# TYPE entrepot_http_open_connections gauge\n"
               "entrepot_http_open_connections %d\n",
               atomic_load(&srv->open_conns));
    buf_printf(out,
               "# HELP entrepot_http_in_flight_requests Requests being processed.\n"
               "# TYPE entrepot_http_in_flight_requests gauge\n"
               "entrepot_http_in_flight_requests %d\n",
               atomic_load(&srv->in_flight));
    buf_printf(out,
               "# HELP entrepot_http_slow_clients_cut_total Connections cut for sending their "
               "headers too slowly.\n# TYPE entrepot_http_slow_clients_cut_total counter\n"
               "entrepot_http_slow_clients_cut_total %lu\n",
               (unsigned long)atomic_load(&srv->slow_cut));
    if (srv->opt.db) {
        struct db_stats ds;
        db_get_stats(srv->opt.db, &ds);
        buf_printf(out,
                   "# HELP entrepot_db_pool_size Configured database connections.\n"
                   "# TYPE entrepot_db_pool_size gauge\nentrepot_db_pool_size %d\n"
                   "# TYPE entrepot_db_pool_open gauge\nentrepot_db_pool_open %d\n"
                   "# TYPE entrepot_db_pool_in_use gauge\nentrepot_db_pool_in_use %d\n"
                   "# TYPE entrepot_db_pool_waits_total counter\nentrepot_db_pool_waits_total "
                   "%llu\n"
                   "# TYPE entrepot_db_unavailable_total counter\n"
                   "entrepot_db_unavailable_total %llu\n",
                   ds.pool_size, ds.open, ds.in_use, (unsigned long long)ds.waits,
                   (unsigned long long)ds.errors);
    }
    jobs_metrics_render(out); /* the job runner's counters (this process's workers) */
}
