/*
 * static.c — the web app's files (web/dist), served from memory.
 *
 * The directory is read once at start-up into a sorted table; requests are
 * answered by exact lookup in that table, never by opening a path built
 * from the URL, so no request can reach a file outside it (no traversal,
 * no symlinks followed). Hashed assets are cached for a year; everything
 * else revalidates with its ETag. Unknown paths that look like app routes
 * get index.html, so deep links work (SPA fallback).
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

bool static_serve(struct static_cache *c, struct http_req *req, struct http_resp *resp)
{
    const char *path = req->path;
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
