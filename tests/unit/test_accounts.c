/*
 * test_accounts.c — the pieces of src/accounts that the API tests reach
 * only indirectly: coarse places, device labels, masks, user names, the
 * rate-limit and password-throttle counters, one-time codes, CSRF tokens
 * and session checks, on a fresh SQLite file per test (and PostgreSQL too
 * when ENTREPOT_TEST_PG_URL names a throwaway database).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vips/vips.h>

#include "accounts/accounts_int.h"
#include "fixture.h"

struct fx {
    FX_DB_FIELDS;
    struct db_conn *c;
};

static const struct acc_client CLIENT = {
    .ip = "203.0.113.7", .user_agent = "curl/8.0", .lang = "en", .device = NULL};

/* ---------------------------------------------------------------- fixtures */

static int setup_kind(void **state, enum db_kind kind)
{
    struct fx *f = calloc(1, sizeof *f);
    f->kind = kind;
    *state = f;
    if (FX_OPEN(f, "accounts", 4, true) != 0 || db_acquire(f->db, &f->c) != ST_OK)
        return -1;
    unsigned char key[MASTER_KEY_BYTES];
    randombytes_buf(key, sizeof key);
    if (crypto_init(key, 1) != ST_OK)
        return -1;
    clock_set_offset_ms(0);
    return 0;
}

static int setup_sqlite(void **state)
{
    return setup_kind(state, DB_SQLITE);
}

static int setup_pg(void **state)
{
    return setup_kind(state, DB_POSTGRES);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (!f)
        return 0;
    clock_set_offset_ms(0);
    if (f->c)
        db_release(f->c);
    FX_CLOSE(f);
    free(f);
    return 0;
}

/* ---------------------------------------------------------------- pure helpers */

static void test_place(void **state)
{
    (void)state;
    char out[64];
    acc_place("203.0.113.77", out, sizeof out);
    assert_string_equal(out, "203.0.113.0/24");
    acc_place("2001:db8:1:2::5", out, sizeof out);
    assert_string_equal(out, "2001:db8:1::/48");
    acc_place("::ffff:198.51.100.3", out, sizeof out);
    assert_string_equal(out, "198.51.100.0/24");
    acc_place("not an address", out, sizeof out);
    assert_string_equal(out, "unknown");
    acc_place(NULL, out, sizeof out);
    assert_string_equal(out, "unknown");
}

static void test_device_label(void **state)
{
    (void)state;
    static const struct {
        const char *ua, *want;
    } cases[] = {
        {"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
         "Firefox on Linux"},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0 Safari/537.36",
         "Chrome on Windows"},
        {"Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0",
         "Edge on Windows"},
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1", "Safari on iOS"},
        {"Mozilla/5.0 (Linux; Android 14) Chrome/120.0 Mobile Safari/537.36", "Chrome on Android"},
        {"entrepot-app/1.0 (Android 14)", "entrepot app on Android"},
        {"curl/8.0", "curl"},
        {"", "unknown device"},
        {NULL, "unknown device"},
    };
    char out[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        acc_device_label(cases[i].ua, out, sizeof out);
        assert_string_equal(out, cases[i].want);
    }
}

static void test_masks(void **state)
{
    (void)state;
    char out[64];
    acc_mask_phone("+8613912345678", out, sizeof out);
    assert_string_equal(out, "+86139****5678");
    assert_null(strstr(out, "1234"));
    acc_mask_phone("+3312345678", out, sizeof out);
    assert_string_equal(out, "+33****78");
    acc_mask_email("li.wei@example.com", out, sizeof out);
    assert_string_equal(out, "l***@example.com");
}

static void test_username(void **state)
{
    (void)state;
    char out[ACC_USERNAME_MAX + 1];
    assert_int_equal(acc_username_norm("Li_Wei", out), ST_OK);
    assert_string_equal(out, "li_wei");
    assert_int_equal(acc_username_norm("a.b-c_d9", out), ST_OK);
    static const char *const bad[] = {"9lives", "ab",    "a b",    "_abc", "é-abc",
                                      "abc@d",  "abc/d", "abc\td", "-abc", NULL};
    for (size_t i = 0; bad[i]; i++)
        assert_int_equal(acc_username_norm(bad[i], out), ST_INVALID);
    char longname[40];
    memset(longname, 'a', 33);
    longname[33] = '\0';
    assert_int_equal(acc_username_norm(longname, out), ST_INVALID);
    longname[32] = '\0';
    assert_int_equal(acc_username_norm(longname, out), ST_OK);
}

