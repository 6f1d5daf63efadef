/*
 * keys.c — `entrepot keys rotate|status`: master key rotation without
 * downtime, and a look at which key wraps how many user keys.
 *
 * Rotation, in an order that is safe to interrupt and resume at any point:
 *   1. the key file gets a new key as primary, the old one kept second
 *      (written atomically before anything uses the new key);
 *   2. wait CRYPTO_KEYRING_ROTATE_GRACE_S (--grace-seconds): running
 *      servers re-read the file within CRYPTO_KEYRING_RECHECK_MS and wrap
 *      new users' keys with the new key from then on;
 *   3. re-wrap every row of user_keys still under an old key, 500 rows a
 *      transaction, each update conditional on the row being unchanged;
 *   4. once no row names an old key, rewrite the file with the new key
 *      only; if a row under an old key shows up after all (a server that
 *      missed the change), put the old key back and go round again.
 * A second run while the file still holds several keys finishes that
 * rotation instead of starting another. The index key (blind indexes,
 * sessions, codes) is pinned in the file at step 1 and never changes.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cmd.h"

#define REWRAP_BATCH 500
#define ROTATE_TRIES 3

static const char *const keys[] = {"config",     "data_dir",  "database",   "master_key_file",
                                   "master_key", "log_level", "log_format", NULL};

static const char USAGE[] =
    "usage: entrepot keys rotate [--grace-seconds N] [OPTIONS]\n"
    "       entrepot keys status [OPTIONS]\n\n"
    "rotate: adds a new master key to the key file as the primary, re-wraps every\n"
    "user's data key with it, then removes the old key from the file. Servers keep\n"
    "running: they re-read the key file on their own. --grace-seconds (default 12)\n"
    "is how long to wait for them before re-wrapping. With several servers, the\n"
    "key file must be shared (or copied at once) between them.\n"
    "status: the key ids in the key file and how many user keys each one wraps.";

static char *keyfile_path(void)
{
    const char *kf = config_str("master_key_file");
    return *kf ? xstrdup(kf) : xasprintf("%s/master.key", config_str("data_dir"));
}

struct row {
    int64_t user_id;
    unsigned char wrapped[CRYPTO_WRAPPED_BYTES];
    size_t len;
};

struct pass {
    int64_t rows;      /* rows seen */
    int64_t rewrapped; /* rows updated */
    int64_t old;       /* rows (still) not under the primary key */
    int64_t per_id_count[MASTER_KEYS_MAX + 1];
    int64_t failed_user; /* a row that could not be re-wrapped */
    enum st failed_st;
};

/* Reads up to REWRAP_BATCH rows after cursor. */
static enum st read_batch(struct db_conn *c, int64_t cursor, struct row *rows, int *n)
{
    struct db_stmt *s;
    bool row = false;
    *n = 0;
    enum st st = db_prepare(
        c, "SELECT user_id, wrapped_key FROM user_keys WHERE user_id > ? ORDER BY user_id LIMIT ?",
        &s);
    if (st == ST_OK)
        st = db_bind_int64(s, 1, cursor);
    if (st == ST_OK)
        st = db_bind_int64(s, 2, REWRAP_BATCH);
    while (st == ST_OK && (st = db_step(s, &row)) == ST_OK && row && *n < REWRAP_BATCH) {
        size_t len = 0;
        const void *w = db_col_blob(s, 1, &len);
        struct row *r = &rows[(*n)++];
        r->user_id = db_col_int64(s, 0);
        r->len = len <= sizeof r->wrapped ? len : sizeof r->wrapped + 1;
        if (len <= sizeof r->wrapped)
            memcpy(r->wrapped, w, len);
    }
    db_stmt_done(s);
    return st;
}

/* Re-wraps the rows of one batch that are not under the primary key, in
 * one transaction. */
