/*
 * retention.c — the retention job (SPEC §2, retention): each data
 * category's rule, applied at expiry, as the registry states it.
 *
 * The design decision: the rules live in the registry only. This file
 * knows how to carry out each *kind* of rule (rows kept N ms after a time
 * column, a column's own period, the latest N rows of each owner), not
 * which tables have which rule. Three tables carry their rule out through
 * their module, because the rule has a condition SQL on the registry
 * alone would miss: the outbox never purges a message still waiting
 * (notify_purge), the job queue keeps dead jobs longer than done ones
 * (jobs_purge), and an export is a file besides its row. The audit log's
 * rule (removed up to a published checkpoint) waits for checkpoints,
 * which the audit module does not publish yet: its entries past their
 * period are counted as pending, never deleted.
 *
 * Every outcome is recorded per table in retention_runs, which the staff
 * view shows next to the rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/jobs.h"
#include "notify/notify.h"
#include "rights_int.h"

/* ---------------------------------------------------------------- module rules */

typedef enum st (*purge_fn)(struct db *db, struct db_conn *c, int64_t before, int64_t *removed);

static enum st purge_outbox(struct db *db, struct db_conn *c, int64_t before, int64_t *removed)
{
    (void)c;
    return notify_purge(db, before, removed);
}

static enum st purge_jobs(struct db *db, struct db_conn *c, int64_t before, int64_t *removed)
{
    (void)db;
    return jobs_purge(c, before, clock_now_ms() - JOBS_KEEP_DEAD_MS, removed);
}

static enum st purge_exports(struct db *db, struct db_conn *c, int64_t before, int64_t *removed)
{
    (void)db;
    return rights_exports_purge(c, before, removed);
}

static const struct {
    const char *table;
    purge_fn purge;
} MODULE_RULES[] = {
    {"outbox", purge_outbox},
    {"jobs", purge_jobs},
    {"privacy_exports", purge_exports},
};

static purge_fn module_rule(const char *table)
{
    for (size_t i = 0; i < sizeof MODULE_RULES / sizeof MODULE_RULES[0]; i++)
        if (strcmp(MODULE_RULES[i].table, table) == 0)
            return MODULE_RULES[i].purge;
    return NULL;
}

/* ---------------------------------------------------------------- generic rules */

static enum st exec_count(struct db_conn *c, const char *sql, int64_t arg, int64_t *n)
{
    int64_t changed = 0;
    enum st st =
        arg >= 0 ? rights_exec(c, &changed, sql, "i", arg) : rights_exec(c, &changed, sql, "");
    if (st == ST_OK)
        *n += changed;
    return st;
}

/* The table's rule. */
static enum st apply_rows(struct db *db, struct db_conn *c, const struct pd_table *t, int64_t now,
                          int64_t *removed, int64_t *pending)
{
    const struct pd_retention *k = &t->keep;
    char sql[512];
    if ((k->kind == PD_KEEP_AFTER || k->kind == PD_KEEP_CHECKPOINT || k->kind == PD_KEEP_LATEST) &&
        !rights_ident_ok(k->anchor))
        return ST_INVALID;
    purge_fn purge = module_rule(t->name);
    if (purge && k->kind == PD_KEEP_AFTER)
        return purge(db, c, now - k->keep_ms, removed);
    switch (k->kind) {
    case PD_KEEP_AFTER:
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s < ?", t->name, k->anchor);
        return exec_count(c, sql, now - k->keep_ms, removed);
    case PD_KEEP_CHECKPOINT: {
        /* No published checkpoint to remove entries up to: count them. */
        struct db_stmt *s;
        bool row;
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s WHERE %s < ?", t->name, k->anchor);
        enum st st = rights_query(c, &s, &row, sql, "i", now - k->keep_ms);
        if (st == ST_OK && row)
            *pending = db_col_int64(s, 0);
        if (s)
            db_stmt_done(s);
        return st;
    }
    case PD_KEEP_LATEST:
        if (!rights_ident_ok(t->owner) || t->owner_in)
            return ST_INVALID;
        snprintf(sql, sizeof sql,
                 "DELETE FROM %s WHERE %s < (SELECT x.%s FROM %s AS x WHERE x.%s = %s.%s "
                 "ORDER BY x.%s DESC LIMIT 1 OFFSET %lld)",
                 t->name, k->anchor, k->anchor, t->name, t->owner, t->name, t->owner, k->anchor,
                 (long long)(k->keep_n - 1));
        return exec_count(c, sql, -1, removed);
    default:
        return ST_OK; /* while the account exists: erasure's business */
    }
}

