/*
 * feed.c — the community feed (GET /api/v1/feed): personalised for a
 * member whose "personalised recommendations" purpose is on, the latest
 * topics for everyone else.
 *
 * The score, meant to be explained to a member in one breath:
 *
 *   rank = (1 + interest) × (1 + ln(1 + replies + likes)) × 2^(−age / 48 h)
 *
 * age runs from the topic's last post. interest adds 3 when the member
 * follows the topic's board, 4 when they follow its author, and for the
 * board, the author and each tag up to 5 from the member's affinity
 * (feed_affinity: views +1, likes +3, searches +1 a point, halving every
 * 14 days, capped at 10 points: 5 × min(points, 10) / 10). Follows are
 * read from the follow lists themselves — explicit requests to see more,
 * which the member sees and undoes — but only while the purpose is on;
 * likes count only through affinity recorded while it was on. The
 * "recently viewed" history is the member's own page and is never read
 * here. Each topic says why it is there ("because").
 *
 * The design decision: no query scores the whole table. Candidates come
 * from a few small indexed reads — the newest topics of each followed or
 * liked board, author and tag (FEED_PER_SOURCE each) and the newest
 * FEED_LATEST overall — and are scored in C. A cursor carries the time
 * the first page was ranked at, so every page ranks with the same clock
 * and pages follow each other by (rank, id) without repeating a topic
 * (unless the topic itself moved in between: it has new posts).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "community_int.h"
#include "jobs/jobs.h"
#include "privacy/consent.h"

#define FEED_HALF_LIFE_MS   (48LL * 3600 * 1000)
#define FEED_CURSOR_MAX_AGE (86400LL * 1000) /* a cursor ranks with a clock at most a day old */
#define FEED_FOLLOWS        50               /* followed boards / members read */
#define FEED_AFFINITIES     150              /* affinity rows read */
#define FEED_SOURCES        12               /* boards, authors and tags searched, each */
#define FEED_PER_SOURCE     40               /* candidates taken from each */
#define FEED_LATEST         100              /* newest topics always in the pool */
#define FEED_FOLLOW_BOARD   3.0
#define FEED_FOLLOW_AUTHOR  4.0
#define FEED_AFFINITY_MAX   5.0

#define CAND_COLS "t.id, t.board_id, COALESCE(t.author_id, 0), t.score, t.last_post_at, t.tags"
#define VISIBLE   " t.hidden = 0 AND t.deleted_at IS NULL"
#define NEWEST    " ORDER BY t.last_post_at DESC, t.id DESC LIMIT ?"

/* The candidate reads, in the order of enum source; the unit test runs
 * EXPLAIN QUERY PLAN on each (no scan of a whole table, no sort). */
enum source { SRC_BOARD, SRC_AUTHOR, SRC_TAG, SRC_LATEST, SRC__COUNT };
static const char *const SOURCE_SQL[SRC__COUNT] = {
    [SRC_BOARD] = "SELECT " CAND_COLS " FROM topics t WHERE t.board_id = ? AND" VISIBLE NEWEST,
    [SRC_AUTHOR] = "SELECT " CAND_COLS " FROM topics t WHERE t.author_id = ? AND" VISIBLE NEWEST,
    [SRC_TAG] = "SELECT " CAND_COLS " FROM topic_tags g JOIN topics t ON t.id = g.topic_id WHERE "
                "g.tag_id = ? AND" VISIBLE " ORDER BY g.topic_id DESC LIMIT ?",
    [SRC_LATEST] = "SELECT " CAND_COLS " FROM topics t WHERE" VISIBLE NEWEST,
};

const char *cm_feed_sql(size_t i)
{
    return i < SRC__COUNT ? SOURCE_SQL[i] : NULL;
}

/* ---------------------------------------------------------------- interests */

/* What the member is into: one entry per board, author or tag. */
struct interest {
    int64_t id;
    double follow;   /* FEED_FOLLOW_* when followed */
    double affinity; /* 0..FEED_AFFINITY_MAX */
    char *name;      /* tags: the name, as topics.tags lists it */
};

enum ikind { IK_BOARD, IK_AUTHOR, IK_TAG, IK__COUNT };

