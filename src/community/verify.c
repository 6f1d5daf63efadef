/*
 * verify.c — real-name verification (SPEC §1, §4): a member sends photos
 * of both sides of an identity document and its number; staff (support,
 * compliance) review them and approve or reject with a reason; a verified
 * member has a badge and may open boards.
 *
 * The decisions to know. Nothing readable is stored: the number and both
 * photos are sealed under the member's own data key (crypto_field_seal,
 * the owner id and column as associated data), so erasing the account's
 * key erases them in every copy; a keyed blind index of the number lets
 * staff see how many accounts share one document without reading it. An
 * uploaded photo is decoded and re-encoded by libvips (at most
 * VF_SIDE pixels a side, JPEG, no metadata: no EXIF position, no camera
 * serial), and refused if it is not the image type it claims. Staff see
 * the number only masked, and the photos only one at a time, each view
 * stating its purpose and written to the audit log (who, role, whose
 * data, which field, why) in the same transaction that reads it, so an
 * unrecorded view is impossible.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "audit/audit.h"
#include "community_int.h"
#include "privacy/consent.h"

#define VF_SIDE         2000     /* longest side kept, in pixels */
#define VF_MAX_PIXELS   50000000 /* refused before decoding above this */
#define VF_QUALITY      85
#define VF_UPLOADS_HOUR 20 /* photo uploads a member may send an hour */
#define VF_SUBMITS_DAY  5  /* submissions a member may make a day */
#define VF_COL_NUMBER   "identity_verifications.id_number"
#define VF_COL_FRONT    "identity_verifications.front"
#define VF_COL_BACK     "identity_verifications.back"

/* ---------------------------------------------------------------- images */

static pthread_once_t vips_once = PTHREAD_ONCE_INIT;
static enum st vips_status = ST_INTERNAL;

static void vips_quiet(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
    (void)domain;
    (void)level;
    (void)msg;
    (void)data;
}

/* The same settings as the avatar code (src/accounts/avatar.c): one
 * thread an operation, no cache, no untrusted loaders. */
static void vips_once_init(void)
{
    if (vips_init("entrepot") != 0)
        return;
    vips_concurrency_set(1);
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    vips_block_untrusted_set(TRUE);
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO,
                      vips_quiet, NULL);
    vips_status = ST_OK;
}

/* The media type the bytes are, by magic number; NULL otherwise. */
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

static enum st photo_refused(struct cm_error *err, const char *side, const char *code)
{
    vips_error_clear();
    return cm_fail(err, ST_UNPROCESSABLE, side, code, "community.photo_unusable");
}

/* Decodes an upload of the declared type and re-encodes it as a JPEG
 * with no metadata into *out (caller frees with g_free). */
static enum st photo_process(const void *in, size_t len, const char *declared, const char *side,
                             void **out, size_t *outlen, struct cm_error *err)
{
    *out = NULL;
    if (len == 0)
        return cm_fail(err, ST_INVALID, side, "required", NULL);
    const char *type = sniff(in, len);
    if (!type || !declared || strcmp(type, declared) != 0)
        return photo_refused(err, side, "image_type_mismatch");
    pthread_once(&vips_once, vips_once_init);
    if (vips_status != ST_OK)
        return ST_INTERNAL;
    VipsImage *head =
        vips_image_new_from_buffer(in, len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!head)
        return photo_refused(err, side, "image_invalid");
    int64_t w = vips_image_get_width(head), h = vips_image_get_height(head);
    g_object_unref(head);
    if (w < 1 || h < 1 || w * h > VF_MAX_PIXELS) {
        if (err)
            err->max = VF_MAX_PIXELS;
        return photo_refused(err, side, "image_too_many_pixels");
    }
    VipsImage *img = NULL, *flat = NULL;
    if (vips_thumbnail_buffer((void *)(uintptr_t)in, len, &img, VF_SIDE, "height", VF_SIDE, "size",
                              VIPS_SIZE_DOWN, NULL) != 0)
        return photo_refused(err, side, "image_invalid");
    if (vips_image_hasalpha(img)) {
        double white[] = {255, 255, 255};
        VipsArrayDouble *bg = vips_array_double_new(white, 3);
        int rc = vips_flatten(img, &flat, "background", bg, NULL);
        vips_area_unref(VIPS_AREA(bg));
        g_object_unref(img);
        if (rc != 0)
            return photo_refused(err, side, "image_invalid");
        img = flat;
    }
    int rc = vips_jpegsave_buffer(img, out, outlen, "Q", VF_QUALITY, "strip", TRUE, NULL);
    g_object_unref(img);
    if (rc != 0) {
        *out = NULL;
        return photo_refused(err, side, "image_invalid");
    }
    return ST_OK;
}

