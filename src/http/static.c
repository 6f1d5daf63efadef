/*
 * static.c — the web app's files (web/dist), served from memory.
 *
 * The directory is read once at start-up into a sorted table; requests are
 * answered by exact lookup in that table, never by opening a path built
 * from the URL, so no request can reach a file outside it (no traversal,
 * no symlinks followed). Hashed assets are cached for a year; everything
 * else revalidates with its ETag. Unknown paths that look like app routes
 * get index.html, so deep links work (SPA fallback).
 *
 * Some app paths are rendered by the server first (page routes, e.g. a
 * community topic at /t/{id}): the same index.html, with the page's title,
 * description, canonical link and text poured in (http_resp_page), so the
 * page reads without JavaScript and crawlers index it; the app replaces
 * that markup when it starts.
 */
#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "http_int.h"

struct static_file {
    char *path; /* "/index.html" */
    char *data;
    size_t len;
    const char *type;
    char etag[40];
    bool immutable;
};

struct static_cache {
    struct static_file *files;
    size_t n, alloc;
    const struct static_file *index;
};

static const char *mime_of(const char *path)
{
    static const struct {
        const char *ext, *type;
    } map[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".webp", "image/webp"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
        {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(dot, map[i].ext) == 0)
            return map[i].type;
    return "application/octet-stream";
}

static void add_file(struct static_cache *c, const char *rel, const char *full)
{
    char *data;
    size_t len;
    if (file_read_all(full, CAP_STATIC_FILE, &data, &len) != ST_OK) {
        log_warnf("static: skipping %s", full);
        return;
    }
    if (c->n == c->alloc) {
        c->alloc = c->alloc ? c->alloc * 2 : 32;
        c->files = xrealloc(c->files, c->alloc * sizeof *c->files);
    }
    struct static_file *f = &c->files[c->n++];
    f->path = xstrdup(rel);
    f->data = data;
    f->len = len;
    f->type = mime_of(rel);
    f->immutable = strncmp(rel, "/assets/", 8) == 0;
    unsigned char h[16];
    crypto_generichash(h, sizeof h, (const unsigned char *)data, len, NULL, 0);
    f->etag[0] = '"';
    sodium_bin2hex(f->etag + 1, sizeof f->etag - 2, h, sizeof h);
    size_t el = strlen(f->etag); /* 1 + 32: room for the closing quote and NUL */
    f->etag[el] = '"';
    f->etag[el + 1] = '\0';
}

static void walk(struct static_cache *c, const char *root, const char *rel, int depth)
{
    if (depth > 8)
        return;
    char *dir = xasprintf("%s%s", root, rel);
    DIR *d = opendir(dir);
    free(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *r = xasprintf("%s/%s", rel, e->d_name);
        char *full = xasprintf("%s%s", root, r);
        struct stat st;
        if (lstat(full, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                walk(c, root, r, depth + 1);
            else if (S_ISREG(st.st_mode))
                add_file(c, r, full);
        }
        free(r);
        free(full);
    }
    closedir(d);
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const struct static_file *)a)->path, ((const struct static_file *)b)->path);
}

static const struct static_file *lookup(const struct static_cache *c, const char *path)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(path, c->files[mid].path);
        if (d == 0)
            return &c->files[mid];
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

struct static_cache *static_cache_load(const char *dir)
{
    struct static_cache *c = xcalloc(1, sizeof *c);
    if (dir && *dir)
        walk(c, dir, "", 0);
    qsort(c->files, c->n, sizeof *c->files, cmp_file);
    c->index = lookup(c, "/index.html");
    log_infof("static: %zu files from %s%s", c->n, dir && *dir ? dir : "(none)",
              c->index ? "" : " (no index.html)");
    return c;
}

void static_cache_free(struct static_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->files[i].path);
        free(c->files[i].data);
    }
    free(c->files);
    free(c);
}

static bool etag_matches(const char *inm, const char *etag)
{
    if (!inm)
        return false;
    if (strcmp(inm, "*") == 0)
        return true;
    return strstr(inm, etag) != NULL;
}

/* ---------------------------------------------------------------- page routes */

#define MAX_PAGES 64

/* Registered before the server starts, read-only afterwards: no lock. */
static const struct http_page_route *pages[MAX_PAGES];
static size_t npages;

void http_pages_add(const struct http_page_route *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (npages == MAX_PAGES)
            die("too many page routes");
        if (!table[i].pattern || table[i].pattern[0] != '/' || !table[i].handler)
            die("malformed page route %s", table[i].pattern ? table[i].pattern : "?");
        pages[npages++] = &table[i];
    }
}

