/*
 * rights_util.c — what the export, the erasure and the retention job
 * share: their options, the live schema of a table, the owner condition
 * of a registered table, statement helpers, the user's data key and the
 * notices they send.
 *
 * The decision to know: types come from the live schema, not from the
 * registry. The registry says what a column means; the schema says how
 * to read it (integer, text, bytes) and what may be written in its place
 * (NULL, or the column's default for a NOT NULL one), on either engine.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "consent.h"
#include "core/i18n.h"
#include "jobs/jobs.h"
#include "notify/notify.h"
#include "rights_int.h"

/* ---------------------------------------------------------------- options */

static struct rights_options opt = {
    .export_dir = "var/exports",
    .export_ttl_ms = 7 * 86400000LL,
    .cooling_off_ms = 7 * 86400000LL,
};

void privacy_rights_options_default(struct privacy_rights_options *o)
{
    *o = (struct privacy_rights_options){
        .export_dir = "var/exports",
        .export_ttl_ms = 7 * 86400000LL,
        .cooling_off_ms = 7 * 86400000LL,
    };
}

void privacy_rights_configure(const struct privacy_rights_options *o)
{
    snprintf(opt.export_dir, sizeof opt.export_dir, "%s", o->export_dir ? o->export_dir : "");
    opt.export_ttl_ms = o->export_ttl_ms > 0 ? o->export_ttl_ms : 7 * 86400000LL;
    opt.cooling_off_ms = o->cooling_off_ms >= 0 ? o->cooling_off_ms : 7 * 86400000LL;
}

const struct rights_options *rights_opt(void)
{
    return &opt;
}

/* ---------------------------------------------------------------- live schema */

bool rights_ident_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > RIGHTS_IDENT_MAX || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* A default the erasure may write back: an integer, or one quoted literal
 * without quotes inside, with a PostgreSQL cast (::text) after it. */
static bool default_ok(const char *d)
{
    size_t n = strlen(d);
    if (n == 0 || n >= 128)
        return false;
    size_t i = 0;
    if (d[0] == '\'') {
        for (i = 1; i < n && d[i] != '\''; i++)
            ;
        if (i >= n)
            return false;
        i++;
        if (i < n && strncmp(d + i, "::", 2) != 0)
            return false;
        for (i += 2; i < n; i++)
            if (!((d[i] >= 'a' && d[i] <= 'z') || d[i] == ' '))
                return false;
        return true;
    }
    for (i = d[0] == '-' ? 1 : 0; i < n; i++)
        if (d[i] < '0' || d[i] > '9')
            return false;
    return true;
}

static enum rights_type type_of(const char *decl)
{
    if (!decl)
        return RT_TEXT;
    if (strcasestr(decl, "int") || strcasestr(decl, "bool"))
        return RT_INT;
    if (strcasestr(decl, "blob") || strcasestr(decl, "bytea"))
        return RT_BLOB;
    return RT_TEXT;
}

