/*
 * breach.c — the breach register (requests.h): incidents with their
 * countdowns, the accounts they concern, the notices to those accounts
 * and the report for the regulator.
 *
 * The decision to know: an incident is a record about the platform, not
 * about a person (the registry declares breach_incidents not personal;
 * staff write it without personal data), while the list of affected
 * accounts and when each was told is personal and kept as proof. Notices
 * go out from a job in batches of BREACH_NOTICE_BATCH, each batch in one
 * transaction with its "notified" marks, through rights_tell: the in-app
 * inbox plus the outbox, whose delivery writes the disclosure ledger. A
 * repeated run sends nothing twice (marks and the inbox's ref).
 *
 * The regulator report carries every fact in Chinese and in English in
 * one document: the labels come from the catalogue in both languages,
 * the facts as staff wrote them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "audit/audit.h"
#include "consent_int.h"
#include "core/i18n.h"
#include "jobs/jobs.h"
#include "notify/notify.h"
#include "requests.h"
#include "rights_int.h"

#define BREACH_COLS                                                                                \
    "b.id, b.title, b.description, b.cause, b.impact, b.detected_at, b.occurred_at, b.major, "     \
    "b.categories, b.measures, b.user_advice, b.contact, b.status, b.created_at, b.updated_at, "   \
    "b.closed_at, b.regulator_reported_at, b.regulator_reference, b.notices_sent_at, "             \
    "(SELECT COUNT(*) FROM breach_affected a WHERE a.incident_id = b.id), "                        \
    "(SELECT COUNT(*) FROM breach_affected a WHERE a.incident_id = b.id "                          \
    "AND a.notified_at IS NOT NULL), "                                                             \
    "(SELECT COUNT(*) FROM breach_affected a JOIN users u ON u.id = a.user_id "                    \
    "WHERE a.incident_id = b.id AND a.notified_at IS NULL AND u.status <> 'closed')"

enum {
    B_ID,
    B_TITLE,
    B_DESCRIPTION,
    B_CAUSE,
    B_IMPACT,
    B_DETECTED,
    B_OCCURRED,
    B_MAJOR,
    B_CATEGORIES,
    B_MEASURES,
    B_ADVICE,
    B_CONTACT,
    B_STATUS,
    B_CREATED,
    B_UPDATED,
    B_CLOSED,
    B_REPORTED,
    B_REFERENCE,
    B_NOTICES,
    B_AFFECTED,
    B_NOTIFIED,
    B_PENDING,
};

/* The regulator's deadline that applies first: 4 h for a major incident. */
static int64_t first_due(int64_t detected, bool major)
{
    return detected + (major ? BREACH_MAJOR_REPORT_MS : BREACH_REPORT_MS);
}

static json_t *breach_row(struct db_stmt *s, int64_t now)
{
    int64_t detected = db_col_int64(s, B_DETECTED);
    bool major = db_col_int64(s, B_MAJOR) != 0, reported = !db_col_is_null(s, B_REPORTED);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(db_col_int64(s, B_ID)));
    static const struct {
        const char *name;
        int col;
    } texts[] = {{"title", B_TITLE},       {"description", B_DESCRIPTION},
                 {"cause", B_CAUSE},       {"impact", B_IMPACT},
                 {"measures", B_MEASURES}, {"user_advice", B_ADVICE},
                 {"contact", B_CONTACT},   {"status", B_STATUS}};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        json_object_set_new(o, texts[i].name, pc_text(s, texts[i].col));
    json_object_set_new(o, "detected_at", json_integer(detected));
    json_object_set_new(o, "occurred_at", pc_intval(s, B_OCCURRED));
    json_object_set_new(o, "major", json_boolean(major));
    json_object_set_new(o, "categories", pc_split(db_col_text(s, B_CATEGORIES)));
    json_object_set_new(o, "created_at", json_integer(db_col_int64(s, B_CREATED)));
    json_object_set_new(o, "updated_at", json_integer(db_col_int64(s, B_UPDATED)));
    json_object_set_new(o, "closed_at", pc_intval(s, B_CLOSED));
    json_object_set_new(o, "regulator",
                        json_pack("{s:o, s:I, s:o, s:o, s:b}", "initial_due_at",
                                  major ? json_integer(first_due(detected, true)) : json_null(),
                                  "due_at", (json_int_t)first_due(detected, false), "reported_at",
                                  pc_intval(s, B_REPORTED), "reference", pc_text(s, B_REFERENCE),
                                  "overdue", !reported && now >= first_due(detected, major)));
    json_object_set_new(o, "users",
                        json_pack("{s:I, s:I, s:I, s:o}", "affected",
                                  (json_int_t)db_col_int64(s, B_AFFECTED), "notified",
                                  (json_int_t)db_col_int64(s, B_NOTIFIED), "pending",
                                  (json_int_t)db_col_int64(s, B_PENDING), "notices_sent_at",
                                  pc_intval(s, B_NOTICES)));
    json_object_set_new(o, "now", json_integer(now));
    return o;
}