struct interests {
    struct interest *v[IK__COUNT];
    size_t n[IK__COUNT], cap[IK__COUNT];
};

static struct interest *interest_find(struct interests *in, enum ikind k, int64_t id)
{
    for (size_t i = 0; i < in->n[k]; i++)
        if (in->v[k][i].id == id)
            return &in->v[k][i];
    return NULL;
}

static struct interest *interest_get(struct interests *in, enum ikind k, int64_t id)
{
    struct interest *it = interest_find(in, k, id);
    if (it)
        return it;
    if (in->n[k] == in->cap[k]) {
        in->cap[k] = in->cap[k] ? in->cap[k] * 2 : 16;
        in->v[k] = xrealloc(in->v[k], in->cap[k] * sizeof *in->v[k]);
    }
    it = &in->v[k][in->n[k]++];
    memset(it, 0, sizeof *it);
    it->id = id;
    return it;
}

static void interests_free(struct interests *in)
{
    for (int k = 0; k < IK__COUNT; k++) {
        for (size_t i = 0; i < in->n[k]; i++)
            free(in->v[k][i].name);
        free(in->v[k]);
    }
}

static double interest_of(const struct interest *it)
{
    return it ? it->follow + it->affinity : 0.0;
}

/* By interest, strongest first (the sources searched). */
static int interest_cmp(const void *a, const void *b)
{
    double x = interest_of(a), y = interest_of(b);
    return x < y ? 1 : x > y ? -1 : 0;
}

static enum st follows_load(struct db_conn *c, int64_t user_id, struct interests *in)
{
    static const struct {
        enum ikind kind;
        double weight;
        const char *sql;
    } LISTS[] = {
        {IK_BOARD, FEED_FOLLOW_BOARD,
         "SELECT board_id FROM board_follows WHERE user_id = ? ORDER BY created_at DESC LIMIT ?"},
        {IK_AUTHOR, FEED_FOLLOW_AUTHOR,
         "SELECT followee_id FROM user_follows WHERE follower_id = ? ORDER BY created_at DESC "
         "LIMIT ?"},
    };
    enum st st = ST_OK;
    for (size_t l = 0; l < sizeof LISTS / sizeof LISTS[0] && st == ST_OK; l++) {
        struct db_stmt *s;
        bool row;
        st = cm_query(c, &s, &row, LISTS[l].sql, "ii", user_id, (int64_t)FEED_FOLLOWS);
        while (st == ST_OK && row) {
            interest_get(in, LISTS[l].kind, db_col_int64(s, 0))->follow = LISTS[l].weight;
            st = db_step(s, &row);
        }
        if (s)
            db_stmt_done(s);
    }
    return st;
}

