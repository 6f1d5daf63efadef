/*
 * i18n.c — catalogue lookups for server-side messages.
 *
 * The catalogues are parsed once at start-up into jansson objects that are
 * never modified afterwards, so lookups from many threads need no lock.
 */
#include <jansson.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "core.h"
#include "i18n.h"

struct catalog_source {
    const char *lang;
    const char *json;
};
extern const struct catalog_source catalog_sources[];
extern const size_t catalog_sources_count;

const char *const i18n_langs[] = {"en", "zh-Hans", "zh-Hant", "fr"};
const size_t i18n_lang_count = sizeof i18n_langs / sizeof i18n_langs[0];

static json_t *catalogs[sizeof i18n_langs / sizeof i18n_langs[0]];
static bool loaded;

static int lang_index(const char *lang)
{
    for (size_t i = 0; i < i18n_lang_count; i++)
        if (lang && strcmp(lang, i18n_langs[i]) == 0)
            return (int)i;
    return -1;
}

size_t i18n_init(void)
{
    size_t n = 0;
    if (loaded) {
        for (size_t i = 0; i < i18n_lang_count; i++)
            n += catalogs[i] != NULL;
        return n;
    }
    for (size_t i = 0; i < catalog_sources_count; i++) {
        int li = lang_index(catalog_sources[i].lang);
        if (li < 0)
            continue;
        json_error_t e;
        json_t *obj = json_loads(catalog_sources[i].json, JSON_REJECT_DUPLICATES, &e);
        if (!obj || !json_is_object(obj)) {
            log_errorf("catalogue %s: %s", catalog_sources[i].lang, e.text);
            json_decref(obj);
            continue;
        }
        catalogs[li] = obj;
        n++;
    }
    loaded = true;
    return n;
}

const char *i18n_match(const char *tag, size_t len)
{
    if (!tag)
        return NULL;
    while (len && (*tag == ' ' || *tag == '\t'))
        tag++, len--;
    while (len && (tag[len - 1] == ' ' || tag[len - 1] == '\t'))
        len--;
    if (len == 0 || len > 32)
        return NULL;
    char t[33];
    memcpy(t, tag, len);
    t[len] = '\0';
    if (strncasecmp(t, "en", 2) == 0 && (len == 2 || t[2] == '-'))
        return "en";
    if (strncasecmp(t, "fr", 2) == 0 && (len == 2 || t[2] == '-'))
        return "fr";
    if (strncasecmp(t, "zh", 2) == 0 && (len == 2 || t[2] == '-')) {
        if (strcasestr(t, "hant") || strcasestr(t, "-tw") || strcasestr(t, "-hk") ||
            strcasestr(t, "-mo"))
            return "zh-Hant";
        return "zh-Hans";
    }
    return NULL;
}

const char *i18n_get(const char *lang, const char *key)
{
    int li = lang_index(lang);
    if (li >= 0 && catalogs[li]) {
        const char *s = json_string_value(json_object_get(catalogs[li], key));
        if (s && *s)
            return s;
    }
    if (catalogs[0]) {
        const char *s = json_string_value(json_object_get(catalogs[0], key));
        if (s && *s)
            return s;
    }
    return key;
}

char *i18n_format(const char *lang, const char *key, ...)
{
    const char *tmpl = i18n_get(lang, key);
    struct buf out;
    buf_init(&out, CAP_LOG_LINE);
    va_list ap;
    for (const char *p = tmpl; *p;) {
        const char *close = NULL;
        if (*p == '{')
            close = strchr(p, '}');
        if (!close) {
            buf_putc(&out, *p++);
            continue;
        }
        size_t nlen = (size_t)(close - p - 1);
        const char *val = NULL;
        va_start(ap, key);
        for (;;) {
            const char *name = va_arg(ap, const char *);
            if (!name)
                break;
            const char *v = va_arg(ap, const char *);
            if (strlen(name) == nlen && memcmp(name, p + 1, nlen) == 0) {
                val = v;
                break;
            }
        }
        va_end(ap);
        if (val) {
            buf_puts(&out, val);
            p = close + 1;
        } else {
            buf_putc(&out, *p++);
        }
    }
    return buf_take(&out);
}

size_t i18n_key_count(const char *lang)
{
    int li = lang_index(lang);
    return li >= 0 && catalogs[li] ? json_object_size(catalogs[li]) : 0;
}