static void test_phone_and_email_norm(void **state)
{
    (void)state;
    char p[24], e[256];
    assert_int_equal(acc_phone_norm("139 1234 5678", p), ST_OK);
    assert_string_equal(p, "+8613912345678");
    assert_int_equal(acc_phone_norm("+33 6 12 34 56 78", p), ST_OK);
    assert_string_equal(p, "+33612345678");
    assert_int_equal(acc_phone_norm("12", p), ST_INVALID);
    assert_int_equal(acc_email_norm("  Li.Wei@Example.COM ", e), ST_OK);
    assert_string_equal(e, "li.wei@example.com");
    assert_int_equal(acc_email_norm("no-at-sign", e), ST_INVALID);
    assert_int_equal(acc_email_norm("a@localhost", e), ST_INVALID);
    assert_int_equal(acc_email_norm("用户@例子.中国", e), ST_INVALID); /* outbox: ASCII only */
}

/* ---------------------------------------------------------------- counters */

static void test_limit_hit(void **state)
{
    struct fx *f = *state;
    unsigned char k[CRYPTO_BLIND_BYTES];
    acc_limit_key("otp-ip", "203.0.113.7", k);
    int64_t retry = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(acc_limit_hit(f->c, k, 60000, 3, &retry), ST_OK);
    assert_int_equal(acc_limit_hit(f->c, k, 60000, 3, &retry), ST_RATELIMIT);
    assert_in_range(retry, 59000, 60000);
    /* Another key is another counter; the table holds no address in clear. */
    unsigned char k2[CRYPTO_BLIND_BYTES];
    acc_limit_key("otp-ip", "203.0.113.8", k2);
    assert_int_equal(acc_limit_hit(f->c, k2, 60000, 3, &retry), ST_OK);
    int64_t n = 0;
    assert_int_equal(acc_query_int(f->c, &n, "SELECT COUNT(*) FROM rate_limits", ""), ST_OK);
    assert_int_equal(n, 2);
    clock_set_offset_ms(60001);
    assert_int_equal(acc_limit_hit(f->c, k, 60000, 3, &retry), ST_OK);
}

static void test_write_limit(void **state)
{
    struct fx *f = *state;
    struct acc_error e = {0};
    for (int i = 0; i < 3; i++)
        assert_int_equal(acc_write_limit(f->c, 7, "profile", 3, &e), ST_OK);
    assert_int_equal(acc_write_limit(f->c, 7, "profile", 3, &e), ST_RATELIMIT);
    assert_in_range(e.retry_after_ms, ACC_HOUR_MS - 5000, ACC_HOUR_MS);
    assert_string_equal(e.detail, "accounts.writes_limited");
    /* Per user and per kind. */
    struct acc_error e2 = {0};
    assert_int_equal(acc_write_limit(f->c, 8, "profile", 3, &e2), ST_OK);
    assert_int_equal(acc_write_limit(f->c, 7, "avatar", 3, &e2), ST_OK);
    assert_int_equal(e2.retry_after_ms, 0);
    clock_set_offset_ms(ACC_HOUR_MS + 1);
    assert_int_equal(acc_write_limit(f->c, 7, "profile", 3, &e2), ST_OK);
}

