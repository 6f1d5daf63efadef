// Who is signed in. The session cookie is HttpOnly, so the page cannot see
// it: at start-up the app asks GET /api/v1/auth/session, which answers 200
// to everyone ({signed_in: false} for a visitor, so nothing is logged as a
// failure), and only for a member then loads the account (GET /api/v1/me).
// The CSRF token comes back with the session answer, with every sign-in
// answer and with GET /me, and lives only in memory (api.js).
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useState } from 'preact/hooks';
import { ApiError, get, onUnauthorized, post, setCsrf } from './api.js';

/* Paths whose 401 means "the session is gone" (not "wrong password"). */
const SESSION_PATHS = /^\/api\/v1\/(me\b|auth\/logout|staff\/session)/;

/*
 * The session state for the app's root: user (GET /me's object, or null),
 * ready (false until the first answer), ended (true when the server dropped
 * the session under us), and the actions that change it.
 */
export function useSessionState() {
  const [user, setUser] = useState(null);
  const [ready, setReady] = useState(false);
  const [ended, setEnded] = useState(false);

  const clear = useCallback((why) => {
    setCsrf(null);
    setUser(null);
    setEnded(why === 'ended');
  }, []);

  const refresh = useCallback(async () => {
    try {
      const me = await get('/api/v1/me');
      setUser(me);
      return me;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) throw e;
      return null;
    } finally {
      setReady(true);
    }
  }, []);

  useEffect(() => {
    onUnauthorized((path) => {
      if (SESSION_PATHS.test(path)) clear('ended');
    });
    get('/api/v1/auth/session')
      .then((s) => (s.signed_in ? refresh() : setReady(true)))
      .catch(() => setReady(true));
  }, []);

  /* Takes a "signed_in" answer of the API (register, login, verify...). */
  const signedIn = useCallback((answer) => {
    setCsrf(answer.csrf_token);
    setEnded(false);
    setUser(answer.user);
  }, []);

  const signOut = useCallback(
    async (everywhere = false) => {
      try {
        await post(everywhere ? '/api/v1/auth/logout-all' : '/api/v1/auth/logout');
      } finally {
        clear('signed-out');
      }
    },
    [clear],
  );

  return { user, ready, ended, setUser, refresh, signedIn, signOut, clear };
}

export const Session = createContext({ user: null, ready: true, ended: false });
export const useSession = () => useContext(Session);
