/*
 * http.h — the HTTP layer: server, router, declared validation, responses.
 *
 * A module exposes its API as a static table of `struct route`; each route
 * declares who may call it (policy), its query parameters and its JSON body
 * fields. The layer validates everything declared before the handler runs,
 * so handlers receive trusted, typed input and only turn it into calls on
 * their domain module. Handlers return an `enum st`; anything but ST_OK
 * becomes an RFC 9457 problem+json response in one place (problem.c).
 *
 * Only `*_api.c` files and src/cmd include this header; domain folders must
 * not (`make lint` checks).
 */
#ifndef ENTREPOT_HTTP_H
#define ENTREPOT_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "db/db.h"

struct http_req;
struct http_resp;
struct http_server;

/* Who may call a route. POLICY_UNSET is zero on purpose: a route table entry
 * that forgets its policy is caught by a test and refused at start-up. */
enum policy {
    POLICY_UNSET = 0,
    POLICY_PUBLIC,    /* anyone, no session needed (a session is still read) */
    POLICY_TEST_ONLY, /* exists only with --test-mode */
    POLICY_USER,      /* a signed-in user: 401 otherwise */
    POLICY_STAFF,     /* signed-in staff holding one of route.roles: 401/403 */
};

/* Staff roles (least privilege: each route names the roles it needs). */
#define STAFF_SUPPORT    (1u << 0)
#define STAFF_OPERATIONS (1u << 1)
#define STAFF_COMPLIANCE (1u << 2)
#define STAFF_ADMIN      (1u << 3)

enum field_type {
    FT_STRING = 1,
    FT_INT,
    FT_BOOL,
    FT_STRING_ARRAY,
    FT_OBJECT, /* free-form object, validated by the handler */
};

/* A declared body field or query parameter. For strings min/max count code
 * points; for integers they bound the value; for arrays max_items bounds the
 * count and min/max apply to each element. */
struct field_spec {
    const char *name;
    enum field_type type;
    bool required;
    bool nullable;
    int64_t min;
    int64_t max;
    int max_items;
    const char *help; /* one line for the OpenAPI document and `routes` */
};

typedef enum st (*http_handler)(struct http_req *req, struct http_resp *resp);

struct route {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/api/v1/topics/{id}" */
    http_handler handler;
    enum policy policy;
    const struct field_spec *query; /* terminated by {0}; may be NULL */
    const struct field_spec *body;  /* terminated by {0}; NULL = no body */
    const char *summary;
    unsigned roles; /* POLICY_STAFF: any of these STAFF_* roles may call */
    /* A route that takes a raw body (an image...) instead of JSON: the
     * media types it accepts (NULL-terminated; another type is 415) and
     * its own size cap in bytes (413 past it). body must then be NULL. */
    const char *const *raw_types;
    size_t raw_max;
    /* POLICY_USER routes: true = the gate (http_set_gate) does not apply. */
    bool gate_exempt;
};

/* Who is calling, as the authenticator found out. */
struct http_identity {
    int64_t user_id; /* 0 = anonymous */
    int64_t session_id;
    unsigned staff_roles;
    bool via_cookie; /* credentials came from the session cookie (CSRF applies) */
    bool csrf_ok;    /* the request carried the session's CSRF token */
};

/* Reads credentials (cookie or bearer token) and fills the identity. Returns
 * ST_OK (anonymous when no credentials), ST_UNAUTHORIZED for credentials
 * that are invalid or expired, ST_UNAVAILABLE when it cannot tell. Set once
 * at start-up by the accounts module; without one everyone is anonymous. */
typedef enum st (*http_authenticator)(struct http_req *req, struct http_identity *out);
void http_set_authenticator(http_authenticator fn);
const struct http_identity *http_req_identity(const struct http_req *req);

/* A gate every signed-in user's request passes after authentication and
 * the policy checks: POLICY_USER routes only, except those with
 * gate_exempt or named by http_gate_exempt. It answers ST_OK to let the
 * request through, ST_FORBIDDEN with *problem set to a problem name to
 * refuse it (403, type urn:entrepot:problem:<name>, title and detail from
 * the catalogue's "problem.<name>.*"), or ST_UNAVAILABLE when it cannot
 * tell (503). Set once at start-up (the privacy module's consent gate);
 * without one nothing is gated. */
