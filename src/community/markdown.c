/*
 * markdown.c — Markdown to safe HTML, and to plain text for the search
 * index, in one md4c parse.
 *
 * The design decision to know: there is no sanitiser pass over HTML. md4c
 * parses with raw HTML disabled (MD_FLAG_NOHTML: a <script> in the source
 * is text), and this renderer — not md4c-html — writes every tag itself,
 * from a fixed list, with the only attributes it knows (href, src, alt,
 * title, class="language-…", rel). URLs are decoded, then allowed only as
 * http, https, mailto or relative; a link with any other scheme keeps its
 * text and loses its <a>. So the output cannot hold a tag, attribute or
 * URL scheme that is not in this file.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <md4c.h>

#include "community_int.h"

#define MD_HTML_CAP  (1024 * 1024) /* bytes of rendered HTML */
#define MD_SPAN_NEST 32            /* open inline tags written; deeper ones are text */

/* An inline tag the renderer opened (emitted false: a refused link, whose
 * text stays but whose tag was never written). */
struct span {
    MD_SPANTYPE type;
    bool emitted;
};

struct render {
    struct buf html;
    struct buf text;
    int img_depth; /* > 0: inside an image: no markup */
    bool img_alt;  /* ...and its text goes into the alt attribute */
    /* Every close is matched against what was opened, so the HTML is
     * well-nested whatever events md4c sends (it can report the closing
     * half of an emphasis whose opening was inside a link destination:
     * `[](*)*`, found by fuzz_markdown). */
    struct span spans[MD_SPAN_NEST];
    int nspans;
    int skipped; /* spans opened past MD_SPAN_NEST, written as nothing */
    enum st st;
};

static void close_spans(struct render *r, int to);

static void put(struct render *r, const char *s)
{
    if (r->st == ST_OK)
        r->st = buf_puts(&r->html, s);
}

void cm_html_escape(struct buf *b, const char *s, size_t n, bool flatten)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '<':
            buf_puts(b, "&lt;");
            break;
        case '>':
            buf_puts(b, "&gt;");
            break;
        case '&':
            buf_puts(b, "&amp;");
            break;
        case '"':
            buf_puts(b, "&quot;");
            break;
        case '\'':
            buf_puts(b, "&#39;");
            break;
        case '\n':
        case '\r':
        case '\t':
            buf_putc(b, flatten ? ' ' : s[i]);
            break;
        default:
            buf_putc(b, s[i]);
        }
    }
}

static void esc(struct buf *b, const char *s, size_t n)
{
    cm_html_escape(b, s, n, false);
}

/* Decodes an entity the way a browser would; false for a named entity we
 * do not know (the caller keeps it as text, or refuses the URL). */
static bool entity_decode(const char *s, size_t n, char out[8], size_t *outlen)
{
    static const struct {
        const char *name, *val;
    } named[] = {
        {"&amp;", "&"},   {"&lt;", "<"},   {"&gt;", ">"},
        {"&quot;", "\""}, {"&apos;", "'"}, {"&nbsp;", "\xC2\xA0"},
    };
    if (n >= 4 && s[1] == '#') {
        uint32_t cp = 0;
        bool hex = s[2] == 'x' || s[2] == 'X';
        for (size_t i = hex ? 3 : 2; i + 1 < n; i++) {
            int d = hex ? (isxdigit((unsigned char)s[i])
                               ? (isdigit((unsigned char)s[i]) ? s[i] - '0'
                                                               : (tolower(s[i]) - 'a' + 10))
                               : -1)
                        : (isdigit((unsigned char)s[i]) ? s[i] - '0' : -1);
            if (d < 0 || cp > 0x10FFFF)
                return false;
            cp = cp * (hex ? 16 : 10) + (uint32_t)d;
        }
        if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            cp = 0xFFFD;
        /* UTF-8 encode. */
        if (cp < 0x80) {
            out[0] = (char)cp;
            *outlen = 1;
        } else if (cp < 0x800) {
            out[0] = (char)(0xC0 | (cp >> 6));
            out[1] = (char)(0x80 | (cp & 0x3F));
            *outlen = 2;
        } else if (cp < 0x10000) {
            out[0] = (char)(0xE0 | (cp >> 12));
            out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[2] = (char)(0x80 | (cp & 0x3F));
            *outlen = 3;
        } else {
            out[0] = (char)(0xF0 | (cp >> 18));
            out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
            out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[3] = (char)(0x80 | (cp & 0x3F));
            *outlen = 4;
        }
        return true;
    }
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (strlen(named[i].name) == n && memcmp(named[i].name, s, n) == 0) {
            *outlen = strlen(named[i].val);
            memcpy(out, named[i].val, *outlen);
            return true;
        }
    }
    return false;
}

