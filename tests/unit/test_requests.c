/*
 * test_requests.c — src/privacy/requests.c and breach.c on SQLite and (with
 * ENTREPOT_TEST_PG_URL) PostgreSQL, each on a database built by the real
 * migrations: deadlines taken from the working-day calendar and stored,
 * texts sealed at rest, the overdue job escalating each missed deadline
 * once (to compliance staff, else administrators), corrections decided,
 * a minor's account erased through the cancellation's erasure, and breach
 * notices sent in batches by their job.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "audit/audit.h"
#include "core/core.h"
#include "core/i18n.h"
#include "db/db.h"
#include "fixture.h"
#include "jobs/jobs.h"
#include "notify/notify.h"
#include "privacy/consent.h"
#include "privacy/privacy.h"
#include "privacy/requests.h"

#define DAY_MS  86400000LL
#define HOUR_MS 3600000LL

struct fx {
    FX_DB_FIELDS;
    struct db_conn *c;
};

static const struct privacy_actor STAFF = {.id = 1, .role = "compliance", .ip = "192.0.2.9"};

/* ---------------------------------------------------------------- helpers */

static int64_t scalar(struct fx *f, const char *sql, int64_t arg)
{
    struct db_stmt *s;
    bool row = false;
    if (db_prepare(f->c, sql, &s) != ST_OK)
        fail_msg("db_prepare(%s): %s", sql, db_errmsg(f->c));
    if (arg != INT64_MIN)
        assert_int_equal(db_bind_int64(s, 1, arg), ST_OK);
    assert_int_equal(db_step(s, &row), ST_OK);
    int64_t v = row ? db_col_int64(s, 0) : -1;
    db_stmt_done(s);
    return v;
}

static void exec(struct fx *f, const char *sql)
{
    if (db_exec(f->c, sql) != ST_OK)
        fail_msg("db_exec(%s): %s", sql, db_errmsg(f->c));
}

/* An account with staff roles, a data key and (when given) a verified
 * e-mail address. */
static int64_t new_user(struct fx *f, unsigned roles, const char *email)
{
    char sql[256];
    int64_t now = clock_now_ms();
    snprintf(sql, sizeof sql,
             "INSERT INTO users (display_name, staff_roles, created_at, updated_at) "
             "VALUES ('', %u, %lld, %lld) RETURNING id",
             roles, (long long)now, (long long)now);
    int64_t uid = scalar(f, sql, INT64_MIN);
    assert_true(uid > 0);
    unsigned char dk[CRYPTO_DATAKEY_BYTES], *wrapped = NULL, *sealed = NULL;
    size_t wlen = 0, slen = 0;
    assert_int_equal(crypto_datakey_new(uid, dk, &wrapped, &wlen), ST_OK);
    struct db_stmt *s;
    bool row;
    assert_int_equal(
        db_prepare(f->c, "INSERT INTO user_keys (user_id, wrapped_key) VALUES (?, ?)", &s), ST_OK);
    db_bind_int64(s, 1, uid);
    db_bind_blob(s, 2, wrapped, wlen);
    assert_int_equal(db_step(s, &row), ST_OK);
    db_stmt_done(s);
    if (email) {
        assert_int_equal(
            crypto_field_seal(dk, uid, "users.email", email, strlen(email), &sealed, &slen), ST_OK);
        assert_int_equal(db_prepare(f->c,
                                    "UPDATE users SET email_enc = ?, email_verified_at = ? "
                                    "WHERE id = ?",
                                    &s),
                         ST_OK);
        db_bind_blob(s, 1, sealed, slen);
        db_bind_int64(s, 2, now);
        db_bind_int64(s, 3, uid);
        assert_int_equal(db_step(s, &row), ST_OK);
        db_stmt_done(s);
    }
    free(wrapped);
    free(sealed);
    sodium_memzero(dk, sizeof dk);
    return uid;
}

/* Runs every due job (the schedules' current slots first). */
static int run_jobs(struct fx *f)
{
    int runs = 0;
    assert_int_equal(jobs_schedule_tick(f->db, NULL, NULL), ST_OK);
    for (bool ran = true; ran && runs < 100; runs += ran)
        assert_int_equal(jobs_run_one(f->db, "test", &ran), ST_OK);
    return runs;
}