/* ---------------------------------------------------------------- keys */

/* The member's data key into dk (wipe it after use). */
static enum st user_dk(struct db_conn *c, int64_t user_id, unsigned char dk[CRYPTO_DATAKEY_BYTES])
{
    struct db_stmt *s;
    bool row;
    enum st st =
        cm_query(c, &s, &row, "SELECT wrapped_key FROM user_keys WHERE user_id = ?", "i", user_id);
    if (st == ST_OK && !row)
        st = ST_INTERNAL; /* every account has a key; a missing one is a fault */
    if (st == ST_OK) {
        size_t n = 0;
        const void *w = db_col_blob(s, 0, &n);
        st = crypto_datakey_unwrap(user_id, w, n, dk) == ST_OK ? ST_OK : ST_INTERNAL;
    }
    if (s)
        db_stmt_done(s);
    return st;
}

/* Opens column col of row (a blob at column idx of s) for owner; caller
 * frees *out with crypto_free_secret. */
static enum st open_col(const unsigned char dk[CRYPTO_DATAKEY_BYTES], int64_t owner,
                        const char *col, struct db_stmt *s, int idx, unsigned char **out,
                        size_t *len)
{
    size_t n = 0;
    const void *b = db_col_blob(s, idx, &n);
    return crypto_field_open(dk, owner, col, b, n, out, len) == ST_OK ? ST_OK : ST_INTERNAL;
}

/* ---------------------------------------------------------------- numbers */

/* Normalises an identity number of id_type into out (upper-case, no
 * spaces); ST_INVALID when it is not one. */
static enum st number_norm(const char *id_type, const char *in, char *out, size_t outlen)
{
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (*p == ' ' || *p == '-')
            continue;
        char ch = (*p >= 'a' && *p <= 'z') ? (char)(*p - 32) : *p;
        if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z')) || n + 1 >= outlen)
            return ST_INVALID;
        out[n++] = ch;
    }
    out[n] = '\0';
    if (strcmp(id_type, "passport") == 0)
        return n >= 5 && n <= 20 ? ST_OK : ST_INVALID;
    /* PRC resident identity card: 17 digits and a MOD 11-2 check character. */
    static const int weight[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char check[] = "10X98765432";
    if (n != 18)
        return ST_INVALID;
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        if (out[i] < '0' || out[i] > '9')
            return ST_INVALID;
        sum += (out[i] - '0') * weight[i];
    }
    return out[17] == check[sum % 11] ? ST_OK : ST_INVALID;
}

/* The number as anyone may see it: the first 3 and last 4 characters of
 * an 18-character number, the first 1 and last 2 of a passport's. */
static void number_mask(const char *num, char *out, size_t outlen)
{
    size_t n = strlen(num), head = n == 18 ? 3 : 1, tail = n == 18 ? 4 : 2, k = 0;
    for (size_t i = 0; i < n && k + 1 < outlen; i++)
        out[k++] = i < head || i >= n - tail ? num[i] : '*';
    out[k] = '\0';
}

/* ---------------------------------------------------------------- member */

/* The member's open (draft or pending) attempt and whether they are
 * verified already; *id 0 when there is no open attempt. */
static enum st open_attempt(struct db_conn *c, int64_t user_id, int64_t *id, bool *pending,
                            bool *approved)
{
    struct db_stmt *s;
    bool row;
    *id = 0;
    *pending = *approved = false;
    enum st st = cm_query(c, &s, &row,
                          "SELECT id, status FROM identity_verifications WHERE user_id = ? AND "
                          "status IN ('draft', 'pending', 'approved')",
                          "i", user_id);
    while (st == ST_OK && row) {
        const char *status = db_col_text(s, 1);
        if (strcmp(status, "approved") == 0) {
            *approved = true;
        } else {
            *id = db_col_int64(s, 0);
            *pending = strcmp(status, "pending") == 0;
        }
        st = db_step(s, &row);
    }
    if (s)
        db_stmt_done(s);
    return st;
}

