/*
 * test_audit.c — src/audit (the hash-chained audit log) and the two
 * commands built on it and on the key ring: `entrepot audit verify` and
 * `entrepot keys rotate|status`.
 *
 * Every test runs on SQLite (a fresh file per test) and, when
 * ENTREPOT_TEST_PG_URL names a throwaway database (scripts/pg-cluster.sh
 * start DIR prints one), on PostgreSQL too, whose public schema is dropped
 * and recreated per test. Tampering tests first drop the append-only
 * triggers, as an attacker with database access would, and expect verify
 * to name the right entry anyway.
 *
 * The command tests run the entrepot binary next to this one
 * ($(BUILD)/entrepot; `make test-unit` builds it first) and are skipped
 * when it is missing. user_keys belongs to the accounts migration; when it
 * does not exist yet the test creates a minimal one (user_id, wrapped_key).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/core.h"
#include "db/db.h"
#include "fixture.h"

struct fx {
    FX_DB_FIELDS;
};

static char bin[1024]; /* the entrepot binary, "" when missing */

/* ---------------------------------------------------------------- helpers */

static void exec_ok(struct db_conn *c, const char *sql)
{
    enum st st = db_exec(c, sql);
    if (st != ST_OK)
        fail_msg("db_exec(%s): %s: %s", sql, st_name(st), db_errmsg(c));
}

static void exec_db(struct db *db, const char *sql)
{
    struct db_conn *c;
    assert_int_equal(db_acquire(db, &c), ST_OK);
    exec_ok(c, sql);
    db_release(c);
}

static enum st try_exec_db(struct db *db, const char *sql)
{
    struct db_conn *c;
    assert_int_equal(db_acquire(db, &c), ST_OK);
    enum st st = db_exec(c, sql);
    db_release(c);
    return st;
}

static int64_t scalar(struct db *db, const char *sql)
{
    struct db_conn *c;
    struct db_stmt *s;
    bool row = false;
    assert_int_equal(db_acquire(db, &c), ST_OK);
    enum st st = db_prepare(c, sql, &s);
    if (st != ST_OK)
        fail_msg("db_prepare(%s): %s: %s", sql, st_name(st), db_errmsg(c));
    assert_int_equal(db_step(s, &row), ST_OK);
    assert_true(row);
    int64_t v = db_col_int64(s, 0);
    db_stmt_done(s);
    db_release(c);
    return v;
}

/* Drops the append-only triggers, as someone with database access could. */
static void drop_triggers(struct fx *f)
{
    if (f->kind == DB_POSTGRES)
        exec_db(f->db, "DROP TRIGGER audit_log_no_update ON audit_log; "
                       "DROP TRIGGER audit_log_no_truncate ON audit_log; "
                       "DROP TRIGGER audit_head_forward ON audit_head");
    else
        exec_db(f->db, "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; "
                       "DROP TRIGGER audit_head_forward; DROP TRIGGER audit_head_no_delete");
}

static int64_t append(struct fx *f, int64_t actor, const char *role, const char *action,
                      int64_t subject, const char *fields, const char *reason)
{
    struct audit_entry e = {
        .actor_id = actor,
        .actor_role = role,
        .action = action,
        .subject_user_id = subject,
        .fields = fields,
        .reason = reason,
        .ip = "192.0.2.7",
    };
    int64_t id = 0;
    enum st st = audit_append_tx(f->db, &e, &id);
    if (st != ST_OK)
        fail_msg("audit_append_tx: %s", st_name(st));
    return id;
}

/* n entries: staff reads of user 100 + i's data, some logins. */
static void append_n(struct fx *f, int n)
{
    for (int i = 1; i <= n; i++) {
        if (i % 2)
            append(f, 9, "support", "staff.read_personal_data", 100 + i, "phone,email",
                   "ticket 123");
        else
            append(f, 100 + i, "user", "login.ok", 100 + i, NULL, NULL);
    }
}

static void expect_broken(struct fx *f, int64_t bad_id, const char *why_part)
{
    int64_t checked = -1, bad = -1;
    char why[256] = "";
    enum st st = audit_verify(f->db, &checked, &bad, why, sizeof why);
    if (st != ST_INVALID)
        fail_msg("verify: %s, expected invalid", st_name(st));
    if (bad != bad_id || !strstr(why, why_part))
        fail_msg("broken at %lld (%s); expected %lld (%s)", (long long)bad, why, (long long)bad_id,
                 why_part);
    unsigned char root[32];
    int64_t count = -1;
    assert_int_equal(audit_root(f->db, &count, root), ST_INVALID);
    assert_int_equal(count, 0);
}

static void expect_intact(struct fx *f, int64_t n)
{
    int64_t checked = -1, bad = -1;
    char why[256] = "x";
    enum st st = audit_verify(f->db, &checked, &bad, why, sizeof why);
    if (st != ST_OK)
        fail_msg("verify: %s at %lld: %s", st_name(st), (long long)bad, why);
    assert_int_equal(checked, n);
    assert_int_equal(bad, 0);
    assert_string_equal(why, "");
}

