/*
 * community_int.h — internals shared by the files of src/community: SQL
 * helpers, text normalisation for search, snippets. Not for use outside
 * this folder (the unit test includes it to test the pieces).
 */
#ifndef ENTREPOT_COMMUNITY_INT_H
#define ENTREPOT_COMMUNITY_INT_H

#include <stdarg.h>

#include "community.h"

#define CM_QUERY_TERMS_MAX 16   /* terms of a search query kept */
#define CM_SNIPPET_MARKS   64   /* highlighted ranges of one snippet */
#define CM_SNIPPET_WIDTH   160  /* code points of a snippet */
#define CM_SEARCH_DEPTH    1000 /* results reachable by paging */

/* ---------------------------------------------------------------- SQL */

/* Statements bound by a format string: the db layer's helpers (db.h lists
 * the letters). cm_query prepares, binds and steps once; finish *s with
 * db_stmt_done (it may be NULL after a failure). cm_exec runs a statement
 * to its end; *changes (may be NULL) gets the row count. cm_query_int reads
 * one integer (RETURNING id, COUNT(*)...); ST_NOTFOUND without a row. */
#define cm_query     db_queryf
#define cm_exec      db_execf
#define cm_query_int db_query_int64f
/* Appends fn(row) to the array a for each row of the query. */
enum st cm_rows(struct db_conn *c, json_t *a, json_t *(*fn)(struct db_stmt *), const char *sql,
                const char *fmt, ...);
/* Commits when s is ST_OK, else rolls back; returns s or the commit's failure. */
enum st cm_finish(struct db_conn *c, enum st s);
/* Fills err and returns s. */
enum st cm_fail(struct cm_error *err, enum st s, const char *field, const char *code,
                const char *detail);

/* SQL built piece by piece with its parameters, for lists and searches
 * whose filters vary (the statement cache keys on the text: a handful of
 * shapes). Parameters past CM_QB_PARAMS are a programming error (abort). */
#define CM_QB_PARAMS 64
struct cm_qb {
    struct buf sql;
    int n;
    char type[CM_QB_PARAMS];
    int64_t i[CM_QB_PARAMS];
    const char *t[CM_QB_PARAMS]; /* borrowed: must outlive the statement's use */
};
void cm_qb_init(struct cm_qb *q, const char *head);
/* Appends sql (holding one '?', or none for "") and the value it binds. */
void cm_qb_int(struct cm_qb *q, const char *sql, int64_t v);
void cm_qb_text(struct cm_qb *q, const char *sql, const char *v);
/* Prepares and binds; *s is NULL on failure. */
enum st cm_qb_prepare(struct db_conn *c, struct cm_qb *q, struct db_stmt **s);
void cm_qb_free(struct cm_qb *q);

/* A choice of two words: false when v is neither; *is_yes when it is yes. */
bool cm_either(const char *v, const char *yes, const char *no, bool *is_yes);

/* Column values as JSON: null for SQL NULL. */
json_t *cm_col_str(struct db_stmt *s, int col);
json_t *cm_col_int(struct db_stmt *s, int col);
/* {"id","name","username"} from three columns (id, display name,
 * username), or null for an erased account. */
json_t *cm_author_json(struct db_stmt *s, int col);

/* What the checks need about a topic; ST_NOTFOUND for no such topic. */
struct cm_topic {
    int64_t board_id, author_id; /* author_id 0: erased */
    bool locked, hidden, deleted;
};
enum st cm_topic_state(struct db_conn *c, int64_t topic_id, struct cm_topic *ts);

/* Marks a change to what topic_id's page and its board's topic list show
 * (and to board_id's list too, when not 0: the board a topic left), so
 * cached answers of them are no longer served. In the caller's
 * transaction; every write that changes them calls it. */
enum st cm_touch(struct db_conn *c, int64_t topic_id, int64_t board_id);

/* Counts one event of kind for user_id in a fixed window; ST_RATELIMIT
 * (and err->retry_after_ms) once limit events were counted in it. limit
 * <= 0 turns the limit off. In the caller's transaction. */
enum st cm_limit(struct db_conn *c, const char *kind, int64_t user_id, int64_t window_ms,
                 int64_t limit, struct cm_error *err);

