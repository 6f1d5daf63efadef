/*
 * export.c — "everything about me" (SPEC §2, access and copy): the
 * archive, its request, its job and its download.
 *
 * The design decision: the export keeps no list of tables. It walks the
 * personal-data registry: every personal table with an owner column gives
 * the rows that belong to the account, and every column is treated as
 * the registry says (value, decrypted, presence only, or left out with
 * the reason, which the manifest repeats). A table added to the schema is
 * in the next export as soon as it is registered, which the registry test
 * forces. Sealed uploads (the avatar) become files of the archive.
 *
 * The archive is built in memory (a normal account's fits in kilobytes;
 * PRIVACY_EXPORT_MAX_BYTES caps it), sealed under the account's data key
 * and written under the data directory with a random name: destroying the
 * key at erasure makes every copy, backups included, unreadable. Only its
 * owner downloads it, until it expires; the retention job then deletes it.
 */
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "accounts/accounts.h"
#include "audit/audit.h"
#include "core/i18n.h"
#include "jobs/jobs.h"
#include "notify/notify.h"
#include "rights_int.h"

#define EXPORT_AAD         "privacy_exports.file"
#define EXPORT_STALE_MS    (3600 * 1000LL) /* a queued or running export older blocks no more */
#define EXPORT_FILE_SUFFIX ".sealed"

/* ---------------------------------------------------------------- collected files */

struct efile {
    char path[160];
    unsigned char *data;
    size_t len;
};

struct efiles {
    struct efile *v;
    size_t n, alloc;
    size_t bytes;
};

static void efiles_free(struct efiles *f)
{
    for (size_t i = 0; i < f->n; i++)
        crypto_free_secret(f->v[i].data, f->v[i].len);
    xfree(f->v);
    memset(f, 0, sizeof *f);
}

/* ---------------------------------------------------------------- server-sealed columns */

/* Columns sealed under a server key are opened by the module that sealed
 * them: a value is turned into JSON from its row (as exported so far). */
typedef enum st (*opener_fn)(struct db *db, const json_t *row, json_t **out);

static enum st open_outbox_payload(struct db *db, const json_t *row, json_t **out)
{
    json_t *m = NULL;
    int64_t id = json_integer_value(json_object_get(row, "id"));
    enum st st = notify_outbox_get(db, id, &m);
    if (st == ST_OK) {
        *out = json_pack("{s:O, s:O, s:O}", "to", json_object_get(m, "to"), "subject",
                         json_object_get(m, "subject"), "body", json_object_get(m, "body"));
        st = *out ? ST_OK : ST_INTERNAL;
    }
    json_decref(m);
    return st;
}

static const struct {
    const char *table, *column;
    opener_fn open;
} OPENERS[] = {
    {"outbox", "payload", open_outbox_payload},
};

static opener_fn opener_of(const struct pd_table *t, const struct pd_column *col)
{
    for (size_t i = 0; i < sizeof OPENERS / sizeof OPENERS[0]; i++)
        if (strcmp(OPENERS[i].table, t->name) == 0 && strcmp(OPENERS[i].column, col->name) == 0)
            return OPENERS[i].open;
    return NULL;
}

/* ---------------------------------------------------------------- collecting */

struct collect {
    struct db *db;
    struct db_conn *c;
    int64_t user_id;
    const char *lang;
    unsigned char dk[CRYPTO_DATAKEY_BYTES];
    int dk_state; /* 0 not loaded, 1 loaded, -1 none (shredded) */
    json_t *root, *categories, *files, *omitted;
    struct efiles blobs;
};

static json_t *hex_json(const void *p, size_t n)
{
    char *h = xmalloc(n * 2 + 1);
    sodium_bin2hex(h, n * 2 + 1, p, n);
    json_t *v = json_string(h);
    free(h);
    return v;
}

static const char *ext_of(const char *media_type)
{
    static const char *const map[][2] = {
        {"image/webp", "webp"}, {"image/png", "png"},       {"image/jpeg", "jpg"},
        {"image/gif", "gif"},   {"application/pdf", "pdf"},
    };
    for (size_t i = 0; media_type && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i][0], media_type) == 0)
            return map[i][1];
    return "bin";
}

