/*
 * accounts_api.c — the accounts module over HTTP (/api/v1/auth, /me, /staff,
 * /users): the route table, the authenticator the HTTP layer calls on every
 * request, and the cookies.
 *
 * Cookie names. Browsers accept a `__Host-` cookie only with Secure, and
 * Secure cookies only over HTTPS (Chrome excepts http://localhost, not
 * 127.0.0.1). So under TLS the session cookie is `__Host-entrepot_session`
 * (Secure, Path=/, no Domain: bound to this exact origin), and over plain
 * HTTP — development, or a proxy that terminates TLS without telling us —
 * it is `entrepot_session`. The same goes for the device cookie. Each
 * server reads only the name of its own mode, so a cookie set over HTTP is
 * never taken for a `__Host-` one.
 *
 * Apps send `"client": "app"` at sign-in and get the token in the JSON
 * answer instead of a cookie; they present it as `Authorization: Bearer`,
 * which needs no CSRF token, and keep their device id in X-Device-Token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "accounts.h"
#include "audit/audit.h"
#include "http/http.h"
#include "notify/notify.h"

_Static_assert(ACC_ROLE_SUPPORT == STAFF_SUPPORT && ACC_ROLE_OPERATIONS == STAFF_OPERATIONS &&
                   ACC_ROLE_COMPLIANCE == STAFF_COMPLIANCE && ACC_ROLE_ADMIN == STAFF_ADMIN,
               "role bits agree");

#define DEVICE_COOKIE_AGE_S (400LL * 86400) /* the longest browsers keep a cookie */

static const char *session_cookie(const struct http_req *req)
{
    return http_req_tls(req) ? "__Host-entrepot_session" : "entrepot_session";
}

static const char *device_cookie(const struct http_req *req)
{
    return http_req_tls(req) ? "__Host-entrepot_device" : "entrepot_device";
}

/* The token this request was authenticated with (bearer or cookie). */
static const char *presented_token(struct http_req *req, bool *bearer)
{
    const char *auth = http_req_header(req, "Authorization");
    *bearer = false;
    if (auth) {
        if (strncasecmp(auth, "Bearer ", 7) != 0)
            return NULL;
        auth += 7;
        while (*auth == ' ')
            auth++;
        *bearer = true;
        return auth;
    }
    return http_req_cookie(req, session_cookie(req));
}

static enum st authenticate(struct http_req *req, struct http_identity *out)
{
    memset(out, 0, sizeof *out);
    bool bearer;
    const char *token = presented_token(req, &bearer);
    if (!token) {
        /* An Authorization header of another scheme is an error, not anonymity. */
        return http_req_header(req, "Authorization") ? ST_UNAUTHORIZED : ST_OK;
    }
    struct acc_identity id;
    enum st st = accounts_session_cached(token, bearer, &id);
    if (st == ST_NOTFOUND) {
        struct db_conn *c;
        if (http_req_db(req, &c) != ST_OK)
            return ST_UNAVAILABLE;
        st = accounts_session_check(c, token, bearer, &id);
    }
    if (st == ST_UNAUTHORIZED)
        return st;
    if (st != ST_OK)
        return ST_UNAVAILABLE;
    out->user_id = id.user_id;
    out->session_id = id.session_id;
    out->staff_roles = id.staff_roles;
    out->via_cookie = !bearer;
    const char *m = http_req_method(req);
    if (!bearer && strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0)
        out->csrf_ok = accounts_csrf_ok(token, http_req_header(req, "X-CSRF-Token"));
    return ST_OK;
}

/* ---------------------------------------------------------------- helpers */

/* What every handler starts from: the caller, a database connection, the
 * client's description and room for the domain's explanation of a failure.
 * Sign-in handlers also get a device id (made for a client without one). */
struct call {
    const struct http_identity *id;
    struct db_conn *c;
    struct acc_client cl;
    struct acc_error e;
    char device[CRYPTO_TOKEN_CHARS + 1];
    bool device_new;
    bool app;
    bool remember;
};

static const char *body_str(struct http_req *req, const char *name)
{
    return json_string_value(json_object_get(http_req_body(req), name));
}

/* The prologue of every handler: fills k and borrows the connection. */
static enum st call_begin(struct http_req *req, struct call *k)
{
    memset(k, 0, sizeof *k);
    k->id = http_req_identity(req);
    k->cl.ip = http_req_client_ip(req);
    k->cl.user_agent = http_req_header(req, "User-Agent");
    k->cl.lang = http_req_lang(req);
    return http_req_db(req, &k->c);
}

/* The prologue of a sign-in: also the client kind (web or app), remember-me
 * and the device id the client presented (cookie or X-Device-Token). */