/* ST_CONFLICT with the detail when the member may not change an attempt. */
static enum st may_change(bool pending, bool approved, struct cm_error *err)
{
    if (approved)
        return cm_fail(err, ST_CONFLICT, NULL, NULL, "community.already_verified");
    if (pending)
        return cm_fail(err, ST_CONFLICT, NULL, NULL, "community.verification_pending");
    return ST_OK;
}

enum st community_verification_photo(struct db_conn *c, int64_t user_id, const char *side,
                                     const void *bytes, size_t len, const char *type,
                                     struct cm_error *err)
{
    bool front;
    if (!cm_either(side, "front", "back", &front))
        return ST_NOTFOUND;
    int64_t id = 0, now = clock_now_ms();
    bool pending, approved;
    /* Decoding is the costly part: check and count before doing it. */
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = open_attempt(c, user_id, &id, &pending, &approved);
    if (st == ST_OK)
        st = may_change(pending, approved, err);
    if (st == ST_OK)
        st = cm_limit(c, "verify-photo", user_id, 3600 * 1000, VF_UPLOADS_HOUR, err);
    st = cm_finish(c, st);
    if (st != ST_OK)
        return st;
    void *jpeg = NULL;
    size_t jlen = 0;
    st = photo_process(bytes, len, type, side, &jpeg, &jlen, err);
    if (st != ST_OK)
        return st;
    unsigned char dk[CRYPTO_DATAKEY_BYTES], *sealed = NULL;
    size_t slen = 0;
    st = db_begin(c);
    if (st == ST_OK)
        st = user_dk(c, user_id, dk);
    if (st == ST_OK)
        st = crypto_field_seal(dk, user_id, front ? VF_COL_FRONT : VF_COL_BACK, jpeg, jlen, &sealed,
                               &slen);
    sodium_memzero(dk, sizeof dk);
    g_free(jpeg);
    /* Re-read under the write lock: the state may have moved meanwhile. */
    if (st == ST_OK)
        st = open_attempt(c, user_id, &id, &pending, &approved);
    if (st == ST_OK)
        st = may_change(pending, approved, err);
    if (st == ST_OK && !id)
        st = cm_query_int(c, &id,
                          "INSERT INTO identity_verifications (user_id, created_at, updated_at) "
                          "VALUES (?, ?, ?) RETURNING id",
                          "iii", user_id, now, now);
    if (st == ST_OK)
        st = cm_exec(c, NULL,
                     front ? "UPDATE identity_verifications SET front_enc = ?, updated_at = ? "
                             "WHERE id = ?"
                           : "UPDATE identity_verifications SET back_enc = ?, updated_at = ? "
                             "WHERE id = ?",
                     "bii", sealed, slen, now, id);
    free(sealed);
    return cm_finish(c, st);
}

enum st community_verification_submit(struct db_conn *c, int64_t user_id, const char *id_type,
                                      const char *id_number, json_t **out, struct cm_error *err)
{
    if (strcmp(id_type, "prc_id") != 0 && strcmp(id_type, "passport") != 0)
        return cm_fail(err, ST_INVALID, "id_type", "choice", NULL);
    char num[32];
    if (number_norm(id_type, id_number, num, sizeof num) != ST_OK)
        return cm_fail(err, ST_INVALID, "id_number", "invalid_id_number", NULL);
    unsigned char bidx[CRYPTO_BLIND_BYTES], dk[CRYPTO_DATAKEY_BYTES], *sealed = NULL;
    size_t slen = 0;
    enum st st = crypto_blind_index("id_number", num, bidx);
    int64_t id = 0, now = clock_now_ms(), photos = 0;
    bool pending, approved;
    if (st == ST_OK)
        st = db_begin(c);
    if (st != ST_OK) {
        sodium_memzero(num, sizeof num);
        return st;
    }
    st = open_attempt(c, user_id, &id, &pending, &approved);
    if (st == ST_OK)
        st = may_change(pending, approved, err);
    if (st == ST_OK && id)
        st = cm_query_int(c, &photos,
                          "SELECT COUNT(*) FROM identity_verifications WHERE id = ? AND "
                          "front_enc IS NOT NULL AND back_enc IS NOT NULL",
                          "i", id);
    if (st == ST_OK && !photos)
        st = cm_fail(err, ST_UNPROCESSABLE, NULL, NULL, "community.photos_missing");
    if (st == ST_OK)
        st = cm_limit(c, "verify-submit", user_id, 86400 * 1000, VF_SUBMITS_DAY, err);
    if (st == ST_OK)
        st = user_dk(c, user_id, dk);
    if (st == ST_OK)
        st = crypto_field_seal(dk, user_id, VF_COL_NUMBER, num, strlen(num), &sealed, &slen);
    sodium_memzero(dk, sizeof dk);
    sodium_memzero(num, sizeof num);
    if (st == ST_OK)
        st = cm_exec(c, NULL,
                     "UPDATE identity_verifications SET id_type = ?, id_number_enc = ?, "
                     "id_number_bidx = ?, status = 'pending', submitted_at = ?, updated_at = ? "
                     "WHERE id = ?",
                     "tbbiii", id_type, sealed, slen, bidx, sizeof bidx, now, now, id);
    free(sealed);
    st = cm_finish(c, st);
    if (st != ST_OK)
        return st;
    return community_verification_mine(c, user_id, out);
}

