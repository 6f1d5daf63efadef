/*
 * common.c — configuration loading and database opening shared by the
 * subcommands, so every command reads its settings the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounts/accounts.h"
#include "community/community.h"
#include "cmd.h"
#include "http/http.h"
#include "jobs/jobs.h"
#include "privacy/consent.h"
#include "privacy/privacy.h"
#include "privacy/requests.h"

static bool key_listed(const char *name, const char *const *keys)
{
    for (size_t i = 0; keys && keys[i]; i++)
        if (strcmp(keys[i], name) == 0)
            return true;
    return false;
}

static void print_help(const char *usage, const char *const *keys)
{
    printf("%s\n", usage);
    if (!keys || !keys[0])
        return;
    printf("\noptions (each also settable in the config file and by environment):\n");
    size_t n;
    const struct cfg_entry *t = config_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (!key_listed(t[i].name, keys))
            continue;
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", t[i].name);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_')
                *p = '-';
        printf("  %-26s %s\n  %-26s [env %s; default \"%s\"]\n", flag, t[i].help, "", t[i].env,
               t[i].defval);
    }
}

int cmd_configure(int argc, char **argv, const char *usage, const char *const *keys)
{
    char err[512];
    config_reset();
    /* --config is needed before the file can be read: find it first. */
    const char *file = getenv("ENTREPOT_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(usage, keys);
            return 1;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
    }
    if (file && *file && config_load_file(file, err, sizeof err) != ST_OK) {
        fprintf(stderr, "entrepot: %s\n", err);
        return 2;
    }
    if (config_load_env(err, sizeof err) != ST_OK) {
        fprintf(stderr, "entrepot: %s\n", err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "entrepot: unexpected argument \"%s\" (see --help)\n", a);
            return 2;
        }
        char name[64];
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nlen == 0 || nlen >= sizeof name) {
            fprintf(stderr, "entrepot: bad option \"%s\"\n", a);
            return 2;
        }
        memcpy(name, a + 2, nlen);
        name[nlen] = '\0';
        for (char *p = name; *p; p++)
            if (*p == '-')
                *p = '_';
        if (!key_listed(name, keys)) {
            fprintf(stderr, "entrepot: unknown option --%s (see --help)\n", a + 2);
            return 2;
        }
        const char *val;
        size_t ntab;
        const struct cfg_entry *t = config_table(&ntab);
        bool is_bool = false;
        for (size_t k = 0; k < ntab; k++)
            if (strcmp(t[k].name, name) == 0)
                is_bool = t[k].type == CFG_BOOL;
        if (eq)
            val = eq + 1;
        else if (is_bool)
            val = "true"; /* --test-mode alone means on */
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            fprintf(stderr, "entrepot: option --%s needs a value\n", a + 2);
            return 2;
        }
        if (strcmp(name, "config") == 0)
            continue;
        if (config_set(name, val, err, sizeof err) != ST_OK) {
            fprintf(stderr, "entrepot: --%s: %s\n", a + 2, err);
            return 2;
        }
    }
    if (config_validate(err, sizeof err) != ST_OK) {
        fprintf(stderr, "entrepot: %s\n", err);
        return 2;
    }
    enum log_level l = LOG_INFO;
    log_level_parse(config_str("log_level"), &l); /* validated by config_validate */
    log_init(l, strcmp(config_str("log_format"), "json") == 0);
    return 0;
}

char *cmd_database_url(void)
{
    const char *db = config_str("database");
    if (db && *db)
        return xstrdup(db);
    return xasprintf("sqlite:%s/entrepot.db", config_str("data_dir"));
}

enum st cmd_open_db(struct db **out, int pool_size)
{
    char err[512];
    char *url = cmd_database_url();
    if (strncmp(url, "postgres", 8) != 0) {
        const char *dir = config_str("data_dir");
        if (file_mkdirs(dir, 0700) != ST_OK) {
            fprintf(stderr, "entrepot: cannot create data directory %s\n", dir);
            free(url);
            return ST_INVALID;
        }
    }
    enum st s = db_open(url, pool_size, out, err, sizeof err);
    free(url);
    if (s != ST_OK)
        fprintf(stderr, "entrepot: database: %s\n", err);
    return s;
}

void cmd_register_routes(void)
{
    http_sys_routes_register();
    accounts_api_register();
    community_api_register();
    community_html_api_register();
    community_feed_api_register();
    privacy_api_register(); /* after accounts: it exempts some of their routes from its gate */
    privacy_rights_api_register();
    privacy_inventory_api_register();
    privacy_requests_api_register();
}

enum st cmd_register_jobs(void)
{
    enum st st = jobs_builtin_register();
    if (st == ST_OK)
        st = privacy_consent_init(); /* policy notices, marketing check */
    if (st == ST_OK)
        st = community_feed_init(); /* signals of withdrawn consent */
    /* Export, erasure and retention: their settings, then their jobs. */
    struct privacy_rights_options ro;
    privacy_rights_options_default(&ro);
    char *dir = xasprintf("%s/exports", config_str("data_dir"));
    ro.export_dir = dir;
    ro.export_ttl_ms = config_int("export_ttl_days") * 86400000LL;
    ro.cooling_off_ms = config_int("cancel_cooling_off_days") * 86400000LL;
    privacy_rights_configure(&ro);
    free(dir);
    if (st == ST_OK)
        st = privacy_rights_init();
    /* Complaints, corrections, minors, breaches: the working-day calendar
     * first (config_validate checked it), then their jobs. */
    char err[256];
    if (st == ST_OK &&
        workdays_configure((int)config_int("workdays_utc_offset_minutes"),
                           config_str("workdays_holidays"), config_str("workdays_makeup_days"), err,
                           sizeof err) != ST_OK) {
        fprintf(stderr, "entrepot: working-day calendar: %s\n", err);
        st = ST_INVALID;
    }
    return st == ST_OK ? privacy_requests_init() : st;
}

void cmd_signals_block(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void cmd_signals_wait(const sigset_t *set)
{
    int sig = 0;
    while (sigwait(set, &sig) == 0 && sig == SIGHUP)
        log_infof("SIGHUP ignored (restart to reload configuration)");
    log_kv(LOG_INFO, "shutting down", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM",
           (const char *)NULL);
}

enum st cmd_install_keys(bool create)
{
    char err[512] = "";
    const char *kf = config_str("master_key_file");
    char *keyfile = *kf ? xstrdup(kf) : xasprintf("%s/master.key", config_str("data_dir"));
    /* The key ring lives in memory only; a running process follows
     * `entrepot keys rotate` by re-reading the key file (no downtime). */
    struct master_keyring ring;
    enum st s =
        masterkey_ring_load(keyfile, config_str("master_key"), create, &ring, err, sizeof err);
    if (s == ST_OK)
        s = crypto_keyring_install(&ring);
    masterkey_ring_wipe(&ring);
    if (s == ST_OK && !*config_str("master_key"))
        s = crypto_keyring_watch_file(keyfile);
    free(keyfile);
    if (s != ST_OK)
        fprintf(stderr, "entrepot: %s\n", *err ? err : "cannot install the master key");
    return s;
}