static enum st signin_begin(struct http_req *req, struct call *k)
{
    enum st st = call_begin(req, k);
    if (st != ST_OK)
        return st;
    const char *client = body_str(req, "client");
    if (client && strcmp(client, "app") != 0 && strcmp(client, "web") != 0)
        return http_field_error(req, "client", "choice", 0, 0, NULL);
    k->app = client && strcmp(client, "app") == 0;
    k->remember = json_is_true(json_object_get(http_req_body(req), "remember"));
    const char *dev =
        k->app ? http_req_header(req, "X-Device-Token") : http_req_cookie(req, device_cookie(req));
    if (dev && crypto_token_parse_ok(dev)) {
        snprintf(k->device, sizeof k->device, "%s", dev);
    } else {
        if (crypto_token_new(k->device) != ST_OK)
            return ST_INTERNAL;
        k->device_new = true;
    }
    k->cl.device = k->device;
    return ST_OK;
}

/* 429 with Retry-After. The layer drops headers of failed handlers, so
 * this answer is built here, in the layer's problem format. */
static enum st rate_limited(struct http_req *req, struct http_resp *resp, int64_t retry_ms,
                            const char *detail_key)
{
    int64_t secs = (retry_ms + 999) / 1000;
    if (secs < 1)
        secs = 1;
    char s[24];
    snprintf(s, sizeof s, "%lld", (long long)secs);
    const char *lang = http_req_lang(req);
    char *detail = i18n_format(lang, detail_key ? detail_key : "accounts.throttled", "seconds", s,
                               (const char *)NULL);
    const char *path = http_req_path(req);
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:I}", "type",
                          "urn:entrepot:problem:rate-limited", "title",
                          i18n_get(lang, "problem.rate-limited.title"), "status", 429, "detail",
                          detail, "instance", utf8_valid(path, strlen(path)) ? path : "/",
                          "request_id", http_req_id(req), "retry_after_s", (json_int_t)secs);
    free(detail);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return ST_INTERNAL;
    http_resp_bytes(resp, 429, "application/problem+json", text, strlen(text));
    free(text);
    http_resp_header(resp, "Retry-After", s);
    http_resp_header(resp, "Content-Language", lang);
    return ST_OK;
}

/* Turns a domain failure into the problem the layer will send. */
static enum st fail(struct http_req *req, struct http_resp *resp, enum st st,
                    const struct acc_error *e)
{
    if (st == ST_RATELIMIT)
        return rate_limited(req, resp, e->retry_after_ms, e->detail);
    if (e->field && e->code)
        http_field_error(req, e->field, e->code, e->min, e->max, NULL);
    if (e->detail)
        http_req_set_detail(req, i18n_get(http_req_lang(req), e->detail));
    return st;
}

/* The end of most handlers: a JSON answer (stolen) when st is ST_OK, else
 * the problem for st (o is then NULL or dropped). */
static enum st answer(struct http_req *req, struct http_resp *resp, const struct call *k,
                      enum st st, unsigned status, json_t *o)
{
    if (st != ST_OK) {
        json_decref(o);
        return fail(req, resp, st, &k->e);
    }
    return o ? http_resp_json(resp, status, o) : ST_OK; /* no object: 204 */
}

static void set_device_cookie(struct http_req *req, struct http_resp *resp, const struct call *k)
{
    if (k->device_new && !k->app)
        http_resp_cookie(req, resp, device_cookie(req), k->device, DEVICE_COOKIE_AGE_S);
}

/* The answer of a completed sign-in: cookie (web) or token (app). k is
 * NULL when no new device can be involved (password change). */
static enum st signed_in(struct http_req *req, struct http_resp *resp, struct db_conn *c,
                         const struct acc_session *s, const struct call *k, unsigned status)
{
    json_t *me = NULL;
    const struct http_identity *id = http_req_identity(req);
    enum st st = ST_OK;
    if (id->via_cookie && id->session_id && id->session_id != s->id)
        st = accounts_session_replaced(c, id->session_id);
    if (st != ST_OK)
        return st;
    /* The sign-in is committed: from here on a failure must not turn into
     * an error answer, or the client loses the token of a session that
     * exists (and the code it spent). A profile that cannot be read is
     * read again once, then answered with the id alone. */
    if (accounts_me(c, s->user_id, &me) != ST_OK && accounts_me(c, s->user_id, &me) != ST_OK) {
        log_warnf("accounts: signed in, but the profile could not be read for the answer");
        me = json_pack("{s:I}", "id", (json_int_t)s->user_id);
    }
    json_t *o = json_pack("{s:s, s:o, s:{s:I, s:s, s:b, s:b, s:I, s:I}}", "status", "signed_in",
                          "user", me, "session", "id", (json_int_t)s->id, "kind",
                          s->bearer ? "bearer" : "cookie", "remember", s->remember, "staff",
                          s->staff, "expires_at", (json_int_t)s->expires_at, "idle_timeout_s",
                          (json_int_t)(s->idle_timeout_ms / 1000));
    if (s->bearer) {
        json_object_set_new(o, "token", json_string(s->token));
        if (k && k->device_new)
            json_object_set_new(o, "device_token", json_string(k->device));
    } else {
        json_object_set_new(o, "csrf_token", json_string(s->csrf));
        int64_t age = s->remember ? (s->expires_at - clock_now_ms()) / 1000 : -1;
        http_resp_cookie(req, resp, session_cookie(req), s->token, age);
        if (k)
            set_device_cookie(req, resp, k);
    }
    return http_resp_json(resp, status, o);
}

