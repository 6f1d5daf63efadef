/*
 * db_fmt.c — binding by a format string and the few ways of running a
 * statement every module needs (db.h documents the letters). Built only on
 * the public db.h calls, so both backends behave alike.
 */
#include <stdarg.h>

#include "db.h"

enum st db_bindf_v(struct db_stmt *s, const char *fmt, va_list ap)
{
    enum st st = ST_OK;
    int idx = 1;
    for (const char *f = fmt; f && *f && st == ST_OK; f++, idx++) {
        switch (*f) {
        case 'i':
            st = db_bind_int64(s, idx, va_arg(ap, int64_t));
            break;
        case 'I': {
            int64_t v = va_arg(ap, int64_t);
            st = v ? db_bind_int64(s, idx, v) : db_bind_null(s, idx);
            break;
        }
        case 't': {
            const char *v = va_arg(ap, const char *);
            st = v ? db_bind_text(s, idx, v, SIZE_MAX) : db_bind_null(s, idx);
            break;
        }
        case 'b': {
            const void *v = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            st = v ? db_bind_blob(s, idx, v, n) : db_bind_null(s, idx);
            break;
        }
        case 'n':
            st = db_bind_null(s, idx);
            break;
        default:
            return ST_INTERNAL;
        }
    }
    return st;
}

enum st db_queryf_v(struct db_conn *c, struct db_stmt **s, bool *row, const char *sql,
                    const char *fmt, va_list ap)
{
    *row = false;
    enum st st = db_prepare(c, sql, s);
    if (st != ST_OK) {
        *s = NULL;
        return st;
    }
    st = db_bindf_v(*s, fmt, ap);
    if (st == ST_OK)
        st = db_step(*s, row);
    return st;
}

enum st db_queryf(struct db_conn *c, struct db_stmt **s, bool *row, const char *sql,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum st st = db_queryf_v(c, s, row, sql, fmt, ap);
    va_end(ap);
    return st;
}

/* Runs to the end; *first (may be NULL) gets column 0 of the first row, and
 * with need_row a statement without rows is ST_NOTFOUND. */
static enum st run_v(struct db_conn *c, int64_t *changes, int64_t *first, bool need_row,
                     const char *sql, const char *fmt, va_list ap)
{
    struct db_stmt *s;
    bool row;
    enum st st = db_queryf_v(c, &s, &row, sql, fmt, ap);
    if (st == ST_OK && need_row && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK && row && first)
        *first = db_col_int64(s, 0);
    while (st == ST_OK && row)
        st = db_step(s, &row);
    if (st == ST_OK && changes)
        *changes = db_changes(s);
    if (s)
        db_stmt_done(s);
    return st;
}

enum st db_execf(struct db_conn *c, int64_t *changes, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum st st = run_v(c, changes, NULL, false, sql, fmt, ap);
    va_end(ap);
    return st;
}

enum st db_runf(struct db_conn *c, int64_t *changes, int64_t *first, const char *sql,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum st st = run_v(c, changes, first, false, sql, fmt, ap);
    va_end(ap);
    return st;
}

enum st db_query_int64f(struct db_conn *c, int64_t *out, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum st st = run_v(c, NULL, out, true, sql, fmt, ap);
    va_end(ap);
    return st;
}

enum st db_rowsf_v(struct db_conn *c, db_row_fn fn, void *ctx, const char *sql, const char *fmt,
                   va_list ap)
{
    struct db_stmt *s;
    bool row;
    enum st st = db_queryf_v(c, &s, &row, sql, fmt, ap);
    while (st == ST_OK && row) {
        st = fn(s, ctx);
        if (st == ST_OK)
            st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    return st;
}

enum st db_rowsf(struct db_conn *c, db_row_fn fn, void *ctx, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum st st = db_rowsf_v(c, fn, ctx, sql, fmt, ap);
    va_end(ap);
    return st;
}
