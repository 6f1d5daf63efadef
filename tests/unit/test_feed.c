/*
 * test_feed.c — the community feed and notices (src/community/feed.c,
 * activity.c): @mentions, behaviour signals recorded only with the
 * recommendations purpose on (and purged once it is off), the notices of
 * replies, mentions, likes and follows with their switches and without
 * duplicates, the feed's modes, ranking and pages, and (SQLite) the plans
 * of the feed's reads.
 *
 * Every test in FEED_TESTS runs on SQLite (a fresh file per test) and,
 * with ENTREPOT_TEST_PG_URL (scripts/pg-cluster.sh), on PostgreSQL too.
 * Members are plain rows of `users`; posts go through the real community
 * calls, except the feed's ranking fixtures, written as rows so their
 * times and counters are exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "community/community_int.h"
#include "core/core.h"
#include "core/i18n.h"
#include "fixture.h"
#include "jobs/jobs.h"
#include "privacy/consent.h"

#define HOUR_MS 3600000LL

struct fx {
    FX_DB_FIELDS;
    struct db_conn *c;
};

/* ---------------------------------------------------------------- helpers */

static int64_t scalar(struct fx *f, const char *sql, int64_t arg)
{
    int64_t v = -1;
    enum st st = arg >= 0 ? cm_query_int(f->c, &v, sql, "i", arg) : cm_query_int(f->c, &v, sql, "");
    if (st != ST_OK && st != ST_NOTFOUND)
        fail_msg("%s: %s: %s", sql, st_name(st), db_errmsg(f->c));
    return st == ST_OK ? v : -1;
}

static int64_t new_user(struct fx *f, const char *username)
{
    int64_t id = 0;
    assert_int_equal(cm_query_int(f->c, &id,
                                  "INSERT INTO users (username, display_name, created_at, "
                                  "updated_at) VALUES (?, ?, 1, 1) RETURNING id",
                                  "tt", username, username),
                     ST_OK);
    return id;
}

static void purpose(struct fx *f, int64_t user, bool on)
{
    assert_int_equal(
        privacy_purpose_set(f->c, user, PURPOSE_RECOMMENDATIONS, on, CHANNEL_WEB, NULL), ST_OK);
}

static int64_t board(struct fx *f, const char *slug)
{
    struct cm_viewer staff = {.user_id = 0, .staff = true, .staff_mod = true};
    struct cm_error e = {0};
    json_t *o = NULL;
    assert_int_equal(community_board_create(f->c, &staff, slug, slug, "", &o, &e), ST_OK);
    int64_t id = json_integer_value(json_object_get(o, "id"));
    json_decref(o);
    return id;
}

/* A topic through the real call; *first_post gets its first post's id. */
static int64_t topic(struct fx *f, int64_t author, const char *slug, const char *body,
                     const char *tag, int64_t *first_post)
{
    struct cm_error e = {0};
    json_t *o = NULL, *tags = tag ? json_pack("[s]", tag) : NULL;
    enum st st = community_topic_create(f->c, author, slug, "A topic title", body, tags, &o, &e);
    if (st != ST_OK)
        fail_msg("topic: %s", st_name(st));
    int64_t id = json_integer_value(json_object_get(json_object_get(o, "topic"), "id"));
    if (first_post)
        *first_post = json_integer_value(json_object_get(json_object_get(o, "first_post"), "id"));
    json_decref(o);
    json_decref(tags);
    return id;
}

static int64_t reply(struct fx *f, int64_t author, int64_t topic_id, const char *body,
                     int64_t parent, int64_t quote)
{
    struct cm_error e = {0};
    json_t *o = NULL;
    enum st st = community_reply_create(f->c, author, topic_id, body, parent, quote, &o, &e);
    if (st != ST_OK)
        fail_msg("reply: %s", st_name(st));
    int64_t id = json_integer_value(json_object_get(o, "id"));
    json_decref(o);
    return id;
}

static void view(struct fx *f, int64_t user, int64_t topic_id)
{
    struct cm_viewer v = {.user_id = user};
    struct cm_error e = {0};
    json_t *o = NULL;
    assert_int_equal(community_topic_get(f->c, &v, topic_id, NULL, &o, &e), ST_OK);
    json_decref(o);
}

static void like(struct fx *f, int64_t user, int64_t post, bool on)
{
    struct cm_error e = {0};
    assert_int_equal(community_like(f->c, user, post, on, &e), ST_OK);
}

