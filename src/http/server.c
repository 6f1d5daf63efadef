/*
 * server.c — libmicrohttpd glue: request lifecycle, limits, dispatch,
 * security headers, access log and graceful shutdown.
 *
 * MHD calls the access handler several times per request: once when the
 * headers are in, once per piece of body, and once more at the end. We
 * answer on the *last* call (answering on the first forces Connection:
 * close, which would kill keep-alive for every GET), except for the errors
 * that must not wait for the body: a head that cannot be read one way only
 * or breaks a cap (head_refused: 400, 414, 501 — closing is the point), 413
 * on an announced oversize body, 415, and 404/405 on a request that carries
 * a body. A body that grows past the cap while streaming (chunked) is
 * drained, bounded, then answered 413 or the connection closed, so an
 * endless body costs us at most DRAIN_FACTOR times the cap; a body that
 * trickles is cut at the body timeout (the reaper).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/i18n.h"
#include "http_int.h"

static const char CSP_API[] = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";
static const char CSP_HTML[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; "
                               "object-src 'none'; base-uri 'self'; form-action 'self'; "
                               "frame-ancestors 'none'";

static atomic_bool shutting_down;
static http_authenticator authenticator;

void http_set_authenticator(http_authenticator fn)
{
    authenticator = fn;
}

const struct http_identity *http_req_identity(const struct http_req *req)
{
    return &req->ident;
}

/* How much of an oversize streamed body we read (and drop) in the hope of
 * answering 413 cleanly, as a multiple of the body cap. */
#define DRAIN_FACTOR 4

/* ------------------------------------------------------------ request ids */

static _Thread_local char rid_prefix[13];
static _Thread_local unsigned long rid_counter;

static void request_id(struct http_req *req)
{
    const char *in = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Request-Id");
    if (in) {
        size_t n = strlen(in);
        bool ok = n > 0 && n <= CAP_REQUEST_ID;
        for (size_t i = 0; ok && i < n; i++)
            ok = (in[i] >= 'a' && in[i] <= 'z') || (in[i] >= 'A' && in[i] <= 'Z') ||
                 (in[i] >= '0' && in[i] <= '9') || in[i] == '-' || in[i] == '_' || in[i] == '.';
        if (ok) {
            memcpy(req->rid, in, n + 1);
            return;
        }
    }
    if (!rid_prefix[0]) {
        unsigned char r[6];
        randombytes_buf(r, sizeof r);
        sodium_bin2hex(rid_prefix, sizeof rid_prefix, r, sizeof r);
    }
    snprintf(req->rid, sizeof req->rid, "%s-%lx", rid_prefix, ++rid_counter);
}

/* ------------------------------------------------------------ accessors */

const char *http_req_method(const struct http_req *req)
{
    return req->method;
}
const char *http_req_path(const struct http_req *req)
{
    return req->path;
}
const char *http_req_param(const struct http_req *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->nparams; i++)
        if (strncmp(req->param_names[i], name, n) == 0 && req->param_names[i][n] == '}')
            return req->param_values[i];
    return NULL;
}
const char *http_req_query(const struct http_req *req, const char *name)
{
    for (size_t i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].name, name) == 0)
            return req->query[i].value;
    return NULL;
}
const char *http_req_header(const struct http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}
const char *http_req_cookie(const struct http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}
json_t *http_req_body(const struct http_req *req)
{
    return req->json;
}
const char *http_req_client_ip(const struct http_req *req)
{
    return req->client_ip;
}
const char *http_req_lang(const struct http_req *req)
{
    return req->lang;
}
const char *http_req_id(const struct http_req *req)
{
    return req->rid;
}
bool http_req_tls(const struct http_req *req)
{
    return req->srv->tls;
}
bool http_req_test_mode(const struct http_req *req)
{
    return req->srv->opt.test_mode;
}
struct db *http_req_database(const struct http_req *req)
{
    return req->srv->opt.db;
}

enum st http_req_db(struct http_req *req, struct db_conn **out)
{
    if (!req->dbc) {
        if (!req->srv->opt.db)
            return ST_UNAVAILABLE;
        enum st s = db_acquire(req->srv->opt.db, &req->dbc);
        if (s != ST_OK)
            return s;
    }
    *out = req->dbc;
    return ST_OK;
}

/* ------------------------------------------------------------ responses */

