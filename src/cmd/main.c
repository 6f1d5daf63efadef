/*
 * main.c — the `entrepot` program: a table of subcommands, nothing more.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: entrepot version\n\nPrints the program's version.\n");
        return 0;
    }
    printf("entrepot %s\n", ENTREPOT_VERSION);
    return 0;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"serve", cmd_serve, "serve the web app and the API"},
    {"worker", cmd_worker, "run background jobs and message delivery in a process of its own"},
    {"migrate", cmd_migrate, "apply pending database migrations"},
    {"config", cmd_config, "check the configuration (`config check`)"},
    {"routes", cmd_routes, "print every API route and its declared policy as JSON"},
    {"audit", cmd_audit, "verify the audit log's hash chain (`audit verify`)"},
    {"keys", cmd_keys, "rotate the master key (`keys rotate`), or show key use"},
    {"user", cmd_user, "manage accounts (`user create-admin`)"},
    {"privacy", cmd_privacy, "the personal-data registry (`privacy inventory`, `privacy check`)"},
    {"demo", cmd_demo, "fill a database with a synthetic community (`demo --scale N`)"},
    {"version", cmd_version, "print the version"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: entrepot COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n`entrepot COMMAND --help` describes each command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(1, argv);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "entrepot: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
