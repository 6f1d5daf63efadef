/*
 * community.h — the community forum (SPEC §4, §12): boards, topics,
 * replies (one level of threading, quotes), edits with history, soft
 * deletes, likes, favourites, follows, recently viewed topics, moderation
 * of topics, and full-text search in Chinese and Latin scripts.
 *
 * Plain C: community_api.c turns HTTP requests into these calls. What every
 * function here promises:
 *   - ids in answers are the int64 row ids; whatever a caller may not see
 *     (a hidden topic, another user's hidden post) answers ST_NOTFOUND,
 *     exactly like a missing id;
 *   - Markdown is rendered with md4c by our own renderer, which writes only
 *     allow-listed tags and attributes (no raw HTML, no event handlers, no
 *     javascript: or data: links); source and HTML are both stored;
 *   - a write either happens whole (rows, counters, search index, log) in
 *     one transaction or not at all;
 *   - posting is rate-limited per user (community_posts_per_minute,
 *     community_topics_per_hour): ST_RATELIMIT with err->retry_after_ms.
 *
 * Functions take a borrowed connection with no transaction open. Answers
 * are new jansson objects the caller owns.
 *
 * Personal data held by this module (for the registry in src/privacy):
 *   boards.owner_id, board_moderators.user_id/appointed_by — identity (role
 *     in the community); purpose community; contract; kept while the board
 *     lives; exported; on erasure set to NULL.
 *   topics.author_id, topics.title, posts.author_id, posts.body_md,
 *     posts.body_html, post_revisions.editor_id/title/body_md,
 *     post_search.title/body/words — content the user published; purpose
 *     community; contract; not encrypted (public text); kept until the
 *     author deletes it (soft delete keeps it for moderation) or erasure;
 *     exported; on erasure the text is removed and author ids set NULL.
 *   post_likes, topic_favourites, user_follows, board_follows (user ids,
 *     created_at) — behaviour; purpose community; contract; kept until
 *     undone; exported; deleted on erasure.
 *   recently_viewed (user_id, topic_id, viewed_at) — behaviour (browsing
 *     history in the user's own space); purpose community; contract; kept
 *     CM_RECENT_MAX rows a user; exported; deleted on erasure.
 *   reports.reporter_id/reason/detail, reports.handled_by — content and
 *     identity; purpose moderation; legitimate interest; kept 1 year after
 *     handling; exported to the reporter; reporter id set NULL on erasure.
 *   moderator_actions.actor_id/reason — identity of the moderator; purpose
 *     moderation accountability; legal obligation; kept 3 years; not part
 *     of the moderated user's export; actor id kept (staff record).
 */
#ifndef ENTREPOT_COMMUNITY_H
#define ENTREPOT_COMMUNITY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "db/db.h"

/* Limits users see (code points), also declared by the API's body specs. */
#define CM_TITLE_MIN       2
#define CM_TITLE_MAX       150
#define CM_BODY_MAX        20000
#define CM_TAGS_MAX        5
#define CM_TAG_MAX         24
#define CM_SLUG_MIN        2
#define CM_SLUG_MAX        32
#define CM_BOARD_NAME_MAX  60
#define CM_BOARD_DESC_MAX  500
#define CM_REASON_MAX      500
#define CM_QUERY_MAX       100 /* code points of a search query */
#define CM_PAGE            20  /* topics or replies a page */
#define CM_SEARCH_PAGE_MAX 50  /* results a search page at most */
#define CM_RECENT_MAX      100 /* recently viewed topics kept a user */

/* Who is asking. */
struct cm_viewer {
    int64_t user_id; /* 0 = visitor */
    bool staff;      /* a staff session: sees hidden content */
    bool staff_mod;  /* staff who moderate every board (operations, administrators) */
};

/* Why a call failed: a field error (code → catalogue "field.<code>"), a
 * detail (catalogue key), or a wait (ST_RATELIMIT). */
struct cm_error {
    const char *field;
    const char *code;
    int64_t min, max;
    const char *detail;
    int64_t retry_after_ms;
};

/* ---------------------------------------------------------------- boards */

/* {"boards":[{"id","slug","name","description","topic_count","post_count",
 *  "last_post_at"}]} in display order. */
