// What every page shares: its <h1> (focused after in-app navigation, see
// app.jsx), the document title, the guard of pages that need a session,
// and dates in the reader's language.
import { useEffect } from 'preact/hooks';
import { useI18n } from '../i18n.js';
import { useRouter } from '../router.js';
import { useSession } from '../session.js';

export function useTitle(title) {
  const { t } = useI18n();
  useEffect(() => {
    const name = t('app.name');
    document.title = title ? `${title} · ${name}` : name;
  }, [title, t]);
}

export function Page({ title, narrow, children, class: cls }) {
  useTitle(title);
  return (
    <section class={`page${narrow ? ' page-narrow' : ''}${cls ? ` ${cls}` : ''}`}>
      <h1 tabIndex={-1}>{title}</h1>
      {children}
    </section>
  );
}

/* Renders children only with a session; otherwise a way to sign in and come back. */
export function RequireUser({ children }) {
  const { t } = useI18n();
  const { user, ready, ended } = useSession();
  const { path, search } = useRouter();
  if (!ready) {
    return (
      <Page title={t('app.loading')}>
        <p aria-busy="true">{t('app.loading')}</p>
      </Page>
    );
  }
  if (!user) {
    const next = encodeURIComponent(path + search);
    return (
      <Page title={t('auth.required.title')} narrow>
        <p class="lead">{ended ? t('auth.ended') : t('auth.required.body')}</p>
        <p>
          <a class="button primary" href={`/sign-in?next=${next}`}>
            {t('auth.sign-in')}
          </a>{' '}
          <a class="button" href="/register">
            {t('auth.register')}
          </a>
        </p>
      </Page>
    );
  }
  return children;
}

/* A date (and time, unless dateOnly) in the UI language, e.g. "3 Mar 2026, 14:05". */
export function formatTime(lang, ms, dateOnly = false) {
  if (!ms) return '';
  const style = dateOnly ? { dateStyle: 'long' } : { dateStyle: 'medium', timeStyle: 'short' };
  try {
    return new Intl.DateTimeFormat(lang, style).format(new Date(ms));
  } catch {
    return new Date(ms).toISOString();
  }
}

export function Time({ ms, dateOnly }) {
  const { lang } = useI18n();
  if (!ms) return null;
  return <time dateTime={new Date(ms).toISOString()}>{formatTime(lang, ms, dateOnly)}</time>;
}