/* RFC 6962 MTH, the recursive definition, for comparison. */
static void mth(const unsigned char (*leaf)[32], size_t n, unsigned char out[32])
{
    if (n == 0) {
        crypto_hash_sha256(out, NULL, 0);
        return;
    }
    if (n == 1) {
        memcpy(out, leaf[0], 32);
        return;
    }
    size_t k = 1;
    while (k * 2 < n)
        k *= 2;
    unsigned char buf[65];
    buf[0] = 1;
    mth(leaf, k, buf + 1);
    mth(leaf + k, n - k, buf + 33);
    crypto_hash_sha256(out, buf, sizeof buf);
}

static size_t stored_hashes(struct fx *f, unsigned char (*out)[32], size_t max)
{
    struct db_conn *c;
    struct db_stmt *s;
    bool row = false;
    size_t n = 0;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_prepare(c, "SELECT entry_hash FROM audit_log ORDER BY id", &s), ST_OK);
    while (db_step(s, &row) == ST_OK && row && n < max) {
        size_t len = 0;
        const void *h = db_col_blob(s, 0, &len);
        assert_int_equal(len, 32);
        memcpy(out[n++], h, 32);
    }
    db_stmt_done(s);
    db_release(c);
    return n;
}

/* A 32-byte blob from a one-row query. */
static void read_blob(struct fx *f, const char *sql, unsigned char out[32])
{
    struct db_conn *c;
    struct db_stmt *s;
    bool row = false;
    size_t len = 0;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_prepare(c, sql, &s), ST_OK);
    assert_int_equal(db_step(s, &row), ST_OK);
    assert_true(row);
    const void *b = db_col_blob(s, 0, &len);
    assert_int_equal(len, 32);
    memcpy(out, b, 32);
    db_stmt_done(s);
    db_release(c);
}

/* Runs the entrepot binary with args (a shell command tail) and returns its
 * exit status; its stdout and stderr go to out (may be NULL). */
static int run_bin(char *out, size_t outlen, const char *fmt, ...) PRINTF_LIKE(3, 4);

static int run_bin(char *out, size_t outlen, const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = 0;
    char tmp[4096];
    size_t got;
    while ((got = fread(tmp, 1, sizeof tmp, p)) > 0) {
        if (out && n + 1 < outlen) {
            size_t take = got < outlen - n - 1 ? got : outlen - n - 1;
            memcpy(out + n, tmp, take);
            n += take;
        }
    }
    if (out && outlen)
        out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---------------------------------------------------------------- fixtures */

static int setup_kind(void **state, enum db_kind kind)
{
    struct fx *f = calloc(1, sizeof *f);
    f->kind = kind;
    *state = f;
    return FX_OPEN(f, "audit", 4, true);
}

static int setup_sqlite(void **state)
{
    return setup_kind(state, DB_SQLITE);
}

static int setup_pg(void **state)
{
    return setup_kind(state, DB_POSTGRES);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (!f)
        return 0;
    FX_CLOSE(f);
    free(f);
    return 0;
}

/* ---------------------------------------------------------------- append + verify */

static void test_append_verify(void **state)
{
    struct fx *f = *state;
    unsigned char root[32], want[32], leaves[40][32];
    int64_t count = -1;

    /* The empty log verifies; its root is SHA-256 of nothing. */
    expect_intact(f, 0);
    assert_int_equal(audit_root(f->db, &count, root), ST_OK);
    assert_int_equal(count, 0);
    mth(leaves, 0, want);
    assert_memory_equal(root, want, 32);

    /* Roots after each append match RFC 6962's recursive definition. */
    for (int i = 1; i <= 33; i++) {
        struct audit_entry e = {
            .actor_id = i % 3 ? 9 : 0,
            .actor_role = i % 3 ? "compliance" : "system",
            .action = "staff.read_personal_data",
            .subject_user_id = i % 5 ? 100 + i : 0,
            .fields = i % 2 ? "id_number,address" : "",
            .reason = i % 4 ? "complaint 国际 #7" : NULL,
            .detail = i % 2 ? "{\"z\": 1, \"a\": [true, null], \"s\": \"é\"}" : NULL,
            .ip = i % 2 ? "2001:db8::1" : NULL,
        };
        int64_t id = 0;
        assert_int_equal(audit_append_tx(f->db, &e, &id), ST_OK);
        assert_int_equal(id, i); /* dense ids */
        size_t n = stored_hashes(f, leaves, 40);
        assert_int_equal(n, (size_t)i);
        assert_int_equal(audit_root(f->db, &count, root), ST_OK);
        assert_int_equal(count, i);
        mth(leaves, n, want);
        assert_memory_equal(root, want, 32);
    }
    expect_intact(f, 33);

    /* The stored hash is the documented one: recompute entry 2 from what
     * was appended (detail stored compact with sorted keys; "" as NULL). */
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM audit_log WHERE id = 1 AND "
                                   "detail = '{\"a\":[true,null],\"s\":\"é\",\"z\":1}'"),
                     1);
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM audit_log WHERE id = 2 AND fields IS "
                                   "NULL AND detail IS NULL AND ip IS NULL"),
                     1);
    int64_t at2 = scalar(f->db, "SELECT at FROM audit_log WHERE id = 2");
    struct audit_entry e2 = {
        .actor_id = 9,
        .actor_role = "compliance",
        .action = "staff.read_personal_data",
        .subject_user_id = 102,
        .reason = "complaint 国际 #7",
    };
    audit_entry_hash(leaves[0], 2, at2, &e2, want);
    assert_memory_equal(leaves[1], want, 32);
    /* The first entry chains to 32 zero bytes; the head holds the last. */
    unsigned char zero[32] = {0}, blob[32];
    read_blob(f, "SELECT prev_hash FROM audit_log WHERE id = 1", blob);
    assert_memory_equal(blob, zero, 32);
    read_blob(f, "SELECT prev_hash FROM audit_log WHERE id = 2", blob);
    assert_memory_equal(blob, leaves[0], 32);
    read_blob(f, "SELECT last_hash FROM audit_head", blob);
    assert_memory_equal(blob, leaves[32], 32);
    assert_int_equal(scalar(f->db, "SELECT last_id FROM audit_head"), 33);

    /* The time comes from the (movable) clock. */
    clock_set_offset_ms(86400000);
    int64_t before = clock_now_ms();
    int64_t id = append(f, 0, "system", "clock.test", 0, NULL, NULL);
    clock_set_offset_ms(0);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT at FROM audit_log WHERE id = %lld", (long long)id);
    assert_true(scalar(f->db, sql) >= before);
    expect_intact(f, 34);
}