/* The end of a sign-in step: signed in, or a code is on its way. */
static enum st login_answer(struct http_req *req, struct http_resp *resp, const struct call *k,
                            enum st st, const struct acc_login *l, unsigned status)
{
    if (st != ST_OK)
        return fail(req, resp, st, &k->e);
    if (l->done)
        return signed_in(req, resp, k->c, &l->session, k, status);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:i}", "status", "code_required", "attempt", l->attempt,
                  "channel", "sms", "sent_to", l->sent_to, "expires_in_s", ACC_OTP_TTL_MS / 1000);
    if (k->app && k->device_new)
        json_object_set_new(o, "device_token", json_string(k->device));
    set_device_cookie(req, resp, k);
    return http_resp_json(resp, 202, o);
}

static enum st parse_id(struct http_req *req, int64_t *id)
{
    const char *s = http_req_param(req, "id");
    return s && parse_int64(s, 1, INT64_MAX, id) == ST_OK ? ST_OK : ST_NOTFOUND;
}

static void reauth_of(struct http_req *req, struct acc_reauth *ra)
{
    ra->password = body_str(req, "current_password");
    ra->attempt = body_str(req, "attempt");
    ra->code = body_str(req, "code");
}

static void clear_session_cookie(struct http_req *req, struct http_resp *resp)
{
    if (http_req_identity(req)->via_cookie)
        http_resp_cookie(req, resp, session_cookie(req), "", 0);
}

static json_t *attempt_json(const char *attempt, const char *purpose, const char *channel)
{
    json_t *o = json_pack("{s:s, s:s, s:i}", "attempt", attempt, "channel", channel, "expires_in_s",
                          ACC_OTP_TTL_MS / 1000);
    if (purpose)
        json_object_set_new(o, "purpose", json_string(purpose));
    return o;
}

/* ---------------------------------------------------------------- sign-in handlers */

static enum st h_codes(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    char attempt[CRYPTO_TOKEN_CHARS + 1];
    enum st st = signin_begin(req, &k);
    if (st == ST_OK)
        st = accounts_code_request(k.c, &k.cl, body_str(req, "purpose"), body_str(req, "phone"),
                                   body_str(req, "email"), attempt, &k.e);
    return answer(
        req, resp, &k, st, 202,
        st == ST_OK ? attempt_json(attempt, NULL, body_str(req, "email") ? "email" : "sms") : NULL);
}

static enum st h_register(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    struct acc_login l = {0};
    enum st st = signin_begin(req, &k);
    if (st == ST_OK) {
        struct acc_register r = {
            .phone = body_str(req, "phone"),
            .attempt = body_str(req, "attempt"),
            .code = body_str(req, "code"),
            .account_type = body_str(req, "account_type"),
            .display_name = body_str(req, "display_name"),
            .username = body_str(req, "username"),
            .password = body_str(req, "password"),
            .lang = body_str(req, "lang"),
            .remember = k.remember,
            .bearer = k.app,
        };
        st = accounts_register(k.c, &k.cl, &r, &l, &k.e);
    }
    return login_answer(req, resp, &k, st, &l, l.existing ? 200 : 201);
}

static enum st h_login(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    struct acc_login l;
    enum st st = signin_begin(req, &k);
    if (st == ST_OK)
        st = accounts_login_password(k.c, &k.cl, body_str(req, "login"), body_str(req, "password"),
                                     k.remember, k.app, &l, &k.e);
    return login_answer(req, resp, &k, st, &l, 200);
}

static enum st h_login_verify(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    struct acc_login l;
    enum st st = signin_begin(req, &k);
    if (st == ST_OK)
        st = accounts_login_verify(k.c, &k.cl, body_str(req, "attempt"), body_str(req, "code"),
                                   k.remember, k.app, &l, &k.e);
    return login_answer(req, resp, &k, st, &l, 200);
}

static enum st h_unfreeze(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    struct acc_login l;
    enum st st = signin_begin(req, &k);
    if (st == ST_OK)
        st = accounts_unfreeze(k.c, &k.cl, body_str(req, "attempt"), body_str(req, "code"),
                               k.remember, k.app, &l, &k.e);
    return login_answer(req, resp, &k, st, &l, 200);
}

static enum st h_reset(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = signin_begin(req, &k);
    if (st == ST_OK)
        st = accounts_password_reset(k.c, &k.cl, body_str(req, "attempt"), body_str(req, "code"),
                                     body_str(req, "new_password"), &k.e);
    return answer(req, resp, &k, st, 200,
                  st == ST_OK ? json_pack("{s:s}", "status", "password_reset") : NULL);
}

static enum st h_staff_login(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    struct acc_login l;
    enum st st = signin_begin(req, &k);
    if (st == ST_OK)
        st = accounts_staff_login(k.c, &k.cl, body_str(req, "login"), body_str(req, "password"),
                                  body_str(req, "totp"), k.app, &l, &k.e);
    return login_answer(req, resp, &k, st, &l, 200);
}

/* ---------------------------------------------------------------- signed-in handlers */

