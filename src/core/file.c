/*
 * file.c — whole-file reads, mkdir -p and crash-safe writes.
 *
 * The decision that matters is in file_write_atomic: data goes to a fresh
 * temporary file in the same directory, which is given its mode, fsync'd
 * and renamed over the target, and then the directory itself is fsync'd.
 * A crash at any point leaves either the old file or the new one, never a
 * torn mix, and never a key file that was briefly world-readable (the mode
 * is set before any byte is written). file_read_all reads a regular file
 * into a single allocation sized from fstat, so secrets such as key files
 * are not left behind in freed, reallocated blocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "fault.h"

/* Returns st_from_errno(errno) with errno left as it was. */
static enum st fail_errno(void)
{
    return st_from_errno(errno);
}

/* write(2) and fsync(2), where a fault-injection build (fault.h) can fail
 * the Nth call as EIO or ENOSPC. */
static bool injected(const char *what)
{
    enum fault_kind k = fault_hit(FAULT_FILE, what);
    if (k == FAULT_NONE)
        return false;
    errno = k == FAULT_FULL ? ENOSPC : EIO;
    return true;
}

static ssize_t write_hooked(int fd, const void *p, size_t n)
{
    return injected("file write") ? -1 : write(fd, p, n);
}

static int fsync_hooked(int fd)
{
    return injected("file fsync") ? -1 : fsync(fd);
}

enum st file_read_all(const char *path, size_t cap, char **out, size_t *len)
{
    *out = NULL;
    if (len)
        *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno();

    struct buf b;
    buf_init(&b, cap);
    struct stat sb;
    enum st s = ST_OK;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
        if ((uint64_t)sb.st_size > cap)
            s = ST_TOOLARGE;
        else
            buf_reserve(&b, (size_t)sb.st_size);
    }
    while (s == ST_OK) {
        ssize_t r;
        if (b.alloc > b.len + 1) {
            r = read(fd, b.data + b.len, b.alloc - 1 - b.len);
            if (r > 0) {
                b.len += (size_t)r;
                b.data[b.len] = '\0';
            }
        } else {
            /* The buffer is full (or not yet allocated): read one byte
             * before growing, so a file whose size fstat told us, or one
             * that ends exactly at the cap, needs no further allocation. */
            char probe;
            r = read(fd, &probe, 1);
            if (r > 0 && (s = buf_append(&b, &probe, 1)) == ST_OK) {
                size_t room = b.cap - b.len;
                buf_reserve(&b, room < 16384 ? room : 16384);
            }
        }
        if (r == 0)
            break;
        if (r < 0 && errno != EINTR)
            s = fail_errno();
    }
    int saved = errno;
    close(fd);
    errno = saved;
    if (s != ST_OK) {
        buf_free(&b);
        return s;
    }
    if (len)
        *len = b.len;
    *out = buf_take(&b);
    return ST_OK;
}

static enum st mkdir_one(const char *path, unsigned mode)
{
    if (mkdir(path, (mode_t)mode) == 0)
        return ST_OK;
    int e = errno;
    struct stat sb;
    if (e == EEXIST) {
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            return ST_OK;
        errno = ENOTDIR;
        return ST_INVALID;
    }
    errno = e;
    return st_from_errno(e);
}

enum st file_mkdirs(const char *dir, unsigned mode)
{
    if (!dir || !*dir)
        return ST_INVALID;
    char *p = xstrdup(dir);
    enum st s = ST_OK;
    /* Create each ancestor in turn; "a//b" and a trailing '/' are fine
     * because mkdir("a/") works and an existing directory is success. */
    for (char *c = p + 1; *c && s == ST_OK; c++) {
        if (*c != '/' || c[-1] == '/')
            continue;
        *c = '\0';
        s = mkdir_one(p, mode);
        *c = '/';
    }
    if (s == ST_OK)
        s = mkdir_one(p, mode);
    int saved = errno;
    xfree(p);
    errno = saved;
    return s;
}

/* fsyncs the directory holding path, so a rename into it is durable. */
static int fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == path ? xstrdup("/")
                : slash       ? xstrndup(path, (size_t)(slash - path))
                              : xstrdup(".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    xfree(dir);
    if (fd < 0)
        return -1;
    int r = fsync_hooked(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return r;
}

enum st file_write_atomic(const char *path, const void *data, size_t n, unsigned mode)
{
    char *tmp = xasprintf("%s.tmp.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        enum st s = fail_errno();
        int saved = errno;
        xfree(tmp);
        errno = saved;
        return s;
    }
    enum st s = ST_OK;
    if (fchmod(fd, (mode_t)mode) != 0)
        s = fail_errno();
    const char *p = data;
    size_t left = n;
    while (s == ST_OK && left > 0) {
        ssize_t w = write_hooked(fd, p, left);
        if (w < 0) {
            if (errno != EINTR)
                s = fail_errno();
            continue;
        }
        p += w;
        left -= (size_t)w;
    }
    if (s == ST_OK && fsync_hooked(fd) != 0)
        s = fail_errno();
    /* close can report a deferred write error (NFS): it counts. */
    if (close(fd) != 0 && s == ST_OK)
        s = fail_errno();
    if (s == ST_OK && rename(tmp, path) != 0)
        s = fail_errno();
    if (s != ST_OK) {
        int saved = errno;
        unlink(tmp);
        xfree(tmp);
        errno = saved;
        return s;
    }
    xfree(tmp);
    if (fsync_parent(path) != 0)
        return fail_errno();
    return ST_OK;
}
