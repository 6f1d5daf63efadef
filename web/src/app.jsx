// The application shell: header with the product name, the signed-in state
// and the language switcher, navigation between the five products, a main
// area whose page the router picks from the path, and the server status.
// Routing is by path (history API); the server answers any unknown path with
// index.html, so deep links such as /account/sessions load this shell.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { patch, setApiLang } from './api.js';
import { I18n, LANGUAGES, loadCatalogue, saveLanguage, translator, useI18n } from './i18n.js';
import { AccountPage, FrozenPage } from './pages/account.jsx';
import { TopicPage } from './pages/community-topic.jsx';
import { BoardPage, CommunityHome, MySpacePage, NewTopicPage, SearchPage } from './pages/community.jsx';
import { RegisterPage, ResetPage, SignInPage, StaffSignInPage, UnfreezePage } from './pages/auth.jsx';
import { RequireUser, useTitle } from './pages/page.jsx';
import { FeedPage } from './pages/feed.jsx';
import { InboxBadge, InboxPage } from './pages/inbox.jsx';
import { ConsentGate, PrivacyPage } from './pages/privacy.jsx';
import { RequestsPage, TicketPage } from './pages/requests.jsx';
import { StaffBreachPage, StaffBreachesPage } from './pages/staff-breaches.jsx';
import {
  StaffComplaintPage,
  StaffComplaintsPage,
  StaffConsole,
  StaffCorrectionPage,
  StaffCorrectionsPage,
  StaffMinorsPage,
} from './pages/staff.jsx';
import { UserPage } from './pages/user.jsx';
import { Router, linkHandler, match, useLocation, useRouter } from './router.js';
import { Session, useSession, useSessionState } from './session.js';

export const PRODUCTS = [
  { slug: 'support', key: 'nav.support' },
  { slug: 'community', key: 'nav.community' },
  { slug: 'classifieds', key: 'nav.classifieds' },
  { slug: 'directory', key: 'nav.directory' },
  { slug: 'services', key: 'nav.services' },
];

/* The app's own pages: [pattern, component, needs a session, nav section]. */
const ROUTES = [
  ['/register', RegisterPage],
  ['/sign-in', SignInPage],
  ['/password-reset', ResetPage],
  ['/unfreeze', UnfreezePage],
  ['/account-frozen', FrozenPage],
  ['/staff/sign-in', StaffSignInPage],
  ['/staff', StaffConsole, true],
  ['/staff/complaints', StaffComplaintsPage, true],
  ['/staff/complaints/:id', StaffComplaintPage, true],
  ['/staff/corrections', StaffCorrectionsPage, true],
  ['/staff/corrections/:id', StaffCorrectionPage, true],
  ['/staff/minors', StaffMinorsPage, true],
  ['/staff/breaches', StaffBreachesPage, true],
  ['/staff/breaches/:id', StaffBreachPage, true],
  ['/account', AccountPage, true],
  ['/account/:slug', AccountPage, true],
  ['/privacy', PrivacyPage, true],
  ['/privacy/requests', RequestsPage, true],
  ['/privacy/requests/:id', TicketPage, true],
  ['/inbox', InboxPage, true],
  ['/users/:id', UserPage],
  // The community (its section in the nav): the server renders /community,
  // /b/:slug and /t/:id too, for readers without JavaScript and crawlers.
  ['/community', CommunityHome, false, 'community'],
  ['/community/search', SearchPage, false, 'community'],
  ['/community/feed', FeedPage, false, 'community'],
  ['/community/me', MySpacePage, true, 'community'],
  ['/b/:slug', BoardPage, false, 'community'],
  ['/b/:slug/new', NewTopicPage, true, 'community'],
  ['/t/:id', TopicPage, false, 'community'],
];

const PING_TIMEOUT_MS = 5000;