enum st privacy_breach_get(struct db_conn *c, int64_t id, json_t **out)
{
    *out = NULL;
    struct db_stmt *s;
    bool row;
    enum st st = pc_query(c, &s, &row,
                          "SELECT " BREACH_COLS " FROM breach_incidents b WHERE b.id = ?", "i", id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK)
        *out = breach_row(s, clock_now_ms());
    if (s)
        db_stmt_done(s);
    return st;
}

static json_t *breach_row_at(struct db_stmt *s, const void *now)
{
    return breach_row(s, *(const int64_t *)now);
}

enum st privacy_breaches_list(struct db_conn *c, json_t **out)
{
    int64_t now = clock_now_ms();
    json_t *a = NULL;
    enum st st = prq_rows(c, &a, breach_row_at, &now,
                          "SELECT " BREACH_COLS " FROM breach_incidents b "
                          "ORDER BY (b.status = 'closed'), b.detected_at DESC, b.id DESC LIMIT ?",
                          "i", (int64_t)PRQ_QUEUE_MAX);
    *out = st == ST_OK ? json_pack("{s:o, s:I}", "incidents", a, "now", (json_int_t)now) : NULL;
    return st;
}

/* ---------------------------------------------------------------- writing */

/* The categories as stored ("contact,identity"), each a registry
 * category; false for an unknown one or none. */
static bool categories_text(const json_t *cats, struct buf *out)
{
    size_t i;
    const json_t *v;
    json_array_foreach(cats, i, v)
    {
        const char *name = json_string_value(v);
        bool known = false;
        for (int k = 1; name && k < PD_CATEGORY__COUNT && !known; k++)
            known = strcmp(name, privacy_category_name((enum pd_category)k)) == 0;
        if (!known)
            return false;
        buf_printf(out, "%s%s", out->len ? "," : "", name);
    }
    return out->len > 0;
}

static enum st refuse(struct privacy_error *err, const char *field, const char *code)
{
    if (err) {
        err->field = field;
        err->code = code;
    }
    return ST_INVALID;
}

static enum st audit_incident(struct db_conn *c, const struct privacy_actor *a, const char *action,
                              int64_t id, int64_t count)
{
    char detail[96];
    snprintf(detail, sizeof detail, "{\"count\":%lld,\"incident_id\":%lld}", (long long)count,
             (long long)id);
    struct audit_entry e = {
        .actor_id = a->id, .actor_role = a->role, .action = action, .detail = detail, .ip = a->ip};
    return audit_append(c, &e, NULL);
}