/* The row columns both views read. */
#define VF_COLS                                                                                    \
    "v.id, v.user_id, v.id_type, v.id_number_enc, v.status, v.reason, v.submitted_at, "            \
    "v.reviewed_at, v.created_at, v.front_enc IS NOT NULL, v.back_enc IS NOT NULL"

/* An attempt as JSON with the number masked (opened with dk). */
static enum st attempt_json(struct db_stmt *s, const unsigned char dk[CRYPTO_DATAKEY_BYTES],
                            json_t **out)
{
    int64_t owner = db_col_int64(s, 1);
    json_t *masked = json_null();
    if (!db_col_is_null(s, 3)) {
        unsigned char *pt = NULL;
        size_t n = 0;
        enum st st = open_col(dk, owner, VF_COL_NUMBER, s, 3, &pt, &n);
        if (st != ST_OK)
            return st;
        char m[32];
        number_mask((const char *)pt, m, sizeof m);
        crypto_free_secret(pt, n);
        masked = json_string(m);
    }
    *out = json_pack("{s:I, s:o, s:o, s:o, s:o, s:b, s:b, s:o, s:o, s:I}", "id",
                     (json_int_t)db_col_int64(s, 0), "status", cm_col_str(s, 4), "id_type",
                     cm_col_str(s, 2), "id_number_masked", masked, "reason", cm_col_str(s, 5),
                     "front", db_col_int64(s, 9) != 0, "back", db_col_int64(s, 10) != 0,
                     "submitted_at", cm_col_int(s, 6), "reviewed_at", cm_col_int(s, 7),
                     "created_at", (json_int_t)db_col_int64(s, 8));
    return ST_OK;
}

enum st community_verification_mine(struct db_conn *c, int64_t user_id, json_t **out)
{
    struct db_stmt *s = NULL;
    bool row;
    unsigned char dk[CRYPTO_DATAKEY_BYTES];
    enum st st = user_dk(c, user_id, dk);
    /* The latest attempt says where the member stands. */
    if (st == ST_OK)
        st = cm_query(c, &s, &row,
                      "SELECT " VF_COLS " FROM identity_verifications v WHERE v.user_id = ? "
                      "ORDER BY (v.status = 'approved') DESC, v.id DESC LIMIT 1",
                      "i", user_id);
    json_t *latest = json_null();
    bool verified = false;
    if (st == ST_OK && row) {
        json_decref(latest);
        latest = NULL;
        st = attempt_json(s, dk, &latest);
        verified = strcmp(db_col_text(s, 4), "approved") == 0;
    }
    if (s)
        db_stmt_done(s);
    sodium_memzero(dk, sizeof dk);
    if (st != ST_OK) {
        json_decref(latest);
        return st;
    }
    *out = json_pack("{s:b, s:o}", "verified", verified, "latest", latest ? latest : json_null());
    return ST_OK;
}