enum st http_resp_json(struct http_resp *resp, unsigned status, json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!text)
        return ST_INTERNAL;
    free(resp->body);
    free(resp->content_type);
    resp->status = status;
    resp->body = text;
    resp->body_len = strlen(text);
    resp->content_type = xstrdup("application/json");
    return ST_OK;
}

enum st http_resp_bytes(struct http_resp *resp, unsigned status, const char *content_type,
                        const void *data, size_t len)
{
    free(resp->body);
    free(resp->content_type);
    resp->status = status;
    resp->body = xmalloc(len + 1);
    memcpy(resp->body, data, len);
    resp->body[len] = '\0';
    resp->body_len = len;
    resp->content_type = xstrdup(content_type);
    return ST_OK;
}

void http_resp_header(struct http_resp *resp, const char *name, const char *value)
{
    if (resp->nheaders == HTTP_MAX_HEADERS_OUT)
        die("too many response headers (%s)", name);
    resp->headers[resp->nheaders].name = xstrdup(name);
    resp->headers[resp->nheaders].value = xstrdup(value);
    resp->nheaders++;
}

void http_resp_cookie(struct http_req *req, struct http_resp *resp, const char *name,
                      const char *value, int64_t max_age_s)
{
    char age[40] = "";
    if (max_age_s >= 0)
        snprintf(age, sizeof age, "; Max-Age=%lld", (long long)max_age_s);
    char *c = xasprintf("%s=%s; Path=/; HttpOnly; SameSite=Lax%s%s", name, value, age,
                        req->srv->tls ? "; Secure" : "");
    http_resp_header(resp, "Set-Cookie", c);
    free(c);
}

static void resp_clear(struct http_resp *resp)
{
    free(resp->body);
    free(resp->content_type);
    for (size_t i = 0; i < resp->nheaders; i++) {
        free(resp->headers[i].name);
        free(resp->headers[i].value);
    }
    memset(resp, 0, sizeof *resp);
}

/* Hands resp to MHD with the security headers. Returns MHD's verdict. */
static enum MHD_Result send_resp(struct http_req *req, struct http_resp *resp)
{
    struct MHD_Response *r;
    if (resp->body) {
        r = MHD_create_response_from_buffer(resp->body_len, resp->body, MHD_RESPMEM_MUST_FREE);
        resp->body = NULL; /* MHD owns it now */
    } else {
        r = MHD_create_response_from_buffer(resp->persistent ? resp->body_len : 0,
                                            (void *)(uintptr_t)resp->persistent,
                                            MHD_RESPMEM_PERSISTENT);
    }
    if (!r) {
        resp_clear(resp);
        return MHD_NO;
    }
    if (resp->content_type)
        MHD_add_response_header(r, "Content-Type", resp->content_type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "strict-origin-when-cross-origin");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Content-Security-Policy", resp->is_html ? CSP_HTML : CSP_API);
    MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(r, "X-Request-Id", req->rid);
    if (req->srv->tls)
        MHD_add_response_header(r, "Strict-Transport-Security",
                                "max-age=63072000; includeSubDomains");
    bool has_cache = false;
    for (size_t i = 0; i < resp->nheaders; i++) {
        MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
        has_cache |= strcasecmp(resp->headers[i].name, "Cache-Control") == 0;
    }
    if (!has_cache)
        MHD_add_response_header(r, "Cache-Control", "no-store");
    if (resp->is_problem)
        MHD_add_response_header(r, "Content-Language", req->lang);
    else if (!resp->persistent)
        MHD_add_response_header(r, "Vary", "Accept-Language, Cookie");
    if (atomic_load(&shutting_down))
        MHD_add_response_header(r, "Connection", "close");
    req->status = resp->status;
    enum MHD_Result ret = MHD_queue_response(req->conn, resp->status, r);
    MHD_destroy_response(r);
    resp_clear(resp);
    return ret;
}

static enum MHD_Result send_problem(struct http_req *req, enum st s, const char *name,
                                    unsigned status, const char *allow)
{
    struct http_resp resp = {0};
    if (name)
        problem_build(req, &resp, s, name, status, NULL);
    else
        problem_for_status(req, &resp, s);
    if (allow && *allow)
        http_resp_header(&resp, "Allow", allow);
    return send_resp(req, &resp);
}

