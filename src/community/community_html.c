/*
 * community_html.c — the community's public pages rendered on the server
 * (the community home, a board, a topic), so that they read without
 * JavaScript and crawlers index their text; and the Markdown source of a
 * post, which the web app's editor starts from.
 *
 * The decision to know: these pages are made from the very answers the
 * API gives a visitor (community_topic_get and friends with an anonymous
 * viewer), so they can show nothing a visitor could not read over the API
 * and record nothing (no "recently viewed"). Every piece of text is
 * escaped here; the only HTML passed through is a post's stored body_html,
 * which our Markdown renderer wrote from an allow-list. The web app
 * replaces the markup on start, so it only needs to be readable, with the
 * app's class names where they exist.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "community_int.h"

#define DESC_CPS 160 /* code points of a meta description */

void cm_page_free(struct cm_page *p)
{
    if (!p)
        return;
    free(p->title);
    free(p->description);
    free(p->canonical);
    buf_free(&p->body);
    memset(p, 0, sizeof *p);
}

static void page_init(struct cm_page *p)
{
    memset(p, 0, sizeof *p);
    buf_init(&p->body, CAP_HTML_PAGE);
}

/* ---------------------------------------------------------------- pieces */

static void esc(struct buf *b, const char *s)
{
    if (s)
        cm_html_escape(b, s, strlen(s), false);
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int64_t num(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* <time datetime="2026-03-01T08:00:00Z">2026-03-01</time> */
static void put_time(struct buf *b, int64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char iso[32], day[16];
    if (ms <= 0 || !gmtime_r(&secs, &tm))
        return;
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    buf_printf(b, "<time datetime=\"%s\">%s</time>", iso, day);
}

/* What a member is called: display name, else @username, else "a member". */
static void put_author(struct buf *b, const char *lang, json_t *a)
{
    if (!json_is_object(a)) {
        esc(b, i18n_get(lang, "user.anonymous"));
        return;
    }
    buf_printf(b, "<a class=\"post-author\" href=\"/users/%lld\">", (long long)num(a, "id"));
    if (str(a, "name") && *str(a, "name")) {
        esc(b, str(a, "name"));
    } else if (str(a, "username")) {
        buf_putc(b, '@');
        esc(b, str(a, "username"));
    } else {
        esc(b, i18n_get(lang, "user.anonymous"));
    }
    buf_puts(b, "</a>");
}

/* A catalogue message with one {count}. */
static void put_count(struct buf *b, const char *lang, const char *key, int64_t n)
{
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)n);
    char *s = i18n_format(lang, key, "count", v, (const char *)NULL);
    esc(b, s);
    free(s);
}

/* The page's frame: the brand and a way into the community, then main. */
static void frame_open(struct buf *b, const char *lang)
{
    buf_puts(b, "<section id=\"ssr\" class=\"ssr\"><header class=\"header\"><div "
                "class=\"header-inner\"><a class=\"brand\" href=\"/\"><span class=\"brand-mark\" "
                "aria-hidden=\"true\"></span><span class=\"brand-name\">");
    esc(b, i18n_get(lang, "app.name"));
    buf_puts(b, "</span></a></div><nav class=\"nav\" aria-label=\"");
    esc(b, i18n_get(lang, "nav.label"));
    buf_puts(b, "\"><ul><li><a href=\"/community\" aria-current=\"page\">");
    esc(b, i18n_get(lang, "nav.community"));
    buf_puts(b, "</a></li><li><a href=\"/community/search\">");
    esc(b, i18n_get(lang, "forum.search"));
    buf_puts(b, "</a></li></ul></nav></header><main id=\"main\" class=\"main\">");
}

static void frame_close(struct buf *b)
{
    buf_puts(b, "</main></section>");
}

/* A new page, its frame open; the body to write into. */
static struct buf *page_begin(struct cm_page *out, const char *lang)
{
    page_init(out);
    frame_open(&out->body, lang);
    return &out->body;
}

/* Where the page is: the community, then the board (NULL: none). */
static void put_crumbs(struct buf *b, const char *lang, json_t *board)
{
    buf_puts(b, "<nav class=\"crumbs\" aria-label=\"");
    esc(b, i18n_get(lang, "forum.crumbs"));
    buf_puts(b, "\"><a href=\"/community\">");
    esc(b, i18n_get(lang, "nav.community"));
    buf_puts(b, "</a>");
    if (board) {
        buf_puts(b, " <span aria-hidden=\"true\">\xE2\x80\xBA</span> <a href=\"/b/");
        esc(b, str(board, "slug"));
        buf_puts(b, "\">");
        esc(b, str(board, "name"));
        buf_puts(b, "</a>");
    }
    buf_puts(b, "</nav>");
}

