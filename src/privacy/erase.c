/*
 * erase.c — closing an account (SPEC §2, deletion / account cancellation):
 * the request with its cooling-off period, taking it back, and the
 * erasure itself.
 *
 * The design decision: the erasure keeps no list of tables either. It
 * walks the registry backwards (so a table owned through another one, the
 * search copy of posts, is treated before the rows it hangs on are
 * detached) and gives every row and column of the account the treatment
 * registered for it (struct pd_table in privacy.h): the data key's row is
 * deleted, which is the crypto-shredding — every field sealed under it,
 * in the database, in its backups and in export archives, is unreadable
 * from then on; the other rows are deleted, detached or kept for their
 * legal period; public content is cleared or kept detached as the user
 * chose when they asked. The users row stays as a tombstone (id, type,
 * dates, status closed) so that what must stay (audit entries, consent
 * receipts, login records) still points at a valid account number.
 *
 * Everything happens in the erasure job's one transaction: it completes
 * entirely or not at all, and exactly once (the job runner's contract).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "audit/audit.h"
#include "core/i18n.h"
#include "core/workdays.h"
#include "jobs/jobs.h"
#include "notify/notify.h"
#include "rights_int.h"

#define WITHDRAW_PATH "/api/v1/me/cancel/withdraw"

static const char *const CONTENT_NAMES[] = {
    [PRIVACY_CONTENT_DELETE] = "delete", [PRIVACY_CONTENT_ANONYMISE] = "anonymise"};

const char *privacy_content_name(enum privacy_content k)
{
    return (unsigned)k < 2 ? CONTENT_NAMES[k] : "";
}

bool privacy_content_parse(const char *s, enum privacy_content *out)
{
    for (int i = 0; s && i < 2; i++)
        if (strcmp(s, CONTENT_NAMES[i]) == 0) {
            *out = (enum privacy_content)i;
            return true;
        }
    return false;
}

/* ---------------------------------------------------------------- the erasure */

/* The account as accounts_me shows it (language, addresses), or NULL
 * when its addresses can no longer be read (its key is gone). */
static enum st contact_of(struct db_conn *c, int64_t user_id, json_t **me)
{
    enum st st = accounts_me(c, user_id, me);
    if (st == ST_INTERNAL) {
        *me = NULL;
        st = ST_OK;
    }
    return st;
}

struct erase {
    struct db *db;
    struct db_conn *c;
    int64_t user_id;
    enum privacy_content content;
    int64_t now;
    json_t *tables; /* the report: table → rows changed */
};

/* What is written in place of a cleared value: NULL, or for a NOT NULL
 * column its default, else an empty value of its type; bytes get fresh
 * random ones, so a unique key (a token hash) stays unique and matches
 * nothing. */
static enum st neutral(struct buf *sql, const struct erase *e, const struct rights_col *rc)
{
    if (!rc->notnull)
        return buf_puts(sql, "NULL");
    if (rc->dflt[0])
        return buf_puts(sql, rc->dflt);
    switch (rc->type) {
    case RT_INT:
        return buf_puts(sql, "0");
    case RT_TEXT:
        return buf_puts(sql, "''");
    case RT_BLOB:
        break;
    }
    return buf_puts(sql, db_kind(e->db) == DB_POSTGRES ? "sha256(random()::text::bytea)"
                                                       : "randomblob(32)");
}

static void report(struct erase *e, const char *table, int64_t n)
{
    if (n <= 0)
        return;
    json_int_t before = json_integer_value(json_object_get(e->tables, table));
    json_object_set_new(e->tables, table, json_integer(before + n));
}

/* Runs sql (its one parameter: the account) and reports the rows. */
static enum st run(struct erase *e, const char *table, const char *sql)
{
    int64_t n = 0;
    enum st st = rights_exec(e->c, &n, sql, "i", e->user_id);
    if (st == ST_OK)
        report(e, table, n);
    else
        log_kv(LOG_ERROR, "privacy erase: a statement failed", "table", table, "status",
               st_name(st), "error", db_errmsg(e->c), (const char *)NULL);
    return st;
}

