/*
 * fuzz_markdown.c — community_markdown, the Markdown → sanitised HTML (and
 * plain text for the search index) renderer of every post.
 *
 * The input is the Markdown source, cut at its first NUL: every caller
 * passes strlen(md). Posts reach the renderer as valid UTF-8 (jansson
 * decoded the request body), so the UTF-8 properties below are checked
 * for such input; every other property holds for any bytes.
 *
 * Properties: the status is ST_OK or ST_TOOLARGE (html and text NULL
 * then); rendering twice gives the same bytes, with or without the text.
 * The HTML, whatever the input, is read by a strict scanner written here
 * from the renderer's contract (markdown.c's header): every '<' opens a
 * well-formed tag (`<name( attr="value")*>` or `</name>`) whose name is on
 * the allow-list (blockquote ul ol li hr h1-h6 pre code p table thead
 * tbody tr th td em strong del u a img br), whose attributes are the ones
 * that tag may carry, each at most once and none an event handler (on…);
 * tags are properly nested and all closed; every '&' starts one of the
 * five escapes the renderer writes and no '>' stands outside a tag (so no
 * "<script", no raw HTML). Attribute values: `start` decimal, `class`
 * "language-" plus [A-Za-z0-9_+-], `rel` and `loading` their one value;
 * href/src, entity-decoded, are non-empty, hold no control character or
 * space (nothing a browser would strip to reveal a scheme), never start
 * with javascript:, vbscript: or data: (any case), and have no scheme but
 * http, https and (href only) mailto. Valid UTF-8 in gives valid UTF-8
 * out, in both the HTML and the text. ASan: no leaks.
 */
#include <ctype.h>
#include <strings.h>

#include "community/community.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

/* The renderer's allow-list (markdown.c) and the attributes of each tag. */
static const struct tag_rule {
    const char *name;
    bool is_void;
    const char *attrs[5];
} tag_rules[] = {
    {"blockquote", false, {NULL}},
    {"ul", false, {NULL}},
    {"ol", false, {"start", NULL}},
    {"li", false, {NULL}},
    {"hr", true, {NULL}},
    {"h1", false, {NULL}},
    {"h2", false, {NULL}},
    {"h3", false, {NULL}},
    {"h4", false, {NULL}},
    {"h5", false, {NULL}},
    {"h6", false, {NULL}},
    {"pre", false, {NULL}},
    {"code", false, {"class", NULL}},
    {"p", false, {NULL}},
    {"table", false, {NULL}},
    {"thead", false, {NULL}},
    {"tbody", false, {NULL}},
    {"tr", false, {NULL}},
    {"th", false, {NULL}},
    {"td", false, {NULL}},
    {"em", false, {NULL}},
    {"strong", false, {NULL}},
    {"del", false, {NULL}},
    {"u", false, {NULL}},
    {"a", false, {"href", "title", "rel", NULL}},
    {"img", true, {"src", "title", "loading", "alt", NULL}},
    {"br", true, {NULL}},
};
#define N_RULES (sizeof tag_rules / sizeof tag_rules[0])

static const char *const escapes[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};

/* Length of the escape at s (one of the five), or 0. */
static size_t escape_at(const char *s, size_t n)
{
    for (size_t k = 0; k < 5; k++) {
        size_t l = strlen(escapes[k]);
        if (l <= n && memcmp(s, escapes[k], l) == 0)
            return l;
    }
    return 0;
}

/* Decodes an attribute value s[0..n) (only the five escapes can occur:
 * checked by the caller) into a fresh string. */
static char *attr_value(const char *s, size_t n)
{
    static const char plain[] = {'&', '<', '>', '"', '\''};
    char *v = malloc(n + 1);
    if (!v)
        abort();
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        size_t l = s[i] == '&' ? escape_at(s + i, n - i) : 0;
        if (l) {
            for (size_t k = 0; k < 5; k++)
                if (strlen(escapes[k]) == l && memcmp(s + i, escapes[k], l) == 0)
                    v[w++] = plain[k];
            i += l;
        } else {
            v[w++] = s[i++];
        }
    }
    v[w] = '\0';
    return v;
}