enum st community_boards_list(struct db_conn *c, json_t **out);
/* One board by slug, with "following" for a signed-in viewer and the
 * board's pinned topics. */
enum st community_board_get(struct db_conn *c, const struct cm_viewer *v, const char *slug,
                            json_t **out);
/* Creates a board: staff moderators (no owner), or a member whose real
 * name is verified, who becomes its owner (ST_FORBIDDEN otherwise;
 * CM_BOARDS_PER_DAY a member). ST_CONFLICT (field slug) when the slug is
 * taken. */
#define CM_BOARDS_PER_DAY 3
enum st community_board_create(struct db_conn *c, const struct cm_viewer *v, const char *slug,
                               const char *name, const char *description, json_t **out,
                               struct cm_error *err);

/* ---------------------------------------------------------------- topics */

struct cm_list {
    const char *board; /* slug or NULL: every board */
    const char *tag;   /* tag or NULL */
    const char *sort;  /* "latest" (default) or "top" */
    const char *cursor;
};
/* A page of CM_PAGE topics and "next_cursor" (null at the end). */
enum st community_topics_list(struct db_conn *c, const struct cm_list *q, json_t **out,
                              struct cm_error *err);

/* Creates a topic: title, Markdown body, tags (a JSON array of strings,
 * may be NULL). Answers the topic page. */
enum st community_topic_create(struct db_conn *c, int64_t user_id, const char *board,
                               const char *title, const char *body, json_t *tags, json_t **out,
                               struct cm_error *err);
/* The topic page: topic, first post, and a page of CM_PAGE replies after
 * cursor. Records the topic in a signed-in viewer's recently viewed list. */
enum st community_topic_get(struct db_conn *c, const struct cm_viewer *v, int64_t topic_id,
                            const char *cursor, json_t **out, struct cm_error *err);

/* ---------------------------------------------------------------- posts */

/* Replies to a topic; parent_id (0: none) is the reply answered (a reply
 * to a reply hangs under its top-level reply), quote_id (0: none) a post of
 * the same topic quoted. ST_CONFLICT for a locked topic, ST_FORBIDDEN for a
 * hidden one. */
enum st community_reply_create(struct db_conn *c, int64_t user_id, int64_t topic_id,
                               const char *body, int64_t parent_id, int64_t quote_id, json_t **out,
                               struct cm_error *err);
/* Edits the viewer's own post (title: the topic's first post only, may be
 * NULL; body may be NULL). The previous text goes to the history.
 * ST_NOTFOUND for another user's post. */
enum st community_post_edit(struct db_conn *c, int64_t user_id, int64_t post_id, const char *title,
                            const char *body, json_t **out, struct cm_error *err);
/* Soft-deletes the viewer's own post (the first post deletes the topic). */
enum st community_post_delete(struct db_conn *c, int64_t user_id, int64_t post_id,
                              struct cm_error *err);
/* The edit history of a visible post, newest first. */
enum st community_post_revisions(struct db_conn *c, const struct cm_viewer *v, int64_t post_id,
                                 json_t **out);

/* ---------------------------------------------------------------- reactions */

/* Like (on) or unlike a visible post. ST_CONFLICT when already in that
 * state; ST_UNPROCESSABLE for one's own post. */
enum st community_like(struct db_conn *c, int64_t user_id, int64_t post_id, bool on,
                       struct cm_error *err);
/* Favourite a topic; ST_CONFLICT when already in that state. */
enum st community_favourite(struct db_conn *c, int64_t user_id, int64_t topic_id, bool on,
                            struct cm_error *err);
/* Follow a user; ST_UNPROCESSABLE for oneself, ST_CONFLICT when already
 * in that state, ST_NOTFOUND for an unknown or closed account. */
enum st community_follow_user(struct db_conn *c, int64_t user_id, int64_t target, bool on,
                              struct cm_error *err);
enum st community_follow_board(struct db_conn *c, int64_t user_id, const char *slug, bool on,
                               struct cm_error *err);

/* The viewer's own space: "favourites", "following" (users and boards) or
 * "recent" (recently viewed topics). */
enum st community_me(struct db_conn *c, int64_t user_id, const char *what, json_t **out);

/* ---------------------------------------------------------------- moderation */