/* A problem whose detail names the limit that was passed ({max}). */
static enum MHD_Result send_problem_max(struct http_req *req, const char *name, unsigned status,
                                        size_t max)
{
    char key[96], smax[24];
    snprintf(key, sizeof key, "problem.%s.detail", name);
    snprintf(smax, sizeof smax, "%zu", max);
    char *detail = i18n_format(req->lang, key, "max", smax, (const char *)NULL);
    http_req_set_detail(req, detail);
    free(detail);
    return send_problem(req, ST_INVALID, name, status, NULL);
}

/* ------------------------------------------------------------ slow clients */

/* libmicrohttpd's connection timeout counts idle time only: a client that
 * trickles one header line every second is never cut, nor one that sends
 * its body a byte at a time. So each connection is tracked from the moment
 * it waits for a request's headers, and a request's body from the moment
 * its headers are in; a reaper thread shuts down the socket of any
 * connection that has waited for headers longer than the connection
 * timeout, or for a body longer than the body timeout, and libmicrohttpd
 * then closes it as usual.
 * The registry lock is held across shutdown(), and the close notification
 * removes the entry under the same lock before libmicrohttpd closes the
 * descriptor, so the reaper can never touch a reused descriptor. */
struct conn_track {
    struct conn_track *prev, *next;
    MHD_socket fd;
    _Atomic uint64_t waiting_since_ns; /* 0 while a request is being handled */
    _Atomic uint64_t body_since_ns;    /* 0 unless a request's body is awaited */
};

static struct conn_track *track_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&srv->open_conns, 1);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct conn_track *t = xcalloc(1, sizeof *t);
        t->fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
        atomic_store(&t->waiting_since_ns, clock_mono_ns());
        pthread_mutex_lock(&srv->track_lock);
        t->next = srv->tracks;
        if (t->next)
            t->next->prev = t;
        srv->tracks = t;
        pthread_mutex_unlock(&srv->track_lock);
        *socket_context = t;
        return;
    }
    atomic_fetch_sub(&srv->open_conns, 1);
    struct conn_track *t = *socket_context;
    if (!t)
        return;
    pthread_mutex_lock(&srv->track_lock);
    if (t->prev)
        t->prev->next = t->next;
    else
        srv->tracks = t->next;
    if (t->next)
        t->next->prev = t->prev;
    pthread_mutex_unlock(&srv->track_lock);
    free(t);
    *socket_context = NULL;
}

/* True (and the stamp cleared) when *since is set and older than limit. */
static bool overdue(_Atomic uint64_t *since, uint64_t now, uint64_t limit)
{
    /* A worker may have stamped a time later than now: unsigned now - t
     * would wrap and cut a healthy connection. */
    uint64_t t = atomic_load(since);
    if (!t || t >= now || now - t <= limit)
        return false;
    atomic_store(since, 0);
    return true;
}

static void *reaper(void *arg)
{
    struct http_server *srv = arg;
    uint64_t limit = (uint64_t)srv->opt.connection_timeout_s * 1000000000ull;
    uint64_t body_limit = (uint64_t)srv->opt.body_timeout_s * 1000000000ull;
    while (!atomic_load(&srv->reaper_stop)) {
        usleep(200000);
        uint64_t now = clock_mono_ns();
        pthread_mutex_lock(&srv->track_lock);
        for (struct conn_track *t = srv->tracks; t; t = t->next) {
            if (t->fd == MHD_INVALID_SOCKET)
                continue;
            if (overdue(&t->waiting_since_ns, now, limit) ||
                overdue(&t->body_since_ns, now, body_limit)) {
                shutdown(t->fd, SHUT_RDWR);
                atomic_fetch_add(&srv->slow_cut, 1);
            }
        }
        pthread_mutex_unlock(&srv->track_lock);
    }
    return NULL;
}

/* ------------------------------------------------------------ lifecycle */

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    struct http_req *req = cls;
    if (req->nquery == CAP_QUERY_PARAMS)
        return MHD_NO;
    if (!req->query)
        req->query = xcalloc(CAP_QUERY_PARAMS, sizeof *req->query);
    req->query[req->nquery].name = xstrdup(key);
    req->query[req->nquery].value = xstrdup(value ? value : "");
    req->nquery++;
    return MHD_YES;
}

static enum MHD_Result count_header_bytes(void *cls, enum MHD_ValueKind kind, const char *key,
                                          const char *value)
{
    (void)kind;
    *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct buf *b = cls;
    if (strcasecmp(key, "X-Forwarded-For") == 0 && value) {
        if (b->len)
            buf_putc(b, ',');
        buf_puts(b, value);
    }
    return MHD_YES;
}