static void test_throttle(void **state)
{
    struct fx *f = *state;
    unsigned char k[CRYPTO_BLIND_BYTES];
    acc_limit_key("pw-acct", "42", k);
    int64_t retry = 0;
    for (int i = 0; i < ACC_PW_ACCOUNT_FREE; i++) {
        assert_int_equal(acc_throttle_check(f->c, k, 5, 100, &retry), ST_OK);
        assert_int_equal(acc_throttle_fail(f->c, k), ST_OK);
    }
    /* After 5 failures: 1 s, then 2 s, 4 s... after the last failure. */
    int64_t offset = 0;
    for (int64_t want = 1000; want <= 16000; want *= 2) {
        assert_int_equal(acc_throttle_check(f->c, k, 5, 100, &retry), ST_RATELIMIT);
        assert_in_range(retry, want - 50, want);
        offset += retry;
        clock_set_offset_ms(offset);
        assert_int_equal(acc_throttle_check(f->c, k, 5, 100, &retry), ST_OK);
        assert_int_equal(acc_throttle_fail(f->c, k), ST_OK);
    }
    assert_int_equal(acc_throttle_check(f->c, k, 5, 100, &retry), ST_RATELIMIT);
    assert_in_range(retry, ACC_PW_DELAY_CAP_S * 1000 - 50, ACC_PW_DELAY_CAP_S * 1000);
    /* The hourly cap: past it, the wait is the rest of the hour. */
    assert_int_equal(acc_exec(f->c, NULL, "UPDATE rate_limits SET count = 100", ""), ST_OK);
    assert_int_equal(acc_throttle_check(f->c, k, 5, 100, &retry), ST_RATELIMIT);
    assert_true(retry > 3000 * 1000);
    /* A success clears the account's counter. */
    assert_int_equal(acc_throttle_clear(f->c, k), ST_OK);
    assert_int_equal(acc_throttle_check(f->c, k, 5, 100, &retry), ST_OK);
    /* An hour after the window opened, everything is forgiven. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(acc_throttle_fail(f->c, k), ST_OK);
    assert_int_equal(acc_throttle_check(f->c, k, 5, 100, &retry), ST_RATELIMIT);
    clock_set_offset_ms(offset + ACC_HOUR_MS + 1);
    assert_int_equal(acc_throttle_check(f->c, k, 5, 100, &retry), ST_OK);
}

/* ---------------------------------------------------------------- codes */

/* The digits of the newest message to `to`. */
static void newest_code(struct fx *f, const char *to, char out[7])
{
    json_t *a = NULL;
    assert_int_equal(notify_outbox_find(f->db, to, 1, &a), ST_OK);
    assert_int_equal(json_array_size(a), 1);
    const char *body = json_string_value(json_object_get(json_array_get(a, 0), "body"));
    assert_non_null(body);
    const char *p = body;
    while (*p && !(p[0] >= '0' && p[0] <= '9' && strspn(p, "0123456789") == 6))
        p += *p >= '0' && *p <= '9' ? strspn(p, "0123456789") : 1;
    assert_int_equal(strspn(p, "0123456789"), 6);
    memcpy(out, p, 6);
    out[6] = '\0';
    json_decref(a);
}

static void issue(struct fx *f, const char *purpose, const char *to, char attempt[44], char code[7],
                  unsigned char bidx[CRYPTO_BLIND_BYTES])
{
    assert_int_equal(acc_bidx("phone", to, bidx), ST_OK);
    assert_int_equal(db_begin(f->c), ST_OK);
    assert_int_equal(
        acc_code_issue(f->c, &CLIENT, purpose, bidx, "sms", 0, to, "msg.code.login", attempt),
        ST_OK);
    assert_int_equal(db_commit(f->c), ST_OK);
    newest_code(f, to, code);
}

static enum st consume(struct fx *f, const char *purpose, const char *attempt, const char *code,
                       const unsigned char *target)
{
    const char *purposes[] = {purpose, NULL};
    struct acc_code_row row;
    assert_int_equal(db_begin(f->c), ST_OK);
    enum st st = acc_code_consume(f->c, purposes, attempt, code, target, &row);
    assert_int_equal(db_commit(f->c), ST_OK);
    return st;
}

static void wrong_code(const char *code, char out[8])
{
    int64_t v = 0;
    assert_int_equal(parse_int64(code, 0, 999999, &v), ST_OK);
    snprintf(out, 8, "%06d", (int)((v + 1) % 1000000));
}

static void test_codes(void **state)
{
    struct fx *f = *state;
    char attempt[44], code[7], bad[8];
    unsigned char bidx[CRYPTO_BLIND_BYTES], other[CRYPTO_BLIND_BYTES];
    issue(f, "login", "+8613900000001", attempt, code, bidx);
    wrong_code(code, bad);
    assert_int_equal(acc_bidx("phone", "+8613900000002", other), ST_OK);
    /* Wrong purpose, wrong target, malformed attempt or code: refused. */
    assert_int_equal(consume(f, "reset", attempt, code, NULL), ST_UNAUTHORIZED);
    assert_int_equal(consume(f, "login", attempt, code, other), ST_UNAUTHORIZED);
    assert_int_equal(consume(f, "login", "not-a-token", code, NULL), ST_UNAUTHORIZED);
    assert_int_equal(consume(f, "login", attempt, "12345", NULL), ST_UNAUTHORIZED);
    /* Right: once. */
    assert_int_equal(consume(f, "login", attempt, code, bidx), ST_OK);
    assert_int_equal(consume(f, "login", attempt, code, bidx), ST_UNAUTHORIZED);
    /* Five wrong guesses kill an attempt. */
    issue(f, "login", "+8613900000001", attempt, code, bidx);
    wrong_code(code, bad);
    for (int i = 0; i < ACC_OTP_MAX_TRIES; i++)
        assert_int_equal(consume(f, "login", attempt, bad, NULL), ST_UNAUTHORIZED);
    assert_int_equal(consume(f, "login", attempt, code, NULL), ST_UNAUTHORIZED);
    /* Ten minutes. */
    issue(f, "login", "+8613900000001", attempt, code, bidx);
    clock_set_offset_ms(ACC_OTP_TTL_MS - 1000);
    char a2[44], c2[7];
    issue(f, "login", "+8613900000001", a2, c2, bidx);
    clock_set_offset_ms(ACC_OTP_TTL_MS + 1);
    assert_int_equal(consume(f, "login", attempt, code, NULL), ST_UNAUTHORIZED);
    assert_int_equal(consume(f, "login", a2, c2, NULL), ST_OK);
    /* Codes and attempts are stored as hashes only. */
    int64_t n = 0;
    assert_int_equal(
        acc_query_int(f->c, &n, "SELECT COUNT(*) FROM otp_attempts WHERE ip = ?", "t", CLIENT.ip),
        ST_OK);
    assert_int_equal(n, 4);
}

/* ---------------------------------------------------------------- sessions */

static void test_sessions_and_csrf(void **state)
{
    struct fx *f = *state;
    int64_t uid = 0;
    char secret[TOTP_SECRET_CHARS + 1];
    struct acc_error e = {0};
    assert_int_equal(accounts_create_admin(f->c, "13900000009", "password", NULL, &uid, secret, &e),
                     ST_INVALID); /* a common password */
    assert_int_equal(
        accounts_create_admin(f->c, "13900000009", "admin passphrase 1", "Root", &uid, secret, &e),
        ST_OK);
    assert_int_equal(strlen(secret), TOTP_SECRET_CHARS);
    assert_int_equal(accounts_create_admin(f->c, "+86 139 0000 0009", "admin passphrase 1", NULL,
                                           &uid, secret, &e),
                     ST_CONFLICT);

    struct acc_session s;
    assert_int_equal(db_begin(f->c), ST_OK);
    assert_int_equal(acc_session_new(f->c, &CLIENT, 1, false, false, false, 0, &s), ST_OK);
    assert_int_equal(db_commit(f->c), ST_OK);
    assert_true(crypto_token_parse_ok(s.token));
    struct acc_identity id;
    assert_int_equal(accounts_session_check(f->c, s.token, false, &id), ST_OK);
    assert_int_equal(id.user_id, 1);
    assert_int_equal(id.staff_roles, 0); /* not a staff session */
    assert_int_equal(accounts_session_check(f->c, s.token, true, &id), ST_UNAUTHORIZED);
    assert_int_equal(accounts_session_check(f->c, "x", false, &id), ST_UNAUTHORIZED);

    char csrf[ACC_CSRF_CHARS + 1], again[ACC_CSRF_CHARS + 1];
    accounts_csrf_token(s.token, csrf);
    accounts_csrf_token(s.token, again);
    assert_string_equal(csrf, again);
    assert_string_equal(csrf, s.csrf);
    assert_true(accounts_csrf_ok(s.token, csrf));
    csrf[0] = csrf[0] == 'A' ? 'B' : 'A';
    assert_false(accounts_csrf_ok(s.token, csrf));
    assert_false(accounts_csrf_ok(s.token, NULL));
    assert_false(accounts_csrf_ok(s.token, ""));

    /* Staff session: roles; idle timeout 15 minutes. */
    struct acc_session st;
    assert_int_equal(db_begin(f->c), ST_OK);
    assert_int_equal(acc_session_new(f->c, &CLIENT, 1, true, false, true, 0, &st), ST_OK);
    assert_int_equal(db_commit(f->c), ST_OK);
    assert_int_equal(accounts_session_check(f->c, st.token, true, &id), ST_OK);
    assert_int_equal(id.staff_roles, ACC_ROLE_ADMIN);
    clock_set_offset_ms(16 * 60 * 1000);
    assert_int_equal(accounts_session_check(f->c, st.token, true, &id), ST_UNAUTHORIZED);
    assert_int_equal(accounts_session_check(f->c, s.token, false, &id), ST_OK);
    clock_set_offset_ms(16 * 60 * 1000 + 31 * 60 * 1000);
    assert_int_equal(accounts_session_check(f->c, s.token, false, &id), ST_UNAUTHORIZED);
}

/* ---------------------------------------------------------------- avatars */

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* A PNG signature and IHDR announcing w x h, then an empty IDAT and IEND:
 * enough for a header reader, nothing to decode. */
static size_t png_header(unsigned char *out, uint32_t w, uint32_t h)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(out, sig, 8);
    put32(out + 8, 13);
    memcpy(out + 12, "IHDR", 4);
    put32(out + 16, w);
    put32(out + 20, h);
    memcpy(out + 24, "\x08\x00\x00\x00\x00", 5); /* 8-bit grey */
    put32(out + 29, crc32_of(out + 12, 17));
    static const unsigned char tail[] = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xaf, 0x06, 0x1e,
                                         0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    memcpy(out + 33, tail, sizeof tail);
    return 33 + sizeof tail;
}

