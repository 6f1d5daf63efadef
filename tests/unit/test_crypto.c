/*
 * test_crypto.c — src/core/crypto.c and the key ring file (masterkey.c):
 * round trips, tamper detection, associated-data binding, version bytes,
 * key rotation and reload, blind indexes, normalisers, tokens, one-time
 * codes, passwords and TOTP against RFC 6238's test vectors.
 *
 * The first test runs before any key is installed and checks that nothing
 * works without one. Each later test installs the keys it needs.
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/core.h"

/* ---------------------------------------------------------------- helpers */

static char tmpdir[64];
static unsigned char K1[32], K2[32], K3[32];

static char *tmp_path(const char *name)
{
    return xasprintf("%s/%s", tmpdir, name);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_crypto.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    randombytes_buf(K1, sizeof K1);
    randombytes_buf(K2, sizeof K2);
    randombytes_buf(K3, sizeof K3);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    crypto_keyring_set_reload(NULL, NULL);
    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* A ring of the given (id, key) pairs, primary first. */
static void make_ring(struct master_keyring *r, size_t n, const uint32_t *ids,
                      unsigned char (*const *keys)[32], const unsigned char *index)
{
    memset(r, 0, sizeof *r);
    r->count = n;
    for (size_t i = 0; i < n; i++) {
        r->ids[i] = ids[i];
        memcpy(r->keys[i], *keys[i], 32);
    }
    if (index) {
        r->has_index = true;
        memcpy(r->index_key, index, 32);
    }
}

static void init_k1(void)
{
    assert_int_equal(crypto_init(K1, 1), ST_OK);
}

static char *hex32(const unsigned char k[32])
{
    char *h = xmalloc(65);
    sodium_bin2hex(h, 65, k, 32);
    return h;
}

static void write_file(const char *path, const char *text)
{
    assert_int_equal(file_write_atomic(path, text, strlen(text), 0600), ST_OK);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- before init */

static void test_before_init(void **state)
{
    (void)state;
    unsigned char dk[32], h[32];
    unsigned char *w = NULL;
    size_t wlen = 0;
    char tok[CRYPTO_TOKEN_CHARS + 1];
    assert_int_equal(crypto_keyring_primary_id(), 0);
    assert_false(crypto_keyring_has(1));
    assert_int_equal(crypto_datakey_new(1, dk, &w, &wlen), ST_INTERNAL);
    assert_null(w);
    assert_int_equal(crypto_blind_index("phone", "+8613800138000", h), ST_INTERNAL);
    assert_int_equal(crypto_token_new(tok), ST_OK); /* needs no key */
    assert_int_equal(crypto_token_hash(tok, h), ST_INTERNAL);
    assert_int_equal(crypto_otp_hash("123456", "login", "1", h), ST_INTERNAL);
    assert_int_equal(crypto_keyring_add(2, K2), ST_INTERNAL);
    assert_int_equal(crypto_init(K1, 0), ST_INVALID);
}

/* ---------------------------------------------------------------- data keys */

static void test_datakey_roundtrip(void **state)
{
    (void)state;
    init_k1();
    assert_int_equal(crypto_keyring_primary_id(), 1);
    unsigned char dk[32], dk2[32], zero[32] = {0};
    unsigned char *w = NULL;
    size_t wlen = 0;
    assert_int_equal(crypto_datakey_new(42, dk, &w, &wlen), ST_OK);
    assert_int_equal(wlen, CRYPTO_WRAPPED_BYTES);
    assert_int_equal(wlen, 77);
    assert_int_equal(w[0], CRYPTO_WRAP_V1);
    assert_int_equal(crypto_wrapped_key_id(w, wlen), 1);
    assert_memory_not_equal(dk, zero, 32);
    assert_int_equal(crypto_datakey_unwrap(42, w, wlen, dk2), ST_OK);
    assert_memory_equal(dk, dk2, 32);
    /* The key itself never appears in the wrapped form. */
    assert_null(memmem(w, wlen, dk, 8));

    /* Bound to the user: another user id cannot unwrap it. */
    assert_int_equal(crypto_datakey_unwrap(43, w, wlen, dk2), ST_INVALID);
    assert_memory_equal(dk2, zero, 32);
    assert_int_equal(crypto_datakey_unwrap(0, w, wlen, dk2), ST_INVALID);
    assert_int_equal(crypto_datakey_unwrap(-42, w, wlen, dk2), ST_INVALID);

    /* Every single-byte change is caught. */
    for (size_t i = 0; i < wlen; i++) {
        unsigned char t[CRYPTO_WRAPPED_BYTES];
        memcpy(t, w, wlen);
        t[i] ^= 0x01;
        enum st s = crypto_datakey_unwrap(42, t, wlen, dk2);
        if (i == 0)
            assert_int_equal(s, ST_UNSUPPORTED); /* version byte */
        else if (i < 5)
            assert_int_equal(s, ST_NOTFOUND); /* names a key we do not have */
        else
            assert_int_equal(s, ST_INVALID);
        assert_memory_equal(dk2, zero, 32);
    }
    assert_int_equal(crypto_datakey_unwrap(42, w, wlen - 1, dk2), ST_INVALID);
    assert_int_equal(crypto_datakey_unwrap(42, w, 0, dk2), ST_INVALID);
    assert_int_equal(crypto_datakey_unwrap(42, NULL, 77, dk2), ST_INVALID);
    assert_int_equal(crypto_wrapped_key_id(w, wlen - 1), 0);

    /* Two keys for the same user differ, and so do two wraps. */
    unsigned char dk3[32];
    unsigned char *w3 = NULL;
    size_t w3len = 0;
    assert_int_equal(crypto_datakey_new(42, dk3, &w3, &w3len), ST_OK);
    assert_memory_not_equal(dk, dk3, 32);
    assert_memory_not_equal(w, w3, wlen);
    free(w3);
    assert_int_equal(crypto_datakey_new(0, dk3, &w3, &w3len), ST_INVALID);
    assert_null(w3);
    free(w);
}

static void test_datakey_rotation(void **state)
{
    (void)state;
    init_k1();
    unsigned char dk[32], out[32], h1[32], h2[32], t1[32], t2[32];
    unsigned char *w1 = NULL, *w2 = NULL;
    size_t l1 = 0, l2 = 0;
    char tok[CRYPTO_TOKEN_CHARS + 1];
    assert_int_equal(crypto_token_new(tok), ST_OK);
    assert_int_equal(crypto_datakey_new(7, dk, &w1, &l1), ST_OK);
    assert_int_equal(crypto_blind_index("phone", "+8613800138000", h1), ST_OK);
    assert_int_equal(crypto_token_hash(tok, t1), ST_OK);

    /* Rotation: new primary 2, old key 1 kept, index pinned from the old
     * ring: blind indexes and token hashes do not change. */
    struct master_keyring r, old;
    uint32_t ids1[] = {1};
    unsigned char(*k1[])[32] = {&K1};
    make_ring(&old, 1, ids1, k1, NULL);
    assert_int_equal(crypto_keyring_pin_index(&old), ST_OK);
    assert_true(old.has_index);
    uint32_t ids[] = {2, 1};
    unsigned char(*ks[])[32] = {&K2, &K1};
    make_ring(&r, 2, ids, ks, old.index_key);
    assert_int_equal(crypto_keyring_install(&r), ST_OK);
    assert_int_equal(crypto_keyring_primary_id(), 2);
    assert_true(crypto_keyring_has(1));
    assert_int_equal(crypto_blind_index("phone", "+8613800138000", h2), ST_OK);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(crypto_token_hash(tok, t2), ST_OK);
    assert_memory_equal(t1, t2, 32);

    assert_int_equal(crypto_datakey_unwrap(7, w1, l1, out), ST_OK);
    assert_memory_equal(dk, out, 32);
    assert_int_equal(crypto_datakey_rewrap(7, w1, l1, &w2, &l2), ST_OK);
    assert_int_equal(crypto_wrapped_key_id(w2, l2), 2);
    assert_int_equal(crypto_datakey_unwrap(7, w2, l2, out), ST_OK);
    assert_memory_equal(dk, out, 32);
    unsigned char *w3 = NULL;
    size_t l3 = 0;
    assert_int_equal(crypto_datakey_rewrap(8, w1, l1, &w3, &l3), ST_INVALID);
    assert_null(w3);

    /* Old key gone: only the re-wrapped value opens; the index is kept. */
    uint32_t ids2[] = {2};
    unsigned char(*k2[])[32] = {&K2};
    make_ring(&r, 1, ids2, k2, old.index_key);
    assert_int_equal(crypto_keyring_install(&r), ST_OK);
    assert_int_equal(crypto_datakey_unwrap(7, w1, l1, out), ST_NOTFOUND);
    assert_int_equal(crypto_datakey_unwrap(7, w2, l2, out), ST_OK);
    assert_int_equal(crypto_blind_index("phone", "+8613800138000", h2), ST_OK);
    assert_memory_equal(h1, h2, 32);

    /* crypto_keyring_add brings an old key back; a different key under a
     * known id is refused. */
    assert_int_equal(crypto_keyring_add(1, K1), ST_OK);
    assert_int_equal(crypto_keyring_add(1, K1), ST_OK);
    assert_int_equal(crypto_keyring_add(1, K3), ST_CONFLICT);
    assert_int_equal(crypto_keyring_add(0, K3), ST_INVALID);
    assert_int_equal(crypto_datakey_unwrap(7, w1, l1, out), ST_OK);
    assert_int_equal(crypto_keyring_primary_id(), 2);
    for (uint32_t id = 3; id <= MASTER_KEYS_MAX; id++)
        assert_int_equal(crypto_keyring_add(id, K3), ST_OK);
    assert_int_equal(crypto_keyring_add(100, K3), ST_TOOLARGE);

    /* A ring without an index key derives it from its oldest key: a fresh
     * installation with key 2 alone has other blind indexes. */
    assert_int_equal(crypto_init(K2, 2), ST_OK);
    assert_int_equal(crypto_blind_index("phone", "+8613800138000", h2), ST_OK);
    assert_memory_not_equal(h1, h2, 32);
    /* ...and the same ring without the pinned index, oldest key 1, agrees. */
    make_ring(&r, 2, ids, ks, NULL);
    assert_int_equal(crypto_keyring_install(&r), ST_OK);
    assert_int_equal(crypto_blind_index("phone", "+8613800138000", h2), ST_OK);
    assert_memory_equal(h1, h2, 32);

    /* Bad rings are refused and leave the ring in place. */
    uint32_t dup[] = {3, 3};
    make_ring(&r, 2, dup, ks, NULL);
    assert_int_equal(crypto_keyring_install(&r), ST_INVALID);
    uint32_t zero[] = {0};
    make_ring(&r, 1, zero, k1, NULL);
    assert_int_equal(crypto_keyring_install(&r), ST_INVALID);
    r.count = 0;
    assert_int_equal(crypto_keyring_install(&r), ST_INVALID);
    assert_int_equal(crypto_keyring_primary_id(), 2);

    masterkey_ring_wipe(&r);
    masterkey_ring_wipe(&old);
    free(w1);
    free(w2);
}

/* A running server meets a key wrapped by a newer key: it re-reads the
 * key file (the reload hook) and carries on. */
static void test_keyring_reload_file(void **state)
{
    (void)state;
    char err[256];
    char *path = tmp_path("reload.key");
    struct master_keyring r1, r21, r2, bad, tmp;
    uint32_t ids1[] = {1}, ids21[] = {2, 1}, ids2[] = {2};
    unsigned char(*k1[])[32] = {&K1};
    unsigned char(*k21[])[32] = {&K2, &K1};
    unsigned char(*k2[])[32] = {&K2};
    make_ring(&r1, 1, ids1, k1, NULL);
    make_ring(&tmp, 1, ids1, k1, NULL);
    crypto_keyring_pin_index(&tmp);
    make_ring(&r21, 2, ids21, k21, tmp.index_key);
    make_ring(&r2, 1, ids2, k2, tmp.index_key);

    /* A value wrapped with key 2 by "another node". */
    unsigned char dk[32], out[32];
    unsigned char *w2 = NULL;
    size_t l2 = 0;
    assert_int_equal(crypto_keyring_install(&r21), ST_OK);
    assert_int_equal(crypto_datakey_new(5, dk, &w2, &l2), ST_OK);
    assert_int_equal(crypto_wrapped_key_id(w2, l2), 2);

    /* This server runs with key 1 only, watching its key file. */
    assert_int_equal(masterkey_ring_save(path, &r1, err, sizeof err), ST_OK);
    assert_int_equal(crypto_keyring_install(&r1), ST_OK);
    assert_int_equal(crypto_keyring_watch_file(path), ST_OK);
    assert_int_equal(crypto_keyring_watch_file(""), ST_INVALID);
    assert_int_equal(crypto_datakey_unwrap(5, w2, l2, out), ST_NOTFOUND); /* file unchanged */

    /* The rotation writes the new file; the next unknown id reloads it. */
    assert_int_equal(crypto_keyring_watch_file(path), ST_OK); /* resets the rate limit */
    assert_int_equal(masterkey_ring_save(path, &r21, err, sizeof err), ST_OK);
    assert_int_equal(crypto_datakey_unwrap(5, w2, l2, out), ST_OK);
    assert_memory_equal(dk, out, 32);
    assert_int_equal(crypto_keyring_primary_id(), 2);
    /* New keys are wrapped with the new primary at once. */
    unsigned char *w = NULL;
    size_t wl = 0;
    assert_int_equal(crypto_datakey_new(6, out, &w, &wl), ST_OK);
    assert_int_equal(crypto_wrapped_key_id(w, wl), 2);
    free(w);

    /* An old copy of the file (key 1 only) is refused... */
    assert_int_equal(crypto_keyring_watch_file(path), ST_OK);
    assert_int_equal(masterkey_ring_save(path, &r1, err, sizeof err), ST_OK);
    assert_int_equal(crypto_datakey_new(6, out, &w, &wl), ST_OK); /* triggers the check */
    free(w);
    assert_int_equal(crypto_keyring_primary_id(), 2);
    assert_true(crypto_keyring_has(2));

    /* ...and so is a file with another index key; the final file with key 2
     * only is accepted. */
    assert_int_equal(crypto_keyring_watch_file(path), ST_OK);
    make_ring(&bad, 2, ids21, k21, K3);
    assert_int_equal(masterkey_ring_save(path, &bad, err, sizeof err), ST_OK);
    assert_int_equal(crypto_datakey_new(6, out, &w, &wl), ST_OK);
    free(w);
    assert_true(crypto_keyring_has(1));
    unsigned char h1[32], h2[32];
    assert_int_equal(crypto_blind_index("email", "a@example.com", h1), ST_OK);
    assert_int_equal(crypto_keyring_watch_file(path), ST_OK);
    assert_int_equal(masterkey_ring_save(path, &r2, err, sizeof err), ST_OK);
    assert_int_equal(crypto_datakey_new(6, out, &w, &wl), ST_OK);
    free(w);
    assert_false(crypto_keyring_has(1));
    assert_int_equal(crypto_keyring_primary_id(), 2);
    assert_int_equal(crypto_blind_index("email", "a@example.com", h2), ST_OK);
    assert_memory_equal(h1, h2, 32);

    /* Within the re-check interval the file is not looked at again. */
    assert_int_equal(masterkey_ring_save(path, &r21, err, sizeof err), ST_OK);
    assert_int_equal(crypto_datakey_new(6, out, &w, &wl), ST_OK);
    free(w);
    assert_false(crypto_keyring_has(1));

    crypto_keyring_set_reload(NULL, NULL);
    masterkey_ring_wipe(&r1);
    masterkey_ring_wipe(&r21);
    masterkey_ring_wipe(&r2);
    masterkey_ring_wipe(&bad);
    masterkey_ring_wipe(&tmp);
    free(w2);
    free(path);
}

/* ---------------------------------------------------------------- key file */

static void expect_parse_error(const char *text, const char *msg_part)
{
    struct master_keyring r;
    char err[256] = "";
    assert_int_equal(masterkey_ring_parse(text, strlen(text), &r, err, sizeof err), ST_INVALID);
    if (!strstr(err, msg_part))
        fail_msg("error \"%s\" lacks \"%s\" for %s", err, msg_part, text);
    /* Never a key byte in a message. */
    assert_null(strstr(err, "00112233"));
    assert_int_equal(r.count, 0);
}

static void test_keyfile_format(void **state)
{
    (void)state;
    char err[256];
    char *h1 = hex32(K1), *h2 = hex32(K2), *h3 = hex32(K3);
    struct master_keyring r;

    /* The first format: one bare hex line is key 1. */
    char *t = xasprintf("%s\n", h1);
    assert_int_equal(masterkey_ring_parse(t, strlen(t), &r, err, sizeof err), ST_OK);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.ids[0], 1);
    assert_memory_equal(r.keys[0], K1, 32);
    assert_false(r.has_index);
    free(t);

    /* The ring format, comments and blank lines, CRLF. */
    t = xasprintf("# keys\r\n\n7:%s\r\n  3:%s  \nindex:%s\n", h2, h1, h3);
    assert_int_equal(masterkey_ring_parse(t, strlen(t), &r, err, sizeof err), ST_OK);
    assert_int_equal(r.count, 2);
    assert_int_equal(r.ids[0], 7);
    assert_int_equal(r.ids[1], 3);
    assert_memory_equal(r.keys[0], K2, 32);
    assert_memory_equal(r.keys[1], K1, 32);
    assert_true(r.has_index);
    assert_memory_equal(r.index_key, K3, 32);

    /* Save and load give the same ring, mode 0600. */
    char *path = tmp_path("ring.key");
    assert_int_equal(masterkey_ring_save(path, &r, err, sizeof err), ST_OK);
    struct master_keyring back;
    assert_int_equal(masterkey_ring_load(path, NULL, false, &back, err, sizeof err), ST_OK);
    assert_memory_equal(&back, &r, sizeof r);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    unsigned char one[32];
    assert_int_equal(masterkey_load(path, NULL, false, one, err, sizeof err), ST_OK);
    assert_memory_equal(one, K2, 32); /* the primary */
    free(t);

    /* Errors. */
    expect_parse_error("", "no master key");
    expect_parse_error("# only a comment\n", "no master key");
    t = xasprintf("index:%s\n", h1);
    expect_parse_error(t, "no master key");
    free(t);
    expect_parse_error("0011223344\n", "line 1");
    t = xasprintf("%s\n%s\n", h1, h2);
    expect_parse_error(t, "only key");
    free(t);
    t = xasprintf("2:%s\n%s\n", h1, h2);
    expect_parse_error(t, "only key");
    free(t);
    t = xasprintf("2:%s\n2:%s\n", h1, h2);
    expect_parse_error(t, "twice");
    free(t);
    t = xasprintf("0:%s\n", h1);
    expect_parse_error(t, "key id");
    free(t);
    t = xasprintf("4294967296:%s\n", h1);
    expect_parse_error(t, "key id");
    free(t);
    t = xasprintf("x:%s\n", h1);
    expect_parse_error(t, "key id");
    free(t);
    t = xasprintf("1:%sff\n", h1);
    expect_parse_error(t, "hex");
    free(t);
    t = xasprintf("index:%s\nindex:%s\n1:%s\n", h1, h1, h2);
    expect_parse_error(t, "second index");
    free(t);
    struct buf b;
    buf_init(&b, 8192);
    for (int i = 1; i <= MASTER_KEYS_MAX + 1; i++)
        buf_printf(&b, "%d:%s\n", i, h1);
    expect_parse_error(b.data, "more than");
    buf_free(&b);
    expect_parse_error("1:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeXX\n",
                       "hex");

    /* Created when missing (ring format, key 1, 0600), read back the same. */
    char *created = tmp_path("created.key");
    assert_int_equal(masterkey_ring_load(created, NULL, false, &r, err, sizeof err), ST_NOTFOUND);
    assert_int_equal(masterkey_ring_load(created, NULL, true, &r, err, sizeof err), ST_OK);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.ids[0], 1);
    assert_int_equal(masterkey_ring_load(created, NULL, false, &back, err, sizeof err), ST_OK);
    assert_memory_equal(back.keys[0], r.keys[0], 32);
    assert_int_equal(stat(created, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* A legacy file (single bare line) still loads. */
    t = xasprintf("%s\n", h3);
    write_file(path, t);
    free(t);
    assert_int_equal(masterkey_ring_load(path, NULL, false, &r, err, sizeof err), ST_OK);
    assert_int_equal(r.ids[0], 1);
    assert_memory_equal(r.keys[0], K3, 32);

    /* The environment's hex wins over the file. */
    assert_int_equal(masterkey_ring_load(path, h2, false, &r, err, sizeof err), ST_OK);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.ids[0], 1);
    assert_memory_equal(r.keys[0], K2, 32);
    assert_int_equal(masterkey_ring_load(path, "abcd", false, &r, err, sizeof err), ST_INVALID);

    masterkey_ring_wipe(&r);
    masterkey_ring_wipe(&back);
    free(created);
    free(path);
    free(h1);
    free(h2);
    free(h3);
}

/* ---------------------------------------------------------------- fields */

static void test_field_roundtrip(void **state)
{
    (void)state;
    init_k1();
    unsigned char dk[32], other[32];
    randombytes_buf(dk, sizeof dk);
    randombytes_buf(other, sizeof other);
    unsigned char *c = NULL, *p = NULL;
    size_t clen = 0, plen = 0;
    const char *phone = "+8613800138000";

    assert_int_equal(crypto_field_seal(dk, 42, "users.phone", phone, strlen(phone), &c, &clen),
                     ST_OK);
    assert_int_equal(clen, strlen(phone) + CRYPTO_FIELD_OVERHEAD);
    assert_int_equal(CRYPTO_FIELD_OVERHEAD, 45);
    assert_int_equal(c[0], CRYPTO_FIELD_V1);
    assert_int_equal(c[1] | c[2] | c[3] | c[4], 0); /* key id 0: the owner's data key */
    assert_null(memmem(c, clen, "13800138000", 11));
    assert_int_equal(crypto_field_open(dk, 42, "users.phone", c, clen, &p, &plen), ST_OK);
    assert_int_equal(plen, strlen(phone));
    assert_string_equal((char *)p, phone); /* NUL-terminated */
    crypto_free_secret(p, plen);

    /* Moved to another owner, another column, or opened with another key. */
    assert_int_equal(crypto_field_open(dk, 43, "users.phone", c, clen, &p, &plen), ST_INVALID);
    assert_null(p);
    assert_int_equal(crypto_field_open(dk, 42, "users.email", c, clen, &p, &plen), ST_INVALID);
    assert_int_equal(crypto_field_open(dk, 42, "users.phone2", c, clen, &p, &plen), ST_INVALID);
    assert_int_equal(crypto_field_open(dk, 42, "users.phon", c, clen, &p, &plen), ST_INVALID);
    assert_int_equal(crypto_field_open(other, 42, "users.phone", c, clen, &p, &plen), ST_INVALID);
    assert_null(p);

    /* Tampering: every byte. */
    for (size_t i = 0; i < clen; i++) {
        unsigned char *t = xmalloc(clen);
        memcpy(t, c, clen);
        t[i] ^= 0x80;
        enum st s = crypto_field_open(dk, 42, "users.phone", t, clen, &p, &plen);
        if (i < 5)
            assert_int_equal(s, ST_UNSUPPORTED); /* version or key id */
        else
            assert_int_equal(s, ST_INVALID);
        assert_null(p);
        free(t);
    }
    assert_int_equal(crypto_field_open(dk, 42, "users.phone", c, clen - 1, &p, &plen), ST_INVALID);
    assert_int_equal(crypto_field_open(dk, 42, "users.phone", c, 44, &p, &plen), ST_INVALID);
    assert_int_equal(crypto_field_open(dk, 42, "users.phone", c, 0, &p, &plen), ST_INVALID);

    /* Unknown version. */
    unsigned char v2[64];
    memcpy(v2, c, clen);
    v2[0] = 2;
    assert_int_equal(crypto_field_open(dk, 42, "users.phone", v2, clen, &p, &plen), ST_UNSUPPORTED);
    v2[0] = 0;
    assert_int_equal(crypto_field_open(dk, 42, "users.phone", v2, clen, &p, &plen), ST_UNSUPPORTED);

    /* Same value sealed twice: different ciphertexts (random nonces). */
    unsigned char *c2 = NULL;
    size_t c2len = 0;
    assert_int_equal(crypto_field_seal(dk, 42, "users.phone", phone, strlen(phone), &c2, &c2len),
                     ST_OK);
    assert_int_equal(c2len, clen);
    assert_memory_not_equal(c, c2, clen);
    free(c2);
    free(c);

    /* Empty and binary values; a large one. */
    assert_int_equal(crypto_field_seal(dk, 1, "x", "", 0, &c, &clen), ST_OK);
    assert_int_equal(clen, CRYPTO_FIELD_OVERHEAD);
    assert_int_equal(crypto_field_open(dk, 1, "x", c, clen, &p, &plen), ST_OK);
    assert_int_equal(plen, 0);
    assert_int_equal(p[0], 0);
    crypto_free_secret(p, plen);
    free(c);
    const unsigned char bin[] = {0, 1, 0, 255, 0};
    assert_int_equal(crypto_field_seal(dk, 1, "x", bin, sizeof bin, &c, &clen), ST_OK);
    assert_int_equal(crypto_field_open(dk, 1, "x", c, clen, &p, &plen), ST_OK);
    assert_int_equal(plen, sizeof bin);
    assert_memory_equal(p, bin, sizeof bin);
    crypto_free_secret(p, plen);
    free(c);
    size_t big = 1024 * 1024;
    unsigned char *img = xmalloc(big);
    randombytes_buf(img, big);
    assert_int_equal(crypto_field_seal(dk, 9, "verifications.front_image", img, big, &c, &clen),
                     ST_OK);
    assert_int_equal(crypto_field_open(dk, 9, "verifications.front_image", c, clen, &p, &plen),
                     ST_OK);
    assert_int_equal(plen, big);
    assert_memory_equal(p, img, big);
    crypto_free_secret(p, plen);
    free(c);
    free(img);

    /* Arguments. */
    assert_int_equal(crypto_field_seal(dk, 0, "x", "a", 1, &c, &clen), ST_INVALID);
    assert_int_equal(crypto_field_seal(dk, 1, "", "a", 1, &c, &clen), ST_INVALID);
    assert_int_equal(crypto_field_seal(dk, 1, NULL, "a", 1, &c, &clen), ST_INVALID);
    assert_int_equal(crypto_field_seal(dk, 1, "x", NULL, 1, &c, &clen), ST_INVALID);
    assert_int_equal(crypto_field_seal(dk, 1, "x", "a", (size_t)CRYPTO_FIELD_MAX + 1, &c, &clen),
                     ST_TOOLARGE);
    assert_null(c);
    crypto_free_secret(NULL, 10);
}

/* The data key of a user opens that user's fields after its wrap went
 * through the database (as bytes) and back. */
static void test_field_with_datakey(void **state)
{
    (void)state;
    init_k1();
    unsigned char dk[32], dk2[32];
    unsigned char *w = NULL, *c = NULL, *p = NULL;
    size_t wl = 0, cl = 0, pl = 0;
    assert_int_equal(crypto_datakey_new(11, dk, &w, &wl), ST_OK);
    assert_int_equal(crypto_field_seal(dk, 11, "users.email", "a@b.cn", 6, &c, &cl), ST_OK);
    sodium_memzero(dk, sizeof dk);
    assert_int_equal(crypto_datakey_unwrap(11, w, wl, dk2), ST_OK);
    assert_int_equal(crypto_field_open(dk2, 11, "users.email", c, cl, &p, &pl), ST_OK);
    assert_string_equal((char *)p, "a@b.cn");
    crypto_free_secret(p, pl);
    free(w);
    free(c);
}

/* ---------------------------------------------------------------- blind index */

static void test_blind_index(void **state)
{
    (void)state;
    init_k1();
    unsigned char a[32], b[32], c[32], d[32];
    assert_int_equal(crypto_blind_index("phone", "+8613800138000", a), ST_OK);
    assert_int_equal(crypto_blind_index("phone", "+8613800138000", b), ST_OK);
    assert_memory_equal(a, b, 32); /* stable */
    assert_int_equal(crypto_blind_index("email", "+8613800138000", c), ST_OK);
    assert_memory_not_equal(a, c, 32); /* domain separated */
    assert_int_equal(crypto_blind_index("phone", "+8613800138001", d), ST_OK);
    assert_memory_not_equal(a, d, 32);
    /* Domain and value cannot slide into each other. */
    assert_int_equal(crypto_blind_index("ab", "c", c), ST_OK);
    assert_int_equal(crypto_blind_index("a", "bc", d), ST_OK);
    assert_memory_not_equal(c, d, 32);
    /* Not a plain hash: it depends on the key. */
    unsigned char plain[32];
    crypto_generichash(plain, 32, (const unsigned char *)"+8613800138000", 14, NULL, 0);
    assert_memory_not_equal(a, plain, 32);
    assert_int_equal(crypto_init(K2, 1), ST_OK);
    assert_int_equal(crypto_blind_index("phone", "+8613800138000", b), ST_OK);
    assert_memory_not_equal(a, b, 32);
    init_k1();
    assert_int_equal(crypto_blind_index("phone", "+8613800138000", b), ST_OK);
    assert_memory_equal(a, b, 32);
    assert_int_equal(crypto_blind_index("", "x", b), ST_INVALID);
    assert_int_equal(crypto_blind_index(NULL, "x", b), ST_INVALID);
    assert_int_equal(crypto_blind_index("phone", NULL, b), ST_INVALID);

    /* Normalised first, equal addresses index equal. */
    char n1[256], n2[256];
    assert_int_equal(crypto_normalize_email("  Alice@Example.COM\n", n1, sizeof n1), ST_OK);
    assert_int_equal(crypto_normalize_email("alice@example.com", n2, sizeof n2), ST_OK);
    assert_int_equal(crypto_blind_index("email", n1, a), ST_OK);
    assert_int_equal(crypto_blind_index("email", n2, b), ST_OK);
    assert_memory_equal(a, b, 32);
}

static void test_normalize_email(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"alice@example.com", "alice@example.com"},
        {"  Alice@Example.COM\t", "alice@example.com"},
        {"A.B+tag@Sub.Example.cn", "a.b+tag@sub.example.cn"},
        {"Émile@exemple.fr", "Émile@exemple.fr"}, /* only ASCII folds */
        {"用户@例子.中国", "用户@例子.中国"},
    };
    static const char *const bad[] = {
        "",      "   ",         "alice",          "@example.com", "alice@",
        "a@b@c", "al ice@x.cn", "alice@x.cn\x01", "a\xff@x.cn",   NULL,
    };
    char out[300];
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        assert_int_equal(crypto_normalize_email(ok[i].in, out, sizeof out), ST_OK);
        assert_string_equal(out, ok[i].out);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (crypto_normalize_email(bad[i], out, sizeof out) != ST_INVALID)
            fail_msg("accepted \"%s\"", bad[i] ? bad[i] : "(null)");
        assert_string_equal(out, "");
    }
    char longmail[300];
    memset(longmail, 'a', 250);
    memcpy(longmail + 250, "@x.cn", 6);
    assert_int_equal(crypto_normalize_email(longmail, out, sizeof out), ST_INVALID);
    assert_int_equal(crypto_normalize_email("a@b.cn", out, 6), ST_TOOLARGE);
    assert_int_equal(crypto_normalize_email("a@b.cn", out, 7), ST_OK);
}

