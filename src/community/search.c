/*
 * search.c — full-text search over visible posts on either engine.
 *
 * The query is normalised like the indexed text (textnorm.c) and cut into
 * terms: each run of CJK characters must be a substring of the title or
 * the body, each other word must equal one of their words, and every term
 * must match (AND). SQLite answers from the FTS5 index (post_fts, the
 * `entrepot` tokenizer: a CJK term is the phrase of its character pairs, a
 * one-character term the prefix "X"*); PostgreSQL from pg_trgm indexes on
 * post_search (LIKE '%term%' on title/body, LIKE '% word %' on words). The
 * two return the same posts; snippets and highlights are made here, in C,
 * from the author's own text, so they are the same too.
 *
 * Relevance is the same on both engines and cheap by design: the posts
 * whose title holds every term come first, then the others, newest first
 * within each. Each of the two is read in the index's own order (post
 * id) and stops after the page, so a two-character query matching half
 * a million posts costs about what a rare word does: the work is in
 * proportion to the page, not to the number of matches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "community_int.h"

/* Escapes LIKE's wildcards (the escape character is '\'). */
static void like_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '%' || *s == '_' || *s == '\\')
            buf_putc(b, '\\');
        buf_putc(b, *s);
    }
}

/* The FTS5 query for the terms: "a" AND "pair pairs" AND "X"*. Terms hold
 * only letters, digits and CJK characters, so quoting is enough. */
static char *fts_query(const struct cm_terms *q)
{
    struct buf b;
    buf_init(&b, 4096);
    for (size_t k = 0; k < q->n; k++) {
        if (k)
            buf_puts(&b, " AND ");
        buf_printf(&b, "\"%s\"", q->t[k]);
        if (q->cjk[k] && utf8_len(q->t[k], strlen(q->t[k])) == 1)
            buf_putc(&b, '*');
    }
    return buf_take(&b);
}

/* The LIKE patterns of a query (at most 6 a term: two streams of a match
 * and a title test each), kept alive for the binds. */
struct patterns {
    char *p[CM_QUERY_TERMS_MAX * 6];
    size_t n;
};

static const char *pattern(struct patterns *ps, const char *pre, const char *term, const char *post)
{
    struct buf b;
    buf_init(&b, 1024);
    buf_puts(&b, pre);
    like_escape(&b, term);
    buf_puts(&b, post);
    ps->p[ps->n] = buf_take(&b);
    return ps->p[ps->n++];
}

static enum st result_json(struct db_stmt *s, const struct cm_terms *terms, json_t **out)
{
    /* Columns: post id, topic id, title, board slug, author id, created_at,
     * body_md, position. */
    char *html = NULL, *text = NULL;
    const char *md = db_col_text(s, 6);
    enum st st = community_markdown(md, strlen(md), &html, &text);
    free(html);
    if (st != ST_OK)
        return st;
    struct buf snip, title;
    buf_init(&snip, 64 * 1024);
    buf_init(&title, 64 * 1024);
    cm_snippet(text, terms, CM_SNIPPET_WIDTH, &snip);
    cm_snippet(db_col_text(s, 2), terms, CM_TITLE_MAX, &title);
    free(text);
    *out = json_pack("{s:I, s:I, s:s, s:s, s:o, s:I, s:I, s:s, s:s}", "post_id",
                     (json_int_t)db_col_int64(s, 0), "topic_id", (json_int_t)db_col_int64(s, 1),
                     "title", db_col_text(s, 2), "board", db_col_text(s, 3), "author_id",
                     db_col_is_null(s, 4) ? json_null() : json_integer(db_col_int64(s, 4)),
                     "created_at", (json_int_t)db_col_int64(s, 5), "position",
                     (json_int_t)db_col_int64(s, 7), "snippet_html", snip.data, "title_html",
                     title.data);
    buf_free(&snip);
    buf_free(&title);
    return *out ? ST_OK : ST_INTERNAL;
}

/* The search's filters, with names resolved to ids (0: no filter). */
struct search_filter {
    const struct cm_search *q;
    int64_t board_id, tag_id;
    bool none; /* a filter names nothing: no result */
};

