/*
 * inbox.c — the in-app inbox, and the user's view of staff access to
 * their data.
 *
 * The inbox is deliberately generic: a notice is a kind and its params
 * (ids, names, dates — never secrets or message text), and the web app
 * words it from the catalogue ("inbox.<kind>") in the reader's language
 * at reading time, so one notice reads right in any language and after a
 * change of language. A ref makes a notice unique per user, which is what
 * lets the jobs that send notices run again without doubling them.
 *
 * Staff access comes from the audit log, which is the record of it
 * (consent.h says why the staff member's identity is not shown).
 */
#include <stdlib.h>
#include <string.h>

#include "consent_int.h"

static bool kind_ok(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n == 0 || n > INBOX_KIND_MAX)
        return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("_.-", *p)))
            return false;
    return true;
}

enum st privacy_inbox_add(struct db_conn *c, int64_t user_id, const char *kind,
                          const json_t *params, const char *ref, bool *added)
{
    if (added)
        *added = false;
    if (user_id <= 0 || !kind_ok(kind) || (params && !json_is_object(params)) ||
        (ref && (!*ref || strlen(ref) > INBOX_REF_MAX)))
        return ST_INVALID;
    char *text = params ? json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS) : xstrdup("{}");
    if (!text || strlen(text) > INBOX_PARAMS_MAX) {
        free(text);
        return ST_INVALID;
    }
    int64_t changes = 0;
    enum st st = pc_exec(c, &changes,
                         "INSERT INTO inbox (user_id, kind, params, ref, created_at) VALUES "
                         "(?, ?, ?, ?, ?) ON CONFLICT (user_id, ref) DO NOTHING",
                         "itttI", user_id, kind, text, ref, clock_now_ms());
    free(text);
    if (st == ST_OK && added)
        *added = changes > 0;
    return st;
}

static json_t *inbox_row(struct db_stmt *s)
{
    json_t *params = json_loads(db_col_text(s, 2), 0, NULL);
    return json_pack("{s:I, s:s, s:o, s:I, s:o}", "id", (json_int_t)db_col_int64(s, 0), "kind",
                     db_col_text(s, 1), "params", json_is_object(params) ? params : json_object(),
                     "created_at", (json_int_t)db_col_int64(s, 3), "read_at", pc_intval(s, 4));
}

enum st privacy_inbox_list(struct db_conn *c, int64_t user_id, int64_t before, int limit,
                           json_t **out, int64_t *next, int64_t *unread)
{
    enum st st = pc_page(c,
                         "SELECT id, kind, params, created_at, read_at FROM inbox WHERE "
                         "user_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                         user_id, before, limit, inbox_row, out, next);
    if (st == ST_OK && unread) {
        st = pc_int(c, unread, "SELECT COUNT(*) FROM inbox WHERE user_id = ? AND read_at IS NULL",
                    "i", user_id);
        if (st != ST_OK) {
            json_decref(*out);
            *out = NULL;
        }
    }
    return st;
}

enum st privacy_inbox_read(struct db_conn *c, int64_t user_id, int64_t id)
{
    int64_t one;
    enum st st =
        pc_int(c, &one, "SELECT 1 FROM inbox WHERE id = ? AND user_id = ?", "ii", id, user_id);
    if (st == ST_OK)
        st =
            pc_exec(c, NULL,
                    "UPDATE inbox SET read_at = ? WHERE id = ? AND user_id = ? AND read_at IS NULL",
                    "iii", clock_now_ms(), id, user_id);
    return st;
}

enum st privacy_inbox_read_all(struct db_conn *c, int64_t user_id, int64_t *marked)
{
    return pc_exec(c, marked, "UPDATE inbox SET read_at = ? WHERE user_id = ? AND read_at IS NULL",
                   "ii", clock_now_ms(), user_id);
}

/* ---------------------------------------------------------------- staff access */

static json_t *access_row(struct db_stmt *s)
{
    return json_pack("{s:I, s:I, s:s, s:s, s:o, s:o}", "id", (json_int_t)db_col_int64(s, 0), "at",
                     (json_int_t)db_col_int64(s, 1), "role", db_col_text(s, 2), "action",
                     db_col_text(s, 3), "fields", pc_split(db_col_text(s, 4)), "purpose",
                     pc_text(s, 5));
}

enum st privacy_staff_accesses(struct db_conn *c, int64_t user_id, int64_t before, int limit,
                               json_t **out, int64_t *next)
{
    /* Staff act under their role names (accounts_role_names); an entry
     * a staff member made about their own account is not an access. */
    return pc_page(c,
                   "SELECT id, at, actor_role, action, fields, reason FROM audit_log WHERE "
                   "actor_role IN ('support', 'operations', 'compliance', 'administrator') AND "
                   "(actor_id IS NULL OR actor_id <> subject_user_id) AND "
                   "subject_user_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                   user_id, before, limit, access_row, out, next);
}