static enum st affinities_load(struct db_conn *c, int64_t user_id, int64_t now,
                               struct interests *in)
{
    struct db_stmt *s;
    bool row;
    enum st st = cm_query(c, &s, &row,
                          "SELECT a.kind, a.target_id, a.weight, a.updated_at, g.name FROM "
                          "feed_affinity a LEFT JOIN tags g ON a.kind = 'tag' AND g.id = "
                          "a.target_id WHERE a.user_id = ? ORDER BY a.weight DESC LIMIT ?",
                          "ii", user_id, (int64_t)FEED_AFFINITIES);
    while (st == ST_OK && row) {
        const char *kind = db_col_text(s, 0);
        enum ikind k = strcmp(kind, "board") == 0    ? IK_BOARD
                       : strcmp(kind, "author") == 0 ? IK_AUTHOR
                                                     : IK_TAG;
        double points = cm_affinity_now(db_col_int64(s, 2), db_col_int64(s, 3), now) /
                        (double)FEED_AFFINITY_CAP;
        if (k != IK_TAG || !db_col_is_null(s, 4)) {
            struct interest *it = interest_get(in, k, db_col_int64(s, 1));
            it->affinity = FEED_AFFINITY_MAX * (points > 1.0 ? 1.0 : points);
            if (k == IK_TAG && !it->name)
                it->name = xstrdup(db_col_text(s, 4));
        }
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    return st;
}

/* ---------------------------------------------------------------- candidates */

struct cand {
    int64_t id, board, author, score, last;
    int64_t rank;               /* micro-units */
    double part[IK__COUNT + 1]; /* interest by kind, [IK__COUNT]: the follows */
    json_t *tags;
};

struct pool {
    struct cand *v;
    size_t n, cap;
};

static enum st pool_read(struct db_conn *c, struct pool *p, enum source src, int64_t key,
                         int64_t limit)
{
    struct db_stmt *s;
    bool row;
    enum st st = src == SRC_LATEST ? cm_query(c, &s, &row, SOURCE_SQL[src], "i", limit)
                                   : cm_query(c, &s, &row, SOURCE_SQL[src], "ii", key, limit);
    while (st == ST_OK && row) {
        if (p->n == p->cap) {
            p->cap = p->cap ? p->cap * 2 : 256;
            p->v = xrealloc(p->v, p->cap * sizeof *p->v);
        }
        struct cand *x = &p->v[p->n++];
        memset(x, 0, sizeof *x);
        x->id = db_col_int64(s, 0);
        x->board = db_col_int64(s, 1);
        x->author = db_col_int64(s, 2);
        x->score = db_col_int64(s, 3);
        x->last = db_col_int64(s, 4);
        x->tags = json_loads(db_col_text(s, 5), 0, NULL);
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    return st;
}

static void pool_free(struct pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        json_decref(p->v[i].tags);
    free(p->v);
}

static int cand_by_id(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int cand_by_rank(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? 1 : -1;
    return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

/* Reads the pool: the newest topics, then those of the strongest boards,
 * authors and tags; duplicates removed. */
static enum st pool_fill(struct db_conn *c, struct interests *in, struct pool *p)
{
    enum st st = pool_read(c, p, SRC_LATEST, 0, FEED_LATEST);
    static const enum source SRC_OF[IK__COUNT] = {SRC_BOARD, SRC_AUTHOR, SRC_TAG};
    for (int k = 0; k < IK__COUNT && st == ST_OK; k++) {
        if (in->n[k] > 1)
            qsort(in->v[k], in->n[k], sizeof *in->v[k], interest_cmp);
        for (size_t i = 0; i < in->n[k] && i < FEED_SOURCES && st == ST_OK; i++)
            if (interest_of(&in->v[k][i]) > 0)
                st = pool_read(c, p, SRC_OF[k], in->v[k][i].id, FEED_PER_SOURCE);
    }
    if (st != ST_OK || p->n == 0)
        return st;
    qsort(p->v, p->n, sizeof *p->v, cand_by_id);
    size_t w = 1;
    for (size_t r = 1; r < p->n; r++) {
        if (p->v[r].id == p->v[w - 1].id)
            json_decref(p->v[r].tags);
        else
            p->v[w++] = p->v[r];
    }
    p->n = w;
    return ST_OK;
}

static void cand_score(struct cand *x, struct interests *in, int64_t ref)
{
    const struct interest *b = interest_find(in, IK_BOARD, x->board);
    const struct interest *a = interest_find(in, IK_AUTHOR, x->author);
    x->part[IK__COUNT] = (b ? b->follow : 0) + (a ? a->follow : 0);
    x->part[IK_BOARD] = b ? b->affinity : 0;
    x->part[IK_AUTHOR] = a ? a->affinity : 0;
    size_t i;
    json_t *tag;
    json_array_foreach(x->tags, i, tag)
    {
        for (size_t k = 0; k < in->n[IK_TAG]; k++)
            if (in->v[IK_TAG][k].name && json_is_string(tag) &&
                strcmp(in->v[IK_TAG][k].name, json_string_value(tag)) == 0)
                x->part[IK_TAG] += in->v[IK_TAG][k].affinity;
    }
    double interest = 0;
    for (int k = 0; k <= IK__COUNT; k++)
        interest += x->part[k];
    double age = ref > x->last ? (double)(ref - x->last) : 0.0;
    double rank = (1.0 + interest) * (1.0 + log1p((double)(x->score > 0 ? x->score : 0))) *
                  exp2(-age / (double)FEED_HALF_LIFE_MS);
    x->rank = (int64_t)llround(rank * 1e6);
}

/* Why a topic is in the feed, strongest reason first. */
static json_t *because_json(const struct cand *x)
{
    static const char *const NAMES[IK__COUNT + 1] = {"board", "author", "tag", "followed"};
    bool used[IK__COUNT + 1] = {false};
    json_t *a = json_array();
    for (;;) {
        int best = -1;
        for (int k = 0; k <= IK__COUNT; k++)
            if (!used[k] && x->part[k] > 0 && (best < 0 || x->part[k] > x->part[best]))
                best = k;
        if (best < 0)
            return a;
        used[best] = true;
        json_array_append_new(a, json_string(NAMES[best]));
    }
}

/* ---------------------------------------------------------------- pages */

#define ITEM_COLS                                                                                  \
    "t.id, t.title, t.tags, t.author_id, u.display_name, u.username, t.pinned, t.locked, "         \
    "t.reply_count, t.like_count, t.last_post_at, t.created_at, b.id, b.slug, b.name"

static json_t *item_json(struct db_stmt *s)
{
    json_t *tags = json_loads(db_col_text(s, 2), 0, NULL);
    if (!json_is_array(tags)) {
        json_decref(tags);
        tags = json_array();
    }
    return json_pack(
        "{s:I, s:o, s:o, s:o, s:b, s:b, s:b, s:I, s:I, s:I, s:I, s:{s:I, s:o, s:o}}", "id",
        (json_int_t)db_col_int64(s, 0), "title", cm_col_str(s, 1), "tags", tags, "author",
        cm_author_json(s, 3), "pinned", db_col_int64(s, 6) != 0, "locked", db_col_int64(s, 7) != 0,
        "hidden", false, "reply_count", (json_int_t)db_col_int64(s, 8), "like_count",
        (json_int_t)db_col_int64(s, 9), "last_post_at", (json_int_t)db_col_int64(s, 10),
        "created_at", (json_int_t)db_col_int64(s, 11), "board", "id",
        (json_int_t)db_col_int64(s, 12), "slug", cm_col_str(s, 13), "name", cm_col_str(s, 14));
}

/* The topics of page[0..n) in that order, each with its "because". */
static enum st page_json(struct db_conn *c, const struct cand *page, size_t n, json_t **out)
{
    /* Always CM_PAGE parameters (0 for none): one statement shape. */
    struct cm_qb q;
    cm_qb_init(&q, "SELECT " ITEM_COLS " FROM topics t JOIN boards b ON b.id = t.board_id LEFT "
                   "JOIN users u ON u.id = t.author_id WHERE t.id IN (");
    for (size_t i = 0; i < CM_PAGE; i++)
        cm_qb_int(&q, i ? ", ?" : "?", i < n ? page[i].id : 0);
    buf_puts(&q.sql, ")");
    json_t *byid = json_object();
    struct db_stmt *s = NULL;
    bool row = false;
    enum st st = cm_qb_prepare(c, &q, &s);
    if (st == ST_OK)
        st = db_step(s, &row);
    while (st == ST_OK && row) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)db_col_int64(s, 0));
        json_object_set_new(byid, key, item_json(s));
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    cm_qb_free(&q);
    json_t *a = json_array();
    for (size_t i = 0; i < n && st == ST_OK; i++) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)page[i].id);
        json_t *t = json_object_get(byid, key);
        if (!t)
            continue; /* hidden or deleted since it was read */
        json_object_set_new(t, "because", because_json(&page[i]));
        json_array_append(a, t);
    }
    json_decref(byid);
    if (st != ST_OK) {
        json_decref(a);
        return st;
    }
    *out = a;
    return ST_OK;
}