static int64_t notices(struct fx *f, int64_t user, const char *kind)
{
    int64_t n = 0;
    assert_int_equal(cm_query_int(f->c, &n,
                                  "SELECT COUNT(*) FROM inbox WHERE user_id = ? AND kind = ?", "it",
                                  user, kind),
                     ST_OK);
    return n;
}

static int64_t signals(struct fx *f, int64_t user)
{
    return scalar(f, "SELECT COUNT(*) FROM feed_affinity WHERE user_id = ?", user);
}

/* ---------------------------------------------------------------- mentions */

static void test_mentions_are_parsed_like_usernames(void **state)
{
    (void)state;
    char names[CM_MENTIONS_MAX][CM_MENTION_NAME_MAX + 1];
    size_t n = cm_mentions("Hi @Alice and @bob.smith. Mail a@b.com, `@inline` ```\n@fenced\n``` "
                           "@x @alice @9lives (@carol_)",
                           names, CM_MENTIONS_MAX);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "alice");
    assert_string_equal(names[1], "bob.smith");
    assert_string_equal(names[2], "carol_");
    /* The cap holds. */
    char many[400] = "";
    for (int i = 0; i < 15; i++) {
        char one[16];
        snprintf(one, sizeof one, "@user%02d ", i);
        strncat(many, one, sizeof many - strlen(many) - 1);
    }
    assert_int_equal(cm_mentions(many, names, CM_MENTIONS_MAX), CM_MENTIONS_MAX);
}

/* ---------------------------------------------------------------- signals */

static void test_signals_need_the_purpose_and_go_when_it_is_withdrawn(void **state)
{
    struct fx *f = *state;
    int64_t a = new_user(f, "alice"), b = new_user(f, "bob");
    board(f, "trade");
    int64_t post;
    int64_t t = topic(f, b, "trade", "LED panels FOB Shenzhen", "led", &post);
    /* Off (the default): browsing, liking and searching leave nothing. */
    view(f, a, t);
    like(f, a, post, true);
    json_t *results = json_pack("{s:[{s:I}]}", "results", "topic_id", (json_int_t)t);
    activity_on_search(f->c, a, "led panels", results);
    assert_int_equal(signals(f, a), 0);
    /* ...while the features themselves work. */
    assert_int_equal(scalar(f, "SELECT COUNT(*) FROM post_likes WHERE user_id = ?", a), 1);
    assert_int_equal(scalar(f, "SELECT COUNT(*) FROM recently_viewed WHERE user_id = ?", a), 1);
    /* On: a view records the board, the author and the tag. */
    purpose(f, a, true);
    view(f, a, t);
    assert_int_equal(signals(f, a), 3);
    int64_t w =
        scalar(f, "SELECT weight FROM feed_affinity WHERE user_id = ? AND kind = 'board'", a);
    assert_int_equal(w, FEED_SIGNAL_VIEW);
    /* A search that names the tag adds to it; an unlike takes a like back. */
    activity_on_search(f->c, a, "LED", results);
    assert_true(scalar(f, "SELECT weight FROM feed_affinity WHERE user_id = ? AND kind = 'tag'",
                       a) > FEED_SIGNAL_VIEW + FEED_SIGNAL_SEARCH);
    like(f, a, post, false);
    like(f, a, post, true);
    /* Weights decay: two half-lives later a view adds to a quarter. */
    clock_set_offset_ms(2 * FEED_AFFINITY_HALF_LIFE_MS);
    int64_t before = scalar(f,
                            "SELECT weight FROM feed_affinity WHERE user_id = ? AND kind = "
                            "'board'",
                            a);
    view(f, a, t);
    int64_t after = scalar(f,
                           "SELECT weight FROM feed_affinity WHERE user_id = ? AND kind = "
                           "'board'",
                           a);
    assert_true(llabs(after - (before / 4 + FEED_SIGNAL_VIEW)) <= 1);
    /* Nobody else's signals were touched, and one's own topic is no signal
     * about its author. */
    assert_int_equal(signals(f, b), 0);
    /* Off again: nothing more is added, and the purge deletes the rest. */
    purpose(f, a, false);
    int64_t total = scalar(f, "SELECT SUM(weight) FROM feed_affinity WHERE user_id = ?", a);
    view(f, a, t);
    activity_on_search(f->c, a, "led", results);
    assert_int_equal(scalar(f, "SELECT SUM(weight) FROM feed_affinity WHERE user_id = ?", a),
                     total);
    int64_t c_user = new_user(f, "carol");
    purpose(f, c_user, true);
    view(f, c_user, t);
    int64_t removed = 0;
    assert_int_equal(cm_feed_purge_withdrawn(f->c, &removed), ST_OK);
    assert_int_equal(removed, 3);
    assert_int_equal(signals(f, a), 0);
    assert_int_equal(signals(f, c_user), 3); /* still on: kept */
    json_decref(results);
}

