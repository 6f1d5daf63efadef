/*
 * inventory_api.c — "what is held about me" (GET /api/v1/me/privacy/inventory):
 * the personal-data registry read for one account.
 *
 * Generic: every personal table of the registry that has an owner column
 * is asked how many rows it holds about the caller, since when (the
 * earliest value of the table's registered "created_at" column, when it
 * has one) and until when they are kept (the latest value of the rule's
 * anchor column plus the rule's period, when that can be computed). Each
 * row-holding table contributes its personal columns to their categories;
 * a category with at least one row is "held", the others are listed under
 * "not_held" so the user sees what could be held. No table is named here.
 *
 * The owner column itself (user_id...) only links a row to the account: it
 * is left out of the categories unless it is the table's only personal
 * column. Tables whose rows cannot be tied to an account (no owner) are
 * listed in "unlinked" with their categories.
 *
 * Table and column names come from the registry and are checked to be
 * identifiers before they are written into SQL (rights_ident_ok); the
 * account id is bound. Stays open while the consent gate is closed, as
 * the rest of the privacy center.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/i18n.h"
#include "http/http.h"
#include "privacy.h"
#include "rights_int.h"

#define INV_HOUR_MS 3600000LL
#define INV_DAY_MS  (24 * INV_HOUR_MS)
#define INV_YEAR_MS (365 * INV_DAY_MS)

static json_t *label(const char *lang, const char *group, const char *name)
{
    char key[96];
    snprintf(key, sizeof key, "privacy.%s.%s", group, name);
    return json_pack("{s:s, s:s}", "name", name, "label", i18n_get(lang, key));
}

/* A period in words: "3 years", "30 days", "2 hours". Caller frees. */
static char *period_text(const char *lang, int64_t ms)
{
    char n[32];
    const char *key;
    if (ms % INV_YEAR_MS == 0) {
        snprintf(n, sizeof n, "%lld", (long long)(ms / INV_YEAR_MS));
        key = "privacy.period.years";
    } else if (ms % INV_DAY_MS == 0) {
        snprintf(n, sizeof n, "%lld", (long long)(ms / INV_DAY_MS));
        key = "privacy.period.days";
    } else {
        int64_t h = (ms + INV_HOUR_MS - 1) / INV_HOUR_MS;
        snprintf(n, sizeof n, "%lld", (long long)(h ? h : 1));
        key = "privacy.period.hours";
    }
    return i18n_format(lang, key, "n", n, (const char *)NULL);
}

/* A retention rule in words, in lang. Caller frees. */
static char *retention_text(const char *lang, const struct pd_retention *k)
{
    char key[64], n[32];
    const char *event = "";
    if (k->event) {
        snprintf(key, sizeof key, "privacy.event.%s", k->event);
        event = i18n_get(lang, key);
    }
    switch (k->kind) {
    case PD_KEEP_AFTER:
    case PD_KEEP_CHECKPOINT: {
        if (k->keep_ms <= 0)
            return i18n_format(lang, "privacy.keep.until", "event", event, (const char *)NULL);
        char *p = period_text(lang, k->keep_ms);
        char *s = i18n_format(
            lang, k->kind == PD_KEEP_AFTER ? "privacy.keep.after" : "privacy.keep.checkpoint",
            "period", p ? p : "", "event", event, (const char *)NULL);
        free(p);
        return s;
    }
    case PD_KEEP_LATEST:
        snprintf(n, sizeof n, "%lld", (long long)k->keep_n);
        return i18n_format(lang, "privacy.keep.latest", "n", n, (const char *)NULL);
    case PD_KEEP_ACCOUNT:
    case PD_KEEP_AS_ROW:
    default:
        return i18n_format(lang, "privacy.keep.account", (const char *)NULL);
    }
}

static json_t *retention_json_text(const char *lang, const struct pd_retention *k)
{
    char *s = retention_text(lang, k);
    json_t *o = json_string(s ? s : "");
    free(s);
    return o;
}

/* Whether the registered column name is an integer column of the live table. */
static bool int_col(const struct pd_table *t, const struct rights_table *live, const char *name)
{
    if (!name || !rights_ident_ok(name) || !privacy_column_find(t, name))
        return false;
    const struct rights_col *c = rights_col_find(live, name);
    return c && c->type == RT_INT;
}

/* The caller's rows of t: how many, the earliest creation (0: unknown)
 * and the latest anchor of the retention rule (0: unknown or unset). */
