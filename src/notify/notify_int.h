/*
 * notify_int.h — inside src/notify only: the provider interface and the
 * helpers the providers share.
 */
#ifndef ENTREPOT_NOTIFY_INT_H
#define ENTREPOT_NOTIFY_INT_H

#include <curl/curl.h>

#include "notify.h"

/* One message handed to a provider: decrypted, valid (checked at
 * notify_send), owned by the caller. */
struct notify_delivery {
    int64_t id; /* outbox id */
    enum notify_channel channel;
    enum notify_purpose purpose;
    const char *to;
    const char *subject; /* e-mail only */
    const char *body;
    const char *unsubscribe_url; /* NULL or URL; e-mail only */
    const char *template_name;
    int64_t created_at;
    int attempt; /* 1 for the first try */
};

/* A delivery backend (DESIGN house style 7). configure runs at notify_init
 * (one thread, worker stopped) and keeps what it parsed in the provider's
 * file; send may then run on any thread. */
struct notify_provider {
    const char *name;            /* "dev", "smtp", "http": the configuration value */
    enum notify_channel channel; /* the one channel it serves */
    bool keeps_content;          /* payload stays in the outbox after delivery (dev) */
    /* Reads and checks its settings. ST_INVALID with a message in err. */
    enum st (*configure)(char *err, size_t errlen);
    /* The receiving system as the ledger names it, "smtp:mail.example.net". */
    const char *(*system)(void);
    /* ST_OK: accepted by the receiving system. ST_UNAVAILABLE: try again
     * later (unreachable, timeout, 4xx). ST_INVALID: this message will
     * never go (recipient refused, 5xx). err gets a short reason without
     * message content. */
    enum st (*send)(const struct notify_delivery *d, char *err, size_t errlen);
};

extern const struct notify_provider notify_dev_email;
extern const struct notify_provider notify_dev_sms;
extern const struct notify_provider notify_smtp;
extern const struct notify_provider notify_sms_http;

/* True once notify_worker_stop has begun: providers abort transfers (curl
 * progress callback) so the worker stops promptly. */
bool notify_stopping(void);
/* curl progress callback that aborts when notify_stopping. */
int notify_curl_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow);

/* Checks a URL for a provider setting: the scheme is one of schemes
 * (comma-separated), there is a host and no user or password. Writes the
 * host (for the ledger label), the port (0 when absent) and the scheme
 * into the out-parameters (each may be NULL). */
enum st notify_url_check(const char *url, const char *schemes, char *host, size_t hostlen,
                         long *port, char *scheme, size_t schemelen, char *err, size_t errlen);
/* True when host is a loopback name or address (localhost, 127.x, ::1). */
bool notify_host_is_loopback(const char *host);

/* Validation shared by notify_send and the renderer. */
bool notify_email_address_ok(const char *s);
bool notify_phone_ok(const char *s);
bool notify_url_ok(const char *s);

#endif