static enum st h_logout(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = accounts_logout(k.c, &k.cl, k.id->user_id, k.id->session_id);
    if (st == ST_OK)
        clear_session_cookie(req, resp);
    return answer(req, resp, &k, st, 204, NULL);
}

static enum st h_logout_all(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = accounts_logout_all(k.c, &k.cl, k.id->user_id);
    if (st == ST_OK)
        clear_session_cookie(req, resp);
    return answer(req, resp, &k, st, 204, NULL);
}

/* Adds the caller's session id and, for a cookie session, its CSRF token
 * (the page's only way to learn it after a reload) to o. */
static void add_session_fields(struct http_req *req, json_t *o)
{
    const struct http_identity *id = http_req_identity(req);
    if (id->via_cookie) {
        bool bearer;
        char csrf[ACC_CSRF_CHARS + 1];
        accounts_csrf_token(presented_token(req, &bearer), csrf);
        json_object_set_new(o, "csrf_token", json_string(csrf));
    }
    json_object_set_new(o, "session_id", json_integer(id->session_id));
}

static enum st h_me(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    json_t *me = NULL;
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = accounts_me(k.c, k.id->user_id, &me);
    if (st == ST_OK)
        add_session_fields(req, me);
    return answer(req, resp, &k, st, 200, me);
}

static enum st h_me_patch(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = accounts_profile_update(k.c, &k.cl, k.id->user_id, http_req_body(req), &k.e);
    if (st != ST_OK)
        return fail(req, resp, st, &k.e);
    /* The edit is committed: answer it even if the profile cannot be read
     * back (read again once, then 204: done, nothing to show). */
    if (h_me(req, resp) == ST_OK || h_me(req, resp) == ST_OK)
        return ST_OK;
    log_warnf("accounts: profile saved, but could not be read back for the answer");
    return ST_OK;
}

static enum st h_sessions(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    json_t *a = NULL;
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = accounts_sessions_list(k.c, k.id->user_id, k.id->session_id, &a);
    return answer(req, resp, &k, st, 200, st == ST_OK ? json_pack("{s:o}", "sessions", a) : NULL);
}

static enum st h_session_delete(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    int64_t sid;
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = parse_id(req, &sid);
    if (st == ST_OK)
        st = accounts_session_revoke(k.c, &k.cl, k.id->user_id, sid);
    if (st == ST_OK && sid == k.id->session_id)
        clear_session_cookie(req, resp);
    return answer(req, resp, &k, st, 204, NULL);
}

static enum st h_devices(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    json_t *a = NULL;
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = accounts_devices_list(k.c, k.id->user_id, &a);
    return answer(req, resp, &k, st, 200, st == ST_OK ? json_pack("{s:o}", "devices", a) : NULL);
}

static enum st h_device_delete(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    int64_t did;
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = parse_id(req, &did);
    if (st == ST_OK)
        st = accounts_device_forget(k.c, &k.cl, k.id->user_id, did);
    return answer(req, resp, &k, st, 204, NULL);
}

static enum st h_security_log(struct http_req *req, struct http_resp *resp)
{
    const struct http_identity *id = http_req_identity(req);
    int64_t before = 0, limit = 50;
    const char *b = http_req_query(req, "before");
    const char *l = http_req_query(req, "limit");
    if (b)
        parse_int64(b, 1, INT64_MAX, &before); /* validated by the layer */
    if (l)
        parse_int64(l, 1, AUDIT_LIST_MAX, &limit);
    json_t *a = NULL;
    int64_t next = 0;
    enum st st =
        audit_list(http_req_database(req), id->user_id, before, (int)limit, false, &a, &next);
    if (st != ST_OK)
        return st;
    return http_resp_json(resp, 200,
                          json_pack("{s:o, s:o}", "entries", a, "next_before",
                                    next ? json_integer(next) : json_null()));
}

static enum st h_me_codes(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    char attempt[CRYPTO_TOKEN_CHARS + 1];
    const char *channel = body_str(req, "channel");
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = accounts_me_code_request(k.c, &k.cl, k.id->user_id, channel, attempt, &k.e);
    return answer(req, resp, &k, st, 202,
                  st == ST_OK ? attempt_json(attempt, "reauth", channel ? channel : "sms") : NULL);
}

static enum st h_password(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    struct acc_reauth ra;
    struct acc_session s;
    reauth_of(req, &ra);
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = accounts_password_change(k.c, &k.cl, k.id->user_id, k.id->session_id, &ra,
                                      body_str(req, "new_password"), &s, &k.e);
    return st == ST_OK ? signed_in(req, resp, k.c, &s, NULL, 200) : fail(req, resp, st, &k.e);
}

static enum st contact_start(struct http_req *req, struct http_resp *resp, bool email)
{
    struct call k;
    struct acc_reauth ra;
    char attempt[CRYPTO_TOKEN_CHARS + 1];
    reauth_of(req, &ra);
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = email ? accounts_email_start(k.c, &k.cl, k.id->user_id, &ra, body_str(req, "email"),
                                          attempt, &k.e)
                   : accounts_phone_start(k.c, &k.cl, k.id->user_id, &ra, body_str(req, "phone"),
                                          attempt, &k.e);
    return answer(req, resp, &k, st, 202,
                  st == ST_OK ? attempt_json(attempt, NULL, email ? "email" : "sms") : NULL);
}

