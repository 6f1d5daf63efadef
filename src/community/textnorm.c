/*
 * textnorm.c — the one normalisation of searchable text, shared by the
 * index (both engines), the queries and the highlighter.
 *
 * normalise(s) = NFC → OpenCC t2s (phrase level) → full case folding →
 * NFD → drop every Mn code point → NFC (ICU for Unicode, libopencc for
 * Chinese), so 機械 ≡ 机械, FOB ≡ fob, plástico ≡ plastico.
 *
 * The design decision to know: the text is normalised piece by piece —
 * ASCII bytes one at a time (a fast path: lower-casing is all they need),
 * each maximal run of CJK characters as one piece (OpenCC converts phrases,
 * which never leave a run) and each run of other non-ASCII characters as
 * one piece (with the ASCII letter before it, which a combining mark may
 * belong to). Pieces cannot interact under these transforms, so the result
 * equals normalising the whole string, and every output byte knows which
 * bytes of the original it came from: the highlighter marks the user's own
 * text, not the normalised copy.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <opencc.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include "community_int.h"

/* ---------------------------------------------------------------- classes */

bool cm_is_cjk(uint32_t c)
{
    return db_text_is_cjk(c); /* the SQLite tokenizer's classes, so both agree */
}

bool cm_is_word(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (cm_is_cjk(c))
        return false;
    int8_t t = u_charType((UChar32)c);
    return (t >= U_UPPERCASE_LETTER && t <= U_OTHER_LETTER) || t == U_DECIMAL_DIGIT_NUMBER;
}

/* ---------------------------------------------------------------- OpenCC */

static pthread_once_t cc_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t cc_mu = PTHREAD_MUTEX_INITIALIZER;
static opencc_t cc_handle = (opencc_t)-1;

static void cc_open(void)
{
    cc_handle = opencc_open("t2s.json");
    if (cc_handle == (opencc_t)-1)
        log_errorf("community: OpenCC t2s.json cannot be loaded (%s); Traditional and "
                   "Simplified Chinese will not match each other",
                   opencc_error());
}

bool cm_opencc_ready(void)
{
    pthread_once(&cc_once, cc_open);
    return cc_handle != (opencc_t)-1;
}

/* One OpenCC t2s pass; caller frees. One converter serves every thread:
 * OpenCC does not promise that a converter may be shared, so calls take
 * turns (each is microseconds). */
static char *cc_t2s_once(const char *s, size_t n)
{
    pthread_mutex_lock(&cc_mu);
    char *r = opencc_convert_utf8(cc_handle, s, n);
    pthread_mutex_unlock(&cc_mu);
    if (!r)
        return NULL;
    char *copy = xstrdup(r);
    opencc_convert_utf8_free(r);
    return copy;
}

#define CC_PASSES 4 /* t2s chains seen are two links long */

/* t2s of a UTF-8 string to its fixed point; caller frees. NULL when OpenCC
 * is missing. One pass is not always enough: the dictionaries chain some
 * characters (薴 → 苧 → 苎), and normalising must be idempotent or text
 * normalised once would not match the same text normalised twice (found by
 * fuzz_search_tokenizer). Text already simplified costs one pass. */
static char *cc_t2s(const char *s, size_t n)
{
    if (!cm_opencc_ready())
        return NULL;
    char *cur = cc_t2s_once(s, n);
    bool changed = cur && (strlen(cur) != n || memcmp(cur, s, n) != 0);
    for (int pass = 1; cur && changed && pass < CC_PASSES; pass++) {
        char *next = cc_t2s_once(cur, strlen(cur));
        if (!next)
            break;
        changed = strcmp(next, cur) != 0;
        free(cur);
        cur = next;
    }
    return cur;
}

/* ---------------------------------------------------------------- ICU steps */

struct u16 {
    UChar *p;
    int32_t n, cap;
};

static void u16_free(struct u16 *u)
{
    free(u->p);
    u->p = NULL;
    u->n = u->cap = 0;
}

