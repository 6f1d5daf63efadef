/*
 * fuzz_search_tokenizer.c — the text path of search: the normalisation
 * of textnorm.c (cm_normalize, with and without its byte map), the query
 * terms (cm_terms_parse, cm_terms_match), the highlighter (cm_snippet) and
 * the `entrepot` FTS5 tokenizer of db_sqlite_fts.c.
 *
 * The tokenizer is reachable only through SQLite: an in-memory connection
 * is opened once, the tokenizer registered on it exactly as db_sqlite.c
 * does (db_sqlite_fts_register), then looked up through the fts5_api and
 * called directly, so each token comes with its offsets. The input is
 * tokenized as it is (FTS5 hands the tokenizer whatever was stored) and,
 * when it is valid UTF-8, normalised as the index and the queries do,
 * and the normalised text is tokenized again.
 *
 * Properties. Tokenizer, document and query mode, on any bytes: no crash,
 * every token non-empty, 0 <= start < end <= n, starts and ends
 * non-decreasing. On valid UTF-8: tokens are valid UTF-8 and offsets fall
 * on code point boundaries; a token that starts with a CJK character is
 * the text's own bytes [start, end) and one or two code points; the CJK
 * tokens are, per maximal CJK run of k characters (found here with the
 * reference decoder), k in a document (k - 1 pairs and the last one alone)
 * and max(k - 1, 1) in a query. Normalisation: ill-formed UTF-8 gives
 * ST_INVALID and nothing allocated; valid UTF-8 gives ST_OK, valid UTF-8
 * without NUL of the stated length, the same text with and without the
 * map and from cm_normalize_str; each output byte maps to a non-empty
 * source range within the input that starts on a code point boundary, and
 * the starts are non-decreasing; normalising is idempotent
 * (normalise(normalise(x)) == normalise(x)). Terms: at most
 * CM_QUERY_TERMS_MAX, distinct, non-empty, valid UTF-8; when there is one,
 * the text matches its own terms (cm_terms_match) and its snippet has a
 * highlight and is valid UTF-8. ASan: no leaks.
 */
#include <sqlite3.h>

#include "community/community_int.h"
#include "db/db_int.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static fts5_tokenizer tok_api;
static Fts5Tokenizer *tok;

static void tokenizer_once(void)
{
    static sqlite3 *h; /* kept open for the process */
    if (tok)
        return;
    FUZZ_CHECK(sqlite3_open(":memory:", &h) == SQLITE_OK, "sqlite3_open failed");
    FUZZ_CHECK(db_sqlite_fts_register(h) == SQLITE_OK, "tokenizer not registered");
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    FUZZ_CHECK(sqlite3_prepare_v2(h, "SELECT fts5(?1)", -1, &st, NULL) == SQLITE_OK, "no fts5()");
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    FUZZ_CHECK(api, "no fts5_api");
    void *ctx = NULL;
    FUZZ_CHECK(api->xFindTokenizer(api, "entrepot", &ctx, &tok_api) == SQLITE_OK,
               "entrepot tokenizer not found");
    FUZZ_CHECK(tok_api.xCreate(ctx, NULL, 0, &tok) == SQLITE_OK && tok,
               "entrepot tokenizer not created");
}

