/*
 * account.c — the signed-in user's own account: profile and what is public
 * of it, password, phone and e-mail changes (each after re-authentication
 * and with a notice), freezing, and the first administrator.
 *
 * Changes of phone and e-mail take two steps: re-authenticate and name the
 * new value (a code goes there), then prove it with the code. The new
 * value is checked for uniqueness only in the second step, so the first
 * step says nothing about other accounts.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts_int.h"

/* Profile fields a user may make public (besides display name and
 * username, which always are). */
static const char *const PUBLIC_CHOICES[] = {
    "gender", "signature", "company", "title", "department", "industry", "email", "avatar", NULL};
static const char *const TEXT_FIELDS[] = {"signature",  "company",  "title",
                                          "department", "industry", NULL};
static const char *const GENDERS[] = {"female", "male", "other", "undisclosed", NULL};

static bool in_list(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* ---------------------------------------------------------------- reading */

bool acc_field_public(const char *public_fields, const char *field)
{
    json_t *pf = public_fields ? json_loads(public_fields, 0, NULL) : NULL;
    bool found = false;
    size_t i;
    json_t *v;
    json_array_foreach(pf, i, v) found |=
        json_is_string(v) && strcmp(json_string_value(v), field) == 0;
    json_decref(pf);
    return found;
}

/* Where an avatar is served, with its tag in the URL so that the URL of a
 * picture never changes meaning (see accounts_avatar_get); null for none. */
static json_t *avatar_url(struct db_stmt *s, int col, const char *path)
{
    if (db_col_is_null(s, col))
        return json_null();
    char url[128];
    snprintf(url, sizeof url, "%s?v=%s", path, db_col_text(s, col));
    return json_string(url);
}

static json_t *col_text_or_null(struct db_stmt *s, int col)
{
    return db_col_is_null(s, col) ? json_null() : json_string(db_col_text(s, col));
}

enum st accounts_me(struct db_conn *c, int64_t user_id, json_t **out)
{
    *out = NULL;
    char *phone = NULL, *email = NULL;
    struct db_stmt *s;
    bool row;
    enum st st = acc_query(
        c, &s, &row,
        "SELECT id, account_type, status, username, display_name, password_hash, "
        "email_verified_at, gender, signature, company, title, department, industry, "
        "public_fields, lang, staff_roles, created_at, updated_at, totp_secret_enc, "
        "(SELECT tag FROM avatars WHERE user_id = u.id), " ACC_CONTACT_COLUMNS " FROM users u "
        "WHERE id = ?",
        "i", user_id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK)
        st = acc_contact_from_row(s, 20, user_id, &phone, &email);
    if (st == ST_OK) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(db_col_int64(s, 0)));
        json_object_set_new(o, "account_type", json_string(db_col_text(s, 1)));
        json_object_set_new(o, "status", json_string(db_col_text(s, 2)));
        json_object_set_new(o, "username", col_text_or_null(s, 3));
        json_object_set_new(o, "display_name", json_string(db_col_text(s, 4)));
        json_object_set_new(o, "has_password", json_boolean(!db_col_is_null(s, 5)));
        json_object_set_new(o, "phone", phone ? json_string(phone) : json_null());
        json_object_set_new(o, "email", email ? json_string(email) : json_null());
        json_object_set_new(o, "email_verified_at",
                            db_col_is_null(s, 6) ? json_null() : json_integer(db_col_int64(s, 6)));
        json_object_set_new(o, "gender", col_text_or_null(s, 7));
        for (int i = 0; TEXT_FIELDS[i]; i++)
            json_object_set_new(o, TEXT_FIELDS[i], col_text_or_null(s, 8 + i));
        json_t *pf = json_loads(db_col_text(s, 13), 0, NULL);
        json_object_set_new(o, "public_fields", json_is_array(pf) ? pf : json_array());
        if (!json_is_array(pf))
            json_decref(pf);
        json_object_set_new(o, "lang", col_text_or_null(s, 14));
        json_object_set_new(o, "staff_roles",
                            accounts_role_names((unsigned)db_col_int64(s, 15) & ACC_ROLES_ALL));
        json_object_set_new(o, "created_at", json_integer(db_col_int64(s, 16)));
        json_object_set_new(o, "updated_at", json_integer(db_col_int64(s, 17)));
        json_object_set_new(o, "totp_enrolled", json_boolean(!db_col_is_null(s, 18)));
        json_object_set_new(o, "avatar_url", avatar_url(s, 19, "/api/v1/me/avatar"));
        *out = o;
    }
    acc_done(s);
    free(phone);
    free(email);
    return st;
}

