// The one way the web app talks to /api/v1. It sends the UI language (so
// problem titles and field messages come back in it), the session's CSRF
// token on unsafe methods (the session cookie itself is HttpOnly and never
// seen here), and turns every failure into an ApiError that carries the
// server's RFC 9457 problem: title, detail and the list of invalid fields.

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const state = { csrf: null, lang: 'en', onUnauthorized: null, onConsentRequired: null };
const CONSENT_REQUIRED = 'urn:entrepot:problem:consent-required';

export function setCsrf(token) {
  state.csrf = token || null;
}

export function setApiLang(lang) {
  state.lang = lang;
}

/* Called with the problem when the server wants a policy accepted first (403 consent-required). */
export function onConsentRequired(fn) {
  state.onConsentRequired = fn;
}

/* Called with the path when a request that carried the session gets 401. */
export function onUnauthorized(fn) {
  state.onUnauthorized = fn;
}

export class ApiError extends Error {
  /* problem: the parsed problem+json ({title, detail, errors: [{field, pointer, code, detail}]}). */
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  /* The field a problem entry names: its `field`, else the last segment of its JSON pointer. */
  static fieldOf(entry) {
    if (entry?.field) return entry.field;
    const seg = String(entry?.pointer || '')
      .split('/')
      .pop();
    return seg && seg !== '#' ? seg.replace(/~1/g, '/').replace(/~0/g, '~') : '';
  }

  /* { fieldName: localised message } for every entry that names a field (first one wins). */
  get fieldErrors() {
    const out = {};
    for (const e of this.problem.errors || []) {
      const name = ApiError.fieldOf(e);
      if (name && !(name in out)) out[name] = e.detail || e.code;
    }
    return out;
  }
}

/*
 * api(method, path, body, opts) → the decoded JSON answer (null for 204).
 * body is sent as JSON unless opts.contentType is given (then as is, e.g. a
 * File for an avatar). Throws ApiError; status 0 means the server could not
 * be reached, and its problem is empty (the caller shows its own message).
 */
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json, application/problem+json', 'Accept-Language': state.lang };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    if (opts.contentType) {
      headers['Content-Type'] = opts.contentType;
      init.body = body;
    } else {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
  }
  if (UNSAFE.has(method) && state.csrf) headers['X-CSRF-Token'] = state.csrf;
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, null);
  }
  const type = res.headers.get('Content-Type') || '';
  let data = null;
  if (res.status !== 204 && /json/.test(type)) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    if (res.status === 401 && state.onUnauthorized) state.onUnauthorized(path);
    if (res.status === 403 && data?.type === CONSENT_REQUIRED && state.onConsentRequired) state.onConsentRequired(data);
    throw new ApiError(res.status, data);
  }
  if (data && typeof data.csrf_token === 'string') setCsrf(data.csrf_token);
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);
