/*
 * fuzz_host_port.c — parse_host_port ("host:port" and "[v6]:port").
 *
 * A reference parser written from the contract in core.h decides every
 * input: a bracketed part must be an IPv6 address inet_pton accepts (and
 * is returned without brackets); otherwise exactly one ':' and a host of
 * 1..253 letters, digits, '.', '-', '_'; the port all digits (leading zeros
 * allowed) with a value in 1..65535. The parser must agree on acceptance,
 * host and port; validating without outputs must give the same verdict;
 * a host buffer too small must fail rather than overflow (exact-size heap
 * buffers); and a rejected input leaves the outputs untouched.
 */
#include <arpa/inet.h>

#include "core/core.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

static bool ref_port(const char *p, unsigned *out)
{
    if (!*p)
        return false;
    unsigned long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 65535)
            return false; /* only grows from here */
    }
    if (v < 1)
        return false;
    *out = (unsigned)v;
    return true;
}

static bool ref_parse(const char *s, const char **host, size_t *hostlen, unsigned *port)
{
    const char *sep;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return false;
        size_t hl = (size_t)(close - (s + 1));
        char v6[INET6_ADDRSTRLEN + 32];
        unsigned char a[16];
        if (hl == 0 || hl >= sizeof v6)
            return false;
        memcpy(v6, s + 1, hl);
        v6[hl] = '\0';
        if (inet_pton(AF_INET6, v6, a) != 1)
            return false;
        *host = s + 1;
        *hostlen = hl;
        sep = close + 1;
    } else {
        sep = strchr(s, ':');
        if (!sep || strchr(sep + 1, ':'))
            return false;
        size_t hl = (size_t)(sep - s);
        if (hl < 1 || hl > 253)
            return false;
        for (size_t i = 0; i < hl; i++)
            if (!host_char(s[i]))
                return false;
        *host = s;
        *hostlen = hl;
    }
    return ref_port(sep + 1, port);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char *s = fuzz_cstr(data, n);
    const char *rhost = NULL;
    size_t rhl = 0;
    unsigned rport = 0;
    bool want = ref_parse(s, &rhost, &rhl, &rport);

    char *host = malloc(256);
    if (!host)
        abort();
    memset(host, 'Z', 256);
    uint16_t port = 7;
    enum st st = parse_host_port(s, host, 256, &port);
    FUZZ_CHECK((st == ST_OK) == want, "parse_host_port=%d, reference=%d for \"%s\"", st, want, s);
    if (st == ST_OK) {
        FUZZ_CHECK(port == rport, "port %u, reference %u", port, rport);
        FUZZ_CHECK(strlen(host) == rhl && memcmp(host, rhost, rhl) == 0, "host \"%s\" differs",
                   host);
    } else {
        FUZZ_CHECK(st == ST_INVALID, "status %d", st);
        FUZZ_CHECK(port == 7, "port written on failure");
    }
    FUZZ_CHECK((parse_host_port(s, NULL, 0, NULL) == ST_OK) == want, "validate-only differs");

    /* Host buffers of every size up to the answer: only big enough succeeds. */
    if (want) {
        for (size_t len = 1; len <= rhl + 1; len++) {
            char *small = malloc(len);
            if (!small)
                abort();
            uint16_t p2 = 0;
            enum st s2 = parse_host_port(s, small, len, &p2);
            FUZZ_CHECK((s2 == ST_OK) == (len > rhl), "hostlen %zu for a %zu-byte host gives %d",
                       len, rhl, s2);
            if (s2 == ST_OK)
                FUZZ_CHECK(strcmp(small, host) == 0 && p2 == port, "small-buffer answer differs");
            free(small);
        }
    }
    free(host);
    free(s);
    return 0;
}