/* After *first was fetched with status st, a list of topics too; on any
 * failure *first is released. */
static enum st and_topics(struct db_conn *c, enum st st, json_t **first, const struct cm_list *q,
                          json_t **topics)
{
    struct cm_error err = {0};
    if (st == ST_OK)
        st = community_topics_list(c, q, topics, &err);
    if (st != ST_OK) {
        json_decref(*first);
        *first = NULL;
    }
    return st;
}

/* "Title · entrepot", as the app's useTitle writes it. */
static char *page_title(const char *lang, const char *title)
{
    return xasprintf("%s \xC2\xB7 %s", title, i18n_get(lang, "app.name"));
}

/* One space for a run of white space or tags; returns "last was a space". */
static bool fold_space(struct buf *b, bool space, size_t *cps)
{
    if (!space) {
        buf_putc(b, ' ');
        (*cps)++;
    }
    return true;
}

/* Plain text of sanitised HTML for a meta description: tags dropped (as
 * spaces), the entities our renderer writes decoded, white space folded,
 * cut to DESC_CPS code points. */
static char *plain_text(const char *html)
{
    static const struct {
        const char *ent, *ch;
    } ents[] = {{"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}, {"&quot;", "\""}, {"&#39;", "'"}};
    struct buf b;
    buf_init(&b, DESC_CPS * 4 + 8);
    size_t cps = 0;
    bool space = true;
    for (const char *p = html ? html : ""; *p && cps < DESC_CPS;) {
        if (*p == '<') {
            const char *e = strchr(p, '>');
            p = e ? e + 1 : p + strlen(p);
            space = fold_space(&b, space, &cps);
            continue;
        }
        const char *ch = NULL;
        size_t n = 1;
        if (*p == '&')
            for (size_t i = 0; i < sizeof ents / sizeof ents[0] && !ch; i++)
                if (strncmp(p, ents[i].ent, strlen(ents[i].ent)) == 0) {
                    ch = ents[i].ch;
                    n = strlen(ents[i].ent);
                }
        if (!ch && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')) {
            space = fold_space(&b, space, &cps);
            p++;
            continue;
        }
        if (ch) {
            buf_puts(&b, ch);
        } else {
            n = utf8_next(p, strlen(p), NULL);
            if (n == 0)
                break;
            buf_append(&b, p, n);
        }
        p += n;
        cps++;
        space = false;
    }
    while (b.len > 0 && b.data[b.len - 1] == ' ')
        buf_truncate(&b, b.len - 1);
    if (cps >= DESC_CPS)
        buf_puts(&b, "\xE2\x80\xA6"); /* … */
    return buf_take(&b);
}

/* ---------------------------------------------------------------- topic lists */

static void put_topic_item(struct buf *b, const char *lang, json_t *t)
{
    buf_printf(b, "<li class=\"topic-item\"><a class=\"topic-title\" href=\"/t/%lld\">",
               (long long)num(t, "id"));
    esc(b, str(t, "title"));
    buf_puts(b, "</a> <span class=\"topic-stats\">");
    json_t *board = json_object_get(t, "board");
    if (json_is_object(board)) {
        buf_puts(b, "<a class=\"topic-board\" href=\"/b/");
        esc(b, str(board, "slug"));
        buf_puts(b, "\">");
        esc(b, str(board, "name"));
        buf_puts(b, "</a> \xC2\xB7 ");
    }
    put_count(b, lang, "forum.replies.count", num(t, "reply_count"));
    buf_puts(b, " \xC2\xB7 ");
    put_time(b, num(t, "last_post_at"));
    buf_puts(b, "</span></li>");
}

static void put_topic_list(struct buf *b, const char *lang, json_t *topics)
{
    if (json_array_size(topics) == 0) {
        buf_puts(b, "<p class=\"empty\">");
        esc(b, i18n_get(lang, "forum.topics.none"));
        buf_puts(b, "</p>");
        return;
    }
    buf_puts(b, "<ul class=\"topic-list\">");
    size_t i;
    json_t *t;
    json_array_foreach(topics, i, t) put_topic_item(b, lang, t);
    buf_puts(b, "</ul>");
}

/* ---------------------------------------------------------------- pages */