/* The rows the account owns: deleted, or their columns treated. */
static enum st erase_owned(struct erase *e, const struct pd_table *t,
                           const struct rights_table *live)
{
    const struct pd_column *owner = privacy_column_find(t, t->owner);
    bool owner_personal = owner && privacy_column_personal(owner);
    struct buf sql;
    buf_init(&sql, 8192);
    enum st st;
    if (owner_personal && owner->erase == PD_ERASE_DELETE) {
        st = buf_printf(&sql, "DELETE FROM %s", t->name);
        if (st == ST_OK)
            st = rights_owner_where(t, &sql);
        if (st == ST_OK)
            st = run(e, t->name, sql.data);
        buf_free(&sql);
        return st;
    }
    st = buf_printf(&sql, "UPDATE %s SET ", t->name);
    size_t set = 0;
    bool removed = false;
    for (size_t i = 0; i < live->n && st == ST_OK; i++) {
        const struct rights_col *rc = &live->cols[i];
        const struct pd_column *col = privacy_column_find(t, rc->name);
        if (!col || col == owner || !privacy_column_personal(col))
            continue;
        if (col->erase != PD_ERASE_SHRED && col->erase != PD_ERASE_DELETE)
            continue; /* anonymised (kept in the detached row) or kept for the law */
        if (col->public_content && e->content == PRIVACY_CONTENT_ANONYMISE)
            continue;
        removed |= col->public_content;
        st = buf_printf(&sql, "%s%s = ", set++ ? ", " : "", rc->name);
        if (st == ST_OK)
            st = neutral(&sql, e, rc);
    }
    if (st == ST_OK && removed && t->removed_at && rights_ident_ok(t->removed_at))
        st = buf_printf(&sql, "%s%s = COALESCE(%s, %lld)", set++ ? ", " : "", t->removed_at,
                        t->removed_at, (long long)e->now);
    if (st == ST_OK && owner_personal && owner->erase == PD_ERASE_ANONYMISE)
        st = buf_printf(&sql, "%s%s = NULL", set++ ? ", " : "", t->owner);
    if (st == ST_OK && set)
        st = rights_owner_where(t, &sql);
    if (st == ST_OK && set)
        st = run(e, t->name, sql.data);
    buf_free(&sql);
    return st;
}

/* The rows that name the account in another column than the owner. */
static enum st erase_refs(struct erase *e, const struct pd_table *t,
                          const struct rights_table *live)
{
    enum st st = ST_OK;
    for (const struct pd_column *col = t->columns; col->name && st == ST_OK; col++) {
        if (!col->account_ref || !rights_col_find(live, col->name) ||
            col->erase == PD_ERASE_KEEP_FOR_LAW)
            continue;
        char sql[256];
        if (col->erase == PD_ERASE_DELETE)
            snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s = ?", t->name, col->name);
        else
            snprintf(sql, sizeof sql, "UPDATE %s SET %s = NULL WHERE %s = ?", t->name, col->name,
                     col->name);
        st = run(e, t->name, sql);
    }
    return st;
}

/* The last message, to the address the account had: the erasure is done. */
static enum st farewell(struct erase *e, const json_t *me)
{
    char date[32];
    rights_date(e->now, date);
    return rights_tell(e->c, e->user_id, me, true, rights_lang(me, NULL), NULL, NULL, NULL,
                       "privacy.mail.cancel_done", "date", date, (const char *)NULL);
}

enum st privacy_erase_account(struct db *db, struct db_conn *c, int64_t user_id,
                              enum privacy_content content, json_t **out)
{
    if (out)
        *out = NULL;
    struct erase e = {
        .db = db,
        .c = c,
        .user_id = user_id,
        .content = content,
        .now = clock_now_ms(),
        .tables = json_object(),
    };
    /* Read what the last message needs before the key is gone. An account
     * whose key is already gone (an erasure run before) has no address. */
    json_t *me = NULL;
    enum st st = contact_of(c, user_id, &me);
    if (st == ST_OK)
        rights_exports_forget(c, user_id);
    for (size_t i = privacy_table_count(); i-- > 0 && st == ST_OK;) {
        const struct pd_table *t = privacy_table_at(i);
        if (t->not_personal || !rights_engine_has(db, t))
            continue;
        struct rights_table live;
        st = rights_table_load(db, c, t->name, &live);
        if (st == ST_NOTFOUND) {
            st = ST_OK;
            continue;
        }
        if (st == ST_OK && t->owner)
            st = erase_owned(&e, t, &live);
        if (st == ST_OK)
            st = erase_refs(&e, t, &live);
    }
    /* The tombstone: the account is closed for good. */
    if (st == ST_OK)
        st = run(&e, "users", "UPDATE users SET status = 'closed' WHERE id = ?");
    if (st == ST_OK) {
        json_t *d =
            json_pack("{s:s, s:O}", "content", privacy_content_name(content), "tables", e.tables);
        char *detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(d);
        struct audit_entry a = {.actor_role = "system",
                                .action = "privacy.account_erased",
                                .subject_user_id = user_id,
                                .detail = detail};
        st = audit_append(c, &a, NULL);
        free(detail);
    }
    if (st == ST_OK && me)
        st = farewell(&e, me);
    json_decref(me);
    accounts_sessions_forget_user(user_id);
    if (st == ST_OK && out)
        *out = json_pack("{s:O}", "tables", e.tables);
    json_decref(e.tables);
    return st;
}

/* ---------------------------------------------------------------- requests */

