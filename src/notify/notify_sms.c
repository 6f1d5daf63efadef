/*
 * notify_sms.c — the HTTP SMS provider: one JSON POST per message to a
 * gateway (sms_http_url), authenticated with a bearer token.
 *
 *   POST sms_http_url
 *   Authorization: Bearer <sms_http_token>
 *   Content-Type: application/json
 *   {"to":"+8613800138000","text":"..."}
 *
 * Any 2xx answer means accepted. The design decision to know: only 400,
 * 413 and 422 count as a refusal of this very message (it is then
 * 'failed'); every other answer — 401/403 from a wrong token, 404 from a
 * wrong URL, 429, 5xx, a timeout — is about the gateway or our
 * configuration, so the message waits and is tried again with backoff.
 * Redirects are not followed (the token must not go elsewhere). Most
 * commercial gateways need a small adapter in front that speaks this
 * shape; a new provider table is the other way.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "notify_int.h"

#define RESPONSE_MAX (64 * 1024) /* bytes of a gateway answer we read */

static struct {
    char url[NOTIFY_URL_MAX + 1];
    char system[300]; /* "sms:HOST" */
} sms;

static enum st sms_configure(char *err, size_t errlen)
{
    const char *url = config_str("sms_http_url");
    char host[256], scheme[16], why[128];
    if (!*url) {
        snprintf(err, errlen, "sms_http_url: required when sms_provider is http");
        return ST_INVALID;
    }
    if (strlen(url) >= sizeof sms.url) {
        snprintf(err, errlen, "sms_http_url: too long");
        return ST_INVALID;
    }
    enum st st = notify_url_check(url, "http,https", host, sizeof host, NULL, scheme, sizeof scheme,
                                  why, sizeof why);
    if (st != ST_OK) {
        snprintf(err, errlen, "sms_http_url: %s", why);
        return st;
    }
    if (strcmp(scheme, "http") == 0 && *config_str("sms_http_token") &&
        !notify_host_is_loopback(host)) {
        snprintf(err, errlen,
                 "sms_http_url: the token would cross the network in clear; use https://");
        return ST_INVALID;
    }
    snprintf(sms.url, sizeof sms.url, "%s", url);
    snprintf(sms.system, sizeof sms.system, "sms:%s", host);
    return ST_OK;
}

static const char *sms_system(void)
{
    return sms.system;
}

/* Reads and drops the answer, up to RESPONSE_MAX bytes. */
static size_t sink(char *p, size_t size, size_t nmemb, void *arg)
{
    (void)p;
    size_t *total = arg;
    size_t n = size * nmemb;
    *total += n;
    return *total > RESPONSE_MAX ? 0 : n;
}

static enum st sms_send(const struct notify_delivery *d, char *err, size_t errlen)
{
    struct buf body;
    buf_init(&body, NOTIFY_SMS_CHARS * 8 + 256);
    enum st st = buf_puts(&body, "{\"to\":");
    if (st == ST_OK)
        st = buf_json_str(&body, d->to);
    if (st == ST_OK)
        st = buf_puts(&body, ",\"text\":");
    if (st == ST_OK)
        st = buf_json_str(&body, d->body);
    if (st == ST_OK)
        st = buf_putc(&body, '}');
    if (st != ST_OK) {
        buf_free(&body);
        snprintf(err, errlen, "message too large");
        return ST_INVALID;
    }
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    hdr = hdr ? curl_slist_append(hdr, "Accept: application/json") : NULL;
    char *auth = NULL;
    const char *token = config_str("sms_http_token");
    if (hdr && *token) {
        auth = xasprintf("Authorization: Bearer %s", token);
        struct curl_slist *h2 = curl_slist_append(hdr, auth);
        if (!h2) {
            curl_slist_free_all(hdr);
            hdr = NULL;
        }
    }
    CURL *h = curl_easy_init();
    if (!h || !hdr) {
        curl_easy_cleanup(h);
        curl_slist_free_all(hdr);
        if (auth)
            sodium_memzero(auth, strlen(auth));
        xfree(auth);
        buf_free(&body);
        snprintf(err, errlen, "libcurl: out of memory");
        return ST_UNAVAILABLE;
    }
    size_t got = 0;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, sms.url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)NOTIFY_CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)NOTIFY_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, notify_curl_progress);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "entrepot/" ENTREPOT_VERSION);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdr);
    if (auth)
        sodium_memzero(auth, strlen(auth));
    xfree(auth);
    if (body.len)
        sodium_memzero(body.data, body.len);
    buf_free(&body);
    /* A 2xx whose answer we stopped reading (too long) was still accepted. */
    if ((rc == CURLE_OK || rc == CURLE_WRITE_ERROR) && status >= 200 && status < 300)
        return ST_OK;
    if (rc != CURLE_OK && status == 0) {
        snprintf(err, errlen, "sms: %s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return ST_UNAVAILABLE;
    }
    snprintf(err, errlen, "sms: HTTP %ld", status);
    return status == 400 || status == 413 || status == 422 ? ST_INVALID : ST_UNAVAILABLE;
}

const struct notify_provider notify_sms_http = {
    .name = "http",
    .channel = NOTIFY_SMS,
    .keeps_content = false,
    .configure = sms_configure,
    .system = sms_system,
    .send = sms_send,
};