enum st privacy_breach_update(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                              const json_t *patch, json_t **out, struct privacy_error *err)
{
    *out = NULL;
    static const char *const TEXTS[] = {"description", "cause",       "impact",
                                        "measures",    "user_advice", "contact"};
    int64_t now = clock_now_ms(), n = 0;
    enum st st = ST_OK;
    struct buf cats;
    buf_init(&cats, 1024);
    const json_t *cv = json_object_get(patch, "categories");
    if (cv && !categories_text(cv, &cats)) {
        buf_free(&cats);
        return refuse(err, "categories", "choice");
    }
    const char *status = json_string_value(json_object_get(patch, "status"));
    if (status && strcmp(status, "open") != 0 && strcmp(status, "closed") != 0) {
        buf_free(&cats);
        return refuse(err, "status", "choice");
    }
    st = db_begin(c);
    for (size_t i = 0; i < sizeof TEXTS / sizeof TEXTS[0] && st == ST_OK; i++) {
        const char *v = json_string_value(json_object_get(patch, TEXTS[i]));
        char sql[128];
        snprintf(sql, sizeof sql, "UPDATE breach_incidents SET %s = ? WHERE id = ?", TEXTS[i]);
        if (v)
            st = pc_exec(c, NULL, sql, "ti", v, id);
    }
    const json_t *major = json_object_get(patch, "major");
    if (st == ST_OK && json_is_boolean(major))
        st = pc_exec(c, NULL, "UPDATE breach_incidents SET major = ? WHERE id = ?", "ii",
                     (int64_t)json_is_true(major), id);
    if (st == ST_OK && cv)
        st = pc_exec(c, NULL, "UPDATE breach_incidents SET categories = ? WHERE id = ?", "ti",
                     cats.data, id);
    if (st == ST_OK && status)
        st = pc_exec(c, NULL, "UPDATE breach_incidents SET status = ?, closed_at = ? WHERE id = ?",
                     "tIi", status, strcmp(status, "closed") == 0 ? now : 0, id);
    if (st == ST_OK)
        st = pc_exec(c, &n, "UPDATE breach_incidents SET updated_at = ? WHERE id = ?", "ii", now,
                     id);
    if (st == ST_OK && n != 1)
        st = ST_NOTFOUND;
    if (st == ST_OK)
        st = audit_incident(c, a, "privacy.breach_updated", id, 0);
    buf_free(&cats);
    st = pc_finish(c, st);
    return st == ST_OK ? privacy_breach_get(c, id, out) : st;
}

static enum st incident_exists(struct db_conn *c, int64_t id)
{
    int64_t n = 0;
    return pc_int(c, &n, "SELECT id FROM breach_incidents WHERE id = ?", "i", id);
}

/* Every id must name an account before anything is added. */
static enum st ids_check(struct db_conn *c, const json_t *user_ids, struct privacy_error *err)
{
    size_t i;
    const json_t *v;
    json_array_foreach(user_ids, i, v)
    {
        int64_t uid = 0, found = 0;
        const char *s = json_string_value(v);
        if (!s || parse_int64(s, 1, INT64_MAX, &uid) != ST_OK)
            return refuse(err, "user_ids", "choice");
        enum st st = pc_int(c, &found, "SELECT id FROM users WHERE id = ?", "i", uid);
        if (st == ST_NOTFOUND)
            return refuse(err, "user_ids", "choice");
        if (st != ST_OK)
            return st;
    }
    return ST_OK;
}

/* Inside the caller's transaction: the accounts (checked ids, or every
 * open account that is not staff) incident id concerns. */
