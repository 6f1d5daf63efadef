/*
 * fuzz_request_head.c — the checks the server applies to a request head
 * before anything else (src/http/validate.c): http_head_check (header
 * names and values, Content-Length / Transfer-Encoding framing, Host),
 * http_host_valid, and http_head_layout_ok (bytes a NUL hid from
 * libmicrohttpd's in-place parser).
 *
 * The first input byte picks the mode.
 *
 * Mode 0: the rest is a request head, read the way libmicrohttpd 0.9.75
 * reads one in place: lines end at LF (a CR before it belongs to the line
 * end), the first line's last space-separated word is the version, each
 * header line is split at its first ':' and its value starts after spaces
 * and tabs and, being a C string, ends at the first NUL. (Inputs that
 * parser rejects or rebuilds — no empty line, no colon, a NUL in a name,
 * folded lines — are skipped.) Properties: http_head_check's verdict —
 * NULL or the problem name, and the status — equals a reference written
 * independently from the rules in http_int.h, first failing line first;
 * http_head_layout_ok is true exactly when every byte of the head is
 * accounted for, i.e. no line lost more to a NUL than a line end's CR
 * could explain.
 *
 * Mode 1: the rest is read as raw offsets (8 bytes each, then spans of 4
 * values): http_head_layout_ok must not wrap around or read anything, and
 * whenever it says yes, the spans must really tile the section.
 *
 * Both: any IPv6 address inet_pton accepts is a valid Host in brackets,
 * with or without a port.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <strings.h>

#include "fuzz_util.h"
#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

/* ------------------------------------------------------------ reference */

static bool in_set(unsigned char c, const char *set)
{
    return c != '\0' && strchr(set, c) != NULL;
}

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

static bool ref_tchar(unsigned char c)
{
    return in_set(c, ALNUM "!#$%&'*+-.^_`|~");
}

static bool ref_host_char(unsigned char c)
{
    return in_set(c, ALNUM "-._~"
                           "!$&'()*+,;=");
}

static bool ref_port_ok(const char *p, size_t n)
{
    if (n == 0)
        return true;
    if (p[0] != ':')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!in_set((unsigned char)p[i], "0123456789"))
            return false;
    return true;
}

static bool ref_host(const char *v, size_t n)
{
    if (n && v[0] == '[') {
        const char *close = memchr(v, ']', n);
        if (!close || close == v + 1)
            return false;
        for (const char *p = v + 1; p < close; p++)
            if (!ref_host_char((unsigned char)*p) && *p != ':')
                return false;
        return ref_port_ok(close + 1, n - (size_t)(close + 1 - v));
    }
    const char *colon = memchr(v, ':', n);
    size_t hl = colon ? (size_t)(colon - v) : n;
    for (size_t i = 0; i < hl; i++) {
        if (v[i] != '%') {
            if (!ref_host_char((unsigned char)v[i]))
                return false;
            continue;
        }
        if (i + 2 >= hl || !isxdigit((unsigned char)v[i + 1]) || !isxdigit((unsigned char)v[i + 2]))
            return false;
        i += 2;
    }
    return ref_port_ok(v + hl, n - hl);
}

static bool named(const struct http_hdr *h, const char *name)
{
    return h->klen == strlen(name) && strncasecmp(h->key, name, h->klen) == 0;
}

/* The Transfer-Encoding verdict: 0 (plain "chunked"), 400 or 501. */
static unsigned ref_coding(const char *v, size_t n)
{
    if (n == 7 && strncasecmp(v, "chunked", 7) == 0)
        return 0;
    size_t codings = 0, chunked = 0;
    bool last_chunked = false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && v[i] != ',')
            continue;
        /* the list element v[start, i) */
        size_t a = start;
        start = i + 1;
        while (a < i && (v[a] == ' ' || v[a] == '\t'))
            a++;
        if (a == i)
            continue; /* empty element: allowed */
        size_t b = a;
        while (b < i && ref_tchar((unsigned char)v[b]))
            b++;
        if (b == a)
            return 400;
        for (size_t k = b; k < i; k++)
            if ((unsigned char)v[k] < 0x20 && v[k] != '\t')
                return 400;
        codings++;
        last_chunked = b - a == 7 && strncasecmp(v + a, "chunked", 7) == 0;
        chunked += last_chunked;
    }
    return codings && last_chunked && chunked == 1 ? 501 : 400;
}