static void test_append_rejects(void **state)
{
    struct fx *f = *state;
    static const struct audit_entry bad[] = {
        {.actor_role = "user"},
        {.action = "login.ok"},
        {.actor_role = "", .action = "login.ok"},
        {.actor_role = "User", .action = "login.ok"},
        {.actor_role = "user", .action = "login ok"},
        {.actor_role = "user", .action = "login.ok", .actor_id = -1},
        {.actor_role = "user", .action = "login.ok", .subject_user_id = -5},
        {.actor_role = "user", .action = "login.ok", .fields = "phone; DROP TABLE"},
        {.actor_role = "user", .action = "login.ok", .detail = "[1,2]"},
        {.actor_role = "user", .action = "login.ok", .detail = "{\"a\":"},
        {.actor_role = "user", .action = "login.ok", .detail = "{\"a\":1,\"a\":2}"},
        {.actor_role = "user", .action = "login.ok", .reason = "bad \xff utf-8"},
        {.actor_role = "user", .action = "login.ok", .ip = "1.2.3.4 x"},
        {.actor_role = "user",
         .action = "a.very.long.action.name.that.goes.on.and.on.past.sixty.four.bytes.x"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t id = 99;
        if (audit_append_tx(f->db, &bad[i], &id) != ST_INVALID)
            fail_msg("entry %zu accepted", i);
        assert_int_equal(id, 0);
    }
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM audit_log"), 0);
    expect_intact(f, 0);
}

/* In the caller's transaction: rolled back with it, and ids stay dense. */
static void test_append_in_transaction(void **state)
{
    struct fx *f = *state;
    struct db_conn *c;
    struct audit_entry e = {
        .actor_role = "user", .action = "password.changed", .actor_id = 5, .subject_user_id = 5};
    int64_t id = 0;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_begin(c), ST_OK);
    assert_int_equal(audit_append(c, &e, &id), ST_OK);
    assert_int_equal(id, 1);
    assert_int_equal(audit_append(c, &e, &id), ST_OK);
    assert_int_equal(id, 2);
    assert_int_equal(db_rollback(c), ST_OK);
    assert_int_equal(db_begin(c), ST_OK);
    assert_int_equal(audit_append(c, &e, &id), ST_OK);
    assert_int_equal(id, 1);
    assert_int_equal(db_commit(c), ST_OK);
    db_release(c);
    assert_int_equal(append(f, 5, "user", "login.ok", 5, NULL, NULL), 2);
    expect_intact(f, 2);
}

static void test_triggers_refuse(void **state)
{
    struct fx *f = *state;
    append_n(f, 3);
    assert_int_not_equal(try_exec_db(f->db, "UPDATE audit_log SET reason = 'x' WHERE id = 2"),
                         ST_OK);
    assert_int_not_equal(try_exec_db(f->db, "DELETE FROM audit_log WHERE id = 2"), ST_OK);
    assert_int_not_equal(try_exec_db(f->db, "DELETE FROM audit_head"), ST_OK);
    assert_int_not_equal(try_exec_db(f->db, "UPDATE audit_head SET last_id = 1"), ST_OK);
    if (f->kind == DB_POSTGRES)
        assert_int_not_equal(try_exec_db(f->db, "TRUNCATE audit_log"), ST_OK);
    expect_intact(f, 3);
}

/* ---------------------------------------------------------------- tampering */

static void test_tamper_update(void **state)
{
    struct fx *f = *state;
    append_n(f, 6);
    expect_intact(f, 6);
    drop_triggers(f);
    exec_db(f->db, "UPDATE audit_log SET reason = 'no reason' WHERE id = 3");
    expect_broken(f, 3, "altered");

    /* The command line says the same, with exit status 1. */
    if (bin[0]) {
        char out[2048];
        int rc = run_bin(out, sizeof out, "audit verify --database '%s'", f->url);
        assert_int_equal(rc, 1);
        if (!strstr(out, "audit: chain broken at entry 3: "))
            fail_msg("output: %s", out);
    }
}