enum st community_verified(struct db_conn *c, int64_t user_id, bool *yes)
{
    int64_t n = 0;
    enum st st = cm_query_int(c, &n,
                              "SELECT COUNT(*) FROM identity_verifications WHERE user_id = ? AND "
                              "status = 'approved'",
                              "i", user_id);
    *yes = st == ST_OK && n > 0;
    return st;
}

/* ---------------------------------------------------------------- staff */

static json_t *queue_row(struct db_stmt *s)
{
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:I}", "id", (json_int_t)db_col_int64(s, 0),
                     "user", cm_author_json(s, 1), "status", cm_col_str(s, 4), "id_type",
                     cm_col_str(s, 5), "submitted_at", cm_col_int(s, 6), "reviewed_at",
                     cm_col_int(s, 7), "created_at", (json_int_t)db_col_int64(s, 8));
}

enum st community_verifications(struct db_conn *c, const char *status, const char *cursor,
                                json_t **out, struct cm_error *err)
{
    status = status ? status : "pending";
    if (strcmp(status, "pending") != 0 && strcmp(status, "approved") != 0 &&
        strcmp(status, "rejected") != 0)
        return cm_fail(err, ST_INVALID, "status", "choice", NULL);
    int64_t after = 0;
    if (cursor && parse_int64(cursor, 1, INT64_MAX, &after) != ST_OK)
        return cm_fail(err, ST_INVALID, "cursor", "invalid", NULL);
    json_t *a = json_array();
    /* Oldest first: the queue is worked from its head. */
    enum st st = cm_rows(c, a, queue_row,
                         "SELECT v.id, u.id, u.display_name, u.username, v.status, v.id_type, "
                         "v.submitted_at, v.reviewed_at, v.created_at FROM "
                         "identity_verifications v JOIN users u ON u.id = v.user_id WHERE "
                         "v.status = ? AND v.id > ? ORDER BY v.id LIMIT ?",
                         "tii", status, after, (int64_t)CM_PAGE + 1);
    if (st != ST_OK) {
        json_decref(a);
        return st;
    }
    json_t *next = json_null();
    if (json_array_size(a) > CM_PAGE) {
        json_array_remove(a, CM_PAGE);
        char cur[24];
        snprintf(
            cur, sizeof cur, "%lld",
            (long long)json_integer_value(json_object_get(json_array_get(a, CM_PAGE - 1), "id")));
        next = json_string(cur);
    }
    *out = json_pack("{s:o, s:o}", "verifications", a, "next_cursor", next);
    return ST_OK;
}

/* Writes the staff member's read of fields of owner's data to the audit
 * log, in the caller's transaction. */
static enum st audit_read(struct db_conn *c, const struct cm_staff *who, int64_t owner, int64_t id,
                          const char *action, const char *fields, const char *reason)
{
    char detail[48];
    snprintf(detail, sizeof detail, "{\"verification\":%lld}", (long long)id);
    struct audit_entry e = {.actor_id = who->user_id,
                            .actor_role = who->role,
                            .action = action,
                            .subject_user_id = owner,
                            .fields = fields,
                            .reason = reason,
                            .detail = detail,
                            .ip = who->ip};
    return audit_append(c, &e, NULL);
}

/* Loads attempt id's row (VF_COLS) into *s; ST_NOTFOUND for none or a
 * draft (staff see only what was submitted). */