/* Who moderates a board: its owner, the members the owner (or staff)
 * appointed, and staff moderators (v->staff_mod) everywhere. Every action
 * below is written to moderator_actions with its actor and reason in the
 * transaction that makes it. A caller who may not moderate the board gets
 * ST_FORBIDDEN (detail community.not_moderator); what the caller may not
 * see at all (another board's report) is ST_NOTFOUND. */

/* {"owner": author|null, "moderators": [author + "since"]} of a board. */
enum st community_moderators_list(struct db_conn *c, const char *slug, json_t **out);
/* Appoints (on) or removes a moderator: the board's owner or staff
 * moderators only. ST_NOTFOUND for an unknown or inactive member,
 * ST_CONFLICT when already so. */
enum st community_moderator_set(struct db_conn *c, const struct cm_viewer *v, const char *slug,
                                int64_t target, bool on, struct cm_error *err);

/* lock, unlock, hide, unhide, pin, unpin, or move (to the board slug
 * to_board) a topic. ST_CONFLICT when already so. */
enum st community_topic_moderate(struct db_conn *c, const struct cm_viewer *v, int64_t topic_id,
                                 const char *action, const char *reason, const char *to_board,
                                 struct cm_error *err);
/* hide or unhide a reply (a first post is hidden with its topic:
 * ST_UNPROCESSABLE). A hidden post keeps its place; its author and
 * moderators still read it, marked hidden; others see no text. */
enum st community_post_moderate(struct db_conn *c, const struct cm_viewer *v, int64_t post_id,
                                const char *action, const char *reason, struct cm_error *err);

/* Bars target from posting in the board until the time until (ms, in the
 * future; a second call replaces the end). Not oneself, not the owner,
 * and moderators only by staff. */
enum st community_suspend(struct db_conn *c, const struct cm_viewer *v, const char *slug,
                          int64_t target, int64_t until, const char *reason, struct cm_error *err);
/* Ends a suspension early; ST_CONFLICT when there is none running. */
enum st community_unsuspend(struct db_conn *c, const struct cm_viewer *v, const char *slug,
                            int64_t target, struct cm_error *err);
/* {"suspensions":[{"user","until","reason","by","created_at"}]}: those
 * still running, for the board's moderators. */
enum st community_suspensions(struct db_conn *c, const struct cm_viewer *v, const char *slug,
                              json_t **out, struct cm_error *err);

/* A member reports a visible post: reason one of CM_REPORT_REASONS,
 * detail optional. Once per post and member (ST_CONFLICT), not one's own
 * post (ST_UNPROCESSABLE); rate-limited. Answers {"id","status"}. */
#define CM_REPORT_REASONS   "spam, abuse, off_topic, illegal, other"
#define CM_REPORTS_PER_HOUR 30
enum st community_report(struct db_conn *c, int64_t user_id, int64_t post_id, const char *reason,
                         const char *detail, json_t **out, struct cm_error *err);

struct cm_reports_q {
    const char *board;  /* slug; NULL: every board (staff moderators only) */
    const char *status; /* open (default), upheld, dismissed */
    const char *cursor;
};
/* The report queue, newest first, CM_PAGE a page: {"reports":[...],
 * "next_cursor"}. Moderators of the board and staff moderators. */
enum st community_reports(struct db_conn *c, const struct cm_viewer *v,
                          const struct cm_reports_q *q, json_t **out, struct cm_error *err);
/* Handles an open report: "uphold" hides the post (its topic for a first
 * post), "dismiss" keeps it; either closes every open report of the post.
 * ST_NOTFOUND unless v moderates the post's board; ST_CONFLICT when the
 * report is already handled. */
enum st community_report_handle(struct db_conn *c, const struct cm_viewer *v, int64_t report_id,
                                const char *decision, const char *note, struct cm_error *err);

/* The moderator log for staff, newest first, CM_PAGE a page, optionally
 * of one board: {"actions":[...],"next_cursor"}. */
enum st community_mod_log(struct db_conn *c, const char *board, const char *cursor, json_t **out,
                          struct cm_error *err);

/* ---------------------------------------------------------------- search */

