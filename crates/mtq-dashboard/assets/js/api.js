// The operator API from the browser: login, token refresh, JSON calls and problem documents.
// The session (access and refresh tokens, role) lives in sessionStorage: a reload or a server
// restart stays logged in, but the refresh token (30 days, single use, rotated by the server on
// every refresh) dies with the tab instead of waiting on disk for any script or person to read
// it later, and is not shared with other tabs (each tab rotates its own). The API takes the
// refresh token in the request body, not from a cookie, so there is no CSRF surface either.

const KEY = 'mtq.session';

// Earlier versions kept the session in localStorage: never leave a refresh token there.
try {
  localStorage.removeItem(KEY);
} catch {
  // Storage disabled: nothing was kept.
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

let session = load();
let refreshing = null;
const listeners = new Set();

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY)) || null;
  } catch {
    return null;
  }
}

function save(s) {
  session = s;
  try {
    if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
    else sessionStorage.removeItem(KEY);
  } catch {
    // Storage disabled (private mode): the session lives in this page only.
  }
  for (const f of listeners) f(session);
}

export function onSession(f) {
  listeners.add(f);
}

export function current() {
  return session;
}

const RANK = { viewer: 0, trader: 1, admin: 2 };

/** True when the logged-in user has at least `role`. */
export function can(role) {
  return !!session && (RANK[session.role] ?? -1) >= RANK[role];
}

function fromTokens(t, username) {
  return {
    access: t.access_token,
    refresh: t.refresh_token,
    role: t.role,
    username,
    expires: Date.now() + (t.expires_in || 900) * 1000,
  };
}

export async function login(username, password) {
  const r = await fetch('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!r.ok) throw new ApiError(r.status, await problem(r));
  save(fromTokens(await r.json(), username));
}

export async function logout() {
  const s = session;
  save(null);
  if (s) {
    try {
      await fetch('/api/v1/auth/logout', {
        method: 'POST',
        headers: { authorization: `Bearer ${s.access}` },
      });
    } catch {
      // Offline: the access token expires by itself within 15 minutes.
    }
  }
}

async function problem(r) {
  try {
    return await r.json();
  } catch {
    return { title: r.statusText };
  }
}

async function refresh() {
  if (!session) throw new ApiError(401, { title: 'not logged in' });
  if (!refreshing) {
    const s = session;
    refreshing = (async () => {
      const r = await fetch('/api/v1/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: s.refresh }),
      });
      if (r.status === 401 || r.status === 403) {
        save(null);
        throw new ApiError(r.status, await problem(r));
      }
      if (!r.ok) throw new ApiError(r.status, await problem(r));
      save(fromTokens(await r.json(), s.username));
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** A fetch with the access token, refreshed first when it is about to expire or was refused. */
export async function raw(path, opts = {}) {
  if (!session) throw new ApiError(401, { title: 'not logged in' });
  if (session.expires - Date.now() < 30_000) await refresh();
  const go = () =>
    fetch(path, {
      ...opts,
      headers: { ...(opts.headers || {}), authorization: `Bearer ${session.access}` },
    });
  let r = await go();
  if (r.status === 401 && session) {
    await refresh();
    r = await go();
  }
  if (r.status === 401) save(null);
  return r;
}

/** JSON in and out; throws ApiError with the problem document on an error status. */
export async function api(path, { method = 'GET', body, headers } = {}) {
  const opts = { method, headers: { ...(headers || {}) } };
  if (body !== undefined) {
    opts.body = JSON.stringify(body);
    opts.headers['content-type'] = 'application/json';
  }
  const r = await raw(path, opts);
  if (!r.ok) throw new ApiError(r.status, await problem(r));
  if (r.status === 204) return null;
  return r.json();
}

// The account the views show: the header's picker sets it, and it is kept across reloads.
let chosen = 'default';
try {
  chosen = localStorage.getItem('mtq.account') || 'default';
} catch {
  // Storage disabled: the first account the server lists.
}

/** The account the views show. */
export function account() {
  return chosen;
}

/** Shows `name` from now on (the caller re-renders). */
export function setAccount(name) {
  chosen = name;
  try {
    localStorage.setItem('mtq.account', name);
  } catch {
    // Storage disabled: the choice lasts for this page.
  }
}

/** An account route: `acct('/trades')` is `/api/v1/accounts/NAME/trades` for the chosen account. */
export function acct(path = '', name = chosen) {
  return `/api/v1/accounts/${encodeURIComponent(name)}${path}`;
}

/** GET that answers null on 404 (a route this server does not have). */
export async function optional(path) {
  try {
    return await api(path);
  } catch (e) {
    if (e.status === 404 || e.status === 405) return null;
    throw e;
  }
}