static enum st affected_insert(struct db_conn *c, int64_t id, const json_t *user_ids, bool all,
                               int64_t now, int64_t *total)
{
    enum st st = ST_OK;
    size_t i;
    const json_t *v;
    *total = 0;
    json_array_foreach(user_ids, i, v)
    {
        int64_t uid = 0, n = 0;
        parse_int64(json_string_value(v), 1, INT64_MAX, &uid);
        if (st == ST_OK)
            st = pc_exec(c, &n,
                         "INSERT INTO breach_affected (incident_id, user_id, added_at) "
                         "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                         "iii", id, uid, now);
        *total += n;
    }
    if (st == ST_OK && all) {
        int64_t n = 0;
        st = pc_exec(c, &n,
                     "INSERT INTO breach_affected (incident_id, user_id, added_at) "
                     "SELECT CAST(? AS BIGINT), id, CAST(? AS BIGINT) FROM users "
                     "WHERE status <> 'closed' AND staff_roles = 0 "
                     "ON CONFLICT DO NOTHING",
                     "ii", id, now);
        *total += n;
    }
    return st;
}

enum st privacy_breach_affected_add(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                                    const json_t *user_ids, bool all, int64_t *added,
                                    struct privacy_error *err)
{
    int64_t now = clock_now_ms(), total = 0;
    if (added)
        *added = 0;
    enum st st = incident_exists(c, id);
    if (st == ST_OK)
        st = ids_check(c, user_ids, err);
    if (st == ST_OK)
        st = db_begin(c);
    else
        return st;
    if (st == ST_OK)
        st = affected_insert(c, id, user_ids, all, now, &total);
    if (st == ST_OK)
        st = pc_exec(c, NULL, "UPDATE breach_incidents SET updated_at = ? WHERE id = ?", "ii", now,
                     id);
    if (st == ST_OK)
        st = audit_incident(c, a, "privacy.breach_affected", id, total);
    st = pc_finish(c, st);
    if (st == ST_OK && added)
        *added = total;
    return st;
}

enum st privacy_breach_open(struct db_conn *c, const struct privacy_actor *a,
                            const struct breach_new *b, json_t **out, struct privacy_error *err)
{
    *out = NULL;
    int64_t now = clock_now_ms(), id = 0;
    if (b->detected_at <= 0 || b->detected_at > now)
        return refuse(err, "detected_at", "range");
    if (b->occurred_at < 0 || b->occurred_at > b->detected_at)
        return refuse(err, "occurred_at", "range");
    struct buf cats;
    buf_init(&cats, 1024);
    if (!categories_text(b->categories, &cats)) {
        buf_free(&cats);
        return refuse(err, "categories", "choice");
    }
    int64_t added = 0;
    enum st st = ids_check(c, b->user_ids, err);
    if (st == ST_OK)
        st = db_begin(c);
    if (st != ST_OK) {
        buf_free(&cats);
        return st;
    }
    if (st == ST_OK)
        st =
            pc_int(c, &id,
                   "INSERT INTO breach_incidents (title, description, cause, impact, detected_at, "
                   "occurred_at, major, categories, measures, user_advice, contact, status, "
                   "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?) "
                   "RETURNING id",
                   "ttttiIittttii", b->title, b->description, b->cause ? b->cause : "",
                   b->impact ? b->impact : "", b->detected_at, b->occurred_at, (int64_t)b->major,
                   cats.data, b->measures ? b->measures : "", b->user_advice ? b->user_advice : "",
                   b->contact, now, now);
    buf_free(&cats);
    if (st == ST_OK)
        st = affected_insert(c, id, b->user_ids, b->all_users, now, &added);
    if (st == ST_OK)
        st = audit_incident(c, a, "privacy.breach_opened", id, added);
    st = pc_finish(c, st);
    return st == ST_OK ? privacy_breach_get(c, id, out) : st;
}

/* Accounts of incident id that wait for their notice. */
static enum st pending_count(struct db_conn *c, int64_t id, int64_t *n)
{
    return pc_int(c, n,
                  "SELECT COUNT(*) FROM breach_affected a JOIN users u ON u.id = a.user_id "
                  "WHERE a.incident_id = ? AND a.notified_at IS NULL AND u.status <> 'closed'",
                  "i", id);
}

/* Queues the next batch of incident id's notices (one job per state of
 * the incident: a second click while one waits queues nothing). */
static enum st notify_enqueue(struct db_conn *c, int64_t id)
{
    int64_t done = 0;
    enum st st = pc_int(c, &done,
                        "SELECT COUNT(*) FROM breach_affected WHERE incident_id = ? AND "
                        "notified_at IS NOT NULL",
                        "i", id);
    char key[64];
    snprintf(key, sizeof key, "breach-notify:%lld:%lld", (long long)id, (long long)done);
    json_t *payload = json_pack("{s:I}", "incident_id", (json_int_t)id);
    struct job_opts o = {.unique_key = key};
    if (st == ST_OK)
        st = jobs_enqueue(c, "privacy.breach_notify", payload, &o, NULL);
    json_decref(payload);
    return st;
}

enum st privacy_breach_notify(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                              int64_t *queued)
{
    *queued = 0;
    enum st st = incident_exists(c, id);
    if (st == ST_OK)
        st = pending_count(c, id, queued);
    if (st == ST_OK && *queued == 0)
        st = ST_CONFLICT;
    if (st == ST_OK)
        st = db_begin(c);
    else
        return st;
    if (st == ST_OK)
        st = notify_enqueue(c, id);
    if (st == ST_OK)
        st = audit_incident(c, a, "privacy.breach_notices", id, *queued);
    st = pc_finish(c, st);
    if (st == ST_OK)
        jobs_wake();
    return st;
}

enum st privacy_breach_reported(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                                const char *reference, json_t **out)
{
    *out = NULL;
    int64_t n = 0, now = clock_now_ms();
    enum st st = incident_exists(c, id);
    if (st == ST_OK)
        st = db_begin(c);
    else
        return st;
    if (st == ST_OK)
        st = pc_exec(c, &n,
                     "UPDATE breach_incidents SET regulator_reported_at = ?, regulator_reference "
                     "= ?, updated_at = ? WHERE id = ? AND regulator_reported_at IS NULL",
                     "itii", now, reference, now, id);
    if (st == ST_OK && n != 1)
        st = ST_CONFLICT;
    if (st == ST_OK)
        st = audit_incident(c, a, "privacy.breach_reported", id, 0);
    st = pc_finish(c, st);
    return st == ST_OK ? privacy_breach_get(c, id, out) : st;
}

/* An incident as an affected user reads it. */
static json_t *notice_row(struct db_stmt *s, const void *ctx)
{
    (void)ctx;
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "id",
                     (json_int_t)db_col_int64(s, 0), "title", db_col_text(s, 1), "description",
                     db_col_text(s, 2), "impact", db_col_text(s, 3), "measures", db_col_text(s, 4),
                     "user_advice", db_col_text(s, 5), "contact", db_col_text(s, 6), "detected_at",
                     (json_int_t)db_col_int64(s, 7), "notified_at", (json_int_t)db_col_int64(s, 8));
}