/* The checks of an href or src value (decoded). */
static void check_url(const char *tag, const char *attr, const char *v)
{
    /* No control byte or space at all (so nothing a browser would strip
     * or drop to reveal a scheme); the scheme is case-insensitive. */
    size_t n = strlen(v);
    char *u = malloc(n + 1);
    if (!u)
        abort();
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        FUZZ_CHECK(c > 0x20 && c != 0x7F, "<%s %s> holds control or space byte 0x%02X: \"%s\"", tag,
                   attr, c, v);
        u[w++] = (char)tolower(c);
    }
    u[w] = '\0';
    FUZZ_CHECK(w > 0, "<%s> with an empty %s", tag, attr);
    static const char *const bad[] = {"javascript:", "vbscript:", "data:"};
    for (size_t k = 0; k < 3; k++)
        FUZZ_CHECK(strncmp(u, bad[k], strlen(bad[k])) != 0, "<%s %s=\"%s\">: %s URL", tag, attr, v,
                   bad[k]);
    /* A scheme as the URL standard reads one: ALPHA *(ALPHA / DIGIT / + - .) ":". */
    size_t i = 0;
    if (isalpha((unsigned char)u[0])) {
        while (isalnum((unsigned char)u[i]) || u[i] == '+' || u[i] == '-' || u[i] == '.')
            i++;
        if (u[i] == ':') {
            bool ok = (i == 4 && memcmp(u, "http", 4) == 0) ||
                      (i == 5 && memcmp(u, "https", 5) == 0) ||
                      (i == 6 && memcmp(u, "mailto", 6) == 0 && strcmp(tag, "a") == 0);
            FUZZ_CHECK(ok, "<%s %s=\"%s\">: scheme \"%.*s\" not allowed", tag, attr, v, (int)i, u);
        }
    }
    free(u);
}

