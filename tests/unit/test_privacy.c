/*
 * test_privacy.c — src/privacy consent: policy versions, the consent gate,
 * receipts, the notices job, purpose switches and their history, notify's
 * marketing check wired to them, the inbox and the staff-access view.
 *
 * Every test in PRIVACY_TESTS runs on SQLite (a fresh file per test) and,
 * with ENTREPOT_TEST_PG_URL (scripts/pg-cluster.sh), on PostgreSQL too.
 * Accounts are plain rows of `users` (the consent code needs nothing
 * else); time is moved with clock_set_offset_ms.
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

#include "audit/audit.h"
#include "core/core.h"
#include "core/i18n.h"
#include "db/db.h"
#include "fixture.h"
#include "jobs/jobs.h"
#include "notify/notify.h"
#include "privacy/consent.h"

#define MIN_MS 60000LL

struct fx {
    FX_DB_FIELDS;
    struct db_conn *c;
};

/* ---------------------------------------------------------------- helpers */

static int64_t scalar(struct fx *f, const char *sql, int64_t arg)
{
    struct db_stmt *s;
    bool row = false;
    if (db_prepare(f->c, sql, &s) != ST_OK)
        fail_msg("db_prepare(%s): %s", sql, db_errmsg(f->c));
    if (arg >= 0)
        assert_int_equal(db_bind_int64(s, 1, arg), ST_OK);
    assert_int_equal(db_step(s, &row), ST_OK);
    int64_t v = row ? db_col_int64(s, 0) : -1;
    db_stmt_done(s);
    return v;
}

/* A user created now (the clock as moved), with an e-mail-less account. */
static int64_t new_user(struct fx *f)
{
    struct db_stmt *s;
    bool row = false;
    int64_t now = clock_now_ms();
    assert_int_equal(db_prepare(f->c,
                                "INSERT INTO users (created_at, updated_at) VALUES (?, ?) "
                                "RETURNING id",
                                &s),
                     ST_OK);
    assert_int_equal(db_bind_int64(s, 1, now), ST_OK);
    assert_int_equal(db_bind_int64(s, 2, now), ST_OK);
    assert_int_equal(db_step(s, &row), ST_OK);
    assert_true(row);
    int64_t id = db_col_int64(s, 0);
    while (row)
        assert_int_equal(db_step(s, &row), ST_OK);
    db_stmt_done(s);
    return id;
}

/* Publishes a version of doc taking effect `in_ms` from now (0: now). */
static int64_t publish(struct fx *f, enum policy_doc doc, bool material, int64_t in_ms,
                       const char *body)
{
    struct policy_new p = {
        .doc = doc,
        .material = material,
        .effective_at = in_ms ? clock_now_ms() + in_ms : 0,
        .lang = "en",
        .title = "Privacy policy",
        .body = body,
        .staff_id = 1,
        .staff_role = "compliance",
        .ip = "192.0.2.9",
    };
    json_t *v = NULL;
    struct privacy_error e = {0};
    enum st st = privacy_policy_publish(f->c, &p, &v, &e);
    if (st != ST_OK)
        fail_msg("publish: %s (%s %s)", st_name(st), e.field ? e.field : "", e.code ? e.code : "");
    int64_t id = json_integer_value(json_object_get(v, "id"));
    json_decref(v);
    return id;
}

static bool blocked(struct fx *f, int64_t user)
{
    bool b = true;
    assert_int_equal(privacy_gate_check(f->c, user, &b), ST_OK);
    /* The cached answer, when there is one, must agree with the database. */
    bool cb = !b;
    if (privacy_gate_cached(user, &cb) == ST_OK)
        assert_int_equal(cb, b);
    return b;
}

static enum st accept_v(struct fx *f, int64_t user, int64_t version, const char *lang,
                        bool *created)
{
    struct consent_client cl = {
        .ip = "198.51.100.7", .user_agent = "Test/1.0", .channel = CHANNEL_APP};
    bool dummy;
    return privacy_policy_accept(f->c, user, version, lang, &cl, NULL, created ? created : &dummy,
                                 NULL);
}