static enum st table_rows(struct db *db, struct db_conn *c, const struct pd_table *t, int64_t uid,
                          int64_t *rows, int64_t *since, int64_t *anchor)
{
    *rows = *since = *anchor = 0;
    struct rights_table live;
    enum st st = rights_table_load(db, c, t->name, &live);
    if (st != ST_OK)
        return st;
    bool has_created = int_col(t, &live, "created_at");
    bool has_anchor = (t->keep.kind == PD_KEEP_AFTER || t->keep.kind == PD_KEEP_CHECKPOINT) &&
                      int_col(t, &live, t->keep.anchor);
    struct buf sql;
    buf_init(&sql, 256);
    st = buf_printf(&sql, "SELECT COUNT(*), %s, %s%s%s FROM %s",
                    has_created ? "MIN(created_at)" : "NULL", has_anchor ? "MAX(" : "",
                    has_anchor ? t->keep.anchor : "NULL", has_anchor ? ")" : "", t->name);
    if (st == ST_OK)
        st = rights_owner_where(t, &sql);
    struct db_stmt *s = NULL;
    bool row = false;
    if (st == ST_OK)
        st = rights_query(c, &s, &row, sql.data, "i", uid);
    if (st == ST_OK && row) {
        *rows = db_col_int64(s, 0);
        if (!db_col_is_null(s, 1))
            *since = db_col_int64(s, 1);
        if (!db_col_is_null(s, 2))
            *anchor = db_col_int64(s, 2);
    }
    if (s)
        db_stmt_done(s);
    buf_free(&sql);
    return st;
}

/* Whether c is the owner column of t and t has other personal columns:
 * then it only links the row to the account and is left out. */
static bool link_only(const struct pd_table *t, const struct pd_column *c)
{
    if (!t->owner || strcmp(c->name, t->owner) != 0)
        return false;
    for (const struct pd_column *o = t->columns; o && o->name; o++)
        if (o != c && privacy_column_personal(o))
            return true;
    return false;
}

/* What one category gathers: its held tables, the tables that could hold
 * it, and the names of purposes and legal bases (objects used as sets). */
struct inv_cat {
    json_t *held;     /* [{table...}] with rows */
    json_t *could;    /* [{table...}] without rows */
    json_t *purposes; /* {name: label} */
    json_t *bases;
    json_t *held_purposes;
    json_t *held_bases;
    int64_t since;
    bool encrypted, in_export;
};

static json_t *set_list(json_t *set)
{
    json_t *a = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(set, k, v)
    {
        json_array_append_new(a, json_pack("{s:s, s:O}", "name", k, "label", v));
    }
    return a;
}

static void set_add(json_t *set, const char *lang, const char *group, const char *name)
{
    if (!*name || json_object_get(set, name))
        return;
    json_t *l = label(lang, group, name);
    json_object_set(set, name, json_object_get(l, "label"));
    json_decref(l);
}

/* Adds table t's columns of category cat to the category's entry. */
static void add_table(struct inv_cat *ic, const char *lang, const struct pd_table *t,
                      enum pd_category cat, int64_t rows, int64_t since, int64_t anchor)
{
    json_t *fields = json_array();
    bool enc = false, exp = false;
    for (const struct pd_column *c = t->columns; c && c->name; c++) {
        if (!privacy_column_personal(c) || c->category != cat || link_only(t, c))
            continue;
        const char *purpose = privacy_purpose_name(c->purpose);
        const char *basis = privacy_basis_name(c->basis);
        json_t *f = json_pack(
            "{s:s, s:s, s:b, s:b, s:o, s:o, s:o}", "name", c->name, "note", c->note ? c->note : "",
            "encrypted", c->encrypted, "in_export", c->exp != PD_EXPORT_OMIT, "export",
            label(lang, "export", privacy_export_name(c->exp)), "purpose",
            label(lang, "purpose", purpose), "legal_basis", label(lang, "basis", basis));
        if (c->keep.kind != PD_KEEP_AS_ROW)
            json_object_set_new(f, "retention", retention_json_text(lang, &c->keep));
        json_array_append_new(fields, f);
        enc = enc || c->encrypted;
        exp = exp || c->exp != PD_EXPORT_OMIT;
        set_add(ic->purposes, lang, "purpose", purpose);
        set_add(ic->bases, lang, "basis", basis);
        if (rows > 0) {
            set_add(ic->held_purposes, lang, "purpose", purpose);
            set_add(ic->held_bases, lang, "basis", basis);
        }
    }
    if (json_array_size(fields) == 0) {
        json_decref(fields);
        return;
    }
    json_t *o =
        json_pack("{s:s, s:o, s:b, s:b, s:o, s:o}", "table", t->name, "fields", fields, "encrypted",
                  enc, "in_export", exp, "retention", privacy_retention_json(&t->keep),
                  "retention_text", retention_json_text(lang, &t->keep));
    if (t->note)
        json_object_set_new(o, "note", json_string(t->note));
    if (rows > 0) {
        json_object_set_new(o, "rows", json_integer(rows));
        json_object_set_new(o, "since", since ? json_integer(since) : json_null());
        bool dated =
            anchor && (t->keep.kind == PD_KEEP_AFTER || t->keep.kind == PD_KEEP_CHECKPOINT);
        json_object_set_new(o, "kept_until",
                            dated ? json_integer(anchor + t->keep.keep_ms) : json_null());
        json_array_append_new(ic->held, o);
        if (since && (!ic->since || since < ic->since))
            ic->since = since;
        ic->encrypted = ic->encrypted || enc;
        ic->in_export = ic->in_export || exp;
    } else {
        json_array_append_new(ic->could, o);
    }
}

