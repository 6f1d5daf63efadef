/*
 * fuzz_cidr_xff.c — trusted-proxy lists and the X-Forwarded-For walk.
 *
 * The input is three lines: a trusted_proxies list, the TCP peer address
 * and an X-Forwarded-For header. Properties:
 *
 *  - http_cidrs_parse either fails leaving (NULL, 0) or yields at most
 *    CAP_TRUSTED_PROXIES networks;
 *  - a list that the configuration accepts (config_set, which is what
 *    `entrepot config check` runs) is also accepted by http_cidrs_parse
 *    and means the same networks as core's parse_cidr gives for each item:
 *    otherwise a configuration that passed its check would stop the server
 *    at start-up, or trust other hosts than the operator wrote;
 *  - http_cidrs_match agrees with core's cidr_match on those networks
 *    (after mapping ::ffff:a.b.c.d to IPv4, as the server does) for the
 *    peer and every X-Forwarded-For entry;
 *  - http_client_ip returns the peer, or an address that appears as an
 *    entry of the header, and precisely the one a reference walk picks
 *    (right to left, skipping trusted hops, stopping at garbage), into an
 *    exactly-sized output buffer that it never overruns.
 */
#include <arpa/inet.h>

#include "http/http_int.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

#define OUTLEN 64 /* sizeof req->client_ip */

/* Copies s[0..n) without surrounding blanks, cut to outlen - 1. */
static void trim_copy(char *out, size_t outlen, const char *s, size_t n)
{
    size_t a = 0, b = n;
    while (a < b && (s[a] == ' ' || s[a] == '\t'))
        a++;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
        b--;
    size_t k = b - a < outlen - 1 ? b - a : outlen - 1;
    memcpy(out, s + a, k);
    out[k] = '\0';
}

static bool is_addr(const char *s)
{
    unsigned char a[16];
    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* Splits the config-accepted list like config.c does: commas, blanks
 * trimmed. Returns the item count. */
static size_t config_items(const char *list, struct ip_cidr *out)
{
    size_t k = 0;
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char item[128];
        trim_copy(item, sizeof item, p, len);
        FUZZ_CHECK(k < CAP_TRUSTED_PROXIES, "config accepted more than %d items",
                   CAP_TRUSTED_PROXIES);
        FUZZ_CHECK(parse_cidr(item, &out[k]) == ST_OK, "config accepted \"%s\"", item);
        k++;
        if (!e)
            return k;
        p = e + 1;
    }
}

static bool ref_match(const struct ip_cidr *c, size_t n, const char *ip)
{
    unsigned char a[16];
    int version;
    if (inet_pton(AF_INET, ip, a) == 1) {
        version = 4;
    } else if (inet_pton(AF_INET6, ip, a) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        version = 6;
        if (memcmp(a, mapped, 12) == 0) {
            memmove(a, a + 12, 4);
            version = 4;
        }
    } else {
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (cidr_match(&c[i], version, a))
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char *in = fuzz_cstr(data, n);
    char *list = in, *peer = NULL, *xff = NULL;
    char *nl = strchr(list, '\n');
    if (nl) {
        *nl = '\0';
        peer = nl + 1;
        nl = strchr(peer, '\n');
        if (nl) {
            *nl = '\0';
            xff = nl + 1;
        }
    }

    struct ip_cidr *set = (struct ip_cidr *)1;
    size_t nset = 99;
    enum st st = http_cidrs_parse(list, &set, &nset);
    FUZZ_CHECK(st == ST_OK || st == ST_INVALID, "status %d", st);
    if (st != ST_OK)
        FUZZ_CHECK(set == NULL && nset == 0, "failed parse left (%p, %zu)", (void *)set, nset);
    FUZZ_CHECK(nset <= CAP_TRUSTED_PROXIES, "%zu networks", nset);

    /* Differential against the configuration's own check. */
    char err[512];
    bool cfg_ok = config_set("trusted_proxies", list, err, sizeof err) == ST_OK;
    config_reset();
    struct ip_cidr ref[CAP_TRUSTED_PROXIES];
    size_t nref = 0;
    if (cfg_ok && list[0]) {
        nref = config_items(list, ref);
        FUZZ_CHECK(st == ST_OK, "config accepts trusted_proxies \"%s\", the server refuses it",
                   list);
        FUZZ_CHECK(nset == nref, "%zu networks, config sees %zu", nset, nref);
        for (size_t i = 0; i < nset; i++) {
            FUZZ_CHECK(set[i].version == ref[i].version && set[i].prefix == ref[i].prefix &&
                           memcmp(set[i].addr, ref[i].addr, ref[i].version == 4 ? 4 : 16) == 0,
                       "network %zu differs from parse_cidr's", i);
        }
    }

    if (peer && cfg_ok)
        FUZZ_CHECK(http_cidrs_match(set, nset, peer) == ref_match(ref, nref, peer),
                   "http_cidrs_match(\"%s\") disagrees with cidr_match", peer);

    if (peer) {
        char *out = malloc(OUTLEN);
        if (!out)
            abort();
        http_client_ip(set, nset, peer, xff, out, OUTLEN);
        FUZZ_CHECK(memchr(out, '\0', OUTLEN), "output not terminated");

        /* Reference walk. */
        char want[OUTLEN];
        trim_copy(want, sizeof want, peer, strlen(peer));
        bool from_header = false;
        if (xff && nset && http_cidrs_match(set, nset, peer)) {
            size_t end = strlen(xff);
            for (;;) {
                size_t start = end;
                while (start > 0 && xff[start - 1] != ',')
                    start--;
                char hop[OUTLEN];
                trim_copy(hop, sizeof hop, xff + start, end - start);
                if (!is_addr(hop))
                    break;
                memcpy(want, hop, sizeof hop);
                from_header = true;
                if (!http_cidrs_match(set, nset, hop) || start == 0)
                    break;
                end = start - 1;
            }
        }
        FUZZ_CHECK(strcmp(out, want) == 0, "client ip \"%s\", reference \"%s\"", out, want);
        if (from_header) {
            /* An address that appeared in the header, as one whole entry. */
            FUZZ_CHECK(is_addr(out), "\"%s\" is not an address", out);
            const char *hit = strstr(xff, out);
            bool whole = false;
            while (hit && !whole) {
                const char *a = hit, *b = hit + strlen(out);
                while (a > xff && (a[-1] == ' ' || a[-1] == '\t'))
                    a--;
                while (*b == ' ' || *b == '\t')
                    b++;
                whole = (a == xff || a[-1] == ',') && (*b == '\0' || *b == ',');
                hit = strstr(hit + 1, out);
            }
            FUZZ_CHECK(whole, "\"%s\" is not an entry of the header", out);
        }
        /* A small buffer is never overrun and holds a prefix of the answer. */
        char *small = malloc(5);
        if (!small)
            abort();
        http_client_ip(set, nset, peer, xff, small, 5);
        FUZZ_CHECK(memchr(small, '\0', 5) && strncmp(small, out, strlen(small)) == 0,
                   "5-byte output \"%s\" is not a prefix of \"%s\"", small, out);
        free(small);
        free(out);
    }
    free(set);
    free(in);
    return 0;
}