static void test_tamper_update_other_columns(void **state)
{
    struct fx *f = *state;
    static const char *const sql[] = {
        "UPDATE audit_log SET at = at + 1 WHERE id = 4",
        "UPDATE audit_log SET actor_id = 10 WHERE id = 4",
        "UPDATE audit_log SET actor_id = NULL WHERE id = 4",
        "UPDATE audit_log SET actor_role = 'administrator' WHERE id = 4",
        "UPDATE audit_log SET subject_user_id = 1 WHERE id = 4",
        "UPDATE audit_log SET fields = 'phone' WHERE id = 4",
        "UPDATE audit_log SET fields = 'phone,email' WHERE id = 4",
        "UPDATE audit_log SET ip = '192.0.2.8' WHERE id = 4",
        "UPDATE audit_log SET detail = '{}' WHERE id = 4",
        "UPDATE audit_log SET action = 'login.failed' WHERE id = 4",
    };
    append_n(f, 5);
    drop_triggers(f);
    /* Keep the original row to put it back between the cases. */
    exec_db(f->db, "CREATE TABLE keep AS SELECT * FROM audit_log WHERE id = 4");
    for (size_t i = 0; i < sizeof sql / sizeof *sql; i++) {
        exec_db(f->db, sql[i]);
        int64_t checked = 0, badid = 0;
        char why[256];
        enum st st = audit_verify(f->db, &checked, &badid, why, sizeof why);
        if (st != ST_INVALID || badid != 4)
            fail_msg("not detected: %s (%s, %lld)", sql[i], st_name(st), (long long)badid);
        exec_db(f->db, "DELETE FROM audit_log WHERE id = 4; "
                       "INSERT INTO audit_log SELECT * FROM keep");
        expect_intact(f, 5);
    }
}

static void test_tamper_delete_middle(void **state)
{
    struct fx *f = *state;
    append_n(f, 6);
    drop_triggers(f);
    exec_db(f->db, "DELETE FROM audit_log WHERE id = 3");
    expect_broken(f, 3, "entry 3 is missing");
}

/* Two entries swap places (each keeps its content and hashes). */
static void test_tamper_swap(void **state)
{
    struct fx *f = *state;
    append_n(f, 6);
    drop_triggers(f);
    exec_db(f->db, "CREATE TABLE t AS SELECT * FROM audit_log WHERE id IN (2, 4); "
                   "DELETE FROM audit_log WHERE id IN (2, 4); "
                   "INSERT INTO audit_log SELECT CASE id WHEN 2 THEN 4 ELSE 2 END, at, actor_id, "
                   "actor_role, action, subject_user_id, fields, reason, detail, ip, prev_hash, "
                   "entry_hash FROM t; DROP TABLE t");
    expect_broken(f, 2, "prev_hash");
}

/* Two entries swap contents but keep their chain hashes in place. */
static void test_tamper_swap_content(void **state)
{
    struct fx *f = *state;
    append_n(f, 6);
    drop_triggers(f);
    exec_db(f->db, "CREATE TABLE t AS SELECT * FROM audit_log WHERE id IN (3, 5); "
                   "DELETE FROM audit_log WHERE id IN (3, 5); "
                   "INSERT INTO audit_log SELECT a.id, b.at, b.actor_id, b.actor_role, b.action, "
                   "b.subject_user_id, b.fields, b.reason, b.detail, b.ip, a.prev_hash, "
                   "a.entry_hash FROM t a, t b WHERE a.id <> b.id; DROP TABLE t");
    expect_broken(f, 3, "altered");
}

/* Entries cut from the end: audit_head still knows where the log ended. */
static void test_tamper_truncate_tail(void **state)
{
    struct fx *f = *state;
    append_n(f, 6);
    drop_triggers(f);
    exec_db(f->db, "DELETE FROM audit_log WHERE id >= 5");
    expect_broken(f, 5, "missing");
}

/* Cut from the end *and* the head rewound: only a published root catches
 * it. The CLI prints the root and checks it later with --published. */
static void test_tamper_truncate_and_head(void **state)
{
    struct fx *f = *state;
    append_n(f, 6);
    struct audit_report r;
    assert_int_equal(audit_check(f->db, 0, NULL, &r), ST_OK);
    assert_int_equal(r.checked, 6);
    unsigned char root6[32];
    memcpy(root6, r.root, 32);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, root6, 32);
    /* A published prefix checks too. */
    struct audit_report r4;
    unsigned char leaves[6][32], root4[32];
    assert_int_equal(stored_hashes(f, leaves, 6), 6);
    mth(leaves, 4, root4);
    assert_int_equal(audit_check(f->db, 4, root4, &r4), ST_OK);
    assert_int_equal(audit_check(f->db, 6, root6, &r4), ST_OK);
    if (bin[0]) {
        char out[2048], want[160];
        snprintf(want, sizeof want, "audit: 6 entries verified, root %s\n", hex);
        assert_int_equal(run_bin(out, sizeof out, "audit verify --database '%s'", f->url), 0);
        assert_string_equal(out, want);
        assert_int_equal(
            run_bin(out, sizeof out, "audit verify --database '%s' --published 6:%s", f->url, hex),
            0);
        assert_int_equal(run_bin(out, sizeof out, "audit verify --published 6:zz"), 2);
    }

    drop_triggers(f);
    exec_db(f->db, "DELETE FROM audit_log WHERE id >= 5; "
                   "UPDATE audit_head SET last_id = 4, last_hash = "
                   "(SELECT entry_hash FROM audit_log WHERE id = 4)");
    expect_intact(f, 4); /* self-consistent now... */
    assert_int_equal(audit_check(f->db, 6, root6, &r),
                     ST_INVALID); /* ...but not what was published */
    assert_int_equal(r.first_bad_id, 5);
    assert_int_equal(audit_check(f->db, 4, root4, &r), ST_OK);
    if (bin[0]) {
        char out[2048];
        assert_int_equal(
            run_bin(out, sizeof out, "audit verify --database '%s' --published=6:%s", f->url, hex),
            1);
        assert_non_null(strstr(out, "audit: chain broken at entry 5: "));
    }
    /* A rewritten history (entry 2 altered and everything after re-hashed
     * by the attacker) is also caught by the published root. */
    exec_db(f->db, "DELETE FROM audit_log WHERE id >= 2; "
                   "UPDATE audit_head SET last_id = 1, last_hash = "
                   "(SELECT entry_hash FROM audit_log WHERE id = 1)");
    append(f, 9, "support", "staff.read_personal_data", 200, "phone", "forged");
    append_n(f, 2);
    expect_intact(f, 4);
    assert_int_equal(audit_check(f->db, 4, root4, &r), ST_INVALID);
    assert_int_equal(r.first_bad_id, 4);
}