static const char *ref_check(const struct http_hdr *h, size_t n, bool http11, unsigned *status)
{
    size_t cl = 0, te = 0, host = 0;
    size_t te_at = 0, host_at = 0;
    *status = 400;
    for (size_t i = 0; i < n; i++) {
        bool token = h[i].klen > 0;
        for (size_t k = 0; k < h[i].klen; k++)
            token = token && ref_tchar((unsigned char)h[i].key[k]);
        if (!token)
            return "bad-header";
        for (size_t k = 0; k < h[i].vlen; k++) {
            unsigned char c = (unsigned char)h[i].val[k];
            if (c == 0x7f || (c < ' ' && c != '\t'))
                return "bad-header";
        }
        if (named(&h[i], "content-length")) {
            cl++;
            bool digits = h[i].vlen > 0;
            for (size_t k = 0; k < h[i].vlen; k++)
                digits = digits && in_set((unsigned char)h[i].val[k], "0123456789");
            if (!digits)
                return "bad-framing";
        } else if (named(&h[i], "transfer-encoding")) {
            te++;
            te_at = i;
        } else if (named(&h[i], "host")) {
            host++;
            host_at = i;
        }
    }
    if (cl > 1 || te > 1 || (te && cl) || (te && !http11))
        return "bad-framing";
    if (te) {
        unsigned c = ref_coding(h[te_at].val, h[te_at].vlen);
        if (c == 400)
            return "bad-framing";
        if (c == 501) {
            *status = 501;
            return "unsupported-transfer-coding";
        }
    }
    if (host > 1 || (http11 && host == 0) || (host && !ref_host(h[host_at].val, h[host_at].vlen)))
        return "bad-host";
    return NULL;
}

/* ------------------------------------------------------------ mode 0 */

#define MAX_LINES 64

static void head_mode(const char *s, size_t n)
{
    struct http_hdr h[MAX_LINES];
    struct http_span sp[MAX_LINES];
    size_t nh = 0;
    size_t pos = 0, line_end = 0, end_of_last = 0;
    bool expect_ok = true, first = true;
    const char *ver = NULL;
    size_t verlen = 0;
    for (;;) {
        const char *lf = memchr(s + pos, '\n', n - pos);
        if (!lf)
            return; /* no empty line: the head is not complete */
        size_t stop = (size_t)(lf - s), term = 1;
        if (stop > pos && s[stop - 1] == '\r')
            stop--, term = 2;
        size_t len = stop - pos;
        const char *line = s + pos;
        if (first) {
            /* the version: the last word of the request line, as a C string */
            const char *sp1 = memchr(line, ' ', len);
            if (!sp1)
                return;
            const char *v = line + len;
            while (v > sp1 && v[-1] != ' ')
                v--;
            ver = v;
            verlen = strnlen(v, (size_t)(line + len - v));
            line_end = (size_t)(v - s) + verlen;
            first = false;
        } else if (len == 0) {
            /* what the last line lost to a NUL, its line end and this one */
            size_t section = pos + term, gap = section - (nh ? end_of_last : line_end);
            if (gap < 2 || gap > 4)
                expect_ok = false;
            unsigned st1 = 0, st2 = 0;
            bool http11 = verlen >= 7 && strncmp(ver, "HTTP/1.", 7) == 0 &&
                          !(verlen == 8 && strncmp(ver, "HTTP/1.0", 8) == 0);
            const char *got = http_head_check(h, nh, http11, &st1);
            const char *want = ref_check(h, nh, http11, &st2);
            FUZZ_CHECK((got == NULL) == (want == NULL) && (!got || strcmp(got, want) == 0) &&
                           (!got || st1 == st2),
                       "head_check says %s (%u), reference %s (%u)", got ? got : "ok", st1,
                       want ? want : "ok", st2);
            bool layout = http_head_layout_ok(line_end, sp, nh, section);
            FUZZ_CHECK(layout == expect_ok, "layout says %d, %s", layout,
                       expect_ok ? "nothing is hidden" : "bytes are hidden");
            return;
        } else {
            if (line[0] == ' ' || line[0] == '\t' || nh == MAX_LINES)
                return; /* folded (rebuilt elsewhere by libmicrohttpd), or too many */
            const char *colon = memchr(line, ':', len);
            if (!colon || memchr(line, '\0', (size_t)(colon - line)))
                return; /* libmicrohttpd refuses a line without a colon */
            const char *v = colon + 1;
            while (v < line + len && (*v == ' ' || *v == '\t'))
                v++;
            size_t raw = (size_t)(line + len - v), vl = strnlen(v, raw);
            /* after a NUL, libmicrohttpd sees an empty value: it skips the
             * blanks only up to the NUL */
            h[nh] = (struct http_hdr){line, (size_t)(colon - line), v, vl};
            sp[nh] = (struct http_span){pos, (size_t)(colon - line), (size_t)(v - s), vl};
            size_t gap_before = pos - (nh ? end_of_last : line_end);
            if (gap_before < 1 || gap_before > 2)
                expect_ok = false;
            end_of_last = (size_t)(v - s) + vl;
            nh++;
        }
        pos = (size_t)(lf - s) + 1;
    }
}