static enum st contact_verify(struct http_req *req, struct http_resp *resp, bool email)
{
    struct call k;
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = email ? accounts_email_verify(k.c, &k.cl, k.id->user_id, body_str(req, "email"),
                                           body_str(req, "attempt"), body_str(req, "code"), &k.e)
                   : accounts_phone_verify(k.c, &k.cl, k.id->user_id, body_str(req, "phone"),
                                           body_str(req, "attempt"), body_str(req, "code"), &k.e);
    return st == ST_OK ? h_me(req, resp) : fail(req, resp, st, &k.e);
}

static enum st h_email(struct http_req *req, struct http_resp *resp)
{
    return contact_start(req, resp, true);
}
static enum st h_email_verify(struct http_req *req, struct http_resp *resp)
{
    return contact_verify(req, resp, true);
}
static enum st h_phone(struct http_req *req, struct http_resp *resp)
{
    return contact_start(req, resp, false);
}
static enum st h_phone_verify(struct http_req *req, struct http_resp *resp)
{
    return contact_verify(req, resp, false);
}

static enum st h_freeze(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = accounts_freeze(k.c, &k.cl, k.id->user_id);
    if (st == ST_OK)
        clear_session_cookie(req, resp);
    return answer(req, resp, &k, st, 200,
                  st == ST_OK ? json_pack("{s:s}", "status", "frozen") : NULL);
}

/* ---------------------------------------------------------------- avatar */

static const char *const AVATAR_TYPES[] = {"image/png", "image/jpeg", "image/webp", NULL};

#define AVATAR_CACHE_S "31536000" /* a year: a tagged URL never changes meaning */

/* Sends a stored avatar with its tag as the ETag. The URL that carries the
 * current tag (?v=) may be cached for good; any other asks caches to check
 * again, so a replaced or hidden picture is not served from a stale copy.
 * scope is "private" (the owner's own URL) or "public". */
static enum st avatar_send(struct http_req *req, struct http_resp *resp, const struct acc_avatar *a,
                           const char *scope)
{
    char etag[ACC_AVATAR_TAG_CHARS + 3], cache[96];
    snprintf(etag, sizeof etag, "\"%s\"", a->tag);
    const char *v = http_req_query(req, "v");
    if (v && strcmp(v, a->tag) == 0)
        snprintf(cache, sizeof cache, "%s, max-age=" AVATAR_CACHE_S ", immutable", scope);
    else
        snprintf(cache, sizeof cache, "%s, no-cache", scope);
    const char *inm = http_req_header(req, "If-None-Match");
    if (inm && (strstr(inm, etag) || strcmp(inm, "*") == 0))
        http_resp_bytes(resp, 304, a->media_type, "", 0);
    else
        http_resp_bytes(resp, 200, a->media_type, a->data, a->len);
    http_resp_header(resp, "ETag", etag);
    http_resp_header(resp, "Cache-Control", cache);
    return ST_OK;
}

static enum st h_avatar_put(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    size_t len = 0;
    const char *type = NULL;
    const void *bytes = http_req_raw_body(req, &len, &type);
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = accounts_avatar_set(k.c, &k.cl, k.id->user_id, bytes, len, type, &k.e);
    return st == ST_OK ? h_me(req, resp) : fail(req, resp, st, &k.e);
}

static enum st h_avatar_delete(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = accounts_avatar_delete(k.c, &k.cl, k.id->user_id);
    return answer(req, resp, &k, st, 204, NULL);
}

/* The owner's avatar (public or not), or anyone's public one. */
static enum st avatar_get(struct http_req *req, struct http_resp *resp, int64_t uid, bool mine)
{
    struct call k;
    struct acc_avatar a;
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = accounts_avatar_get(k.c, uid, !mine, &a);
    if (st != ST_OK)
        return st;
    st = avatar_send(req, resp, &a, mine ? "private" : "public");
    acc_avatar_free(&a);
    return st;
}

static enum st h_avatar_mine(struct http_req *req, struct http_resp *resp)
{
    return avatar_get(req, resp, http_req_identity(req)->user_id, true);
}

static enum st h_avatar_public(struct http_req *req, struct http_resp *resp)
{
    int64_t uid;
    enum st st = parse_id(req, &uid);
    return st == ST_OK ? avatar_get(req, resp, uid, false) : st;
}

/* ---------------------------------------------------------------- public, staff, test */

static enum st h_user_public(struct http_req *req, struct http_resp *resp)
{
    struct call k;
    int64_t uid;
    json_t *o = NULL;
    enum st st = parse_id(req, &uid);
    if (st == ST_OK)
        st = call_begin(req, &k);
    if (st == ST_OK)
        st = accounts_public_profile(k.c, uid, &o);
    if (st != ST_OK)
        return st;
    return http_resp_json(resp, 200, o);
}