/* The stored value of column i of the row, as JSON. */
static json_t *plain_value(struct db_stmt *s, int i, const struct rights_col *rc)
{
    if (db_col_is_null(s, i))
        return json_null();
    if (rc->type == RT_INT)
        return json_integer(db_col_int64(s, i));
    size_t n = 0;
    const void *p = db_col_blob(s, i, &n);
    if (rc->type == RT_TEXT && utf8_valid(p, n))
        return json_stringn(p, n);
    return hex_json(p, n);
}

/* Opens a value sealed under the owner's key: text as a string, an upload
 * as a file of the archive (its path). */
static json_t *sealed_value(struct collect *k, const struct pd_table *t,
                            const struct pd_column *col, struct db_stmt *s, int i,
                            const char *media_type, size_t rowno)
{
    if (db_col_is_null(s, i))
        return json_null();
    if (k->dk_state == 0)
        k->dk_state = rights_user_dk(k->c, k->user_id, k->dk) == ST_OK ? 1 : -1;
    if (k->dk_state < 0)
        return json_null(); /* no key: nothing can be read any more */
    char aad[2 * RIGHTS_IDENT_MAX + 2];
    rights_aad(t, col, aad, sizeof aad);
    size_t n = 0;
    const unsigned char *b = db_col_blob(s, i, &n);
    unsigned char *pt = NULL;
    size_t ptlen = 0;
    if (crypto_field_open(k->dk, k->user_id, aad, b, n, &pt, &ptlen) != ST_OK) {
        log_kv(LOG_ERROR, "privacy export: a sealed value does not open", "column", aad,
               (const char *)NULL);
        return json_null();
    }
    if (!col->media_col) {
        json_t *v = utf8_valid((const char *)pt, ptlen) ? json_stringn((const char *)pt, ptlen)
                                                        : hex_json(pt, ptlen);
        crypto_free_secret(pt, ptlen);
        return v;
    }
    struct efiles *f = &k->blobs;
    if (f->n == f->alloc) {
        f->alloc = f->alloc ? f->alloc * 2 : 4;
        f->v = xrealloc(f->v, f->alloc * sizeof *f->v);
    }
    struct efile *e = &f->v[f->n++];
    size_t base = strlen(col->name) - (col->encrypted ? 4 : 0);
    snprintf(e->path, sizeof e->path, "files/%s/%.*s-%zu.%s", t->name, (int)base, col->name, rowno,
             ext_of(media_type));
    e->data = pt;
    e->len = ptlen;
    f->bytes += ptlen;
    json_array_append_new(k->files, json_pack("{s:s, s:s, s:s, s:s?, s:I}", "path", e->path,
                                              "table", t->name, "column", col->name, "media_type",
                                              media_type, "size", (json_int_t)ptlen));
    return json_string(e->path);
}

/* The category object of name, made on first use. */
static json_t *category_tables(struct collect *k, const char *cat)
{
    json_t *o = json_object_get(k->categories, cat);
    if (!o) {
        char key[64];
        snprintf(key, sizeof key, "privacy.category.%s", cat);
        o = json_pack("{s:s, s:{}}", "title", i18n_get(k->lang, key), "tables");
        json_object_set_new(k->categories, cat, o);
    }
    return json_object_get(o, "tables");
}

