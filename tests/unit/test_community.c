/*
 * test_community.c — the pieces of src/community that decide what users
 * see: the Markdown renderer's allow-list, text normalisation and query
 * terms, highlighted snippets, the SQLite tokenizer, and the shared search
 * corpus (/work/shared/corpus/search, or $ENTREPOT_CORPUS) run through the
 * real search on SQLite and, when ENTREPOT_TEST_PG_URL names a throwaway
 * database, on PostgreSQL too: every query must return exactly its
 * expected posts, and both engines the same ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "community/community_int.h"

/* ---------------------------------------------------------------- markdown */

static char *render(const char *md)
{
    char *html = NULL, *text = NULL;
    assert_int_equal(community_markdown(md, strlen(md), &html, &text), ST_OK);
    free(text);
    return html;
}

static void assert_absent(const char *html, const char *needle)
{
    if (strstr(html, needle)) {
        print_error("unexpected %s in: %s\n", needle, html);
        fail();
    }
}

/* No tag of the output carries an event-handler attribute (on...=):
 * attributes are read as a browser would, quoted values skipped. */
static void assert_no_handlers(const char *html)
{
    for (const char *p = strchr(html, '<'); p; p = strchr(p, '<')) {
        p++;
        while (*p && *p != ' ' && *p != '>')
            p++; /* tag name */
        while (*p && *p != '>') {
            while (*p == ' ' || *p == '\n')
                p++;
            const char *name = p;
            while (*p && *p != '=' && *p != ' ' && *p != '>')
                p++;
            if (p - name >= 2 && (name[0] == 'o' || name[0] == 'O') &&
                (name[1] == 'n' || name[1] == 'N')) {
                print_error("event handler in a tag: %s\n", html);
                fail();
            }
            if (*p == '=') {
                p++;
                if (*p == '"') {
                    const char *q = strchr(p + 1, '"');
                    assert_non_null(q);
                    p = q + 1;
                } else {
                    while (*p && *p != ' ' && *p != '>')
                        p++;
                }
            }
        }
    }
}

static void test_markdown_basic(void **state)
{
    (void)state;
    char *h = render("# Title\n\nSome **bold** and *em* and `code`.\n\n- a\n- b\n");
    assert_non_null(strstr(h, "<h1>Title</h1>"));
    assert_non_null(strstr(h, "<strong>bold</strong>"));
    assert_non_null(strstr(h, "<em>em</em>"));
    assert_non_null(strstr(h, "<code>code</code>"));
    assert_non_null(strstr(h, "<ul>\n<li>a</li>"));
    free(h);
    h = render("[site](https://example.com/a?b=1&c=2 \"T\")");
    assert_non_null(strstr(h, "<a href=\"https://example.com/a?b=1&amp;c=2\" title=\"T\" "
                              "rel=\"nofollow ugc noopener noreferrer\">site</a>"));
    free(h);
    h = render("![a cat](/img/cat.png)");
    assert_non_null(strstr(h, "<img src=\"/img/cat.png\" loading=\"lazy\" alt=\"a cat\">"));
    free(h);
}

static void test_markdown_is_inert(void **state)
{
    (void)state;
    static const char *const attacks[] = {
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "hello <b onmouseover=alert(1)>x</b>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](javascript&#58;alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](java&Tab;script:alert(1))",
        "[x]( javascript:alert(1))",
        "![x](data:image/svg+xml;base64,PHN2Zz4=)",
        "![x](javascript:alert(1))",
        "<https://ok.example/\"onmouseover=\"alert(1)>",
        "```html\n<script>alert(1)</script>\n```",
        "<iframe src=https://evil.example></iframe>",
        "[x](vbscript:msgbox(1))",
        "<a href=\"javascript:alert(1)\">x</a>",
        "![x\" onerror=\"alert(1)](https://ok.example/i.png)",
    };
    for (size_t i = 0; i < sizeof attacks / sizeof attacks[0]; i++) {
        char *h = render(attacks[i]);
        assert_absent(h, "<script");
        assert_absent(h, "<iframe");
        assert_absent(h, "<b ");
        assert_no_handlers(h);
        assert_absent(h, "href=\"javascript");
        assert_absent(h, "href=\"JaVaScRiPt");
        assert_absent(h, "src=\"data:");
        assert_absent(h, "src=\"javascript");
        assert_absent(h, "vbscript");
        free(h);
    }
    /* The text of a refused link survives. */
    char *h = render("[click me](javascript:alert(1))");
    assert_non_null(strstr(h, "click me"));
    assert_absent(h, "<a");
    free(h);
}