/* The decoded text of an attribute; false when it holds an entity we
 * cannot decode (a URL built from it would be ambiguous). */
static bool attr_decode(const MD_ATTRIBUTE *a, struct buf *out)
{
    for (int i = 0; a->substr_offsets && a->substr_offsets[i] < a->size; i++) {
        const char *s = a->text + a->substr_offsets[i];
        size_t n = a->substr_offsets[i + 1] - a->substr_offsets[i];
        if (a->substr_types[i] == MD_TEXT_ENTITY) {
            char d[8];
            size_t dl;
            if (!entity_decode(s, n, d, &dl))
                return false;
            buf_append(out, d, dl);
        } else if (a->substr_types[i] == MD_TEXT_NULLCHAR) {
            buf_puts(out, "\xEF\xBF\xBD");
        } else {
            buf_append(out, s, n);
        }
    }
    return true;
}

/* http, https, mailto (links only) or a relative URL; nothing with a
 * control character or whitespace that could hide a scheme. */
static bool url_ok(const char *u, bool link)
{
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p < 0x21 || *p == 0x7F)
            return false;
    const char *colon = strchr(u, ':');
    const char *stop = strpbrk(u, "/?#");
    if (!colon || (stop && stop < colon))
        return *u != '\0'; /* relative */
    size_t n = (size_t)(colon - u);
    if (n == 4 && strncasecmp(u, "http", 4) == 0)
        return true;
    if (n == 5 && strncasecmp(u, "https", 5) == 0)
        return true;
    return link && n == 6 && strncasecmp(u, "mailto", 6) == 0;
}

/* Writes ` NAME="URL"` when the URL is acceptable; false otherwise. */
static bool put_url(struct render *r, const char *name, const MD_ATTRIBUTE *a, bool link)
{
    struct buf u;
    buf_init(&u, 8192);
    bool ok = attr_decode(a, &u) && u.len > 0 && url_ok(u.data, link);
    if (ok) {
        buf_printf(&r->html, " %s=\"", name);
        esc(&r->html, u.data, u.len);
        buf_putc(&r->html, '"');
    }
    buf_free(&u);
    return ok;
}

static void put_title(struct render *r, const MD_ATTRIBUTE *a)
{
    if (!a->text || a->size == 0)
        return;
    struct buf t;
    buf_init(&t, 4096);
    if (attr_decode(a, &t) && t.len) {
        buf_puts(&r->html, " title=\"");
        esc(&r->html, t.data, t.len);
        buf_putc(&r->html, '"');
    }
    buf_free(&t);
}

static void text_nl(struct render *r)
{
    if (r->text.len && r->text.data[r->text.len - 1] != '\n')
        buf_putc(&r->text, '\n');
}

static int enter_block(MD_BLOCKTYPE type, void *detail, void *arg)
{
    struct render *r = arg;
    /* Inline tags never contain a block: any still open (unbalanced events) close here. */
    close_spans(r, 0);
    r->skipped = 0;
    switch (type) {
    case MD_BLOCK_DOC:
        break;
    case MD_BLOCK_QUOTE:
        put(r, "<blockquote>\n");
        break;
    case MD_BLOCK_UL:
        put(r, "<ul>\n");
        break;
    case MD_BLOCK_OL: {
        const MD_BLOCK_OL_DETAIL *d = detail;
        if (d->start != 1)
            buf_printf(&r->html, "<ol start=\"%u\">\n", d->start);
        else
            put(r, "<ol>\n");
        break;
    }
    case MD_BLOCK_LI: {
        const MD_BLOCK_LI_DETAIL *d = detail;
        put(r, "<li>");
        if (d->is_task)
            put(r, d->task_mark == ' ' ? "\xE2\x98\x90 " : "\xE2\x98\x91 ");
        break;
    }
    case MD_BLOCK_HR:
        put(r, "<hr>\n");
        break;
    case MD_BLOCK_H: {
        const MD_BLOCK_H_DETAIL *d = detail;
        buf_printf(&r->html, "<h%u>", d->level);
        break;
    }
    case MD_BLOCK_CODE: {
        const MD_BLOCK_CODE_DETAIL *d = detail;
        put(r, "<pre><code");
        if (d->lang.text && d->lang.size > 0 && d->lang.size < 32) {
            bool ok = true;
            for (MD_SIZE i = 0; i < d->lang.size; i++) {
                char ch = d->lang.text[i];
                if (!isalnum((unsigned char)ch) && ch != '-' && ch != '_' && ch != '+')
                    ok = false;
            }
            if (ok)
                buf_printf(&r->html, " class=\"language-%.*s\"", (int)d->lang.size, d->lang.text);
        }
        put(r, ">");
        break;
    }
    case MD_BLOCK_HTML: /* not produced with MD_FLAG_NOHTML; text is escaped anyway */
        break;
    case MD_BLOCK_P:
        put(r, "<p>");
        break;
    case MD_BLOCK_TABLE:
        put(r, "<table>\n");
        break;
    case MD_BLOCK_THEAD:
        put(r, "<thead>\n");
        break;
    case MD_BLOCK_TBODY:
        put(r, "<tbody>\n");
        break;
    case MD_BLOCK_TR:
        put(r, "<tr>");
        break;
    case MD_BLOCK_TH:
        put(r, "<th>");
        break;
    case MD_BLOCK_TD:
        put(r, "<td>");
        break;
    }
    return r->st == ST_OK ? 0 : 1;
}

