// A tiny message catalogue lookup. The catalogues are i18n/<lang>.json at the
// repository root, shared with the C server (one flat key → string object per
// language). English is bundled as the fallback; the other languages are
// separate chunks loaded on demand, so the bundle does not grow with every
// language added.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import en from '../../i18n/en.json';

// Option labels are endonyms: each language is named in itself, never translated.
export const LANGUAGES = [
  { code: 'en', label: 'English' },
  { code: 'zh-Hans', label: '简体中文' },
  { code: 'zh-Hant', label: '繁體中文' },
  { code: 'fr', label: 'Français' },
];
export const DEFAULT_LANG = 'en';
const STORAGE_KEY = 'entrepot.lang';

const loaders = import.meta.glob(['../../i18n/*.json', '!../../i18n/en.json'], { import: 'default' });
const cache = { en };

const supported = (code) => LANGUAGES.some((l) => l.code === code);

/* Maps one BCP 47 tag to a supported language, or null. */
export function matchLanguage(tag) {
  const t = String(tag || '').toLowerCase();
  if (t === 'zh' || t.startsWith('zh-')) {
    return /^zh-(hant|tw|hk|mo)\b/.test(t) ? 'zh-Hant' : 'zh-Hans';
  }
  if (t === 'fr' || t.startsWith('fr-')) return 'fr';
  if (t === 'en' || t.startsWith('en-')) return 'en';
  return null;
}

/* The first supported language in the browser's preference list, else English. */
export function negotiate(tags) {
  for (const tag of tags || []) {
    const lang = matchLanguage(tag);
    if (lang) return lang;
  }
  return DEFAULT_LANG;
}

/* The saved choice, else what the browser asks for. */
export function initialLanguage() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (supported(saved)) return saved;
  } catch {
    /* storage disabled: fall through */
  }
  const nav = typeof navigator === 'undefined' ? {} : navigator;
  return negotiate(nav.languages?.length ? nav.languages : [nav.language]);
}

export function saveLanguage(lang) {
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    /* storage disabled: the choice lasts for this page only */
  }
}

/* Resolves to the catalogue for lang (English when it cannot be loaded). */
export async function loadCatalogue(lang) {
  if (cache[lang]) return cache[lang];
  const load = loaders[`../../i18n/${lang}.json`];
  if (!load) return en;
  try {
    cache[lang] = await load();
    return cache[lang];
  } catch {
    return en; // chunk unreachable (offline, new deploy): show English rather than nothing
  }
}

/* Replaces {name} placeholders with params.name; unknown ones stay visible. */
export function format(text, params) {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/* A t(key, params) for one catalogue, falling back to English, then the key. */
export function translator(catalogue) {
  return (key, params) => format(catalogue[key] ?? en[key] ?? key, params);
}

export const I18n = createContext({ lang: DEFAULT_LANG, t: translator(en) });
export const useI18n = () => useContext(I18n);