/* ---------------------------------------------------------------- notices */

static void test_notices_reach_the_right_members_once(void **state)
{
    struct fx *f = *state;
    int64_t a = new_user(f, "alice"), b = new_user(f, "bob"), carol = new_user(f, "carol");
    board(f, "trade");
    int64_t first;
    int64_t t = topic(f, a, "trade", "Who ships to Lyon? cc @carol", NULL, &first);
    assert_int_equal(notices(f, carol, "community.mention"), 1);
    /* A reply: the topic's author is told; one mentioned (and the author
     * mentioned again) once; oneself never. */
    int64_t r1 = reply(f, b, t, "We do, @alice — and @carol knows @bob", 0, 0);
    assert_int_equal(notices(f, a, "community.reply"), 1);
    assert_int_equal(notices(f, a, "community.mention"), 0);
    assert_int_equal(notices(f, carol, "community.mention"), 2);
    assert_int_equal(notices(f, b, "community.mention"), 0);
    /* A reply to a reply tells that reply's author; quoting tells the
     * quoted; a reply to one's own topic tells nobody about oneself. */
    reply(f, carol, t, "Seconded", r1, 0);
    assert_int_equal(notices(f, b, "community.reply"), 1);
    assert_int_equal(notices(f, a, "community.reply"), 2);
    reply(f, a, t, "Thanks", 0, r1);
    assert_int_equal(notices(f, b, "community.reply"), 2);
    assert_int_equal(notices(f, a, "community.reply"), 2);
    /* An edit tells only whom it newly mentions. */
    struct cm_error e = {0};
    json_t *o = NULL;
    assert_int_equal(community_post_edit(f->c, b, r1, NULL, "We do, @alice, @carol, @bob", &o, &e),
                     ST_OK);
    json_decref(o);
    assert_int_equal(notices(f, carol, "community.mention"), 2);
    assert_int_equal(notices(f, a, "community.mention"), 0);
    /* Likes: like, unlike, like again — one notice. */
    like(f, b, first, true);
    like(f, b, first, false);
    like(f, b, first, true);
    assert_int_equal(notices(f, a, "community.like"), 1);
    /* Follows: once, even after an unfollow and a follow again. */
    assert_int_equal(community_follow_user(f->c, b, a, true, &e), ST_OK);
    assert_int_equal(community_follow_user(f->c, b, a, false, &e), ST_OK);
    assert_int_equal(community_follow_user(f->c, b, a, true, &e), ST_OK);
    assert_int_equal(notices(f, a, "community.follow"), 1);
    /* The params name who and where, never the post's text. */
    char *params = NULL;
    struct db_stmt *s;
    bool row;
    assert_int_equal(cm_query(f->c, &s, &row,
                              "SELECT params FROM inbox WHERE user_id = ? AND kind = "
                              "'community.like'",
                              "i", a),
                     ST_OK);
    assert_true(row);
    params = xstrdup(db_col_text(s, 0));
    db_stmt_done(s);
    json_t *p = json_loads(params, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "by"), "id")), b);
    assert_int_equal(json_integer_value(json_object_get(p, "topic_id")), t);
    assert_int_equal(json_integer_value(json_object_get(p, "post_id")), first);
    assert_string_equal(json_string_value(json_object_get(p, "title")), "A topic title");
    assert_null(strstr(params, "Lyon"));
    json_decref(p);
    free(params);
}