/* One table's rows of the account. */
static enum st collect_table(struct collect *k, const struct pd_table *t)
{
    struct rights_table live;
    enum st st = rights_table_load(k->db, k->c, t->name, &live);
    if (st != ST_OK)
        return st == ST_NOTFOUND ? ST_OK : st;
    /* The columns to read, in the live order; unregistered ones never. */
    const struct pd_column *reg[RIGHTS_COLS_MAX];
    const struct rights_col *lc[RIGHTS_COLS_MAX];
    size_t n = 0;
    struct buf sql;
    buf_init(&sql, 8192);
    buf_puts(&sql, "SELECT ");
    for (size_t i = 0; i < live.n; i++) {
        const struct pd_column *col = privacy_column_find(t, live.cols[i].name);
        if (!col || (privacy_column_personal(col) && col->exp == PD_EXPORT_OMIT))
            continue;
        reg[n] = col;
        lc[n] = &live.cols[i];
        buf_printf(&sql, "%s%s", n ? ", " : "", live.cols[i].name);
        n++;
    }
    if (n == 0) {
        buf_free(&sql);
        return ST_OK;
    }
    buf_printf(&sql, " FROM %s", t->name);
    st = rights_owner_where(t, &sql);
    if (st == ST_OK)
        st = buf_printf(&sql, " ORDER BY 1 LIMIT %d", PRIVACY_EXPORT_ROWS_MAX);
    struct db_stmt *s = NULL;
    bool row = false;
    if (st == ST_OK)
        st = rights_query(k->c, &s, &row, sql.data, "i", k->user_id);
    buf_free(&sql);
    for (size_t rowno = 1; st == ST_OK && row; rowno++) {
        json_t *plain = json_object(), *cats = json_object();
        const char *media[RIGHTS_COLS_MAX] = {0};
        /* Plain values first: sealed ones may need the row (media type, id). */
        for (size_t i = 0; i < n; i++) {
            const struct pd_column *col = reg[i];
            if (col->exp == PD_EXPORT_DECRYPT)
                continue;
            json_t *v = col->exp == PD_EXPORT_PRESENCE ? json_boolean(!db_col_is_null(s, (int)i))
                                                       : plain_value(s, (int)i, lc[i]);
            json_object_set_new(plain, col->name, v);
        }
        for (size_t i = 0; i < n; i++) {
            const struct pd_column *col = reg[i];
            if (col->exp != PD_EXPORT_DECRYPT)
                continue;
            json_t *v = NULL;
            if (col->server_key) {
                opener_fn open = opener_of(t, col);
                if (!open || db_col_is_null(s, (int)i) || open(k->db, plain, &v) != ST_OK)
                    v = json_null();
            } else {
                media[i] = json_string_value(json_object_get(plain, col->media_col));
                v = sealed_value(k, t, col, s, (int)i, media[i], rowno);
            }
            json_object_set_new(plain, col->name, v);
        }
        /* The row, sliced by category: each slice has the row's
         * non-personal columns and that category's. */
        for (size_t i = 0; i < n; i++) {
            const struct pd_column *col = reg[i];
            if (!privacy_column_personal(col))
                continue;
            const char *cat = privacy_category_name(col->category);
            json_t *slice = json_object_get(cats, cat);
            if (!slice) {
                slice = json_object();
                for (size_t j = 0; j < n; j++)
                    if (!privacy_column_personal(reg[j]))
                        json_object_set(slice, reg[j]->name, json_object_get(plain, reg[j]->name));
                json_object_set_new(cats, cat, slice);
            }
            json_object_set(slice, col->name, json_object_get(plain, col->name));
        }
        const char *cat;
        json_t *slice;
        json_object_foreach(cats, cat, slice)
        {
            json_t *tables = category_tables(k, cat);
            json_t *rows = json_object_get(tables, t->name);
            if (!rows) {
                rows = json_array();
                json_object_set_new(tables, t->name, rows);
            }
            json_array_append(rows, slice);
        }
        json_decref(cats);
        json_decref(plain);
        if (k->blobs.bytes > PRIVACY_EXPORT_MAX_BYTES)
            st = ST_TOOLARGE;
        if (st == ST_OK)
            st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    return st;
}

/* Every personal column left out, with the registry's reason. */
static void collect_omitted(struct collect *k, const struct pd_table *t)
{
    for (const struct pd_column *col = t->columns; col && col->name; col++) {
        if (!privacy_column_personal(col))
            continue;
        const char *why = NULL;
        if (!t->owner)
            why = t->note ? t->note : "rows are not tied to an account";
        else if (col->exp == PD_EXPORT_OMIT)
            why = col->note ? col->note : "";
        if (why)
            json_array_append_new(k->omitted, json_pack("{s:s, s:s, s:s}", "table", t->name,
                                                        "column", col->name, "reason", why));
    }
}

static enum st collect_all(struct collect *k)
{
    k->categories = json_object();
    k->files = json_array();
    k->omitted = json_array();
    enum st st = ST_OK;
    for (size_t i = 0; i < privacy_table_count() && st == ST_OK; i++) {
        const struct pd_table *t = privacy_table_at(i);
        if (t->not_personal || !rights_engine_has(k->db, t))
            continue;
        collect_omitted(k, t);
        if (t->owner)
            st = collect_table(k, t);
    }
    k->root =
        json_pack("{s:i, s:I, s:I, s:s, s:o, s:o, s:o}", "format", 1, "account_id",
                  (json_int_t)k->user_id, "generated_at", (json_int_t)clock_now_ms(), "lang",
                  k->lang, "categories", k->categories, "files", k->files, "omitted", k->omitted);
    return st;
}

static void collect_free(struct collect *k)
{
    json_decref(k->root);
    efiles_free(&k->blobs);
    sodium_memzero(k->dk, sizeof k->dk);
}

static void collect_init(struct collect *k, struct db *db, struct db_conn *c, int64_t user_id,
                         const char *lang)
{
    memset(k, 0, sizeof *k);
    k->db = db;
    k->c = c;
    k->user_id = user_id;
    k->lang = lang && i18n_match(lang, strlen(lang)) ? i18n_match(lang, strlen(lang)) : "en";
}

enum st privacy_export_collect(struct db *db, struct db_conn *c, int64_t user_id, const char *lang,
                               json_t **out)
{
    struct collect k;
    collect_init(&k, db, c, user_id, lang);
    enum st st = collect_all(&k);
    *out = st == ST_OK ? json_incref(k.root) : NULL;
    collect_free(&k);
    return st;
}

/* ---------------------------------------------------------------- the zip */

/* Adds name with a copy of data[0..n) (libzip frees it). */
static enum st export_zip_add(zip_t *za, const char *name, const void *data, size_t n)
{
    void *copy = xmalloc(n ? n : 1);
    memcpy(copy, data, n);
    zip_source_t *src = zip_source_buffer(za, copy, n, 1);
    if (!src) {
        free(copy);
        return ST_INTERNAL;
    }
    if (zip_file_add(za, name, src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE) < 0) {
        zip_source_free(src);
        return ST_INTERNAL;
    }
    return ST_OK;
}

static enum st export_zip_add_json(zip_t *za, const char *name, const json_t *o)
{
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text)
        return ST_INTERNAL;
    enum st st = export_zip_add(za, name, text, strlen(text));
    free(text);
    return st;
}

