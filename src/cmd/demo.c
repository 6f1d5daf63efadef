/*
 * demo.c — `entrepot demo --scale N`: fills a database with a synthetic
 * community (src/community/demo.c) for demonstrations and benchmarks, and
 * says how long it took. Applies pending migrations first; the data keys
 * of the made-up members need the master key, as for `serve`.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "community/community.h"

static const char *const demo_keys[] = {"config",     "data_dir",  "database",   "master_key_file",
                                        "master_key", "log_level", "log_format", NULL};

static const char USAGE[] =
    "usage: entrepot demo --scale N [--replies R] [--seed S] [OPTIONS]\n\n"
    "Writes a synthetic foreign-trade community into the database: 12 boards,\n"
    "N/50 members (50 to 20,000; they cannot sign in), N topics in mixed\n"
    "Chinese and English with R replies each (default 10), tags and likes,\n"
    "all indexed for search. The same seed (default 1) writes the same text.\n"
    "Meant for a database of its own: it adds to whatever is there.";

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

struct progress {
    struct timespec t0;
    int64_t total;
};

static void progress(void *arg, int64_t topics, int64_t posts)
{
    const struct progress *p = arg;
    double s = seconds_since(&p->t0);
    fprintf(stderr, "demo: %lld/%lld topics, %lld posts, %.1f s (%.0f posts/s)\n",
            (long long)topics, (long long)p->total, (long long)posts, s, s > 0 ? posts / s : 0);
}

/* Takes "--name value" or "--name=value" at argv[*i] as a number in
 * [min, max]; 1 when it matched, -1 when it matched with a bad value. */
static int take_num(int argc, char **argv, int *i, const char *name, int64_t min, int64_t max,
                    int64_t *out)
{
    size_t n = strlen(name);
    const char *v = NULL;
    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=')
        v = argv[*i] + n + 1;
    else if (argv[*i][n] == '\0' && *i + 1 < argc)
        v = argv[++*i];
    else
        return 0;
    if (parse_int64(v, min, max, out) != ST_OK) {
        fprintf(stderr, "entrepot: %s must be a whole number from %lld to %lld\n", name,
                (long long)min, (long long)max);
        return -1;
    }
    return 1;
}

int cmd_demo(int argc, char **argv)
{
    int64_t scale = 0, replies = 10, seed = 1;
    char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0, bad = 0;
    rest[nrest++] = argv[0];
    for (int i = 1; i < argc && !bad; i++) {
        int m = take_num(argc, argv, &i, "--scale", 1, 100000000, &scale);
        if (!m)
            m = take_num(argc, argv, &i, "--replies", 0, 60, &replies);
        if (!m)
            m = take_num(argc, argv, &i, "--seed", 0, INT64_MAX, &seed);
        if (m < 0)
            bad = 1;
        else if (!m)
            rest[nrest++] = argv[i];
    }
    int rc = bad ? 2 : cmd_configure(nrest, rest, USAGE, demo_keys);
    free(rest);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (scale < 1) {
        fprintf(stderr, "entrepot: --scale N is required (see --help)\n");
        return 2;
    }
    struct db *db = NULL;
    if (cmd_open_db(&db, 1) != ST_OK)
        return 1;
    if (cmd_install_keys(true) != ST_OK) {
        db_close(db);
        return 1;
    }
    enum st st = db_migrate(db, NULL);
    /* Millions of short-lived buffers: keep freed memory instead of
     * returning it to the kernel and faulting it in again. */
    mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    struct progress p = {.total = scale};
    clock_gettime(CLOCK_MONOTONIC, &p.t0);
    struct cm_demo o = {.topics = scale,
                        .replies = replies,
                        .seed = (uint64_t)seed,
                        .progress = progress,
                        .arg = &p};
    struct cm_demo_result r;
    if (st == ST_OK)
        st = community_demo(db, &o, &r);
    db_close(db);
    if (st != ST_OK) {
        fprintf(stderr, "entrepot: demo failed (%s)\n", st_name(st));
        return 1;
    }
    double s = seconds_since(&p.t0);
    printf("demo: %lld boards, %lld members, %lld topics, %lld posts, %lld likes in %.1f s "
           "(%.0f posts/s)\n",
           (long long)r.boards, (long long)r.users, (long long)r.topics, (long long)r.posts,
           (long long)r.likes, s, s > 0 ? r.posts / s : 0);
    return 0;
}