/* True when the WebP file has a chunk called name. */
static bool webp_has_chunk(const unsigned char *b, size_t n, const char *name)
{
    for (size_t i = 12; i + 8 <= n;) {
        size_t size = (size_t)b[i + 4] | (size_t)b[i + 5] << 8 | (size_t)b[i + 6] << 16 |
                      (size_t)b[i + 7] << 24;
        if (memcmp(b + i, name, 4) == 0)
            return true;
        i += 8 + size + (size & 1);
    }
    return false;
}

static void test_avatar_process(void **state)
{
    (void)state;
    assert_int_equal(acc_images_init(), ST_OK);
    /* A 600 x 300 JPEG made by libvips, with an EXIF block it writes. */
    VipsImage *black = NULL, *img = NULL;
    assert_int_equal(vips_black(&black, 600, 300, "bands", 3, NULL), 0);
    assert_int_equal(vips_linear1(black, &img, 1.0, 90.0, NULL), 0);
    g_object_unref(black);
    void *jpg = NULL;
    size_t jlen = 0;
    assert_int_equal(vips_jpegsave_buffer(img, &jpg, &jlen, NULL), 0);
    g_object_unref(img);
    unsigned char *out = NULL;
    size_t olen = 0;
    struct acc_error e = {0};
    assert_int_equal(acc_avatar_process(jpg, jlen, "image/jpeg", &out, &olen, &e), ST_OK);
    assert_true(olen > 20 && memcmp(out, "RIFF", 4) == 0 && memcmp(out + 8, "WEBP", 4) == 0);
    assert_int_equal((size_t)out[4] | (size_t)out[5] << 8 | (size_t)out[6] << 16, olen - 8);
    assert_false(webp_has_chunk(out, olen, "EXIF"));
    assert_false(webp_has_chunk(out, olen, "XMP "));
    assert_false(webp_has_chunk(out, olen, "ICCP"));
    VipsImage *back = vips_image_new_from_buffer(out, olen, "", NULL);
    assert_non_null(back);
    assert_int_equal(vips_image_get_width(back), ACC_AVATAR_SIZE);
    assert_int_equal(vips_image_get_height(back), ACC_AVATAR_SIZE);
    g_object_unref(back);
    free(out);

    /* Declared as another type: refused before decoding. */
    memset(&e, 0, sizeof e);
    assert_int_equal(acc_avatar_process(jpg, jlen, "image/png", &out, &olen, &e), ST_UNPROCESSABLE);
    assert_string_equal(e.field, "avatar");
    assert_string_equal(e.code, "image_type_mismatch");
    /* Truncated: the decoder must fail, not draw what survives. */
    memset(&e, 0, sizeof e);
    assert_int_equal(acc_avatar_process(jpg, jlen / 2, "image/jpeg", &out, &olen, &e),
                     ST_UNPROCESSABLE);
    assert_string_equal(e.code, "image_invalid");
    g_free(jpg);
    /* Empty. */
    memset(&e, 0, sizeof e);
    assert_int_equal(acc_avatar_process("", 0, "image/png", &out, &olen, &e), ST_INVALID);
    assert_string_equal(e.code, "required");

    /* Pixel bombs are refused from the header alone, at either limit. */
    unsigned char png[64];
    size_t plen = png_header(png, 30000, 30000);
    memset(&e, 0, sizeof e);
    assert_int_equal(acc_avatar_process(png, plen, "image/png", &out, &olen, &e), ST_UNPROCESSABLE);
    assert_string_equal(e.code, "image_too_many_pixels");
    assert_int_equal(e.max, ACC_AVATAR_MAX_PIXELS);
    plen = png_header(png, ACC_AVATAR_MAX_SIDE + 1, 1);
    memset(&e, 0, sizeof e);
    assert_int_equal(acc_avatar_process(png, plen, "image/png", &out, &olen, &e), ST_UNPROCESSABLE);
    assert_string_equal(e.code, "image_too_many_pixels");
    /* Within the limits the same empty file is simply damaged. */
    plen = png_header(png, 100, 100);
    memset(&e, 0, sizeof e);
    assert_int_equal(acc_avatar_process(png, plen, "image/png", &out, &olen, &e), ST_UNPROCESSABLE);
    assert_string_equal(e.code, "image_invalid");
}