/* The manifest: the collected object with row counts instead of rows. */
static json_t *manifest_of(const json_t *root)
{
    json_t *m = json_deep_copy(root);
    json_t *cats = json_object_get(m, "categories");
    const char *cat;
    json_t *co;
    json_object_foreach(cats, cat, co)
    {
        json_t *tables = json_object_get(co, "tables");
        const char *name;
        json_t *rows;
        json_object_foreach(tables, name, rows)
        {
            json_object_set_new(tables, name, json_integer((json_int_t)json_array_size(rows)));
        }
        char path[96];
        snprintf(path, sizeof path, "categories/%s.json", cat);
        json_object_set_new(co, "file", json_string(path));
    }
    return m;
}

/* Reads the finished archive out of its source. */
static enum st export_zip_take(zip_source_t *src, unsigned char **out, size_t *len)
{
    zip_stat_t zs;
    if (zip_source_open(src) < 0)
        return ST_INTERNAL;
    enum st st = zip_source_stat(src, &zs) < 0 || !(zs.valid & ZIP_STAT_SIZE) ? ST_INTERNAL : ST_OK;
    if (st == ST_OK && zs.size > PRIVACY_EXPORT_MAX_BYTES)
        st = ST_TOOLARGE;
    if (st == ST_OK) {
        *out = xmalloc(zs.size ? zs.size : 1);
        zip_int64_t got = zip_source_read(src, *out, zs.size);
        *len = (size_t)zs.size;
        if (got < 0 || (zip_uint64_t)got != zs.size) {
            free(*out);
            *out = NULL;
            st = ST_INTERNAL;
        }
    }
    zip_source_close(src);
    return st;
}

enum st privacy_export_zip(struct db *db, struct db_conn *c, int64_t user_id, const char *lang,
                           unsigned char **zip, size_t *len, json_t **categories)
{
    *zip = NULL;
    *len = 0;
    if (categories)
        *categories = NULL;
    struct collect k;
    collect_init(&k, db, c, user_id, lang);
    enum st st = collect_all(&k);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = st == ST_OK ? zip_source_buffer_create(NULL, 0, 0, &ze) : NULL;
    zip_t *za = NULL;
    if (st == ST_OK && !src)
        st = ST_INTERNAL;
    if (st == ST_OK) {
        zip_source_keep(src);
        za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
        if (!za)
            st = ST_INTERNAL;
    }
    if (st == ST_OK) {
        json_t *m = manifest_of(k.root);
        st = export_zip_add_json(za, "manifest.json", m);
        json_decref(m);
    }
    const char *cat;
    json_t *co;
    json_t *names = json_array();
    json_object_foreach(k.categories, cat, co)
    {
        char path[96];
        snprintf(path, sizeof path, "categories/%s.json", cat);
        json_t *o =
            json_pack("{s:s, s:O, s:O}", "category", cat, "title", json_object_get(co, "title"),
                      "tables", json_object_get(co, "tables"));
        if (st == ST_OK)
            st = export_zip_add_json(za, path, o);
        json_decref(o);
        json_array_append_new(names, json_string(cat));
    }
    for (size_t i = 0; i < k.blobs.n && st == ST_OK; i++)
        st = export_zip_add(za, k.blobs.v[i].path, k.blobs.v[i].data, k.blobs.v[i].len);
    if (za) {
        if (st == ST_OK && zip_close(za) < 0)
            st = ST_INTERNAL;
        else if (st != ST_OK)
            zip_discard(za);
    }
    if (st == ST_OK)
        st = export_zip_take(src, zip, len);
    if (src)
        zip_source_free(src);
    zip_error_fini(&ze);
    if (st == ST_OK && categories)
        *categories = json_incref(names);
    json_decref(names);
    collect_free(&k);
    return st;
}

