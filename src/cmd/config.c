/*
 * config.c — `entrepot config check`: validate the configuration without
 * serving and print the values in force with where each came from.
 * Secrets are never printed.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

int cmd_config(int argc, char **argv)
{
    size_t n;
    const struct cfg_entry *t = config_table(&n);
    /* Every key is a flag here; the list is NULL-terminated and sized from the table. */
    const char **keys = xmalloc((n + 1) * sizeof *keys);
    for (size_t i = 0; i < n; i++)
        keys[i] = t[i].name;
    keys[n] = NULL;
    const char *usage = "usage: entrepot config check [OPTIONS]\n\nValidates the configuration "
                        "(file, environment, flags) and prints the\nvalues in force. Exits 2 "
                        "when something is wrong.";
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            printf("%s\n", usage);
            return 0;
        }
        fprintf(stderr, "%s\n", usage);
        return 2;
    }
    int rc = cmd_configure(argc - 1, argv + 1, usage, keys);
    xfree(keys);
    if (rc)
        return rc == 1 ? 0 : rc;
    for (size_t i = 0; i < n; i++) {
        const char *v = config_str(t[i].name);
        if (config_is_secret(t[i].name) && v && *v)
            v = "********";
        printf("%-24s = %-32s (%s)\n", t[i].name, v ? v : "", config_source(t[i].name));
    }
    printf("configuration ok\n");
    return 0;
}
