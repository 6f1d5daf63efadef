/*
 * audit.h — the append-only, hash-chained audit log (SPEC §3): security
 * events and every staff read of a user's personal data (who, role, whose
 * data, which fields, why).
 *
 * Chain. Entry i (ids are dense: 1, 2, 3, ...) stores
 *   entry_hash_i = SHA-256(0x00 ‖ prev_hash_i ‖ canonical(entry_i))
 * with prev_hash_i = entry_hash_{i-1} (32 zero bytes for entry 1): an
 * RFC 6962 leaf hash whose data starts with the previous entry's hash.
 * canonical() is, for the fields id, at, actor_id, actor_role, action,
 * subject_user_id, fields, reason, detail, ip in this order:
 *   NULL → 0x00;  integer → 0x01 ‖ 8 bytes big endian (two's complement);
 *   text → 0x02 ‖ length (4 bytes big endian) ‖ the bytes.
 * The Merkle root for publication is RFC 6962's MTH over the entry hashes
 * as leaf hashes (inner nodes SHA-256(0x01 ‖ left ‖ right); the empty tree
 * is SHA-256 of nothing).
 *
 * Tamper evidence. Database triggers refuse UPDATE and DELETE, and a
 * one-row audit_head table records the last id and hash. audit_verify
 * still finds, without the triggers: an altered entry (its hash), a removed
 * one (a gap in the ids or a prev_hash that does not match), reordered ones
 * (the id is hashed) and entries cut from the end (audit_head). Someone who
 * can rewrite the whole table *and* audit_head can forge a consistent
 * chain: publish the root now and then (`entrepot audit verify` prints it)
 * and check it later with audit_check's published (count, root).
 *
 * Domain code never includes HTTP: plain C arguments, enum st results.
 */
#ifndef ENTREPOT_AUDIT_H
#define ENTREPOT_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "db/db.h"

#define AUDIT_HASH_BYTES 32
#define AUDIT_NAME_MAX   64          /* bytes of actor_role and action */
#define AUDIT_FIELDS_MAX 1024        /* bytes of the fields list */
#define AUDIT_REASON_MAX 2000        /* bytes of the reason */
#define AUDIT_DETAIL_MAX (16 * 1024) /* bytes of the detail JSON */
#define AUDIT_IP_MAX     64          /* bytes of the address */
#define AUDIT_LIST_MAX   100         /* entries audit_list returns at most */

struct audit_entry {
    int64_t actor_id;        /* who acted; 0 = nobody (system, anonymous) */
    const char *actor_role;  /* "user", "support", "operations", "compliance",
                                "administrator", "system", ... */
    const char *action;      /* dotted name: "login.ok", "staff.read_personal_data" */
    int64_t subject_user_id; /* whose data or account; 0 = none */
    const char *fields;      /* NULL or comma-separated field names: "phone,email" */
    const char *reason;      /* NULL or why (required by policy for staff reads) */
    const char *detail;      /* NULL or a JSON object as text; stored compact, keys sorted */
    const char *ip;          /* NULL or the client address */
};

/* Appends e, stamped with clock_now_ms(), and returns its id in *id (may be
 * NULL). Must run inside the caller's transaction (db_begin): the head is
 * locked first, so appends of concurrent transactions are serialised on
 * both engines and the entry commits or rolls back with the caller's work.
 * ST_INVALID when e breaks a rule: actor_role and action are required,
 * 1..AUDIT_NAME_MAX bytes of [a-z0-9_.:-]; fields [a-z0-9_.,]; reason valid
 * UTF-8; detail a JSON object; ip printable ASCII; each within its cap. */
enum st audit_append(struct db_conn *c, const struct audit_entry *e, int64_t *id);
/* The same in a transaction of its own, on a connection of its own. */
enum st audit_append_tx(struct db *db, const struct audit_entry *e, int64_t *id);

/* What audit_check found. */
struct audit_report {
    int64_t checked;      /* entries verified (all of them when intact) */
    int64_t first_bad_id; /* 0 when intact; else the first id found wrong or missing */
    char why[200];        /* "" when intact; else what is wrong */
    unsigned char root[AUDIT_HASH_BYTES]; /* Merkle root of the checked entries */
};

/* Walks the log in id order, recomputing every hash. ST_OK when intact;
 * ST_INVALID when not (report says where and why); other statuses for a
 * database failure. When published_count > 0, the first published_count
 * entries must also have the Merkle root published_root (a root printed
 * earlier), which catches a rewritten history. */
enum st audit_check(struct db *db, int64_t published_count, const unsigned char *published_root,
                    struct audit_report *report);
/* audit_check without a published root, in plain out-parameters (each may
 * be NULL): entries checked, first bad id (0 when intact) and why. */
enum st audit_verify(struct db *db, int64_t *checked, int64_t *first_bad_id, char *why,
                     size_t whylen);
/* The Merkle root of the whole log and its entry count, for publication.
 * Verifies the chain first: ST_INVALID when it is broken. */
enum st audit_root(struct db *db, int64_t *count, unsigned char root[AUDIT_HASH_BYTES]);

/* Entries about subject_user_id, newest first: those with id < before_id
 * (0 = from the newest), at most limit (1..AUDIT_LIST_MAX). *out receives a
 * new JSON array (caller json_decref's) of objects
 *   {"id","at","action","actor_role","by_self","fields":[..],"reason",
 *    "detail":{..}|null,"ip"}
 * plus "actor_id" when include_actor (staff views; a user's own view shows
 * the role only). *next_before (may be NULL) is the cursor for the next
 * page, 0 when there is none. */
enum st audit_list(struct db *db, int64_t subject_user_id, int64_t before_id, int limit,
                   bool include_actor, json_t **out, int64_t *next_before);

/* SHA-256 of the canonical entry as described above (exposed for tests and
 * for outside verifiers). at and id are taken from the arguments. */
void audit_entry_hash(const unsigned char prev[AUDIT_HASH_BYTES], int64_t id, int64_t at,
                      const struct audit_entry *e, unsigned char out[AUDIT_HASH_BYTES]);

#endif