/* Posting limits of user_id (a topic counts against both): ST_RATELIMIT
 * with err->retry_after_ms. In the caller's transaction. */
enum st cm_post_limits(struct db_conn *c, int64_t user_id, bool topic, struct cm_error *err);

/* ---------------------------------------------------------------- answer cache */

/* Serialised anonymous answers (cache.c), each valid for one version of
 * what it shows (community_board_version, community_topic_version) and at
 * most CM_CACHE_TTL_MS. A hit is copied into *bytes (caller frees); keys
 * are at most 159 bytes (longer ones are never kept). The usual order:
 * cm_cache_fresh (no database), else e = cm_cache_epoch(), read the
 * version, cm_cache_get, else build the answer and cm_cache_put it. */
#define CM_CACHE_TTL_MS     5000
#define CM_CACHE_RECHECK_MS 250
/* A hit whose version was confirmed less than CM_CACHE_RECHECK_MS ago,
 * with no community write committed by this process since. */
bool cm_cache_fresh(const char *key, char **bytes, size_t *len);
/* A hit made for this version (which confirms it as of epoch e). */
bool cm_cache_get(const char *key, int64_t version, uint64_t e, char **bytes, size_t *len);
void cm_cache_put(const char *key, int64_t version, uint64_t e, const char *bytes, size_t len);
/* This process's community epoch, and its bump after a commit that
 * touched (cm_touch) what the cache holds (cm_finish calls it). */
uint64_t cm_cache_epoch(void);
void cm_cache_changed(void);
/* Drops every entry (tests). */
void cm_cache_clear(void);
/* The version of a board's topic list (by slug) and of a topic's page;
 * ST_NOTFOUND for none. */
enum st community_board_version(struct db_conn *c, const char *slug, int64_t *version);
enum st community_topic_version(struct db_conn *c, int64_t topic_id, int64_t *version);

/* ---------------------------------------------------------------- moderation */

/* *ok: v may moderate board_id (staff moderators, the board's owner, its
 * moderators). */
enum st cm_can_moderate(struct db_conn *c, const struct cm_viewer *v, int64_t board_id, bool *ok);
/* ST_FORBIDDEN (detail community.suspended) while user_id is suspended
 * from posting in board_id. */
enum st cm_posting_allowed(struct db_conn *c, int64_t board_id, int64_t user_id,
                           struct cm_error *err);

/* One line of the moderator log; ids 0 are NULL, detail NULL is {}. */
struct cm_mod_entry {
    int64_t board_id, topic_id, post_id, actor_id, target_user_id;
    const char *action, *reason, *detail;
};
/* Appends e. In the caller's transaction. */
enum st cm_mod_log(struct db_conn *c, const struct cm_mod_entry *e);

/* ---------------------------------------------------------------- text */

/* Normalised text (textnorm.c). With a map, src_start[i]/src_end[i] are
 * the bytes of the original that output byte i came from. */
struct cm_norm {
    char *text;
    size_t len;
    uint32_t *src_start, *src_end;
    size_t map_cap;
};
bool cm_is_cjk(uint32_t cp);
/* A word character: letter or decimal digit, not CJK. */
bool cm_is_word(uint32_t cp);
/* False when OpenCC's t2s could not be loaded (logged once). */
bool cm_opencc_ready(void);
/* Normalises valid UTF-8 s[0..n). ST_INVALID for broken UTF-8. */
enum st cm_normalize(const char *s, size_t n, bool want_map, struct cm_norm *out);
void cm_norm_free(struct cm_norm *m);
/* Normalised copy of a C string; caller frees. */
char *cm_normalize_str(const char *s);
/* " w1 w2 ... ": the distinct words of two normalised texts; caller frees. */
char *cm_words(const char *title_norm, const char *body_norm);

/* The terms of a normalised query: CJK runs (substring terms) and words. */
struct cm_terms {
    size_t n;
    char *t[CM_QUERY_TERMS_MAX];
    bool cjk[CM_QUERY_TERMS_MAX];
};
void cm_terms_parse(const char *norm, struct cm_terms *q);
void cm_terms_free(struct cm_terms *q);
/* True when every term is found in the title or the body (the reference
 * matcher, used by tests against the engines). */