typedef enum st (*http_gate)(struct http_req *req, const char **problem);
void http_set_gate(http_gate fn);
/* Exempts a route another module registered, by method and pattern.
 * Aborts when no such route is registered: a renamed route must not turn
 * gated unnoticed. Call after both are registered, before serving. */
void http_gate_exempt(const char *method, const char *pattern);

/* ---------------------------------------------------------------- server */

struct http_options {
    const char *listen; /* "host:port" */
    int threads;
    size_t max_body;
    unsigned connection_timeout_s;
    unsigned body_timeout_s; /* a request's whole body must arrive within it; 0 = TIMEOUT_BODY_S */
    unsigned max_connections;
    unsigned max_connections_per_ip;
    const char *tls_cert_file; /* NULL/empty = plain HTTP */
    const char *tls_key_file;
    const char *trusted_proxies; /* comma-separated addresses/CIDRs */
    const char *static_dir;      /* NULL/empty = no static files */
    bool test_mode;
    bool access_log;
    struct db *db; /* borrowed; may be NULL (then /readyz is 503) */
};

/* Registers a table of n routes. Call before http_server_start. Aborts the
 * program on a malformed table (no policy, bad pattern): a programming error. */
void http_routes_add(const struct route *routes, size_t n);
/* The registered routes, in registration order. */
const struct route *http_route_at(size_t i);
size_t http_route_count(void);
/* Registers the built-in routes (health, readiness, metrics, ping, test). */
void http_sys_routes_register(void);

/* Starts listening. Returns ST_INVALID with a message for bad options. */
enum st http_server_start(const struct http_options *opt, struct http_server **out, char *err,
                          size_t errlen);
/* Stops accepting, lets in-flight requests finish (up to TIMEOUT_SHUTDOWN_S),
 * then frees everything. */
void http_server_stop(struct http_server *srv);

/* ---------------------------------------------------------------- request */

const char *http_req_method(const struct http_req *req);
const char *http_req_path(const struct http_req *req);
/* A path parameter by name ("id" for "{id}"); NULL when absent. */
const char *http_req_param(const struct http_req *req, const char *name);
/* A validated query parameter; NULL when absent. */
const char *http_req_query(const struct http_req *req, const char *name);
/* A request header (case-insensitive); NULL when absent. */
const char *http_req_header(const struct http_req *req, const char *name);
const char *http_req_cookie(const struct http_req *req, const char *name);
/* The validated JSON body (an object) or NULL for routes without a body.
 * Borrowed: valid until the request ends. */
json_t *http_req_body(const struct http_req *req);
/* The raw body of a route with raw_types (never NULL; *len 0 when empty)
 * and its media type as the route declares it ("image/png"). Borrowed:
 * valid until the request ends. */
const void *http_req_raw_body(const struct http_req *req, size_t *len, const char **type);
/* The client's address, honouring X-Forwarded-For from trusted proxies. */
const char *http_req_client_ip(const struct http_req *req);
/* The negotiated UI language tag (en, zh-Hans, zh-Hant, fr). */
const char *http_req_lang(const struct http_req *req);
const char *http_req_id(const struct http_req *req);
bool http_req_tls(const struct http_req *req);
bool http_req_test_mode(const struct http_req *req);
/* A database connection borrowed for the rest of the request (released
 * automatically). ST_UNAVAILABLE when the database cannot be reached. */
enum st http_req_db(struct http_req *req, struct db_conn **out);
/* The database handle itself (for pings); may be NULL. */
struct db *http_req_database(const struct http_req *req);

/* Records a field-level error for the problem response. code is one of the
 * stable codes (required, type, too_long, ...); the message comes from the
 * catalogue key "field.<code>" with {min}/{max}/{type} filled from the
 * arguments (pass 0/NULL where unused). Returns ST_INVALID for chaining:
 * `return http_field_error(req, "title", "too_long", 0, 200, NULL);` */