static enum st filter_ids(struct db_conn *c, const struct cm_search *q, struct search_filter *f)
{
    enum st st = ST_OK;
    if (q->board)
        st = cm_query_int(c, &f->board_id, "SELECT id FROM boards WHERE slug = ?", "t", q->board);
    if (st == ST_OK && q->tag)
        st = cm_query_int(c, &f->tag_id, "SELECT id FROM tags WHERE name = ?", "t", q->tag);
    if (st == ST_NOTFOUND) {
        f->none = true;
        st = ST_OK;
    }
    return st;
}

enum level { LEVEL_ALL, LEVEL_TITLE, LEVEL_REST };

/* Appends one stream of visible matching posts, newest first, at most n:
 * "SELECT * FROM (SELECT lvl, pid ... LIMIT n)". On SQLite fts is the
 * FTS5 expression of the level; on PostgreSQL the level is written with
 * LIKE: every term in the title (LEVEL_TITLE) or not (LEVEL_REST). */
static void stream(struct cm_qb *b, enum db_kind kind, int lvl, enum level level, const char *fts,
                   const struct cm_terms *terms, const struct search_filter *f, struct patterns *ps,
                   int64_t n)
{
    char head[96];
    snprintf(head, sizeof head, "SELECT * FROM (SELECT %d AS lvl, %s AS pid", lvl,
             kind == DB_SQLITE ? "post_fts.rowid" : "s.post_id");
    buf_puts(&b->sql, head);
    if (kind == DB_SQLITE)
        buf_puts(&b->sql, " FROM post_fts JOIN posts p ON p.id = post_fts.rowid");
    else
        buf_puts(&b->sql, " FROM post_search s JOIN posts p ON p.id = s.post_id");
    buf_puts(&b->sql, " JOIN topics t ON t.id = p.topic_id WHERE p.deleted_at IS NULL AND "
                      "p.hidden = 0 AND t.deleted_at IS NULL AND t.hidden = 0");
    if (kind == DB_SQLITE) {
        cm_qb_text(b, " AND post_fts MATCH ?", fts);
    } else {
        for (size_t k = 0; k < terms->n; k++) {
            if (terms->cjk[k]) {
                const char *pat = pattern(ps, "%", terms->t[k], "%");
                cm_qb_text(b, " AND (s.title LIKE ?", pat);
                cm_qb_text(b, " OR s.body LIKE ?)", pat);
            } else {
                cm_qb_text(b, " AND s.words LIKE ?", pattern(ps, "% ", terms->t[k], " %"));
            }
        }
        if (level != LEVEL_ALL) {
            buf_puts(&b->sql, level == LEVEL_TITLE ? " AND (1 = 1" : " AND NOT (1 = 1");
            for (size_t k = 0; k < terms->n; k++)
                cm_qb_text(b, " AND s.title LIKE ?", pattern(ps, "%", terms->t[k], "%"));
            buf_puts(&b->sql, ")");
        }
    }
    if (f->none)
        buf_puts(&b->sql, " AND 1 = 0");
    if (f->board_id)
        cm_qb_int(b, " AND t.board_id = ?", f->board_id);
    if (f->tag_id)
        cm_qb_int(b, " AND t.id IN (SELECT topic_id FROM topic_tags WHERE tag_id = ?)", f->tag_id);
    if (f->q->author)
        cm_qb_int(b, " AND p.author_id = ?", f->q->author);
    if (f->q->from)
        cm_qb_int(b, " AND p.created_at >= ?", f->q->from);
    if (f->q->to)
        cm_qb_int(b, " AND p.created_at < ?", f->q->to);
    buf_puts(&b->sql,
             kind == DB_SQLITE ? " ORDER BY post_fts.rowid DESC" : " ORDER BY s.post_id DESC");
    cm_qb_int(b, " LIMIT ?)", n);
    buf_puts(&b->sql, lvl ? " s1" : " s0"); /* PostgreSQL names every subquery */
}