static enum st u16_from_utf8(struct u16 *u, const char *s, size_t n)
{
    UErrorCode err = U_ZERO_ERROR;
    u->cap = (int32_t)n + 1;
    u->p = xmalloc((size_t)u->cap * sizeof(UChar));
    u_strFromUTF8(u->p, u->cap, &u->n, s, (int32_t)n, &err);
    return U_SUCCESS(err) ? ST_OK : ST_INVALID;
}

enum step { STEP_NFC, STEP_NFD, STEP_FOLD };

/* Applies one step, replacing u's content. */
static enum st u16_step(struct u16 *u, enum step step)
{
    UErrorCode err = U_ZERO_ERROR;
    const UNormalizer2 *nz = NULL;
    if (step == STEP_NFC)
        nz = unorm2_getNFCInstance(&err);
    else if (step == STEP_NFD)
        nz = unorm2_getNFDInstance(&err);
    if (U_FAILURE(err))
        return ST_INTERNAL;
    int32_t cap = u->n * 3 + 8;
    for (int tries = 0; tries < 2; tries++) {
        UChar *out = xmalloc((size_t)cap * sizeof(UChar));
        err = U_ZERO_ERROR;
        int32_t len = step == STEP_FOLD
                          ? u_strFoldCase(out, cap, u->p, u->n, U_FOLD_CASE_DEFAULT, &err)
                          : unorm2_normalize(nz, u->p, u->n, out, cap, &err);
        if (err == U_BUFFER_OVERFLOW_ERROR) {
            free(out);
            cap = len + 1;
            continue;
        }
        if (U_FAILURE(err)) {
            free(out);
            return ST_INTERNAL;
        }
        free(u->p);
        u->p = out;
        u->n = len;
        u->cap = cap;
        return ST_OK;
    }
    return ST_INTERNAL;
}

static void u16_drop_mn(struct u16 *u)
{
    int32_t i = 0, w = 0;
    while (i < u->n) {
        int32_t start = i;
        UChar32 c;
        U16_NEXT(u->p, i, u->n, c);
        if (u_charType(c) == U_NON_SPACING_MARK)
            continue;
        while (start < i)
            u->p[w++] = u->p[start++];
    }
    u->n = w;
}

static enum st u16_to_buf(const struct u16 *u, struct buf *out)
{
    UErrorCode err = U_ZERO_ERROR;
    int32_t need = 0;
    u_strToUTF8(NULL, 0, &need, u->p, u->n, &err);
    if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err))
        return ST_INTERNAL;
    enum st st = buf_reserve(out, (size_t)need + 1);
    if (st != ST_OK)
        return st;
    err = U_ZERO_ERROR;
    u_strToUTF8(out->data + out->len, need + 1, &need, u->p, u->n, &err);
    if (U_FAILURE(err))
        return ST_INTERNAL;
    out->len += (size_t)need;
    out->data[out->len] = '\0';
    return ST_OK;
}

/* Normalises one piece s[0..n) and appends it to out. A CJK piece goes
 * through OpenCC's t2s after NFC: conv is that already done (from a batch,
 * see cm_normalize), or NULL to convert the piece here. */
static enum st piece(const char *s, size_t n, bool cjk, const char *conv, struct buf *out)
{
    struct u16 u = {0};
    enum st st = cjk && conv ? u16_from_utf8(&u, conv, strlen(conv)) : u16_from_utf8(&u, s, n);
    if (st == ST_OK && !(cjk && conv))
        st = u16_step(&u, STEP_NFC);
    if (st == ST_OK && cjk && !conv) {
        struct buf tmp;
        buf_init(&tmp, n * 4 + 64);
        st = u16_to_buf(&u, &tmp);
        char *c2 = st == ST_OK ? cc_t2s(tmp.data, tmp.len) : NULL;
        if (c2) {
            u16_free(&u);
            st = u16_from_utf8(&u, c2, strlen(c2));
            free(c2);
        }
        buf_free(&tmp);
    }
    if (st == ST_OK)
        st = u16_step(&u, STEP_FOLD);
    if (st == ST_OK)
        st = u16_step(&u, STEP_NFD);
    if (st == ST_OK) {
        u16_drop_mn(&u);
        st = u16_step(&u, STEP_NFC);
    }
    if (st == ST_OK)
        st = u16_to_buf(&u, out);
    u16_free(&u);
    return st;
}