static enum st rewrap_batch(struct db_conn *c, uint32_t primary, const struct row *rows, int n,
                            struct pass *p)
{
    enum st st = db_begin(c);
    int64_t done = 0;
    for (int i = 0; st == ST_OK && i < n; i++) {
        const struct row *r = &rows[i];
        if (r->len == CRYPTO_WRAPPED_BYTES && crypto_wrapped_key_id(r->wrapped, r->len) == primary)
            continue;
        unsigned char *w = NULL;
        size_t wlen = 0;
        st = r->len <= CRYPTO_WRAPPED_BYTES
                 ? crypto_datakey_rewrap(r->user_id, r->wrapped, r->len, &w, &wlen)
                 : ST_INVALID;
        if (st != ST_OK) {
            p->failed_user = r->user_id;
            p->failed_st = st;
            break;
        }
        struct db_stmt *s;
        bool row = true;
        st = db_prepare(c,
                        "UPDATE user_keys SET wrapped_key = ? WHERE user_id = ? AND "
                        "wrapped_key = ?",
                        &s);
        if (st == ST_OK)
            st = db_bind_blob(s, 1, w, wlen);
        if (st == ST_OK)
            st = db_bind_int64(s, 2, r->user_id);
        if (st == ST_OK)
            st = db_bind_blob(s, 3, r->wrapped, r->len);
        while (st == ST_OK && row)
            st = db_step(s, &row);
        if (st == ST_OK)
            done += db_changes(s); /* 0: the row changed or went meanwhile */
        db_stmt_done(s);
        free(w);
    }
    if (st == ST_OK)
        st = db_commit(c);
    else
        db_rollback(c);
    if (st == ST_OK)
        p->rewrapped += done;
    return st;
}

/* One walk over user_keys: counts rows per key id (ring order; the last
 * slot counts ids not in the ring) and, when write, re-wraps those not under
 * the primary key. */
static enum st pass_run(struct db *db, const struct master_keyring *ring, bool write,
                        struct pass *p)
{
    memset(p, 0, sizeof *p);
    struct db_conn *c;
    enum st st = db_acquire(db, &c);
    if (st != ST_OK)
        return st;
    struct row *rows = xcalloc(REWRAP_BATCH, sizeof *rows);
    int64_t cursor = INT64_MIN;
    for (;;) {
        int n = 0;
        st = read_batch(c, cursor, rows, &n);
        if (st != ST_OK || n == 0)
            break;
        for (int i = 0; i < n; i++) {
            uint32_t id = crypto_wrapped_key_id(rows[i].wrapped, rows[i].len);
            size_t slot = MASTER_KEYS_MAX;
            for (size_t k = 0; k < ring->count; k++)
                if (ring->ids[k] == id)
                    slot = k;
            p->per_id_count[slot]++;
            if (slot != 0)
                p->old++;
        }
        p->rows += n;
        if (write) {
            st = rewrap_batch(c, ring->ids[0], rows, n, p);
            if (st != ST_OK)
                break;
        }
        cursor = rows[n - 1].user_id;
        if (n < REWRAP_BATCH)
            break;
    }
    sodium_memzero(rows, REWRAP_BATCH * sizeof *rows);
    free(rows);
    db_release(c);
    return st;
}

static enum st table_ok(struct db *db)
{
    struct db_conn *c;
    struct db_stmt *s;
    bool row = false;
    enum st st = db_acquire(db, &c);
    if (st != ST_OK)
        return st;
    st = db_prepare(c, "SELECT COUNT(*) FROM user_keys", &s);
    if (st == ST_OK) {
        st = db_step(s, &row);
        db_stmt_done(s);
    }
    db_release(c);
    return st;
}

/* Strips --grace-seconds from argv into *grace; returns the remaining
 * argument count (rest is filled), or -1 after printing an error. */
static int take_grace(int argc, char **argv, char **rest, int64_t *grace)
{
    int n = 0;
    for (int i = 0; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--grace-seconds") == 0 && i + 1 < argc)
            v = argv[++i];
        else if (strncmp(argv[i], "--grace-seconds=", 16) == 0)
            v = argv[i] + 16;
        else {
            rest[n++] = argv[i];
            continue;
        }
        if (parse_int64(v, 0, 3600, grace) != ST_OK) {
            fprintf(stderr, "entrepot: --grace-seconds: expected 0..3600\n");
            return -1;
        }
    }
    return n;
}