enum st community_search(struct db_conn *c, enum db_kind kind, const struct cm_search *q,
                         json_t **out, struct cm_error *err)
{
    bool latest = q->sort && strcmp(q->sort, "latest") == 0;
    if (q->sort && !latest && strcmp(q->sort, "relevance") != 0)
        return cm_fail(err, ST_INVALID, "sort", "choice", NULL);
    int64_t offset = 0, limit = q->limit > 0 ? q->limit : CM_PAGE;
    if (q->cursor && parse_int64(q->cursor, 0, CM_SEARCH_DEPTH, &offset) != ST_OK)
        return cm_fail(err, ST_INVALID, "cursor", "invalid", NULL);
    char *norm = cm_normalize_str(q->q);
    struct cm_terms terms;
    cm_terms_parse(norm, &terms);
    free(norm);
    if (terms.n == 0) {
        cm_terms_free(&terms);
        return cm_fail(err, ST_INVALID, "q", "no_terms", NULL);
    }
    /* Filters by name become ids once, so each streamed row is checked
     * against its topic only. */
    struct search_filter f = {.q = q};
    enum st st = filter_ids(c, q, &f);
    if (st != ST_OK) {
        cm_terms_free(&terms);
        return st;
    }
    /* "relevance": the posts whose title holds every term, then the
     * others; newest first within each. Each level is a stream in the
     * index's own order that stops after offset + limit + 1 rows. */
    int64_t depth = offset + limit + 1;
    struct cm_qb b;
    struct patterns ps = {.n = 0};
    char *match = kind == DB_SQLITE ? fts_query(&terms) : NULL;
    char *title = NULL, *rest = NULL;
    cm_qb_init(&b, "SELECT p.id, p.topic_id, t.title, bd.slug, p.author_id, p.created_at, "
                   "p.body_md, p.position FROM (");
    if (latest) {
        stream(&b, kind, 0, LEVEL_ALL, match, &terms, &f, &ps, depth);
    } else {
        if (kind == DB_SQLITE) {
            title = xasprintf("title : (%s)", match);
            rest = xasprintf("(%s) NOT (title : (%s))", match, match);
        }
        stream(&b, kind, 0, LEVEL_TITLE, title, &terms, &f, &ps, depth);
        buf_puts(&b.sql, " UNION ALL ");
        stream(&b, kind, 1, LEVEL_REST, rest, &terms, &f, &ps, depth);
    }
    buf_puts(&b.sql, ") c JOIN posts p ON p.id = c.pid JOIN topics t ON t.id = p.topic_id"
                     " JOIN boards bd ON bd.id = t.board_id ORDER BY c.lvl, c.pid DESC");
    cm_qb_int(&b, " LIMIT ?", limit + 1);
    cm_qb_int(&b, " OFFSET ?", offset);

    struct db_stmt *s = NULL;
    bool row = false;
    st = cm_qb_prepare(c, &b, &s);
    if (st == ST_OK)
        st = db_step(s, &row);
    json_t *a = json_array(), *next = json_null();
    int64_t n = 0;
    while (st == ST_OK && row) {
        if (n == limit) {
            if (offset + limit < CM_SEARCH_DEPTH) {
                char cur[24];
                snprintf(cur, sizeof cur, "%lld", (long long)(offset + limit));
                json_decref(next);
                next = json_string(cur);
            }
            break;
        }
        json_t *r = NULL;
        st = result_json(s, &terms, &r);
        if (st == ST_OK)
            json_array_append_new(a, r);
        n++;
        if (st == ST_OK)
            st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    cm_qb_free(&b);
    free(match);
    free(title);
    free(rest);
    for (size_t k = 0; k < ps.n; k++)
        free(ps.p[k]);
    json_t *tj = json_array();
    for (size_t k = 0; k < terms.n; k++)
        json_array_append_new(tj, json_string(terms.t[k]));
    cm_terms_free(&terms);
    if (st != ST_OK) {
        json_decref(a);
        json_decref(next);
        json_decref(tj);
        return st;
    }
    *out = json_pack("{s:o, s:o, s:o}", "results", a, "next_cursor", next, "terms", tj);
    return ST_OK;
}
