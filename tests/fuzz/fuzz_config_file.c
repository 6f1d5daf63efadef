/*
 * fuzz_config_file.c — the configuration file loader.
 *
 * Each input is written to one temporary file under /tmp (created once per
 * process and unlinked at once, read back through /proc/self/fd/N so that a
 * crash leaves nothing behind; rewritten in place for every input) and
 * loaded after config_reset.
 * Properties: the status is ST_OK, ST_INVALID or, over CAP_CONFIG_FILE,
 * ST_TOOLARGE; a failure writes a message naming the file and applies
 * nothing (all or nothing: every setting still comes from "default"); a
 * success leaves every setting readable through its typed reader
 * (config_int and config_bool abort on a stored value they cannot parse),
 * every value valid UTF-8 without control characters, and config_validate
 * callable. config_reset afterwards frees everything (leak check).
 */
#include <fcntl.h>
#include <unistd.h>

#include "core/core.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static char path[64];
static int fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (fd < 0) {
        char tmpl[] = "/tmp/entrepot-fuzz-config-XXXXXX";
        fd = mkstemp(tmpl);
        FUZZ_CHECK(fd >= 0, "mkstemp failed");
        /* Unlinked at once, reached through /proc, so a crash leaves no file. */
        unlink(tmpl);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    /* Rewrite in place, then cut to size. Truncating to zero first would
     * make ext4 flush the file on every close (auto_da_alloc): 100x slower. */
    for (size_t off = 0; off < n;) {
        ssize_t w = pwrite(fd, data + off, n - off, (off_t)off);
        FUZZ_CHECK(w > 0, "write failed");
        off += (size_t)w;
    }
    FUZZ_CHECK(ftruncate(fd, (off_t)n) == 0, "ftruncate failed");

    config_reset();
    char err[512];
    memset(err, 0, sizeof err);
    enum st st = config_load_file(path, err, sizeof err);
    size_t count;
    const struct cfg_entry *t = config_table(&count);
    if (st != ST_OK) {
        FUZZ_CHECK(st == ST_INVALID || (st == ST_TOOLARGE && n > CAP_CONFIG_FILE),
                   "status %d for %zu bytes", st, n);
        FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0, "error does not name the file: %s", err);
        FUZZ_CHECK(memchr(err, '\0', sizeof err), "error not terminated");
        for (size_t i = 0; i < count; i++)
            FUZZ_CHECK(strcmp(config_source(t[i].name), "default") == 0,
                       "%s applied from a rejected file", t[i].name);
    } else {
        for (size_t i = 0; i < count; i++) {
            const char *src = config_source(t[i].name);
            FUZZ_CHECK(strcmp(src, "default") == 0 || strcmp(src, "file") == 0, "source %s", src);
            FUZZ_CHECK(strcmp(t[i].name, "config") != 0 || strcmp(src, "default") == 0,
                       "config set from inside a config file");
            const char *v = config_str(t[i].name);
            FUZZ_CHECK(v && utf8_valid(v, strlen(v)), "%s is not valid UTF-8", t[i].name);
            for (const char *p = v; *p; p++)
                FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7F, "%s has a control byte",
                           t[i].name);
            if (t[i].type == CFG_INT) {
                int64_t x = config_int(t[i].name);
                FUZZ_CHECK(x >= t[i].min && x <= t[i].max, "%s=%lld out of range", t[i].name,
                           (long long)x);
            } else if (t[i].type == CFG_BOOL) {
                (void)config_bool(t[i].name);
            }
        }
        char verr[512];
        enum st vs = config_validate(verr, sizeof verr);
        FUZZ_CHECK(vs == ST_OK || vs == ST_INVALID, "config_validate status %d", vs);
    }
    config_reset();
    return 0;
}
