/*
 * audit.c — `entrepot audit verify`: recompute the audit log's hash chain
 * and print its Merkle root for publication, or say where it is broken.
 *
 * The root printed today, checked again later with --published N:HEX,
 * is what catches someone who rewrote the whole table and its head: keep
 * the printed roots somewhere the database's administrators cannot edit.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "cmd.h"

static const char *const keys[] = {"config",    "data_dir",   "database",
                                   "log_level", "log_format", NULL};

static const char USAGE[] =
    "usage: entrepot audit verify [--published N:HEX] [OPTIONS]\n\n"
    "Recomputes every entry of the audit log in id order and checks the chain:\n"
    "an altered, removed or reordered entry is reported with its id (exit 1).\n"
    "When intact, prints the entry count and the Merkle root (RFC 6962) to\n"
    "publish. --published N:HEX checks that the first N entries still have the\n"
    "root HEX printed earlier.";

/* Parses "N:HEX" (a count and a 64-digit root). */
static bool parse_published(const char *s, int64_t *n, unsigned char root[AUDIT_HASH_BYTES])
{
    const char *colon = strchr(s, ':');
    char num[24];
    size_t bin = 0;
    const char *end = NULL;
    if (!colon || (size_t)(colon - s) >= sizeof num || colon == s)
        return false;
    memcpy(num, s, (size_t)(colon - s));
    num[colon - s] = '\0';
    if (parse_int64(num, 1, INT64_MAX, n) != ST_OK)
        return false;
    return strlen(colon + 1) == AUDIT_HASH_BYTES * 2 &&
           sodium_hex2bin(root, AUDIT_HASH_BYTES, colon + 1, AUDIT_HASH_BYTES * 2, NULL, &bin,
                          &end) == 0 &&
           bin == AUDIT_HASH_BYTES;
}

static int verify(int argc, char **argv)
{
    /* Take --published out before the shared option parser sees argv. */
    char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    int64_t pub_n = 0;
    unsigned char pub_root[AUDIT_HASH_BYTES];
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--published") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "entrepot: --published needs N:HEX\n");
                free(rest);
                return 2;
            }
            v = argv[++i];
        } else if (strncmp(argv[i], "--published=", 12) == 0) {
            v = argv[i] + 12;
        } else {
            rest[nrest++] = argv[i];
            continue;
        }
        if (!parse_published(v, &pub_n, pub_root)) {
            fprintf(stderr, "entrepot: --published: expected N:HEX (a count and %d hex digits)\n",
                    AUDIT_HASH_BYTES * 2);
            free(rest);
            return 2;
        }
    }
    int rc = cmd_configure(nrest, rest, USAGE, keys);
    free(rest);
    if (rc)
        return rc == 1 ? 0 : rc;
    struct db *db;
    if (cmd_open_db(&db, 1) != ST_OK)
        return 1;
    struct audit_report r;
    enum st s = audit_check(db, pub_n, pub_n ? pub_root : NULL, &r);
    db_close(db);
    if (s == ST_INVALID) {
        printf("audit: chain broken at entry %lld: %s\n", (long long)r.first_bad_id, r.why);
        return 1;
    }
    if (s != ST_OK) {
        fprintf(stderr, "entrepot: audit verify failed (%s); see the log\n", st_name(s));
        return 1;
    }
    char hex[AUDIT_HASH_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, r.root, sizeof r.root);
    printf("audit: %lld entries verified, root %s\n", (long long)r.checked, hex);
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(argc < 2 ? stderr : stdout, "%s\n", USAGE);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "verify") == 0)
        return verify(argc - 1, argv + 1);
    fprintf(stderr, "entrepot: unknown audit command \"%s\" (see entrepot audit --help)\n",
            argv[1]);
    return 2;
}
