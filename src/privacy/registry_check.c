/*
 * registry_check.c — holds the personal-data registry to its own rules and
 * to the live schema.
 *
 * Both checks take the registry as an argument rather than reading the
 * live one, so the unit test can hand them a broken registry and see each
 * rule fire: a check that cannot fail would prove nothing. Problems are
 * English sentences for developers (a failing test, `entrepot privacy
 * check`), never shown to users.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "privacy.h"

static void problem(json_t *problems, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void problem(json_t *problems, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(problems, json_string(msg));
}

static bool has_column(const struct pd_table *t, const char *name)
{
    return name && privacy_column_find(t, name) != NULL;
}

/* A retention rule: kind in range for its place, anchor a column of t. */
static void check_keep(const struct pd_table *t, const char *col, const struct pd_retention *k,
                       bool row, json_t *problems)
{
    const char *where = col ? col : "(rows)";
    if (row ? k->kind == PD_KEEP_AS_ROW || k->kind >= PD_KEEP__COUNT
            : k->kind != PD_KEEP_AS_ROW && k->kind != PD_KEEP_AFTER) {
        problem(problems, "%s.%s: retention kind %d is not allowed here", t->name, where,
                (int)k->kind);
        return;
    }
    if (k->kind == PD_KEEP_LATEST) {
        if (!has_column(t, k->anchor))
            problem(problems, "%s.%s: retention anchor \"%s\" is not a column of the table",
                    t->name, where, k->anchor ? k->anchor : "(none)");
        if (k->keep_n < 1)
            problem(problems, "%s.%s: keeping the latest rows needs a count", t->name, where);
        if (!t->owner || t->owner_in)
            problem(problems, "%s.%s: keeping the latest rows of each owner needs an owner column",
                    t->name, where);
        return;
    }
    if (k->kind != PD_KEEP_AFTER && k->kind != PD_KEEP_CHECKPOINT)
        return;
    if (!has_column(t, k->anchor))
        problem(problems, "%s.%s: retention anchor \"%s\" is not a column of the table", t->name,
                where, k->anchor ? k->anchor : "(none)");
    if (k->keep_ms < 0)
        problem(problems, "%s.%s: negative retention period", t->name, where);
    if (!k->event || !*k->event)
        problem(problems, "%s.%s: retention needs an event name", t->name, where);
}