enum st community_html_home(struct db_conn *c, const char *lang, struct cm_page *out)
{
    json_t *boards = NULL, *topics = NULL;
    struct cm_list q = {0};
    enum st st = and_topics(c, community_boards_list(c, &boards), &boards, &q, &topics);
    if (st != ST_OK)
        return st;
    struct buf *b = page_begin(out, lang);
    buf_puts(b, "<div class=\"forum\"><h1>");
    esc(b, i18n_get(lang, "nav.community"));
    buf_puts(b, "</h1><h2>");
    esc(b, i18n_get(lang, "forum.boards"));
    buf_puts(b, "</h2><ul class=\"board-list\">");
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(boards, "boards"), i, x)
    {
        buf_puts(b, "<li class=\"board-item\"><a class=\"board-name\" href=\"/b/");
        esc(b, str(x, "slug"));
        buf_puts(b, "\">");
        esc(b, str(x, "name"));
        buf_puts(b, "</a> <span class=\"topic-stats\">");
        put_count(b, lang, "forum.topics.count", num(x, "topic_count"));
        buf_puts(b, "</span>");
        if (str(x, "description") && *str(x, "description")) {
            buf_puts(b, "<p class=\"board-desc\">");
            esc(b, str(x, "description"));
            buf_puts(b, "</p>");
        }
        buf_puts(b, "</li>");
    }
    buf_puts(b, "</ul><h2>");
    esc(b, i18n_get(lang, "forum.latest"));
    buf_puts(b, "</h2>");
    put_topic_list(b, lang, json_object_get(topics, "topics"));
    buf_puts(b, "</div>");
    frame_close(b);
    out->title = page_title(lang, i18n_get(lang, "nav.community"));
    out->description = xstrdup(i18n_get(lang, "forum.description"));
    out->canonical = xstrdup("/community");
    out->og_type = "website";
    json_decref(boards);
    json_decref(topics);
    return ST_OK;
}

/* Query string of a list page: "?sort=top&tag=x&cursor=y" (the parts set). */
static void put_list_query(struct buf *b, const struct cm_list *q, const char *cursor)
{
    const char *names[] = {"sort", "tag", "cursor"};
    const char *vals[] = {q->sort, q->tag, cursor};
    char sep = '?';
    for (int i = 0; i < 3; i++) {
        if (!vals[i])
            continue;
        buf_printf(b, "%c%s=", sep, names[i]);
        sep = '&';
        for (const unsigned char *p = (const unsigned char *)vals[i]; *p; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("-_.~", *p))
                buf_putc(b, (char)*p);
            else
                buf_printf(b, "%%%02X", *p);
        }
    }
}

enum st community_html_board(struct db_conn *c, const char *lang, const struct cm_list *q,
                             struct cm_page *out)
{
    struct cm_viewer v = {0};
    json_t *board = NULL, *topics = NULL;
    enum st st = and_topics(c, community_board_get(c, &v, q->board, &board), &board, q, &topics);
    if (st != ST_OK)
        return st;
    struct buf *b = page_begin(out, lang);
    buf_puts(b, "<div class=\"forum board\">");
    put_crumbs(b, lang, NULL);
    buf_puts(b, "<h1>");
    esc(b, str(board, "name"));
    buf_puts(b, "</h1>");
    const char *desc = str(board, "description");
    if (desc && *desc) {
        buf_puts(b, "<p class=\"lead\">");
        esc(b, desc);
        buf_puts(b, "</p>");
    }
    if (q->tag) {
        buf_puts(b, "<p class=\"tag-filter\">#");
        esc(b, q->tag);
        buf_puts(b, "</p>");
    }
    put_topic_list(b, lang, json_object_get(topics, "topics"));
    const char *next = str(topics, "next_cursor");
    if (next) {
        buf_puts(b, "<p class=\"pager\"><a rel=\"next\" href=\"/b/");
        esc(b, q->board);
        struct buf qs;
        buf_init(&qs, 512);
        put_list_query(&qs, q, next);
        esc(b, qs.data);
        buf_free(&qs);
        buf_puts(b, "\">");
        esc(b, i18n_get(lang, "forum.topics.more"));
        buf_puts(b, "</a></p>");
    }
    buf_puts(b, "</div>");
    frame_close(b);
    out->title = page_title(lang, str(board, "name"));
    out->description = xstrdup(desc && *desc ? desc : str(board, "name"));
    struct buf canon;
    buf_init(&canon, 1024);
    buf_puts(&canon, "/b/");
    buf_puts(&canon, q->board);
    put_list_query(&canon, q, q->cursor);
    out->canonical = buf_take(&canon);
    out->og_type = "website";
    json_decref(board);
    json_decref(topics);
    return ST_OK;
}