#define CANCEL_COLUMNS "id, status, content, requested_at, effective_at, closed_at"

static json_t *cancel_json(struct db_stmt *s, const char *lang)
{
    const char *status = db_col_text(s, 1);
    bool pending = strcmp(status, "pending") == 0;
    /* The promise: erased within PRIVACY_ERASE_WORKDAYS working days of the
     * request; the cooling-off period (at most 10 days) ends well before. */
    int64_t deadline = workdays_add(workdays_get(), db_col_int64(s, 3), PRIVACY_ERASE_WORKDAYS);
    json_t *o = json_pack(
        "{s:I, s:s, s:s, s:I, s:I, s:I, s:o}", "id", (json_int_t)db_col_int64(s, 0), "status",
        status, "content", db_col_text(s, 2), "requested_at", (json_int_t)db_col_int64(s, 3),
        "effective_at", (json_int_t)db_col_int64(s, 4), "deadline_at", (json_int_t)deadline,
        "closed_at", db_col_is_null(s, 5) ? json_null() : json_integer(db_col_int64(s, 5)));
    if (pending) {
        char date[32];
        rights_date(db_col_int64(s, 4), date);
        char *how =
            i18n_format(lang, "privacy.cancel.how_to_withdraw", "date", date, (const char *)NULL);
        json_object_set_new(
            o, "withdraw",
            json_pack("{s:s, s:s, s:s}", "method", "POST", "path", WITHDRAW_PATH, "how", how));
        free(how);
    }
    return o;
}

/* The request id (0 = the pending one) of user_id, as JSON in *out. */
static enum st cancel_get(struct db_conn *c, int64_t user_id, int64_t id, const char *lang,
                          json_t **out)
{
    struct db_stmt *s;
    bool row;
    enum st st = id ? rights_query(c, &s, &row,
                                   "SELECT " CANCEL_COLUMNS
                                   " FROM account_cancellations WHERE id = ? AND user_id = ?",
                                   "ii", id, user_id)
                    : rights_query(c, &s, &row,
                                   "SELECT " CANCEL_COLUMNS " FROM account_cancellations "
                                   "WHERE user_id = ? AND status = 'pending'",
                                   "i", user_id);
    if (st == ST_OK)
        *out = row ? cancel_json(s, lang) : NULL;
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (s)
        db_stmt_done(s);
    return st;
}

enum st privacy_cancel_status(struct db_conn *c, int64_t user_id, json_t **out)
{
    enum st st = cancel_get(c, user_id, 0, "en", out);
    if (st == ST_NOTFOUND) {
        *out = json_null();
        st = ST_OK;
    }
    return st;
}

/* The end of a request's transaction: the request as JSON into *out,
 * committed; nothing (and a rollback) when st says it failed. */
static enum st cancel_answer(struct db_conn *c, int64_t user_id, int64_t id, const char *lang,
                             enum st st, json_t **out)
{
    if (st == ST_OK)
        st = cancel_get(c, user_id, id, lang, out);
    st = rights_finish(c, st);
    if (st != ST_OK) {
        json_decref(*out);
        *out = NULL;
        return st;
    }
    notify_worker_wake();
    jobs_wake();
    return st;
}

static enum st audit_user(struct db_conn *c, int64_t user_id, const char *action, int64_t id)
{
    char detail[64];
    snprintf(detail, sizeof detail, "{\"cancellation_id\":%lld}", (long long)id);
    struct audit_entry a = {.actor_id = user_id,
                            .actor_role = "user",
                            .action = action,
                            .subject_user_id = user_id,
                            .detail = detail};
    return audit_append(c, &a, NULL);
}

enum st privacy_cancel_request(struct db_conn *c, int64_t user_id, enum privacy_content content,
                               const char *lang, json_t **out)
{
    *out = NULL;
    json_t *me = NULL;
    enum st st = contact_of(c, user_id, &me);
    if (st != ST_OK)
        return st;
    lang = rights_lang(me, lang);
    int64_t now = clock_now_ms(), effective = now + rights_opt()->cooling_off_ms, id = 0, job = 0;
    st = db_begin(c);
    if (st == ST_OK)
        st = rights_insert(c, &id,
                           "INSERT INTO account_cancellations (user_id, status, content, "
                           "requested_at, effective_at) VALUES (?, 'pending', ?, ?, ?) "
                           "RETURNING id",
                           "itii", user_id, privacy_content_name(content), now, effective);
    if (st == ST_OK)
        st = rights_enqueue(c, "privacy.erase", "cancellation_id", id, user_id, effective, &job);
    if (st == ST_OK)
        st = rights_exec(c, NULL, "UPDATE account_cancellations SET job_id = ? WHERE id = ?", "ii",
                         job, id);
    if (st == ST_OK)
        st = audit_user(c, user_id, "privacy.cancel_requested", id);
    if (st == ST_OK) {
        char date[32], ref[48], ckey[64];
        rights_date(effective, date);
        snprintf(ref, sizeof ref, "cancel:%lld", (long long)id);
        snprintf(ckey, sizeof ckey, "privacy.cancel.content.%s", privacy_content_name(content));
        json_t *params =
            json_pack("{s:I, s:I, s:s}", "cancellation_id", (json_int_t)id, "effective_at",
                      (json_int_t)effective, "content", privacy_content_name(content));
        st = rights_tell(c, user_id, me, false, lang, "privacy.cancel_requested", params, ref,
                         "privacy.mail.cancel_requested", "date", date, "content",
                         i18n_get(lang, ckey), "path", WITHDRAW_PATH, (const char *)NULL);
        json_decref(params);
    }
    json_decref(me);
    return cancel_answer(c, user_id, id, lang, st, out);
}