static void check_column(const struct pd_table *t, const struct pd_column *c, json_t *problems)
{
    const char *tn = t->name, *cn = c->name;
    if (!privacy_column_personal(c)) {
        if (!c->note || !*c->note)
            problem(problems, "%s.%s: a column declared not personal needs a reason", tn, cn);
        if (c->purpose || c->basis || c->exp || c->erase || c->encrypted || c->keep.kind ||
            c->server_key || c->account_ref || c->public_content || c->media_col)
            problem(problems, "%s.%s: declared not personal but annotated as personal", tn, cn);
        return;
    }
    if (t->not_personal)
        problem(problems, "%s.%s: personal column in a table declared not personal", tn, cn);
    if (c->category >= PD_CATEGORY__COUNT)
        problem(problems, "%s.%s: unknown category", tn, cn);
    if (c->purpose == PD_PURPOSE_UNSET || c->purpose >= PD_PURPOSE__COUNT)
        problem(problems, "%s.%s: personal column without a purpose", tn, cn);
    if (c->basis == PD_BASIS_UNSET || c->basis >= PD_BASIS__COUNT)
        problem(problems, "%s.%s: personal column without a legal basis", tn, cn);
    if (c->exp == PD_EXPORT_UNSET || c->exp >= PD_EXPORT__COUNT)
        problem(problems, "%s.%s: personal column without an export treatment", tn, cn);
    if (c->erase == PD_ERASE_UNSET || c->erase >= PD_ERASE__COUNT)
        problem(problems, "%s.%s: personal column without an erasure treatment", tn, cn);
    if (c->encrypted && c->exp == PD_EXPORT_VALUE)
        problem(problems, "%s.%s: encrypted, so the export must decrypt it (or omit it)", tn, cn);
    if (c->encrypted && c->erase != PD_ERASE_SHRED && c->erase != PD_ERASE_DELETE)
        problem(problems, "%s.%s: encrypted columns are shredded or deleted at erasure", tn, cn);
    if (c->erase == PD_ERASE_SHRED && (!c->encrypted || c->server_key))
        problem(problems, "%s.%s: only a column sealed under the owner's key can be shredded", tn,
                cn);
    if (c->server_key && !c->encrypted)
        problem(problems, "%s.%s: a server key seals only encrypted columns", tn, cn);
    size_t len = strlen(cn);
    if (c->encrypted && !c->server_key && (len < 5 || strcmp(cn + len - 4, "_enc") != 0))
        problem(problems, "%s.%s: a column sealed under the owner's key is named NAME_enc", tn, cn);
    if (c->account_ref && (c->encrypted || c->erase == PD_ERASE_SHRED))
        problem(problems, "%s.%s: an account reference is a plain id, deleted, cleared or kept", tn,
                cn);
    if (c->account_ref && t->owner && strcmp(t->owner, cn) == 0)
        problem(problems, "%s.%s: the owner column is not also an account reference", tn, cn);
    if (c->public_content && c->erase != PD_ERASE_DELETE)
        problem(problems, "%s.%s: public content is deleted at erasure (or kept, as chosen)", tn,
                cn);
    if (c->media_col && (!c->encrypted || c->exp != PD_EXPORT_DECRYPT))
        problem(problems, "%s.%s: only a sealed, exported upload has a media type", tn, cn);
    if (c->media_col && !has_column(t, c->media_col))
        problem(problems, "%s.%s: media type column \"%s\" is not a column of the table", tn, cn,
                c->media_col);
    if (c->exp == PD_EXPORT_OMIT && (!c->note || !*c->note))
        problem(problems, "%s.%s: left out of the export without saying why", tn, cn);
    check_keep(t, cn, &c->keep, false, problems);
}

