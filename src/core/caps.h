/*
 * caps.h — every size, count and time limit of the server, named once.
 *
 * A limit that a user or an attacker can hit lives here, so a reviewer can
 * read the whole attack surface's budget on one page.
 */
#ifndef ENTREPOT_CAPS_H
#define ENTREPOT_CAPS_H

#define CAP_JSON_BODY       (1024 * 1024)      /* bytes of a JSON request body */
#define CAP_JSON_DEPTH      32                 /* nesting of arrays/objects */
#define CAP_HEADER_SECTION  (16 * 1024)        /* bytes of request line + headers */
#define CAP_URL             4096               /* bytes of the request target */
#define CAP_PATH_PARAMS     8                  /* path parameters a route may have */
#define CAP_QUERY_PARAMS    32                 /* query parameters in one request */
#define CAP_COOKIES         32                 /* cookies parsed from one request */
#define CAP_CONFIG_FILE     (64 * 1024)        /* bytes of the config file */
#define CAP_CONFIG_LINE     1024               /* bytes of one config line */
#define CAP_LOG_LINE        4096               /* bytes of one log line */
#define CAP_PROBLEM         4096               /* bytes of a problem+json body */
#define CAP_STATIC_FILE     (32 * 1024 * 1024) /* largest file served from web/dist */
#define CAP_HTML_PAGE       (8 * 1024 * 1024)  /* bytes of a server-rendered page */
#define CAP_TRUSTED_PROXIES 16                 /* entries of trusted_proxies */
#define CAP_REQUEST_ID      64                 /* bytes of an X-Request-Id we accept */

#define TIMEOUT_CONNECTION_S  15   /* idle/slow client cut-off */
#define TIMEOUT_BODY_S        30   /* a request body's whole upload */
#define TIMEOUT_SHUTDOWN_S    20   /* grace for in-flight requests */
#define DB_BUSY_TIMEOUT_MS    5000 /* SQLite busy wait */
#define DB_ACQUIRE_TIMEOUT_MS 2000 /* wait for a pooled connection */
#define DB_CONNECT_TIMEOUT_S  2    /* PostgreSQL connect timeout */

#endif