static int64_t count(struct fx *f, const char *sql, int64_t arg)
{
    return scalar(f, sql, arg);
}

/* Whether any byte string of a table's rows contains text. */
static bool stored_in_clear(struct fx *f, const char *table, const char *text)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT * FROM %s", table);
    struct db_stmt *s;
    bool row = false, found = false;
    assert_int_equal(db_prepare(f->c, sql, &s), ST_OK);
    assert_int_equal(db_step(s, &row), ST_OK);
    while (row && !found) {
        for (int i = 0; i < db_col_count(s) && !found; i++) {
            size_t n = 0;
            const char *b = db_col_is_null(s, i) ? NULL : db_col_blob(s, i, &n);
            found = b && n >= strlen(text) && memmem(b, n, text, strlen(text)) != NULL;
        }
        assert_int_equal(db_step(s, &row), ST_OK);
    }
    db_stmt_done(s);
    return found;
}

/* ---------------------------------------------------------------- tickets */

static void test_ticket_deadlines_come_from_the_calendar(void **state)
{
    struct fx *f = *state;
    char err[200];
    /* A holiday on Monday 2025-03-17 in the calendar of UTC+8. */
    assert_int_equal(workdays_configure(480, "2025-03-17", "", err, sizeof err), ST_OK);
    const struct workdays *w = workdays_get();
    int64_t day = 0;
    assert_true(workdays_date_parse("2025-03-14", 10, &day)); /* a Friday */
    clock_set_offset_ms(workdays_day_start(w, day) + 10 * HOUR_MS - clock_now_ms());
    int64_t uid = new_user(f, 0, NULL), other = new_user(f, 0, NULL);
    json_t *t = NULL;
    struct privacy_error e = {0};
    assert_int_equal(privacy_ticket_create(f->c, uid, "complaint", "marketing_email",
                                           "secret complaint text", &t, &e),
                     ST_OK);
    /* 5 working days after Friday: 18, 19, 20, 21, 24 March (the 17th is off). */
    int64_t end24 = 0;
    assert_true(workdays_date_parse("2025-03-25", 10, &end24));
    assert_int_equal(json_integer_value(json_object_get(t, "ack_due_at")),
                     workdays_day_start(w, end24));
    assert_int_equal(json_integer_value(json_object_get(t, "working_days_left")), 5);
    assert_false(json_is_true(json_object_get(t, "overdue")));
    assert_string_equal(json_string_value(json_object_get(t, "body")), "secret complaint text");
    int64_t id = json_integer_value(json_object_get(t, "id"));
    json_decref(t);
    /* The deadline stays what it was promised even if the calendar changes. */
    assert_int_equal(workdays_configure(480, "", "", err, sizeof err), ST_OK);
    assert_int_equal(privacy_ticket_get(f->c, uid, id, &t), ST_OK);
    assert_int_equal(json_integer_value(json_object_get(t, "ack_due_at")),
                     workdays_day_start(w, end24));
    json_decref(t);
    assert_false(stored_in_clear(f, "privacy_tickets", "secret complaint"));
    /* Not another account's; bad kinds and purposes named. */
    assert_int_equal(privacy_ticket_get(f->c, other, id, &t), ST_NOTFOUND);
    assert_int_equal(privacy_ticket_create(f->c, uid, "rant", NULL, "x", &t, &e), ST_INVALID);
    assert_string_equal(e.field, "kind");
    assert_int_equal(privacy_ticket_create(f->c, uid, "other", "weather", "x", &t, &e), ST_INVALID);
    assert_string_equal(e.field, "purpose");
    /* A registry purpose is accepted too. */
    assert_int_equal(privacy_ticket_create(f->c, uid, "other", "security", "x", &t, &e), ST_OK);
    json_decref(t);
    /* Acknowledging moves the next deadline; resolving ends it; the thread is sealed. */
    assert_int_equal(privacy_ticket_act(f->c, &STAFF, id, PRQ_ACKNOWLEDGE, NULL, &t), ST_OK);
    assert_string_equal(json_string_value(json_object_get(t, "status")), "acknowledged");
    json_decref(t);
    assert_int_equal(privacy_ticket_act(f->c, &STAFF, id, PRQ_ACKNOWLEDGE, NULL, &t), ST_CONFLICT);
    assert_int_equal(privacy_ticket_act(f->c, &STAFF, id, PRQ_RESOLVE, "outcome text here", &t),
                     ST_OK);
    assert_true(json_is_null(json_object_get(t, "due_at")));
    json_decref(t);
    assert_false(stored_in_clear(f, "privacy_ticket_messages", "outcome text"));
    assert_int_equal(privacy_ticket_message(f->c, uid, id, "more", &t), ST_CONFLICT);
    assert_int_equal(count(f,
                           "SELECT COUNT(*) FROM inbox WHERE user_id = ? AND kind IN "
                           "('privacy.ticket_received', 'privacy.ticket_acknowledged', "
                           "'privacy.ticket_resolved')",
                           uid),
                     4);
}

