/*
 * parse.c — strict parsers for the small textual values that arrive from
 * configuration and requests: integers, host:port pairs and IP networks.
 *
 * "Strict" is the design decision: these accept one spelling and reject
 * everything else (no leading spaces, no '+', no trailing junk, no silent
 * clamping), because lenient parsers are where "0x10", " 80" and
 * "8080abc" turn into surprises. Integer overflow is detected before it
 * happens rather than relying on strtoll's errno.
 */
#include <arpa/inet.h>
#include <string.h>

#include "core.h"

#define HOST_MAX 253 /* longest DNS name */

enum st parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s)
        return ST_INVALID;
    bool neg = *s == '-';
    const char *p = s + neg;
    if (*p == '\0')
        return ST_INVALID;
    /* Accumulate as a negative number: its range is one larger, so
     * INT64_MIN parses without overflow. */
    int64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return ST_INVALID;
        int d = *p - '0';
        if (v < (INT64_MIN + d) / 10)
            return ST_INVALID;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == INT64_MIN)
            return ST_INVALID;
        v = -v;
    }
    if (v < min || v > max)
        return ST_INVALID;
    if (out)
        *out = v;
    return ST_OK;
}

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

enum st parse_host_port(const char *s, char *host, size_t hostlen, uint16_t *port)
{
    if (!s)
        return ST_INVALID;
    const char *h, *colon;
    size_t hl;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return ST_INVALID;
        h = s + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
        char v6[64];
        struct in6_addr a;
        if (hl == 0 || hl >= sizeof v6)
            return ST_INVALID;
        memcpy(v6, h, hl);
        v6[hl] = '\0';
        if (inet_pton(AF_INET6, v6, &a) != 1)
            return ST_INVALID;
    } else {
        /* An unbracketed IPv6 address fails here or in the port parse
         * below: its port could not be told apart, so brackets are needed. */
        colon = strchr(s, ':');
        if (!colon)
            return ST_INVALID;
        h = s;
        hl = (size_t)(colon - s);
        if (hl == 0 || hl > HOST_MAX)
            return ST_INVALID;
        for (size_t i = 0; i < hl; i++)
            if (!host_char(h[i]))
                return ST_INVALID;
    }
    int64_t p;
    if (parse_int64(colon + 1, 1, 65535, &p) != ST_OK)
        return ST_INVALID;
    if (host) {
        if (hl >= hostlen)
            return ST_INVALID;
        memcpy(host, h, hl);
        host[hl] = '\0';
    }
    if (port)
        *port = (uint16_t)p;
    return ST_OK;
}

enum st parse_cidr(const char *s, struct ip_cidr *out)
{
    if (!s)
        return ST_INVALID;
    char addr[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t al = slash ? (size_t)(slash - s) : strlen(s);
    if (al == 0 || al >= sizeof addr)
        return ST_INVALID;
    memcpy(addr, s, al);
    addr[al] = '\0';

    struct ip_cidr c;
    memset(&c, 0, sizeof c);
    if (inet_pton(AF_INET, addr, c.addr) == 1) {
        c.version = 4;
        c.prefix = 32;
    } else if (inet_pton(AF_INET6, addr, c.addr) == 1) {
        c.version = 6;
        c.prefix = 128;
    } else {
        return ST_INVALID;
    }
    if (slash) {
        int64_t p;
        /* Leading '-' is refused by the range; require plain digits. */
        if (slash[1] == '-' || parse_int64(slash + 1, 0, c.prefix, &p) != ST_OK)
            return ST_INVALID;
        c.prefix = (unsigned)p;
    }
    if (out)
        *out = c;
    return ST_OK;
}

bool cidr_match(const struct ip_cidr *c, int version, const void *addr)
{
    if (!c || !addr || c->version != version)
        return false;
    const unsigned char *a = addr;
    unsigned full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(c->addr, a, full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xFF << (8 - rest));
    return (c->addr[full] & mask) == (a[full] & mask);
}