enum st accounts_session_user(struct db_conn *c, int64_t user_id, unsigned staff_roles,
                              json_t **out)
{
    *out = NULL;
    struct db_stmt *s;
    bool row;
    enum st st =
        acc_query(c, &s, &row, "SELECT id, display_name, username, lang FROM users WHERE id = ?",
                  "i", user_id);
    if (st == ST_OK && !row)
        st = ST_NOTFOUND;
    if (st == ST_OK) {
        json_t *o = json_pack("{s:I, s:s, s:o, s:o}", "id", (json_int_t)db_col_int64(s, 0),
                              "display_name", db_col_text(s, 1), "username", col_text_or_null(s, 2),
                              "lang", col_text_or_null(s, 3));
        if (staff_roles)
            json_object_set_new(o, "staff_roles", accounts_role_names(staff_roles & ACC_ROLES_ALL));
        *out = o;
    }
    acc_done(s);
    return st;
}

enum st accounts_public_profile(struct db_conn *c, int64_t user_id, json_t **out)
{
    *out = NULL;
    struct db_stmt *s;
    bool row;
    enum st st = acc_query(c, &s, &row,
                           "SELECT id, account_type, status, username, display_name, gender, "
                           "signature, company, title, department, industry, public_fields, "
                           "created_at, (SELECT tag FROM avatars WHERE user_id = u.id), "
                           "(SELECT COUNT(*) FROM identity_verifications v WHERE v.user_id = "
                           "u.id AND v.status = 'approved') FROM users u WHERE id = ?",
                           "i", user_id);
    if (st == ST_OK && (!row || strcmp(db_col_text(s, 2), "closed") == 0))
        st = ST_NOTFOUND;
    json_t *o = NULL;
    bool email_public = false;
    if (st == ST_OK) {
        o = json_object();
        json_object_set_new(o, "id", json_integer(db_col_int64(s, 0)));
        json_object_set_new(o, "account_type", json_string(db_col_text(s, 1)));
        json_object_set_new(o, "username", col_text_or_null(s, 3));
        json_object_set_new(o, "display_name", json_string(db_col_text(s, 4)));
        json_t *pf = json_loads(db_col_text(s, 11), 0, NULL);
        size_t i;
        json_t *v;
        json_array_foreach(pf, i, v)
        {
            const char *name = json_string_value(v);
            if (!name)
                continue;
            if (strcmp(name, "email") == 0) {
                email_public = true;
                continue;
            }
            if (strcmp(name, "avatar") == 0) {
                char path[64];
                snprintf(path, sizeof path, "/api/v1/users/%lld/avatar", (long long)user_id);
                if (!db_col_is_null(s, 13))
                    json_object_set_new(o, "avatar_url", avatar_url(s, 13, path));
                continue;
            }
            if (strcmp(name, "gender") == 0 && !db_col_is_null(s, 5))
                json_object_set_new(o, "gender", json_string(db_col_text(s, 5)));
            for (int k = 0; TEXT_FIELDS[k]; k++)
                if (strcmp(name, TEXT_FIELDS[k]) == 0 && !db_col_is_null(s, 6 + k))
                    json_object_set_new(o, name, json_string(db_col_text(s, 6 + k)));
        }
        json_decref(pf);
        json_object_set_new(o, "member_since", json_integer(db_col_int64(s, 12)));
        /* The real-name badge (src/community/verify.c): a yes, never the data. */
        json_object_set_new(o, "verified", json_boolean(db_col_int64(s, 14) != 0));
    }
    acc_done(s);
    if (st == ST_OK && email_public) {
        char *email = NULL;
        st = acc_user_contact(c, user_id, NULL, &email);
        if (st == ST_OK && email)
            json_object_set_new(o, "email", json_string(email));
        free(email);
    }
    if (st != ST_OK) {
        json_decref(o);
        return st;
    }
    *out = o;
    return ST_OK;
}

