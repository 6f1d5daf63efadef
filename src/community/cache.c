/*
 * cache.c — the answers visitors ask for most (a board's topic list, a
 * topic's page), kept as the bytes already serialised, so a repeated
 * request costs one indexed version lookup instead of the queries and the
 * JSON that made it.
 *
 * The decision to know: an entry is valid for one version of what it
 * shows, and the version lives in the database (boards.version,
 * topics.version), bumped by cm_touch in the transaction of every
 * community write, so it is the same for every process and every node of
 * a cluster. Asking the database costs a query, though, so an entry also
 * remembers this process's community epoch (bumped after each local
 * commit that touched anything) and when its version was last confirmed:
 * while no local write happened and the confirmation is younger than
 * CM_CACHE_RECHECK_MS, it is served without asking. Hence a write shows at
 * once on the node that made it and within CM_CACHE_RECHECK_MS elsewhere;
 * what changes without a community write (an author renaming their
 * account, an erasure) within CM_CACHE_TTL_MS. Only anonymous answers are
 * kept: a member's page carries their own likes and rights.
 *
 * The table is direct-mapped (a key's hash picks its slot; a newcomer
 * replaces whoever was there), bounded in slots, in bytes an entry and in
 * bytes in all (CACHE_BYTES_MAX), and each slot has its own lock: readers
 * of different slots never wait.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "community_int.h"

#define CACHE_SLOTS     4096
#define CACHE_ENTRY_MAX (128 * 1024)       /* bytes of one answer kept at most */
#define CACHE_BYTES_MAX (32 * 1024 * 1024) /* bytes of all of them */
#define CACHE_KEY_MAX   160

struct slot {
    pthread_mutex_t mu;
    char key[CACHE_KEY_MAX];
    int64_t version;
    uint64_t epoch;     /* the process's epoch when the version was confirmed */
    int64_t made_ms;    /* monotonic */
    int64_t checked_ms; /* monotonic: the version last confirmed */
    char *bytes;
    size_t len;
};

static _Atomic uint64_t epoch = 1;
static _Atomic size_t total; /* bytes held */

static struct slot slots[CACHE_SLOTS];
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static void slots_init(void)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        pthread_mutex_init(&slots[i].mu, NULL);
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* FNV-1a: keys are short and ours. */
static struct slot *slot_of(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    pthread_once(&slots_once, slots_init);
    return &slots[h % CACHE_SLOTS];
}

uint64_t cm_cache_epoch(void)
{
    return epoch;
}

void cm_cache_changed(void)
{
    epoch++;
}

/* Copies a hit out of s (locked); version < 0: valid while nothing
 * changed here and the last confirmation is recent; else valid for that
 * version, which confirms it anew as of epoch e. */
static bool take(struct slot *s, const char *key, int64_t version, uint64_t e, char **bytes,
                 size_t *len)
{
    int64_t now = mono_ms();
    if (!s->bytes || now - s->made_ms >= CM_CACHE_TTL_MS || strcmp(s->key, key) != 0)
        return false;
    if (version < 0 && (s->epoch != epoch || now - s->checked_ms >= CM_CACHE_RECHECK_MS))
        return false;
    if (version >= 0) {
        if (s->version != version)
            return false;
        s->epoch = e;
        s->checked_ms = now;
    }
    *bytes = xmalloc(s->len + 1);
    memcpy(*bytes, s->bytes, s->len + 1);
    *len = s->len;
    return true;
}

bool cm_cache_fresh(const char *key, char **bytes, size_t *len)
{
    return cm_cache_get(key, -1, 0, bytes, len);
}

bool cm_cache_get(const char *key, int64_t version, uint64_t e, char **bytes, size_t *len)
{
    *bytes = NULL;
    *len = 0;
    if (strlen(key) >= CACHE_KEY_MAX)
        return false;
    struct slot *s = slot_of(key);
    pthread_mutex_lock(&s->mu);
    bool hit = take(s, key, version, e, bytes, len);
    pthread_mutex_unlock(&s->mu);
    return hit;
}

void cm_cache_put(const char *key, int64_t version, uint64_t e, const char *bytes, size_t len)
{
    if (strlen(key) >= CACHE_KEY_MAX || len > CACHE_ENTRY_MAX)
        return;
    char *copy = xmalloc(len + 1);
    memcpy(copy, bytes, len);
    copy[len] = '\0';
    struct slot *s = slot_of(key);
    int64_t now = mono_ms();
    pthread_mutex_lock(&s->mu);
    if (total - s->len + len > CACHE_BYTES_MAX) { /* full: keep what is there */
        pthread_mutex_unlock(&s->mu);
        free(copy);
        return;
    }
    total += len;
    total -= s->len;
    char *old = s->bytes;
    memcpy(s->key, key, strlen(key) + 1); /* length checked above */
    s->version = version;
    s->epoch = e;
    s->made_ms = s->checked_ms = now;
    s->bytes = copy;
    s->len = len;
    pthread_mutex_unlock(&s->mu);
    free(old);
}

void cm_cache_clear(void)
{
    pthread_once(&slots_once, slots_init);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        pthread_mutex_lock(&slots[i].mu);
        free(slots[i].bytes);
        total -= slots[i].len;
        slots[i].bytes = NULL;
        slots[i].len = 0;
        slots[i].key[0] = '\0';
        pthread_mutex_unlock(&slots[i].mu);
    }
}

enum st community_board_version(struct db_conn *c, const char *slug, int64_t *version)
{
    return cm_query_int(c, version, "SELECT version FROM boards WHERE slug = ?", "t", slug);
}

enum st community_topic_version(struct db_conn *c, int64_t topic_id, int64_t *version)
{
    return cm_query_int(c, version, "SELECT version FROM topics WHERE id = ?", "i", topic_id);
}