/* Runs every due job. */
static int run_jobs(struct fx *f)
{
    int n = 0;
    bool ran = true;
    while (ran) {
        assert_int_equal(jobs_run_one(f->db, "test", &ran), ST_OK);
        n += ran;
    }
    return n;
}

/* ---------------------------------------------------------------- policies */

static void test_publish_numbers_versions_and_checks_input(void **state)
{
    struct fx *f = *state;
    int64_t v1 = publish(f, POLICY_PRIVACY, false, 0, "one");
    int64_t v2 = publish(f, POLICY_PRIVACY, true, 0, "two");
    int64_t t1 = publish(f, POLICY_TERMS, false, 0, "terms");
    assert_int_equal(scalar(f, "SELECT version FROM policy_versions WHERE id = ?", v1), 1);
    assert_int_equal(scalar(f, "SELECT version FROM policy_versions WHERE id = ?", v2), 2);
    assert_int_equal(scalar(f, "SELECT version FROM policy_versions WHERE id = ?", t1), 1);
    /* Each publication is in the audit log, by the staff member. */
    assert_int_equal(
        scalar(f,
               "SELECT COUNT(*) FROM audit_log WHERE action = 'privacy.policy.publish' "
               "AND actor_id = 1 AND actor_role = 'compliance'",
               -1),
        3);

    struct privacy_error e = {0};
    json_t *v = NULL;
    struct policy_new bad = {.doc = POLICY_PRIVACY, .lang = "de", .title = "x", .body = "y"};
    assert_int_equal(privacy_policy_publish(f->c, &bad, &v, &e), ST_INVALID);
    assert_string_equal(e.field, "lang");
    bad.lang = "fr";
    bad.effective_at = clock_now_ms() - MIN_MS;
    assert_int_equal(privacy_policy_publish(f->c, &bad, &v, &e), ST_INVALID);
    assert_string_equal(e.field, "effective_at");
    assert_int_equal(scalar(f, "SELECT COUNT(*) FROM policy_versions", -1), 3);

    /* A translation is added once, never replaced. */
    assert_int_equal(
        privacy_policy_text_add(f->c, v2, "fr", "Politique", "deux", 1, "compliance", NULL, &v, &e),
        ST_OK);
    assert_string_equal(json_string_value(json_object_get(v, "body")), "deux");
    json_decref(v);
    assert_int_equal(privacy_policy_text_add(f->c, v2, "fr", "Politique", "autre", 1, "compliance",
                                             NULL, &v, &e),
                     ST_CONFLICT);
    assert_int_equal(
        privacy_policy_text_add(f->c, 9999, "fr", "P", "x", 1, "compliance", NULL, &v, &e),
        ST_NOTFOUND);

    /* Reading: the asked language, else English; the archive lists all. */
    assert_int_equal(privacy_policy_get(f->c, v2, "zh-Hant", &v), ST_OK);
    assert_string_equal(json_string_value(json_object_get(v, "lang")), "en");
    assert_string_equal(json_string_value(json_object_get(v, "body")), "two");
    assert_true(json_is_true(json_object_get(v, "in_force")));
    assert_int_equal(json_array_size(json_object_get(v, "languages")), 2);
    json_decref(v);
    assert_int_equal(privacy_policies_list(f->c, &v), ST_OK);
    json_t *list = json_object_get(v, "versions");
    assert_int_equal(json_array_size(list), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "id")), t1);
    assert_false(json_is_true(json_object_get(json_array_get(list, 2), "in_force"))); /* v1 */
    json_decref(v);
}