static void test_normalize_phone(void **state)
{
    (void)state;
    static const struct {
        const char *in, *cc, *out;
    } ok[] = {
        {"+86 138 0013 8000", NULL, "+8613800138000"},
        {"+8613800138000", NULL, "+8613800138000"},
        {"008613800138000", NULL, "+8613800138000"},
        {"13800138000", NULL, "+8613800138000"},
        {"138-0013-8000", NULL, "+8613800138000"},
        {"(010) 1234 5678", NULL, "+861012345678"},
        {"010-12345678", "86", "+861012345678"},
        {"+1 (415) 555-2671", NULL, "+14155552671"},
        {"0033 1 42 68 53 00", NULL, "+33142685300"},
        {"01 42 68 53 00", "33", "+33142685300"},
        {"+44 20 7946 0958", NULL, "+442079460958"},
        {"\xef\xbc\x8b\xef\xbc\x98\xef\xbc\x96 138\xe3\x80\x80"
         "0013 8000",
         NULL, "+8613800138000"}, /* full-width +86 and an ideographic space */
        {"  +852 2123 4567 ", NULL, "+85221234567"},
        {"+123456789012345", NULL, "+123456789012345"}, /* 15 digits */
        {"+12345678", NULL, "+12345678"},               /* 8 digits */
    };
    static const struct {
        const char *in, *cc;
    } bad[] = {
        {"", NULL},
        {"+", NULL},
        {"+1234567", NULL},          /* 7 digits */
        {"+1234567890123456", NULL}, /* 16 digits */
        {"+0123456789", NULL},       /* country codes do not start with 0 */
        {"1380013800a", NULL},
        {"138.0013.8000", NULL},
        {"+86+13800138000", NULL},
        {"138+00138000", NULL},
        {"tel:+8613800138000", NULL},
        {"13800138000", "0"},
        {"13800138000", "1234"},
        {"13800138000", "8a"},
        {"\xff"
         "13800138000",
         NULL},
        {"00", NULL},
        {NULL, NULL},
    };
    char out[32];
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        enum st s = crypto_normalize_phone(ok[i].in, ok[i].cc, out, sizeof out);
        if (s != ST_OK)
            fail_msg("rejected \"%s\": %s", ok[i].in, st_name(s));
        assert_string_equal(out, ok[i].out);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (crypto_normalize_phone(bad[i].in, bad[i].cc, out, sizeof out) != ST_INVALID)
            fail_msg("accepted \"%s\" -> %s", bad[i].in ? bad[i].in : "(null)", out);
        assert_string_equal(out, "");
    }
    assert_int_equal(crypto_normalize_phone("13800138000", NULL, out, 16), ST_TOOLARGE);
    assert_int_equal(crypto_normalize_phone("13800138000", NULL, out, 17), ST_OK);
}