enum st privacy_breaches_mine(struct db_conn *c, int64_t user_id, json_t **out)
{
    json_t *a = NULL;
    enum st st = prq_rows(
        c, &a, notice_row, NULL,
        "SELECT b.id, b.title, b.description, b.impact, b.measures, b.user_advice, b.contact, "
        "b.detected_at, a.notified_at FROM breach_affected a JOIN breach_incidents b "
        "ON b.id = a.incident_id WHERE a.user_id = ? AND a.notified_at IS NOT NULL "
        "ORDER BY a.notified_at DESC, b.id DESC LIMIT ?",
        "ii", user_id, (int64_t)PRQ_QUEUE_MAX);
    *out = st == ST_OK ? json_pack("{s:o}", "incidents", a) : NULL;
    return st;
}

/* ---------------------------------------------------------------- the notices */

/* A time in the calendar's offset: "2025-03-14 17:05 (UTC+08:00)". */
static void local_time(int64_t ms, char out[48])
{
    const struct workdays *w = workdays_get();
    int64_t day = workdays_day(w, ms);
    int64_t in_day = ms + (int64_t)w->offset_min * 60000 - day * WORKDAYS_DAY_MS;
    char date[16];
    workdays_date_format(day, date);
    int off = w->offset_min < 0 ? -w->offset_min : w->offset_min;
    snprintf(out, 48, "%s %02d:%02d (UTC%c%02d:%02d)", date, (int)(in_day / 3600000),
             (int)(in_day / 60000 % 60), w->offset_min < 0 ? '-' : '+', off / 60, off % 60);
}