/* ---------------------------------------------------------------- profile */

enum st accounts_profile_update(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                                json_t *patch, struct acc_error *err)
{
    /* Check everything first: a PATCH applies whole or not at all. */
    json_t *v;
    char username[ACC_USERNAME_MAX + 1] = "";
    if ((v = json_object_get(patch, "username")) && !json_is_null(v) &&
        acc_username_norm(json_string_value(v), username) != ST_OK)
        return acc_fail(err, ST_INVALID, "username", "invalid_username", NULL);
    if ((v = json_object_get(patch, "gender")) && !json_is_null(v) &&
        !in_list(json_string_value(v), GENDERS))
        return acc_fail(err, ST_INVALID, "gender", "choice", NULL);
    if ((v = json_object_get(patch, "account_type")) &&
        !in_list(json_string_value(v), (const char *const[]){"individual", "enterprise", NULL}))
        return acc_fail(err, ST_INVALID, "account_type", "choice", NULL);
    const char *lang = NULL;
    if ((v = json_object_get(patch, "lang")) && !json_is_null(v)) {
        const char *l = json_string_value(v);
        lang = l ? i18n_match(l, strlen(l)) : NULL;
        if (!lang)
            return acc_fail(err, ST_INVALID, "lang", "choice", NULL);
    }
    char *public_fields = NULL;
    if ((v = json_object_get(patch, "public_fields"))) {
        json_t *clean = json_array();
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            const char *name = json_string_value(item);
            if (!in_list(name, PUBLIC_CHOICES)) {
                json_decref(clean);
                return acc_fail(err, ST_INVALID, "public_fields", "choice", NULL);
            }
            bool dup = false;
            size_t j;
            json_t *seen;
            json_array_foreach(clean, j, seen) dup |= strcmp(json_string_value(seen), name) == 0;
            if (!dup)
                json_array_append_new(clean, json_string(name));
        }
        public_fields = json_dumps(clean, JSON_COMPACT);
        json_decref(clean);
    }

    enum st st = acc_write_limit(c, user_id, "profile", ACC_PROFILE_PER_HOUR, err);
    if (st == ST_OK)
        st = db_begin(c);
    if (st != ST_OK) {
        free(public_fields);
        return st;
    }
    int64_t now = clock_now_ms();
    struct buf changed;
    buf_init(&changed, AUDIT_FIELDS_MAX);
    if ((v = json_object_get(patch, "username"))) {
        int64_t other = 0;
        if (username[0])
            st = acc_user_by_username(c, username, &other);
        if (st == ST_OK && other && other != user_id) {
            db_rollback(c);
            free(public_fields);
            buf_free(&changed);
            return acc_fail(err, ST_CONFLICT, "username", "taken", "accounts.username_taken");
        }
        if (st == ST_OK)
            st = acc_exec(c, NULL, "UPDATE users SET username = ? WHERE id = ?", "ti",
                          username[0] ? username : NULL, user_id);
        buf_puts(&changed, ",username");
    }
    if (st == ST_OK && (v = json_object_get(patch, "display_name"))) {
        st = acc_exec(c, NULL, "UPDATE users SET display_name = ? WHERE id = ?", "ti",
                      json_is_null(v) ? "" : json_string_value(v), user_id);
        buf_puts(&changed, ",display_name");
    }
    if (st == ST_OK && (v = json_object_get(patch, "gender"))) {
        st = acc_exec(c, NULL, "UPDATE users SET gender = ? WHERE id = ?", "ti",
                      json_string_value(v), user_id);
        buf_puts(&changed, ",gender");
    }
    static const char *const text_sql[] = {
        "UPDATE users SET signature = ? WHERE id = ?",
        "UPDATE users SET company = ? WHERE id = ?",
        "UPDATE users SET title = ? WHERE id = ?",
        "UPDATE users SET department = ? WHERE id = ?",
        "UPDATE users SET industry = ? WHERE id = ?",
    };
    for (int i = 0; st == ST_OK && TEXT_FIELDS[i]; i++) {
        if (!(v = json_object_get(patch, TEXT_FIELDS[i])))
            continue;
        const char *t = json_string_value(v);
        st = acc_exec(c, NULL, text_sql[i], "ti", t && *t ? t : NULL, user_id);
        buf_putc(&changed, ',');
        buf_puts(&changed, TEXT_FIELDS[i]);
    }
    if (st == ST_OK && (v = json_object_get(patch, "account_type"))) {
        st = acc_exec(c, NULL, "UPDATE users SET account_type = ? WHERE id = ?", "ti",
                      json_string_value(v), user_id);
        buf_puts(&changed, ",account_type");
    }
    if (st == ST_OK && json_object_get(patch, "lang")) {
        st = acc_exec(c, NULL, "UPDATE users SET lang = ? WHERE id = ?", "ti", lang, user_id);
        buf_puts(&changed, ",lang");
    }
    if (st == ST_OK && public_fields) {
        st = acc_exec(c, NULL, "UPDATE users SET public_fields = ? WHERE id = ?", "ti",
                      public_fields, user_id);
        buf_puts(&changed, ",public_fields");
    }
    if (st == ST_OK && changed.len) {
        st = acc_exec(c, NULL, "UPDATE users SET updated_at = ? WHERE id = ?", "ii", now, user_id);
        if (st == ST_OK) {
            struct audit_entry e = {.actor_id = user_id,
                                    .actor_role = "user",
                                    .action = "account.profile_updated",
                                    .subject_user_id = user_id,
                                    .fields = changed.data + 1,
                                    .ip = cl->ip};
            st = audit_append(c, &e, NULL);
        }
    }
    if (st == ST_CONFLICT)
        acc_fail(err, ST_CONFLICT, "username", "taken", "accounts.username_taken");
    free(public_fields);
    buf_free(&changed);
    return acc_finish(c, st);
}