/* ------------------------------------------------------------ mode 1 */

static size_t take(const uint8_t **p, const uint8_t *end)
{
    size_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | (*p < end ? *(*p)++ : 0);
    /* mostly small offsets, sometimes huge ones */
    return (v >> 63) ? v : v % 4096;
}

static void span_mode(const uint8_t *p, const uint8_t *end)
{
    struct http_span sp[16];
    size_t line_end = take(&p, end), section = take(&p, end), nsp = 0;
    while (p < end && nsp < 16) {
        sp[nsp].key = take(&p, end);
        sp[nsp].klen = take(&p, end);
        sp[nsp].val = take(&p, end);
        sp[nsp].vlen = take(&p, end);
        nsp++;
    }
    if (!http_head_layout_ok(line_end, sp, nsp, section))
        return;
    size_t prev = line_end;
    FUZZ_CHECK(line_end <= section, "request line ends past the section");
    for (size_t i = 0; i < nsp; i++) {
        FUZZ_CHECK(sp[i].key >= prev + 1 && sp[i].key <= prev + 2, "line %zu does not follow", i);
        FUZZ_CHECK(sp[i].val >= sp[i].key + sp[i].klen + 1, "value %zu before its key's end", i);
        FUZZ_CHECK(sp[i].val <= section && sp[i].vlen <= section - sp[i].val,
                   "value %zu past the section", i);
        prev = sp[i].val + sp[i].vlen;
    }
    FUZZ_CHECK(section >= prev + 2 && section <= prev + 4, "section end %zu after %zu", section,
               prev);
}

static void ipv6_hosts(const uint8_t *data, size_t n)
{
    if (n < 16)
        return;
    char a[INET6_ADDRSTRLEN], host[INET6_ADDRSTRLEN + 16];
    if (!inet_ntop(AF_INET6, data, a, sizeof a))
        return;
    int k = snprintf(host, sizeof host, "[%s]", a);
    FUZZ_CHECK(http_host_valid(host, (size_t)k), "Host %s refused", host);
    k = snprintf(host, sizeof host, "[%s]:%u", a, (unsigned)data[0] * 257u);
    FUZZ_CHECK(http_host_valid(host, (size_t)k), "Host %s refused", host);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n == 0 || n > 16384)
        return 0;
    ipv6_hosts(data + 1, n - 1);
    if (data[0] & 1) {
        span_mode(data + 1, data + n);
        return 0;
    }
    char *s = malloc(n - 1 ? n - 1 : 1); /* exact size: reads past it are caught */
    if (!s)
        abort();
    memcpy(s, data + 1, n - 1);
    head_mode(s, n - 1);
    free(s);
    return 0;
}