static void check_attr(const struct tag_rule *r, const char *attr, const char *v)
{
    if (strcmp(attr, "href") == 0 || strcmp(attr, "src") == 0) {
        check_url(r->name, attr, v);
    } else if (strcmp(attr, "start") == 0) {
        FUZZ_CHECK(v[0] && strspn(v, "0123456789") == strlen(v), "<ol start=\"%s\">", v);
    } else if (strcmp(attr, "class") == 0) {
        const char *l = v + strlen("language-");
        FUZZ_CHECK(
            strncmp(v, "language-", 9) == 0 && l[0] &&
                strspn(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-") ==
                    strlen(l),
            "<code class=\"%s\">", v);
    } else if (strcmp(attr, "rel") == 0) {
        FUZZ_CHECK(strcmp(v, "nofollow ugc noopener noreferrer") == 0, "<a rel=\"%s\">", v);
    } else if (strcmp(attr, "loading") == 0) {
        FUZZ_CHECK(strcmp(v, "lazy") == 0, "<img loading=\"%s\">", v);
    }
    /* title and alt: any text (escaping is checked by the scanner) */
}

/* Scans the tag at h[i] ('<'); returns the index after its '>'. Pushes or
 * pops the open-tag stack. */
static size_t scan_tag(const char *h, size_t n, size_t i, size_t *stack, size_t *depth)
{
    size_t at = i++;
    bool closing = i < n && h[i] == '/';
    if (closing)
        i++;
    size_t name0 = i;
    while (i < n && (islower((unsigned char)h[i]) || isdigit((unsigned char)h[i])))
        i++;
    size_t nl = i - name0;
    FUZZ_CHECK(nl > 0, "'<' without a tag name at byte %zu: \"%.40s\"", at, h + at);
    FUZZ_CHECK(!(nl >= 6 && strncasecmp(h + name0, "script", 6) == 0), "<script at byte %zu", at);
    size_t k = 0;
    while (k < N_RULES &&
           !(strlen(tag_rules[k].name) == nl && memcmp(tag_rules[k].name, h + name0, nl) == 0))
        k++;
    FUZZ_CHECK(k < N_RULES, "tag <%.*s> not on the allow-list", (int)nl, h + name0);
    const struct tag_rule *r = &tag_rules[k];
    if (closing) {
        FUZZ_CHECK(i < n && h[i] == '>', "malformed </%s> at byte %zu", r->name, at);
        FUZZ_CHECK(!r->is_void, "closing tag of void <%s>", r->name);
        FUZZ_CHECK(*depth > 0 && stack[*depth - 1] == k,
                   "</%s> at byte %zu closes %s, in \"%.300s\"", r->name, at,
                   *depth ? tag_rules[stack[*depth - 1]].name : "nothing", h);
        (*depth)--;
        return i + 1;
    }
    bool seen[5] = {false};
    while (i < n && h[i] == ' ') {
        i++;
        size_t a0 = i;
        while (i < n && islower((unsigned char)h[i]))
            i++;
        size_t al = i - a0;
        FUZZ_CHECK(al > 0, "malformed attribute in <%s> at byte %zu", r->name, at);
        FUZZ_CHECK(!(al >= 2 && strncasecmp(h + a0, "on", 2) == 0),
                   "event handler %.*s= in <%s> at byte %zu", (int)al, h + a0, r->name, at);
        size_t a = 0;
        while (r->attrs[a] && !(strlen(r->attrs[a]) == al && memcmp(r->attrs[a], h + a0, al) == 0))
            a++;
        FUZZ_CHECK(r->attrs[a], "attribute %.*s not allowed on <%s>", (int)al, h + a0, r->name);
        FUZZ_CHECK(!seen[a], "attribute %s twice on <%s>", r->attrs[a], r->name);
        seen[a] = true;
        FUZZ_CHECK(i + 1 < n && h[i] == '=' && h[i + 1] == '"', "%s without =\" on <%s>",
                   r->attrs[a], r->name);
        i += 2;
        size_t v0 = i;
        while (i < n && h[i] != '"') {
            FUZZ_CHECK(h[i] != '<' && h[i] != '>', "raw %c in %s of <%s>", h[i], r->attrs[a],
                       r->name);
            if (h[i] == '&')
                FUZZ_CHECK(escape_at(h + i, n - i), "bare & in %s of <%s>", r->attrs[a], r->name);
            i++;
        }
        FUZZ_CHECK(i < n, "unterminated %s in <%s>", r->attrs[a], r->name);
        char *v = attr_value(h + v0, i - v0);
        check_attr(r, r->attrs[a], v);
        free(v);
        i++; /* the closing quote */
    }
    FUZZ_CHECK(i < n && h[i] == '>', "malformed <%s> at byte %zu: \"%.60s\"", r->name, at, h + at);
    if (strcmp(r->name, "a") == 0)
        FUZZ_CHECK(seen[0] && seen[2], "<a> without href or rel");
    if (strcmp(r->name, "img") == 0)
        FUZZ_CHECK(seen[0] && seen[2] && seen[3], "<img> without src, loading or alt");
    if (!r->is_void)
        stack[(*depth)++] = k;
    return i + 1;
}

static void check_html(const char *h)
{
    size_t n = strlen(h);
    size_t *stack = malloc((n / 2 + 1) * sizeof *stack);
    if (!stack)
        abort();
    size_t depth = 0;
    for (size_t i = 0; i < n;) {
        if (h[i] == '<') {
            i = scan_tag(h, n, i, stack, &depth);
            continue;
        }
        FUZZ_CHECK(h[i] != '>', "raw '>' outside a tag at byte %zu", i);
        if (h[i] == '&')
            FUZZ_CHECK(escape_at(h + i, n - i), "bare '&' at byte %zu: \"%.20s\"", i, h + i);
        i++;
    }
    FUZZ_CHECK(depth == 0, "%zu tags left open, innermost <%s>, in \"%.300s\"", depth,
               depth ? tag_rules[stack[depth - 1]].name : "", h);
    free(stack);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char *md = fuzz_cstr(data, n);
    n = strlen(md); /* as every caller: community_markdown(md, strlen(md), ...) */
    char *html = NULL, *text = NULL;
    enum st st = community_markdown(md, n, &html, &text);
    FUZZ_CHECK(st == ST_OK || st == ST_TOOLARGE, "status %s", st_name(st));
    if (st != ST_OK) {
        FUZZ_CHECK(!html && !text, "%s with output", st_name(st));
        free(md);
        return 0;
    }
    FUZZ_CHECK(html && text, "ST_OK without output");

    char *html2 = NULL, *text2 = NULL;
    FUZZ_CHECK(community_markdown(md, n, &html2, &text2) == ST_OK, "second rendering failed");
    FUZZ_CHECK(strcmp(html, html2) == 0, "HTML differs between two renderings");
    FUZZ_CHECK(strcmp(text, text2) == 0, "text differs between two renderings");
    free(html2);
    free(text2);
    /* text may be NULL: the HTML alone */
    FUZZ_CHECK(community_markdown(md, n, &html2, NULL) == ST_OK && strcmp(html, html2) == 0,
               "HTML differs without the text");
    free(html2);

    check_html(html); /* whatever the input */
    if (ref_utf8_valid((const unsigned char *)md, n, NULL)) {
        FUZZ_CHECK(ref_utf8_valid((const unsigned char *)html, strlen(html), NULL),
                   "HTML is not valid UTF-8");
        FUZZ_CHECK(ref_utf8_valid((const unsigned char *)text, strlen(text), NULL),
                   "text is not valid UTF-8");
        FUZZ_CHECK(utf8_valid(html, strlen(html)), "utf8_valid refuses the HTML");
    }
    free(html);
    free(text);
    free(md);
    return 0;
}