/* Columns with a period of their own: cleared (they are nullable). */
static enum st apply_columns(struct db *db, struct db_conn *c, const struct pd_table *t,
                             int64_t now, int64_t *removed)
{
    if (module_rule(t->name))
        return ST_OK; /* the module's rule covers its columns */
    struct rights_table live;
    enum st st = ST_OK;
    bool loaded = false;
    for (const struct pd_column *col = t->columns; col->name && st == ST_OK; col++) {
        if (col->keep.kind != PD_KEEP_AFTER)
            continue;
        if (!loaded) {
            st = rights_table_load(db, c, t->name, &live);
            loaded = st == ST_OK;
            if (!loaded)
                break;
        }
        const struct rights_col *rc = rights_col_find(&live, col->name);
        if (!rc || rc->notnull || !rights_ident_ok(col->keep.anchor))
            continue;
        char sql[512];
        snprintf(sql, sizeof sql, "UPDATE %s SET %s = NULL WHERE %s < ? AND %s IS NOT NULL",
                 t->name, col->name, col->keep.anchor, col->name);
        st = exec_count(c, sql, now - col->keep.keep_ms, removed);
    }
    return st == ST_NOTFOUND ? ST_OK : st;
}

static enum st record(struct db_conn *c, const char *table, int64_t now, int64_t removed,
                      int64_t pending)
{
    return rights_exec(c, NULL,
                       "INSERT INTO retention_runs (table_name, last_run_at, last_removed, "
                       "total_removed, pending) VALUES (?, ?, ?, ?, ?) ON CONFLICT (table_name) "
                       "DO UPDATE SET last_run_at = excluded.last_run_at, last_removed = "
                       "excluded.last_removed, total_removed = retention_runs.total_removed + "
                       "excluded.last_removed, pending = excluded.pending",
                       "tiiii", table, now, removed, removed, pending);
}

/* The run on c (no transaction open): each statement commits alone, so
 * one table's failure leaves the others done; the first failure is
 * returned after every table was tried. */
static enum st retention_on(struct db *db, struct db_conn *c, json_t **out)
{
    int64_t now = clock_now_ms();
    json_t *tables = json_object();
    enum st first = ST_OK;
    for (size_t i = 0; i < privacy_table_count(); i++) {
        const struct pd_table *t = privacy_table_at(i);
        if (t->not_personal || !rights_engine_has(db, t) || !rights_ident_ok(t->name))
            continue;
        int64_t removed = 0, pending = 0;
        enum st st = apply_rows(db, c, t, now, &removed, &pending);
        if (st == ST_OK)
            st = apply_columns(db, c, t, now, &removed);
        if (st == ST_OK)
            st = record(c, t->name, now, removed, pending);
        if (st != ST_OK) {
            log_kv(LOG_ERROR, "privacy retention: a rule failed", "table", t->name, "status",
                   st_name(st), (const char *)NULL);
            if (first == ST_OK)
                first = st;
            continue;
        }
        if (removed || pending)
            json_object_set_new(tables, t->name,
                                json_pack("{s:I, s:I}", "removed", (json_int_t)removed, "pending",
                                          (json_int_t)pending));
    }
    if (out && first == ST_OK)
        *out = json_pack("{s:o}", "tables", tables);
    else
        json_decref(tables);
    return first;
}

enum st privacy_retention_run(struct db *db, json_t **out)
{
    if (out)
        *out = NULL;
    struct db_conn *c;
    enum st st = db_acquire(db, &c);
    if (st != ST_OK)
        return st;
    st = retention_on(db, c, out);
    db_release(c);
    return st;
}

