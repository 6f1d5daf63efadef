/*
 * router.c — the route table and path matching.
 *
 * Routes are registered as static tables before the server starts and are
 * immutable afterwards, so matching needs no lock. Matching walks the
 * pattern and the path segment by segment; a `{name}` segment captures one
 * non-empty segment. A path that matches some route but not the method
 * yields 405 with the Allow list, as RFC 9110 asks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

#define MAX_ROUTES 1024

static const struct route *routes[MAX_ROUTES];
static size_t nroutes;
static http_gate gate;
static bool exempt[MAX_ROUTES]; /* by http_gate_exempt, beside route.gate_exempt */

static bool pattern_ok(const char *p)
{
    if (p[0] != '/')
        return false;
    int params = 0;
    for (const char *s = p; *s; s++) {
        if (*s == '{') {
            const char *e = strchr(s, '}');
            if (!e || e == s + 1 || s[-1] != '/' || (e[1] != '/' && e[1] != '\0'))
                return false;
            params++;
            s = e;
        }
    }
    return params <= CAP_PATH_PARAMS;
}

void http_routes_add(const struct route *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct route *r = &table[i];
        if (nroutes == MAX_ROUTES)
            die("too many routes");
        if (!r->method || !r->pattern || !r->handler || !pattern_ok(r->pattern))
            die("malformed route %s %s", r->method ? r->method : "?",
                r->pattern ? r->pattern : "?");
        if (r->policy == POLICY_UNSET)
            die("route %s %s declares no policy", r->method, r->pattern);
        routes[nroutes++] = r;
    }
}

const struct route *http_route_at(size_t i)
{
    return i < nroutes ? routes[i] : NULL;
}

size_t http_route_count(void)
{
    return nroutes;
}

void http_set_gate(http_gate fn)
{
    gate = fn;
}

void http_gate_exempt(const char *method, const char *pattern)
{
    for (size_t i = 0; i < nroutes; i++)
        if (strcmp(routes[i]->method, method) == 0 && strcmp(routes[i]->pattern, pattern) == 0) {
            exempt[i] = true;
            return;
        }
    die("gate exemption for %s %s: no such route", method, pattern);
}

enum st router_gate(struct http_req *req, const char **problem)
{
    int i = req->route_idx;
    if (!gate || i < 0 || (size_t)i >= nroutes || routes[i]->gate_exempt || exempt[i])
        return ST_OK;
    return gate(req, problem);
}

const char *route_label(int idx)
{
    return idx >= 0 && (size_t)idx < nroutes ? routes[idx]->pattern : "(none)";
}

bool http_path_match(const char *pattern, const char *path, const char **names, char **values,
                     size_t *nparams)
{
    size_t np = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return false;
        p++, s++;
        const char *pe = strchrnul(p, '/');
        const char *se = strchrnul(s, '/');
        if (*p == '{') {
            if (se == s || np == CAP_PATH_PARAMS)
                goto fail; /* frees what was captured so far */
            if (names && values) {
                names[np] = p + 1; /* points into the pattern; ends at '}' */
                values[np] = xstrndup(s, (size_t)(se - s));
            }
            np++;
        } else if (pe - p != se - s || memcmp(p, s, (size_t)(pe - p)) != 0) {
            goto fail;
        }
        p = pe, s = se;
    }
    if (*p || *s)
        goto fail;
    if (nparams)
        *nparams = np;
    return true;
fail:
    if (names && values)
        for (size_t i = 0; i < np; i++) {
            free(values[i]);
            values[i] = NULL;
        }
    return false;
}

/* Finds the route for method + path. On success fills req's params and
 * returns its index. Otherwise returns -1; *path_known tells whether some
 * route has this path (then allow lists its methods, for 405). */
int router_find(const char *method, const char *path, struct http_req *req, char *allow,
                size_t allowlen, bool *path_known)
{
    bool head = strcmp(method, "HEAD") == 0;
    size_t alen = 0;
    *path_known = false;
    if (allowlen)
        allow[0] = '\0';
    for (size_t i = 0; i < nroutes; i++) {
        const struct route *r = routes[i];
        if (r->policy == POLICY_TEST_ONLY && !req->srv->opt.test_mode)
            continue;
        size_t np = 0;
        if (!http_path_match(r->pattern, path, NULL, NULL, &np))
            continue;
        bool same = strcmp(r->method, method) == 0 || (head && strcmp(r->method, "GET") == 0);
        if (same) {
            http_path_match(r->pattern, path, req->param_names, req->param_values, &req->nparams);
            return (int)i;
        }
        *path_known = true;
        if (!strstr(allow, r->method)) {
            int w = snprintf(allow + alen, allowlen - alen, "%s%s", alen ? ", " : "", r->method);
            if (w > 0 && (size_t)w < allowlen - alen)
                alen += (size_t)w;
            if (strcmp(r->method, "GET") == 0 && !strstr(allow, "HEAD")) {
                w = snprintf(allow + alen, allowlen - alen, ", HEAD");
                if (w > 0 && (size_t)w < allowlen - alen)
                    alen += (size_t)w;
            }
        }
    }
    return -1;
}
