/*
 * user.c — `entrepot user create-admin`: the first administrator (no
 * default accounts exist). Staff sign in with password and TOTP, so the
 * command enrols TOTP at once and prints the secret and its otpauth URI
 * exactly once; only the sealed secret is kept.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "cmd.h"

static const char *const user_keys[] = {"config",     "data_dir",  "database",   "master_key_file",
                                        "master_key", "log_level", "log_format", NULL};

static const char USAGE[] =
    "usage: entrepot user create-admin --phone NUMBER [--password PASSWORD]\n"
    "                                  [--display-name NAME] [OPTIONS]\n\n"
    "Creates an administrator with the given mobile number and password (read\n"
    "from standard input when --password is left out, which keeps it out of the\n"
    "process list), applies pending migrations first, and prints the TOTP secret\n"
    "and otpauth:// URI for the authenticator app. They are shown once: staff\n"
    "sign-in (POST /api/v1/staff/login) needs the password and a current code.";

/* Takes "--name value" or "--name=value" at argv[*i]; true when it matched. */
static bool take(int argc, char **argv, int *i, const char *name, const char **out)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return false;
    if (argv[*i][n] == '=') {
        *out = argv[*i] + n + 1;
        return true;
    }
    if (argv[*i][n] == '\0' && *i + 1 < argc) {
        *out = argv[++*i];
        return true;
    }
    return false;
}

static int create_admin(int argc, char **argv)
{
    const char *phone = NULL, *password = NULL, *name = NULL;
    char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    rest[nrest++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (take(argc, argv, &i, "--phone", &phone) ||
            take(argc, argv, &i, "--password", &password) ||
            take(argc, argv, &i, "--display-name", &name))
            continue;
        rest[nrest++] = argv[i];
    }
    int rc = cmd_configure(nrest, rest, USAGE, user_keys);
    free(rest);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (!phone) {
        fprintf(stderr, "entrepot: --phone is required (see --help)\n");
        return 2;
    }
    char line[PASSWORD_MAX_BYTES + 2];
    if (!password) {
        if (!fgets(line, sizeof line, stdin)) {
            fprintf(stderr, "entrepot: no password given (--password or standard input)\n");
            return 2;
        }
        line[strcspn(line, "\r\n")] = '\0';
        password = line;
    }

    char err[512] = "";
    const char *dir = config_str("data_dir");
    const char *kf = config_str("master_key_file");
    char *keyfile = *kf ? xstrdup(kf) : xasprintf("%s/master.key", dir);
    struct master_keyring ring;
    enum st s = file_mkdirs(dir, 0700);
    if (s == ST_OK)
        s = masterkey_ring_load(keyfile, config_str("master_key"), true, &ring, err, sizeof err);
    if (s == ST_OK) {
        s = crypto_keyring_install(&ring);
        masterkey_ring_wipe(&ring);
    }
    free(keyfile);
    if (s != ST_OK) {
        fprintf(stderr, "entrepot: %s\n", *err ? err : "cannot load the master key");
        return 1;
    }
    struct db *db = NULL;
    if (cmd_open_db(&db, 2) != ST_OK)
        return 1;
    struct db_conn *c = NULL;
    s = db_migrate(db, NULL);
    if (s == ST_OK)
        s = db_acquire(db, &c);
    if (s != ST_OK) {
        fprintf(stderr, "entrepot: database: %s\n", st_name(s));
        db_close(db);
        return 1;
    }
    int64_t uid = 0;
    char secret[TOTP_SECRET_CHARS + 1];
    struct acc_error e = {0};
    s = accounts_create_admin(c, phone, password, name, &uid, secret, &e);
    sodium_memzero(line, sizeof line);
    db_release(c);
    db_close(db);
    if (s != ST_OK) {
        if (e.field && strcmp(e.field, "phone") == 0 && s == ST_INVALID)
            fprintf(stderr, "entrepot: not a valid mobile number\n");
        else if (e.field && strcmp(e.field, "password") == 0)
            fprintf(stderr,
                    "entrepot: password refused (%s): 8 to 256 characters, not a "
                    "common password\n",
                    e.code ? e.code : "invalid");
        else if (s == ST_CONFLICT)
            fprintf(stderr, "entrepot: this number already has an account\n");
        else
            fprintf(stderr, "entrepot: cannot create the administrator (%s)\n", st_name(s));
        return 1;
    }
    char account[48];
    snprintf(account, sizeof account, "admin-%lld", (long long)uid);
    char *uri = totp_uri("entrepot", account, secret);
    printf("administrator created: user id %lld\n", (long long)uid);
    printf("TOTP secret (shown once, add it to an authenticator app): %s\n", secret);
    printf("otpauth URI: %s\n", uri);
    fflush(stdout);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(uri, strlen(uri));
    free(uri);
    return 0;
}

int cmd_user(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("%s\n", USAGE);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "create-admin") == 0)
        return create_admin(argc - 1, argv + 1);
    fprintf(stderr, "entrepot: unknown user command \"%s\" (see `entrepot user --help`)\n",
            argv[1]);
    return 2;
}