static int leave_block(MD_BLOCKTYPE type, void *detail, void *arg)
{
    struct render *r = arg;
    close_spans(r, 0); /* as in enter_block */
    r->skipped = 0;
    switch (type) {
    case MD_BLOCK_DOC:
    case MD_BLOCK_HR:
    case MD_BLOCK_HTML:
        break;
    case MD_BLOCK_QUOTE:
        put(r, "</blockquote>\n");
        break;
    case MD_BLOCK_UL:
        put(r, "</ul>\n");
        break;
    case MD_BLOCK_OL:
        put(r, "</ol>\n");
        break;
    case MD_BLOCK_LI:
        put(r, "</li>\n");
        break;
    case MD_BLOCK_H: {
        const MD_BLOCK_H_DETAIL *d = detail;
        buf_printf(&r->html, "</h%u>\n", d->level);
        break;
    }
    case MD_BLOCK_CODE:
        put(r, "</code></pre>\n");
        break;
    case MD_BLOCK_P:
        put(r, "</p>\n");
        break;
    case MD_BLOCK_TABLE:
        put(r, "</table>\n");
        break;
    case MD_BLOCK_THEAD:
        put(r, "</thead>\n");
        break;
    case MD_BLOCK_TBODY:
        put(r, "</tbody>\n");
        break;
    case MD_BLOCK_TR:
        put(r, "</tr>\n");
        break;
    case MD_BLOCK_TH:
        put(r, "</th>");
        break;
    case MD_BLOCK_TD:
        put(r, "</td>");
        break;
    }
    text_nl(r);
    return r->st == ST_OK ? 0 : 1;
}

/* The tag name of an inline span the renderer writes; NULL for the others
 * (images are handled apart, LaTeX and wiki links are not enabled). */
static const char *span_tag(MD_SPANTYPE type)
{
    switch (type) {
    case MD_SPAN_EM:
        return "em";
    case MD_SPAN_STRONG:
        return "strong";
    case MD_SPAN_CODE:
        return "code";
    case MD_SPAN_DEL:
        return "del";
    case MD_SPAN_U:
        return "u";
    case MD_SPAN_A:
        return "a";
    default:
        return NULL;
    }
}

/* Closes the open spans from the top down to index `to`. */
static void close_spans(struct render *r, int to)
{
    while (r->nspans > to) {
        const struct span *sp = &r->spans[--r->nspans];
        if (sp->emitted) {
            put(r, "</");
            put(r, span_tag(sp->type));
            put(r, ">");
        }
    }
}