/* Rows that audit_append did not write: past the head, or ids below 1. */
static void test_tamper_extra_rows(void **state)
{
    struct fx *f = *state;
    append_n(f, 3);
    exec_db(f->db, "INSERT INTO audit_log SELECT id + 1, at, actor_id, actor_role, action, "
                   "subject_user_id, fields, reason, detail, ip, entry_hash, entry_hash "
                   "FROM audit_log WHERE id = 3");
    expect_broken(f, 4, "outside the chain");
    drop_triggers(f);
    exec_db(f->db, "DELETE FROM audit_log WHERE id = 4");
    expect_intact(f, 3);
    exec_db(f->db, "INSERT INTO audit_log SELECT 0, at, actor_id, actor_role, action, "
                   "subject_user_id, fields, reason, detail, ip, prev_hash, entry_hash "
                   "FROM audit_log WHERE id = 1");
    expect_broken(f, 0, "outside the chain");
    exec_db(f->db, "DELETE FROM audit_log WHERE id = 0; DELETE FROM audit_head");
    expect_broken(f, 1, "audit_head");
}

/* ---------------------------------------------------------------- concurrency */

struct worker {
    struct db *db;
    int n;
    int failures;
};

static void *append_worker(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        struct audit_entry e = {.actor_role = "system", .action = "test.concurrent"};
        if (audit_append_tx(w->db, &e, NULL) != ST_OK)
            w->failures++;
    }
    return NULL;
}

static void test_concurrent_appends(void **state)
{
    struct fx *f = *state;
    enum { THREADS = 4, EACH = 30 };
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.db = f->db, .n = EACH};
        pthread_create(&t[i], NULL, append_worker, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    expect_intact(f, THREADS * EACH);
}

/* ---------------------------------------------------------------- list */

static void test_list(void **state)
{
    struct fx *f = *state;
    append(f, 7, "user", "login.ok", 7, NULL, NULL);                             /* 1 */
    append(f, 8, "user", "login.ok", 8, NULL, NULL);                             /* 2 */
    append(f, 9, "support", "staff.read_personal_data", 7, "phone,email", "t1"); /* 3 */
    struct audit_entry e = {.actor_role = "user",
                            .action = "password.changed",
                            .actor_id = 7,
                            .subject_user_id = 7,
                            .detail = "{\"device\":\"Firefox\"}"};
    assert_int_equal(audit_append_tx(f->db, &e, NULL), ST_OK); /* 4 */
    append(f, 7, "user", "login.ok", 7, NULL, NULL);           /* 5 */

    json_t *a = NULL;
    int64_t next = -1;
    assert_int_equal(audit_list(f->db, 7, 0, 2, false, &a, &next), ST_OK);
    assert_int_equal(json_array_size(a), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "id")), 5);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 1), "id")), 4);
    json_t *p = json_array_get(a, 1);
    assert_string_equal(json_string_value(json_object_get(p, "action")), "password.changed");
    assert_true(json_is_true(json_object_get(p, "by_self")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "detail"), "device")),
                        "Firefox");
    assert_null(json_object_get(p, "actor_id"));
    assert_int_equal(next, 4);
    json_decref(a);

    assert_int_equal(audit_list(f->db, 7, next, 2, true, &a, &next), ST_OK);
    assert_int_equal(json_array_size(a), 2);
    json_t *s = json_array_get(a, 0);
    assert_int_equal(json_integer_value(json_object_get(s, "id")), 3);
    assert_string_equal(json_string_value(json_object_get(s, "actor_role")), "support");
    assert_false(json_is_true(json_object_get(s, "by_self")));
    assert_int_equal(json_integer_value(json_object_get(s, "actor_id")), 9);
    assert_string_equal(json_string_value(json_object_get(s, "reason")), "t1");
    json_t *fl = json_object_get(s, "fields");
    assert_int_equal(json_array_size(fl), 2);
    assert_string_equal(json_string_value(json_array_get(fl, 0)), "phone");
    assert_string_equal(json_string_value(json_array_get(fl, 1)), "email");
    assert_true(json_is_null(json_object_get(s, "detail")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 1), "id")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "ip")),
                        "192.0.2.7");
    assert_int_equal(next, 0); /* no more */
    json_decref(a);

    /* Only the subject's entries; an unknown user has none. */
    assert_int_equal(audit_list(f->db, 8, 0, 100, false, &a, &next), ST_OK);
    assert_int_equal(json_array_size(a), 1);
    json_decref(a);
    assert_int_equal(audit_list(f->db, 12345, 0, 10, false, &a, &next), ST_OK);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);

    assert_int_equal(audit_list(f->db, 7, 0, 0, false, &a, &next), ST_INVALID);
    assert_null(a);
    assert_int_equal(audit_list(f->db, 7, 0, AUDIT_LIST_MAX + 1, false, &a, &next), ST_INVALID);
    assert_int_equal(audit_list(f->db, 0, 0, 10, false, &a, &next), ST_INVALID);
    assert_int_equal(audit_list(f->db, 7, -1, 10, false, &a, &next), ST_INVALID);
}

