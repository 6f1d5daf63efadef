/*
 * avatar.c — profile pictures: an uploaded image is decoded, cropped to a
 * square, scaled and re-encoded by libvips, then stored sealed under the
 * owner's data key.
 *
 * The one decision to know: nothing of the uploaded file is kept. Its
 * bytes are checked against the declared type (magic numbers and libvips'
 * own sniffing), its dimensions are read from the header before any pixel
 * is decoded (a small file can announce a gigapixel "pixel bomb"), and
 * what is stored is a fresh ACC_AVATAR_SIZE-pixel WebP with every
 * metadata block (EXIF with its GPS position, XMP, ICC, comments)
 * dropped. The result is sealed like a phone number, so erasing the
 * user's data key erases the picture in every copy and backup.
 *
 * libvips runs with one worker thread per operation and no operation
 * cache: the server's own thread pool is the concurrency, and a decoded
 * picture must not linger in a process-wide cache after its request.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "accounts_int.h"

/* ---------------------------------------------------------------- libvips */

static pthread_once_t images_once = PTHREAD_ONCE_INIT;
static enum st images_status = ST_INTERNAL;

/* libvips reports a damaged file through GLib warnings (one per row):
 * the failure itself is what matters, and the user is told; the log
 * gets one line per refused upload instead. */
static void vips_log_drop(const gchar *domain, GLogLevelFlags level, const gchar *msg,
                          gpointer data)
{
    (void)domain;
    (void)level;
    (void)msg;
    (void)data;
}

static void images_init_once(void)
{
    if (vips_init("entrepot") != 0)
        return;
    vips_concurrency_set(1);
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    vips_block_untrusted_set(TRUE); /* no ImageMagick, MATLAB, ... loaders */
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO,
                      vips_log_drop, NULL);
    atexit(vips_shutdown);
    images_status = ST_OK;
}

enum st acc_images_init(void)
{
    pthread_once(&images_once, images_init_once);
    return images_status;
}

/* ---------------------------------------------------------------- decoding */

/* Drops the EXIF, XMP and ICC chunks of a WebP file in place: libvips 8.14
 * writes an EXIF block of its own (resolution, orientation) even when told
 * to strip, and a stored avatar carries nothing but its pixels. False for
 * a file that is not the RIFF WebP libvips makes. */
static bool webp_strip(unsigned char *b, size_t *len)
{
    size_t n = *len, in = 12, out = 12;
    if (n < 20 || memcmp(b, "RIFF", 4) != 0 || memcmp(b + 8, "WEBP", 4) != 0)
        return false;
    while (in + 8 <= n) {
        size_t size = (size_t)b[in + 4] | (size_t)b[in + 5] << 8 | (size_t)b[in + 6] << 16 |
                      (size_t)b[in + 7] << 24;
        size_t whole = 8 + size + (size & 1);
        if (whole > n - in)
            return false;
        bool drop = memcmp(b + in, "EXIF", 4) == 0 || memcmp(b + in, "XMP ", 4) == 0 ||
                    memcmp(b + in, "ICCP", 4) == 0;
        if (!drop) {
            memmove(b + out, b + in, whole);
            if (memcmp(b + out, "VP8X", 4) == 0 && size >= 1)
                b[out + 8] &= (unsigned char)~(0x20 | 0x08 | 0x04); /* ICC, EXIF, XMP flags */
            out += whole;
        }
        in += whole;
    }
    if (in != n)
        return false;
    size_t riff = out - 8;
    b[4] = (unsigned char)riff;
    b[5] = (unsigned char)(riff >> 8);
    b[6] = (unsigned char)(riff >> 16);
    b[7] = (unsigned char)(riff >> 24);
    *len = out;
    return true;
}

struct image_kind {
    const char *media_type;
    const char *loader; /* libvips' class for buffers of this type */
};

static const struct image_kind KINDS[] = {
    {"image/png", "VipsForeignLoadPngBuffer"},
    {"image/jpeg", "VipsForeignLoadJpegBuffer"},
    {"image/webp", "VipsForeignLoadWebpBuffer"},
};

/* The type the bytes are, by their magic number; NULL for anything else. */
static const char *sniff(const unsigned char *b, size_t n)
{
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return "image/jpeg";
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
        return "image/webp";
    return NULL;
}