static void test_material_version_closes_the_gate_until_accepted(void **state)
{
    struct fx *f = *state;
    /* No material version: nobody is stopped, and no database is needed. */
    int64_t v1 = publish(f, POLICY_PRIVACY, false, 0, "Rule one.");
    int64_t old_user = new_user(f); /* registers under version 1 */
    bool b = true;
    assert_false(blocked(f, old_user));
    assert_int_equal(privacy_gate_cached(old_user, &b), ST_OK);
    assert_false(b);

    clock_set_offset_ms(MIN_MS);
    int64_t v2 = publish(f, POLICY_PRIVACY, true, 0, "Rule one.\nRule two.");
    assert_true(blocked(f, old_user));
    /* Someone who registers now accepted it by registering. */
    clock_set_offset_ms(2 * MIN_MS);
    int64_t new_user_id = new_user(f);
    assert_false(blocked(f, new_user_id));

    json_t *st = NULL;
    assert_int_equal(privacy_consent_state(f->c, old_user, "en", &st), ST_OK);
    assert_true(json_is_true(json_object_get(st, "consent_required")));
    json_t *doc = json_array_get(json_object_get(st, "documents"), 0);
    assert_true(json_is_true(json_object_get(doc, "must_accept")));
    json_t *acc = json_object_get(doc, "accepted");
    assert_int_equal(json_integer_value(json_object_get(acc, "id")), v1); /* in force at sign-up */
    assert_true(json_is_true(json_object_get(acc, "implicit")));
    assert_string_equal(json_string_value(json_object_get(acc, "body")), "Rule one.");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(doc, "in_force"), "body")),
        "Rule one.\nRule two.");
    json_decref(st);

    /* A superseded version or a missing language does not do. */
    assert_int_equal(accept_v(f, old_user, v1, "en", NULL), ST_CONFLICT);
    assert_int_equal(accept_v(f, old_user, v2, "fr", NULL), ST_INVALID);
    assert_int_equal(accept_v(f, old_user, 4242, "en", NULL), ST_NOTFOUND);
    assert_true(blocked(f, old_user));
    bool created = false;
    assert_int_equal(accept_v(f, old_user, v2, "en", &created), ST_OK);
    assert_true(created);
    assert_false(blocked(f, old_user));
    assert_int_equal(accept_v(f, old_user, v2, "en", &created), ST_OK);
    assert_false(created); /* one receipt per version */
    assert_int_equal(
        scalar(f, "SELECT COUNT(*) FROM policy_acceptances WHERE user_id = ?", old_user), 1);

    /* A later non-material version stops nobody; a material one for the
     * terms stops everyone who has not accepted the terms. */
    publish(f, POLICY_PRIVACY, false, 0, "Rule one.\nRule two, reworded.");
    assert_false(blocked(f, old_user));
    int64_t t1 = publish(f, POLICY_TERMS, true, 0, "Terms.");
    assert_true(blocked(f, old_user));
    assert_true(blocked(f, new_user_id));
    assert_int_equal(accept_v(f, new_user_id, t1, "en", NULL), ST_OK);
    assert_false(blocked(f, new_user_id));
}

static void test_a_version_taking_effect_later_closes_the_gate_then(void **state)
{
    struct fx *f = *state;
    int64_t u = new_user(f);
    int64_t v = publish(f, POLICY_PRIVACY, true, 60 * MIN_MS, "Later.");
    assert_false(blocked(f, u));
    /* It may be accepted ahead of time... */
    int64_t early = new_user(f);
    assert_int_equal(accept_v(f, early, v, "en", NULL), ST_OK);
    clock_set_offset_ms(61 * MIN_MS);
    /* ...and then closes the gate for the others, with nothing scheduled. */
    assert_true(blocked(f, u));
    assert_false(blocked(f, early));
    /* A node that cached "nothing is required" must not keep saying so:
     * its cached requirements follow the clock. */
    bool b = false;
    if (privacy_gate_cached(u, &b) == ST_OK)
        assert_true(b == true);
}