/* ---------------------------------------------------------------- keys rotate */

#define USERS 1203 /* three batches of 500 and a bit */

static void ensure_user_keys(struct fx *f)
{
    exec_db(f->db, f->kind == DB_POSTGRES ? "CREATE TABLE IF NOT EXISTS user_keys (user_id "
                                            "BIGINT PRIMARY KEY, wrapped_key BYTEA NOT NULL)"
                                          : "CREATE TABLE IF NOT EXISTS user_keys (user_id "
                                            "INTEGER PRIMARY KEY, wrapped_key BLOB NOT NULL)");
}

/* Key id of every row, counted: returns how many rows are under want. */
static int64_t rows_under(struct fx *f, uint32_t want, int64_t *total)
{
    struct db_conn *c;
    struct db_stmt *s;
    bool row = false;
    int64_t n = 0;
    *total = 0;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_prepare(c, "SELECT wrapped_key FROM user_keys", &s), ST_OK);
    while (db_step(s, &row) == ST_OK && row) {
        size_t len = 0;
        const unsigned char *w = db_col_blob(s, 0, &len);
        (*total)++;
        n += crypto_wrapped_key_id(w, len) == want;
    }
    db_stmt_done(s);
    db_release(c);
    return n;
}

/* Unwraps every user's key and opens a field sealed before the rotation. */
static void check_users(struct fx *f, unsigned char **sealed, size_t *slen)
{
    struct db_conn *c;
    struct db_stmt *s;
    bool row = false;
    int n = 0;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(
        db_prepare(c, "SELECT user_id, wrapped_key FROM user_keys ORDER BY user_id", &s), ST_OK);
    while (db_step(s, &row) == ST_OK && row) {
        size_t len = 0;
        int64_t uid = db_col_int64(s, 0);
        const unsigned char *w = db_col_blob(s, 1, &len);
        unsigned char dk[32], *p = NULL;
        size_t plen = 0;
        assert_int_equal(crypto_datakey_unwrap(uid, w, len, dk), ST_OK);
        assert_int_equal(
            crypto_field_open(dk, uid, "users.phone", sealed[uid - 1], slen[uid - 1], &p, &plen),
            ST_OK);
        char want[32];
        snprintf(want, sizeof want, "+86138%08lld", (long long)uid);
        assert_string_equal((char *)p, want);
        crypto_free_secret(p, plen);
        n++;
    }
    db_stmt_done(s);
    db_release(c);
    assert_int_equal(n, USERS);
}