enum st rights_table_load(struct db *db, struct db_conn *c, const char *table,
                          struct rights_table *out)
{
    static const char sql_sqlite[] = "SELECT name, type, \"notnull\", dflt_value "
                                     "FROM pragma_table_info(?) ORDER BY cid";
    static const char sql_pg[] =
        "SELECT column_name, data_type, CASE WHEN is_nullable = 'NO' THEN 1 ELSE 0 END, "
        "column_default FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position";
    out->n = 0;
    if (!rights_ident_ok(table))
        return ST_INVALID;
    struct db_stmt *s = NULL;
    bool row = false;
    enum st st =
        rights_query(c, &s, &row, db_kind(db) == DB_POSTGRES ? sql_pg : sql_sqlite, "t", table);
    while (st == ST_OK && row) {
        if (out->n >= RIGHTS_COLS_MAX) {
            st = ST_INVALID;
            break;
        }
        struct rights_col *col = &out->cols[out->n];
        const char *name = db_col_text(s, 0);
        if (!rights_ident_ok(name)) {
            st = ST_INVALID;
            break;
        }
        snprintf(col->name, sizeof col->name, "%s", name);
        col->type = type_of(db_col_text(s, 1));
        col->notnull = db_col_int64(s, 2) != 0;
        const char *d = db_col_text(s, 3);
        snprintf(col->dflt, sizeof col->dflt, "%s", d && default_ok(d) ? d : "");
        out->n++;
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    if (st == ST_OK && out->n == 0)
        st = ST_NOTFOUND;
    return st;
}

const struct rights_col *rights_col_find(const struct rights_table *t, const char *name)
{
    for (size_t i = 0; name && i < t->n; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return &t->cols[i];
    return NULL;
}

bool rights_engine_has(struct db *db, const struct pd_table *t)
{
    return t->engine == PD_BOTH || (t->engine == PD_SQLITE_ONLY) == (db_kind(db) == DB_SQLITE);
}

enum st rights_owner_where(const struct pd_table *t, struct buf *sql)
{
    if (!rights_ident_ok(t->owner))
        return ST_INVALID;
    if (!t->owner_in)
        return buf_printf(sql, " WHERE %s = ?", t->owner);
    const struct pd_table *p = privacy_table_find(t->owner_in);
    if (!p || !rights_ident_ok(p->name) || !rights_ident_ok(p->owner))
        return ST_INVALID;
    return buf_printf(sql, " WHERE %s IN (SELECT id FROM %s WHERE %s = ?)", t->owner, p->name,
                      p->owner);
}

/* ---------------------------------------------------------------- statements */

enum st rights_enqueue(struct db_conn *c, const char *kind, const char *field, int64_t id,
                       int64_t user_id, int64_t run_at, int64_t *job)
{
    char key[JOBS_KEY_MAX + 1];
    snprintf(key, sizeof key, "%s:%lld", kind, (long long)id);
    json_t *payload = json_pack("{s:I}", field, (json_int_t)id);
    struct job_opts o = {.run_at = run_at, .unique_key = key, .user_id = user_id};
    enum st st = jobs_enqueue(c, kind, payload, &o, job);
    json_decref(payload);
    return st;
}

enum st rights_finish(struct db_conn *c, enum st st)
{
    if (st == ST_OK)
        return db_commit(c);
    db_rollback(c);
    return st;
}

/* ---------------------------------------------------------------- keys */

enum st rights_user_dk(struct db_conn *c, int64_t user_id, unsigned char dk[CRYPTO_DATAKEY_BYTES])
{
    struct db_stmt *s;
    bool row;
    enum st st = rights_query(c, &s, &row, "SELECT wrapped_key FROM user_keys WHERE user_id = ?",
                              "i", user_id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        size_t n = 0;
        const void *w = db_col_blob(s, 0, &n);
        st = crypto_datakey_unwrap(user_id, w, n, dk);
        if (st != ST_OK) {
            log_kv(LOG_ERROR, "privacy: cannot unwrap a user's data key", "status", st_name(st),
                   (const char *)NULL);
            st = ST_INTERNAL;
        }
    }
    if (s)
        db_stmt_done(s);
    return st;
}

void rights_aad(const struct pd_table *t, const struct pd_column *col, char *out, size_t n)
{
    size_t len = strlen(col->name);
    if (len > 4 && strcmp(col->name + len - 4, "_enc") == 0)
        len -= 4;
    snprintf(out, n, "%s.%.*s", t->name, (int)len, col->name);
}

/* ---------------------------------------------------------------- notices */

const char *rights_lang(const json_t *me, const char *fallback)
{
    const char *l = json_string_value(json_object_get(me, "lang"));
    if (l && i18n_match(l, strlen(l)))
        return i18n_match(l, strlen(l));
    if (fallback && i18n_match(fallback, strlen(fallback)))
        return i18n_match(fallback, strlen(fallback));
    return "en";
}

void rights_date(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm);
}

/* i18n_format with a va_list of (name, value) pairs: up to 8 of them. */
static char *format_pairs(const char *lang, const char *key, va_list ap)
{
    const char *kv[17] = {0};
    for (int i = 0; i < 16; i += 2) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        kv[i] = k;
        kv[i + 1] = va_arg(ap, const char *);
    }
    return i18n_format(lang, key, kv[0], kv[1], kv[2], kv[3], kv[4], kv[5], kv[6], kv[7], kv[8],
                       kv[9], kv[10], kv[11], kv[12], kv[13], kv[14], kv[15], (const char *)NULL);
}

enum st rights_tell(struct db_conn *c, int64_t user_id, const json_t *me, bool detached,
                    const char *lang, const char *kind, const json_t *params, const char *ref,
                    const char *key, ...)
{
    enum st st = ST_OK;
    if (!detached && kind)
        st = privacy_inbox_add(c, user_id, kind, params, ref, NULL);
    const char *email = json_string_value(json_object_get(me, "email"));
    const char *phone = json_string_value(json_object_get(me, "phone"));
    if (st != ST_OK || (!email && !phone))
        return st;
    char skey[96], bkey[96], tmpl[64];
    snprintf(skey, sizeof skey, "%s.subject", key);
    snprintf(bkey, sizeof bkey, "%s.%s", key, email ? "body" : "sms");
    snprintf(tmpl, sizeof tmpl, "%s", kind ? kind : "privacy.notice");
    va_list ap;
    va_start(ap, key);
    char *body = format_pairs(lang, bkey, ap);
    va_end(ap);
    struct notify_msg m = {
        .channel = email ? NOTIFY_EMAIL : NOTIFY_SMS,
        .purpose = NOTIFY_SERVICE,
        .user_id = detached ? 0 : user_id,
        .to = email ? email : phone,
        .template_name = tmpl,
        .lang = lang,
        .subject = email ? i18n_get(lang, skey) : NULL,
        .body = body,
    };
    st = notify_send(c, &m, NULL);
    free(body);
    return st;
}