/* "p<ref>.<rank>.<id>"; false for anything else. */
static bool cursor_parse(const char *cur, int64_t *ref, int64_t *rank, int64_t *id)
{
    if (!cur || cur[0] != 'p')
        return false;
    int64_t *out[3] = {ref, rank, id};
    const char *p = cur + 1;
    for (int i = 0; i < 3; i++) {
        const char *end = strchr(p, '.');
        size_t n = i < 2 ? (end ? (size_t)(end - p) : 0) : strlen(p);
        char part[24];
        if (n == 0 || n >= sizeof part)
            return false;
        memcpy(part, p, n);
        part[n] = '\0';
        if (parse_int64(part, 0, INT64_MAX, out[i]) != ST_OK)
            return false;
        p += n + 1;
    }
    return true;
}

static enum st personalised(struct db_conn *c, int64_t user_id, const char *cursor, json_t **out,
                            struct cm_error *err)
{
    int64_t now = clock_now_ms(), ref = now, after_rank = INT64_MAX, after_id = INT64_MAX;
    if (cursor && (!cursor_parse(cursor, &ref, &after_rank, &after_id) || ref > now ||
                   ref < now - FEED_CURSOR_MAX_AGE))
        return cm_fail(err, ST_INVALID, "cursor", "invalid", NULL);
    struct interests in = {0};
    struct pool p = {0};
    enum st st = follows_load(c, user_id, &in);
    if (st == ST_OK)
        st = affinities_load(c, user_id, ref, &in);
    if (st == ST_OK)
        st = pool_fill(c, &in, &p);
    size_t n = 0;
    for (size_t i = 0; i < p.n && st == ST_OK; i++) {
        cand_score(&p.v[i], &in, ref);
        if (p.v[i].rank < after_rank || (p.v[i].rank == after_rank && p.v[i].id < after_id)) {
            p.v[n++] = p.v[i]; /* after the cursor: kept */
        } else {
            json_decref(p.v[i].tags);
            p.v[i].tags = NULL;
        }
    }
    for (size_t i = n; i < p.n; i++)
        p.v[i].tags = NULL; /* copies of kept ones, or freed above */
    p.n = n;
    if (p.n > 1)
        qsort(p.v, p.n, sizeof *p.v, cand_by_rank);
    json_t *topics = NULL, *next = json_null();
    size_t shown = p.n < CM_PAGE ? p.n : CM_PAGE;
    if (st == ST_OK)
        st = page_json(c, p.v, shown, &topics);
    if (st == ST_OK && p.n > CM_PAGE) {
        char cur[80];
        snprintf(cur, sizeof cur, "p%lld.%lld.%lld", (long long)ref,
                 (long long)p.v[CM_PAGE - 1].rank, (long long)p.v[CM_PAGE - 1].id);
        next = json_string(cur);
    }
    pool_free(&p);
    interests_free(&in);
    if (st != ST_OK) {
        json_decref(next);
        return st;
    }
    *out = json_pack("{s:s, s:n, s:o, s:o}", "mode", "personalised", "reason", "topics", topics,
                     "next_cursor", next);
    return ST_OK;
}