static void test_options_from_config(void **state)
{
    (void)state;
    char err[128];
    struct accounts_options o;
    accounts_options_default(&o);
    assert_int_equal(o.idle_ms, 30LL * 60 * 1000);
    assert_int_equal(o.absolute_ms, 12LL * 3600 * 1000);
    assert_int_equal(o.remember_idle_ms, 30LL * 86400 * 1000);
    assert_int_equal(o.staff_idle_ms, 15LL * 60 * 1000);
    assert_int_equal(config_set("session_idle_minutes", "7", err, sizeof err), ST_OK);
    assert_int_equal(config_set("session_remember_absolute_days", "40", err, sizeof err), ST_OK);
    accounts_options_default(&o);
    assert_int_equal(o.idle_ms, 7LL * 60 * 1000);
    assert_int_equal(o.remember_absolute_ms, 40LL * 86400 * 1000);
    assert_int_equal(config_validate(err, sizeof err), ST_OK);
    assert_int_equal(config_set("session_remember_days", "41", err, sizeof err), ST_OK);
    assert_int_equal(config_validate(err, sizeof err), ST_INVALID); /* idle 41 > 40 days */
    assert_int_equal(config_set("session_idle_minutes", "0", err, sizeof err), ST_INVALID);
    config_reset();
}