/* ---------------------------------------------------------------- tokens */

static int cmp_tok(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_tokens(void **state)
{
    (void)state;
    init_k1();
    enum { N = 2000 };
    char(*toks)[CRYPTO_TOKEN_CHARS + 1] = xcalloc(N, sizeof *toks);
    for (int i = 0; i < N; i++) {
        assert_int_equal(crypto_token_new(toks[i]), ST_OK);
        assert_int_equal(strlen(toks[i]), 43);
        assert_true(crypto_token_parse_ok(toks[i]));
        unsigned char raw[40];
        size_t rawlen = 0;
        assert_int_equal(sodium_base642bin(raw, sizeof raw, toks[i], 43, NULL, &rawlen, NULL,
                                           sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                         0);
        assert_int_equal(rawlen, 32);
    }
    qsort(toks, N, sizeof *toks, cmp_tok);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(toks[i - 1], toks[i]);

    /* Strict format. */
    char t[64];
    memcpy(t, toks[0], 44);
    assert_false(crypto_token_parse_ok(NULL));
    assert_false(crypto_token_parse_ok(""));
    assert_false(crypto_token_parse_ok("abc"));
    t[42] = '\0';
    assert_false(crypto_token_parse_ok(t)); /* 42 */
    memcpy(t, toks[0], 44);
    t[43] = 'A';
    t[44] = '\0';
    assert_false(crypto_token_parse_ok(t)); /* 44 */
    memcpy(t, toks[0], 44);
    const char badc[] = "+/=. \n%";
    for (const char *p = badc; *p; p++) {
        char u[44];
        memcpy(u, toks[0], 44);
        u[10] = *p;
        assert_false(crypto_token_parse_ok(u));
    }
    /* The last character carries 4 bits; 'A','E',... are canonical, 'B' is not. */
    memcpy(t, toks[0], 44);
    t[42] = 'A';
    assert_true(crypto_token_parse_ok(t));
    t[42] = 'E';
    assert_true(crypto_token_parse_ok(t));
    t[42] = 'B';
    assert_false(crypto_token_parse_ok(t));
    t[42] = '_';
    assert_false(crypto_token_parse_ok(t));
    t[42] = 'w';
    assert_true(crypto_token_parse_ok(t));

    /* Hashes: stable, distinct, keyed, and refused for malformed tokens. */
    unsigned char h1[32], h2[32], h3[32];
    assert_int_equal(crypto_token_hash(toks[0], h1), ST_OK);
    assert_int_equal(crypto_token_hash(toks[0], h2), ST_OK);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(crypto_token_hash(toks[1], h3), ST_OK);
    assert_memory_not_equal(h1, h3, 32);
    unsigned char plain[32];
    crypto_generichash(plain, 32, (const unsigned char *)toks[0], 43, NULL, 0);
    assert_memory_not_equal(h1, plain, 32);
    assert_int_equal(crypto_token_hash("not a token", h2), ST_INVALID);
    assert_int_equal(crypto_init(K2, 1), ST_OK);
    assert_int_equal(crypto_token_hash(toks[0], h2), ST_OK);
    assert_memory_not_equal(h1, h2, 32);
    init_k1();

    /* Constant-time comparison. */
    assert_true(crypto_equal(h1, h1, 32));
    memcpy(h2, h1, 32);
    h2[31] ^= 1;
    assert_false(crypto_equal(h1, h2, 32));
    assert_true(crypto_equal(h1, h2, 31));
    free(toks);
}

/* ---------------------------------------------------------------- one-time codes */

static void test_otp(void **state)
{
    (void)state;
    init_k1();
    enum { N = 200000 };
    long first[10] = {0}, last[10] = {0};
    int leading_zero = 0;
    char code[CRYPTO_OTP_DIGITS + 1];
    for (int i = 0; i < N; i++) {
        assert_int_equal(crypto_otp_new(code), ST_OK);
        assert_int_equal(strlen(code), 6);
        for (int k = 0; k < 6; k++)
            assert_true(code[k] >= '0' && code[k] <= '9');
        first[code[0] - '0']++;
        last[code[5] - '0']++;
        leading_zero += code[0] == '0';
    }
    /* Uniform digits (chi-squared, 9 degrees of freedom: 27.9 is p = 0.001;
     * 40 is far out, so this does not flake). */
    double chi_first = 0, chi_last = 0, e = N / 10.0;
    for (int d = 0; d < 10; d++) {
        chi_first += (first[d] - e) * (first[d] - e) / e;
        chi_last += (last[d] - e) * (last[d] - e) / e;
    }
    if (chi_first > 40 || chi_last > 40)
        fail_msg("digits not uniform: chi2 first %.1f last %.1f", chi_first, chi_last);
    assert_true(leading_zero > N / 20); /* "0xxxxx" codes exist (~10%) */

    /* Bound to purpose, binding and code; unambiguous. */
    unsigned char a[32], b[32];
    assert_int_equal(crypto_otp_hash("123456", "login", "attempt-1", a), ST_OK);
    assert_int_equal(crypto_otp_hash("123456", "login", "attempt-1", b), ST_OK);
    assert_memory_equal(a, b, 32);
    assert_int_equal(crypto_otp_hash("123457", "login", "attempt-1", b), ST_OK);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(crypto_otp_hash("123456", "register", "attempt-1", b), ST_OK);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(crypto_otp_hash("123456", "login", "attempt-2", b), ST_OK);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(crypto_otp_hash("123456", "logina", "ttempt-1", b), ST_OK);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(crypto_otp_hash("123456", "login", "", b), ST_OK);
    assert_memory_not_equal(a, b, 32);
    static const char *const badcodes[] = {"12345", "1234567", "12a456", " 23456", "", NULL};
    for (size_t i = 0; i < sizeof badcodes / sizeof *badcodes; i++)
        assert_int_equal(crypto_otp_hash(badcodes[i], "login", "1", b), ST_INVALID);
    assert_int_equal(crypto_otp_hash("123456", "", "1", b), ST_INVALID);
    assert_int_equal(crypto_otp_hash("123456", NULL, "1", b), ST_INVALID);
    assert_int_equal(crypto_otp_hash("123456", "login", NULL, b), ST_INVALID);
    /* Keyed: another installation's hash differs. */
    assert_int_equal(crypto_init(K3, 1), ST_OK);
    assert_int_equal(crypto_otp_hash("123456", "login", "attempt-1", b), ST_OK);
    assert_memory_not_equal(a, b, 32);
    init_k1();
}

/* ---------------------------------------------------------------- passwords */

static void test_password_hash(void **state)
{
    (void)state;
    char h[PASSWORD_HASH_BYTES], h2[PASSWORD_HASH_BYTES];
    assert_int_equal(password_hash("correct horse battery staple", h), ST_OK);
    /* Argon2id, 19 MiB, 2 passes, recorded in the string. */
    assert_true(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    assert_true(password_verify(h, "correct horse battery staple"));
    assert_false(password_verify(h, "correct horse battery stapler"));
    assert_false(password_verify(h, ""));
    assert_false(password_needs_rehash(h));
    /* Salted: the same password hashes differently. */
    assert_int_equal(password_hash("correct horse battery staple", h2), ST_OK);
    assert_string_not_equal(h, h2);
    assert_true(password_verify(h2, "correct horse battery staple"));

    /* Weaker or other parameters need a rehash; garbage never verifies. */
    char weak[crypto_pwhash_STRBYTES];
    assert_int_equal(
        crypto_pwhash_str_alg(weak, "pw", 2, 1, 8 * 1024 * 1024, crypto_pwhash_ALG_ARGON2ID13), 0);
    assert_true(password_needs_rehash(weak));
    assert_true(password_verify(weak, "pw"));
    assert_true(password_needs_rehash("$2y$10$abcdefghijklmnopqrstuv"));
    assert_true(password_needs_rehash(""));
    assert_true(password_needs_rehash(NULL));
    assert_false(password_verify("garbage", "pw"));
    assert_false(password_verify(NULL, "pw"));
    assert_false(password_verify(h, NULL));
    assert_false(password_verify_dummy("anything"));

    /* 128 characters of any Unicode are hashed and verified. */
    struct buf b;
    buf_init(&b, 4096);
    const char *const cps[] = {"密", "码", "é", "😀", "a", "Ж", "ع", " "};
    for (int i = 0; i < 128; i++)
        buf_puts(&b, cps[i % 8]);
    assert_int_equal(utf8_len(b.data, b.len), 128);
    assert_int_equal(password_check_policy(b.data, NULL), ST_OK);
    assert_int_equal(password_hash(b.data, h), ST_OK);
    assert_true(password_verify(h, b.data));
    b.data[b.len - 1] = 'b';
    assert_false(password_verify(h, b.data));
    buf_free(&b);

    char *huge = xmalloc(PASSWORD_MAX_BYTES + 2);
    memset(huge, 'a', PASSWORD_MAX_BYTES + 1);
    huge[PASSWORD_MAX_BYTES + 1] = '\0';
    assert_int_equal(password_hash(huge, h), ST_TOOLARGE);
    assert_false(password_verify(h2, huge));
    free(huge);
}

/* The dummy verify for unknown accounts costs what a real one costs. */
static void test_password_dummy_timing(void **state)
{
    (void)state;
    char h[PASSWORD_HASH_BYTES];
    assert_int_equal(password_hash("some password", h), ST_OK);
    double real = 1e9, dummy = 1e9;
    for (int i = 0; i < 3; i++) {
        double t0 = now_s();
        password_verify(h, "wrong password");
        double t1 = now_s();
        password_verify_dummy("wrong password");
        double t2 = now_s();
        if (t1 - t0 < real)
            real = t1 - t0;
        if (t2 - t1 < dummy)
            dummy = t2 - t1;
    }
    double ratio = dummy / real;
    if (ratio < 0.5 || ratio > 2.0)
        fail_msg("dummy verify %.1f ms vs real %.1f ms", dummy * 1e3, real * 1e3);
    /* A malformed stored hash costs a verify too (no shortcut). */
    double t0 = now_s();
    assert_false(password_verify("not-a-hash", "wrong password"));
    double bad = now_s() - t0;
    assert_true(bad > real * 0.5);
}

static void test_password_policy(void **state)
{
    (void)state;
    const char *why = "unset";
    assert_int_equal(password_check_policy("tr0ub4dor&3x", &why), ST_OK);
    assert_null(why);
    assert_int_equal(password_check_policy("1234567", &why), ST_INVALID);
    assert_string_equal(why, "too_short");
    assert_int_equal(password_check_policy("", &why), ST_INVALID);
    assert_string_equal(why, "too_short");
    assert_int_equal(password_check_policy("password", &why), ST_INVALID);
    assert_string_equal(why, "common");
    assert_int_equal(password_check_policy("PassWord1", &why), ST_INVALID);
    assert_string_equal(why, "common");
    assert_int_equal(password_check_policy("12345678", &why), ST_INVALID);
    assert_string_equal(why, "common");
    assert_int_equal(password_check_policy("\xff\xfe"
                                           "abcdefgh",
                                           &why),
                     ST_INVALID);
    assert_string_equal(why, "utf8");
    assert_int_equal(password_check_policy(NULL, &why), ST_INVALID);
    assert_string_equal(why, "utf8");
    /* Counted in code points, not bytes: 7 CJK characters are 21 bytes. */
    assert_int_equal(password_check_policy("密码密码密码密", &why), ST_INVALID);
    assert_string_equal(why, "too_short");
    assert_int_equal(password_check_policy("密码密码密码密码", &why), ST_OK);
    /* No composition rules: all lower-case letters are fine. */
    assert_int_equal(password_check_policy("quietmountainriver", &why), ST_OK);

    /* 256 code points pass, 257 do not (bytes do not matter). */
    struct buf b;
    buf_init(&b, 8192);
    for (int i = 0; i < 256; i++)
        buf_puts(&b, "密");
    assert_int_equal(password_check_policy(b.data, &why), ST_OK);
    buf_puts(&b, "a");
    assert_int_equal(password_check_policy(b.data, &why), ST_INVALID);
    assert_string_equal(why, "too_long");
    buf_reset(&b);
    for (int i = 0; i < 5000; i++)
        buf_putc(&b, 'a');
    assert_int_equal(password_check_policy(b.data, &why), ST_INVALID);
    assert_string_equal(why, "too_long");
    buf_free(&b);
    assert_int_equal(password_check_policy("correct horse", NULL), ST_OK);
}

static void test_common_passwords(void **state)
{
    (void)state;
    /* At least 3,000 entries from john-data, sorted, lower case, unique. */
    assert_true(crypto_common_passwords_count >= 3000);
    for (size_t i = 0; i < crypto_common_passwords_count; i++) {
        const char *p = crypto_common_passwords[i];
        assert_true(*p);
        for (const char *q = p; *q; q++)
            assert_false(*q >= 'A' && *q <= 'Z');
        if (i > 0 && strcmp(crypto_common_passwords[i - 1], p) >= 0)
            fail_msg("not sorted at %zu: %s, %s", i, crypto_common_passwords[i - 1], p);
        assert_true(password_is_common(p));
    }
    assert_true(password_is_common("123456"));
    assert_true(password_is_common("PASSWORD"));
    assert_true(password_is_common("Qwerty"));
    assert_false(password_is_common("kx7#qpl-vw2z"));
    assert_false(password_is_common(""));
    assert_false(password_is_common(NULL));
    /* Every entry of 8+ characters, upper-cased, is rejected by the policy. */
    int long_ones = 0;
    for (size_t i = 0; i < crypto_common_passwords_count; i++) {
        const char *p = crypto_common_passwords[i];
        if (utf8_len(p, strlen(p)) < 8)
            continue;
        char up[128];
        size_t n = strlen(p);
        assert_true(n < sizeof up);
        for (size_t k = 0; k <= n; k++)
            up[k] = (p[k] >= 'a' && p[k] <= 'z') ? (char)(p[k] - 32) : p[k];
        const char *why = NULL;
        assert_int_equal(password_check_policy(up, &why), ST_INVALID);
        assert_string_equal(why, "common");
        long_ones++;
    }
    assert_true(long_ones > 300);
}

/* ---------------------------------------------------------------- TOTP */

/* RFC 6238 appendix B, SHA-1, seed "12345678901234567890"; our codes are
 * the last six of its eight digits. */
static const char RFC_SECRET[] = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
static const struct {
    int64_t t;
    const char *code8;
} RFC_VECTORS[] = {
    {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
    {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
};

static void test_totp_rfc6238(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof RFC_VECTORS / sizeof *RFC_VECTORS; i++) {
        const char *want = RFC_VECTORS[i].code8 + 2;
        int64_t ms = RFC_VECTORS[i].t * 1000;
        char code[8];
        assert_int_equal(totp_code(RFC_SECRET, ms, code), ST_OK);
        assert_string_equal(code, want);
        int64_t step = -1;
        assert_int_equal(totp_verify(RFC_SECRET, want, ms, 0, &step), ST_OK);
        assert_int_equal(step, RFC_VECTORS[i].t / 30);
        /* Lower case and spaces in the secret are fine. */
        assert_int_equal(totp_verify("gezd gnbv gy3t qojq gezd gnbv gy3t qojq", want, ms, 0, NULL),
                         ST_OK);
    }
    /* Window: the previous step's code is accepted with window 1 and
     * reported as that step; two steps back is not. */
    int64_t now = 1111111111LL * 1000;
    char prev[8], prev2[8], next[8];
    assert_int_equal(totp_code(RFC_SECRET, now - 30000, prev), ST_OK);
    assert_int_equal(totp_code(RFC_SECRET, now - 60000, prev2), ST_OK);
    assert_int_equal(totp_code(RFC_SECRET, now + 30000, next), ST_OK);
    int64_t step = 0;
    assert_int_equal(totp_verify(RFC_SECRET, prev, now, 0, &step), ST_UNAUTHORIZED);
    assert_int_equal(step, -1);
    assert_int_equal(totp_verify(RFC_SECRET, prev, now, 1, &step), ST_OK);
    assert_int_equal(step, 1111111111LL / 30 - 1);
    assert_int_equal(totp_verify(RFC_SECRET, next, now, 1, &step), ST_OK);
    assert_int_equal(step, 1111111111LL / 30 + 1);
    assert_int_equal(totp_verify(RFC_SECRET, prev2, now, 1, &step), ST_UNAUTHORIZED);

    /* Malformed input. */
    assert_int_equal(totp_verify(RFC_SECRET, "12345", now, 1, &step), ST_INVALID);
    assert_int_equal(totp_verify(RFC_SECRET, "1234567", now, 1, &step), ST_INVALID);
    assert_int_equal(totp_verify(RFC_SECRET, "12a456", now, 1, &step), ST_INVALID);
    assert_int_equal(totp_verify(RFC_SECRET, NULL, now, 1, &step), ST_INVALID);
    assert_int_equal(totp_verify(RFC_SECRET, "123456", now, -1, &step), ST_INVALID);
    assert_int_equal(totp_verify(RFC_SECRET, "123456", now, 11, &step), ST_INVALID);
    assert_int_equal(totp_verify("!!!!", "123456", now, 1, &step), ST_INVALID);
    assert_int_equal(totp_verify("GEZDGNBV", "123456", now, 1, &step), ST_INVALID); /* short */
    assert_int_equal(totp_verify(NULL, "123456", now, 1, &step), ST_INVALID);
    char c[8];
    assert_int_equal(totp_code("1", now, c), ST_INVALID);
}

static void test_totp_secret_and_uri(void **state)
{
    (void)state;
    char s1[64], s2[64];
    assert_int_equal(totp_secret_new(s1, sizeof s1), ST_OK);
    assert_int_equal(totp_secret_new(s2, sizeof s2), ST_OK);
    assert_int_equal(strlen(s1), TOTP_SECRET_CHARS);
    assert_string_not_equal(s1, s2);
    for (const char *p = s1; *p; p++)
        assert_true((*p >= 'A' && *p <= 'Z') || (*p >= '2' && *p <= '7'));
    assert_int_equal(totp_secret_new(s1, TOTP_SECRET_CHARS), ST_TOOLARGE);
    assert_int_equal(totp_secret_new(s1, TOTP_SECRET_CHARS + 1), ST_OK);

    /* A fresh secret round-trips through code and verify. */
    int64_t now = 1700000000000LL;
    char code[8];
    int64_t step = 0;
    assert_int_equal(totp_code(s1, now, code), ST_OK);
    assert_int_equal(totp_verify(s1, code, now, 1, &step), ST_OK);
    assert_int_equal(step, now / 1000 / 30);

    char *uri = totp_uri("entrepot", "admin@example.com", "gezd gnbv");
    assert_string_equal(uri, "otpauth://totp/entrepot:admin%40example.com?secret=GEZDGNBV"
                             "&issuer=entrepot&algorithm=SHA1&digits=6&period=30");
    free(uri);
    uri = totp_uri("My Co", "李 雷", s1);
    assert_non_null(strstr(uri, "otpauth://totp/My%20Co:%E6%9D%8E%20%E9%9B%B7?secret="));
    assert_non_null(strstr(uri, "&issuer=My%20Co&"));
    free(uri);
}

int main(void)
{
    log_init(LOG_ERROR, true); /* refused reloads log errors on purpose */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_before_init),
        cmocka_unit_test(test_datakey_roundtrip),
        cmocka_unit_test(test_datakey_rotation),
        cmocka_unit_test(test_keyring_reload_file),
        cmocka_unit_test(test_keyfile_format),
        cmocka_unit_test(test_field_roundtrip),
        cmocka_unit_test(test_field_with_datakey),
        cmocka_unit_test(test_blind_index),
        cmocka_unit_test(test_normalize_email),
        cmocka_unit_test(test_normalize_phone),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_otp),
        cmocka_unit_test(test_password_hash),
        cmocka_unit_test(test_password_dummy_timing),
        cmocka_unit_test(test_password_policy),
        cmocka_unit_test(test_common_passwords),
        cmocka_unit_test(test_totp_rfc6238),
        cmocka_unit_test(test_totp_secret_and_uri),
    };
    return cmocka_run_group_tests_name("crypto", tests, group_setup, group_teardown);
}
