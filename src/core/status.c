/*
 * status.c — names of the status codes and the errno → status mapping.
 *
 * The names are stable identifiers (problem type URIs and logs use them), so
 * the table is indexed by the enum with designated initializers and a static
 * assertion keeps it in step with the enum: adding a status without a name
 * fails the build.
 */
#include <errno.h>

#include "core.h"

static const char *const st_names[] = {
    [ST_OK] = "ok",
    [ST_INVALID] = "invalid",
    [ST_NOTFOUND] = "not-found",
    [ST_CONFLICT] = "conflict",
    [ST_FORBIDDEN] = "forbidden",
    [ST_UNAUTHORIZED] = "unauthorized",
    [ST_RATELIMIT] = "rate-limited",
    [ST_TOOLARGE] = "too-large",
    [ST_UNSUPPORTED] = "unsupported-media-type",
    [ST_UNPROCESSABLE] = "unprocessable",
    [ST_UNAVAILABLE] = "unavailable",
    [ST_INTERNAL] = "internal",
};

_Static_assert(sizeof st_names / sizeof st_names[0] == ST__COUNT, "a status has no name");

const char *st_name(enum st s)
{
    /* An out-of-range value can only come from a bug; "internal" is the
     * honest answer to show a client. */
    if ((unsigned)s >= ST__COUNT || !st_names[s])
        return "internal";
    return st_names[s];
}

enum st st_from_errno(int err)
{
    switch (err) {
    case 0:
        return ST_OK;
    case ENOENT:
    case ENOTDIR:
        return ST_NOTFOUND;
    case EACCES:
    case EPERM:
    case EROFS:
        return ST_FORBIDDEN;
    case EEXIST:
        return ST_CONFLICT;
    case EFBIG:
        return ST_TOOLARGE;
    case ENOSPC:
    case EDQUOT:
    case EMFILE:
    case ENFILE:
        return ST_UNAVAILABLE;
    default:
        return ST_INTERNAL;
    }
}