static void peer_address(struct http_req *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char peer[64] = "";
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, peer,
                      sizeof peer);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, peer,
                      sizeof peer);
    }
    /* Several X-Forwarded-For lines are one list (RFC 9110 §5.3); the
     * proxy's own line comes last, so reading from the right stays right. */
    struct buf xff;
    buf_init(&xff, CAP_HEADER_SECTION);
    if (req->srv->nproxies)
        MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_xff, &xff);
    http_client_ip(req->srv->proxies, req->srv->nproxies, peer, xff.len ? xff.data : NULL,
                   req->client_ip, sizeof req->client_ip);
    buf_free(&xff);
}

/* True when the Content-Type ct names type (parameters after ';' allowed). */
static bool media_type_is(const char *ct, const char *type)
{
    size_t n = strlen(type);
    if (!ct || strncasecmp(ct, type, n) != 0)
        return false;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* The declared raw type of the route that the request's Content-Type names. */
static const char *raw_type_of(const struct http_req *req)
{
    if (req->route_idx < 0)
        return NULL;
    const struct route *r = http_route_at((size_t)req->route_idx);
    const char *ct = http_req_header(req, "Content-Type");
    for (size_t i = 0; r->raw_types && r->raw_types[i]; i++)
        if (media_type_is(ct, r->raw_types[i]))
            return r->raw_types[i];
    return NULL;
}

const void *http_req_raw_body(const struct http_req *req, size_t *len, const char **type)
{
    *len = req->body.len;
    if (type)
        *type = raw_type_of(req);
    return req->body.data;
}

static bool announces_body(struct http_req *req, uint64_t *len)
{
    const char *cl = http_req_header(req, "Content-Length");
    const char *te = http_req_header(req, "Transfer-Encoding");
    int64_t v = 0;
    *len = 0;
    if (cl && parse_int64(cl, 0, INT64_MAX, &v) == ST_OK)
        *len = (uint64_t)v;
    return (cl && v > 0) || (te && strcasecmp(te, "identity") != 0);
}

/* The request's header lines, for http_head_check, and where they lie as
 * offsets from the request's first byte, for http_head_layout_ok. */
struct head_view {
    uintptr_t base;
    struct http_hdr *h;
    struct http_span *s;
    size_t n, cap;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t klen, const char *value, size_t vlen)
{
    (void)kind;
    struct head_view *v = cls;
    if (v->n == v->cap)
        return MHD_NO;
    v->h[v->n] = (struct http_hdr){key, klen, value ? value : "", value ? vlen : 0};
    /* a value that is not in the request's bytes (never from the wire)
     * fails the layout check */
    v->s[v->n] = (struct http_span){(uintptr_t)key - v->base, klen,
                                    value ? (uintptr_t)value - v->base : SIZE_MAX, vlen};
    v->n++;
    return MHD_YES;
}

/* libmicrohttpd 0.9.75 parses the head in place, so every header's key and
 * value point into the request's own bytes, from the method on, and
 * MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE is the head's length: bytes no
 * header accounts for (a value cut at a NUL, a folded line rebuilt
 * elsewhere) show as a gap (http_head_layout_ok). Later versions parse
 * strictly themselves (MHD_OPTION_CLIENT_DISCIPLINE_LVL from 0.9.77) and
 * may lay the head out otherwise, so this check is built for 0.9.75 only;
 * the bad-input catalogue's hidden-NUL case tells when it is missing. */
static bool head_layout_ok(struct http_req *req, const struct head_view *v, const char *ver)
{
#if MHD_VERSION == 0x00097500
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (!ci || !*ver)
        return true;
    size_t line_end = (size_t)((uintptr_t)ver + strlen(ver) - v->base);
    return http_head_layout_ok(line_end, v->s, v->n, ci->header_size);
#else
    (void)req, (void)v, (void)ver;
    return true;
#endif
}

static struct http_req *req_new(struct http_server *srv, struct MHD_Connection *conn)
{
    struct http_req *req = xcalloc(1, sizeof *req);
    req->srv = srv;
    req->conn = conn;
    req->t0 = clock_mono_ns();
    req->route_idx = -1;
    req->lang = "en";
    return req;
}

/* Called by libmicrohttpd with the raw request target, before it splits the
 * query into arguments; the request object made here is the access
 * handler's *con_cls. libmicrohttpd 0.9.75 keeps every argument in the
 * connection's memory pool: a few hundred of them exhaust it, and it then
 * neither answers nor closes (it logs a 431 and the connection hangs until
 * the timeout). So the target's length and its count of parameters are
 * measured here, and when either is over its cap the query is cut in
 * libmicrohttpd's own buffer (it located the '?' before this call and ends
 * the path there after it, so the byte after it is where the arguments
 * start): nothing is parsed and the first handler call answers 414 or 400. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_req *req = req_new(cls, conn);
    req->target_len = strlen(uri);
    const char *q = strchr(uri, '?');
    if (q && q[1]) {
        req->target_params = 1;
        for (const char *p = q + 1; *p; p++)
            req->target_params += *p == '&';
    }
    if (q && (req->target_len > CAP_URL || req->target_params > CAP_QUERY_PARAMS))
        ((char *)(uintptr_t)q)[1] = '\0';
    return req;
}

/* Refuses, before anything else, a request head that libmicrohttpd 0.9.75
 * accepts but that cannot be read one way only (http_head_check): a hidden
 * byte, an ambiguous body length, a missing or doubled Host; and targets
 * over their caps. Answering on this first call makes libmicrohttpd close
 * the connection after the answer, so no byte after the head is ever read
 * as another request. Returns true when a response has been queued. */
static bool head_refused(struct http_req *req, enum MHD_Result *ret)
{
    if (req->target_len > CAP_URL) {
        *ret = send_problem_max(req, "uri-too-long", 414, CAP_URL);
        return true;
    }
    if (req->target_params > CAP_QUERY_PARAMS) {
        *ret = send_problem_max(req, "too-many-parameters", 400, CAP_QUERY_PARAMS);
        return true;
    }
    struct head_view v = {.base = (uintptr_t)req->method};
    v.cap = (size_t)MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, NULL, NULL);
    v.h = xcalloc(v.cap + 1, sizeof *v.h);
    v.s = xcalloc(v.cap + 1, sizeof *v.s);
    MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, collect_header, &v);
    const char *ver = req->version ? req->version : "";
    bool http11 = strncmp(ver, "HTTP/1.", 7) == 0 && strcmp(ver, "HTTP/1.0") != 0;
    unsigned status = 400;
    const char *why = head_layout_ok(req, &v, ver) ? NULL : "bad-header";
    if (!why)
        why = http_head_check(v.h, v.n, http11, &status);
    free(v.h);
    free(v.s);
    if (!why)
        return false;
    *ret = send_problem(req, ST_INVALID, why, status, NULL);
    return true;
}