static void test_switches_turn_kinds_off(void **state)
{
    struct fx *f = *state;
    int64_t a = new_user(f, "alice"), b = new_user(f, "bob");
    board(f, "trade");
    json_t *o = NULL;
    assert_int_equal(community_notification_settings(f->c, a, &o), ST_OK);
    assert_true(
        json_is_true(json_object_get(o, "reply")) && json_is_true(json_object_get(o, "like")) &&
        json_is_true(json_object_get(o, "mention")) && json_is_true(json_object_get(o, "follow")));
    json_decref(o);
    json_t *patch = json_pack("{s:b, s:b}", "like", 0, "reply", 0);
    assert_int_equal(community_notification_settings_set(f->c, a, patch, &o), ST_OK);
    json_decref(patch);
    assert_true(json_is_false(json_object_get(o, "like")) &&
                json_is_false(json_object_get(o, "reply")) &&
                json_is_true(json_object_get(o, "mention")));
    json_decref(o);
    int64_t first;
    int64_t t = topic(f, a, "trade", "Body", NULL, &first);
    like(f, b, first, true);
    reply(f, b, t, "A plain reply", 0, 0);
    assert_int_equal(notices(f, a, "community.like"), 0);
    assert_int_equal(notices(f, a, "community.reply"), 0);
    /* Replies off, mentions on: a reply that mentions them still tells them. */
    reply(f, b, t, "Right, @alice?", 0, 0);
    assert_int_equal(notices(f, a, "community.mention"), 1);
    /* Another member's switches are theirs. */
    int64_t bt = topic(f, b, "trade", "Mine", NULL, NULL);
    reply(f, a, bt, "Reply", 0, 0);
    assert_int_equal(notices(f, b, "community.reply"), 1);
}

/* ---------------------------------------------------------------- the feed */

/* A topic row written directly: exact times and counters. */
static int64_t topic_row(struct fx *f, int64_t board_id, int64_t author, int64_t last,
                         int64_t score, const char *tag)
{
    int64_t id = 0;
    char tags[64];
    snprintf(tags, sizeof tags, tag ? "[\"%s\"]" : "[]", tag);
    assert_int_equal(cm_query_int(f->c, &id,
                                  "INSERT INTO topics (board_id, author_id, title, tags, score, "
                                  "reply_count, last_post_at, created_at, updated_at) VALUES (?, "
                                  "?, 'T', ?, ?, ?, ?, ?, ?) RETURNING id",
                                  "iitiiiii", board_id, author, tags, score, score, last, last,
                                  last),
                     ST_OK);
    if (tag) {
        int64_t tag_id = 0;
        assert_int_equal(cm_query_int(f->c, &tag_id,
                                      "INSERT INTO tags (name, topic_count, created_at) VALUES "
                                      "(?, 1, 1) ON CONFLICT (name) DO UPDATE SET topic_count = "
                                      "tags.topic_count + 1 RETURNING id",
                                      "t", tag),
                         ST_OK);
        assert_int_equal(cm_exec(f->c, NULL,
                                 "INSERT INTO topic_tags (topic_id, tag_id) VALUES (?, ?)", "ii",
                                 id, tag_id),
                         ST_OK);
    }
    return id;
}

static json_t *feed(struct fx *f, int64_t user, const char *cursor)
{
    json_t *o = NULL;
    struct cm_error e = {0};
    enum st st = community_feed(f->c, user, cursor, &o, &e);
    if (st != ST_OK)
        fail_msg("feed: %s", st_name(st));
    return o;
}

static int64_t first_id(json_t *page)
{
    return json_integer_value(
        json_object_get(json_array_get(json_object_get(page, "topics"), 0), "id"));
}

static const char *mode_of(json_t *page)
{
    return json_string_value(json_object_get(page, "mode"));
}