/* ---------------------------------------------------------------- overdue */

static void test_overdue_requests_escalate_once(void **state)
{
    struct fx *f = *state;
    char err[200];
    assert_int_equal(workdays_configure(480, "", "", err, sizeof err), ST_OK);
    int64_t uid = new_user(f, 0, NULL);
    int64_t dpo = new_user(f, ACC_ROLE_COMPLIANCE, NULL), admin = new_user(f, ACC_ROLE_ADMIN, NULL);
    json_t *t = NULL, *cr = NULL;
    struct privacy_error e = {0};
    assert_int_equal(privacy_ticket_create(f->c, uid, "objection", NULL, "stop it", &t, &e), ST_OK);
    assert_int_equal(
        privacy_correction_create(f->c, uid, "company_name", "Ningbo Co", "licence", &cr, &e),
        ST_OK);
    int64_t tid = json_integer_value(json_object_get(t, "id"));
    int64_t cid = json_integer_value(json_object_get(cr, "id"));
    json_decref(t);
    json_decref(cr);
    run_jobs(f);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM inbox WHERE user_id = ?", dpo), 0);
    /* Eight days on: the acknowledgement and the correction are late. */
    clock_set_offset_ms(8 * DAY_MS);
    json_t *q = NULL;
    assert_int_equal(privacy_tickets_queue(f->c, PRQ_STATE_OVERDUE, &q), ST_OK);
    assert_int_equal(json_array_size(json_object_get(q, "tickets")), 1);
    json_decref(q);
    run_jobs(f);
    assert_int_equal(
        count(f, "SELECT COUNT(*) FROM inbox WHERE user_id = ? AND kind = 'staff.request_overdue'",
              dpo),
        2);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM inbox WHERE user_id = ?", admin), 0);
    assert_true(count(f, "SELECT ack_escalated_at FROM privacy_tickets WHERE id = ?", tid) > 0);
    assert_true(count(f, "SELECT escalated_at FROM correction_requests WHERE id = ?", cid) > 0);
    assert_int_equal(
        count(f,
              "SELECT COUNT(*) FROM audit_log WHERE action = 'privacy.request_overdue' AND "
              "subject_user_id = ?",
              uid),
        2);
    assert_int_equal(privacy_tickets_queue(f->c, PRQ_STATE_ALL, &q), ST_OK);
    assert_true(json_is_true(
        json_object_get(json_array_get(json_object_get(q, "tickets"), 0), "escalated")));
    json_decref(q);
    /* A later slot adds nothing. */
    clock_set_offset_ms(8 * DAY_MS + HOUR_MS);
    run_jobs(f);
    assert_int_equal(count(f,
                           "SELECT COUNT(*) FROM audit_log WHERE action = "
                           "'privacy.request_overdue'",
                           INT64_MIN),
                     2);
    /* Without compliance staff, administrators hear of the missed resolution. */
    exec(f, "UPDATE users SET staff_roles = 0 WHERE staff_roles = 4");
    clock_set_offset_ms(30 * DAY_MS);
    run_jobs(f);
    assert_int_equal(
        count(f, "SELECT COUNT(*) FROM inbox WHERE user_id = ? AND kind = 'staff.request_overdue'",
              admin),
        1);
    assert_true(count(f, "SELECT resolve_escalated_at FROM privacy_tickets WHERE id = ?", tid) > 0);
}

/* ---------------------------------------------------------------- corrections */