static void print_ids(const struct master_keyring *r, size_t from, char *out, size_t len)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = from; i < r->count && o < len; i++)
        o += (size_t)snprintf(out + o, len - o, "%s%lu", i > from ? "," : "",
                              (unsigned long)r->ids[i]);
}

static int rotate(struct db *db, const char *path, struct master_keyring *ring, int64_t grace)
{
    char err[512];
    if (ring->count == 1) {
        uint32_t max = ring->ids[0];
        if (max == UINT32_MAX) {
            fprintf(stderr, "entrepot: key ids are exhausted\n");
            return 1;
        }
        crypto_keyring_pin_index(ring);
        ring->ids[1] = ring->ids[0];
        memcpy(ring->keys[1], ring->keys[0], MASTER_KEY_BYTES);
        ring->ids[0] = max + 1;
        randombytes_buf(ring->keys[0], MASTER_KEY_BYTES);
        ring->count = 2;
        if (masterkey_ring_save(path, ring, err, sizeof err) != ST_OK) {
            fprintf(stderr, "entrepot: %s\n", err);
            return 1;
        }
        printf("keys: added master key %lu to %s as the primary; key %lu kept until every "
               "user key is re-wrapped\n",
               (unsigned long)ring->ids[0], path, (unsigned long)ring->ids[1]);
    } else {
        if (crypto_keyring_pin_index(ring) == ST_OK &&
            masterkey_ring_save(path, ring, err, sizeof err) != ST_OK) {
            fprintf(stderr, "entrepot: %s\n", err);
            return 1;
        }
        char old[128];
        print_ids(ring, 1, old, sizeof old);
        printf("keys: finishing the rotation to master key %lu (retiring %s)\n",
               (unsigned long)ring->ids[0], old);
    }
    if (crypto_keyring_install(ring) != ST_OK) {
        fprintf(stderr, "entrepot: cannot load the key ring\n");
        return 1;
    }
    if (grace > 0) {
        printf("keys: waiting %lld s for running servers to read the new key file\n",
               (long long)grace);
        fflush(stdout);
        sleep((unsigned)grace);
    }

    struct master_keyring full = *ring, only;
    memset(&only, 0, sizeof only);
    only.count = 1;
    only.ids[0] = ring->ids[0];
    memcpy(only.keys[0], ring->keys[0], MASTER_KEY_BYTES);
    only.has_index = ring->has_index;
    memcpy(only.index_key, ring->index_key, MASTER_KEY_BYTES);

    int64_t rewrapped = 0;
    int rc = 1;
    struct pass p;
    for (int attempt = 0; attempt < ROTATE_TRIES; attempt++) {
        enum st st = pass_run(db, &full, true, &p);
        rewrapped += p.rewrapped;
        if (st != ST_OK) {
            if (p.failed_user)
                fprintf(stderr,
                        "entrepot: the data key of user %lld cannot be re-wrapped (%s); both "
                        "keys stay in %s\n",
                        (long long)p.failed_user, st_name(p.failed_st), path);
            else
                fprintf(stderr, "entrepot: re-wrapping failed (%s); both keys stay in %s\n",
                        st_name(st), path);
            goto out;
        }
        if ((st = pass_run(db, &full, false, &p)) != ST_OK || p.old > 0) {
            if (st != ST_OK)
                fprintf(stderr, "entrepot: database error (%s)\n", st_name(st));
            continue;
        }
        if (masterkey_ring_save(path, &only, err, sizeof err) != ST_OK) {
            fprintf(stderr, "entrepot: %s\n", err);
            goto out;
        }
        if ((st = pass_run(db, &full, false, &p)) == ST_OK && p.old == 0) {
            rc = 0;
            break;
        }
        /* A server still on the old key wrapped a new user's key after all:
         * give the old key back, re-wrap, try again. */
        fprintf(stderr, "keys: %lld user key(s) appeared under an old key; going round again\n",
                (long long)p.old);
        if (masterkey_ring_save(path, &full, err, sizeof err) != ST_OK) {
            fprintf(stderr, "entrepot: %s (RESTORE the old key from backup)\n", err);
            goto out;
        }
    }
    if (rc != 0) {
        fprintf(stderr,
                "entrepot: user keys under an old key keep appearing; is a server running "
                "that does not watch %s? Both keys stay in the file.\n",
                path);
        goto out;
    }
    crypto_keyring_install(&only);
    char old[128], detail[256];
    print_ids(&full, 1, old, sizeof old);
    snprintf(detail, sizeof detail, "{\"primary\":%lu,\"retired\":[%s],\"rewrapped\":%lld}",
             (unsigned long)only.ids[0], old, (long long)rewrapped);
    struct audit_entry e = {
        .actor_role = "system",
        .action = "keys.rotated",
        .detail = detail,
    };
    if (audit_append_tx(db, &e, NULL) != ST_OK)
        fprintf(stderr, "keys: warning: could not write the audit log entry\n");
    printf("keys: rotated to master key %lu; %lld user key(s) re-wrapped; key(s) %s removed "
           "from %s\n",
           (unsigned long)only.ids[0], (long long)rewrapped, old, path);
out:
    masterkey_ring_wipe(&full);
    masterkey_ring_wipe(&only);
    return rc;
}

