// A small client-side router over the history API: real URLs, no hash. The
// server answers every unknown non-API path with index.html, so a deep link
// such as /account/sessions loads the app, which then picks the page here.
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useState } from 'preact/hooks';

const current = () => ({ path: location.pathname, search: location.search });

/* [{path, search}, navigate(href, {replace})] for the app's root. */
export function useLocation() {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const onPop = () => setLoc(current());
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  const navigate = useCallback((href, { replace = false } = {}) => {
    if (href !== location.pathname + location.search) {
      history[replace ? 'replaceState' : 'pushState'](null, '', href);
    }
    setLoc(current());
  }, []);
  return [loc, navigate];
}

export const Router = createContext({ path: '/', search: '', navigate: () => {} });
export const useRouter = () => useContext(Router);

/* Follows same-origin link clicks inside the app without reloading the page. */
export function linkHandler(navigate) {
  return (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest('a[href^="/"]');
    if (!a || a.target || a.hasAttribute('download') || a.getAttribute('href').startsWith('/api/')) return;
    e.preventDefault();
    navigate(a.getAttribute('href'));
  };
}

/*
 * Matches path against patterns such as '/users/:id'; returns the params
 * object, or null. A trailing slash is ignored.
 */
export function match(pattern, path) {
  const want = pattern.split('/').filter(Boolean);
  const got = path.split('/').filter(Boolean);
  if (want.length !== got.length) return null;
  const params = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':')) {
      try {
        params[want[i].slice(1)] = decodeURIComponent(got[i]);
      } catch {
        return null;
      }
    } else if (want[i] !== got[i]) {
      return null;
    }
  }
  return params;
}

/* The in-app path to return to after signing in: only a local path. */
export function nextFrom(search, fallback = '/account') {
  const next = new URLSearchParams(search).get('next') || '';
  return /^\/(?![/\\])/.test(next) ? next : fallback;
}