/* Where the piece starting at s[i] ends: a lone ASCII character (*ascii,
 * the fast path), or a run of code points all CJK (*cjk) or all not. 0
 * for broken UTF-8. */
static size_t piece_end(const char *s, size_t n, size_t i, bool *ascii, bool *cjk)
{
    unsigned char ch = (unsigned char)s[i];
    *ascii = *cjk = false;
    if (ch < 0x80 && (i + 1 >= n || (unsigned char)s[i + 1] < 0x80)) {
        *ascii = true;
        return i + 1;
    }
    uint32_t cp;
    size_t len = utf8_next(s + i, n - i, &cp);
    if (!len)
        return 0;
    *cjk = cm_is_cjk(cp);
    size_t j = i + len;
    while (j < n) {
        uint32_t c2;
        size_t l2 = utf8_next(s + j, n - j, &c2);
        if (!l2 || c2 < 0x80 || cm_is_cjk(c2) != *cjk)
            break;
        j += l2;
    }
    return j;
}

/* The t2s conversion of every CJK run of s, in order, made with one call
 * to OpenCC: the runs (after NFC) joined by '\n', which no phrase of its
 * dictionaries holds, so each run converts as it would alone. One call
 * instead of one a run is what makes snippets of Chinese text cheap.
 * NULL when there is no CJK run, OpenCC is missing, or the answer does not
 * split back into as many runs (the caller then converts run by run). */
struct batch {
    char *text;   /* the converted runs, each NUL-terminated in place */
    char **run;   /* run[k]: the k-th CJK run's conversion */
    size_t n, at; /* runs, and the next one to take */
};

static void batch_free(struct batch *b)
{
    free(b->text);
    free(b->run);
    memset(b, 0, sizeof *b);
}

static void batch_make(const char *s, size_t n, struct batch *b)
{
    memset(b, 0, sizeof *b);
    struct buf in;
    buf_init(&in, n * 4 + 64);
    size_t runs = 0;
    for (size_t i = 0; i < n;) {
        bool ascii, cjk;
        size_t j = piece_end(s, n, i, &ascii, &cjk);
        if (!j)
            break;
        if (cjk) {
            struct u16 u = {0};
            if (u16_from_utf8(&u, s + i, j - i) != ST_OK || u16_step(&u, STEP_NFC) != ST_OK ||
                (runs && buf_putc(&in, '\n') != ST_OK) || u16_to_buf(&u, &in) != ST_OK) {
                u16_free(&u);
                buf_free(&in);
                return;
            }
            u16_free(&u);
            runs++;
        }
        i = j;
    }
    char *conv = runs ? cc_t2s(in.data, in.len) : NULL;
    buf_free(&in);
    if (!conv)
        return;
    size_t k = 1;
    for (char *p = conv; *p; p++)
        k += *p == '\n';
    if (k != runs) {
        free(conv);
        return;
    }
    b->text = conv;
    b->run = xcalloc(runs, sizeof *b->run);
    b->n = runs;
    char *p = conv;
    for (size_t r = 0; r < runs; r++) {
        b->run[r] = p;
        char *nl = strchr(p, '\n');
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        }
    }
}

/* ---------------------------------------------------------------- the map */

static void map_grow(struct cm_norm *m, size_t need)
{
    if (need <= m->map_cap)
        return;
    size_t cap = m->map_cap ? m->map_cap * 2 : 256;
    while (cap < need)
        cap *= 2;
    m->src_start = xrealloc(m->src_start, cap * sizeof *m->src_start);
    m->src_end = xrealloc(m->src_end, cap * sizeof *m->src_end);
    m->map_cap = cap;
}

