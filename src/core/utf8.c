/*
 * utf8.c — strict UTF-8 decoding and validation (RFC 3629).
 *
 * Everything hangs on utf8_next, a decoder that accepts exactly the
 * well-formed byte sequences of the Unicode standard's table 3-7: the
 * allowed range of the second byte depends on the first, which is what
 * rules out overlong forms (C0, C1, E0 80..9F, F0 80..8F), surrogates
 * (ED A0..BF) and code points above U+10FFFF (F4 90.., F5..FF) without any
 * after-the-fact arithmetic. utf8_valid additionally refuses NUL, because a
 * NUL inside a text field truncates it for every C consumer downstream.
 */
#include "core.h"

static bool is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

size_t utf8_next(const char *s, size_t n, uint32_t *cp)
{
    if (n == 0 || !s)
        return 0;
    const unsigned char *p = (const unsigned char *)s;
    unsigned char c = p[0];
    uint32_t v;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

    if (c < 0x80) {
        if (cp)
            *cp = c;
        return 1;
    } else if (c < 0xC2) {
        return 0; /* stray continuation byte, or overlong 2-byte lead */
    } else if (c < 0xE0) {
        len = 2;
        v = c & 0x1F;
    } else if (c < 0xF0) {
        len = 3;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c < 0xF5) {
        len = 4;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    v = (v << 6) | (p[1] & 0x3F);
    for (size_t i = 2; i < len; i++) {
        if (!is_cont(p[i]))
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if (cp)
        *cp = v;
    return len;
}

bool utf8_valid(const char *s, size_t n)
{
    if (n == 0)
        return true;
    if (!s)
        return false;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = utf8_next(s + i, n - i, &cp);
        if (k == 0 || cp == 0)
            return false;
        i += k;
    }
    return true;
}

size_t utf8_len(const char *s, size_t n)
{
    /* For valid input every code point has exactly one non-continuation
     * byte; counting those needs no decoding. */
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_cont((unsigned char)s[i]))
            count++;
    return count;
}
