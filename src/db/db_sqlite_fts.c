/*
 * db_sqlite_fts.c — the `entrepot` FTS5 tokenizer, registered on every
 * SQLite connection the pool opens (db_sqlite.c), so migrations, the
 * server and every test see the same index.
 *
 * Chinese and Japanese have no spaces: each maximal run of CJK code points
 * (db_text_is_cjk) is indexed as overlapping pairs of characters, plus the
 * run's last character alone, and everything else goes through FTS5's own
 * unicode61 tokenizer (diacritics removed, letters and decimal digits as
 * token characters). A query string of two or more CJK characters becomes
 * its pairs — a phrase, so consecutive pairs must be consecutive in the
 * text, which is exactly "is a substring of a run" — and a one-character
 * query is a single character that callers search as a prefix ("灯"*):
 * every occurrence of a character is either the first of a pair or the
 * last character of its run, so the prefix finds them all.
 *
 * The text this tokenizer sees is already normalised by the caller
 * (src/community/textnorm.c: OpenCC t2s, case folding...): it does not
 * convert anything itself, so the index and the queries agree by
 * construction.
 */
#include <string.h>

#include <sqlite3.h>

#include "db_int.h"

bool db_text_is_cjk(uint32_t c)
{
    return (c >= 0x2E80 && c <= 0x2FDF) || (c >= 0x3005 && c <= 0x3007) ||
           (c >= 0x3021 && c <= 0x3029) || (c >= 0x3040 && c <= 0x30FF) ||
           (c >= 0x31F0 && c <= 0x31FF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0xFF66 && c <= 0xFF9F) || (c >= 0x20000 && c <= 0x3FFFF);
}

struct tok {
    fts5_tokenizer u61;  /* unicode61's methods */
    Fts5Tokenizer *inst; /* our unicode61 instance */
};

/* Decodes one code point of valid UTF-8 (FTS5 hands us what was stored);
 * a broken byte counts as one non-CJK byte. */
static int next_cp(const char *s, int n, uint32_t *cp)
{
    size_t l = utf8_next(s, (size_t)n, cp);
    if (!l) {
        *cp = 0xFFFD;
        return 1;
    }
    return (int)l;
}

static int tok_create(void *ctx, const char **argv, int argc, Fts5Tokenizer **out)
{
    (void)argv;
    (void)argc;
    fts5_api *api = ctx;
    void *u61ctx = NULL;
    struct tok *t = sqlite3_malloc(sizeof *t);
    if (!t)
        return SQLITE_NOMEM;
    memset(t, 0, sizeof *t);
    int rc = api->xFindTokenizer(api, "unicode61", &u61ctx, &t->u61);
    if (rc == SQLITE_OK) {
        const char *args[] = {"remove_diacritics", "2", "categories", "L* Nd"};
        rc = t->u61.xCreate(u61ctx, args, 4, &t->inst);
    }
    if (rc != SQLITE_OK) {
        sqlite3_free(t);
        return rc;
    }
    *out = (Fts5Tokenizer *)t;
    return SQLITE_OK;
}

static void tok_delete(Fts5Tokenizer *p)
{
    struct tok *t = (struct tok *)p;
    if (!t)
        return;
    if (t->inst)
        t->u61.xDelete(t->inst);
    sqlite3_free(t);
}

typedef int (*token_cb)(void *, int, const char *, int, int, int);

/* unicode61 sees one non-CJK stretch at a time; its offsets are shifted
 * back into the whole text. */
struct shift {
    void *ctx;
    token_cb cb;
    int base;
};

static int shifted(void *p, int flags, const char *tok, int n, int start, int end)
{
    struct shift *s = p;
    return s->cb(s->ctx, flags, tok, n, start + s->base, end + s->base);
}

/* Emits the tokens of one CJK run text[a..b). */
static int cjk_run(const char *text, int a, int b, bool query, void *ctx, token_cb cb)
{
    int count = 0;
    for (int i = a; i < b;) {
        uint32_t cp;
        int l = next_cp(text + i, b - i, &cp);
        int j = i + l;
        if (j < b) {
            uint32_t c2;
            int l2 = next_cp(text + j, b - j, &c2);
            int rc = cb(ctx, 0, text + i, j + l2 - i, i, j + l2);
            if (rc != SQLITE_OK)
                return rc;
            count++;
        } else if (!query || count == 0) {
            /* The run's last character alone (documents; a one-character query). */
            int rc = cb(ctx, 0, text + i, l, i, j);
            if (rc != SQLITE_OK)
                return rc;
        }
        i = j;
    }
    return SQLITE_OK;
}

static int tok_tokenize(Fts5Tokenizer *p, void *ctx, int flags, const char *text, int n,
                        token_cb cb)
{
    struct tok *t = (struct tok *)p;
    bool query = (flags & FTS5_TOKENIZE_QUERY) != 0;
    int i = 0;
    while (i < n) {
        uint32_t cp;
        int l = next_cp(text + i, n - i, &cp);
        bool cjk = db_text_is_cjk(cp);
        int j = i + l;
        while (j < n) {
            uint32_t c2;
            int l2 = next_cp(text + j, n - j, &c2);
            if (db_text_is_cjk(c2) != cjk)
                break;
            j += l2;
        }
        int rc;
        if (cjk) {
            rc = cjk_run(text, i, j, query, ctx, cb);
        } else {
            struct shift s = {ctx, cb, i};
            rc = t->u61.xTokenize(t->inst, &s, flags, text + i, j - i, shifted);
        }
        if (rc != SQLITE_OK)
            return rc;
        i = j;
    }
    return SQLITE_OK;
}

static fts5_api *fts5_of(sqlite3 *h)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    return api;
}

int db_sqlite_fts_register(void *handle)
{
    sqlite3 *h = handle;
    fts5_api *api = fts5_of(h);
    if (!api || api->iVersion < 2)
        return SQLITE_ERROR;
    fts5_tokenizer methods = {tok_create, tok_delete, tok_tokenize};
    return api->xCreateTokenizer(api, "entrepot", api, &methods, NULL);
}