/* Maps output bytes [o0, o1) of a piece to its source [s0, s1): code point
 * by code point when both sides have as many, else all to the whole piece. */
static void map_piece(struct cm_norm *m, const char *src, size_t s0, size_t s1, const char *outp,
                      size_t o0, size_t o1)
{
    map_grow(m, o1);
    size_t ns = utf8_len(src + s0, s1 - s0), no = utf8_len(outp + o0, o1 - o0);
    if (ns == no) {
        size_t si = s0, oi = o0;
        while (oi < o1 && si < s1) {
            size_t sl = utf8_next(src + si, s1 - si, NULL);
            size_t ol = utf8_next(outp + oi, o1 - oi, NULL);
            if (!sl || !ol)
                break;
            for (size_t k = 0; k < ol; k++) {
                m->src_start[oi + k] = (uint32_t)si;
                m->src_end[oi + k] = (uint32_t)(si + sl);
            }
            si += sl;
            oi += ol;
        }
        if (oi >= o1)
            return;
    }
    for (size_t k = o0; k < o1; k++) {
        m->src_start[k] = (uint32_t)s0;
        m->src_end[k] = (uint32_t)s1;
    }
}

enum st cm_normalize(const char *s, size_t n, bool want_map, struct cm_norm *out)
{
    memset(out, 0, sizeof *out);
    struct buf b;
    buf_init(&b, n * 4 + 64);
    struct batch conv;
    batch_make(s, n, &conv);
    enum st st = ST_OK;
    size_t i = 0;
    while (i < n && st == ST_OK) {
        bool ascii, cjk;
        size_t j = piece_end(s, n, i, &ascii, &cjk);
        if (!j) {
            st = ST_INVALID;
            break;
        }
        size_t o = b.len;
        if (ascii) {
            unsigned char ch = (unsigned char)s[i];
            st = buf_putc(&b, (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : (char)ch);
            if (st == ST_OK && want_map) {
                map_grow(out, o + 1);
                out->src_start[o] = (uint32_t)i;
                out->src_end[o] = (uint32_t)(i + 1);
            }
        } else {
            const char *c = cjk && conv.at < conv.n ? conv.run[conv.at++] : NULL;
            st = piece(s + i, j - i, cjk, c, &b);
            if (st == ST_OK && want_map)
                map_piece(out, s, i, j, b.data, o, b.len);
        }
        i = j;
    }
    batch_free(&conv);
    if (st != ST_OK) {
        buf_free(&b);
        cm_norm_free(out);
        return st;
    }
    out->len = b.len;
    out->text = buf_take(&b);
    return ST_OK;
}

void cm_norm_free(struct cm_norm *m)
{
    if (!m)
        return;
    free(m->text);
    free(m->src_start);
    free(m->src_end);
    memset(m, 0, sizeof *m);
}

char *cm_normalize_str(const char *s)
{
    struct cm_norm m;
    if (cm_normalize(s, strlen(s), false, &m) != ST_OK)
        return xstrdup("");
    return m.text;
}

/* ---------------------------------------------------------------- words and terms */

/* Calls fn for each maximal run [a, b) of normalised text t[0..n) that is
 * a word (cjk false) or a CJK run (cjk true). */
static void runs(const char *t, size_t n, bool cjk, void (*fn)(void *, const char *, size_t),
                 void *arg)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = utf8_next(t + i, n - i, &cp);
        if (!l) {
            i++;
            continue;
        }
        bool in = cjk ? cm_is_cjk(cp) : cm_is_word(cp);
        if (!in) {
            i += l;
            continue;
        }
        size_t j = i + l;
        while (j < n) {
            uint32_t c2;
            size_t l2 = utf8_next(t + j, n - j, &c2);
            if (!l2 || !(cjk ? cm_is_cjk(c2) : cm_is_word(c2)))
                break;
            j += l2;
        }
        fn(arg, t + i, j - i);
        i = j;
    }
}

