// Loading API answers into a page: one GET (useLoad), a "newest first"
// list paged with ?before= (useNewestFirst), and the alert a failed load
// shows (LoadError). Pages import these from here rather than keeping
// their own copies. Lists paged with a cursor are in components/forum.jsx.
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, get } from './api.js';
import { ProblemAlert } from './forms.jsx';

/*
 * GET path (null: nothing yet) → { data, error, loading, reload, setData }.
 * It loads again when path or key change (key: e.g. who is signed in, for
 * answers that differ for members).
 */
export function useLoad(path, key) {
  const [state, setState] = useState({ data: null, error: null, loading: !!path });
  const reload = useCallback(async () => {
    if (!path) return;
    setState((s) => ({ ...s, loading: true }));
    try {
      setState({ data: await get(path), error: null, loading: false });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      setState({ data: null, error: e, loading: false });
    }
  }, [path, key]);
  useEffect(() => {
    reload();
  }, [reload]);
  const setData = useCallback((fn) => setState((s) => ({ ...s, data: fn(s.data) })), []);
  return { ...state, reload, setData };
}

/*
 * A "newest first" list of 20 a page: GET path?limit=20[&before=], whose
 * answer holds the items under `key` and the next page's `next_before`.
 * → { items, next, error, loading, more(), reload() }.
 */
export function useNewestFirst(path, key) {
  const [state, setState] = useState({ items: [], next: null, error: null, loading: true });
  const load = useCallback(
    async (before) => {
      setState((s) => ({ ...s, loading: true }));
      try {
        const r = await get(`${path}?limit=20${before ? `&before=${before}` : ''}`);
        setState((s) => ({ items: before ? [...s.items, ...r[key]] : r[key], next: r.next_before, error: null, loading: false }));
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        setState((s) => ({ ...s, error: e, loading: false }));
      }
    },
    [path, key],
  );
  useEffect(() => {
    load(null);
  }, [load]);
  return { ...state, more: () => load(state.next), reload: () => load(null) };
}

/* The problem of a failed load (an ApiError, or null: nothing), as an alert. */
export function LoadError({ error }) {
  if (!error) return null;
  return <ProblemAlert form={{ orphans: [], problem: { status: error.status, ...error.problem } }} />;
}