static void test_receipts_page_newest_first(void **state)
{
    struct fx *f = *state;
    int64_t u = new_user(f), other = new_user(f);
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        clock_set_offset_ms((i + 1) * MIN_MS);
        ids[i] = publish(f, i == 1 ? POLICY_TERMS : POLICY_PRIVACY, true, 0, "text");
        assert_int_equal(accept_v(f, u, ids[i], "en", NULL), ST_OK);
    }
    assert_int_equal(accept_v(f, other, ids[2], "en", NULL), ST_OK);
    json_t *a = NULL;
    int64_t next = 0;
    assert_int_equal(privacy_receipts_list(f->c, u, 0, 2, &a, &next), ST_OK);
    assert_int_equal(json_array_size(a), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "version_id")),
                     ids[2]);
    json_t *r = json_array_get(a, 1);
    assert_string_equal(json_string_value(json_object_get(r, "document")), "terms");
    assert_string_equal(json_string_value(json_object_get(r, "ip")), "198.51.100.7");
    assert_string_equal(json_string_value(json_object_get(r, "user_agent")), "Test/1.0");
    assert_string_equal(json_string_value(json_object_get(r, "channel")), "app");
    assert_true(next > 0);
    json_decref(a);
    assert_int_equal(privacy_receipts_list(f->c, u, next, 2, &a, &next), ST_OK);
    assert_int_equal(json_array_size(a), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "version_id")),
                     ids[0]);
    assert_int_equal(next, 0);
    json_decref(a);
}

static void test_notices_reach_every_active_user_once(void **state)
{
    struct fx *f = *state;
    int n = POLICY_NOTICE_BATCH + 3; /* two batches */
    assert_int_equal(db_begin(f->c), ST_OK);
    for (int i = 0; i < n; i++)
        new_user(f);
    assert_int_equal(db_commit(f->c), ST_OK);
    int64_t closed = new_user(f);
    assert_int_equal(db_exec(f->c, "UPDATE users SET status = 'closed' WHERE id = (SELECT "
                                   "MAX(id) FROM users)"),
                     ST_OK);
    int64_t v = publish(f, POLICY_PRIVACY, true, 0, "text");
    int ran = run_jobs(f);
    if (ran != 2) {
        struct db_stmt *s;
        bool row;
        assert_int_equal(db_prepare(f->c, "SELECT state, last_error FROM jobs", &s), ST_OK);
        while (db_step(s, &row) == ST_OK && row)
            print_error("job %s: %s\n", db_col_text(s, 0), db_col_text(s, 1));
        db_stmt_done(s);
    }
    assert_int_equal(ran, 2);
    assert_int_equal(scalar(f, "SELECT COUNT(*) FROM inbox WHERE kind = 'policy.published'", -1),
                     n);
    assert_int_equal(scalar(f, "SELECT COUNT(*) FROM inbox WHERE user_id = ?", closed), 0);
    /* A repeated run (a job retried after a crash) adds nothing. */
    assert_int_equal(db_exec(f->c, "DELETE FROM jobs"), ST_OK);
    assert_int_equal(db_begin(f->c), ST_OK);
    json_t *p = json_pack("{s:I, s:i}", "version_id", (json_int_t)v, "after", 0);
    assert_int_equal(jobs_enqueue(f->c, "privacy.policy_notice", p, NULL, NULL), ST_OK);
    json_decref(p);
    assert_int_equal(db_commit(f->c), ST_OK);
    assert_int_equal(run_jobs(f), 2);
    assert_int_equal(scalar(f, "SELECT COUNT(*) FROM inbox", -1), n);

    /* The notice names the version; the user reads and marks it. */
    int64_t first = scalar(f, "SELECT MIN(user_id) FROM inbox", -1);
    json_t *items = NULL;
    int64_t next = 0, unread = 0;
    assert_int_equal(privacy_inbox_list(f->c, first, 0, 10, &items, &next, &unread), ST_OK);
    assert_int_equal(unread, 1);
    json_t *item = json_array_get(items, 0);
    json_t *params = json_object_get(item, "params");
    assert_int_equal(json_integer_value(json_object_get(params, "version_id")), v);
    assert_true(json_is_true(json_object_get(params, "material")));
    int64_t id = json_integer_value(json_object_get(item, "id"));
    json_decref(items);
    assert_int_equal(privacy_inbox_read(f->c, first + 1, id), ST_NOTFOUND); /* not theirs */
    assert_int_equal(privacy_inbox_read(f->c, first, id), ST_OK);
    assert_int_equal(privacy_inbox_list(f->c, first, 0, 10, &items, &next, &unread), ST_OK);
    assert_int_equal(unread, 0);
    assert_false(json_is_null(json_object_get(json_array_get(items, 0), "read_at")));
    json_decref(items);
}