#define ACCOUNTS_TESTS(setup)                                                                      \
    cmocka_unit_test_setup_teardown(test_limit_hit, setup, teardown),                              \
        cmocka_unit_test_setup_teardown(test_write_limit, setup, teardown),                        \
        cmocka_unit_test_setup_teardown(test_throttle, setup, teardown),                           \
        cmocka_unit_test_setup_teardown(test_codes, setup, teardown),                              \
        cmocka_unit_test_setup_teardown(test_sessions_and_csrf, setup, teardown)

int main(void)
{
    log_init(LOG_ERROR, true);
    if (sodium_init() < 0)
        return 1;
    i18n_init();
    char err[256];
    if (notify_init(err, sizeof err) != ST_OK) {
        fprintf(stderr, "notify_init: %s\n", err);
        return 1;
    }
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_place),
        cmocka_unit_test(test_device_label),
        cmocka_unit_test(test_masks),
        cmocka_unit_test(test_username),
        cmocka_unit_test(test_phone_and_email_norm),
        cmocka_unit_test(test_avatar_process),
        cmocka_unit_test(test_options_from_config),
    };
    const struct CMUnitTest sqlite[] = {ACCOUNTS_TESTS(setup_sqlite)};
    const struct CMUnitTest postgres[] = {ACCOUNTS_TESTS(setup_pg)};
    int failed = cmocka_run_group_tests_name("accounts_helpers", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("accounts_sqlite", sqlite, NULL, NULL);
    if (fx_pg_url())
        failed += cmocka_run_group_tests_name("accounts_postgres", postgres, NULL, NULL);
    else
        fx_pg_skipped("accounts_postgres");
    notify_cleanup();
    return failed ? 1 : 0;
}