static enum st h_staff_session(struct http_req *req, struct http_resp *resp)
{
    const struct http_identity *id = http_req_identity(req);
    return http_resp_json(resp, 200,
                          json_pack("{s:I, s:I, s:o}", "user_id", (json_int_t)id->user_id,
                                    "session_id", (json_int_t)id->session_id, "roles",
                                    accounts_role_names(id->staff_roles)));
}

/* Who is signed in, for any caller: a visitor (or a session that ended:
 * its cookie is cleared) is {"signed_in": false}, never a 401, so a page
 * can ask at start-up without logging a failure. A cookie session also
 * gets its CSRF token. */
static enum st h_session(struct http_req *req, struct http_resp *resp)
{
    const struct http_identity *id = http_req_identity(req);
    if (id->user_id == 0) {
        if (http_req_cookie(req, session_cookie(req)))
            http_resp_cookie(req, resp, session_cookie(req), "", 0);
        return http_resp_json(resp, 200, json_pack("{s:b}", "signed_in", false));
    }
    struct call k;
    json_t *user = NULL;
    enum st st = call_begin(req, &k);
    if (st == ST_OK)
        st = accounts_session_user(k.c, id->user_id, id->staff_roles, &user);
    if (st != ST_OK)
        return fail(req, resp, st, &k.e);
    json_t *o = json_pack("{s:b, s:o}", "signed_in", true, "user", user);
    add_session_fields(req, o);
    return http_resp_json(resp, 200, o);
}

static enum st h_test_rate_limits_reset(struct http_req *req, struct http_resp *resp)
{
    struct db_conn *c;
    int64_t cleared = 0;
    enum st st = http_req_db(req, &c);
    if (st == ST_OK)
        st = accounts_rate_limits_reset(c, &cleared);
    if (st != ST_OK)
        return st;
    return http_resp_json(resp, 200, json_pack("{s:I}", "cleared", (json_int_t)cleared));
}

static enum st h_test_outbox(struct http_req *req, struct http_resp *resp)
{
    json_t *a = NULL;
    enum st st = notify_outbox_find(http_req_database(req), http_req_query(req, "to"), 20, &a);
    if (st != ST_OK)
        return st;
    return http_resp_json(resp, 200, json_pack("{s:o}", "messages", a));
}

/* ---------------------------------------------------------------- declarations */

#define F_ATTEMPT                                                                                  \
    {                                                                                              \
        .name = "attempt", .type = FT_STRING, .required = true, .min = 1, .max = 64,               \
        .help = "the attempt token returned with the code"                                         \
    }
#define F_CODE                                                                                     \
    {                                                                                              \
        .name = "code", .type = FT_STRING, .required = true, .min = 1, .max = 16,                  \
        .help = "the six-digit code received"                                                      \
    }
#define F_REMEMBER                                                                                 \
    {                                                                                              \
        .name = "remember", .type = FT_BOOL, .help = "keep me signed in on this device"            \
    }
#define F_CLIENT                                                                                   \
    {                                                                                              \
        .name = "client", .type = FT_STRING, .min = 3, .max = 3,                                   \
        .help = "web (cookie, default) or app (bearer token in the answer)"                        \
    }
#define F_PHONE(req)                                                                               \
    {                                                                                              \
        .name = "phone", .type = FT_STRING, .required = req, .min = 1, .max = 32,                  \
        .help = "mobile number, +CC... or national (default country code 86)"                      \
    }
#define F_EMAIL(req)                                                                               \
    {                                                                                              \
        .name = "email", .type = FT_STRING, .required = req, .min = 3, .max = 254,                 \
        .help = "e-mail"                                                                           \
    }
#define F_REAUTH                                                                                   \
    {.name = "current_password",                                                                   \
     .type = FT_STRING,                                                                            \
     .min = 1,                                                                                     \
     .max = PASSWORD_MAX_CHARS,                                                                    \
     .help = "re-authentication: the current password..."},                                        \
        {.name = "attempt",                                                                        \
         .type = FT_STRING,                                                                        \
         .min = 1,                                                                                 \
         .max = 64,                                                                                \
         .help = "...or the attempt of a fresh reauth code (POST /api/v1/me/codes)"},              \
    {                                                                                              \
        .name = "code", .type = FT_STRING, .min = 1, .max = 16, .help = "...and that code"         \
    }

static const struct field_spec codes_body[] = {
    {.name = "purpose",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = 16,
     .help = "register, login, reset or unfreeze"},
    F_PHONE(false),
    F_EMAIL(false),
    {0},
};

static const struct field_spec register_body[] = {
    F_PHONE(true),
    F_ATTEMPT,
    F_CODE,
    {.name = "account_type",
     .type = FT_STRING,
     .min = 1,
     .max = 16,
     .help = "individual (default) or enterprise"},
    {.name = "display_name", .type = FT_STRING, .max = ACC_NAME_MAX, .help = "display name"},
    {.name = "username",
     .type = FT_STRING,
     .min = ACC_USERNAME_MIN,
     .max = ACC_USERNAME_MAX,
     .help = "optional user name: letters, digits, . _ -, starting with a letter"},
    {.name = "password",
     .type = FT_STRING,
     .min = 1,
     .max = PASSWORD_MAX_CHARS,
     .help = "optional password (8 to 256 characters, not a common one)"},
    {.name = "lang", .type = FT_STRING, .min = 2, .max = 16, .help = "UI language"},
    F_REMEMBER,
    F_CLIENT,
    {0},
};