static void test_markdown_plain_text(void **state)
{
    (void)state;
    char *html, *text;
    const char *md = "求购**LED**面板灯 &amp; [链接](https://x.example)\n\n第二段";
    assert_int_equal(community_markdown(md, strlen(md), &html, &text), ST_OK);
    assert_string_equal(text, "求购LED面板灯 & 链接\n第二段");
    free(html);
    free(text);
}

/* ---------------------------------------------------------------- normalisation */

static void norm_is(const char *in, const char *want)
{
    char *n = cm_normalize_str(in);
    if (strcmp(n, want) != 0) {
        print_error("normalise(%s) = %s, want %s\n", in, n, want);
        free(n);
        fail();
    }
    free(n);
}

static void test_normalise(void **state)
{
    (void)state;
    assert_true(cm_opencc_ready());
    norm_is("機械", "机械");
    norm_is("傢俱", "家具");
    norm_is("廣交會 FOB", "广交会 fob");
    norm_is("plástico Qualität", "plastico qualitat");
    norm_is("Straße", "strasse");
    norm_is("пришёл Й", "пришел и");
    norm_is("サンプル", "サンフル");
    norm_is("e\xCC\x81t\xC3\xA9", "ete"); /* decomposed and composed é */
    norm_is("\xEF\xA4\x80", "岂");        /* U+F900 → 豈 (NFC) → 岂 (t2s) */
}

static void test_terms(void **state)
{
    (void)state;
    struct cm_terms q;
    char *n = cm_normalize_str("LED面板燈 T/T, MOQ-500pcs");
    cm_terms_parse(n, &q);
    free(n);
    assert_int_equal(q.n, 5);
    assert_string_equal(q.t[0], "led");
    assert_false(q.cjk[0]);
    assert_string_equal(q.t[1], "面板灯");
    assert_true(q.cjk[1]);
    assert_string_equal(q.t[2], "t");
    assert_string_equal(q.t[3], "moq");
    assert_string_equal(q.t[4], "500pcs");
    cm_terms_free(&q);
    char *w = cm_words("led-2400-60w", "每款moq 1000个 led");
    assert_string_equal(w, " led 2400 60w moq 1000 ");
    free(w);
}

static void test_snippet_marks_the_original_text(void **state)
{
    (void)state;
    struct cm_terms q;
    char *n = cm_normalize_str("機械 plastico");
    cm_terms_parse(n, &q);
    free(n);
    struct buf b;
    buf_init(&b, 65536);
    assert_true(cm_snippet("包裝機械 & <b>Plástico</b> envases", &q, 160, &b));
    assert_string_equal(b.data,
                        "包裝<mark>機械</mark> &amp; &lt;b&gt;<mark>Plástico</mark>&lt;/b&gt; "
                        "envases");
    buf_free(&b);
    cm_terms_free(&q);
}

/* ---------------------------------------------------------------- the SQLite tokenizer */

