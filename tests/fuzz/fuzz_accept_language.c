/*
 * fuzz_accept_language.c — Accept-Language negotiation.
 *
 * Properties: the answer is always one of the supported UI languages
 * (en, zh-Hans, zh-Hant, fr — the very strings of i18n_langs, so callers
 * may compare pointers); a language other than English is only chosen when
 * its primary subtag ("fr", "zh", any case) occurs in the header; zh-Hant
 * only when a Traditional marker (hant, -tw, -hk, -mo) occurs too; a header
 * that names neither gives English (whatever its "*" and q-values say); a
 * missing header gives English; and the header is never read past its
 * terminating NUL (exact-size heap copy).
 */
#include <strings.h>

#include "core/core.h"
#include "http/http.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char *h = fuzz_cstr(data, n);
    const char *lang = http_negotiate_lang(h);
    FUZZ_CHECK(lang, "NULL language");
    bool known = false;
    for (size_t i = 0; i < i18n_lang_count; i++)
        known |= lang == i18n_langs[i] || strcmp(lang, i18n_langs[i]) == 0;
    FUZZ_CHECK(known, "unsupported language \"%s\"", lang);
    if (strcmp(lang, "fr") == 0)
        FUZZ_CHECK(strcasestr(h, "fr"), "fr chosen without \"fr\" in the header");
    if (strncmp(lang, "zh", 2) == 0)
        FUZZ_CHECK(strcasestr(h, "zh"), "%s chosen without \"zh\" in the header", lang);
    if (strcmp(lang, "zh-Hant") == 0)
        FUZZ_CHECK(strcasestr(h, "hant") || strcasestr(h, "-tw") || strcasestr(h, "-hk") ||
                       strcasestr(h, "-mo"),
                   "zh-Hant chosen without a Traditional marker");
    if (!strcasestr(h, "fr") && !strcasestr(h, "zh"))
        FUZZ_CHECK(strcmp(lang, "en") == 0, "\"%s\" from a header naming neither fr nor zh", lang);
    FUZZ_CHECK(strcmp(http_negotiate_lang(NULL), "en") == 0, "NULL header is not en");
    free(h);
    return 0;
}