/* First call: set up the request and reject early what must not wait for
 * the body. Returns true when a response has been queued. */
static bool request_begin(struct http_req *req, enum MHD_Result *ret)
{
    char allow[128];
    bool known;
    request_id(req);
    log_set_request_id(req->rid);
    peer_address(req);
    const char *al = http_req_header(req, "Accept-Language");
    req->lang = http_negotiate_lang(al);
    if (head_refused(req, ret))
        return true;
    req->is_head = strcmp(req->method, "HEAD") == 0;
    req->route_idx = router_find(req->method, req->path, req, allow, sizeof allow, &known);
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_query, req);
    const struct route *matched =
        req->route_idx >= 0 ? http_route_at((size_t)req->route_idx) : NULL;
    buf_init(&req->body, matched && matched->raw_types && matched->raw_max
                             ? matched->raw_max
                             : req->srv->opt.max_body);

    size_t header_bytes = strlen(req->path) + strlen(req->method) + 16;
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_header_bytes, &header_bytes);
    if (header_bytes > CAP_HEADER_SECTION) {
        *ret = send_problem_max(req, "header-too-large", 431, CAP_HEADER_SECTION);
        return true;
    }

    uint64_t clen;
    bool has_body = announces_body(req, &clen);
    if (has_body && clen > req->body.cap) {
        *ret = send_problem(req, ST_TOOLARGE, NULL, 0, NULL);
        return true;
    }
    if (req->route_idx < 0) {
        if (has_body) {
            *ret = known ? send_problem(req, ST_INVALID, "method-not-allowed", 405, allow)
                         : send_problem(req, ST_NOTFOUND, NULL, 0, NULL);
            return true;
        }
        return false;
    }
    const struct route *r = http_route_at((size_t)req->route_idx);
    if (r->body) {
        req->body_expected = true;
        if (!media_type_is(http_req_header(req, "Content-Type"), "application/json")) {
            *ret = send_problem(req, ST_UNSUPPORTED, NULL, 0, NULL);
            return true;
        }
    } else if (r->raw_types) {
        req->body_expected = true;
        if (!raw_type_of(req)) {
            *ret = send_problem(req, ST_UNSUPPORTED, NULL, 0, NULL);
            return true;
        }
    }
    return false;
}