/* The inventory of user_id in lang: {"generated_at", "held":[..], "not_held":[..],
 * "unlinked":[..]} (see docs/openapi.json). */
static enum st inventory(struct db *db, struct db_conn *c, int64_t uid, const char *lang,
                         json_t **out)
{
    struct inv_cat cats[PD_CATEGORY__COUNT];
    memset(cats, 0, sizeof cats);
    for (int k = 1; k < PD_CATEGORY__COUNT; k++) {
        cats[k].held = json_array();
        cats[k].could = json_array();
        cats[k].purposes = json_object();
        cats[k].bases = json_object();
        cats[k].held_purposes = json_object();
        cats[k].held_bases = json_object();
    }
    json_t *unlinked = json_array();
    enum st st = ST_OK;
    for (size_t i = 0; st == ST_OK && i < privacy_table_count(); i++) {
        const struct pd_table *t = privacy_table_at(i);
        if (t->not_personal || !rights_engine_has(db, t))
            continue;
        bool in[PD_CATEGORY__COUNT] = {0};
        for (const struct pd_column *col = t->columns; col && col->name; col++)
            if (privacy_column_personal(col) && col->category > PD_NOT_PERSONAL &&
                col->category < PD_CATEGORY__COUNT && !link_only(t, col))
                in[col->category] = true;
        if (!t->owner) {
            json_t *names = json_array();
            for (int k = 1; k < PD_CATEGORY__COUNT; k++)
                if (in[k])
                    json_array_append_new(names, label(lang, "category", privacy_category_name(k)));
            json_array_append_new(unlinked,
                                  json_pack("{s:s, s:o, s:s, s:o}", "table", t->name, "categories",
                                            names, "note", t->note ? t->note : "", "retention_text",
                                            retention_json_text(lang, &t->keep)));
            continue;
        }
        int64_t rows, since, anchor;
        st = table_rows(db, c, t, uid, &rows, &since, &anchor);
        if (st == ST_NOTFOUND) { /* registered but missing here: the schema test reports it */
            st = ST_OK;
            continue;
        }
        for (int k = 1; st == ST_OK && k < PD_CATEGORY__COUNT; k++)
            if (in[k])
                add_table(&cats[k], lang, t, k, rows, since, anchor);
    }
    json_t *held = json_array(), *not_held = json_array();
    for (int k = 1; k < PD_CATEGORY__COUNT; k++) {
        struct inv_cat *ic = &cats[k];
        const char *name = privacy_category_name(k);
        json_t *l = label(lang, "category", name);
        json_t *title = json_incref(json_object_get(l, "label"));
        json_decref(l);
        if (json_array_size(ic->held) > 0) {
            json_array_append_new(held, json_pack("{s:s, s:o, s:o, s:o, s:o, s:b, s:b, s:o}",
                                                  "category", name, "title", title, "purposes",
                                                  set_list(ic->held_purposes), "legal_bases",
                                                  set_list(ic->held_bases), "since",
                                                  ic->since ? json_integer(ic->since) : json_null(),
                                                  "encrypted", ic->encrypted, "in_export",
                                                  ic->in_export, "tables", json_incref(ic->held)));
        } else if (json_array_size(ic->could) > 0) {
            json_array_append_new(
                not_held, json_pack("{s:s, s:o, s:o, s:o, s:o}", "category", name, "title", title,
                                    "purposes", set_list(ic->purposes), "legal_bases",
                                    set_list(ic->bases), "tables", json_incref(ic->could)));
        } else {
            json_decref(title);
        }
        json_decref(ic->held);
        json_decref(ic->could);
        json_decref(ic->purposes);
        json_decref(ic->bases);
        json_decref(ic->held_purposes);
        json_decref(ic->held_bases);
    }
    if (st != ST_OK) {
        json_decref(held);
        json_decref(not_held);
        json_decref(unlinked);
        return st;
    }
    *out = json_pack("{s:I, s:s, s:o, s:o, s:o}", "generated_at", (json_int_t)clock_now_ms(),
                     "lang", lang, "held", held, "not_held", not_held, "unlinked", unlinked);
    return *out ? ST_OK : ST_INTERNAL;
}

static enum st h_inventory(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    enum st st = http_req_db(req, &c);
    if (st != ST_OK)
        return st;
    json_t *o = NULL;
    st = inventory(http_req_database(req), c, http_req_identity(req)->user_id, http_req_lang(req),
                   &o);
    if (st != ST_OK)
        return st;
    return http_resp_json(resp, 200, o);
}

static const struct route inventory_routes[] = {
    {"GET", "/api/v1/me/privacy/inventory", h_inventory, POLICY_USER, .gate_exempt = true,
     .summary = "What is held about me: each data category with its purposes, legal bases, "
                "tables and fields, since when and until when it is kept"},
};

void privacy_inventory_api_register(void)
{
    http_routes_add(inventory_routes, sizeof inventory_routes / sizeof inventory_routes[0]);
}