static void test_correction_decisions(void **state)
{
    struct fx *f = *state;
    int64_t uid = new_user(f, 0, "li@example.com");
    json_t *cr = NULL, *o = NULL;
    struct privacy_error e = {0};
    assert_int_equal(privacy_correction_create(f->c, uid, "nickname", "x", "y", &cr, &e),
                     ST_INVALID);
    assert_string_equal(e.field, "field");
    assert_int_equal(
        privacy_correction_create(f->c, uid, "real_name", "李雷", "passport p.2", &cr, &e), ST_OK);
    int64_t id = json_integer_value(json_object_get(cr, "id"));
    json_decref(cr);
    assert_int_equal(privacy_correction_create(f->c, uid, "real_name", "李磊", "x", &cr, &e),
                     ST_CONFLICT);
    assert_false(stored_in_clear(f, "correction_requests", "李雷"));
    assert_int_equal(privacy_correction_decide(f->c, &STAFF, id, false, NULL, &o), ST_INVALID);
    assert_int_equal(privacy_correction_decide(f->c, &STAFF, id, true, NULL, &o), ST_OK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "current"), "value")),
                        "李雷");
    json_decref(o);
    assert_int_equal(privacy_correction_decide(f->c, &STAFF, id, true, NULL, &o), ST_CONFLICT);
    assert_false(stored_in_clear(f, "verified_fields", "李雷"));
    assert_int_equal(privacy_corrections_mine(f->c, uid, &o), ST_OK);
    json_t *v = json_array_get(json_object_get(o, "verified"), 0);
    assert_string_equal(json_string_value(json_object_get(v, "field")), "real_name");
    assert_string_equal(json_string_value(json_object_get(v, "value")), "李雷");
    json_decref(o);
    /* The user was told by e-mail (verified address) and in the inbox. */
    assert_int_equal(count(f,
                           "SELECT COUNT(*) FROM outbox WHERE user_id = ? AND template = "
                           "'privacy.correction_approved'",
                           uid),
                     1);
    assert_int_equal(count(f,
                           "SELECT COUNT(*) FROM inbox WHERE user_id = ? AND kind = "
                           "'privacy.correction_approved'",
                           uid),
                     1);
    /* A staff read is audited with its fields. */
    assert_int_equal(privacy_correction_staff_get(f->c, &STAFF, id, &o), ST_OK);
    json_decref(o);
    assert_int_equal(count(f,
                           "SELECT COUNT(*) FROM audit_log WHERE action = "
                           "'staff.read_personal_data' AND subject_user_id = ? AND fields LIKE "
                           "'%correction_requests.value%'",
                           uid),
                     1);
}

/* ---------------------------------------------------------------- minors */

static void test_minor_account_is_erased_at_once(void **state)
{
    struct fx *f = *state;
    int64_t uid = new_user(f, 0, "minor@example.com"), staff = new_user(f, ACC_ROLE_ADMIN, NULL);
    json_t *t = NULL, *o = NULL;
    struct privacy_error e = {0};
    assert_int_equal(privacy_ticket_create(f->c, uid, "other", NULL, "hello", &t, &e), ST_OK);
    json_decref(t);
    assert_int_equal(privacy_minor_request(f->c, &STAFF, staff, "g", "e", &o), ST_CONFLICT);
    assert_int_equal(privacy_minor_request(f->c, &STAFF, 999999, "g", "e", &o), ST_NOTFOUND);
    assert_int_equal(
        privacy_minor_request(f->c, &STAFF, uid, "father, +86 139 0000 0001", "birth cert", &o),
        ST_OK);
    int64_t id = json_integer_value(json_object_get(o, "id"));
    json_decref(o);
    assert_int_equal(
        count(f, "SELECT COUNT(*) FROM users WHERE id = ? AND status = 'closing'", uid), 1);
    assert_int_equal(privacy_minor_request(f->c, &STAFF, uid, "g", "e", &o), ST_CONFLICT);
    /* The job runs the erasure a cancellation runs, without waiting. */
    run_jobs(f);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM users WHERE id = ? AND status = 'closed'", uid),
                     1);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM user_keys WHERE user_id = ?", uid), 0);
    assert_int_equal(
        count(f, "SELECT COUNT(*) FROM minor_requests WHERE id = ? AND status = 'closed'", id), 1);
    assert_int_equal(count(f,
                           "SELECT COUNT(*) FROM audit_log WHERE action = "
                           "'privacy.account_erased' AND subject_user_id = ?",
                           uid),
                     1);
    /* The ticket stays as proof, its text shredded. */
    assert_int_equal(
        count(f, "SELECT COUNT(*) FROM privacy_tickets WHERE user_id = ? AND body_enc IS NULL",
              uid),
        1);
    /* The guardian's contact stays with the request; reading it is audited. */
    assert_int_equal(privacy_minor_get(f->c, &STAFF, id, &o), ST_OK);
    assert_string_equal(json_string_value(json_object_get(o, "guardian_contact")),
                        "father, +86 139 0000 0001");
    json_decref(o);
    assert_int_equal(privacy_minor_request(f->c, &STAFF, uid, "g", "e", &o), ST_NOTFOUND);
}

