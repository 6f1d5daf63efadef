/*
 * consent_util.c — the SQL plumbing of the consent files (binding by a
 * format string is the db layer's, consent_int.h): transactions' end, and the one
 * paging helper every "newest first" list of the privacy center uses, so
 * they all page the same way (an id cursor, never an offset: a list that
 * grows while it is read neither repeats nor skips rows).
 */
#include <string.h>

#include "consent_int.h"

int pc_lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (names[i] && strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

enum st pc_finish(struct db_conn *c, enum st st)
{
    if (st != ST_OK) {
        db_rollback(c);
        return st;
    }
    return db_commit(c);
}

json_t *pc_text(struct db_stmt *s, int col)
{
    return db_col_is_null(s, col) ? json_null() : json_string(db_col_text(s, col));
}

json_t *pc_intval(struct db_stmt *s, int col)
{
    return db_col_is_null(s, col) ? json_null() : json_integer(db_col_int64(s, col));
}

enum st pc_page(struct db_conn *c, const char *sql, int64_t user_id, int64_t before, int limit,
                pc_row_fn fn, json_t **out, int64_t *next)
{
    *out = NULL;
    *next = 0;
    if (user_id <= 0 || before < 0 || limit < 1 || limit > PRIVACY_LIST_MAX)
        return ST_INVALID;
    struct db_stmt *s;
    bool row;
    enum st st = pc_query(c, &s, &row, sql, "iii", user_id, before > 0 ? before : INT64_MAX,
                          (int64_t)limit + 1);
    json_t *a = json_array();
    int n = 0;
    int64_t last = 0;
    while (st == ST_OK && row) {
        if (n == limit) {
            *next = last;
            break;
        }
        last = db_col_int64(s, 0);
        json_array_append_new(a, fn(s));
        n++;
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    if (st != ST_OK) {
        json_decref(a);
        *next = 0;
        return st;
    }
    *out = a;
    return ST_OK;
}

json_t *pc_split(const char *list)
{
    json_t *a = json_array();
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n)
            json_array_append_new(a, json_stringn(p, n));
        p = e ? e + 1 : p + n;
    }
    return a;
}