/* ---------------------------------------------------------------- the staff view */

enum st privacy_retention_rules(struct db_conn *c, json_t **out)
{
    *out = NULL;
    json_t *runs = json_object();
    struct db_stmt *s;
    bool row;
    enum st st = rights_query(c, &s, &row,
                              "SELECT table_name, last_run_at, last_removed, total_removed, "
                              "pending FROM retention_runs",
                              "");
    while (st == ST_OK && row) {
        json_object_set_new(
            runs, db_col_text(s, 0),
            json_pack("{s:I, s:I, s:I, s:I}", "last_run_at", (json_int_t)db_col_int64(s, 1),
                      "last_removed", (json_int_t)db_col_int64(s, 2), "total_removed",
                      (json_int_t)db_col_int64(s, 3), "pending", (json_int_t)db_col_int64(s, 4)));
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    json_t *rules = json_array();
    for (size_t i = 0; st == ST_OK && i < privacy_table_count(); i++) {
        const struct pd_table *t = privacy_table_at(i);
        if (t->not_personal)
            continue;
        json_t *cols = json_array();
        for (const struct pd_column *col = t->columns; col->name; col++)
            if (col->keep.kind != PD_KEEP_AS_ROW)
                json_array_append_new(cols, json_pack("{s:s, s:o}", "name", col->name, "retention",
                                                      privacy_retention_json(&col->keep)));
        json_t *run = json_object_get(runs, t->name);
        json_t *o = json_pack("{s:s, s:o, s:o, s:b}", "table", t->name, "retention",
                              privacy_retention_json(&t->keep), "columns", cols, "by_module",
                              module_rule(t->name) != NULL);
        json_object_set_new(o, "last_run_at",
                            run ? json_incref(json_object_get(run, "last_run_at")) : json_null());
        json_object_set_new(o, "last_removed",
                            json_integer(json_integer_value(json_object_get(run, "last_removed"))));
        json_object_set_new(
            o, "total_removed",
            json_integer(json_integer_value(json_object_get(run, "total_removed"))));
        json_object_set_new(o, "pending",
                            json_integer(json_integer_value(json_object_get(run, "pending"))));
        if (t->note)
            json_object_set_new(o, "note", json_string(t->note));
        json_array_append_new(rules, o);
    }
    json_decref(runs);
    if (st == ST_OK)
        *out = json_pack("{s:o}", "rules", rules);
    else
        json_decref(rules);
    return st;
}

/* ---------------------------------------------------------------- the job */

static enum st retention_run_job(struct job_ctx *ctx)
{
    json_t *report = NULL;
    enum st st = retention_on(ctx->db, ctx->c, &report);
    if (st == ST_OK) {
        char *text = json_dumps(report, JSON_COMPACT | JSON_SORT_KEYS);
        log_kv(LOG_INFO, "privacy retention: done", "removed", text ? text : "{}",
               (const char *)NULL);
        free(text);
    } else {
        job_set_error(ctx, "a retention rule failed: %s", st_name(st));
    }
    json_decref(report);
    return st;
}

static const struct job_kind retention_kinds[] = {
    {.name = "privacy.retention",
     .run = retention_run_job,
     .long_running = true,
     .max_attempts = 3,
     .lease_ms = 30 * 60000},
};

static const struct job_schedule retention_schedules[] = {
    {.name = "privacy.retention",
     .kind = "privacy.retention",
     .every_ms = PRIVACY_RETENTION_EVERY_MS},
};

enum st rights_retention_register(void)
{
    if (jobs_kind_find(retention_kinds[0].name))
        return ST_OK;
    enum st st = jobs_register(retention_kinds, sizeof retention_kinds / sizeof retention_kinds[0]);
    if (st == ST_OK)
        st = jobs_schedule_add(retention_schedules,
                               sizeof retention_schedules / sizeof retention_schedules[0]);
    return st;
}

enum st privacy_rights_init(void)
{
    enum st st = rights_export_register();
    if (st == ST_OK)
        st = rights_erase_register();
    if (st == ST_OK)
        st = rights_retention_register();
    return st;
}