static enum st staff_row(struct db_conn *c, int64_t id, struct db_stmt **s)
{
    bool row;
    enum st st = cm_query(c, s, &row,
                          "SELECT " VF_COLS " FROM identity_verifications v WHERE v.id = ? AND "
                          "v.status <> 'draft'",
                          "i", id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    return st;
}

enum st community_verification_view(struct db_conn *c, const struct cm_staff *who, int64_t id,
                                    const char *reason, json_t **out)
{
    struct db_stmt *s = NULL;
    unsigned char dk[CRYPTO_DATAKEY_BYTES];
    json_t *o = NULL;
    int64_t owner = 0, same = 0;
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = staff_row(c, id, &s);
    if (st == ST_OK) {
        owner = db_col_int64(s, 1);
        st = user_dk(c, owner, dk);
    }
    if (st == ST_OK)
        st = attempt_json(s, dk, &o);
    sodium_memzero(dk, sizeof dk);
    if (s)
        db_stmt_done(s);
    /* Other accounts that sent the same document. */
    if (st == ST_OK)
        st = cm_query_int(c, &same,
                          "SELECT COUNT(DISTINCT w.user_id) FROM identity_verifications v JOIN "
                          "identity_verifications w ON w.id_number_bidx = v.id_number_bidx WHERE "
                          "v.id = ? AND w.user_id <> v.user_id",
                          "i", id);
    if (st == ST_OK)
        st = audit_read(c, who, owner, id, "staff.read_personal_data", "id_number_masked", reason);
    st = cm_finish(c, st);
    if (st != ST_OK) {
        json_decref(o);
        return st;
    }
    json_object_set_new(o, "user_id", json_integer(owner));
    json_object_set_new(o, "same_document_accounts", json_integer(same));
    *out = o;
    return ST_OK;
}

enum st community_verification_photo_view(struct db_conn *c, const struct cm_staff *who, int64_t id,
                                          const char *side, const char *reason,
                                          unsigned char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    bool front;
    if (!cm_either(side, "front", "back", &front))
        return ST_NOTFOUND;
    struct db_stmt *s = NULL;
    bool row;
    unsigned char dk[CRYPTO_DATAKEY_BYTES];
    int64_t owner = 0;
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = cm_query(c, &s, &row,
                  front ? "SELECT user_id, front_enc FROM identity_verifications WHERE id = ? AND "
                          "status <> 'draft' AND front_enc IS NOT NULL"
                        : "SELECT user_id, back_enc FROM identity_verifications WHERE id = ? AND "
                          "status <> 'draft' AND back_enc IS NOT NULL",
                  "i", id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        owner = db_col_int64(s, 0);
        st = user_dk(c, owner, dk);
    }
    if (st == ST_OK)
        st = open_col(dk, owner, front ? VF_COL_FRONT : VF_COL_BACK, s, 1, data, len);
    sodium_memzero(dk, sizeof dk);
    if (s)
        db_stmt_done(s);
    if (st == ST_OK)
        st = audit_read(c, who, owner, id, "staff.read_personal_data",
                        front ? "id_photo_front" : "id_photo_back", reason);
    st = cm_finish(c, st);
    if (st != ST_OK) {
        crypto_free_secret(*data, *len);
        *data = NULL;
        *len = 0;
    }
    return st;
}

enum st community_verification_decide(struct db_conn *c, const struct cm_staff *who, int64_t id,
                                      const char *decision, const char *reason,
                                      struct cm_error *err)
{
    bool approve;
    if (!cm_either(decision, "approve", "reject", &approve))
        return cm_fail(err, ST_INVALID, "decision", "choice", NULL);
    if (!approve && (!reason || !*reason))
        return cm_fail(err, ST_INVALID, "reason", "required", NULL);
    struct db_stmt *s = NULL;
    int64_t owner = 0, n = 0, now = clock_now_ms();
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = staff_row(c, id, &s);
    bool pending = false;
    if (st == ST_OK) {
        owner = db_col_int64(s, 1);
        pending = strcmp(db_col_text(s, 4), "pending") == 0;
    }
    if (s)
        db_stmt_done(s);
    if (st == ST_OK && !pending)
        st = cm_fail(err, ST_CONFLICT, NULL, NULL, "community.verification_decided");
    if (st == ST_OK)
        st = cm_exec(c, &n,
                     "UPDATE identity_verifications SET status = ?, reason = ?, reviewer_id = ?, "
                     "reviewed_at = ?, updated_at = ? WHERE id = ? AND status = 'pending'",
                     "ttiiii", approve ? "approved" : "rejected", approve ? NULL : reason,
                     who->user_id, now, now, id);
    if (st == ST_OK && n == 0)
        st = cm_fail(err, ST_CONFLICT, NULL, NULL, "community.verification_decided");
    if (st == ST_OK)
        st = audit_read(c, who, owner, id,
                        approve ? "staff.verification_approved" : "staff.verification_rejected",
                        NULL, reason);
    if (st == ST_OK) {
        json_t *params = json_pack("{s:s?}", "reason", approve ? NULL : reason);
        char ref[48];
        snprintf(ref, sizeof ref, "verification:%lld", (long long)id);
        st =
            privacy_inbox_add(c, owner, approve ? "verification.approved" : "verification.rejected",
                              params, ref, NULL);
        json_decref(params);
    }
    return cm_finish(c, st);
}