/* ---------------------------------------------------------------- re-authentication */

enum st accounts_reauth(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                        const struct acc_reauth *ra, struct acc_error *err)
{
    if (ra->password) {
        struct acc_user u;
        enum st st = acc_user_load(c, user_id, &u);
        if (st != ST_OK)
            return st;
        unsigned char ka[CRYPTO_BLIND_BYTES], ki[CRYPTO_BLIND_BYTES];
        acc_pw_keys(user_id, NULL, cl->ip, ka, ki);
        st = acc_pw_throttled(c, ka, ki, err);
        if (st != ST_OK) {
            acc_user_free(&u);
            return st;
        }
        bool ok = u.password_hash ? password_verify(u.password_hash, ra->password)
                                  : password_verify_dummy(ra->password);
        acc_user_free(&u);
        st = db_begin(c);
        if (st != ST_OK)
            return st;
        if (ok) {
            st = acc_throttle_clear(c, ka);
        } else {
            st = acc_throttle_fail(c, ka);
            if (st == ST_OK)
                st = acc_throttle_fail(c, ki);
            if (st == ST_OK)
                st = acc_audit(c, cl, user_id, "user", "security.reauth_failed", user_id, NULL);
        }
        st = acc_finish(c, st);
        if (st != ST_OK)
            return st;
        return ok ? ST_OK
                  : acc_fail(err, ST_INVALID, "current_password", "incorrect",
                             "accounts.reauth_failed");
    }
    if (ra->attempt && ra->code) {
        enum st st = db_begin(c);
        if (st != ST_OK)
            return st;
        static const char *const purposes[] = {"reauth", NULL};
        struct acc_code_row row;
        st = acc_code_consume(c, purposes, ra->attempt, ra->code, NULL, &row);
        if (st == ST_OK && row.user_id != user_id)
            st = ST_UNAUTHORIZED;
        if (st == ST_UNAUTHORIZED) {
            enum st cs = db_commit(c);
            return cs != ST_OK ? cs
                               : acc_fail(err, ST_INVALID, "code", "code_invalid",
                                          "accounts.reauth_failed");
        }
        return acc_finish(c, st);
    }
    return acc_fail(err, ST_INVALID, "current_password", "reauth_required",
                    "accounts.reauth_required");
}

/* ---------------------------------------------------------------- password */