static enum st breach_notify_run(struct job_ctx *ctx)
{
    int64_t id = json_integer_value(json_object_get(ctx->payload, "incident_id"));
    if (id <= 0) {
        job_set_error(ctx, "payload has no incident_id");
        return ST_INVALID;
    }
    json_t *inc = NULL;
    enum st st = privacy_breach_get(ctx->c, id, &inc);
    if (st == ST_NOTFOUND) {
        job_set_error(ctx, "no incident %lld", (long long)id);
        return ST_INVALID;
    }
    json_t *users = NULL;
    if (st == ST_OK)
        st = prq_rows(ctx->c, &users, prq_int_row, NULL,
                      "SELECT a.user_id FROM breach_affected a JOIN users u ON u.id = a.user_id "
                      "WHERE a.incident_id = ? AND a.notified_at IS NULL AND u.status <> 'closed' "
                      "ORDER BY a.user_id LIMIT ?",
                      "ii", id, (int64_t)BREACH_NOTICE_BATCH);
    int64_t now = clock_now_ms();
    char when[48], ref[48];
    local_time(json_integer_value(json_object_get(inc, "detected_at")), when);
    snprintf(ref, sizeof ref, "breach:%lld", (long long)id);
    json_t *params = json_pack("{s:I, s:O}", "incident_id", (json_int_t)id, "title",
                               json_object_get(inc, "title"));
    size_t i;
    json_t *v;
    json_array_foreach(users, i, v)
    {
        int64_t uid = json_integer_value(v);
        json_t *me = NULL;
        if (st == ST_OK)
            st = accounts_me(ctx->c, uid, &me);
        if (st == ST_INTERNAL) /* its addresses cannot be read: the inbox only */
            st = ST_OK;
        const char *text[5];
        static const char *const names[] = {"title", "description", "measures", "user_advice",
                                            "contact"};
        for (int k = 0; k < 5; k++)
            text[k] = json_string_value(json_object_get(inc, names[k]));
        if (st == ST_OK)
            st = rights_tell(ctx->c, uid, me, false, rights_lang(me, NULL), "privacy.breach_notice",
                             params, ref, "privacy.mail.breach_notice", "title", text[0], "what",
                             text[1], "done", text[2], "advice", text[3], "contact", text[4],
                             "date", when, (const char *)NULL);
        json_decref(me);
        if (st == ST_OK)
            st = pc_exec(ctx->c, NULL,
                         "UPDATE breach_affected SET notified_at = ? WHERE incident_id = ? AND "
                         "user_id = ?",
                         "iii", now, id, uid);
    }
    if (st == ST_OK && json_array_size(users) > 0)
        st = pc_exec(ctx->c, NULL, "UPDATE breach_incidents SET notices_sent_at = ? WHERE id = ?",
                     "ii", now, id);
    /* A full batch may have more behind it. */
    if (st == ST_OK && json_array_size(users) == BREACH_NOTICE_BATCH)
        st = notify_enqueue(ctx->c, id);
    json_decref(params);
    json_decref(users);
    json_decref(inc);
    if (st != ST_OK)
        job_set_error(ctx, "breach notices of incident %lld: %s", (long long)id, st_name(st));
    else
        notify_worker_wake();
    return st;
}

static const struct job_kind breach_kinds[] = {
    {.name = "privacy.breach_notify", .run = breach_notify_run, .max_attempts = 10},
};