/* One post: who and when, what it quotes, its sanitised body. */
static void put_post(struct buf *b, const char *lang, json_t *p, const char *tag)
{
    buf_printf(b, "<%s class=\"post\" id=\"p%lld\"><div class=\"post-head\">", tag,
               (long long)num(p, "id"));
    put_author(b, lang, json_object_get(p, "author"));
    buf_puts(b, " ");
    put_time(b, num(p, "created_at"));
    if (num(p, "edit_count") > 0) {
        buf_puts(b, " <span class=\"post-edited\">");
        esc(b, i18n_get(lang, "forum.post.edited"));
        buf_puts(b, "</span>");
    }
    buf_puts(b, "</div>");
    json_t *quote = json_object_get(p, "quote_post_id");
    if (json_is_integer(quote)) {
        buf_printf(b, "<p class=\"post-ref\"><a href=\"#p%lld\">",
                   (long long)json_integer_value(quote));
        esc(b, i18n_get(lang, "forum.post.quoting"));
        buf_puts(b, "</a></p>");
    }
    const char *html = str(p, "body_html");
    if (html) {
        buf_puts(b, "<div class=\"post-body\">");
        buf_puts(b, html); /* sanitised by our renderer when it was stored */
        buf_puts(b, "</div>");
    } else {
        buf_puts(b, "<p class=\"post-gone\">");
        esc(b, i18n_get(lang, json_is_true(json_object_get(p, "deleted")) ? "forum.post.deleted"
                                                                          : "forum.post.hidden"));
        buf_puts(b, "</p>");
    }
    buf_printf(b, "</%s>", tag);
}

enum st community_html_topic(struct db_conn *c, const char *lang, int64_t topic_id,
                             const char *cursor, struct cm_page *out)
{
    struct cm_viewer v = {0}; /* a visitor: nothing hidden, nothing remembered */
    json_t *o = NULL;
    struct cm_error err = {0};
    enum st st = community_topic_get(c, &v, topic_id, cursor, &o, &err);
    if (st != ST_OK)
        return st;
    json_t *t = json_object_get(o, "topic"), *board = json_object_get(t, "board");
    json_t *first = json_object_get(o, "first_post"), *replies = json_object_get(o, "replies");
    struct buf *b = page_begin(out, lang);
    buf_puts(b, "<article class=\"forum topic\">");
    put_crumbs(b, lang, board);
    buf_puts(b, "<h1>");
    esc(b, str(t, "title"));
    buf_puts(b, "</h1><p class=\"topic-info\">");
    if (json_is_true(json_object_get(t, "pinned"))) {
        buf_puts(b, "<span class=\"badge\">");
        esc(b, i18n_get(lang, "forum.pinned"));
        buf_puts(b, "</span> ");
    }
    if (json_is_true(json_object_get(t, "locked"))) {
        buf_puts(b, "<span class=\"badge\">");
        esc(b, i18n_get(lang, "forum.locked"));
        buf_puts(b, "</span> ");
    }
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(t, "tags"), i, x)
    {
        buf_puts(b, "<a class=\"tag\" href=\"/b/");
        esc(b, str(board, "slug"));
        struct cm_list tq = {.tag = json_string_value(x)};
        struct buf qs;
        buf_init(&qs, 256);
        put_list_query(&qs, &tq, NULL);
        esc(b, qs.data);
        buf_free(&qs);
        buf_puts(b, "\">#");
        esc(b, json_string_value(x));
        buf_puts(b, "</a> ");
    }
    buf_puts(b, "</p>");
    if (json_is_object(first))
        put_post(b, lang, first, "div");
    buf_puts(b, "<h2>");
    put_count(b, lang, "forum.replies.count", num(t, "reply_count"));
    buf_puts(b, "</h2>");
    if (json_array_size(replies)) {
        buf_puts(b, "<ol class=\"replies\">");
        json_array_foreach(replies, i, x) put_post(b, lang, x, "li");
        buf_puts(b, "</ol>");
    }
    const char *next = str(o, "next_cursor");
    if (next) {
        buf_printf(
            b, "<p class=\"pager\"><a rel=\"next\" href=\"/t/%lld?cursor=", (long long)topic_id);
        esc(b, next);
        buf_puts(b, "\">");
        esc(b, i18n_get(lang, "forum.replies.more"));
        buf_puts(b, "</a></p>");
    }
    buf_puts(b, "</article>");
    frame_close(b);
    out->title = page_title(lang, str(t, "title"));
    out->description = json_is_object(first) ? plain_text(str(first, "body_html")) : NULL;
    if (!out->description || !*out->description) {
        free(out->description);
        out->description = xstrdup(str(t, "title"));
    }
    out->canonical = cursor ? xasprintf("/t/%lld?cursor=%s", (long long)topic_id, cursor)
                            : xasprintf("/t/%lld", (long long)topic_id);
    out->og_type = "article";
    json_decref(o);
    return ST_OK;
}

