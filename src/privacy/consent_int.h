/*
 * consent_int.h — shared by the consent files of src/privacy only
 * (policy.c, purposes.c, inbox.c, consent_util.c).
 */
#ifndef ENTREPOT_PRIVACY_CONSENT_INT_H
#define ENTREPOT_PRIVACY_CONSENT_INT_H

#include "consent.h"

/* Statements bound by a format string: the db layer's helpers (db.h lists
 * the letters). pc_query prepares, binds and steps once (finish with
 * db_stmt_done, also after a failure when *s is set); pc_exec runs a write
 * to its end and reports the rows changed (changes may be NULL); pc_int
 * reads one integer (ST_NOTFOUND without a row, NULL reads 0). */
#define pc_query db_queryf
#define pc_exec  db_execf
#define pc_int   db_query_int64f
/* The index of s in names[0..n) (NULL entries never match), or -1. */
int pc_lookup(const char *const *names, int n, const char *s);
/* Commits when st is ST_OK, else rolls back; returns the outcome. */
enum st pc_finish(struct db_conn *c, enum st st);

json_t *pc_text(struct db_stmt *s, int col);   /* a string or null */
json_t *pc_intval(struct db_stmt *s, int col); /* an integer or null */

/* Turns one row into a list element. */
typedef json_t *(*pc_row_fn)(struct db_stmt *s);
/* A page of a user's rows, newest first. sql selects the row id as its
 * first column and ends with "WHERE <owner> = ? AND id < ? ORDER BY id
 * DESC LIMIT ?" (more conditions may come before the id one); the helper
 * binds user_id, before (0 = from the newest) and limit + 1. *next is the
 * id to pass as before for the next page, 0 when there is none. */
enum st pc_page(struct db_conn *c, const char *sql, int64_t user_id, int64_t before, int limit,
                pc_row_fn fn, json_t **out, int64_t *next);

/* Registers the job kind that sends policy notices (policy.c). */
enum st privacy_policy_jobs_register(void);

/* A comma-separated list as a JSON array of strings ([] for NULL/""). */
json_t *pc_split(const char *list);

#endif
