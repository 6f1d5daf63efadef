/*
 * privacy.c — `entrepot privacy inventory` prints the personal-data
 * registry as JSON (its format is in docs/architecture.md); `entrepot
 * privacy check` holds the registry to its rules and to the schema of the
 * configured database, and lists each disagreement (exit 1), for an
 * operator after a migration or a CI step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "privacy/privacy.h"

static const char *const keys[] = {"config",    "data_dir",   "database",
                                   "log_level", "log_format", NULL};

static const char USAGE[] =
    "usage: entrepot privacy inventory\n"
    "       entrepot privacy check [OPTIONS]\n\n"
    "inventory  prints the personal-data registry as JSON: every table and column,\n"
    "           personal or not, with category, purpose, legal basis, encryption,\n"
    "           retention and the export and erasure treatments.\n"
    "check      compares the registry with its own rules and with the schema of the\n"
    "           database; prints each problem and exits 1 when there is one.";

static int print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(v);
    if (!s)
        return 1;
    printf("%s\n", s);
    free(s);
    return 0;
}

static int check(int argc, char **argv)
{
    int rc = cmd_configure(argc, argv, USAGE, keys);
    if (rc)
        return rc == 1 ? 0 : rc;
    json_t *problems = json_array();
    privacy_registry_check(privacy_table_at(0), privacy_table_count(), problems);
    struct db *db = NULL;
    if (cmd_open_db(&db, 1) != ST_OK) {
        json_decref(problems);
        return 1;
    }
    enum st s = privacy_schema_compare(db, privacy_table_at(0), privacy_table_count(), problems);
    db_close(db);
    if (s != ST_OK) {
        fprintf(stderr, "entrepot: cannot read the schema (%s)\n", st_name(s));
        json_decref(problems);
        return 1;
    }
    size_t i, n = json_array_size(problems);
    json_t *p;
    json_array_foreach(problems, i, p) printf("%s\n", json_string_value(p));
    json_decref(problems);
    if (n == 0)
        printf("privacy check: the registry covers the schema (%zu tables)\n",
               privacy_table_count());
    return n == 0 ? 0 : 1;
}

int cmd_privacy(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    if (strcmp(sub, "inventory") == 0 && argc == 2)
        return print_json(privacy_inventory_json());
    if (strcmp(sub, "check") == 0)
        return check(argc - 1, argv + 1);
    bool help = strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ||
                (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0));
    fprintf(help ? stdout : stderr, "%s\n", USAGE);
    return help ? 0 : 2;
}