static void test_inbox_refuses_bad_notices(void **state)
{
    struct fx *f = *state;
    int64_t u = new_user(f);
    bool added = false;
    json_t *arr = json_array();
    assert_int_equal(privacy_inbox_add(f->c, u, "Bad Kind", NULL, NULL, &added), ST_INVALID);
    assert_int_equal(privacy_inbox_add(f->c, u, "x.y", arr, NULL, &added), ST_INVALID);
    assert_int_equal(privacy_inbox_add(f->c, 0, "x.y", NULL, NULL, &added), ST_INVALID);
    assert_int_equal(privacy_inbox_add(f->c, u, "x.y", NULL, NULL, &added), ST_OK);
    assert_true(added);
    assert_int_equal(privacy_inbox_add(f->c, u, "x.y", NULL, NULL, &added), ST_OK);
    assert_true(added); /* no ref: no de-duplication */
    assert_int_equal(privacy_inbox_add(f->c, u, "x.y", NULL, "k", &added), ST_OK);
    assert_int_equal(privacy_inbox_add(f->c, u, "x.y", NULL, "k", &added), ST_OK);
    assert_false(added);
    json_decref(arr);
}

/* ---------------------------------------------------------------- purposes */

static void test_purposes_default_off_and_keep_their_history(void **state)
{
    struct fx *f = *state;
    int64_t u = new_user(f), other = new_user(f);
    for (int p = 0; p < PURPOSE__COUNT; p++)
        assert_false(privacy_purpose_on(f->c, u, (enum privacy_purpose)p));
    enum privacy_purpose p;
    assert_true(privacy_purpose_parse("contact_matching", &p));
    assert_int_equal(p, PURPOSE_CONTACT_MATCHING);
    assert_false(privacy_purpose_parse("everything", &p));

    json_t *o = NULL;
    assert_int_equal(privacy_purpose_set(f->c, u, PURPOSE_RECOMMENDATIONS, true, CHANNEL_WEB, &o),
                     ST_OK);
    assert_true(json_is_true(json_object_get(o, "on")));
    json_decref(o);
    /* Takes effect at once: the very next read sees it, no cache. */
    assert_true(privacy_purpose_on(f->c, u, PURPOSE_RECOMMENDATIONS));
    assert_false(privacy_purpose_on(f->c, other, PURPOSE_RECOMMENDATIONS));
    /* Setting what is already set records nothing. */
    assert_int_equal(privacy_purpose_set(f->c, u, PURPOSE_RECOMMENDATIONS, true, CHANNEL_WEB, NULL),
                     ST_OK);
    clock_set_offset_ms(MIN_MS);
    assert_int_equal(
        privacy_purpose_set(f->c, u, PURPOSE_RECOMMENDATIONS, false, CHANNEL_EMAIL_LINK, NULL),
        ST_OK);
    assert_false(privacy_purpose_on(f->c, u, PURPOSE_RECOMMENDATIONS));

    json_t *h = NULL;
    int64_t next = 0;
    assert_int_equal(privacy_purpose_history(f->c, u, 0, 10, &h, &next), ST_OK);
    assert_int_equal(json_array_size(h), 2);
    json_t *last = json_array_get(h, 0);
    assert_true(json_is_true(json_object_get(last, "from")));
    assert_false(json_is_true(json_object_get(last, "to")));
    assert_string_equal(json_string_value(json_object_get(last, "channel")), "email_link");
    assert_string_equal(json_string_value(json_object_get(last, "purpose")), "recommendations");
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 1), "channel")), "web");
    json_decref(h);

    assert_int_equal(privacy_purposes_list(f->c, u, &o), ST_OK);
    assert_int_equal(json_array_size(json_object_get(o, "purposes")), PURPOSE__COUNT);
    json_decref(o);

    /* Flipping a switch is limited (each change is a history row). */
    enum st st = ST_OK;
    int changes = 0;
    for (int i = 0; i < 80 && st == ST_OK; i++, changes++)
        st = privacy_purpose_set(f->c, other, PURPOSE_MARKETING_CALLS, i % 2 == 0, CHANNEL_WEB,
                                 NULL);
    assert_int_equal(st, ST_RATELIMIT);
    assert_int_equal(changes, 61);
    clock_set_offset_ms(MIN_MS + 3600 * 1000LL + 1);
    assert_int_equal(
        privacy_purpose_set(f->c, other, PURPOSE_MARKETING_CALLS, false, CHANNEL_WEB, NULL), ST_OK);
}