enum st accounts_password_change(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                                 int64_t session_id, const struct acc_reauth *ra,
                                 const char *new_password, struct acc_session *rotated,
                                 struct acc_error *err)
{
    memset(rotated, 0, sizeof *rotated);
    const char *reason = NULL;
    if (password_check_policy(new_password, &reason) != ST_OK) {
        if (err) {
            err->min = PASSWORD_MIN_CHARS;
            err->max = PASSWORD_MAX_CHARS;
        }
        return acc_fail(err, ST_INVALID, "new_password",
                        !reason                            ? "invalid"
                        : strcmp(reason, "common") == 0    ? "password_common"
                        : strcmp(reason, "too_short") == 0 ? "too_short"
                        : strcmp(reason, "too_long") == 0  ? "too_long"
                                                           : "utf8",
                        NULL);
    }
    enum st st = accounts_reauth(c, cl, user_id, ra, err);
    if (st != ST_OK)
        return st;
    char hash[PASSWORD_HASH_BYTES];
    st = password_hash(new_password, hash);
    if (st != ST_OK)
        return st;
    st = db_begin(c);
    if (st != ST_OK)
        return st;
    /* The current session continues under a new token. */
    struct db_stmt *s;
    bool row, bearer = false, remember = false;
    int64_t device_id = 0;
    st = acc_query(c, &s, &row, "SELECT kind, remember, device_id FROM sessions WHERE id = ?", "i",
                   session_id);
    if (st == ST_OK && row) {
        bearer = strcmp(db_col_text(s, 0), "bearer") == 0;
        remember = db_col_int64(s, 1) != 0;
        device_id = db_col_is_null(s, 2) ? 0 : db_col_int64(s, 2);
    }
    acc_done(s);
    if (st == ST_OK)
        st = acc_exec(c, NULL, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
                      "tii", hash, clock_now_ms(), user_id);
    if (st == ST_OK)
        st = acc_sessions_revoke_all(c, user_id, 0);
    if (st == ST_OK)
        st = acc_session_new(c, cl, user_id, bearer, remember, false, device_id, rotated);
    if (st == ST_OK)
        st = acc_audit(c, cl, user_id, "user", "security.password_changed", user_id, NULL);
    if (st == ST_OK)
        st = acc_notice(c, cl, user_id, "msg.notice.password_changed");
    sodium_memzero(hash, sizeof hash);
    st = acc_finish(c, st);
    acc_session_cache_forget(user_id, 0);
    if (st == ST_OK)
        notify_worker_wake();
    return st;
}

/* ---------------------------------------------------------------- phone and e-mail */

static enum st contact_start(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                             const struct acc_reauth *ra, bool email, const char *value,
                             char attempt[CRYPTO_TOKEN_CHARS + 1], struct acc_error *err)
{
    char norm[256];
    if (email ? acc_email_norm(value, norm) != ST_OK : acc_phone_norm(value, norm) != ST_OK)
        return acc_fail(err, ST_INVALID, email ? "email" : "phone",
                        email ? "invalid_email" : "invalid_phone", NULL);
    enum st st = accounts_reauth(c, cl, user_id, ra, err);
    if (st != ST_OK)
        return st;
    unsigned char bidx[CRYPTO_BLIND_BYTES];
    st = acc_bidx(email ? "email" : "phone", norm, bidx);
    if (st == ST_OK)
        st = db_begin(c);
    if (st != ST_OK)
        return st;
    st = acc_code_limits(c, cl, bidx, err);
    if (st == ST_OK)
        st = acc_code_issue(c, cl, email ? "email_change" : "phone_change", bidx,
                            email ? "email" : "sms", user_id, norm,
                            email ? "msg.code.email_change" : "msg.code.phone_change", attempt);
    st = acc_finish(c, st);
    if (st == ST_OK)
        notify_worker_wake();
    return st;
}