struct cm_search {
    const char *q;
    const char *board;  /* slug or NULL */
    const char *tag;    /* or NULL */
    int64_t author;     /* user id or 0 */
    int64_t from, to;   /* created_at bounds in ms (0: open) */
    const char *sort;   /* "relevance" (default) or "latest" */
    const char *cursor; /* from a previous page */
    int64_t limit;      /* 1..CM_SEARCH_PAGE_MAX (0: CM_PAGE) */
};
/* Full-text search over visible posts: every term must match (Chinese
 * runs as substrings, other words whole), Traditional and Simplified
 * alike. {"results":[{"post_id","topic_id","title","board","author_id",
 * "created_at","snippet_html","title_html"}],"next_cursor"}; snippets are
 * escaped text with <mark> around the matches. */
enum st community_search(struct db_conn *c, enum db_kind kind, const struct cm_search *q,
                         json_t **out, struct cm_error *err);

/* ---------------------------------------------------------------- real-name verification */

/* A member sends photos of both sides of an identity document (one call
 * a side: "front", "back"; PNG, JPEG or WebP of the declared media type,
 * re-encoded, sealed), then the number; staff approve or reject. Nothing
 * can change while an attempt is pending (ST_CONFLICT), nor once the
 * member is verified. Photos that are not usable images: ST_UNPROCESSABLE
 * with the side as the field. Uploads and submissions are rate-limited. */
#define CM_ID_PHOTO_MAX_BYTES (8 * 1024 * 1024)
#define CM_ID_NUMBER_MAX      32
enum st community_verification_photo(struct db_conn *c, int64_t user_id, const char *side,
                                     const void *bytes, size_t len, const char *type,
                                     struct cm_error *err);
/* Submits the open attempt with id_type ("prc_id": 18 characters with
 * their MOD 11-2 check; "passport": 5 to 20 letters and digits) and the
 * number; needs both photos. Answers as community_verification_mine. */
enum st community_verification_submit(struct db_conn *c, int64_t user_id, const char *id_type,
                                      const char *id_number, json_t **out, struct cm_error *err);
/* {"verified", "latest": {"id","status","id_type","id_number_masked",
 * "reason","front","back","submitted_at","reviewed_at","created_at"} or
 * null}: where the member stands. */
enum st community_verification_mine(struct db_conn *c, int64_t user_id, json_t **out);
/* *yes: user_id's identity was approved. */
enum st community_verified(struct db_conn *c, int64_t user_id, bool *yes);

/* A staff member reading or deciding: their id, the role they act in
 * (for the audit log) and their address. */
struct cm_staff {
    int64_t user_id;
    const char *role;
    const char *ip;
};
/* The review queue (status pending by default), oldest first, CM_PAGE a
 * page; no document data in it. */
enum st community_verifications(struct db_conn *c, const char *status, const char *cursor,
                                json_t **out, struct cm_error *err);
/* One attempt with the number masked and how many other accounts sent
 * the same document; audited with reason (the purpose) in the same
 * transaction. ST_NOTFOUND for unknown ids and drafts. */
enum st community_verification_view(struct db_conn *c, const struct cm_staff *who, int64_t id,
                                    const char *reason, json_t **out);
/* One photo (JPEG bytes into *data, freed with crypto_free_secret),
 * audited like the view. */
enum st community_verification_photo_view(struct db_conn *c, const struct cm_staff *who, int64_t id,
                                          const char *side, const char *reason,
                                          unsigned char **data, size_t *len);
/* approve, or reject with a reason (shown to the member); audited; the
 * member is told in the inbox. ST_CONFLICT unless pending. */
enum st community_verification_decide(struct db_conn *c, const struct cm_staff *who, int64_t id,
                                      const char *decision, const char *reason,
                                      struct cm_error *err);

/* ---------------------------------------------------------------- demo data */

/* A synthetic community for demonstrations and benchmarks (demo.c):
 * boards, members, topics in mixed Chinese and English (some Traditional)
 * with Markdown, tags, replies and likes, indexed for search. The same
 * seed makes the same text. Members get a data key but no phone number
 * or password: they cannot sign in. */
struct cm_demo {
    int64_t topics;  /* N: topics to make */
    int64_t replies; /* replies to each (10) */
    uint64_t seed;
    /* Called now and then with what is done so far (may be NULL). */
    void (*progress)(void *arg, int64_t topics, int64_t posts);
    void *arg;
};
struct cm_demo_result {
    int64_t boards, users, topics, posts, likes;
};
/* Writes the community in batches of a few thousand topics, each batch
 * one transaction; the database needs crypto (data keys) ready. */
