/*
 * alloc.c — allocation helpers that never return NULL, and die().
 *
 * Running out of memory is not a condition the server can handle well at
 * every call site, so the x* functions abort() on failure (leaving a core
 * dump to study) and callers never check for NULL. Zero-byte requests are
 * rounded up to one byte so a successful call never returns NULL either.
 * die() is different: it is for fatal start-up errors a user can fix, so it
 * prints a message and exits with status 1 rather than aborting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

NORETURN static void oom(size_t n)
{
    /* fprintf may itself need memory; a fixed message through stdio is the
     * best we can do and abort() follows regardless. */
    fprintf(stderr, "entrepot: out of memory (%zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    if (count == 0 || size == 0)
        count = size = 1;
    void *p = calloc(count, size);
    if (!p)
        oom(size > 0 && count > SIZE_MAX / size ? SIZE_MAX : count * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    /* realloc(p, 0) may free p and return NULL: never ask for 0 bytes. */
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

void xfree(void *p)
{
    free(p);
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *p = xmalloc(n + 1);
    memcpy(p, s, n + 1);
    return p;
}

char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        /* Only an invalid format (a bug) gets here. */
        fprintf(stderr, "entrepot: xasprintf: bad format \"%s\"\n", fmt);
        abort();
    }
    char *p = xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void die(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "entrepot: %s\n", msg);
    fflush(stderr);
    exit(1);
}