static const struct field_spec login_body[] = {
    {.name = "login",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = 254,
     .help = "phone number, e-mail or user name"},
    {.name = "password",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = PASSWORD_MAX_CHARS,
     .help = "password"},
    F_REMEMBER,
    F_CLIENT,
    {0},
};

static const struct field_spec verify_body[] = {F_ATTEMPT, F_CODE, F_REMEMBER, F_CLIENT, {0}};

static const struct field_spec reset_body[] = {
    F_ATTEMPT,
    F_CODE,
    {.name = "new_password",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = PASSWORD_MAX_CHARS,
     .help = "the new password"},
    {0},
};

static const struct field_spec staff_login_body[] = {
    {.name = "login",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = 254,
     .help = "phone number, e-mail or user name"},
    {.name = "password",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = PASSWORD_MAX_CHARS,
     .help = "password"},
    {.name = "totp",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = 16,
     .help = "the authenticator app's current code"},
    F_CLIENT,
    {0},
};

static const struct field_spec profile_body[] = {
    {.name = "display_name",
     .type = FT_STRING,
     .nullable = true,
     .max = ACC_NAME_MAX,
     .help = "display name"},
    {.name = "username",
     .type = FT_STRING,
     .nullable = true,
     .min = ACC_USERNAME_MIN,
     .max = ACC_USERNAME_MAX,
     .help = "user name (null removes it)"},
    {.name = "gender",
     .type = FT_STRING,
     .nullable = true,
     .min = 1,
     .max = 16,
     .help = "female, male, other or undisclosed"},
    {.name = "signature",
     .type = FT_STRING,
     .nullable = true,
     .max = ACC_SIGNATURE_MAX,
     .help = "signature"},
    {.name = "company",
     .type = FT_STRING,
     .nullable = true,
     .max = ACC_PROFILE_MAX,
     .help = "company"},
    {.name = "title",
     .type = FT_STRING,
     .nullable = true,
     .max = ACC_PROFILE_MAX,
     .help = "job title"},
    {.name = "department",
     .type = FT_STRING,
     .nullable = true,
     .max = ACC_PROFILE_MAX,
     .help = "department"},
    {.name = "industry",
     .type = FT_STRING,
     .nullable = true,
     .max = ACC_PROFILE_MAX,
     .help = "industry"},
    {.name = "account_type",
     .type = FT_STRING,
     .min = 1,
     .max = 16,
     .help = "individual or enterprise"},
    {.name = "lang",
     .type = FT_STRING,
     .nullable = true,
     .min = 2,
     .max = 16,
     .help = "UI language"},
    {.name = "public_fields",
     .type = FT_STRING_ARRAY,
     .min = 1,
     .max = 16,
     .max_items = 8,
     .help = "fields shown on the public profile: gender, signature, company, title, department, "
             "industry, email, avatar"},
    {0},
};

static const struct field_spec me_codes_body[] = {
    {.name = "channel", .type = FT_STRING, .min = 1, .max = 8, .help = "sms (default) or email"},
    {0},
};

static const struct field_spec password_body[] = {
    {.name = "new_password",
     .type = FT_STRING,
     .required = true,
     .min = 1,
     .max = PASSWORD_MAX_CHARS,
     .help = "the new password"},
    F_REAUTH,
    {0},
};

static const struct field_spec email_body[] = {F_EMAIL(true), F_REAUTH, {0}};
static const struct field_spec phone_body[] = {F_PHONE(true), F_REAUTH, {0}};
static const struct field_spec email_verify_body[] = {F_EMAIL(true), F_ATTEMPT, F_CODE, {0}};
static const struct field_spec phone_verify_body[] = {F_PHONE(true), F_ATTEMPT, F_CODE, {0}};

static const struct field_spec log_query[] = {
    {.name = "before",
     .type = FT_INT,
     .min = 1,
     .max = INT64_MAX,
     .help = "entries older than this id"},
    {.name = "limit", .type = FT_INT, .min = 1, .max = AUDIT_LIST_MAX, .help = "page size (50)"},
    {0},
};

static const struct field_spec avatar_query[] = {
    {.name = "v",
     .type = FT_STRING,
     .min = 1,
     .max = ACC_AVATAR_TAG_CHARS,
     .help = "the picture's version tag (from avatar_url): the answer may then be cached for good"},
    {0},
};

static const struct field_spec outbox_query[] = {
    {.name = "to", .type = FT_STRING, .required = true, .min = 1, .max = 254, .help = "recipient"},
    {0},
};