enum st community_demo(struct db *db, const struct cm_demo *o, struct cm_demo_result *r);

/* Markdown → sanitised HTML (caller frees *html) and plain text for the
 * search index (caller frees *text; may be NULL). ST_TOOLARGE past the cap. */
enum st community_markdown(const char *md, size_t n, char **html, char **text);

/* ---------------------------------------------------------------- server-rendered pages */

/* A public page rendered on the server (community_html.c), for the HTTP
 * layer to pour into the web app's shell: plain-text title, description
 * (NULL: none) and canonical path, and the HTML of the page's body, every
 * text in it escaped. Free with cm_page_free. */
struct cm_page {
    char *title;
    char *description;
    char *canonical;
    const char *og_type; /* "article" or "website" */
    struct buf body;
};
void cm_page_free(struct cm_page *p);
/* The community home: boards and the latest topics. */
enum st community_html_home(struct db_conn *c, const char *lang, struct cm_page *out);
/* A board's page of topics (q->board is the slug). ST_NOTFOUND for an
 * unknown board, ST_INVALID for a bad sort or cursor. */
enum st community_html_board(struct db_conn *c, const char *lang, const struct cm_list *q,
                             struct cm_page *out);
/* A topic with its first post and a page of replies, as a visitor sees it
 * (hidden and deleted topics are ST_NOTFOUND). */
enum st community_html_topic(struct db_conn *c, const char *lang, int64_t topic_id,
                             const char *cursor, struct cm_page *out);
/* The page of an unknown (or, invalid: malformed) address. */
void community_html_missing(const char *lang, bool invalid, struct cm_page *out);
/* The Markdown source of a post the viewer may see: {"post_id","topic_id",
 * "body_md","title"} (title: the topic's, for its first post; else null). */
enum st community_post_source(struct db_conn *c, const struct cm_viewer *v, int64_t post_id,
                              json_t **out);
/* The visible posts user_id liked, newest like first (200 at most):
 * {"likes":[{"post_id","topic_id","title","board":{"slug","name"},
 * "liked_at"}]}. */
enum st community_my_likes(struct db_conn *c, int64_t user_id, json_t **out);
/* Registers the routes of the server-rendered pages and of what the web
 * app's pages need beside the core API: a post's source, the Markdown
 * preview, my liked posts (community_html_api.c). */
void community_html_api_register(void);

/* ---------------------------------------------------------------- feed and notifications */

/* The feed, CM_PAGE topics a page (feed.c): ranked for user_id when their
 * "personalised recommendations" purpose is on ({"mode":"personalised",
 * "reason":null}, each topic with "because": why it is there), else the
 * latest topics ({"mode":"latest","reason":"visitor"|"purpose_off"});
 * "topics" and "next_cursor" either way. user_id 0: a visitor. A cursor
 * of the other mode is ST_INVALID (field cursor). */
enum st community_feed(struct db_conn *c, int64_t user_id, const char *cursor, json_t **out,
                       struct cm_error *err);
/* The member's switch per notice kind: {"reply","mention","like",
 * "follow"} (booleans; on unless turned off). */
enum st community_notification_settings(struct db_conn *c, int64_t user_id, json_t **out);
/* Sets the switches present (as booleans) in patch; answers as above. */
enum st community_notification_settings_set(struct db_conn *c, int64_t user_id, const json_t *patch,
                                            json_t **out);
/* The search's behaviour signal (activity.c): the boards of the first
 * results and the tags the query names add to user_id's affinity when
 * their recommendations purpose is on. After the search, in a transaction
 * of its own; a failure is logged. */
void activity_on_search(struct db_conn *c, int64_t user_id, const char *q, const json_t *results);
/* Registers the job that deletes the signals of members who turned the
 * purpose off (hourly). Idempotent. */
enum st community_feed_init(void);
/* Registers the feed's and notifications' routes (feed_api.c). */
void community_feed_api_register(void);

/* Registers the module's routes (community_api.c). */
void community_api_register(void);

#endif