static int status(struct db *db, const char *path, const struct master_keyring *ring)
{
    struct pass p;
    char ids[128];
    print_ids(ring, 1, ids, sizeof ids);
    printf("keys: %s: primary key %lu%s%s; index key %s\n", path, (unsigned long)ring->ids[0],
           ring->count > 1 ? ", older " : "", ids,
           ring->has_index ? "in the file" : "derived from the oldest key");
    enum st st = pass_run(db, ring, false, &p);
    if (st != ST_OK) {
        fprintf(stderr, "entrepot: cannot read user_keys (%s)\n", st_name(st));
        return 1;
    }
    for (size_t i = 0; i < ring->count; i++)
        printf("keys: %lld user key(s) wrapped with key %lu\n", (long long)p.per_id_count[i],
               (unsigned long)ring->ids[i]);
    if (p.per_id_count[MASTER_KEYS_MAX])
        printf("keys: %lld user key(s) under a key not in the file!\n",
               (long long)p.per_id_count[MASTER_KEYS_MAX]);
    return p.per_id_count[MASTER_KEYS_MAX] ? 1 : 0;
}

int cmd_keys(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(argc < 2 ? stderr : stdout, "%s\n", USAGE);
        return argc < 2 ? 2 : 0;
    }
    bool is_rotate = strcmp(argv[1], "rotate") == 0;
    if (!is_rotate && strcmp(argv[1], "status") != 0) {
        fprintf(stderr, "entrepot: unknown keys command \"%s\" (see entrepot keys --help)\n",
                argv[1]);
        return 2;
    }
    argc--;
    argv++;
    int64_t grace = CRYPTO_KEYRING_ROTATE_GRACE_S;
    char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
    int nrest = is_rotate ? take_grace(argc, argv, rest, &grace) : argc;
    if (!is_rotate)
        memcpy(rest, argv, (size_t)argc * sizeof *rest);
    int rc = nrest < 0 ? 2 : cmd_configure(nrest, rest, USAGE, keys);
    free(rest);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (*config_str("master_key")) {
        fprintf(stderr, "entrepot: the master key comes from master_key (ENTREPOT_MASTER_KEY); "
                        "rotation works on a key file: move the key into one "
                        "(master_key_file) first\n");
        return 1;
    }
    char err[512];
    char *path = keyfile_path();
    struct master_keyring ring;
    if (masterkey_ring_load(path, NULL, false, &ring, err, sizeof err) != ST_OK) {
        fprintf(stderr, "entrepot: %s\n", err);
        free(path);
        return 1;
    }
    struct db *db = NULL;
    rc = 1;
    if (cmd_open_db(&db, 1) != ST_OK)
        goto out;
    if (table_ok(db) != ST_OK) {
        fprintf(stderr, "entrepot: cannot read the user_keys table (run `entrepot migrate`?)\n");
        goto out;
    }
    if (crypto_keyring_install(&ring) != ST_OK) {
        fprintf(stderr, "entrepot: cannot load the key ring\n");
        goto out;
    }
    rc = is_rotate ? rotate(db, path, &ring, grace) : status(db, path, &ring);
out:
    db_close(db);
    masterkey_ring_wipe(&ring);
    free(path);
    return rc;
}