static void test_keys_rotate(void **state)
{
    struct fx *f = *state;
    if (!bin[0])
        skip();
    char out[4096], err[256];
    char *path = xasprintf("%s/master.key", f->dir);
    unsigned char k1[32];
    randombytes_buf(k1, sizeof k1);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, k1, 32);
    char *legacy = xasprintf("%s\n", hex); /* the first key file format */
    assert_int_equal(file_write_atomic(path, legacy, strlen(legacy), 0600), ST_OK);
    free(legacy);
    ensure_user_keys(f);

    /* Users, their wrapped keys and one sealed field each. */
    assert_int_equal(crypto_init(k1, 1), ST_OK);
    unsigned char **sealed = xcalloc(USERS, sizeof *sealed);
    size_t *slen = xcalloc(USERS, sizeof *slen);
    unsigned char bidx_before[32], bidx_after[32];
    assert_int_equal(crypto_blind_index("phone", "+8613800000001", bidx_before), ST_OK);
    struct db_conn *c;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    assert_int_equal(db_begin(c), ST_OK);
    for (int64_t uid = 1; uid <= USERS; uid++) {
        unsigned char dk[32], *w = NULL;
        size_t wl = 0;
        char phone[32];
        snprintf(phone, sizeof phone, "+86138%08lld", (long long)uid);
        assert_int_equal(crypto_datakey_new(uid, dk, &w, &wl), ST_OK);
        assert_int_equal(crypto_field_seal(dk, uid, "users.phone", phone, strlen(phone),
                                           &sealed[uid - 1], &slen[uid - 1]),
                         ST_OK);
        struct db_stmt *s;
        bool row = true;
        assert_int_equal(
            db_prepare(c, "INSERT INTO user_keys (user_id, wrapped_key) VALUES (?, ?)", &s), ST_OK);
        assert_int_equal(db_bind_int64(s, 1, uid), ST_OK);
        assert_int_equal(db_bind_blob(s, 2, w, wl), ST_OK);
        while (row)
            assert_int_equal(db_step(s, &row), ST_OK);
        db_stmt_done(s);
        free(w);
    }
    assert_int_equal(db_commit(c), ST_OK);
    db_release(c);
    int64_t total;
    assert_int_equal(rows_under(f, 1, &total), USERS);

    /* Rotate: key 2 becomes the only key, every row re-wrapped. */
    int rc = run_bin(out, sizeof out,
                     "keys rotate --grace-seconds 0 --database '%s' --master-key-file '%s'", f->url,
                     path);
    if (rc != 0 || !strstr(out, "rotated to master key 2; 1203 user key(s) re-wrapped"))
        fail_msg("rotate: %d: %s", rc, out);
    struct master_keyring ring;
    assert_int_equal(masterkey_ring_load(path, NULL, false, &ring, err, sizeof err), ST_OK);
    assert_int_equal(ring.count, 1);
    assert_int_equal(ring.ids[0], 2);
    assert_true(ring.has_index);
    assert_memory_not_equal(ring.keys[0], k1, 32);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(crypto_keyring_install(&ring), ST_OK);
    assert_false(crypto_keyring_has(1));
    assert_int_equal(rows_under(f, 2, &total), USERS);
    check_users(f, sealed, slen);
    /* Blind indexes (and token hashes) survive. */
    assert_int_equal(crypto_blind_index("phone", "+8613800000001", bidx_after), ST_OK);
    assert_memory_equal(bidx_before, bidx_after, 32);
    /* The rotation is in the audit log, which verifies. */
    assert_int_equal(scalar(f->db, "SELECT COUNT(*) FROM audit_log WHERE action = "
                                   "'keys.rotated' AND detail LIKE '%\"rewrapped\":1203%'"),
                     1);
    expect_intact(f, 1);

    /* status */
    rc = run_bin(out, sizeof out, "keys status --database '%s' --master-key-file '%s'", f->url,
                 path);
    if (rc != 0 || !strstr(out, "1203 user key(s) wrapped with key 2"))
        fail_msg("status: %d: %s", rc, out);

    /* An interrupted rotation (file holds keys 5 and 2) is finished, not
     * restarted; a new user's key wrapped meanwhile with key 5 is kept. */
    struct master_keyring r52 = ring;
    r52.count = 2;
    r52.ids[1] = 2;
    memcpy(r52.keys[1], ring.keys[0], 32);
    r52.ids[0] = 5;
    randombytes_buf(r52.keys[0], 32);
    assert_int_equal(masterkey_ring_save(path, &r52, err, sizeof err), ST_OK);
    rc = run_bin(out, sizeof out,
                 "keys rotate --grace-seconds=0 --database '%s' --master-key-file '%s'", f->url,
                 path);
    if (rc != 0 || !strstr(out, "finishing the rotation to master key 5") ||
        !strstr(out, "1203 user key(s) re-wrapped; key(s) 2 removed"))
        fail_msg("resume: %d: %s", rc, out);
    assert_int_equal(masterkey_ring_load(path, NULL, false, &ring, err, sizeof err), ST_OK);
    assert_int_equal(ring.count, 1);
    assert_int_equal(ring.ids[0], 5);
    assert_memory_equal(ring.keys[0], r52.keys[0], 32);
    assert_memory_equal(ring.index_key, r52.index_key, 32);
    assert_int_equal(crypto_keyring_install(&ring), ST_OK);
    assert_int_equal(rows_under(f, 5, &total), USERS);
    check_users(f, sealed, slen);

    /* And again from a single key: 6. */
    rc = run_bin(out, sizeof out,
                 "keys rotate --grace-seconds 0 --database '%s' --master-key-file '%s'", f->url,
                 path);
    assert_int_equal(rc, 0);
    assert_int_equal(masterkey_ring_load(path, NULL, false, &ring, err, sizeof err), ST_OK);
    assert_int_equal(ring.ids[0], 6);
    assert_int_equal(crypto_keyring_install(&ring), ST_OK);
    assert_int_equal(rows_under(f, 6, &total), USERS);
    check_users(f, sealed, slen);
    assert_int_equal(crypto_blind_index("phone", "+8613800000001", bidx_after), ST_OK);
    assert_memory_equal(bidx_before, bidx_after, 32);
    expect_intact(f, 3);

    /* A row under a key nobody has stops the rotation with both keys kept. */
    unsigned char bogus[CRYPTO_WRAPPED_BYTES];
    randombytes_buf(bogus, sizeof bogus);
    bogus[0] = CRYPTO_WRAP_V1;
    bogus[1] = bogus[2] = bogus[3] = 0;
    bogus[4] = 99;
    assert_int_equal(db_acquire(f->db, &c), ST_OK);
    struct db_stmt *s;
    bool row = true;
    assert_int_equal(
        db_prepare(c, "INSERT INTO user_keys (user_id, wrapped_key) VALUES (?, ?)", &s), ST_OK);
    db_bind_int64(s, 1, USERS + 1);
    db_bind_blob(s, 2, bogus, sizeof bogus);
    while (row)
        assert_int_equal(db_step(s, &row), ST_OK);
    db_stmt_done(s);
    db_release(c);
    rc = run_bin(out, sizeof out, "keys status --database '%s' --master-key-file '%s'", f->url,
                 path);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "1 user key(s) under a key not in the file"));
    rc = run_bin(out, sizeof out,
                 "keys rotate --grace-seconds 0 --database '%s' --master-key-file '%s'", f->url,
                 path);
    if (rc != 1 || !strstr(out, "user 1204 cannot be re-wrapped"))
        fail_msg("bogus row: %d: %s", rc, out);
    assert_int_equal(masterkey_ring_load(path, NULL, false, &ring, err, sizeof err), ST_OK);
    assert_int_equal(ring.count, 2); /* 7 and 6: nothing lost */
    assert_int_equal(ring.ids[0], 7);
    assert_int_equal(ring.ids[1], 6);

    /* Refusals: a key from the environment; a missing key file. */
    rc = run_bin(out, sizeof out, "keys rotate --database '%s' --master-key %s", f->url, hex);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "ENTREPOT_MASTER_KEY"));
    rc = run_bin(out, sizeof out, "keys rotate --database '%s' --master-key-file '%s/none'", f->url,
                 f->dir);
    assert_int_equal(rc, 1);
    assert_int_equal(run_bin(out, sizeof out, "keys"), 2);
    assert_int_equal(run_bin(out, sizeof out, "keys spin"), 2);

    masterkey_ring_wipe(&ring);
    masterkey_ring_wipe(&r52);
    for (int i = 0; i < USERS; i++)
        free(sealed[i]);
    free(sealed);
    free(slen);
    free(path);
}