struct words_ctx {
    struct buf *out;
};

static void add_word(void *arg, const char *w, size_t n)
{
    struct words_ctx *x = arg;
    /* " w " already present: the list holds each word once. */
    struct buf probe;
    buf_init(&probe, n + 2);
    buf_putc(&probe, ' ');
    buf_append(&probe, w, n);
    buf_putc(&probe, ' ');
    if (!strstr(x->out->data, probe.data)) {
        buf_append(x->out, w, n);
        buf_putc(x->out, ' ');
    }
    buf_free(&probe);
}

char *cm_words(const char *title_norm, const char *body_norm)
{
    struct buf out;
    buf_init(&out, (strlen(title_norm) + strlen(body_norm)) * 2 + 8);
    buf_putc(&out, ' ');
    struct words_ctx x = {&out};
    runs(title_norm, strlen(title_norm), false, add_word, &x);
    runs(body_norm, strlen(body_norm), false, add_word, &x);
    return buf_take(&out);
}

struct terms_ctx {
    struct cm_terms *q;
    bool cjk;
};

static void add_term(void *arg, const char *w, size_t n)
{
    struct terms_ctx *x = arg;
    if (x->q->n >= CM_QUERY_TERMS_MAX)
        return;
    for (size_t k = 0; k < x->q->n; k++)
        if (x->q->cjk[k] == x->cjk && strlen(x->q->t[k]) == n && memcmp(x->q->t[k], w, n) == 0)
            return;
    x->q->t[x->q->n] = xstrndup(w, n);
    x->q->cjk[x->q->n] = x->cjk;
    x->q->n++;
}

void cm_terms_parse(const char *norm, struct cm_terms *q)
{
    memset(q, 0, sizeof *q);
    /* Terms in the order they appear: walk once, taking CJK runs and words. */
    size_t n = strlen(norm), i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = utf8_next(norm + i, n - i, &cp);
        if (!l) {
            i++;
            continue;
        }
        bool cjk = cm_is_cjk(cp);
        if (!cjk && !cm_is_word(cp)) {
            i += l;
            continue;
        }
        size_t j = i + l;
        while (j < n) {
            uint32_t c2;
            size_t l2 = utf8_next(norm + j, n - j, &c2);
            if (!l2 || (cjk ? !cm_is_cjk(c2) : !cm_is_word(c2)))
                break;
            j += l2;
        }
        struct terms_ctx x = {q, cjk};
        add_term(&x, norm + i, j - i);
        i = j;
    }
}

void cm_terms_free(struct cm_terms *q)
{
    for (size_t k = 0; k < q->n; k++)
        free(q->t[k]);
    memset(q, 0, sizeof *q);
}

/* ---------------------------------------------------------------- matching and snippets */

struct range {
    size_t a, b;
};

struct marks {
    struct range r[CM_SNIPPET_MARKS];
    size_t n;
};

static void mark_add(struct marks *m, size_t a, size_t b)
{
    if (m->n < CM_SNIPPET_MARKS)
        m->r[m->n++] = (struct range){a, b};
}

static int range_cmp(const void *x, const void *y)
{
    const struct range *p = x, *q = y;
    return p->a < q->a ? -1 : p->a > q->a ? 1 : 0;
}

struct word_scan {
    const struct cm_terms *q;
    const struct cm_norm *nm;
    struct marks *m;
    bool *found;
};

static void word_hit(void *arg, const char *w, size_t n)
{
    struct word_scan *x = arg;
    for (size_t k = 0; k < x->q->n; k++) {
        if (x->q->cjk[k] || strlen(x->q->t[k]) != n || memcmp(x->q->t[k], w, n) != 0)
            continue;
        size_t o = (size_t)(w - x->nm->text);
        if (x->found)
            x->found[k] = true;
        if (x->nm->src_start)
            mark_add(x->m, x->nm->src_start[o], x->nm->src_end[o + n - 1]);
    }
}