/* ---------------------------------------------------------------- rows */

static json_t *int_or_null(struct db_stmt *s, int i)
{
    return db_col_is_null(s, i) ? json_null() : json_integer(db_col_int64(s, i));
}

#define EXPORT_COLUMNS                                                                             \
    "id, status, requested_at, ready_at, expires_at, size_bytes, categories, downloaded_at, "      \
    "download_count"

static json_t *export_json(struct db_stmt *s)
{
    const char *cats = db_col_text(s, 6);
    json_t *c = cats ? json_loads(cats, 0, NULL) : NULL;
    int64_t exp = db_col_int64(s, 4);
    return json_pack("{s:I, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:I, s:b}", "id",
                     (json_int_t)db_col_int64(s, 0), "status", db_col_text(s, 1), "requested_at",
                     (json_int_t)db_col_int64(s, 2), "ready_at", int_or_null(s, 3), "expires_at",
                     int_or_null(s, 4), "size_bytes", int_or_null(s, 5), "categories",
                     json_is_array(c) ? c : (json_decref(c), json_null()), "downloaded_at",
                     int_or_null(s, 7), "download_count", (json_int_t)db_col_int64(s, 8), "expired",
                     !db_col_is_null(s, 4) && exp <= clock_now_ms());
}

static enum st export_get(struct db_conn *c, int64_t user_id, int64_t id, json_t **out)
{
    struct db_stmt *s;
    bool row;
    enum st st = rights_query(
        c, &s, &row, "SELECT " EXPORT_COLUMNS " FROM privacy_exports WHERE id = ? AND user_id = ?",
        "ii", id, user_id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK)
        *out = export_json(s);
    if (s)
        db_stmt_done(s);
    return st;
}