void community_html_missing(const char *lang, bool invalid, struct cm_page *out)
{
    const char *title =
        i18n_get(lang, invalid ? "problem.invalid.title" : "problem.not-found.title");
    struct buf *b = page_begin(out, lang);
    buf_puts(b, "<div class=\"forum placeholder\"><h1>");
    esc(b, title);
    buf_puts(b, "</h1><p class=\"lead\">");
    esc(b, i18n_get(lang, "forum.not-found"));
    buf_puts(b, "</p><p><a href=\"/community\">");
    esc(b, i18n_get(lang, "forum.back"));
    buf_puts(b, "</a></p></div>");
    frame_close(b);
    out->title = page_title(lang, title);
    out->og_type = "website";
}

/* ---------------------------------------------------------------- post source */

enum st community_post_source(struct db_conn *c, const struct cm_viewer *v, int64_t post_id,
                              json_t **out)
{
    struct db_stmt *s;
    bool row;
    enum st st = cm_query(c, &s, &row,
                          "SELECT p.topic_id, p.position, p.body_md, t.title, p.author_id, "
                          "p.hidden, t.hidden, p.deleted_at, t.deleted_at FROM posts p JOIN "
                          "topics t ON t.id = p.topic_id WHERE p.id = ?",
                          "i", post_id);
    if (st == ST_OK && (!row || !db_col_is_null(s, 7) || !db_col_is_null(s, 8)))
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        bool own = v->user_id && !db_col_is_null(s, 4) && db_col_int64(s, 4) == v->user_id;
        if ((db_col_int64(s, 5) || db_col_int64(s, 6)) && !own && !v->staff)
            st = ST_NOTFOUND; /* hidden: its author and staff only, as everywhere */
    }
    if (st == ST_OK) {
        bool first = db_col_int64(s, 1) == 0;
        *out = json_pack("{s:I, s:I, s:s, s:s?}", "post_id", (json_int_t)post_id, "topic_id",
                         (json_int_t)db_col_int64(s, 0), "body_md", db_col_text(s, 2), "title",
                         first ? db_col_text(s, 3) : NULL);
        if (!*out)
            st = ST_INTERNAL;
    }
    if (s)
        db_stmt_done(s);
    return st;
}

/* ---------------------------------------------------------------- liked posts */

static json_t *like_row(struct db_stmt *s)
{
    return json_pack("{s:I, s:I, s:s, s:{s:s, s:s}, s:I}", "post_id",
                     (json_int_t)db_col_int64(s, 0), "topic_id", (json_int_t)db_col_int64(s, 1),
                     "title", db_col_text(s, 2), "board", "slug", db_col_text(s, 3), "name",
                     db_col_text(s, 4), "liked_at", (json_int_t)db_col_int64(s, 5));
}

enum st community_my_likes(struct db_conn *c, int64_t user_id, json_t **out)
{
    json_t *a = json_array();
    enum st st = cm_rows(c, a, like_row,
                         "SELECT l.post_id, p.topic_id, t.title, b.slug, b.name, l.created_at "
                         "FROM post_likes l JOIN posts p ON p.id = l.post_id JOIN topics t ON "
                         "t.id = p.topic_id JOIN boards b ON b.id = t.board_id WHERE l.user_id = "
                         "? AND p.deleted_at IS NULL AND p.hidden = 0 AND t.deleted_at IS NULL "
                         "AND t.hidden = 0 ORDER BY l.created_at DESC, l.post_id DESC LIMIT 200",
                         "i", user_id);
    if (st != ST_OK) {
        json_decref(a);
        return st;
    }
    *out = json_pack("{s:o}", "likes", a);
    return ST_OK;
}
