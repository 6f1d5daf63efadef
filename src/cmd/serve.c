/*
 * serve.c — `entrepot serve`: prepare the data directory, open and migrate
 * the database, start the HTTP server, and stop gracefully on SIGTERM.
 *
 * Signals are blocked in every thread and taken synchronously here with
 * sigwait, so no async-signal-safety puzzle exists anywhere in the program.
 */
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounts/accounts.h"
#include "cmd.h"
#include "http/http.h"
#include "jobs/jobs.h"
#include "notify/notify.h"

static const char *const serve_keys[] = {"config",
                                         "listen",
                                         "data_dir",
                                         "database",
                                         "static_dir",
                                         "master_key_file",
                                         "master_key",
                                         "tls_cert",
                                         "tls_key",
                                         "trusted_proxies",
                                         "threads",
                                         "db_pool_size",
                                         "max_body_bytes",
                                         "connection_timeout_s",
                                         "body_timeout_s",
                                         "max_connections",
                                         "max_connections_per_ip",
                                         "auto_migrate",
                                         "log_level",
                                         "log_format",
                                         "access_log",
                                         "jobs_in_serve",
                                         "jobs_threads",
                                         "test_mode",
                                         NULL};

static const char USAGE[] = "usage: entrepot serve [OPTIONS]\n\n"
                            "Serves the web app and the JSON API. Creates the data directory, "
                            "its master key\nand (by default) applies database migrations "
                            "first. Stops gracefully on SIGTERM.";

int cmd_serve(int argc, char **argv)
{
    int rc = cmd_configure(argc, argv, USAGE, serve_keys);
    if (rc)
        return rc == 1 ? 0 : rc;
    char err[512] = "";
    const char *dir = config_str("data_dir");
    if (file_mkdirs(dir, 0700) != ST_OK) {
        fprintf(stderr, "entrepot: cannot create data directory %s\n", dir);
        return 1;
    }
    enum st s = cmd_install_keys(true);
    if (s != ST_OK)
        return 1;

    int threads = (int)config_int("threads");
    if (threads <= 0)
        threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads <= 0)
        threads = 2;
    int pool = (int)config_int("db_pool_size");
    bool jobs_here = config_bool("jobs_in_serve");
    int jobs_threads = (int)config_int("jobs_threads");
    if (pool <= 0)
        pool = threads + 4 + (jobs_here ? jobs_threads : 0);

    struct db *db = NULL;
    if (cmd_open_db(&db, pool) != ST_OK)
        return 1;
    if (config_bool("auto_migrate")) {
        int applied = 0;
        s = db_migrate(db, &applied);
        if (s != ST_OK) {
            fprintf(stderr, "entrepot: migrations failed (%s); see the log\n", st_name(s));
            db_close(db);
            return 1;
        }
        if (applied)
            log_infof("applied %d migration(s)", applied);
    }

    /* Block the signals we wait for before any thread exists. */
    sigset_t set;
    cmd_signals_block(&set);

    /* Outbound messages: providers checked now, delivered by a thread. */
    if (notify_init(err, sizeof err) != ST_OK) {
        fprintf(stderr, "entrepot: %s\n", err);
        db_close(db);
        return 1;
    }
    struct accounts_options aopt;
    accounts_options_default(&aopt);
    accounts_configure(&aopt);
    if (cmd_register_jobs() != ST_OK) {
        fprintf(stderr, "entrepot: cannot register the job kinds (a bug)\n");
        notify_cleanup();
        db_close(db);
        return 1;
    }

    cmd_register_routes();
    struct http_options opt = {
        .listen = config_str("listen"),
        .threads = threads,
        .max_body = (size_t)config_int("max_body_bytes"),
        .connection_timeout_s = (unsigned)config_int("connection_timeout_s"),
        .body_timeout_s = (unsigned)config_int("body_timeout_s"),
        .max_connections = (unsigned)config_int("max_connections"),
        .max_connections_per_ip = (unsigned)config_int("max_connections_per_ip"),
        .tls_cert_file = config_str("tls_cert"),
        .tls_key_file = config_str("tls_key"),
        .trusted_proxies = config_str("trusted_proxies"),
        .static_dir = config_str("static_dir"),
        .test_mode = config_bool("test_mode"),
        .access_log = config_bool("access_log"),
        .db = db,
    };
    struct http_server *srv;
    if (http_server_start(&opt, &srv, err, sizeof err) != ST_OK) {
        fprintf(stderr, "entrepot: %s\n", err);
        notify_cleanup();
        db_close(db);
        return 1;
    }
    if (notify_worker_start(db) != ST_OK)
        log_kv(LOG_ERROR, "the delivery worker did not start: messages wait in the outbox",
               (const char *)NULL);
    /* Background jobs: in this process unless `entrepot worker` runs them. */
    struct jobs_worker *jobs = NULL;
    if (jobs_here && jobs_worker_start(db, jobs_threads, "serve", &jobs) != ST_OK)
        log_kv(LOG_ERROR, "the job worker did not start: jobs wait in the queue",
               (const char *)NULL);
    if (opt.test_mode)
        log_kv(LOG_WARN, "TEST MODE: test-only routes are enabled; never use in production",
               (const char *)NULL);
    log_kv(LOG_INFO, "serving", "listen", opt.listen, "database", db_kind_name(db),
           (const char *)NULL);
    printf("entrepot: serving on %s://%s\n", opt.tls_cert_file[0] ? "https" : "http", opt.listen);
    fflush(stdout);

    cmd_signals_wait(&set);
    http_server_stop(srv);
    jobs_worker_stop(jobs); /* jobs in progress finish first */
    notify_worker_stop();
    notify_cleanup();
    db_close(db);
    log_infof("stopped");
    return 0;
}