enum st privacy_exports_list(struct db_conn *c, int64_t user_id, json_t **out)
{
    *out = NULL;
    struct db_stmt *s;
    bool row;
    enum st st = rights_query(c, &s, &row,
                              "SELECT " EXPORT_COLUMNS " FROM privacy_exports WHERE user_id = ? "
                              "ORDER BY id DESC LIMIT ?",
                              "ii", user_id, (int64_t)PRIVACY_EXPORT_LIST_MAX);
    json_t *list = json_array();
    while (st == ST_OK && row) {
        json_array_append_new(list, export_json(s));
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    if (st == ST_OK)
        *out = list;
    else
        json_decref(list);
    return st;
}

enum st privacy_export_request(struct db_conn *c, int64_t user_id, const char *lang, json_t **out)
{
    *out = NULL;
    int64_t now = clock_now_ms(), busy = 0, today = 0, id = 0;
    if (!lang || !i18n_match(lang, strlen(lang)))
        lang = "en";
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    struct db_stmt *s;
    bool row;
    st = rights_query(c, &s, &row,
                      "SELECT COUNT(CASE WHEN status IN ('queued', 'running') AND requested_at > ? "
                      "THEN 1 END), COUNT(CASE WHEN requested_at > ? THEN 1 END) "
                      "FROM privacy_exports WHERE user_id = ?",
                      "iii", now - EXPORT_STALE_MS, now - 86400000LL, user_id);
    if (st == ST_OK && row) {
        busy = db_col_int64(s, 0);
        today = db_col_int64(s, 1);
    }
    if (s)
        db_stmt_done(s);
    if (st == ST_OK && busy)
        st = ST_CONFLICT;
    else if (st == ST_OK && today >= PRIVACY_EXPORTS_PER_DAY)
        st = ST_RATELIMIT;
    if (st == ST_OK)
        st = rights_insert(c, &id,
                           "INSERT INTO privacy_exports (user_id, status, lang, requested_at) "
                           "VALUES (?, 'queued', ?, ?) RETURNING id",
                           "iti", user_id, i18n_match(lang, strlen(lang)), now);
    if (st == ST_OK)
        st = rights_enqueue(c, "privacy.export", "export_id", id, user_id, 0, NULL);
    if (st == ST_OK) {
        char detail[48];
        snprintf(detail, sizeof detail, "{\"export_id\":%lld}", (long long)id);
        struct audit_entry e = {.actor_id = user_id,
                                .actor_role = "user",
                                .action = "privacy.export_requested",
                                .subject_user_id = user_id,
                                .detail = detail};
        st = audit_append(c, &e, NULL);
    }
    if (st == ST_OK)
        st = export_get(c, user_id, id, out);
    st = rights_finish(c, st);
    if (st == ST_OK)
        jobs_wake();
    else {
        json_decref(*out);
        *out = NULL;
    }
    return st;
}

static void export_path(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", rights_opt()->export_dir, name);
}

enum st privacy_export_fetch(struct db_conn *c, int64_t user_id, int64_t id, unsigned char **data,
                             size_t *len, char name[64])
{
    *data = NULL;
    *len = 0;
    struct db_stmt *s;
    bool row;
    char file[96] = "";
    int64_t expires = 0;
    enum st st = rights_query(c, &s, &row,
                              "SELECT status, file_name, expires_at FROM privacy_exports "
                              "WHERE id = ? AND user_id = ?",
                              "ii", id, user_id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK && (strcmp(db_col_text(s, 0), "ready") != 0 || db_col_is_null(s, 1)))
        st = ST_UNAVAILABLE; /* not ready (yet): the API says so */
    if (st == ST_OK) {
        snprintf(file, sizeof file, "%s", db_col_text(s, 1));
        expires = db_col_int64(s, 2);
    }
    if (s)
        db_stmt_done(s);
    if (st == ST_OK && expires <= clock_now_ms())
        st = ST_CONFLICT; /* expired: the API answers 410 */
    if (st != ST_OK)
        return st;
    char path[700];
    export_path(file, path, sizeof path);
    char *sealed = NULL;
    size_t slen = 0;
    st = file_read_all(path, PRIVACY_EXPORT_MAX_BYTES + CRYPTO_FIELD_OVERHEAD, &sealed, &slen);
    if (st == ST_NOTFOUND)
        return ST_CONFLICT; /* removed already */
    unsigned char dk[CRYPTO_DATAKEY_BYTES];
    if (st == ST_OK)
        st = rights_user_dk(c, user_id, dk);
    unsigned char *pt = NULL;
    if (st == ST_OK) {
        st = crypto_field_open(dk, user_id, EXPORT_AAD, (unsigned char *)sealed, slen, &pt, len);
        if (st != ST_OK)
            st = ST_INTERNAL;
    }
    sodium_memzero(dk, sizeof dk);
    free(sealed);
    if (st == ST_OK)
        st = rights_exec(c, NULL,
                         "UPDATE privacy_exports SET downloaded_at = ?, download_count = "
                         "download_count + 1 WHERE id = ?",
                         "ii", clock_now_ms(), id);
    if (st != ST_OK) {
        crypto_free_secret(pt, *len);
        *len = 0;
        return st;
    }
    /* The caller frees with free(): hand over a plain copy. */
    *data = xmalloc(*len ? *len : 1);
    memcpy(*data, pt, *len);
    crypto_free_secret(pt, *len);
    snprintf(name, 64, "entrepot-export-%lld.zip", (long long)id);
    return ST_OK;
}

/* ---------------------------------------------------------------- the job */

/* Seals zip under the account's key and writes it under a fresh random
 * name (into name). ST_NOTFOUND when the account has no key any more. */
static enum st export_write(struct db_conn *c, int64_t user_id, const unsigned char *zip,
                            size_t len, char name[96])
{
    unsigned char dk[CRYPTO_DATAKEY_BYTES], rnd[16];
    unsigned char *sealed = NULL;
    size_t slen = 0;
    enum st st = rights_user_dk(c, user_id, dk);
    if (st == ST_OK)
        st = crypto_field_seal(dk, user_id, EXPORT_AAD, zip, len, &sealed, &slen);
    sodium_memzero(dk, sizeof dk);
    if (st == ST_OK)
        st = file_mkdirs(rights_opt()->export_dir, 0700);
    if (st == ST_OK) {
        char hex[sizeof rnd * 2 + 1];
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
        snprintf(name, 96, "%s" EXPORT_FILE_SUFFIX, hex);
        char path[700];
        export_path(name, path, sizeof path);
        st = file_write_atomic(path, sealed, slen, 0600);
    }
    free(sealed);
    return st;
}

static void export_unlink(const char *name)
{
    char path[700];
    export_path(name, path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT)
        log_kv(LOG_WARN, "privacy export: cannot remove an archive", "file", name,
               (const char *)NULL);
}

/* The final writes of a finished export, in the job's transaction: the
 * row, the notice in the inbox and the message. */
static enum st export_done(struct job_ctx *ctx, int64_t id, int64_t user_id, const char *lang,
                           const char *name, const unsigned char *zip, size_t len,
                           const json_t *categories)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[sizeof h * 2 + 1];
    crypto_hash_sha256(h, zip, len);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    char *cats = json_dumps(categories, JSON_COMPACT);
    int64_t now = clock_now_ms(), expires = now + rights_opt()->export_ttl_ms;
    int64_t changed = 0;
    enum st st =
        rights_exec(ctx->c, &changed,
                    "UPDATE privacy_exports SET status = 'ready', file_name = ?, "
                    "size_bytes = ?, sha256 = ?, categories = ?, ready_at = ?, "
                    "expires_at = ?, last_error = NULL WHERE id = ? AND status IN "
                    "('queued', 'running')",
                    "tittiii", name, (int64_t)len, hex, cats ? cats : "[]", now, expires, id);
    free(cats);
    if (st != ST_OK || changed != 1)
        return st != ST_OK ? st : ST_NOTFOUND;
    json_t *me = NULL;
    st = accounts_me(ctx->c, user_id, &me);
    if (st == ST_OK) {
        char date[32], ref[48];
        rights_date(expires, date);
        snprintf(ref, sizeof ref, "export:%lld", (long long)id);
        json_t *params =
            json_pack("{s:I, s:I}", "export_id", (json_int_t)id, "expires_at", (json_int_t)expires);
        st =
            rights_tell(ctx->c, user_id, me, false, rights_lang(me, lang), "privacy.export_ready",
                        params, ref, "privacy.mail.export_ready", "date", date, (const char *)NULL);
        json_decref(params);
    }
    json_decref(me);
    return st;
}