static void test_tokenizer_pairs(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_community.XXXXXX", url[96], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof url, "sqlite:%s/t.db", dir);
    struct db *db;
    struct db_conn *c;
    assert_int_equal(db_open(url, 1, &db, err, sizeof err), ST_OK);
    assert_int_equal(db_acquire(db, &c), ST_OK);
    assert_int_equal(db_exec(c, "CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'entrepot'); "
                                "CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row'); "
                                "INSERT INTO t VALUES ('深圳led灯条工厂 fob')"),
                     ST_OK);
    struct db_stmt *s;
    bool row;
    assert_int_equal(db_prepare(c, "SELECT group_concat(term, '|') FROM v", &s), ST_OK);
    assert_int_equal(db_step(s, &row), ST_OK);
    assert_true(row);
    /* Pairs, plus each run's last character; words through unicode61. */
    assert_string_equal(db_col_text(s, 0), "fob|led|厂|圳|工厂|条工|深圳|灯条");
    db_stmt_done(s);
    static const struct {
        const char *q;
        int64_t n;
    } qs[] = {{"\"深圳\"", 1}, {"\"灯条工\"", 1}, {"\"深圳工厂\"", 0}, {"\"工\"*", 1},
              {"\"圳\"*", 1},  {"\"led\"", 1},    {"\"le\"", 0},       {"\"条\"*", 1}};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        assert_int_equal(db_prepare(c, "SELECT COUNT(*) FROM t WHERE t MATCH ?", &s), ST_OK);
        assert_int_equal(db_bind_text(s, 1, qs[i].q, SIZE_MAX), ST_OK);
        assert_int_equal(db_step(s, &row), ST_OK);
        if (db_col_int64(s, 0) != qs[i].n) {
            print_error("%s: %lld rows\n", qs[i].q, (long long)db_col_int64(s, 0));
            fail();
        }
        db_stmt_done(s);
    }
    db_release(c);
    db_close(db);
    char path[128];
    snprintf(path, sizeof path, "%s/t.db", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/t.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/t.db-shm", dir);
    unlink(path);
    rmdir(dir);
}

/* ---------------------------------------------------------------- the corpus */

#define CORPUS_POSTS   400
#define CORPUS_QUERIES 120

struct corpus {
    size_t nposts, nqueries;
    int64_t id[CORPUS_POSTS];
    char *title[CORPUS_POSTS], *body[CORPUS_POSTS];
    char *q[CORPUS_QUERIES];
    int64_t *expect[CORPUS_QUERIES];
    size_t nexpect[CORPUS_QUERIES];
};

static const char *corpus_dir(void)
{
    static const char *const dirs[] = {"../shared/corpus/search", "/work/shared/corpus/search"};
    const char *env = getenv("ENTREPOT_CORPUS");
    if (env && *env)
        return env;
    for (size_t i = 0; i < 2; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/posts.jsonl", dirs[i]);
        if (access(p, R_OK) == 0)
            return dirs[i];
    }
    return NULL;
}

static bool corpus_load(struct corpus *k)
{
    const char *dir = corpus_dir();
    if (!dir)
        return false;
    memset(k, 0, sizeof *k);
    char path[256], line[16384];
    snprintf(path, sizeof path, "%s/posts.jsonl", dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f) && k->nposts < CORPUS_POSTS) {
        json_t *o = json_loads(line, 0, NULL);
        if (!o)
            continue;
        k->id[k->nposts] = json_integer_value(json_object_get(o, "id"));
        k->title[k->nposts] = xstrdup(json_string_value(json_object_get(o, "title")));
        k->body[k->nposts] = xstrdup(json_string_value(json_object_get(o, "body")));
        k->nposts++;
        json_decref(o);
    }
    if (f)
        fclose(f);
    snprintf(path, sizeof path, "%s/queries.jsonl", dir);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f) && k->nqueries < CORPUS_QUERIES) {
        json_t *o = json_loads(line, 0, NULL);
        if (!o)
            continue;
        json_t *e = json_object_get(o, "expect");
        size_t n = json_array_size(e);
        k->q[k->nqueries] = xstrdup(json_string_value(json_object_get(o, "q")));
        k->expect[k->nqueries] = xcalloc(n + 1, sizeof(int64_t));
        for (size_t i = 0; i < n; i++)
            k->expect[k->nqueries][i] = json_integer_value(json_array_get(e, i));
        k->nexpect[k->nqueries++] = n;
        json_decref(o);
    }
    if (f)
        fclose(f);
    return k->nposts > 0 && k->nqueries > 0;
}