/* A marketing message of a user with the switch off is not delivered; with
 * it on, it is; turning it off cancels what was queued. */
static void test_marketing_follows_the_switches(void **state)
{
    struct fx *f = *state;
    char err[256];
    assert_int_equal(notify_init(err, sizeof err), ST_OK);
    assert_int_equal(privacy_consent_init(), ST_OK);
    int64_t u = new_user(f);
    struct notify_msg m = {
        .channel = NOTIFY_EMAIL,
        .purpose = NOTIFY_MARKETING,
        .user_id = u,
        .to = "buyer@example.com",
        .template_name = "promo.spring",
        .lang = "en",
        .subject = "Spring offers",
        .body = "Offers.",
        .unsubscribe_url = "https://example.com/u",
    };
    struct notify_msg sms = m;
    sms.channel = NOTIFY_SMS;
    sms.to = "+8613900000001";
    sms.subject = NULL;
    sms.unsubscribe_url = NULL;
    sms.body = "Offers. Reply TD to stop.";
    int64_t ids[4];
    assert_int_equal(db_begin(f->c), ST_OK);
    assert_int_equal(notify_send(f->c, &m, &ids[0]), ST_OK);
    assert_int_equal(notify_send(f->c, &sms, &ids[1]), ST_OK);
    assert_int_equal(db_commit(f->c), ST_OK);
    assert_int_equal(notify_deliver_due(f->db, 10), 2);
    assert_int_equal(scalar(f, "SELECT COUNT(*) FROM outbox WHERE status = 'cancelled'", -1), 2);

    assert_int_equal(privacy_purpose_set(f->c, u, PURPOSE_MARKETING_EMAIL, true, CHANNEL_WEB, NULL),
                     ST_OK);
    assert_int_equal(db_begin(f->c), ST_OK);
    assert_int_equal(notify_send(f->c, &m, &ids[2]), ST_OK);
    assert_int_equal(notify_send(f->c, &sms, &ids[3]), ST_OK);
    assert_int_equal(db_commit(f->c), ST_OK);
    assert_int_equal(notify_deliver_due(f->db, 10), 2);
    assert_int_equal(scalar(f, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'", -1), 1);
    assert_int_equal(scalar(f, "SELECT channel = 'email' FROM outbox WHERE status = 'sent'", -1),
                     1);
    assert_int_equal(scalar(f, "SELECT COUNT(*) FROM disclosures WHERE user_id = ?", u), 1);

    /* Withdrawn after queueing: cancelled at delivery. */
    assert_int_equal(db_begin(f->c), ST_OK);
    assert_int_equal(notify_send(f->c, &m, NULL), ST_OK);
    assert_int_equal(db_commit(f->c), ST_OK);
    assert_int_equal(
        privacy_purpose_set(f->c, u, PURPOSE_MARKETING_EMAIL, false, CHANNEL_EMAIL_LINK, NULL),
        ST_OK);
    assert_int_equal(notify_deliver_due(f->db, 10), 1);
    assert_int_equal(scalar(f, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'", -1), 1);
    notify_set_marketing_check(NULL, NULL);
}

/* ---------------------------------------------------------------- staff access */

static void append(struct fx *f, int64_t actor, const char *role, const char *action,
                   int64_t subject, const char *fields, const char *reason)
{
    struct audit_entry e = {.actor_id = actor,
                            .actor_role = role,
                            .action = action,
                            .subject_user_id = subject,
                            .fields = fields,
                            .reason = reason,
                            .ip = "10.0.0.1"};
    assert_int_equal(db_begin(f->c), ST_OK);
    assert_int_equal(audit_append(f->c, &e, NULL), ST_OK);
    assert_int_equal(db_commit(f->c), ST_OK);
}

static void test_staff_access_shows_role_and_purpose_not_identity(void **state)
{
    struct fx *f = *state;
    int64_t u = new_user(f), staff = new_user(f), other = new_user(f);
    append(f, u, "user", "security.login", u, NULL, NULL);
    append(f, staff, "support", "staff.read_personal_data", u, "phone,email", "ticket 42");
    append(f, staff, "compliance", "staff.read_personal_data", other, "phone", "complaint 7");
    append(f, staff, "administrator", "security.staff_login", staff, NULL, NULL); /* own */
    append(f, 0, "system", "keys.rotate", u, NULL, NULL);
    json_t *a = NULL;
    int64_t next = 0;
    assert_int_equal(privacy_staff_accesses(f->c, u, 0, 10, &a, &next), ST_OK);
    assert_int_equal(json_array_size(a), 1);
    json_t *e = json_array_get(a, 0);
    assert_string_equal(json_string_value(json_object_get(e, "role")), "support");
    assert_string_equal(json_string_value(json_object_get(e, "purpose")), "ticket 42");
    assert_int_equal(json_array_size(json_object_get(e, "fields")), 2);
    assert_null(json_object_get(e, "actor_id"));
    assert_null(json_object_get(e, "ip"));
    json_decref(a);
    assert_int_equal(privacy_staff_accesses(f->c, staff, 0, 10, &a, &next), ST_OK);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
}

/* ---------------------------------------------------------------- fixtures */

static int setup_kind(void **state, enum db_kind kind)
{
    struct fx *f = calloc(1, sizeof *f);
    f->kind = kind;
    *state = f;
    clock_set_offset_ms(0);
    privacy_gate_forget();
    if (FX_OPEN(f, "privacy", 4, true) != 0)
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
    privacy_gate_forget();
    notify_set_marketing_check(NULL, NULL);
    return 0;
}

#define PRIVACY_TESTS(setup)                                                                       \
    cmocka_unit_test_setup_teardown(test_publish_numbers_versions_and_checks_input, setup,         \
                                    teardown),                                                     \
        cmocka_unit_test_setup_teardown(test_material_version_closes_the_gate_until_accepted,      \
                                        setup, teardown),                                          \
        cmocka_unit_test_setup_teardown(test_a_version_taking_effect_later_closes_the_gate_then,   \
                                        setup, teardown),                                          \
        cmocka_unit_test_setup_teardown(test_receipts_page_newest_first, setup, teardown),         \
        cmocka_unit_test_setup_teardown(test_notices_reach_every_active_user_once, setup,          \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(test_inbox_refuses_bad_notices, setup, teardown),          \
        cmocka_unit_test_setup_teardown(test_purposes_default_off_and_keep_their_history, setup,   \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(test_marketing_follows_the_switches, setup, teardown),     \
        cmocka_unit_test_setup_teardown(test_staff_access_shows_role_and_purpose_not_identity,     \
                                        setup, teardown)

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
    if (jobs_builtin_register() != ST_OK || privacy_consent_init() != ST_OK) {
        fprintf(stderr, "cannot register the job kinds\n");
        return 1;
    }
    notify_set_marketing_check(NULL, NULL);
    const struct CMUnitTest sqlite[] = {PRIVACY_TESTS(setup_sqlite)};
    const struct CMUnitTest postgres[] = {PRIVACY_TESTS(setup_pg)};
    int failed = cmocka_run_group_tests_name("privacy_sqlite", sqlite, NULL, NULL);
    if (fx_pg_url())
        failed += cmocka_run_group_tests_name("privacy_postgres", postgres, NULL, NULL);
    else
        fx_pg_skipped("privacy_postgres");
    notify_cleanup();
    return failed ? 1 : 0;
}