enum st community_feed(struct db_conn *c, int64_t user_id, const char *cursor, json_t **out,
                       struct cm_error *err)
{
    if (user_id > 0 && privacy_purpose_on(c, user_id, PURPOSE_RECOMMENDATIONS))
        return personalised(c, user_id, cursor, out, err);
    struct cm_list q = {.sort = "latest", .cursor = cursor};
    enum st st = community_topics_list(c, &q, out, err);
    if (st == ST_OK) {
        json_object_set_new(*out, "mode", json_string("latest"));
        json_object_set_new(*out, "reason", json_string(user_id > 0 ? "purpose_off" : "visitor"));
    }
    return st;
}

/* ---------------------------------------------------------------- the purge job */

/* Deletes the affinity of every member who turned the purpose off since
 * it was recorded (nothing reads it meanwhile: the feed checks first). */
static enum st purge_job(struct job_ctx *ctx)
{
    int64_t removed = 0;
    enum st st = cm_feed_purge_withdrawn(ctx->c, &removed);
    if (st == ST_OK && removed)
        log_infof("community: removed %lld feed signals of members who withdrew consent",
                  (long long)removed);
    return st;
}

static const struct job_kind FEED_JOBS[] = {
    {.name = "community.feed_purge", .run = purge_job},
};
static const struct job_schedule FEED_SCHEDULES[] = {
    {.name = "community.feed_purge", .kind = "community.feed_purge", .every_ms = 3600 * 1000},
};

enum st community_feed_init(void)
{
    if (jobs_kind_find(FEED_JOBS[0].name))
        return ST_OK;
    enum st st = jobs_register(FEED_JOBS, sizeof FEED_JOBS / sizeof FEED_JOBS[0]);
    if (st == ST_OK)
        st = jobs_schedule_add(FEED_SCHEDULES, sizeof FEED_SCHEDULES / sizeof FEED_SCHEDULES[0]);
    return st;
}