static void corpus_free(struct corpus *k)
{
    for (size_t i = 0; i < k->nposts; i++) {
        free(k->title[i]);
        free(k->body[i]);
    }
    for (size_t i = 0; i < k->nqueries; i++) {
        free(k->q[i]);
        free(k->expect[i]);
    }
}

static bool expected(const struct corpus *k, size_t qi, int64_t id)
{
    for (size_t i = 0; i < k->nexpect[qi]; i++)
        if (k->expect[qi][i] == id)
            return true;
    return false;
}

/* The reference matcher (cm_terms_match) against the expected sets: this
 * is the normalisation and the matching rules, without any engine. */
static void test_corpus_reference(void **state)
{
    (void)state;
    struct corpus *k = calloc(1, sizeof *k);
    if (!corpus_load(k)) {
        free(k);
        skip();
    }
    size_t wrong = 0;
    for (size_t qi = 0; qi < k->nqueries; qi++) {
        char *nq = cm_normalize_str(k->q[qi]);
        struct cm_terms q;
        cm_terms_parse(nq, &q);
        free(nq);
        for (size_t p = 0; p < k->nposts; p++) {
            char *nt = cm_normalize_str(k->title[p]), *nb = cm_normalize_str(k->body[p]);
            bool m = cm_terms_match(nt, nb, &q);
            if (m != expected(k, qi, k->id[p])) {
                print_error("reference: %s %s post %lld\n", k->q[qi],
                            m ? "wrongly matches" : "misses", (long long)k->id[p]);
                wrong++;
            }
            free(nt);
            free(nb);
        }
        cm_terms_free(&q);
    }
    corpus_free(k);
    free(k);
    assert_int_equal(wrong, 0);
}