enum st privacy_cancel_withdraw(struct db_conn *c, int64_t user_id, const char *lang, json_t **out)
{
    *out = NULL;
    json_t *me = NULL;
    enum st st = contact_of(c, user_id, &me);
    if (st != ST_OK)
        return st;
    lang = rights_lang(me, lang);
    int64_t id = 0, job = 0, changed = 0;
    st = db_begin(c);
    struct db_stmt *s = NULL;
    bool row = false;
    if (st == ST_OK)
        st = rights_query(c, &s, &row,
                          "SELECT id, job_id FROM account_cancellations WHERE user_id = ? AND "
                          "status = 'pending'",
                          "i", user_id);
    if (st == ST_OK && row) {
        id = db_col_int64(s, 0);
        job = db_col_int64(s, 1);
    }
    if (s)
        db_stmt_done(s);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    /* The erasure job takes the same row first when it runs: whichever
     * writes first wins, the other finds nothing pending. */
    if (st == ST_OK)
        st = rights_exec(c, &changed,
                         "UPDATE account_cancellations SET status = 'withdrawn', closed_at = ? "
                         "WHERE id = ? AND status = 'pending'",
                         "ii", clock_now_ms(), id);
    if (st == ST_OK && changed != 1)
        st = ST_NOTFOUND;
    if (st == ST_OK && job)
        st = jobs_cancel(c, job, NULL);
    if (st == ST_OK)
        st = audit_user(c, user_id, "privacy.cancel_withdrawn", id);
    if (st == ST_OK) {
        char ref[48];
        snprintf(ref, sizeof ref, "cancel-withdrawn:%lld", (long long)id);
        json_t *params = json_pack("{s:I}", "cancellation_id", (json_int_t)id);
        st = rights_tell(c, user_id, me, false, lang, "privacy.cancel_withdrawn", params, ref,
                         "privacy.mail.cancel_withdrawn", (const char *)NULL);
        json_decref(params);
    }
    json_decref(me);
    return cancel_answer(c, user_id, id, lang, st, out);
}

/* ---------------------------------------------------------------- the job */

static enum st erase_run(struct job_ctx *ctx)
{
    int64_t id = json_integer_value(json_object_get(ctx->payload, "cancellation_id"));
    if (id <= 0) {
        job_set_error(ctx, "payload has no cancellation_id");
        return ST_INVALID;
    }
    struct db_stmt *s;
    bool row;
    int64_t user_id = 0, changed = 0;
    enum privacy_content content = PRIVACY_CONTENT_ANONYMISE;
    enum st st = rights_query(ctx->c, &s, &row,
                              "SELECT user_id, content FROM account_cancellations WHERE id = ? "
                              "AND status = 'pending'",
                              "i", id);
    if (st == ST_OK && row) {
        user_id = db_col_int64(s, 0);
        privacy_content_parse(db_col_text(s, 1), &content);
    }
    if (s)
        db_stmt_done(s);
    if (st != ST_OK || !row)
        return st; /* taken back */
    st = rights_exec(ctx->c, &changed,
                     "UPDATE account_cancellations SET status = 'completed', closed_at = ? "
                     "WHERE id = ? AND status = 'pending'",
                     "ii", clock_now_ms(), id);
    if (st != ST_OK || changed != 1)
        return st;
    st = privacy_erase_account(ctx->db, ctx->c, user_id, content, NULL);
    if (st != ST_OK)
        job_set_error(ctx, "erasure of cancellation %lld: %s", (long long)id, st_name(st));
    return st;
}

static const struct job_kind erase_kinds[] = {
    {.name = "privacy.erase", .run = erase_run, .max_attempts = 10, .backoff_ms = 60000},
};

enum st rights_erase_register(void)
{
    if (jobs_kind_find(erase_kinds[0].name))
        return ST_OK;
    return jobs_register(erase_kinds, sizeof erase_kinds / sizeof erase_kinds[0]);
}