static enum st image_refused(struct acc_error *err, const char *code)
{
    vips_error_clear();
    return acc_fail(err, ST_UNPROCESSABLE, "avatar", code, "accounts.avatar_unusable");
}

enum st acc_avatar_process(const void *in, size_t len, const char *declared, unsigned char **out,
                           size_t *outlen, struct acc_error *err)
{
    *out = NULL;
    *outlen = 0;
    if (len == 0)
        return acc_fail(err, ST_INVALID, "avatar", "required", NULL);
    const char *type = sniff(in, len);
    if (!type || !declared || strcmp(type, declared) != 0)
        return image_refused(err, "image_type_mismatch");
    if (acc_images_init() != ST_OK)
        return ST_INTERNAL;
    const char *loader = vips_foreign_find_load_buffer(in, len);
    bool loader_ok = false;
    for (size_t i = 0; loader && i < sizeof KINDS / sizeof KINDS[0]; i++)
        loader_ok |= strcmp(KINDS[i].media_type, type) == 0 && strcmp(KINDS[i].loader, loader) == 0;
    if (!loader_ok)
        return image_refused(err, "image_invalid");

    /* The header alone: dimensions before any pixel is decoded. */
    VipsImage *head =
        vips_image_new_from_buffer(in, len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!head)
        return image_refused(err, "image_invalid");
    int64_t w = vips_image_get_width(head), h = vips_image_get_height(head);
    g_object_unref(head);
    if (w < 1 || h < 1 || w > ACC_AVATAR_MAX_SIDE || h > ACC_AVATAR_MAX_SIDE ||
        w * h > ACC_AVATAR_MAX_PIXELS) {
        if (err) {
            err->min = 1;
            err->max = ACC_AVATAR_MAX_PIXELS;
        }
        return image_refused(err, "image_too_many_pixels");
    }

    /* Decode (failing on any damage, not drawing what survives), turn by
     * the EXIF orientation, crop the centre square and scale. */
    VipsImage *thumb = NULL;
    if (vips_thumbnail_buffer((void *)(uintptr_t)in, len, &thumb, ACC_AVATAR_SIZE, "height",
                              ACC_AVATAR_SIZE, "crop", VIPS_INTERESTING_CENTRE, "option_string",
                              "fail_on=error", NULL) != 0)
        return image_refused(err, "image_invalid");
    /* 8-bit sRGB whatever came in (16-bit, grey, CMYK), saved as WebP;
     * then every metadata chunk is cut from the file (webp_strip). */
    VipsImage *srgb = NULL;
    void *enc = NULL;
    size_t enclen = 0;
    int rc = vips_colourspace(thumb, &srgb, VIPS_INTERPRETATION_sRGB, NULL);
    g_object_unref(thumb);
    if (rc == 0)
        rc =
            vips_webpsave_buffer(srgb, &enc, &enclen, "Q", ACC_AVATAR_QUALITY, "strip", TRUE, NULL);
    if (srgb)
        g_object_unref(srgb);
    if (rc != 0) {
        vips_error_clear();
        return ST_INTERNAL;
    }
    *out = xmalloc(enclen);
    memcpy(*out, enc, enclen);
    g_free(enc);
    if (!webp_strip(*out, &enclen)) {
        free(*out);
        *out = NULL;
        return ST_INTERNAL;
    }
    *outlen = enclen;
    return ST_OK;
}

/* ---------------------------------------------------------------- storage */

