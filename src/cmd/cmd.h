/*
 * cmd.h — shared by the subcommands of the `entrepot` program.
 */
#ifndef ENTREPOT_CMD_H
#define ENTREPOT_CMD_H

#include <signal.h>

#include "core/core.h"
#include "db/db.h"

/* Loads configuration in order defaults → file → environment → flags from
 * argv (argv[0] is the subcommand). `--help` prints usage and the options
 * named in keys (NULL-terminated), then returns 1 meaning "done, exit 0".
 * Returns 0 to go on, 2 on a configuration error (message printed). */
int cmd_configure(int argc, char **argv, const char *usage, const char *const *keys);
/* The database URL in force: `database`, or sqlite:<data_dir>/entrepot.db. */
char *cmd_database_url(void);
/* Opens the database (pool sized from the configuration). Prints errors. */
enum st cmd_open_db(struct db **out, int pool_size);
/* Registers every module's routes (one list, used by serve and routes). */
void cmd_register_routes(void);
/* Registers every module's job kinds and schedules (one list, used by
 * serve and worker). Idempotent. */
enum st cmd_register_jobs(void);
/* Loads the master key ring (master_key, else master_key_file or
 * <data_dir>/master.key, created when missing and create is true),
 * installs it and follows the key file through `keys rotate`. Prints
 * errors. */
enum st cmd_install_keys(bool create);
/* Blocks SIGTERM, SIGINT and SIGHUP (call before any thread exists, so
 * every thread inherits the mask) and ignores SIGPIPE. cmd_signals_wait
 * then takes them synchronously: it returns on SIGTERM or SIGINT, logging
 * the shutdown; SIGHUP is logged and ignored. */
void cmd_signals_block(sigset_t *set);
void cmd_signals_wait(const sigset_t *set);

int cmd_serve(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_routes(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_privacy(int argc, char **argv);
int cmd_demo(int argc, char **argv);

#endif