/* A failure that trying again cannot mend (too large): the row says so. */
static enum st export_failed(struct job_ctx *ctx, int64_t id, const char *why)
{
    enum st st = job_begin(ctx);
    if (st == ST_OK)
        st = rights_exec(ctx->c, NULL,
                         "UPDATE privacy_exports SET status = 'failed', last_error = ?, "
                         "expires_at = ? WHERE id = ?",
                         "tii", why, clock_now_ms() + rights_opt()->export_ttl_ms, id);
    return st;
}

static enum st export_run(struct job_ctx *ctx)
{
    int64_t id = json_integer_value(json_object_get(ctx->payload, "export_id"));
    if (id <= 0) {
        job_set_error(ctx, "payload has no export_id");
        return ST_INVALID;
    }
    struct db_stmt *s;
    bool row;
    int64_t user_id = 0;
    char lang[16] = "en", status[16] = "";
    enum st st =
        rights_query(ctx->c, &s, &row,
                     "SELECT user_id, status, lang FROM privacy_exports WHERE id = ?", "i", id);
    if (st == ST_OK && row) {
        user_id = db_col_int64(s, 0);
        snprintf(status, sizeof status, "%s", db_col_text(s, 1));
        snprintf(lang, sizeof lang, "%s", db_col_text(s, 2));
    }
    if (s)
        db_stmt_done(s);
    if (st != ST_OK)
        return st;
    if (!row || strcmp(status, "ready") == 0 || strcmp(status, "failed") == 0)
        return ST_OK; /* gone with the account, or finished by an earlier run */
    st = rights_exec(ctx->c, NULL, "UPDATE privacy_exports SET status = 'running' WHERE id = ?",
                     "i", id);
    unsigned char *zip = NULL;
    size_t len = 0;
    json_t *cats = NULL;
    if (st == ST_OK)
        st = privacy_export_zip(ctx->db, ctx->c, user_id, lang, &zip, &len, &cats);
    if (st == ST_TOOLARGE) {
        json_decref(cats);
        return export_failed(ctx, id, "the archive would be too large");
    }
    if (st == ST_OK)
        st = job_heartbeat(ctx);
    char name[96] = "";
    if (st == ST_OK)
        st = export_write(ctx->c, user_id, zip, len, name);
    if (st == ST_NOTFOUND) { /* the account's key is gone: erased meanwhile */
        free(zip);
        json_decref(cats);
        return ST_OK;
    }
    if (st == ST_OK)
        st = job_begin(ctx);
    if (st == ST_OK)
        st = export_done(ctx, id, user_id, lang, name, zip, len, cats);
    if (st != ST_OK && name[0])
        export_unlink(name);
    if (zip) {
        sodium_memzero(zip, len);
        free(zip);
    }
    json_decref(cats);
    if (st == ST_OK)
        notify_worker_wake();
    else
        job_set_error(ctx, "export %lld: %s", (long long)id, st_name(st));
    return st == ST_NOTFOUND ? ST_OK : st;
}