/* Before the accounts migration: no user_keys table, a clear error. */
static void test_keys_rotate_no_table(void **state)
{
    struct fx *f = *state;
    if (!bin[0])
        skip();
    if (scalar(f->db, f->kind == DB_POSTGRES
                          ? "SELECT COUNT(*) FROM pg_tables WHERE tablename = 'user_keys'"
                          : "SELECT COUNT(*) FROM sqlite_master WHERE name = 'user_keys'") > 0)
        skip(); /* the accounts migration made it */
    char out[2048];
    char *path = xasprintf("%s/master.key", f->dir);
    unsigned char k[32];
    randombytes_buf(k, 32);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, k, 32);
    assert_int_equal(file_write_atomic(path, hex, 64, 0600), ST_OK);
    int rc = run_bin(out, sizeof out,
                     "keys rotate --grace-seconds 0 --database '%s' --master-key-file '%s'", f->url,
                     path);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "user_keys"));
    char *text = NULL;
    assert_int_equal(file_read_all(path, 4096, &text, NULL), ST_OK);
    assert_string_equal(text, hex); /* untouched */
    free(text);
    free(path);
}

#define AUDIT_TESTS(setup)                                                                         \
    cmocka_unit_test_setup_teardown(test_append_verify, setup, teardown),                          \
        cmocka_unit_test_setup_teardown(test_append_rejects, setup, teardown),                     \
        cmocka_unit_test_setup_teardown(test_append_in_transaction, setup, teardown),              \
        cmocka_unit_test_setup_teardown(test_triggers_refuse, setup, teardown),                    \
        cmocka_unit_test_setup_teardown(test_tamper_update, setup, teardown),                      \
        cmocka_unit_test_setup_teardown(test_tamper_update_other_columns, setup, teardown),        \
        cmocka_unit_test_setup_teardown(test_tamper_delete_middle, setup, teardown),               \
        cmocka_unit_test_setup_teardown(test_tamper_swap, setup, teardown),                        \
        cmocka_unit_test_setup_teardown(test_tamper_swap_content, setup, teardown),                \
        cmocka_unit_test_setup_teardown(test_tamper_truncate_tail, setup, teardown),               \
        cmocka_unit_test_setup_teardown(test_tamper_truncate_and_head, setup, teardown),           \
        cmocka_unit_test_setup_teardown(test_tamper_extra_rows, setup, teardown),                  \
        cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),                 \
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),                               \
        cmocka_unit_test_setup_teardown(test_keys_rotate_no_table, setup, teardown),               \
        cmocka_unit_test_setup_teardown(test_keys_rotate, setup, teardown)

int main(int argc, char **argv)
{
    (void)argc;
    log_init(LOG_ERROR, true); /* refused appends log on purpose */
    if (sodium_init() < 0)
        return 1;
    /* The binary lives one level up from tests/: $(BUILD)/entrepot. */
    const char *slash = strrchr(argv[0], '/');
    int dirlen = slash ? (int)(slash - argv[0]) : 1;
    snprintf(bin, sizeof bin, "%.*s/../entrepot", dirlen, slash ? argv[0] : ".");
    if (access(bin, X_OK) != 0) {
        printf("[  SKIPPED ] command tests: %s not built (make builds it)\n", bin);
        bin[0] = '\0';
    }
    /* The commands must see only the options given here. */
    static const char *const env[] = {"ENTREPOT_MASTER_KEY", "ENTREPOT_MASTER_KEY_FILE",
                                      "ENTREPOT_DATABASE",   "ENTREPOT_DATA_DIR",
                                      "ENTREPOT_CONFIG",     NULL};
    for (size_t i = 0; env[i]; i++)
        unsetenv(env[i]);

    const struct CMUnitTest sqlite[] = {AUDIT_TESTS(setup_sqlite)};
    const struct CMUnitTest postgres[] = {AUDIT_TESTS(setup_pg)};
    int failed = cmocka_run_group_tests_name("audit_sqlite", sqlite, NULL, NULL);
    if (fx_pg_url())
        failed += cmocka_run_group_tests_name("audit_postgres", postgres, NULL, NULL);
    else
        fx_pg_skipped("audit_postgres");
    return failed ? 1 : 0;
}
