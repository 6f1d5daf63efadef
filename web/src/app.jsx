// The application shell: header with the product name and language switcher,
// navigation between the five products, a main area, and the server status.
// Routing is by path (history API); the server answers any unknown path with
// index.html, so deep links such as /community/topics/123 load this shell.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { I18n, LANGUAGES, loadCatalogue, saveLanguage, translator, useI18n } from './i18n.js';

export const PRODUCTS = [
  { slug: 'support', key: 'nav.support' },
  { slug: 'community', key: 'nav.community' },
  { slug: 'classifieds', key: 'nav.classifieds' },
  { slug: 'directory', key: 'nav.directory' },
  { slug: 'services', key: 'nav.services' },
];

const PING_TIMEOUT_MS = 5000;

/* The first path segment decides the section: '' (home), a product slug, or unknown. */
function sectionOf(path) {
  const first = path.split('/').filter(Boolean)[0] || '';
  if (first === '') return { kind: 'home' };
  const product = PRODUCTS.find((p) => p.slug === first);
  return product ? { kind: 'product', product } : { kind: 'unknown' };
}

function useLocationPath() {
  const [path, setPath] = useState(() => location.pathname);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  const navigate = useCallback((href) => {
    if (href !== location.pathname) history.pushState(null, '', href);
    setPath(location.pathname);
  }, []);
  return [path, navigate];
}

/* Follows same-origin link clicks inside the app without reloading the page. */
function linkHandler(navigate) {
  return (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest('a[href^="/"]');
    if (!a || a.target) return;
    e.preventDefault();
    navigate(a.getAttribute('href'));
  };
}

async function ping() {
  const opts = { headers: { Accept: 'application/json' }, cache: 'no-store' };
  if (typeof AbortSignal !== 'undefined' && AbortSignal.timeout) opts.signal = AbortSignal.timeout(PING_TIMEOUT_MS);
  try {
    const res = await fetch('/api/v1/ping', opts);
    if (!res.ok) return false;
    const body = await res.json();
    return body?.status === 'ok' && body?.service === 'entrepot';
  } catch {
    return false;
  }
}

function ServerStatus() {
  const { t } = useI18n();
  const [state, setState] = useState('checking');
  const check = useCallback(async () => {
    setState('checking');
    setState((await ping()) ? 'online' : 'offline');
  }, []);
  useEffect(() => {
    check();
    addEventListener('online', check);
    return () => removeEventListener('online', check);
  }, [check]);
  return (
    <div class="status" data-status={state}>
      <p role="status" class="status-text">
        <span class="status-dot" aria-hidden="true" />
        {t(`status.${state}`)}
      </p>
      {state === 'offline' && (
        <button type="button" class="button" onClick={check}>
          {t('status.retry')}
        </button>
      )}
    </div>
  );
}

function LanguageSwitcher({ lang, onChange }) {
  const { t } = useI18n();
  return (
    <label class="lang">
      <span class="lang-icon" aria-hidden="true">
        文A
      </span>
      <select aria-label={t('lang.label')} value={lang} onChange={(e) => onChange(e.currentTarget.value)}>
        {LANGUAGES.map((l) => (
          <option key={l.code} value={l.code} lang={l.code}>
            {l.label}
          </option>
        ))}
      </select>
    </label>
  );
}

function Nav({ current }) {
  const { t } = useI18n();
  return (
    <nav class="nav" aria-label={t('nav.label')}>
      <ul>
        {PRODUCTS.map((p) => (
          <li key={p.slug}>
            <a href={`/${p.slug}`} aria-current={current === p.slug ? 'page' : undefined}>
              {t(p.key)}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function Content({ section, headingRef }) {
  const { t } = useI18n();
  if (section.kind === 'home') {
    return (
      <section class="welcome">
        <h1 ref={headingRef} tabIndex={-1}>
          {t('app.welcome.title')}
        </h1>
        <p class="lead">{t('app.welcome.body')}</p>
      </section>
    );
  }
  const title = section.kind === 'product' ? t(section.product.key) : t('problem.not-found.title');
  const text =
    section.kind === 'product' ? t('section.soon', { product: t(section.product.key) }) : t('section.not-found');
  return (
    <section class="placeholder">
      <h1 ref={headingRef} tabIndex={-1}>
        {title}
      </h1>
      <p class="lead">{text}</p>
      <p>
        <a href="/">{t('section.back')}</a>
      </p>
    </section>
  );
}

export function App({ initialLang, initialCatalogue }) {
  const [i18n, setI18n] = useState(() => ({ lang: initialLang, t: translator(initialCatalogue) }));
  const [path, navigate] = useLocationPath();
  const section = sectionOf(path);
  const headingRef = useRef(null);
  const firstPath = useRef(path);
  const { lang, t } = i18n;

  const changeLanguage = useCallback(async (code) => {
    saveLanguage(code);
    const catalogue = await loadCatalogue(code);
    setI18n({ lang: code, t: translator(catalogue) });
  }, []);

  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);

  useEffect(() => {
    const name = t('app.name');
    document.title = section.kind === 'product' ? `${t(section.product.key)} · ${name}` : name;
  }, [t, path]);

  // After in-app navigation, move focus to the new page's heading for screen readers.
  useEffect(() => {
    if (path !== firstPath.current) {
      firstPath.current = null;
      headingRef.current?.focus();
    }
  }, [path]);

  return (
    <I18n.Provider value={i18n}>
      <div class="shell" onClick={linkHandler(navigate)}>
        <a class="skip" href="#main">
          {t('app.skip')}
        </a>
        <header class="header">
          <div class="header-inner">
            <a class="brand" href="/" aria-label={t('app.home')}>
              <span class="brand-mark" aria-hidden="true" />
              <span class="brand-name">{t('app.name')}</span>
            </a>
            <span class="tagline">{t('app.tagline')}</span>
            <LanguageSwitcher lang={lang} onChange={changeLanguage} />
          </div>
          <Nav current={section.kind === 'product' ? section.product.slug : null} />
        </header>
        <main id="main" class="main">
          <Content section={section} headingRef={headingRef} />
          <ServerStatus />
        </main>
        <footer class="footer">
          <p>{t('app.footer')}</p>
        </footer>
      </div>
    </I18n.Provider>
  );
}