static void test_feed_modes_and_ranking(void **state)
{
    struct fx *f = *state;
    int64_t a = new_user(f, "alice"), b = new_user(f, "bob"), c2 = new_user(f, "carol");
    int64_t trade = board(f, "trade"), chat = board(f, "chat");
    int64_t now = clock_now_ms();
    /* In chat, newer and as popular; in trade, a day older. */
    int64_t old_trade = topic_row(f, trade, b, now - 24 * HOUR_MS, 3, NULL);
    int64_t new_chat = topic_row(f, chat, c2, now - HOUR_MS, 3, NULL);
    /* Visitors and members with the purpose off: the latest, said so. */
    json_t *p = feed(f, 0, NULL);
    assert_string_equal(mode_of(p), "latest");
    assert_string_equal(json_string_value(json_object_get(p, "reason")), "visitor");
    assert_int_equal(first_id(p), new_chat);
    json_decref(p);
    struct cm_error e = {0};
    assert_int_equal(community_follow_board(f->c, a, "trade", true, &e), ST_OK);
    p = feed(f, a, NULL);
    assert_string_equal(mode_of(p), "latest");
    assert_string_equal(json_string_value(json_object_get(p, "reason")), "purpose_off");
    assert_int_equal(first_id(p), new_chat); /* the follow is not used while off */
    json_decref(p);
    /* On: the followed board wins over a fresher topic, and says why. */
    purpose(f, a, true);
    p = feed(f, a, NULL);
    assert_string_equal(mode_of(p), "personalised");
    assert_true(json_is_null(json_object_get(p, "reason")));
    assert_int_equal(first_id(p), old_trade);
    json_t *why = json_object_get(json_array_get(json_object_get(p, "topics"), 0), "because");
    assert_string_equal(json_string_value(json_array_get(why, 0)), "followed");
    json_decref(p);
    /* Affinity from behaviour: a tag liked in chat lifts chat's tagged
     * topic above an untagged one of the same age. */
    int64_t tagged = topic_row(f, chat, c2, now - 2 * HOUR_MS, 1, "steel");
    int64_t plain = topic_row(f, chat, c2, now - 2 * HOUR_MS, 1, NULL);
    assert_int_equal(cm_exec(f->c, NULL,
                             "INSERT INTO feed_affinity (user_id, kind, target_id, weight, "
                             "updated_at) SELECT ?, 'tag', id, ?, ? FROM tags WHERE name = 'steel'",
                             "iii", a, (int64_t)FEED_AFFINITY_CAP, now),
                     ST_OK);
    p = feed(f, a, NULL);
    json_t *topics = json_object_get(p, "topics");
    int pos_tagged = -1, pos_plain = -1;
    for (size_t i = 0; i < json_array_size(topics); i++) {
        int64_t id = json_integer_value(json_object_get(json_array_get(topics, i), "id"));
        if (id == tagged)
            pos_tagged = (int)i;
        if (id == plain)
            pos_plain = (int)i;
    }
    assert_true(pos_tagged >= 0 && pos_plain >= 0 && pos_tagged < pos_plain);
    json_decref(p);
    /* The other mode's cursor, and a cursor out of range, are refused. */
    assert_int_equal(community_feed(f->c, a, "123.4", &p, &e), ST_INVALID);
    assert_string_equal(e.field, "cursor");
    assert_int_equal(community_feed(f->c, a, "p1.2.3", &p, &e), ST_INVALID);
    assert_int_equal(community_feed(f->c, 0, "p1.2.3", &p, &e), ST_INVALID);
}

static void test_feed_pages_cover_the_pool_once(void **state)
{
    struct fx *f = *state;
    int64_t a = new_user(f, "alice"), b = new_user(f, "bob");
    int64_t trade = board(f, "trade");
    int64_t now = clock_now_ms();
    enum { N = 47 };
    for (int i = 0; i < N; i++)
        topic_row(f, trade, b, now - i * 7 * 60000LL, i % 5, i % 3 ? NULL : "led");
    /* A hidden and a deleted topic never show. */
    int64_t hidden = topic_row(f, trade, b, now, 50, NULL);
    int64_t gone = topic_row(f, trade, b, now, 50, NULL);
    assert_int_equal(cm_exec(f->c, NULL, "UPDATE topics SET hidden = 1 WHERE id = ?", "i", hidden),
                     ST_OK);
    assert_int_equal(
        cm_exec(f->c, NULL, "UPDATE topics SET deleted_at = 1 WHERE id = ?", "i", gone), ST_OK);
    purpose(f, a, true);
    struct cm_error e = {0};
    assert_int_equal(community_follow_user(f->c, a, b, true, &e), ST_OK);
    char *cursor = NULL;
    int64_t seen[N + 2];
    int n = 0, pages = 0;
    do {
        clock_set_offset_ms((pages + 1) * 60000LL); /* time passes between pages */
        json_t *p = feed(f, a, cursor);
        assert_string_equal(mode_of(p), "personalised");
        json_t *topics = json_object_get(p, "topics");
        assert_true(json_array_size(topics) <= CM_PAGE);
        for (size_t i = 0; i < json_array_size(topics); i++) {
            int64_t id = json_integer_value(json_object_get(json_array_get(topics, i), "id"));
            assert_true(id != hidden && id != gone);
            for (int k = 0; k < n; k++)
                assert_true(seen[k] != id);
            assert_true(n < N);
            seen[n++] = id;
        }
        free(cursor);
        json_t *next = json_object_get(p, "next_cursor");
        cursor = json_is_string(next) ? xstrdup(json_string_value(next)) : NULL;
        json_decref(p);
        pages++;
    } while (cursor && pages < 10);
    assert_int_equal(n, N);
    assert_int_equal(pages, 3);
    free(cursor);
}

