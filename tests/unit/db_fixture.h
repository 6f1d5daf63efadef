/*
 * db_fixture.h — fixture.h in the shape of a ready-made struct fx, plus
 * helpers that fail the test on any database error (fx_exec, fx_scalar).
 * Include after <cmocka.h>.
 */
#ifndef ENTREPOT_TEST_DB_FIXTURE_H
#define ENTREPOT_TEST_DB_FIXTURE_H

#include "fixture.h"

struct fx {
    FX_DB_FIELDS;
};

/* Makes f's database (kind; name prefixes the temporary directory) with a
 * pool of pool connections and applies the migrations. -1 on failure
 * (printed), for cmocka's setup functions. */
static inline int fx_open(struct fx *f, enum db_kind kind, const char *name, int pool)
{
    f->kind = kind;
    return FX_OPEN(f, name, pool, true);
}

/* Closes the database, removes the directory and frees f (may be NULL). */
static inline void fx_close(struct fx *f)
{
    if (!f)
        return;
    FX_CLOSE(f);
    free(f);
}

static inline void fx_exec(struct db *db, const char *sql)
{
    struct db_conn *c;
    assert_int_equal(db_acquire(db, &c), ST_OK);
    enum st st = db_exec(c, sql);
    if (st != ST_OK)
        fail_msg("db_exec(%s): %s: %s", sql, st_name(st), db_errmsg(c));
    db_release(c);
}

/* The first column of the first row of sql with up to one int64 argument
 * (arg < 0: none); -1 when there is no row. */
static inline int64_t fx_scalar(struct db *db, const char *sql, int64_t arg)
{
    struct db_conn *c;
    struct db_stmt *s;
    bool row = false;
    assert_int_equal(db_acquire(db, &c), ST_OK);
    enum st st = db_prepare(c, sql, &s);
    if (st != ST_OK)
        fail_msg("db_prepare(%s): %s: %s", sql, st_name(st), db_errmsg(c));
    if (arg >= 0)
        assert_int_equal(db_bind_int64(s, 1, arg), ST_OK);
    assert_int_equal(db_step(s, &row), ST_OK);
    int64_t v = row ? db_col_int64(s, 0) : -1;
    db_stmt_done(s);
    db_release(c);
    return v;
}

#endif