struct engine {
    enum db_kind kind;
    struct db *db;
    struct db_conn *c;
    char dir[64];
    int64_t post_of[CORPUS_POSTS]; /* post id of corpus post i */
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static bool engine_open(struct engine *e, enum db_kind kind, const struct corpus *k)
{
    char url[600], err[256];
    e->kind = kind;
    if (kind == DB_SQLITE) {
        snprintf(e->dir, sizeof e->dir, "/tmp/test_community.XXXXXX");
        if (!mkdtemp(e->dir))
            return false;
        snprintf(url, sizeof url, "sqlite:%s/t.db", e->dir);
    } else {
        snprintf(url, sizeof url, "%s", getenv("ENTREPOT_TEST_PG_URL"));
    }
    if (db_open(url, 2, &e->db, err, sizeof err) != ST_OK)
        return false;
    if (kind == DB_POSTGRES) {
        struct db_conn *c;
        if (db_acquire(e->db, &c) != ST_OK ||
            db_exec(c, "DROP SCHEMA public CASCADE; CREATE SCHEMA public") != ST_OK)
            return false;
        db_release(c);
    }
    if (db_migrate(e->db, NULL) != ST_OK || db_acquire(e->db, &e->c) != ST_OK)
        return false;
    int64_t uid;
    if (cm_query_int(e->c, &uid,
                     "INSERT INTO users (display_name, created_at, updated_at) VALUES "
                     "('corpus', 1, 1) RETURNING id",
                     "") != ST_OK)
        return false;
    json_t *o = NULL;
    struct cm_error er = {0};
    struct cm_viewer staff = {.user_id = uid, .staff = true, .staff_mod = true};
    if (community_board_create(e->c, &staff, "trade", "Trade", "", &o, &er) != ST_OK)
        return false;
    json_decref(o);
    for (size_t i = 0; i < k->nposts; i++) {
        o = NULL;
        enum st st =
            community_topic_create(e->c, uid, "trade", k->title[i], k->body[i], NULL, &o, &er);
        if (st != ST_OK) {
            print_error("topic %zu: %s\n", i, st_name(st));
            return false;
        }
        e->post_of[i] = json_integer_value(json_object_get(json_object_get(o, "first_post"), "id"));
        json_decref(o);
    }
    return true;
}

static void engine_close(struct engine *e)
{
    if (e->c)
        db_release(e->c);
    db_close(e->db);
    if (e->kind == DB_SQLITE)
        nftw(e->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Runs query qi; ids[] gets corpus ids in result order. */
static size_t engine_search(struct engine *e, const struct corpus *k, size_t qi, int64_t *ids,
                            size_t cap)
{
    struct cm_search q = {.q = k->q[qi], .limit = CM_SEARCH_PAGE_MAX};
    json_t *o = NULL;
    struct cm_error er = {0};
    enum st st = community_search(e->c, e->kind, &q, &o, &er);
    if (st != ST_OK) {
        print_error("search %s: %s\n", k->q[qi], st_name(st));
        return 0;
    }
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(json_object_get(o, "results"), i, r)
    {
        int64_t pid = json_integer_value(json_object_get(r, "post_id"));
        for (size_t p = 0; p < k->nposts && n < cap; p++)
            if (e->post_of[p] == pid)
                ids[n++] = k->id[p];
    }
    json_decref(o);
    return n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_corpus_engines(void **state)
{
    (void)state;
    struct corpus *k = calloc(1, sizeof *k);
    if (!corpus_load(k)) {
        free(k);
        skip();
    }
    config_reset();
    char err[128];
    assert_int_equal(config_set("community_posts_per_minute", "0", err, sizeof err), ST_OK);
    assert_int_equal(config_set("community_topics_per_hour", "0", err, sizeof err), ST_OK);
    struct engine *eng = calloc(2, sizeof *eng);
    size_t neng = 1;
    assert_true(engine_open(&eng[0], DB_SQLITE, k));
    if (getenv("ENTREPOT_TEST_PG_URL") && *getenv("ENTREPOT_TEST_PG_URL")) {
        assert_true(engine_open(&eng[1], DB_POSTGRES, k));
        neng = 2;
    }
    size_t wrong = 0, differ = 0;
    for (size_t en = 0; en < neng; en++) {
        double recall = 0, mrr = 0;
        size_t scored = 0;
        for (size_t qi = 0; qi < k->nqueries; qi++) {
            int64_t ids[CM_SEARCH_PAGE_MAX], other[CM_SEARCH_PAGE_MAX];
            size_t n = engine_search(&eng[en], k, qi, ids, CM_SEARCH_PAGE_MAX);
            /* Scores: recall@10 and reciprocal rank of the first hit. */
            if (k->nexpect[qi] > 0) {
                size_t hits = 0, denom = k->nexpect[qi] < 10 ? k->nexpect[qi] : 10;
                double rr = 0;
                for (size_t i = 0; i < n && i < 10; i++)
                    if (expected(k, qi, ids[i])) {
                        hits++;
                        if (rr == 0)
                            rr = 1.0 / (double)(i + 1);
                    }
                recall += (double)hits / (double)denom;
                mrr += rr;
                scored++;
            }
            int64_t sorted[CM_SEARCH_PAGE_MAX];
            memcpy(sorted, ids, n * sizeof ids[0]);
            qsort(sorted, n, sizeof sorted[0], cmp_i64);
            bool same = n == k->nexpect[qi];
            for (size_t i = 0; same && i < n; i++)
                same = sorted[i] == k->expect[qi][i];
            if (!same) {
                print_error("%s: %s gives %zu posts, expected %zu\n",
                            eng[en].kind == DB_SQLITE ? "sqlite" : "postgres", k->q[qi], n,
                            k->nexpect[qi]);
                wrong++;
            }
            if (en == 1) {
                size_t m = engine_search(&eng[0], k, qi, other, CM_SEARCH_PAGE_MAX);
                qsort(other, m, sizeof other[0], cmp_i64);
                bool eq = m == n;
                for (size_t i = 0; eq && i < n; i++)
                    eq = other[i] == sorted[i];
                differ += !eq;
            }
        }
        printf("corpus score %s: recall@10 %.3f, MRR %.3f over %zu queries\n",
               eng[en].kind == DB_SQLITE ? "sqlite" : "postgres", recall / (double)scored,
               mrr / (double)scored, scored);
        assert_true(recall / (double)scored >= 0.99);
        assert_true(mrr / (double)scored >= 0.99);
    }
    for (size_t en = 0; en < neng; en++)
        engine_close(&eng[en]);
    free(eng);
    corpus_free(k);
    free(k);
    config_reset();
    assert_int_equal(wrong, 0);
    assert_int_equal(differ, 0);
}

/* ---------------------------------------------------------------- batch t2s */

/* A text of many CJK runs (cm_normalize converts them in one OpenCC call)
 * normalises each run as it would alone, Traditional to Simplified. */
static void test_normalise_many_runs(void **state)
{
    (void)state;
    if (!cm_opencc_ready())
        skip();
    char *n = cm_normalize_str("請問臺北的報價，LED燈條 運費？驗貨、包裝 OK。乾燥劑");
    assert_non_null(strstr(n, "请问台北的报价"));
    assert_non_null(strstr(n, "led灯条"));
    assert_non_null(strstr(n, "运费"));
    assert_non_null(strstr(n, "验货"));
    assert_non_null(strstr(n, "包装"));
    assert_non_null(strstr(n, "干燥剂")); /* a phrase of the dictionary */
    free(n);
    /* The same run alone gives the same characters. */
    char *alone = cm_normalize_str("驗貨");
    assert_string_equal(alone, "验货");
    free(alone);
}

/* ---------------------------------------------------------------- answer cache */

static void test_cache_versions_and_epochs(void **state)
{
    (void)state;
    cm_cache_clear();
    char *b = NULL;
    size_t n = 0;
    assert_false(cm_cache_fresh("L|b|||", &b, &n));
    uint64_t e = cm_cache_epoch();
    cm_cache_put("L|b|||", 3, e, "{\"topics\":[]}", 13);
    /* Fresh: no local write since, confirmed just now. */
    assert_true(cm_cache_fresh("L|b|||", &b, &n));
    assert_int_equal(n, 13);
    assert_string_equal(b, "{\"topics\":[]}");
    free(b);
    assert_false(cm_cache_fresh("L|b||x|", &b, &n)); /* another key */
    /* A local write: no longer fresh, but still right for version 3. */
    cm_cache_changed();
    assert_false(cm_cache_fresh("L|b|||", &b, &n));
    assert_false(cm_cache_get("L|b|||", 4, cm_cache_epoch(), &b, &n));
    assert_true(cm_cache_get("L|b|||", 3, cm_cache_epoch(), &b, &n));
    free(b);
    assert_true(cm_cache_fresh("L|b|||", &b, &n)); /* confirmed again */
    free(b);
    /* Over-long keys and answers are never kept. */
    char key[200];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    cm_cache_put(key, 1, cm_cache_epoch(), "x", 1);
    assert_false(cm_cache_get(key, 1, cm_cache_epoch(), &b, &n));
    char *big = xcalloc(200 * 1024, 1);
    memset(big, 'x', 200 * 1024 - 1);
    cm_cache_put("T|1|", 1, cm_cache_epoch(), big, strlen(big));
    assert_false(cm_cache_get("T|1|", 1, cm_cache_epoch(), &b, &n));
    free(big);
    cm_cache_clear();
    assert_false(cm_cache_get("L|b|||", 3, cm_cache_epoch(), &b, &n));
}

int main(void)
{
    unsigned char key[MASTER_KEY_BYTES];
    if (sodium_init() < 0)
        return 1;
    randombytes_buf(key, sizeof key);
    if (crypto_init(key, 1) != ST_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_markdown_basic),
        cmocka_unit_test(test_markdown_is_inert),
        cmocka_unit_test(test_markdown_plain_text),
        cmocka_unit_test(test_normalise),
        cmocka_unit_test(test_normalise_many_runs),
        cmocka_unit_test(test_cache_versions_and_epochs),
        cmocka_unit_test(test_terms),
        cmocka_unit_test(test_snippet_marks_the_original_text),
        cmocka_unit_test(test_tokenizer_pairs),
        cmocka_unit_test(test_corpus_reference),
        cmocka_unit_test(test_corpus_engines),
    };
    return cmocka_run_group_tests_name("community", tests, NULL, NULL);
}