static int enter_span(MD_SPANTYPE type, void *detail, void *arg)
{
    struct render *r = arg;
    if (r->img_depth > 0) { /* inside alt text: no markup */
        if (type == MD_SPAN_IMG)
            r->img_depth++;
        return 0;
    }
    if (type == MD_SPAN_IMG) {
        const MD_SPAN_IMG_DETAIL *d = detail;
        size_t mark = r->html.len;
        buf_puts(&r->html, "<img");
        if (put_url(r, "src", &d->src, false)) {
            put_title(r, &d->title);
            put(r, " loading=\"lazy\" alt=\"");
            r->img_alt = true;
        } else {
            buf_truncate(&r->html, mark);
            r->img_alt = false;
        }
        r->img_depth = 1;
        return r->st == ST_OK ? 0 : 1;
    }
    const char *tag = span_tag(type);
    if (!tag)
        return 0;
    if (r->nspans == MD_SPAN_NEST) {
        r->skipped++;
        return 0;
    }
    bool emitted = true;
    if (type == MD_SPAN_A) {
        const MD_SPAN_A_DETAIL *d = detail;
        size_t mark = r->html.len;
        buf_puts(&r->html, "<a");
        emitted = put_url(r, "href", &d->href, true);
        if (emitted) {
            put_title(r, &d->title);
            put(r, " rel=\"nofollow ugc noopener noreferrer\">");
        } else {
            buf_truncate(&r->html, mark);
        }
    } else {
        put(r, "<");
        put(r, tag);
        put(r, ">");
    }
    r->spans[r->nspans++] = (struct span){.type = type, .emitted = emitted};
    return r->st == ST_OK ? 0 : 1;
}

static int leave_span(MD_SPANTYPE type, void *detail, void *arg)
{
    (void)detail;
    struct render *r = arg;
    if (r->img_depth > 0) {
        /* Close the alt attribute; a refused image left its alt as text. */
        if (type == MD_SPAN_IMG && --r->img_depth == 0 && r->img_alt)
            put(r, "\">");
        return 0;
    }
    if (!span_tag(type))
        return 0;
    int k = r->nspans - 1;
    while (k >= 0 && r->spans[k].type != type)
        k--;
    if (k < 0) { /* opened past the cap, or never opened: nothing to write */
        if (r->skipped)
            r->skipped--;
        return 0;
    }
    close_spans(r, k); /* tags opened inside it close first */
    return r->st == ST_OK ? 0 : 1;
}

static int on_text(MD_TEXTTYPE type, const MD_CHAR *s, MD_SIZE n, void *arg)
{
    struct render *r = arg;
    switch (type) {
    case MD_TEXT_NULLCHAR:
        esc(&r->html, "\xEF\xBF\xBD", 3);
        buf_puts(&r->text, "\xEF\xBF\xBD");
        break;
    case MD_TEXT_BR:
        if (r->img_depth == 0)
            put(r, "<br>\n");
        buf_putc(&r->text, '\n');
        break;
    case MD_TEXT_SOFTBR:
        put(r, "\n");
        buf_putc(&r->text, '\n');
        break;
    case MD_TEXT_ENTITY: {
        char d[8];
        size_t dl;
        if (entity_decode(s, n, d, &dl)) {
            esc(&r->html, d, dl);
            buf_append(&r->text, d, dl);
        } else {
            /* A named entity we do not decode: shown as written. */
            esc(&r->html, s, n);
            buf_append(&r->text, s, n);
        }
        break;
    }
    default: /* NORMAL, CODE, HTML (escaped: raw HTML is off), LATEXMATH */
        esc(&r->html, s, n);
        buf_append(&r->text, s, n);
        break;
    }
    if (r->html.len >= MD_HTML_CAP)
        r->st = ST_TOOLARGE;
    return r->st == ST_OK ? 0 : 1;
}

enum st community_markdown(const char *md, size_t n, char **html, char **text)
{
    struct render r = {.st = ST_OK};
    buf_init(&r.html, MD_HTML_CAP * 2);
    buf_init(&r.text, MD_HTML_CAP);
    MD_PARSER p = {
        .abi_version = 0,
        .flags = MD_DIALECT_GITHUB | MD_FLAG_NOHTML,
        .enter_block = enter_block,
        .leave_block = leave_block,
        .enter_span = enter_span,
        .leave_span = leave_span,
        .text = on_text,
    };
    int rc = md_parse(md, (MD_SIZE)n, &p, &r);
    enum st st = r.st != ST_OK ? r.st : rc != 0 ? ST_INTERNAL : ST_OK;
    if (st == ST_OK && r.html.len > MD_HTML_CAP)
        st = ST_TOOLARGE;
    if (st != ST_OK) {
        buf_free(&r.html);
        buf_free(&r.text);
        *html = NULL;
        if (text)
            *text = NULL;
        return st;
    }
    /* Trailing newlines of the plain text go. */
    while (r.text.len && r.text.data[r.text.len - 1] == '\n')
        buf_truncate(&r.text, r.text.len - 1);
    *html = buf_take(&r.html);
    if (text)
        *text = buf_take(&r.text);
    buf_free(&r.text);
    return ST_OK;
}