/* ---------------------------------------------------------------- plans */

/* The feed's reads use an index in order: no scan of a whole table, no
 * sort of what they read (SQLite's EXPLAIN QUERY PLAN). */
static void test_feed_reads_are_indexed(void **state)
{
    struct fx *f = *state;
    for (size_t i = 0; cm_feed_sql(i); i++) {
        char *sql = xasprintf("EXPLAIN QUERY PLAN %s", cm_feed_sql(i));
        struct db_stmt *s;
        bool row;
        assert_int_equal(db_prepare(f->c, sql, &s), ST_OK);
        int params = 0;
        for (const char *q = cm_feed_sql(i); *q; q++)
            params += *q == '?';
        for (int k = 1; k <= params; k++)
            assert_int_equal(db_bind_int64(s, k, 1), ST_OK);
        struct buf plan;
        buf_init(&plan, 4096);
        assert_int_equal(db_step(s, &row), ST_OK);
        while (row) {
            buf_puts(&plan, db_col_text(s, 3));
            buf_puts(&plan, "\n");
            assert_int_equal(db_step(s, &row), ST_OK);
        }
        db_stmt_done(s);
        const char *text = plan.data;
        if (strstr(text, "TEMP B-TREE") || (strstr(text, "SCAN ") && !strstr(text, "USING INDEX") &&
                                            !strstr(text, "USING COVERING INDEX"))) {
            fail_msg("query %zu is not served by an index in order:\n%s\n%s", i, cm_feed_sql(i),
                     text);
        }
        buf_free(&plan);
        free(sql);
    }
}

/* ---------------------------------------------------------------- fixture */

static int setup_kind(void **state, enum db_kind kind)
{
    struct fx *f = calloc(1, sizeof *f);
    f->kind = kind;
    *state = f;
    clock_set_offset_ms(0);
    if (FX_OPEN(f, "feed", 4, true) != 0)
        return -1;
    return db_acquire(f->db, &f->c) == ST_OK ? 0 : -1;
}

static int setup_sqlite(void **state)
{
    return setup_kind(state, DB_SQLITE);
}

static int setup_pg(void **state)
{
    return setup_kind(state, DB_POSTGRES);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (!f)
        return 0;
    if (f->c)
        db_release(f->c);
    FX_CLOSE(f);
    free(f);
    clock_set_offset_ms(0);
    return 0;
}

#define FEED_TESTS(setup)                                                                          \
    cmocka_unit_test_setup_teardown(test_signals_need_the_purpose_and_go_when_it_is_withdrawn,     \
                                    setup, teardown),                                              \
        cmocka_unit_test_setup_teardown(test_notices_reach_the_right_members_once, setup,          \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(test_switches_turn_kinds_off, setup, teardown),            \
        cmocka_unit_test_setup_teardown(test_feed_modes_and_ranking, setup, teardown),             \
        cmocka_unit_test_setup_teardown(test_feed_pages_cover_the_pool_once, setup, teardown)

int main(void)
{
    log_init(LOG_ERROR, true);
    unsigned char key[MASTER_KEY_BYTES];
    if (sodium_init() < 0)
        return 1;
    randombytes_buf(key, sizeof key);
    if (crypto_init(key, 1) != ST_OK)
        return 1;
    sodium_memzero(key, sizeof key);
    i18n_init();
    const struct CMUnitTest sqlite[] = {
        cmocka_unit_test(test_mentions_are_parsed_like_usernames),
        FEED_TESTS(setup_sqlite),
        cmocka_unit_test_setup_teardown(test_feed_reads_are_indexed, setup_sqlite, teardown),
    };
    const struct CMUnitTest postgres[] = {FEED_TESTS(setup_pg)};
    int failed = cmocka_run_group_tests_name("feed_sqlite", sqlite, NULL, NULL);
    if (fx_pg_url())
        failed += cmocka_run_group_tests_name("feed_postgres", postgres, NULL, NULL);
    else
        fx_pg_skipped("feed_postgres");
    return failed ? 1 : 0;
}