static void avatar_tag(char out[ACC_AVATAR_TAG_CHARS + 1])
{
    unsigned char r[ACC_AVATAR_TAG_BYTES];
    randombytes_buf(r, sizeof r);
    sodium_bin2base64(out, ACC_AVATAR_TAG_CHARS + 1, r, sizeof r,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* The security-log entry of a change of the user's own avatar. */
static enum st avatar_audit(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                            const char *action)
{
    struct audit_entry e = {.actor_id = user_id,
                            .actor_role = "user",
                            .action = action,
                            .subject_user_id = user_id,
                            .fields = "avatar",
                            .ip = cl->ip};
    return audit_append(c, &e, NULL);
}

enum st accounts_avatar_set(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                            const void *bytes, size_t len, const char *media_type,
                            struct acc_error *err)
{
    /* Decoding is the costly part: count the attempt before doing it. */
    enum st st = acc_write_limit(c, user_id, "avatar", ACC_AVATAR_PER_HOUR, err);
    if (st != ST_OK)
        return st;
    unsigned char *img = NULL, *sealed = NULL;
    size_t ilen = 0, slen = 0;
    st = acc_avatar_process(bytes, len, media_type, &img, &ilen, err);
    if (st != ST_OK)
        return st;
    unsigned char dk[CRYPTO_DATAKEY_BYTES];
    st = acc_user_dk(c, user_id, dk);
    if (st == ST_OK) {
        st = crypto_field_seal(dk, user_id, "avatars.image", img, ilen, &sealed, &slen);
        sodium_memzero(dk, sizeof dk);
    }
    free(img);
    char tag[ACC_AVATAR_TAG_CHARS + 1];
    avatar_tag(tag);
    if (st == ST_OK)
        st = db_begin(c);
    if (st != ST_OK) {
        free(sealed);
        return st;
    }
    int64_t now = clock_now_ms();
    st = acc_exec(c, NULL,
                  "INSERT INTO avatars (user_id, tag, media_type, image_enc, width, height, "
                  "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                  "tag = excluded.tag, media_type = excluded.media_type, "
                  "image_enc = excluded.image_enc, width = excluded.width, "
                  "height = excluded.height, created_at = excluded.created_at",
                  "ittbiii", user_id, tag, "image/webp", sealed, slen, (int64_t)ACC_AVATAR_SIZE,
                  (int64_t)ACC_AVATAR_SIZE, now);
    free(sealed);
    if (st == ST_OK)
        st = acc_exec(c, NULL, "UPDATE users SET updated_at = ? WHERE id = ?", "ii", now, user_id);
    if (st == ST_OK)
        st = avatar_audit(c, cl, user_id, "account.avatar_updated");
    return acc_finish(c, st);
}

enum st accounts_avatar_delete(struct db_conn *c, const struct acc_client *cl, int64_t user_id)
{
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    int64_t n = 0;
    st = acc_exec(c, &n, "DELETE FROM avatars WHERE user_id = ?", "i", user_id);
    if (st == ST_OK && n == 0)
        st = ST_NOTFOUND;
    if (st == ST_OK)
        st = avatar_audit(c, cl, user_id, "account.avatar_removed");
    return acc_finish(c, st);
}

void acc_avatar_free(struct acc_avatar *a)
{
    if (!a)
        return;
    crypto_free_secret(a->data, a->len);
    a->data = NULL;
    a->len = 0;
}

enum st accounts_avatar_get(struct db_conn *c, int64_t user_id, bool public_only,
                            struct acc_avatar *out)
{
    memset(out, 0, sizeof *out);
    struct db_stmt *s;
    bool row;
    enum st st = acc_query(c, &s, &row,
                           "SELECT a.tag, a.media_type, a.image_enc, u.public_fields, u.status, "
                           "(SELECT wrapped_key FROM user_keys WHERE user_id = a.user_id) "
                           "FROM avatars a JOIN users u ON u.id = a.user_id WHERE a.user_id = ?",
                           "i", user_id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK && public_only &&
        (strcmp(db_col_text(s, 4), "closed") == 0 ||
         !acc_field_public(db_col_text(s, 3), "avatar")))
        st = ST_NOTFOUND; /* a private picture looks exactly like none */
    unsigned char dk[CRYPTO_DATAKEY_BYTES];
    if (st == ST_OK) {
        snprintf(out->tag, sizeof out->tag, "%s", db_col_text(s, 0));
        snprintf(out->media_type, sizeof out->media_type, "%s", db_col_text(s, 1));
        st = acc_dk_from_row(s, 5, user_id, dk);
    }
    if (st == ST_OK) {
        size_t n = 0;
        const void *b = db_col_blob(s, 2, &n);
        st = crypto_field_open(dk, user_id, "avatars.image", b, n, &out->data, &out->len);
        sodium_memzero(dk, sizeof dk);
        if (st != ST_OK)
            st = ST_INTERNAL;
    }
    acc_done(s);
    if (st != ST_OK)
        acc_avatar_free(out);
    return st;
}