static enum st contact_verify(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                              bool email, const char *value, const char *attempt, const char *code,
                              struct acc_error *err)
{
    const char *field = email ? "email" : "phone";
    char norm[256];
    if (email ? acc_email_norm(value, norm) != ST_OK : acc_phone_norm(value, norm) != ST_OK)
        return acc_fail(err, ST_INVALID, field, email ? "invalid_email" : "invalid_phone", NULL);
    unsigned char bidx[CRYPTO_BLIND_BYTES];
    enum st st = acc_bidx(field, norm, bidx);
    if (st == ST_OK)
        st = db_begin(c);
    if (st != ST_OK)
        return st;
    const char *purposes[] = {email ? "email_change" : "phone_change", NULL};
    struct acc_code_row row;
    st = acc_code_consume(c, purposes, attempt, code, bidx, &row);
    if (st == ST_OK && row.user_id != user_id)
        st = ST_UNAUTHORIZED;
    if (st == ST_UNAUTHORIZED) {
        enum st cs = db_commit(c);
        return cs != ST_OK ? cs
                           : acc_fail(err, ST_UNAUTHORIZED, NULL, NULL, "accounts.code_invalid");
    }
    int64_t other = 0;
    if (st == ST_OK)
        st = acc_user_by_bidx(c, email, bidx, &other);
    if (st == ST_OK && other) {
        db_rollback(c);
        if (other == user_id)
            return ST_OK; /* already theirs: nothing to change */
        return acc_fail(err, ST_CONFLICT, field, "taken",
                        email ? "accounts.email_taken" : "accounts.phone_taken");
    }
    /* Tell the old address first, then switch. */
    if (st == ST_OK)
        st = acc_notice(c, cl, user_id,
                        email ? "msg.notice.email_changed" : "msg.notice.phone_changed");
    unsigned char dk[CRYPTO_DATAKEY_BYTES];
    unsigned char *sealed = NULL;
    size_t slen = 0;
    if (st == ST_OK)
        st = acc_user_dk(c, user_id, dk);
    if (st == ST_OK) {
        st = acc_seal(dk, user_id, email ? "users.email" : "users.phone", norm, &sealed, &slen);
        sodium_memzero(dk, sizeof dk);
    }
    int64_t now = clock_now_ms();
    if (st == ST_OK)
        st = email ? acc_exec(c, NULL,
                              "UPDATE users SET email_enc = ?, email_bidx = ?, "
                              "email_verified_at = ?, updated_at = ? WHERE id = ?",
                              "bbiii", sealed, slen, bidx, sizeof bidx, now, now, user_id)
                   : acc_exec(c, NULL,
                              "UPDATE users SET phone_enc = ?, phone_bidx = ?, updated_at = ? "
                              "WHERE id = ?",
                              "bbii", sealed, slen, bidx, sizeof bidx, now, user_id);
    free(sealed);
    if (st == ST_OK) {
        struct audit_entry e = {.actor_id = user_id,
                                .actor_role = "user",
                                .action =
                                    email ? "security.email_changed" : "security.phone_changed",
                                .subject_user_id = user_id,
                                .fields = field,
                                .ip = cl->ip};
        st = audit_append(c, &e, NULL);
    }
    if (st == ST_CONFLICT) {
        db_rollback(c);
        return acc_fail(err, ST_CONFLICT, field, "taken",
                        email ? "accounts.email_taken" : "accounts.phone_taken");
    }
    st = acc_finish(c, st);
    if (st == ST_OK)
        notify_worker_wake();
    return st;
}

enum st accounts_email_start(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                             const struct acc_reauth *ra, const char *email,
                             char attempt[CRYPTO_TOKEN_CHARS + 1], struct acc_error *err)
{
    return contact_start(c, cl, user_id, ra, true, email, attempt, err);
}

enum st accounts_email_verify(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                              const char *email, const char *attempt, const char *code,
                              struct acc_error *err)
{
    return contact_verify(c, cl, user_id, true, email, attempt, code, err);
}

enum st accounts_phone_start(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                             const struct acc_reauth *ra, const char *phone,
                             char attempt[CRYPTO_TOKEN_CHARS + 1], struct acc_error *err)
{
    return contact_start(c, cl, user_id, ra, false, phone, attempt, err);
}

enum st accounts_phone_verify(struct db_conn *c, const struct acc_client *cl, int64_t user_id,
                              const char *phone, const char *attempt, const char *code,
                              struct acc_error *err)
{
    return contact_verify(c, cl, user_id, false, phone, attempt, code, err);
}

/* ---------------------------------------------------------------- freezing */

