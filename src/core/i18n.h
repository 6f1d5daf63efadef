/*
 * i18n.h — the message catalogue shared by the server and the web app.
 *
 * i18n/<lang>.json (flat key → string) is embedded at build time; the web
 * app imports the very same files. Lookups fall back to English, then to
 * the key itself, so a missing translation is visible but never fatal.
 */
#ifndef ENTREPOT_I18N_H
#define ENTREPOT_I18N_H

#include <stddef.h>

/* The supported UI languages, in catalogue order: en, zh-Hans, zh-Hant, fr. */
extern const char *const i18n_langs[];
extern const size_t i18n_lang_count;

/* Loads the embedded catalogues. Idempotent; thread-safe after first call
 * (call once at start-up). Returns the number of languages loaded. */
size_t i18n_init(void);
/* Canonical tag for a supported language (case-insensitive, "zh-TW" maps to
 * zh-Hant and so on); NULL when unsupported. */
const char *i18n_match(const char *tag, size_t len);
/* The message for key in lang; never NULL. */
const char *i18n_get(const char *lang, const char *key);
/* Like i18n_get, then replaces {name} placeholders from a NULL-terminated
 * list of (name, value) pairs. Caller frees. */
char *i18n_format(const char *lang, const char *key, ...);
/* Number of keys in a language's catalogue (0 when unknown). */
size_t i18n_key_count(const char *lang);

#endif