static bool is_unsafe(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
           strcmp(method, "OPTIONS") != 0;
}

/* Identifies the caller and applies the route's policy: 401 without a
 * session where one is needed, 403 for a missing staff role or a
 * cookie-authenticated unsafe request without the CSRF token (then *why
 * names that problem). */
static enum st authorize(struct http_req *req, const struct route *r, const char **why)
{
    if (authenticator) {
        enum st s = authenticator(req, &req->ident);
        if (s == ST_UNAVAILABLE)
            return s;
        if (s != ST_OK) {
            memset(&req->ident, 0, sizeof req->ident);
            if (r->policy == POLICY_USER || r->policy == POLICY_STAFF)
                return ST_UNAUTHORIZED;
        }
    }
    switch (r->policy) {
    case POLICY_PUBLIC:
    case POLICY_TEST_ONLY:
        return ST_OK;
    case POLICY_USER:
    case POLICY_STAFF:
        if (req->ident.user_id == 0)
            return ST_UNAUTHORIZED;
        if (req->ident.via_cookie && is_unsafe(req->method) && !req->ident.csrf_ok) {
            *why = "csrf";
            return ST_FORBIDDEN;
        }
        if (r->policy == POLICY_STAFF && (req->ident.staff_roles & r->roles) == 0)
            return ST_FORBIDDEN;
        return r->policy == POLICY_USER ? router_gate(req, why) : ST_OK; /* http_set_gate */
    case POLICY_UNSET:
        break;
    }
    return ST_FORBIDDEN;
}