/* Finds the terms in one normalised field; found[k] set for each term k
 * that matches; source ranges added to m when the map is there. */
static void find_terms(const struct cm_norm *nm, const struct cm_terms *q, bool *found,
                       struct marks *m)
{
    for (size_t k = 0; k < q->n; k++) {
        if (!q->cjk[k])
            continue;
        size_t tl = strlen(q->t[k]);
        const char *p = nm->text;
        while ((p = strstr(p, q->t[k])) != NULL) {
            size_t o = (size_t)(p - nm->text);
            if (found)
                found[k] = true;
            if (nm->src_start)
                mark_add(m, nm->src_start[o], nm->src_end[o + tl - 1]);
            p += tl;
        }
    }
    struct word_scan x = {q, nm, m, found};
    runs(nm->text, nm->len, false, word_hit, &x);
}

bool cm_terms_match(const char *title_norm, const char *body_norm, const struct cm_terms *q)
{
    if (q->n == 0)
        return false;
    bool found[CM_QUERY_TERMS_MAX] = {false};
    struct marks m = {.n = 0};
    struct cm_norm t = {.text = (char *)(uintptr_t)title_norm, .len = strlen(title_norm)};
    struct cm_norm b = {.text = (char *)(uintptr_t)body_norm, .len = strlen(body_norm)};
    find_terms(&t, q, found, &m);
    find_terms(&b, q, found, &m);
    for (size_t k = 0; k < q->n; k++)
        if (!found[k])
            return false;
    return true;
}

static void put_escaped(struct buf *out, const char *s, size_t n)
{
    cm_html_escape(out, s, n, true); /* a snippet is one line */
}

/* Moves back to the start of a UTF-8 sequence. */
static size_t cp_floor(const char *s, size_t i)
{
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

/* Byte offset width code points before (dir < 0) or after i. */
static size_t cp_walk(const char *s, size_t n, size_t i, int dir, size_t width)
{
    while (width-- > 0) {
        if (dir < 0) {
            if (i == 0)
                break;
            i = cp_floor(s, i - 1);
        } else {
            if (i >= n)
                break;
            size_t l = utf8_next(s + i, n - i, NULL);
            i += l ? l : 1;
        }
    }
    return i;
}

bool cm_snippet(const char *text, const struct cm_terms *q, size_t width, struct buf *out)
{
    size_t n = strlen(text);
    struct cm_norm nm;
    struct marks m = {.n = 0};
    if (cm_normalize(text, n, true, &nm) == ST_OK) {
        find_terms(&nm, q, NULL, &m);
        cm_norm_free(&nm);
    }
    qsort(m.r, m.n, sizeof m.r[0], range_cmp);
    /* Merge overlapping ranges. */
    size_t w = 0;
    for (size_t k = 0; k < m.n; k++) {
        if (w > 0 && m.r[k].a <= m.r[w - 1].b) {
            if (m.r[k].b > m.r[w - 1].b)
                m.r[w - 1].b = m.r[k].b;
        } else {
            m.r[w++] = m.r[k];
        }
    }
    m.n = w;
    size_t from = 0;
    if (m.n > 0)
        from = cp_walk(text, n, m.r[0].a, -1, width / 4);
    size_t to = cp_walk(text, n, from, +1, width);
    if (from > 0)
        buf_puts(out, "…");
    size_t at = from;
    for (size_t k = 0; k < m.n && at < to; k++) {
        size_t a = m.r[k].a < at ? at : m.r[k].a, b = m.r[k].b > to ? to : m.r[k].b;
        if (a >= b)
            continue;
        put_escaped(out, text + at, a - at);
        buf_puts(out, "<mark>");
        put_escaped(out, text + a, b - a);
        buf_puts(out, "</mark>");
        at = b;
    }
    if (at < to)
        put_escaped(out, text + at, to - at);
    if (to < n)
        buf_puts(out, "…");
    return m.n > 0;
}