/* What the path shows: one of ROUTES, '' (home), a product slug, or unknown. */
function resolve(path) {
  for (const [pattern, Component, needsUser, nav] of ROUTES) {
    const params = match(pattern, path);
    if (params) return { kind: 'page', Component, params, needsUser, nav };
  }
  const first = path.split('/').filter(Boolean)[0] || '';
  if (first === '') return { kind: 'home' };
  const product = PRODUCTS.find((p) => p.slug === first);
  return product ? { kind: 'product', product } : { kind: 'unknown' };
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

/* Signed in: "My account" and "Sign out"; otherwise "Sign in" and "Register". */
function AccountMenu() {
  const { t } = useI18n();
  const session = useSession();
  const { navigate } = useRouter();
  const [busy, setBusy] = useState(false);
  if (!session.ready) return <span class="account-menu" aria-hidden="true" />;
  const signOut = async () => {
    setBusy(true);
    try {
      await session.signOut();
    } catch {
      /* the session is gone either way; the page says so */
    } finally {
      setBusy(false);
    }
    navigate('/sign-in');
  };
  return (
    <nav class="account-menu" aria-label={t('header.account')}>
      {session.user ? (
        <>
          <span class="whoami">{t('header.signed-in-as', { name: displayName(session.user, t) })}</span>
          <InboxBadge />
          <a href="/account">{t('header.my-account')}</a>
          <a href="/privacy">{t('privacy.center.title')}</a>
          <button type="button" class="button" onClick={signOut} disabled={busy}>
            {t('auth.sign-out')}
          </button>
        </>
      ) : (
        <>
          <a href="/sign-in">{t('auth.sign-in')}</a>
          <a class="button primary" href="/register">
            {t('auth.register')}
          </a>
        </>
      )}
    </nav>
  );
}

/* How the header names the account: display name, @username, else the masked number. */
export function displayName(user, t) {
  if (user.display_name) return user.display_name;
  if (user.username) return `@${user.username}`;
  const phone = user.phone || '';
  return phone.length > 8 ? `${phone.slice(0, 6)}****${phone.slice(-2)}` : t('account.unnamed');
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

function Placeholder({ section }) {
  const { t } = useI18n();
  const title = section.kind === 'product' ? t(section.product.key) : t('problem.not-found.title');
  const text =
    section.kind === 'product' ? t('section.soon', { product: t(section.product.key) }) : t('section.not-found');
  useTitle(section.kind === 'product' ? title : null);
  return (
    <section class="placeholder">
      <h1 tabIndex={-1}>{title}</h1>
      <p class="lead">{text}</p>
      <p>
        <a href="/">{t('section.back')}</a>
      </p>
    </section>
  );
}

function Home() {
  const { t } = useI18n();
  useTitle(null);
  return (
    <section class="welcome">
      <h1 tabIndex={-1}>{t('app.welcome.title')}</h1>
      <p class="lead">{t('app.welcome.body')}</p>
    </section>
  );
}

function Content({ section }) {
  if (section.kind === 'page') {
    const { Component, params, needsUser } = section;
    const page = <Component {...params} />;
    return needsUser ? <RequireUser>{page}</RequireUser> : page;
  }
  return (
    <>
      {section.kind === 'home' ? <Home /> : <Placeholder section={section} />}
      <ServerStatus />
    </>
  );
}

export function App({ initialLang, initialCatalogue }) {
  const [i18n, setI18n] = useState(() => {
    setApiLang(initialLang);
    return { lang: initialLang, t: translator(initialCatalogue) };
  });
  const [loc, navigate] = useLocation();
  const session = useSessionState();
  const section = resolve(loc.path);
  const firstPath = useRef(loc.path);
  const { lang, t } = i18n;
  const signedIn = !!session.user;

  const changeLanguage = useCallback(
    async (code) => {
      saveLanguage(code);
      setApiLang(code);
      const catalogue = await loadCatalogue(code);
      setI18n({ lang: code, t: translator(catalogue) });
      // The account's language is the one its messages (SMS, e-mail) use.
      if (signedIn) patch('/api/v1/me', { lang: code }).catch(() => {});
    },
    [signedIn],
  );

  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);

  // Pages the server rendered for readers without JavaScript (#ssr, see
  // src/community/community_html.c) give way to the app before it paints.
  useLayoutEffect(() => {
    document.getElementById('ssr')?.remove();
  }, []);

  // After in-app navigation, move focus to the new page's heading for screen readers.
  useEffect(() => {
    if (loc.path !== firstPath.current) {
      firstPath.current = null;
      document.querySelector('#main h1')?.focus();
    }
  }, [loc.path]);

  return (
    <I18n.Provider value={i18n}>
      <Router.Provider value={{ path: loc.path, search: loc.search, navigate }}>
        <Session.Provider value={session}>
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
                <AccountMenu />
                <LanguageSwitcher lang={lang} onChange={changeLanguage} />
              </div>
              <Nav current={section.kind === 'product' ? section.product.slug : section.nav || null} />
            </header>
            <main id="main" class="main">
              <Content section={section} />
            </main>
            <ConsentGate />
            <footer class="footer">
              <p>{t('app.footer')}</p>
            </footer>
          </div>
        </Session.Provider>
      </Router.Provider>
    </I18n.Provider>
  );
}