static enum MHD_Result dispatch(struct http_req *req)
{
    struct http_resp resp = {0};
    log_set_request_id(req->rid);
    if (req->route_idx < 0) {
        char allow[128];
        bool known;
        router_find(req->method, req->path, req, allow, sizeof allow, &known);
        if (known)
            return send_problem(req, ST_INVALID, "method-not-allowed", 405, allow);
        bool api = strncmp(req->path, "/api/", 5) == 0 || strcmp(req->path, "/api") == 0;
        bool get = strcmp(req->method, "GET") == 0 || req->is_head;
        if (!api && get && static_serve(req->srv->statics, req, &resp))
            return send_resp(req, &resp);
        if (!api && !get && req->srv->statics && static_serve(req->srv->statics, req, &resp)) {
            resp_clear(&resp);
            return send_problem(req, ST_INVALID, "method-not-allowed", 405, "GET, HEAD");
        }
        return send_problem(req, ST_NOTFOUND, NULL, 0, NULL);
    }
    const struct route *r = http_route_at((size_t)req->route_idx);
    const char *why = NULL;
    enum st s = authorize(req, r, &why);
    if (why) {
        if (req->dbc) {
            db_release(req->dbc);
            req->dbc = NULL;
        }
        return send_problem(req, s, why, http_status_of(s), NULL);
    }
    if (s == ST_OK)
        s = validate_query(req, r->query);
    if (s == ST_OK && r->body)
        s = validate_body(req, r->body);
    if (s == ST_OK) {
        s = r->handler(req, &resp);
        if (s == ST_OK && resp.status == 0 && !resp.body)
            resp.status = 204;
    }
    if (req->dbc) {
        db_release(req->dbc);
        req->dbc = NULL;
    }
    if (s != ST_OK) {
        if (s == ST_INTERNAL || s == ST_UNAVAILABLE)
            log_kv(LOG_ERROR, "request failed", "route", r->pattern, "status", st_name(s),
                   (const char *)NULL);
        resp_clear(&resp);
        problem_for_status(req, &resp, s);
    }
    return send_resp(req, &resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_server *srv = cls;
    struct http_req *req = *con_cls;
    if (!req || !req->begun) {
        if (!req)
            req = *con_cls = req_new(srv, conn);
        req->begun = true;
        req->method = method;
        req->version = version;
        req->path = xstrdup(url);
        struct conn_track *t = track_of(conn);
        if (t) { /* headers in: the body, if any, is timed from now */
            atomic_store(&t->waiting_since_ns, 0);
            atomic_store(&t->body_since_ns, clock_mono_ns());
        }
        atomic_fetch_add(&srv->in_flight, 1);
        enum MHD_Result ret = MHD_YES;
        if (request_begin(req, &ret)) {
            req->rejected = true;
            return ret;
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->rejected)
            return MHD_YES;
        if (req->oversize) {
            /* libmicrohttpd 0.9.75 cannot answer before the body ends, so
             * an oversize chunked body is drained, bounded: past
             * DRAIN_FACTOR times the cap the connection is simply closed. */
            req->drained += n;
            return req->drained > DRAIN_FACTOR * req->body.cap ? MHD_NO : MHD_YES;
        }
        if (!req->body_expected && req->route_idx >= 0) {
            /* A body on a route that takes none: counted within the cap, ignored. */
            req->body.len += n;
            if (req->body.len > req->body.cap)
                req->oversize = true;
            return MHD_YES;
        }
        if (buf_append(&req->body, upload_data, n) != ST_OK)
            req->oversize = true;
        return MHD_YES;
    }
    struct conn_track *t = track_of(conn);
    if (t) /* the body is in */
        atomic_store(&t->body_since_ns, 0);
    if (req->oversize) {
        req->rejected = true;
        return send_problem(req, ST_TOOLARGE, NULL, 0, NULL);
    }
    if (req->rejected)
        return MHD_YES;
    return dispatch(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct http_req *req = *con_cls;
    if (!req)
        return;
    struct conn_track *t = track_of(conn);
    if (t) { /* the next request's headers are timed from now */
        atomic_store(&t->body_since_ns, 0);
        atomic_store(&t->waiting_since_ns, clock_mono_ns());
    }
    if (!req->begun) { /* libmicrohttpd answered it itself (on_uri made req) */
        free(req);
        *con_cls = NULL;
        return;
    }
    uint64_t ns = clock_mono_ns() - req->t0;
    unsigned status =
        req->status ? req->status : (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? 200 : 499);
    metrics_observe(req->route_idx, status, ns);
    if (srv->opt.access_log && log_min_level() <= LOG_INFO) {
        char st[12], ms[32];
        snprintf(st, sizeof st, "%u", status);
        snprintf(ms, sizeof ms, "%.3f", (double)ns / 1e6);
        log_set_request_id(req->rid);
        log_kv(LOG_INFO, "request", "method", req->method, "path", req->path, "route",
               route_label(req->route_idx), "status", st, "ms", ms, "client", req->client_ip,
               (const char *)NULL);
    }
    log_set_request_id(NULL);
    if (req->dbc)
        db_release(req->dbc);
    for (size_t i = 0; i < req->nparams; i++)
        free(req->param_values[i]);
    for (size_t i = 0; i < req->nquery; i++) {
        free(req->query[i].name);
        free(req->query[i].value);
    }
    free(req->query);
    buf_free(&req->body);
    json_decref(req->json);
    json_decref(req->errors);
    free(req->detail);
    free(req->path);
    free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_kv(LOG_WARN, "http", "detail", msg, (const char *)NULL);
}

/* ------------------------------------------------------------ language */

const char *http_negotiate_lang(const char *al)
{
    const char *best = "en";
    double bestq = -1;
    if (!al)
        return best;
    const char *p = al;
    for (int items = 0; *p && items < 32; items++) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *semi = memchr(p, ';', n);
        size_t taglen = semi ? (size_t)(semi - p) : n;
        double q = 1.0;
        if (semi) {
            const char *qs = semi + 1;
            while (qs < p + n && *qs == ' ')
                qs++;
            if (qs + 2 <= p + n && qs[0] == 'q' && qs[1] == '=') {
                char tmp[8] = "";
                size_t ql = (size_t)(p + n - (qs + 2));
                if (ql < sizeof tmp) {
                    memcpy(tmp, qs + 2, ql);
                    tmp[ql] = '\0';
                    q = strtod(tmp, NULL);
                }
            }
        }
        const char *m = i18n_match(p, taglen);
        if (m && q > bestq && q > 0) {
            best = m;
            bestq = q;
        }
        if (!e)
            break;
        p = e + 1;
    }
    return best;
}

/* ------------------------------------------------------------ start/stop */

static enum st load_pem(const char *path, char **out, char *err, size_t errlen)
{
    size_t n;
    if (file_read_all(path, 1 << 20, out, &n) != ST_OK) {
        snprintf(err, errlen, "cannot read %s", path);
        return ST_INVALID;
    }
    return ST_OK;
}

enum st http_server_start(const struct http_options *opt, struct http_server **out, char *err,
                          size_t errlen)
{
    char host[256];
    uint16_t port;
    if (parse_host_port(opt->listen, host, sizeof host, &port) != ST_OK) {
        snprintf(err, errlen, "listen: expected HOST:PORT, got \"%s\"", opt->listen);
        return ST_INVALID;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    if (getaddrinfo(host, portstr, &hints, &ai) != 0 || !ai) {
        snprintf(err, errlen, "listen: cannot resolve \"%s\"", host);
        return ST_INVALID;
    }
    struct http_server *srv = xcalloc(1, sizeof *srv);
    srv->opt = *opt;
    if (!srv->opt.body_timeout_s)
        srv->opt.body_timeout_s = TIMEOUT_BODY_S;
    pthread_mutex_init(&srv->track_lock, NULL);
    if (http_cidrs_parse(opt->trusted_proxies, &srv->proxies, &srv->nproxies) != ST_OK) {
        snprintf(err, errlen, "trusted_proxies: not a list of addresses or CIDRs");
        goto fail;
    }
    srv->tls = opt->tls_cert_file && *opt->tls_cert_file;
    if (srv->tls && (load_pem(opt->tls_cert_file, &srv->cert_pem, err, errlen) != ST_OK ||
                     load_pem(opt->tls_key_file, &srv->key_pem, err, errlen) != ST_OK))
        goto fail;
    i18n_init();
    metrics_init();
    srv->statics = static_cache_load(opt->static_dir);

    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (srv->tls)
        flags |= MHD_USE_TLS;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* We answer 431 ourselves past CAP_HEADER_SECTION; the connection's
     * memory pool is a backstop (MHD then answers 431 in HTML), with room
     * for the response headers MHD builds in it. MHD zeroes the whole pool
     * on every keep-alive request, so it is kept no larger than needed:
     * 40 KiB still serves a full 16 KiB header section (docs/performance.md). */
    size_t pool = 2 * CAP_HEADER_SECTION + 8 * 1024;
    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
        {MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr},
        {MHD_OPTION_THREAD_POOL_SIZE, opt->threads > 1 ? opt->threads : 0, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, opt->connection_timeout_s, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, opt->max_connections, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, opt->max_connections_per_ip, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)pool, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, srv},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, srv},
        {MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL},
        {srv->tls ? MHD_OPTION_HTTPS_PRIORITIES : MHD_OPTION_END, 0,
         (void *)(uintptr_t) "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, srv->cert_pem},
        {srv->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, srv->key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    srv->daemon = MHD_start_daemon(flags, port, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, ops,
                                   MHD_OPTION_END);
    freeaddrinfo(ai);
    ai = NULL;
    if (!srv->daemon) {
        snprintf(err, errlen, "cannot listen on %s (%s)", opt->listen,
                 errno ? strerror(errno) : "libmicrohttpd refused the options");
        goto fail;
    }
    pthread_create(&srv->reaper, NULL, reaper, srv);
    *out = srv;
    return ST_OK;
fail:
    if (ai)
        freeaddrinfo(ai);
    static_cache_free(srv->statics);
    free(srv->proxies);
    free(srv->cert_pem);
    free(srv->key_pem);
    free(srv);
    return ST_INVALID;
}

void http_server_stop(struct http_server *srv)
{
    if (!srv)
        return;
    atomic_store(&shutting_down, true);
    MHD_socket ls = MHD_quiesce_daemon(srv->daemon);
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    uint64_t deadline = clock_mono_ns() + (uint64_t)TIMEOUT_SHUTDOWN_S * 1000000000ull;
    while (atomic_load(&srv->in_flight) > 0 && clock_mono_ns() < deadline)
        usleep(10000);
    MHD_stop_daemon(srv->daemon);
    atomic_store(&srv->reaper_stop, true);
    pthread_join(srv->reaper, NULL);
    static_cache_free(srv->statics);
    free(srv->proxies);
    if (srv->cert_pem)
        sodium_memzero(srv->cert_pem, strlen(srv->cert_pem));
    if (srv->key_pem)
        sodium_memzero(srv->key_pem, strlen(srv->key_pem));
    free(srv->cert_pem);
    free(srv->key_pem);
    free(srv);
}
