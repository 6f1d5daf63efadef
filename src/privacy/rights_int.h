/*
 * rights_int.h — shared by the files of the user's rights in src/privacy
 * only (export.c, erase.c, retention.c, rights_util.c, export_api.c).
 *
 * These files turn the registry into SQL: table and column names come
 * from the registry and the live schema, never from a request, and are
 * checked to be plain identifiers before they are written into a
 * statement (rights_ident_ok); every value is bound.
 */
#ifndef ENTREPOT_PRIVACY_RIGHTS_INT_H
#define ENTREPOT_PRIVACY_RIGHTS_INT_H

#include <stdarg.h>

#include "privacy.h"

#define RIGHTS_IDENT_MAX 63 /* bytes of a table or column name */
#define RIGHTS_COLS_MAX  64 /* columns of one table */

/* The options in force (privacy_rights_configure). */
struct rights_options {
    char export_dir[512];
    int64_t export_ttl_ms;
    int64_t cooling_off_ms;
};
const struct rights_options *rights_opt(void);

/* ---------------------------------------------------------------- live schema */

enum rights_type { RT_INT, RT_TEXT, RT_BLOB };

struct rights_col {
    char name[RIGHTS_IDENT_MAX + 1];
    enum rights_type type;
    bool notnull;
    char dflt[128]; /* the schema's default expression, "" for none */
};

/* The live columns of one table, as the schema declares them. */
struct rights_table {
    struct rights_col cols[RIGHTS_COLS_MAX];
    size_t n;
};

/* True for [a-z_][a-z0-9_]{0,62}: a name that may be written into SQL. */
bool rights_ident_ok(const char *s);
/* Reads table's columns from db's schema (on c). ST_NOTFOUND when the
 * table does not exist, ST_INVALID for a name that is not an identifier
 * or a table with more than RIGHTS_COLS_MAX columns. */
enum st rights_table_load(struct db *db, struct db_conn *c, const char *table,
                          struct rights_table *out);
const struct rights_col *rights_col_find(const struct rights_table *t, const char *name);

/* Whether the registered table exists on db's engine. */
bool rights_engine_has(struct db *db, const struct pd_table *t);

/* Appends "WHERE owner = ?" for t, or for a table owned through another
 * one "WHERE owner IN (SELECT id FROM parent WHERE parent_owner = ?)".
 * ST_INVALID when t has no owner (or a name is not an identifier). */
enum st rights_owner_where(const struct pd_table *t, struct buf *sql);

/* ---------------------------------------------------------------- statements */

/* Statements bound by a format string: the db layer's helpers (db.h lists
 * the letters). rights_exec runs to the end; rights_query steps once
 * (finish with db_stmt_done when *s is set, also after a failure);
 * rights_insert reads the RETURNING id of an INSERT. */
#define rights_exec   db_execf
#define rights_query  db_queryf
#define rights_insert db_query_int64f
/* Queues a job of kind for the row id (payload {field: id}, unique key
 * "kind:id", for user_id, due at run_at, 0 = now) in c's transaction; its
 * id into *job (may be NULL). */
enum st rights_enqueue(struct db_conn *c, const char *kind, const char *field, int64_t id,
                       int64_t user_id, int64_t run_at, int64_t *job);
/* Commits when st is ST_OK, else rolls back; returns the outcome. */
enum st rights_finish(struct db_conn *c, enum st st);

/* ---------------------------------------------------------------- keys and notices */

/* The account's data key. ST_NOTFOUND when it has none (erased: shredded). */
enum st rights_user_dk(struct db_conn *c, int64_t user_id, unsigned char dk[CRYPTO_DATAKEY_BYTES]);
/* The associated data a column sealed under the owner's key was sealed
 * with: "users.phone" for users.phone_enc. */
void rights_aad(const struct pd_table *t, const struct pd_column *col, char *out, size_t n);

/* The language to write to user_id in: theirs, else fallback, else "en". */
const char *rights_lang(const json_t *me, const char *fallback);
/* Tells user_id about something inside the caller's transaction: a notice
 * in the in-app inbox (kind, params, ref) and a message to their verified
 * e-mail, or by SMS when they have none, whose subject and body are the
 * catalogue's "<key>.subject" / "<key>.body" with the placeholders given
 * as a NULL-terminated list of name, value pairs. me is accounts_me's
 * answer (the addresses); the message goes with user_id 0 when
 * detached (after the account is erased). */
enum st rights_tell(struct db_conn *c, int64_t user_id, const json_t *me, bool detached,
                    const char *lang, const char *kind, const json_t *params, const char *ref,
                    const char *key, ...);

/* A time as "YYYY-MM-DD HH:MM UTC". */
void rights_date(int64_t ms, char out[32]);

/* ---------------------------------------------------------------- between the files */

/* export.c: the retention rule of privacy_exports (rows expired before
 * `before` and their files, and sealed files no row names, older than a
 * day); *removed counts both. */
enum st rights_exports_purge(struct db_conn *c, int64_t before, int64_t *removed);
/* export.c: deletes the archive files of user_id (erasure; the rows go by
 * the registry). */
void rights_exports_forget(struct db_conn *c, int64_t user_id);

/* The job kinds of each file (idempotent). */
enum st rights_export_register(void);
enum st rights_erase_register(void);
enum st rights_retention_register(void);

#endif