void privacy_registry_check(const struct pd_table *tables, size_t n, json_t *problems)
{
    for (size_t i = 0; i < n; i++) {
        const struct pd_table *t = &tables[i];
        if (!t->name || !*t->name) {
            problem(problems, "table %zu has no name", i);
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (tables[j].name && strcmp(tables[j].name, t->name) == 0)
                problem(problems, "%s: registered twice", t->name);
        if (!t->columns || !t->columns[0].name) {
            problem(problems, "%s: lists no columns (list them all, personal or not)", t->name);
            continue;
        }
        int personal = 0;
        for (const struct pd_column *c = t->columns; c->name; c++) {
            for (const struct pd_column *d = t->columns; d < c; d++)
                if (strcmp(d->name, c->name) == 0)
                    problem(problems, "%s.%s: listed twice", t->name, c->name);
            personal += privacy_column_personal(c);
            check_column(t, c, problems);
        }
        if (t->not_personal) {
            if (!*t->not_personal)
                problem(problems, "%s: declared not personal without a reason", t->name);
            if (t->owner)
                problem(problems, "%s: declared not personal but has an owner column", t->name);
            continue;
        }
        if (personal == 0)
            problem(problems,
                    "%s: no personal column; declare the table not personal, with a "
                    "reason",
                    t->name);
        if (t->owner && !has_column(t, t->owner))
            problem(problems, "%s: owner \"%s\" is not a column of the table", t->name, t->owner);
        if (t->owner_in) {
            const struct pd_table *parent = NULL;
            for (size_t j = 0; j < n && !parent; j++)
                if (tables[j].name && strcmp(tables[j].name, t->owner_in) == 0)
                    parent = &tables[j];
            if (!parent || !parent->owner || parent->owner_in || !has_column(parent, "id"))
                problem(problems,
                        "%s: rows owned through \"%s\", which is not a registered table with "
                        "an owner column and an id",
                        t->name, t->owner_in);
            if (!t->owner)
                problem(problems, "%s: owned through another table but names no owner column",
                        t->name);
        }
        if (t->removed_at && !has_column(t, t->removed_at))
            problem(problems, "%s: removal mark \"%s\" is not a column of the table", t->name,
                    t->removed_at);
        check_keep(t, NULL, &t->keep, true, problems);
    }
}

/* ---------------------------------------------------------------- live schema */

/* Reads {table: [column, ...]} of the live schema, and on SQLite the names
 * of virtual tables into *virtual. */
static enum st live_schema(struct db *db, json_t *live, json_t *virtual)
{
    static const char sql_sqlite[] =
        "SELECT m.name, p.name, m.sql LIKE 'CREATE VIRTUAL TABLE%' "
        "FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p "
        "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite!_%' ESCAPE '!' "
        "ORDER BY m.name, p.cid";
    static const char sql_pg[] =
        "SELECT table_name, column_name, 0 FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position";
    struct db_conn *c;
    enum st st = db_acquire(db, &c);
    if (st != ST_OK)
        return st;
    struct db_stmt *s = NULL;
    st = db_prepare(c, db_kind(db) == DB_POSTGRES ? sql_pg : sql_sqlite, &s);
    bool row = false;
    while (st == ST_OK && (st = db_step(s, &row)) == ST_OK && row) {
        const char *table = db_col_text(s, 0);
        json_t *cols = json_object_get(live, table);
        if (!cols) {
            cols = json_array();
            json_object_set_new(live, table, cols);
        }
        json_array_append_new(cols, json_string(db_col_text(s, 1)));
        if (db_col_int64(s, 2))
            json_object_set_new(virtual, table, json_true());
    }
    if (s)
        db_stmt_done(s);
    db_release(c);
    return st;
}

/* True when name is one of the tables SQLite's FTS5 keeps for a virtual
 * table of the live schema (NAME_data, NAME_idx, NAME_content,
 * NAME_docsize, NAME_config). */
static bool fts_shadow(const char *name, json_t *virtual)
{
    static const char *const suffixes[] = {"_data", "_idx", "_content", "_docsize", "_config"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && strcmp(name + n - k, suffixes[i]) == 0) {
            char base[256];
            snprintf(base, sizeof base, "%.*s", (int)(n - k), name);
            if (json_object_get(virtual, base))
                return true;
        }
    }
    return false;
}

static bool array_has(json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) if (strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

enum st privacy_schema_compare(struct db *db, const struct pd_table *tables, size_t n,
                               json_t *problems)
{
    json_t *live = json_object(), *virtual = json_object();
    enum st st = live_schema(db, live, virtual);
    enum pd_engine other = db_kind(db) == DB_POSTGRES ? PD_SQLITE_ONLY : PD_POSTGRES_ONLY;
    const char *table;
    json_t *cols;
    json_object_foreach(live, table, cols)
    {
        if (st != ST_OK || fts_shadow(table, virtual))
            continue;
        const struct pd_table *t = NULL;
        for (size_t i = 0; i < n && !t; i++)
            if (strcmp(tables[i].name, table) == 0 && tables[i].engine != other)
                t = &tables[i];
        if (!t) {
            problem(problems,
                    "table %s is not in the personal-data registry (src/privacy/registry.c)",
                    table);
            continue;
        }
        size_t i;
        json_t *col;
        json_array_foreach(cols, i, col) if (!privacy_column_find(t, json_string_value(col)))
            problem(problems, "column %s.%s is not in the personal-data registry", table,
                    json_string_value(col));
    }
    for (size_t i = 0; i < n && st == ST_OK; i++) {
        const struct pd_table *t = &tables[i];
        if (t->engine == other)
            continue;
        cols = json_object_get(live, t->name);
        if (!cols) {
            problem(problems, "registered table %s does not exist in the %s schema", t->name,
                    db_kind_name(db));
            continue;
        }
        for (const struct pd_column *c = t->columns; c && c->name; c++)
            if (!array_has(cols, c->name))
                problem(problems, "registered column %s.%s does not exist in the %s schema",
                        t->name, c->name, db_kind_name(db));
    }
    json_decref(live);
    json_decref(virtual);
    return st;
}