enum st accounts_freeze(struct db_conn *c, const struct acc_client *cl, int64_t user_id)
{
    enum st st = db_begin(c);
    if (st != ST_OK)
        return st;
    int64_t n = 0;
    st = acc_exec(c, &n,
                  "UPDATE users SET status = 'frozen', updated_at = ? WHERE id = ? AND "
                  "status = 'active'",
                  "ii", clock_now_ms(), user_id);
    if (st == ST_OK)
        st = acc_sessions_revoke_all(c, user_id, 0);
    if (st == ST_OK && n == 1)
        st = acc_audit(c, cl, user_id, "user", "security.account_frozen", user_id, NULL);
    if (st == ST_OK && n == 1)
        st = acc_notice(c, cl, user_id, "msg.notice.frozen");
    st = acc_finish(c, st);
    acc_session_cache_forget(user_id, 0);
    if (st == ST_OK)
        notify_worker_wake();
    return st;
}

/* ---------------------------------------------------------------- administrators */

enum st accounts_create_admin(struct db_conn *c, const char *phone, const char *password,
                              const char *display_name, int64_t *user_id,
                              char secret[TOTP_SECRET_CHARS + 1], struct acc_error *err)
{
    *user_id = 0;
    secret[0] = '\0';
    char norm[24];
    if (acc_phone_norm(phone, norm) != ST_OK)
        return acc_fail(err, ST_INVALID, "phone", "invalid_phone", NULL);
    const char *reason = NULL;
    if (password_check_policy(password, &reason) != ST_OK)
        return acc_fail(err, ST_INVALID, "password", reason ? reason : "invalid", NULL);
    unsigned char bidx[CRYPTO_BLIND_BYTES];
    char hash[PASSWORD_HASH_BYTES];
    enum st st = acc_bidx("phone", norm, bidx);
    if (st == ST_OK)
        st = password_hash(password, hash);
    if (st == ST_OK)
        st = totp_secret_new(secret, TOTP_SECRET_CHARS + 1);
    if (st == ST_OK)
        st = db_begin(c);
    if (st != ST_OK)
        return st;
    int64_t other = 0;
    st = acc_user_by_bidx(c, false, bidx, &other);
    if (st == ST_OK && other) {
        db_rollback(c);
        sodium_memzero(secret, TOTP_SECRET_CHARS + 1);
        return acc_fail(err, ST_CONFLICT, "phone", "taken", "accounts.phone_taken");
    }
    int64_t now = clock_now_ms(), uid = 0;
    if (st == ST_OK)
        st = acc_query_int(c, &uid,
                           "INSERT INTO users (account_type, status, display_name, password_hash, "
                           "phone_bidx, staff_roles, created_at, updated_at) VALUES "
                           "('individual', 'active', ?, ?, ?, ?, ?, ?) RETURNING id",
                           "ttbiii", display_name ? display_name : "", hash, bidx, sizeof bidx,
                           (int64_t)ACC_ROLE_ADMIN, now, now);
    unsigned char dk[CRYPTO_DATAKEY_BYTES];
    unsigned char *wrapped = NULL, *sp = NULL, *ss = NULL;
    size_t wlen = 0, splen = 0, sslen = 0;
    if (st == ST_OK)
        st = crypto_datakey_new(uid, dk, &wrapped, &wlen);
    if (st == ST_OK)
        st = acc_exec(c, NULL, "INSERT INTO user_keys (user_id, wrapped_key) VALUES (?, ?)", "ib",
                      uid, wrapped, wlen);
    if (st == ST_OK)
        st = acc_seal(dk, uid, "users.phone", norm, &sp, &splen);
    if (st == ST_OK)
        st = acc_seal(dk, uid, "users.totp_secret", secret, &ss, &sslen);
    if (st == ST_OK)
        st = acc_exec(c, NULL, "UPDATE users SET phone_enc = ?, totp_secret_enc = ? WHERE id = ?",
                      "bbi", sp, splen, ss, sslen, uid);
    sodium_memzero(dk, sizeof dk);
    sodium_memzero(hash, sizeof hash);
    free(wrapped);
    free(sp);
    free(ss);
    if (st == ST_OK) {
        struct audit_entry e = {.actor_id = 0,
                                .actor_role = "system",
                                .action = "staff.admin_created",
                                .subject_user_id = uid,
                                .detail = "{\"roles\":[\"administrator\"]}"};
        st = audit_append(c, &e, NULL);
    }
    st = acc_finish(c, st);
    if (st == ST_OK)
        *user_id = uid;
    else
        sodium_memzero(secret, TOTP_SECRET_CHARS + 1);
    return st;
}
