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

/* validate.c */
enum st validate_query(struct http_req *req, const struct field_spec *spec);
enum st validate_body(struct http_req *req, const struct field_spec *spec);

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