/* ---------------------------------------------------------------- breaches */

static void test_breach_notices_go_out_in_batches(void **state)
{
    struct fx *f = *state;
    char sql[256];
    int64_t now = clock_now_ms();
    /* BREACH_NOTICE_BATCH + 1 plain accounts, one with an address. */
    for (int i = 0; i < BREACH_NOTICE_BATCH; i++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO users (display_name, created_at, updated_at) VALUES ('', %lld, %lld)",
                 (long long)now, (long long)now);
        exec(f, sql);
    }
    int64_t mailed = new_user(f, 0, "victim@example.com");
    new_user(f, ACC_ROLE_COMPLIANCE, NULL); /* staff: not affected by "all" */
    json_t *cats = json_pack("[s, s]", "contact", "identity"), *o = NULL;
    struct breach_new b = {
        .title = "Export bucket public",
        .description = "An export bucket was public for 3 hours.",
        .detected_at = now - 5 * HOUR_MS,
        .occurred_at = now - 8 * HOUR_MS,
        .major = true,
        .categories = cats,
        .measures = "Closed.",
        .user_advice = "Change your password.",
        .contact = "dpo@example.com",
        .all_users = true,
    };
    struct privacy_error e = {0};
    assert_int_equal(privacy_breach_open(f->c, &STAFF, &b, &o, &e), ST_OK);
    int64_t id = json_integer_value(json_object_get(o, "id"));
    json_t *reg = json_object_get(o, "regulator");
    assert_int_equal(json_integer_value(json_object_get(reg, "initial_due_at")),
                     b.detected_at + BREACH_MAJOR_REPORT_MS);
    assert_true(json_is_true(json_object_get(reg, "overdue")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "users"), "affected")),
                     BREACH_NOTICE_BATCH + 1);
    json_decref(o);
    int64_t queued = 0;
    assert_int_equal(privacy_breach_notify(f->c, &STAFF, id, &queued), ST_OK);
    assert_int_equal(queued, BREACH_NOTICE_BATCH + 1);
    /* A second click while the job waits queues nothing more. */
    assert_int_equal(privacy_breach_notify(f->c, &STAFF, id, &queued), ST_OK);
    assert_int_equal(
        count(f, "SELECT COUNT(*) FROM jobs WHERE kind = 'privacy.breach_notify'", INT64_MIN), 1);
    run_jobs(f);
    assert_int_equal(count(f,
                           "SELECT COUNT(*) FROM breach_affected WHERE incident_id = ? AND "
                           "notified_at IS NOT NULL",
                           id),
                     BREACH_NOTICE_BATCH + 1);
    assert_int_equal(
        count(f, "SELECT COUNT(*) FROM jobs WHERE kind = 'privacy.breach_notify'", INT64_MIN), 2);
    assert_int_equal(
        count(f, "SELECT COUNT(*) FROM inbox WHERE kind = 'privacy.breach_notice'", INT64_MIN),
        BREACH_NOTICE_BATCH + 1);
    assert_int_equal(count(f,
                           "SELECT COUNT(*) FROM outbox WHERE user_id = ? AND template = "
                           "'privacy.breach_notice'",
                           mailed),
                     1);
    assert_int_equal(privacy_breach_notify(f->c, &STAFF, id, &queued), ST_CONFLICT);
    assert_int_equal(privacy_breaches_mine(f->c, mailed, &o), ST_OK);
    assert_int_equal(json_array_size(json_object_get(o, "incidents")), 1);
    json_decref(o);
    /* The report: both languages, every fact. */
    char *doc = NULL;
    size_t len = 0;
    assert_int_equal(privacy_breach_report(f->c, &STAFF, id, false, &doc, &len), ST_OK);
    assert_non_null(strstr(doc, i18n_get("zh-Hans", "privacy.breach.report.measures")));
    assert_non_null(strstr(doc, i18n_get("en", "privacy.breach.report.measures")));
    assert_non_null(strstr(doc, i18n_get("zh-Hans", "privacy.category.identity")));
    assert_non_null(strstr(doc, "An export bucket was public"));
    assert_non_null(strstr(doc, "(UTC+08:00)"));
    assert_null(strstr(doc, "privacy.breach.report."));
    free(doc);
    assert_int_equal(privacy_breach_report(f->c, &STAFF, id, true, &doc, &len), ST_OK);
    assert_non_null(strstr(doc, "<!doctype html>"));
    free(doc);
    /* Bad input is named and nothing is registered. */
    int64_t before = count(f, "SELECT COUNT(*) FROM breach_incidents", INT64_MIN);
    json_t *bad = json_pack("[s]", "horoscope");
    b.categories = bad;
    assert_int_equal(privacy_breach_open(f->c, &STAFF, &b, &o, &e), ST_INVALID);
    assert_string_equal(e.field, "categories");
    b.categories = cats;
    b.detected_at = now + HOUR_MS;
    assert_int_equal(privacy_breach_open(f->c, &STAFF, &b, &o, &e), ST_INVALID);
    assert_string_equal(e.field, "detected_at");
    assert_int_equal(count(f, "SELECT COUNT(*) FROM breach_incidents", INT64_MIN), before);
    json_decref(bad);
    json_decref(cats);
}

