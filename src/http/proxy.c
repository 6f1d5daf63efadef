/*
 * proxy.c — who the client is when a reverse proxy stands in front.
 *
 * X-Forwarded-For is believed only when the TCP peer is a trusted proxy,
 * and then read from the right: each trusted hop is skipped and the first
 * untrusted address is the client. Reading from the left would let any
 * client choose its own address by sending the header itself.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

static bool parse_one(const char *s, size_t n, struct ip_cidr *out)
{
    char tmp[80];
    if (n == 0 || n >= sizeof tmp)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return parse_cidr(tmp, out) == ST_OK;
}

enum st http_cidrs_parse(const char *list, struct ip_cidr **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!list || !*list)
        return ST_OK;
    struct ip_cidr *set = xcalloc(CAP_TRUSTED_PROXIES, sizeof *set);
    size_t k = 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        if (k == CAP_TRUSTED_PROXIES || !parse_one(p, (size_t)(e - p), &set[k])) {
            free(set);
            return ST_INVALID;
        }
        k++;
        p = e;
    }
    *out = set;
    *n = k;
    return ST_OK;
}

static bool addr_of(const char *ip, int *family, unsigned char *addr)
{
    if (inet_pton(AF_INET, ip, addr) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, ip, addr) == 1) {
        /* an IPv4-mapped IPv6 peer compares as IPv4 */
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(addr, mapped, 12) == 0) {
            memmove(addr, addr + 12, 4);
            *family = AF_INET;
        } else {
            *family = AF_INET6;
        }
        return true;
    }
    return false;
}

bool http_cidrs_match(const struct ip_cidr *set, size_t n, const char *ip)
{
    int family;
    unsigned char a[16];
    if (!ip || !addr_of(ip, &family, a))
        return false;
    int version = family == AF_INET ? 4 : 6;
    for (size_t i = 0; i < n; i++)
        if (cidr_match(&set[i], version, a))
            return true;
    return false;
}

static void copy_trim(char *out, size_t outlen, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

void http_client_ip(const struct ip_cidr *set, size_t n, const char *peer, const char *xff,
                    char *out, size_t outlen)
{
    copy_trim(out, outlen, peer ? peer : "", peer ? strlen(peer) : 0);
    if (!xff || !n || !http_cidrs_match(set, n, peer))
        return;
    size_t len = strlen(xff);
    while (len > 0) {
        size_t start = len;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        char hop[64];
        copy_trim(hop, sizeof hop, xff + start, len - start);
        int family;
        unsigned char a[16];
        if (!addr_of(hop, &family, a))
            return; /* garbage: stop at the last address we could trust */
        copy_trim(out, outlen, hop, strlen(hop));
        if (!http_cidrs_match(set, n, hop))
            return;
        len = start ? start - 1 : 0;
    }
}