/* Well-formed UTF-8, NUL allowed (what cm_normalize and FTS5 accept). */
static bool well_formed(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = ref_utf8_next(s + i, n - i, &cp);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* True when byte i of s[0..n) starts a code point (or is n). */
static bool boundary(const unsigned char *s, size_t n, size_t i)
{
    return i == n || (s[i] & 0xC0) != 0x80;
}

struct tok_run {
    const unsigned char *text;
    size_t n;
    bool valid;
    int last_start, last_end;
    size_t tokens, cjk_tokens;
};

static int on_token(void *arg, int flags, const char *t, int tn, int start, int end)
{
    (void)flags;
    struct tok_run *r = arg;
    FUZZ_CHECK(tn > 0, "empty token at %d", start);
    FUZZ_CHECK(start >= 0 && start < end && (size_t)end <= r->n,
               "token offsets [%d, %d) outside the input of %zu bytes", start, end, r->n);
    FUZZ_CHECK(start >= r->last_start && end >= r->last_end,
               "token [%d, %d) after [%d, %d): offsets decrease", start, end, r->last_start,
               r->last_end);
    r->last_start = start;
    r->last_end = end;
    r->tokens++;
    if (!r->valid)
        return SQLITE_OK;
    const unsigned char *u = (const unsigned char *)t;
    FUZZ_CHECK(well_formed(u, (size_t)tn), "token [%d, %d) is not valid UTF-8", start, end);
    FUZZ_CHECK(boundary(r->text, r->n, (size_t)start) && boundary(r->text, r->n, (size_t)end),
               "token [%d, %d) cuts a code point", start, end);
    uint32_t cp;
    size_t l = ref_utf8_next(u, (size_t)tn, &cp);
    if (l && db_text_is_cjk(cp)) {
        r->cjk_tokens++;
        FUZZ_CHECK(tn == end - start && memcmp(t, r->text + start, (size_t)tn) == 0,
                   "CJK token [%d, %d) is not the text's own bytes", start, end);
        size_t cps = 0;
        for (size_t i = 0; i < (size_t)tn; cps++)
            i += ref_utf8_next(u + i, (size_t)tn - i, &cp);
        FUZZ_CHECK(cps == 1 || cps == 2, "CJK token [%d, %d) of %zu code points", start, end, cps);
    }
    return SQLITE_OK;
}

/* The CJK tokens a reference reading of valid s[0..n) expects. */
static size_t cjk_expected(const unsigned char *s, size_t n, bool query)
{
    size_t total = 0, run = 0;
    for (size_t i = 0; i <= n;) {
        uint32_t cp = 0;
        size_t k = i < n ? ref_utf8_next(s + i, n - i, &cp) : 0;
        if (i < n && db_text_is_cjk(cp)) {
            run++;
        } else if (run) {
            total += query ? (run > 1 ? run - 1 : 1) : run;
            run = 0;
        }
        if (i == n)
            break;
        i += k;
    }
    return total;
}

static void tokenize(const unsigned char *s, size_t n, bool valid)
{
    for (int q = 0; q < 2; q++) {
        struct tok_run r = {.text = s, .n = n, .valid = valid};
        int flags = q ? FTS5_TOKENIZE_QUERY : FTS5_TOKENIZE_DOCUMENT;
        int rc = tok_api.xTokenize(tok, &r, flags, (const char *)s, (int)n, on_token);
        FUZZ_CHECK(rc == SQLITE_OK, "xTokenize: %s", sqlite3_errstr(rc));
        if (valid) {
            size_t want = cjk_expected(s, n, q);
            FUZZ_CHECK(r.cjk_tokens == want, "%s: %zu CJK tokens, expected %zu",
                       q ? "query" : "document", r.cjk_tokens, want);
        }
    }
}

static void check_terms(const char *text, const struct cm_norm *m)
{
    struct cm_terms q;
    cm_terms_parse(m->text, &q);
    FUZZ_CHECK(q.n <= CM_QUERY_TERMS_MAX, "%zu terms", q.n);
    for (size_t k = 0; k < q.n; k++) {
        size_t l = strlen(q.t[k]);
        FUZZ_CHECK(l > 0, "empty term %zu", k);
        FUZZ_CHECK(ref_utf8_valid((const unsigned char *)q.t[k], l, NULL),
                   "term %zu is not valid UTF-8", k);
        for (size_t j = 0; j < k; j++)
            FUZZ_CHECK(q.cjk[j] != q.cjk[k] || strcmp(q.t[j], q.t[k]) != 0, "term \"%s\" twice",
                       q.t[k]);
    }
    if (q.n > 0) {
        FUZZ_CHECK(cm_terms_match(m->text, "", &q), "the text does not match its own terms");
        FUZZ_CHECK(cm_terms_match("", m->text, &q), "the body does not match its own terms");
        struct buf b;
        buf_init(&b, 1 << 20);
        bool hit = cm_snippet(text, &q, CM_SNIPPET_WIDTH, &b);
        FUZZ_CHECK(hit, "no highlight in the snippet of the text's own terms");
        FUZZ_CHECK(ref_utf8_valid((const unsigned char *)b.data, b.len, NULL),
                   "snippet is not valid UTF-8");
        buf_free(&b);
    }
    cm_terms_free(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static bool init;
    if (!init) {
        tokenizer_once();
        FUZZ_CHECK(cm_opencc_ready(), "OpenCC t2s not loaded: Chinese paths not covered");
        init = true;
    }
    if (n > 65536)
        return 0; /* queries and posts are far smaller; keeps runs fast */
    bool valid = ref_utf8_valid(data, n, NULL);
    tokenize(data, n, valid);

    struct cm_norm m;
    enum st st = cm_normalize((const char *)data, n, true, &m);
    if (!well_formed(data, n)) {
        FUZZ_CHECK(st == ST_INVALID, "ill-formed UTF-8 gives %s", st_name(st));
        FUZZ_CHECK(!m.text && !m.src_start && !m.src_end, "ST_INVALID left memory behind");
        return 0;
    }
    if (!valid) { /* a NUL: not text anyone stores or searches */
        if (st == ST_OK)
            cm_norm_free(&m);
        return 0;
    }
    FUZZ_CHECK(st == ST_OK, "valid UTF-8 gives %s", st_name(st));
    FUZZ_CHECK(strlen(m.text) == m.len, "length %zu, strlen %zu", m.len, strlen(m.text));
    FUZZ_CHECK(ref_utf8_valid((const unsigned char *)m.text, m.len, NULL),
               "normalised text is not valid UTF-8");
    for (size_t k = 0; k < m.len; k++) {
        FUZZ_CHECK(m.src_start[k] < m.src_end[k] && m.src_end[k] <= n,
                   "output byte %zu maps to [%u, %u) of %zu", k, m.src_start[k], m.src_end[k], n);
        FUZZ_CHECK(boundary(data, n, m.src_start[k]), "output byte %zu maps into a code point", k);
        FUZZ_CHECK(k == 0 || m.src_start[k] >= m.src_start[k - 1],
                   "map goes back at output byte %zu", k);
    }

    struct cm_norm plain, again;
    FUZZ_CHECK(cm_normalize((const char *)data, n, false, &plain) == ST_OK, "no map: failed");
    FUZZ_CHECK(plain.len == m.len && memcmp(plain.text, m.text, m.len) == 0,
               "the map changes the text");
    cm_norm_free(&plain);
    char *cs = fuzz_cstr(data, n);
    char *viastr = cm_normalize_str(cs);
    FUZZ_CHECK(strcmp(viastr, m.text) == 0, "cm_normalize_str differs");
    free(viastr);
    FUZZ_CHECK(cm_normalize(m.text, m.len, false, &again) == ST_OK, "normalised text refused");
    FUZZ_CHECK(again.len == m.len && memcmp(again.text, m.text, m.len) == 0,
               "not idempotent: \"%s\" -> \"%s\" -> \"%s\"", cs, m.text, again.text);
    cm_norm_free(&again);

    tokenize((const unsigned char *)m.text, m.len, true);
    check_terms(cs, &m);
    free(cs);
    cm_norm_free(&m);
    return 0;
}