enum st http_field_error(struct http_req *req, const char *field, const char *code, int64_t min,
                         int64_t max, const char *type);
/* Sets the detail text of the problem response (already localised). */
void http_req_set_detail(struct http_req *req, const char *detail);

/* ---------------------------------------------------------------- response */

/* Sets a JSON response; takes ownership of (steals) obj. */
enum st http_resp_json(struct http_resp *resp, unsigned status, json_t *obj);
/* Sets a response from bytes (copied). */
enum st http_resp_bytes(struct http_resp *resp, unsigned status, const char *content_type,
                        const void *data, size_t len);
/* Adds a header (copied). */
void http_resp_header(struct http_resp *resp, const char *name, const char *value);
/* Adds a Set-Cookie header with secure defaults: Path=/, HttpOnly,
 * SameSite=Lax, and Secure under TLS. max_age_s < 0 means a session cookie,
 * 0 deletes it. */
void http_resp_cookie(struct http_req *req, struct http_resp *resp, const char *name,
                      const char *value, int64_t max_age_s);

/* A page of the web app rendered by the server, so that it reads without
 * JavaScript and crawlers see its text: the app's own index.html (static.c
 * keeps it in memory; a minimal shell without a static directory) with
 * the page's title, meta description, canonical link and Open Graph tags
 * in <head> and body inside <div id="app">, which the app replaces when it
 * starts. title, description and canonical are plain text (escaped here);
 * canonical is a path, made absolute with the public_url setting when set.
 * body is HTML the caller has made safe. */
struct http_page {
    const char *title;
    const char *description; /* NULL: the shell's own */
    const char *canonical;   /* "/t/12"; NULL: none */
    const char *og_type;     /* "article", "website" (NULL) */
    const char *body;
    size_t body_len;
};
/* Sets resp to the page with status (200, 404...) as text/html under the
 * app's Content-Security-Policy. ST_TOOLARGE past CAP_HTML_PAGE. */
enum st http_resp_page(struct http_req *req, struct http_resp *resp, unsigned status,
                       const struct http_page *page);
/* Pages the server renders in place of the app's index.html for some
 * app paths ("/t/{id}"): tried for GET and HEAD before the SPA fallback,
 * after every API route. They are not API routes (not in `entrepot routes`
 * nor the OpenAPI document): anyone may read them, no session is read,
 * and the query string is the handler's to check (http_req_query gives
 * raw, unvalidated values; unknown parameters are ignored, as crawlers and
 * shared links add their own). A handler that fails answers problem+json. */
struct http_page_route {
    const char *pattern; /* "/t/{id}" */
    http_handler handler;
};
/* Registers n page routes. Call before http_server_start. */
void http_pages_add(const struct http_page_route *pages, size_t n);

/* ---------------------------------------------------------------- helpers */

/* The HTTP status for a status code. */
unsigned http_status_of(enum st s);
/* Client address helpers (exposed for tests and fuzzing). */
/* Parses "a.b.c.d", "a.b.c.d/n", "v6", "v6/n" lists. Returns ST_INVALID. */
enum st http_cidrs_parse(const char *list, struct ip_cidr **out, size_t *n);
bool http_cidrs_match(const struct ip_cidr *set, size_t n, const char *ip);
/* Chooses the client address: the rightmost X-Forwarded-For entry not in the
 * trusted set, when the peer itself is trusted; else the peer. */
void http_client_ip(const struct ip_cidr *set, size_t n, const char *peer, const char *xff,
                    char *out, size_t outlen);
/* Splits a path against a pattern; fills up to CAP_PATH_PARAMS values. */
bool http_path_match(const char *pattern, const char *path, const char **names, char **values,
                     size_t *nparams);
/* Scans a JSON text before parsing: depth cap and UTF-8 validity of every
 * string, reporting a JSON pointer to the offending place. */
enum st http_json_prescan(const char *s, size_t n, int max_depth, char *pointer, size_t plen,
                          const char **code);
/* Parses an Accept-Language header to one of the supported UI languages. */
const char *http_negotiate_lang(const char *accept_language);

#endif