/* ---------------------------------------------------------------- retention of archives */

/* The retention rule of privacy_exports: the expired rows and their files,
 * and files no row names any more (a run that crashed after writing). */
enum st rights_exports_purge(struct db_conn *c, int64_t before, int64_t *removed)
{
    *removed = 0;
    struct db_stmt *s;
    bool row;
    char names[64][96];
    int64_t ids[64];
    size_t n = 0;
    enum st st = rights_query(c, &s, &row,
                              "SELECT id, file_name FROM privacy_exports WHERE expires_at < ? "
                              "ORDER BY id LIMIT 64",
                              "i", before);
    while (st == ST_OK && row && n < 64) {
        ids[n] = db_col_int64(s, 0);
        snprintf(names[n], sizeof names[n], "%s", db_col_text(s, 1) ? db_col_text(s, 1) : "");
        n++;
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    for (size_t i = 0; i < n && st == ST_OK; i++) {
        int64_t changed = 0;
        st = rights_exec(c, &changed, "DELETE FROM privacy_exports WHERE id = ?", "i", ids[i]);
        if (st == ST_OK && names[i][0])
            export_unlink(names[i]);
        *removed += changed;
    }
    /* Orphans: sealed files older than a day that no row names. */
    DIR *d = st == ST_OK ? opendir(rights_opt()->export_dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && st == ST_OK) {
        size_t len = strlen(e->d_name), sl = strlen(EXPORT_FILE_SUFFIX);
        if (len <= sl || len >= 96 || strcmp(e->d_name + len - sl, EXPORT_FILE_SUFFIX) != 0)
            continue;
        char path[700];
        export_path(e->d_name, path, sizeof path);
        struct stat sb;
        if (stat(path, &sb) != 0 || (int64_t)sb.st_mtime * 1000 > clock_now_ms() - 86400000LL)
            continue;
        int64_t named = 0;
        st = rights_query(c, &s, &row, "SELECT 1 FROM privacy_exports WHERE file_name = ?", "t",
                          e->d_name);
        named = row;
        if (s)
            db_stmt_done(s);
        if (st == ST_OK && !named) {
            export_unlink(e->d_name);
            (*removed)++;
        }
    }
    if (d)
        closedir(d);
    return st;
}

/* Deletes the archives of user_id (erasure; its rows go with the registry). */
void rights_exports_forget(struct db_conn *c, int64_t user_id)
{
    struct db_stmt *s;
    bool row;
    enum st st = rights_query(c, &s, &row,
                              "SELECT file_name FROM privacy_exports WHERE user_id = ? AND "
                              "file_name IS NOT NULL",
                              "i", user_id);
    while (st == ST_OK && row) {
        export_unlink(db_col_text(s, 0));
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
}

/* ---------------------------------------------------------------- registration */

static const struct job_kind export_kinds[] = {
    {.name = "privacy.export",
     .run = export_run,
     .long_running = true,
     .max_attempts = 3,
     .lease_ms = 10 * 60000,
     .backoff_ms = 30000},
};

enum st rights_export_register(void)
{
    if (jobs_kind_find(export_kinds[0].name))
        return ST_OK;
    return jobs_register(export_kinds, sizeof export_kinds / sizeof export_kinds[0]);
}