bool cm_terms_match(const char *title_norm, const char *body_norm, const struct cm_terms *q);
/* Appends to out an HTML snippet of the original text, about width code
 * points around the first match, escaped, with <mark> around matches.
 * True when something matched. */
bool cm_snippet(const char *text, const struct cm_terms *q, size_t width, struct buf *out);

/* Appends s[0..n) escaped for HTML text and attribute values (markdown.c);
 * flatten turns line breaks and tabs into spaces. */
void cm_html_escape(struct buf *b, const char *s, size_t n, bool flatten);

/* ---------------------------------------------------------------- feed and notices */

/* Behaviour signals of the personalised feed (activity.c, feed.c), in
 * milli-points of affinity; recorded only with the recommendations
 * purpose on. */
#define FEED_AFFINITY_HALF_LIFE_MS (14LL * 86400 * 1000)
#define FEED_AFFINITY_CAP          10000 /* 10 points: more says nothing more */
#define FEED_SIGNAL_VIEW           1000
#define FEED_SIGNAL_LIKE           3000
#define FEED_SIGNAL_SEARCH         1000 /* each board of the first results; a tag named: twice */
#define FEED_SEARCH_RESULTS        10   /* results of a search that count */
#define CM_MENTIONS_MAX            10   /* members one post can notify by @name */
#define CM_MENTION_NAME_MAX        32   /* = ACC_USERNAME_MAX */

/* The in-app notices of the community, each with its own switch. */
enum cm_notice {
    CM_NOTICE_REPLY,
    CM_NOTICE_MENTION,
    CM_NOTICE_LIKE,
    CM_NOTICE_FOLLOW,
    CM_NOTICE__COUNT
};
/* "reply", "mention", "like", "follow": the switch's name in the API. */
const char *cm_notice_key(enum cm_notice k);

/* The distinct @usernames of a Markdown text (lower-cased, in order, at
 * most max; none inside `code`, none in an e-mail address). */
size_t cm_mentions(const char *md, char names[][CM_MENTION_NAME_MAX + 1], size_t max);
/* An affinity weight stored at updated_at, decayed to now. */
double cm_affinity_now(int64_t weight, int64_t updated_at, int64_t now);
/* Deletes the affinity of members whose recommendations purpose is off;
 * *removed gets the rows deleted. */
enum st cm_feed_purge_withdrawn(struct db_conn *c, int64_t *removed);
/* The SQL of the feed's candidate reads, i = 0.. until NULL (tests). */
const char *cm_feed_sql(size_t i);

/* Hooks of forum.c, inside the transaction of the post they follow (a
 * failure fails the post): notices to the members answered, quoted or
 * mentioned. parent_id/quote_id 0: none. An edit notifies only members it
 * newly mentions (body_md NULL: nothing). */
enum st activity_on_topic(struct db_conn *c, int64_t author, int64_t topic_id, int64_t post_id,
                          const char *body_md);
enum st activity_on_reply(struct db_conn *c, int64_t author, int64_t topic_id, int64_t post_id,
                          int64_t parent_id, int64_t quote_id, const char *body_md);
enum st activity_on_edit(struct db_conn *c, int64_t author, int64_t topic_id, int64_t post_id,
                         const char *body_md);
/* A like (on) or unlike by user_id of post_id (of topic_id, by author),
 * inside the like's transaction: the signal, and the notice for a like. */
enum st activity_on_like(struct db_conn *c, int64_t user_id, int64_t post_id, int64_t topic_id,
                         int64_t author, bool on);
/* After the fact, in transactions of their own (a failure is logged; the
 * action stands): the notice of a new follower, the signal of a view. */
void activity_on_follow_user(struct db_conn *c, int64_t user_id, int64_t target, bool on);
void activity_on_view(struct db_conn *c, int64_t user_id, int64_t topic_id);

/* ---------------------------------------------------------------- search index */

/* Writes (or rewrites) a post's row in post_search from its title (NULL
 * for replies) and Markdown body. In the caller's transaction. */
enum st cm_index_post(struct db_conn *c, int64_t post_id, const char *title, const char *body_md);
/* The same from the post's plain text (community_markdown's text). */
enum st cm_index_text(struct db_conn *c, int64_t post_id, const char *title, const char *text);

#endif
