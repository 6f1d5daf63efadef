/*
 * migrate.c — `entrepot migrate`: apply pending migrations and say what
 * the schema version is. Safe to run on a live database.
 */
#include <stdio.h>

#include "cmd.h"

static const char *const keys[] = {"config",    "data_dir",   "database",
                                   "log_level", "log_format", NULL};

int cmd_migrate(int argc, char **argv)
{
    int rc = cmd_configure(argc, argv,
                           "usage: entrepot migrate [OPTIONS]\n\nApplies pending database "
                           "migrations in order, each in a transaction.",
                           keys);
    if (rc)
        return rc == 1 ? 0 : rc;
    struct db *db;
    if (cmd_open_db(&db, 1) != ST_OK)
        return 1;
    int applied = 0;
    enum st s = db_migrate(db, &applied);
    int64_t version = 0;
    if (s == ST_OK)
        s = db_schema_version(db, &version);
    db_close(db);
    if (s != ST_OK) {
        fprintf(stderr, "entrepot: migrate failed (%s)\n", st_name(s));
        return 1;
    }
    printf("applied %d migration(s); schema version %lld\n", applied, (long long)version);
    return 0;
}
