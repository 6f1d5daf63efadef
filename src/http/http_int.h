/*
 * http_int.h — shared between the files of src/http only.
 */
#ifndef ENTREPOT_HTTP_INT_H
#define ENTREPOT_HTTP_INT_H

#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>

#include "http.h"

#define HTTP_MAX_HEADERS_OUT 16

struct resp_header {
    char *name;
    char *value;
};

struct http_resp {
    unsigned status;
    char *content_type; /* owned */
    char *body;         /* owned */
    size_t body_len;
    const void *persistent; /* borrowed body (static cache), when body is NULL */
    struct resp_header headers[HTTP_MAX_HEADERS_OUT];
    size_t nheaders;
    bool is_problem;
    bool is_html;
};

struct query_kv {
    char *name;
    char *value;
};

struct http_req {
    struct http_server *srv;
    struct MHD_Connection *conn;
    const char *method; /* borrowed from MHD for the request's life */
    char *path;
    int route_idx; /* -1 when no route matched */
    const char *param_names[CAP_PATH_PARAMS];
    char *param_values[CAP_PATH_PARAMS];
    size_t nparams;
    struct query_kv *query;
    size_t nquery;
    struct buf body;
    json_t *json;
    bool body_expected;
    bool rejected; /* a response was queued before the body ended */
    bool oversize; /* the body passed the cap: answer 413 at its end */
    size_t drained;
    bool is_head;
    bool begun;           /* the access handler has seen it (on_uri made it before) */
    const char *version;  /* borrowed from MHD, like method */
    size_t target_len;    /* bytes of the raw request target, query included */
    size_t target_params; /* query parameters in it ('&'-separated pieces) */
    char rid[CAP_REQUEST_ID + 1];
    char client_ip[64];
    const char *lang;
    struct db_conn *dbc;
    json_t *errors; /* field errors for the problem response */
    char *detail;
    uint64_t t0;
    unsigned status;
    struct http_identity ident;
};

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_options opt;
    struct ip_cidr *proxies;
    size_t nproxies;
    bool tls;
    char *cert_pem;
    char *key_pem;
    atomic_int in_flight;
    atomic_int open_conns;
    struct static_cache *statics;
    pthread_mutex_t track_lock;
    struct conn_track *tracks; /* connections, for the slow-client reaper */
    pthread_t reaper;
    atomic_bool reaper_stop;
    atomic_ulong slow_cut;
};

/* router.c */
int router_find(const char *method, const char *path, struct http_req *req, char *allow,
                size_t allowlen, bool *path_known);
void router_check_all(bool test_mode);
const char *route_label(int idx);
/* Applies the gate (http_set_gate) to a POLICY_USER route's request. */
enum st router_gate(struct http_req *req, const char **problem);

/* validate.c */
enum st validate_query(struct http_req *req, const struct field_spec *spec);
enum st validate_body(struct http_req *req, const struct field_spec *spec);

/* One request header line as libmicrohttpd parsed it (not NUL-terminated
 * as far as these functions care: they read exactly klen and vlen bytes). */
struct http_hdr {
    const char *key;
    size_t klen;
    const char *val;
    size_t vlen;
};
/* Judges what libmicrohttpd 0.9.75 lets through in a request head: header
 * names must be tokens and values free of control bytes ("bad-header");
 * the body's length must be unambiguous — one Content-Length of digits, or
 * one Transfer-Encoding of exactly "chunked" on HTTP/1.1, never both
 * (RFC 9112 §6.3, "bad-framing"; a valid coding list it cannot decode is
 * 501 "unsupported-transfer-coding"); Host present once on HTTP/1.1 and
 * never twice or invalid (RFC 9112 §3.2, "bad-host"). NULL when the head
 * is fine, else the problem name with *status (400 or 501). */
const char *http_head_check(const struct http_hdr *h, size_t n, bool http11, unsigned *status);
/* RFC 3986 host [":" port] as a Host value may hold it; empty is valid. */
bool http_host_valid(const char *v, size_t n);

/* Where one header line's key and value lie, as byte offsets from the
 * start of the request line. */
struct http_span {
    size_t key, klen, val, vlen;
};
/* True when the parsed header lines account for every byte of a header
 * section of section_len bytes whose request line ends (its terminator
 * starts) at line_end: each line starts right after the previous one's LF
 * or CRLF, its value after its key and colon, and the section ends with one
 * more line end and an empty line. libmicrohttpd 0.9.75 parses in place and
 * cuts a value at a NUL byte or rebuilds a folded line elsewhere; either
 * leaves bytes no header accounts for, which this detects. */
bool http_head_layout_ok(size_t line_end, const struct http_span *s, size_t n, size_t section_len);

/* problem.c */
/* Like http_field_error with an explicit, already escaped JSON pointer
 * ("#/tags/2") for places below the top level. */
enum st http_field_error_at(struct http_req *req, const char *pointer, const char *field,
                            const char *code, int64_t min, int64_t max, const char *type);
void problem_build(struct http_req *req, struct http_resp *resp, enum st s, const char *name,
                   unsigned status, const char *detail_override);
void problem_for_status(struct http_req *req, struct http_resp *resp, enum st s);

/* static.c */
struct static_cache;
struct static_cache *static_cache_load(const char *dir);
void static_cache_free(struct static_cache *c);
/* Fills resp for a GET/HEAD of path; false when the path is not ours. */
bool static_serve(struct static_cache *c, struct http_req *req, struct http_resp *resp);

/* metrics.c */
void metrics_init(void);
void metrics_observe(int route_idx, unsigned status, uint64_t ns);
void metrics_render(struct buf *out, struct http_server *srv);

#endif