/* Answers a GET or HEAD of a page route; false when none matches. */
static bool page_serve(struct http_req *req, struct http_resp *resp)
{
    for (size_t i = 0; i < npages; i++) {
        if (!http_path_match(pages[i]->pattern, req->path, req->param_names, req->param_values,
                             &req->nparams))
            continue;
        enum st st = pages[i]->handler(req, resp);
        if (st != ST_OK) {
            if (st == ST_INTERNAL || st == ST_UNAVAILABLE)
                log_kv(LOG_ERROR, "request failed", "page", pages[i]->pattern, "status",
                       st_name(st), (const char *)NULL);
            problem_for_status(req, resp, st);
            resp->is_html = false;
        }
        return true;
    }
    return false;
}

bool static_serve(struct static_cache *c, struct http_req *req, struct http_resp *resp)
{
    const char *path = req->path;
    if ((strcmp(req->method, "GET") == 0 || req->is_head) && page_serve(req, resp))
        return true;
    if (!c || c->n == 0)
        return false;
    const struct static_file *f = lookup(c, strcmp(path, "/") == 0 ? "/index.html" : path);
    if (!f) {
        /* A missing asset or file-like path is a real 404; anything else is
         * an app route for the SPA to resolve. */
        const char *last = strrchr(path, '/');
        if (strncmp(path, "/assets/", 8) == 0 || (last && strchr(last, '.')) || !c->index)
            return false;
        f = c->index;
    }
    resp->is_html = strncmp(f->type, "text/html", 9) == 0;
    http_resp_header(resp, "ETag", f->etag);
    http_resp_header(resp, "Cache-Control",
                     f->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    if (etag_matches(http_req_header(req, "If-None-Match"), f->etag)) {
        resp->status = 304;
        return true;
    }
    resp->status = 200;
    resp->content_type = xstrdup(f->type);
    resp->persistent = f->data;
    resp->body_len = f->len;
    return true;
}

/* ---------------------------------------------------------------- server-rendered pages */

/* The shell of a page when the server runs without the web app (no
 * static directory): the same landmarks, nothing to hydrate. */
static const char SHELL_FALLBACK[] =
    "<!doctype html>\n<html lang=\"en\">\n  <head>\n    <meta charset=\"utf-8\" />\n"
    "    <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n"
    "    <title>entrepot</title>\n  </head>\n  <body>\n    <div id=\"app\"></div>\n  </body>\n"
    "</html>\n";

/* Text or an attribute value, escaped. */
static void put_escaped(struct buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
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
        default:
            buf_putc(b, *s);
        }
    }
}

/* The first occurrence of needle in hay[from..end), or NULL. */
static const char *find(const char *hay, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; p && p + n <= end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p));
        if (!p || p + n > end)
            return NULL;
        if (memcmp(p, needle, n) == 0)
            return p;
    }
    return NULL;
}

/* One tag of <head>, indented like the shell's own: <tag attr="name"
 * content="value" />. */
static void head_tag(struct buf *b, const char *tag, const char *attr, const char *name,
                     const char *value_attr, const char *value)
{
    buf_printf(b, "  <%s %s=\"%s\" %s=\"", tag, attr, name, value_attr);
    put_escaped(b, value);
    buf_puts(b, "\" />\n  ");
}

/* The canonical link and the Open Graph basics. */
static void page_meta(struct buf *b, struct http_req *req, const struct http_page *page)
{
    const char *base = config_str("public_url");
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    char *url = page->canonical ? xasprintf("%.*s%s", (int)bl, base, page->canonical) : NULL;
    if (page->description)
        head_tag(b, "meta", "name", "description", "content", page->description);
    if (url)
        head_tag(b, "link", "rel", "canonical", "href", url);
    head_tag(b, "meta", "property", "og:site_name", "content", i18n_get(req->lang, "app.name"));
    head_tag(b, "meta", "property", "og:type", "content",
             page->og_type ? page->og_type : "website");
    head_tag(b, "meta", "property", "og:title", "content", page->title);
    if (page->description)
        head_tag(b, "meta", "property", "og:description", "content", page->description);
    if (url && bl > 0) /* og:url must be absolute: only with public_url */
        head_tag(b, "meta", "property", "og:url", "content", url);
    free(url);
}

/* One change to the shell: bytes [at, end) give way to a piece. */
enum piece { P_LANG, P_TITLE, P_DESC, P_HEAD, P_APP, P_NOSCRIPT };
struct edit {
    size_t at, end;
    enum piece what;
};