enum st privacy_breach_jobs_register(void)
{
    if (jobs_kind_find(breach_kinds[0].name))
        return ST_OK;
    return jobs_register(breach_kinds, 1);
}

/* ---------------------------------------------------------------- the report */

static void esc(struct buf *b, const char *s, bool html)
{
    for (; s && *s; s++) {
        if (html && *s == '<')
            buf_puts(b, "&lt;");
        else if (html && *s == '>')
            buf_puts(b, "&gt;");
        else if (html && *s == '&')
            buf_puts(b, "&amp;");
        else if (html && *s == '"')
            buf_puts(b, "&quot;");
        else if (html && *s == '\n')
            buf_puts(b, "<br>");
        else
            buf_putc(b, *s);
    }
}

#define ZH "zh-Hans"

/* "中文 / English" of a catalogue key. */
static void both(struct buf *b, const char *key)
{
    buf_printf(b, "%s / %s", i18n_get(ZH, key), i18n_get("en", key));
}

/* One fact: its label in Chinese and English, and its value. */
static void fact(struct buf *b, bool html, const char *label, const char *value)
{
    char key[96];
    snprintf(key, sizeof key, "privacy.breach.report.%s", label);
    const char *zh = i18n_get(ZH, key), *en = i18n_get("en", key);
    struct buf none;
    buf_init(&none, 256);
    both(&none, "privacy.breach.report.none");
    const char *v = value && *value ? value : none.data;
    if (html) {
        buf_puts(b, "<tr><th scope=\"row\">");
        esc(b, zh, true);
        buf_puts(b, "<br><span lang=\"en\">");
        esc(b, en, true);
        buf_puts(b, "</span></th><td>");
        esc(b, v, true);
        buf_puts(b, "</td></tr>\n");
    } else {
        buf_printf(b, "%s / %s:\n", zh, en);
        buf_puts(b, "  ");
        for (const char *p = v; *p; p++) {
            buf_putc(b, *p);
            if (*p == '\n')
                buf_puts(b, "  ");
        }
        buf_puts(b, "\n\n");
    }
    buf_free(&none);
}

static void time_fact(struct buf *b, bool html, const char *label, const json_t *ms,
                      const char *absent)
{
    char t[48];
    struct buf v;
    buf_init(&v, 256);
    if (json_is_integer(ms)) {
        local_time(json_integer_value(ms), t);
        buf_puts(&v, t);
    } else {
        both(&v, absent);
    }
    fact(b, html, label, v.data);
    buf_free(&v);
}