/* ---------------------------------------------------------------- fixture */

static int setup_kind(void **state, enum db_kind kind)
{
    struct fx *f = calloc(1, sizeof *f);
    f->kind = kind;
    *state = f;
    clock_set_offset_ms(0);
    if (FX_OPEN(f, "requests", 4, true) != 0)
        return -1;
    return db_acquire(f->db, &f->c) == ST_OK ? 0 : -1;
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
    if (f->c)
        db_release(f->c);
    FX_CLOSE(f);
    free(f);
    clock_set_offset_ms(0);
    char err[100];
    workdays_configure(WORKDAYS_OFFSET_DEFAULT, "", "", err, sizeof err);
    return 0;
}

#define REQUEST_TESTS(setup)                                                                       \
    cmocka_unit_test_setup_teardown(test_ticket_deadlines_come_from_the_calendar, setup,           \
                                    teardown),                                                     \
        cmocka_unit_test_setup_teardown(test_overdue_requests_escalate_once, setup, teardown),     \
        cmocka_unit_test_setup_teardown(test_correction_decisions, setup, teardown),               \
        cmocka_unit_test_setup_teardown(test_minor_account_is_erased_at_once, setup, teardown),    \
        cmocka_unit_test_setup_teardown(test_breach_notices_go_out_in_batches, setup, teardown)

int main(void)
{
    log_init(LOG_ERROR, true);
    unsigned char key[MASTER_KEY_BYTES];
    if (sodium_init() < 0)
        return 1;
    randombytes_buf(key, sizeof key);
    if (crypto_init(key, 1) != ST_OK)
        return 1;
    sodium_memzero(key, sizeof key);
    i18n_init();
    unsetenv("ENTREPOT_MAIL_PROVIDER");
    unsetenv("ENTREPOT_SMS_PROVIDER");
    if (jobs_builtin_register() != ST_OK || privacy_consent_init() != ST_OK ||
        privacy_rights_init() != ST_OK || privacy_requests_init() != ST_OK) {
        fprintf(stderr, "cannot register the job kinds\n");
        return 1;
    }
    notify_set_marketing_check(NULL, NULL);
    const struct CMUnitTest sqlite[] = {REQUEST_TESTS(setup_sqlite)};
    const struct CMUnitTest postgres[] = {REQUEST_TESTS(setup_pg)};
    int failed = cmocka_run_group_tests_name("requests_sqlite", sqlite, NULL, NULL);
    if (fx_pg_url())
        failed += cmocka_run_group_tests_name("requests_postgres", postgres, NULL, NULL);
    else
        fx_pg_skipped("requests_postgres");
    notify_cleanup();
    return failed ? 1 : 0;
}