static const struct route accounts_routes[] = {
    {"POST", "/api/v1/auth/codes", h_codes, POLICY_PUBLIC, .body = codes_body,
     .summary = "Send a one-time code (same answer whether or not an account exists)"},
    {"POST", "/api/v1/auth/register", h_register, POLICY_PUBLIC, .body = register_body,
     .summary = "Register with a verified mobile number and sign in"},
    {"POST", "/api/v1/auth/login", h_login, POLICY_PUBLIC, .body = login_body,
     .summary = "Sign in with a password (a code follows from a new device or network)"},
    {"POST", "/api/v1/auth/login/verify", h_login_verify, POLICY_PUBLIC, .body = verify_body,
     .summary = "Sign in with a code, or complete a password sign-in"},
    {"POST", "/api/v1/auth/unfreeze", h_unfreeze, POLICY_PUBLIC, .body = verify_body,
     .summary = "Unfreeze an account with a fresh code and sign in"},
    {"POST", "/api/v1/auth/password-reset", h_reset, POLICY_PUBLIC, .body = reset_body,
     .summary = "Set a new password with a code; every session ends"},
    {"POST", "/api/v1/auth/logout", h_logout, POLICY_USER, .summary = "End this session"},
    {"POST", "/api/v1/auth/logout-all", h_logout_all, POLICY_USER,
     .summary = "End every session of this account"},
    {"POST", "/api/v1/staff/login", h_staff_login, POLICY_PUBLIC, .body = staff_login_body,
     .summary = "Staff sign-in: password and TOTP code"},
    {"GET", "/api/v1/staff/session", h_staff_session, POLICY_STAFF,
     .roles = STAFF_SUPPORT | STAFF_OPERATIONS | STAFF_COMPLIANCE | STAFF_ADMIN,
     .summary = "The signed-in staff member"},
    {"GET", "/api/v1/auth/session", h_session, POLICY_PUBLIC,
     .summary = "Who is signed in: always 200, signed_in false for visitors"},
    {"GET", "/api/v1/me", h_me, POLICY_USER, .summary = "My account"},
    {"PATCH", "/api/v1/me", h_me_patch, POLICY_USER, .body = profile_body,
     .summary = "Edit my profile and choose what is public"},
    {"GET", "/api/v1/me/sessions", h_sessions, POLICY_USER, .summary = "My active sessions"},
    {"DELETE", "/api/v1/me/sessions/{id}", h_session_delete, POLICY_USER,
     .summary = "End one of my sessions"},
    {"GET", "/api/v1/me/devices", h_devices, POLICY_USER, .summary = "Devices I signed in from"},
    {"DELETE", "/api/v1/me/devices/{id}", h_device_delete, POLICY_USER,
     .summary = "Forget a device (its sessions end)"},
    {"GET", "/api/v1/me/security-log", h_security_log, POLICY_USER, .query = log_query,
     .summary = "My security log: sign-ins, failures, changes"},
    {"POST", "/api/v1/me/codes", h_me_codes, POLICY_USER, .body = me_codes_body,
     .summary = "Send me a code to confirm a sensitive change"},
    {"POST", "/api/v1/me/password", h_password, POLICY_USER, .body = password_body,
     .summary = "Change my password (re-authentication required)"},
    {"POST", "/api/v1/me/email", h_email, POLICY_USER, .body = email_body,
     .summary = "Start an e-mail change: a code goes to the new address"},
    {"POST", "/api/v1/me/email/verify", h_email_verify, POLICY_USER, .body = email_verify_body,
     .summary = "Confirm the new e-mail address with its code"},
    {"POST", "/api/v1/me/phone", h_phone, POLICY_USER, .body = phone_body,
     .summary = "Start a phone number change: a code goes to the new number"},
    {"POST", "/api/v1/me/phone/verify", h_phone_verify, POLICY_USER, .body = phone_verify_body,
     .summary = "Confirm the new number with its code"},
    {"POST", "/api/v1/me/freeze", h_freeze, POLICY_USER,
     .summary = "Freeze my account at once (every session ends)"},
    {"PUT", "/api/v1/me/avatar", h_avatar_put, POLICY_USER, .raw_types = AVATAR_TYPES,
     .raw_max = ACC_AVATAR_MAX_BYTES,
     .summary = "Upload my avatar: the image is re-encoded as a 256-pixel square without metadata"},
    {"GET", "/api/v1/me/avatar", h_avatar_mine, POLICY_USER, .query = avatar_query,
     .summary = "My avatar, public or not"},
    {"DELETE", "/api/v1/me/avatar", h_avatar_delete, POLICY_USER, .summary = "Remove my avatar"},
    {"GET", "/api/v1/users/{id}", h_user_public, POLICY_PUBLIC,
     .summary = "A user's public profile"},
    {"GET", "/api/v1/users/{id}/avatar", h_avatar_public, POLICY_PUBLIC, .query = avatar_query,
     .summary = "A user's avatar, when they made it public"},
    {"GET", "/api/v1/test/outbox", h_test_outbox, POLICY_TEST_ONLY, .query = outbox_query,
     .summary = "Test mode: messages queued for a recipient"},
    {"POST", "/api/v1/test/rate-limits/reset", h_test_rate_limits_reset, POLICY_TEST_ONLY,
     .summary = "Test mode: forget every rate-limit counter"},
};

void accounts_api_register(void)
{
    http_routes_add(accounts_routes, sizeof accounts_routes / sizeof accounts_routes[0]);
    http_set_authenticator(authenticate);
}