static void report_body(struct buf *b, const json_t *inc, bool html)
{
    const json_t *reg = json_object_get(inc, "regulator"), *users = json_object_get(inc, "users");
    bool major = json_is_true(json_object_get(inc, "major"));
    struct buf v;
    buf_init(&v, 4096);
    buf_printf(&v, "#%lld %s", (long long)json_integer_value(json_object_get(inc, "id")),
               json_string_value(json_object_get(inc, "title")));
    fact(b, html, "incident", v.data);
    buf_reset(&v);
    both(&v, major ? "privacy.breach.report.major" : "privacy.breach.report.not_major");
    fact(b, html, "level", v.data);
    time_fact(b, html, "detected", json_object_get(inc, "detected_at"),
              "privacy.breach.report.unknown");
    time_fact(b, html, "occurred", json_object_get(inc, "occurred_at"),
              "privacy.breach.report.unknown");
    buf_reset(&v);
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(inc, "categories"), i, c)
    {
        char key[64];
        snprintf(key, sizeof key, "privacy.category.%s", json_string_value(c));
        buf_printf(&v, "%s%s / %s", i ? "\n" : "", i18n_get(ZH, key), i18n_get("en", key));
    }
    fact(b, html, "categories", v.data);
    buf_reset(&v);
    buf_printf(&v, "%lld", (long long)json_integer_value(json_object_get(users, "affected")));
    fact(b, html, "affected", v.data);
    static const char *const texts[][2] = {{"description", "description"},
                                           {"cause", "cause"},
                                           {"impact", "impact"},
                                           {"measures", "measures"},
                                           {"advice", "user_advice"}};
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++)
        fact(b, html, texts[k][0], json_string_value(json_object_get(inc, texts[k][1])));
    buf_reset(&v);
    buf_printf(&v, "%lld / %lld", (long long)json_integer_value(json_object_get(users, "notified")),
               (long long)json_integer_value(json_object_get(users, "affected")));
    if (json_is_integer(json_object_get(users, "notices_sent_at"))) {
        char t[48];
        local_time(json_integer_value(json_object_get(users, "notices_sent_at")), t);
        buf_printf(&v, " (%s)", t);
    }
    fact(b, html, "notified", v.data);
    if (major)
        time_fact(b, html, "deadline_initial", json_object_get(reg, "initial_due_at"),
                  "privacy.breach.report.none");
    time_fact(b, html, "deadline_full", json_object_get(reg, "due_at"),
              "privacy.breach.report.none");
    time_fact(b, html, "reported_at", json_object_get(reg, "reported_at"),
              "privacy.breach.report.not_reported");
    fact(b, html, "contact", json_string_value(json_object_get(inc, "contact")));
    buf_reset(&v);
    both(&v, strcmp(json_string_value(json_object_get(inc, "status")), "closed") == 0
                 ? "privacy.breach.report.status.closed"
                 : "privacy.breach.report.status.open");
    fact(b, html, "status", v.data);
    time_fact(b, html, "generated", json_object_get(inc, "now"), "privacy.breach.report.none");
    buf_free(&v);
}

enum st privacy_breach_report(struct db_conn *c, const struct privacy_actor *a, int64_t id,
                              bool html, char **doc, size_t *len)
{
    *doc = NULL;
    *len = 0;
    json_t *inc = NULL;
    enum st st = privacy_breach_get(c, id, &inc);
    if (st != ST_OK)
        return st;
    struct buf b;
    buf_init(&b, BREACH_REPORT_MAX);
    if (html) {
        buf_puts(&b, "<!doctype html>\n<html lang=\"zh-Hans\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<title>");
        esc(&b, i18n_get(ZH, "privacy.breach.report.title"), true);
        buf_puts(&b, " / ");
        esc(&b, i18n_get("en", "privacy.breach.report.title"), true);
        buf_printf(&b,
                   " #%lld</title>\n<style>body{font-family:sans-serif;max-width:50em;"
                   "margin:2em auto}th{text-align:left;vertical-align:top;width:14em;"
                   "padding:.4em}td{padding:.4em}tr{border-bottom:1px solid #ccc}"
                   "table{border-collapse:collapse}</style>\n</head>\n<body>\n<h1>",
                   (long long)id);
        esc(&b, i18n_get(ZH, "privacy.breach.report.title"), true);
        buf_puts(&b, "<br><span lang=\"en\">");
        esc(&b, i18n_get("en", "privacy.breach.report.title"), true);
        buf_puts(&b, "</span></h1>\n<table>\n");
        report_body(&b, inc, true);
        buf_puts(&b, "</table>\n</body>\n</html>\n");
    } else {
        both(&b, "privacy.breach.report.title");
        buf_printf(&b, " #%lld\n\n", (long long)id);
        report_body(&b, inc, false);
    }
    json_decref(inc);
    if (b.len >= BREACH_REPORT_MAX) {
        buf_free(&b);
        return ST_TOOLARGE;
    }
    st = db_begin(c);
    if (st == ST_OK)
        st = audit_incident(c, a, "privacy.breach_report", id, 0);
    st = pc_finish(c, st);
    if (st != ST_OK) {
        buf_free(&b);
        return st;
    }
    *len = b.len;
    *doc = buf_take(&b);
    return ST_OK;
}