static int cmp_edit(const void *a, const void *b)
{
    size_t x = ((const struct edit *)a)->at, y = ((const struct edit *)b)->at;
    return x < y ? -1 : x > y;
}

/* Finds open...close in the shell and records the edit of [open, past
 * close) — or, inside, of the bytes between them. Without close: an
 * insertion before open (or, inside, after it). */
static bool locate(const char *shell, size_t len, const char *open, const char *close, bool inside,
                   enum piece what, struct edit *e)
{
    const char *end = shell + len, *o = find(shell, end, open);
    const char *c = o && close ? find(o + strlen(open), end, close) : o;
    if (!o || !c)
        return false;
    e->what = what;
    e->at = (size_t)(o - shell) + (inside ? strlen(open) : 0);
    e->end = !close ? e->at : (size_t)(c - shell) + (inside ? 0 : strlen(close));
    return true;
}

/* The shell with the page poured in: <html lang>, <title>, the meta
 * description, canonical link and Open Graph tags, and the body inside
 * <div id="app"> (which the app replaces when it starts). The <noscript>
 * notice goes: this page reads without JavaScript. Every other byte of
 * the shell is copied as it is. ST_INVALID for a shell without </head> or
 * <div id="app">. */
static enum st page_fill(struct buf *b, struct http_req *req, const char *shell, size_t len,
                         const struct http_page *page)
{
    struct edit e[6];
    size_t n = 0;
    n += locate(shell, len, "<html lang=\"", "\"", true, P_LANG, &e[n]);
    n += locate(shell, len, "<title>", "</title>", false, P_TITLE, &e[n]);
    if (page->description) /* the shell's own gives way to the page's */
        n += locate(shell, len, "<meta name=\"description\"", ">", false, P_DESC, &e[n]);
    if (!locate(shell, len, "</head>", NULL, false, P_HEAD, &e[n++]) ||
        !locate(shell, len, "<div id=\"app\">", NULL, true, P_APP, &e[n++]))
        return ST_INVALID;
    n += locate(shell, len, "<noscript>", "</noscript>", false, P_NOSCRIPT, &e[n]);
    qsort(e, n, sizeof e[0], cmp_edit);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].at < pos) /* overlapping pieces: a strange shell; leave it be */
            continue;
        buf_append(b, shell + pos, e[i].at - pos);
        pos = e[i].end;
        switch (e[i].what) {
        case P_LANG:
            put_escaped(b, req->lang);
            break;
        case P_TITLE:
            buf_puts(b, "<title>");
            put_escaped(b, page->title);
            buf_puts(b, "</title>");
            break;
        case P_HEAD:
            page_meta(b, req, page);
            break;
        case P_APP:
            buf_append(b, page->body, page->body_len);
            break;
        case P_DESC:
        case P_NOSCRIPT:
            break;
        }
    }
    buf_append(b, shell + pos, len - pos);
    return ST_OK;
}

enum st http_resp_page(struct http_req *req, struct http_resp *resp, unsigned status,
                       const struct http_page *page)
{
    const struct static_cache *c = req->srv ? req->srv->statics : NULL;
    const char *shell = SHELL_FALLBACK;
    size_t len = sizeof SHELL_FALLBACK - 1;
    if (c && c->index) {
        shell = c->index->data;
        len = c->index->len;
    }
    /* Escaping makes text at most six times longer; each text goes in at
     * most three times. Within this bound no append below can fail. */
    size_t texts = strlen(page->title) + (page->description ? strlen(page->description) : 0) +
                   (page->canonical ? strlen(page->canonical) : 0) +
                   strlen(config_str("public_url")) + 256;
    if (page->body_len > CAP_HTML_PAGE || texts > CAP_HTML_PAGE / 18 ||
        len + sizeof SHELL_FALLBACK + page->body_len + 18 * texts + 1024 > CAP_HTML_PAGE)
        return ST_TOOLARGE;
    struct buf b;
    buf_init(&b, CAP_HTML_PAGE);
    enum st st = page_fill(&b, req, shell, len, page);
    if (st == ST_INVALID) { /* a shell without <head> or #app: ours has both */
        buf_reset(&b);
        st = page_fill(&b, req, SHELL_FALLBACK, sizeof SHELL_FALLBACK - 1, page);
    }
    if (st == ST_OK) {
        resp->status = status;
        free(resp->content_type);
        free(resp->body);
        resp->content_type = xstrdup("text/html; charset=utf-8");
        resp->body_len = b.len;
        resp->body = buf_take(&b);
        resp->is_html = true;
    }
    buf_free(&b);
    return st;
}
