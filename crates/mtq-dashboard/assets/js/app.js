// The dashboard shell: login, navigation by URL hash, theme, the live connection and its
// banner. Each view is a module exporting `render(root, ctx)`, which returns a cleanup function.

import { api, acct, account, setAccount, can, current, login, logout, onSession, ApiError } from './api.js';
import { Live } from './live.js';
import { h, clear, toast, killSwitchLabel, tradingLabel } from './ui.js';
import { retheme } from './charts.js';
import * as overview from './overview.js';
import * as chart from './chart.js';
import * as trades from './trades.js';
import * as signals from './signals.js';
import * as perfView from './performance.js';
import * as risk from './risk.js';
import * as strategies from './strategies.js';
import * as system from './system.js';
import * as controls from './controls.js';
import * as optimizations from './optimizations.js';
import * as approvals from './approvals.js';

const VIEWS = [
  ['overview', 'Overview', overview, 'viewer'],
  ['chart', 'Chart', chart, 'viewer'],
  ['trades', 'Trades', trades, 'viewer'],
  ['signals', 'Signals', signals, 'viewer'],
  ['performance', 'Performance', perfView, 'viewer'],
  ['risk', 'Risk', risk, 'viewer'],
  ['strategies', 'Strategies', strategies, 'viewer'],
  ['optimizations', 'Research', optimizations, 'viewer'],
  ['system', 'System', system, 'viewer'],
  ['controls', 'Controls', controls, 'trader'],
  ['approvals', 'Approvals', approvals, 'viewer'],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const live = new Live(document.getElementById('banner'));
let cleanup = null;
let generation = 0;

const ctx = {
  api,
  acct,
  can,
  live,
  /** The account the views show (the header's picker). */
  get account() {
    return account();
  },
  /** Every account this server serves (`GET /api/v1/accounts`), once loaded. */
  accounts: [],
  /** Shows another account: every view and live channel follows. */
  switchAccount: (name) => pick(name),
  /** Re-render the current view (after an action). */
  refresh: () => route(),
  /** Whether this server has a route, e.g. `has('get', '/api/v1/accounts/{account}/strategies')`. */
  has: (method, path) => !!(routes && routes[path] && routes[path][method]),
};

// The server's OpenAPI document says which optional routes exist, so views never call a route
// this server lacks (a 404 would be a console error and a confusing empty panel).
let routes = null;
async function loadRoutes() {
  if (routes) return;
  try {
    const r = await fetch('/api/openapi.json');
    routes = r.ok ? (await r.json()).paths || {} : {};
  } catch {
    routes = {};
  }
}

function theme(t) {
  document.documentElement.dataset.theme = t;
  try {
    localStorage.setItem('mtq.theme', t);
  } catch {
    // Storage disabled: the theme lasts for this page.
  }
  const meta = document.querySelector('meta[name=theme-color]');
  if (meta) meta.content = t === 'dark' ? '#0f172a' : '#f8fafc';
  const btn = document.getElementById('theme');
  btn.textContent = t === 'dark' ? 'Light theme' : 'Dark theme';
  btn.setAttribute('aria-label', `Switch to the ${t === 'dark' ? 'light' : 'dark'} theme`);
  retheme();
}

// The header's pill: the trader's state and the kill switch, on every view, from the account
// channel (a viewer sees it too; only the controls are role-bound).
const pill = document.getElementById('state-pill');
let pillOff = null;
function watchState() {
  if (pillOff || !current()) return;
  pillOff = live.subscribeState(`account:${ctx.account}`, (a) => {
    const t = tradingLabel(a.trading);
    const k = killSwitchLabel(a.kill_switch);
    pill.hidden = false;
    pill.textContent = k.tripped ? `Kill switch ${k.text.toLowerCase()}` : t.text;
    pill.title = `${t.text}; kill switch ${k.text.toLowerCase()}. ${k.help}`;
    pill.className = `pill pill-${k.tripped ? 'neg' : t.cls || 'muted'}`;
    pill.dataset.trading = a.trading || '';
    pill.dataset.kill = a.kill_switch || '';
  });
}
function unwatchState() {
  if (pillOff) pillOff();
  pillOff = null;
  pill.hidden = true;
}

// The header's account picker: hidden with one account; with several, every view follows it.
const picker = document.getElementById('account');
const pickerBox = document.getElementById('account-pick');
async function loadAccounts() {
  try {
    const list = await api('/api/v1/accounts');
    ctx.accounts = Array.isArray(list) ? list : [];
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) throw e;
    ctx.accounts = [];
  }
  const names = ctx.accounts.map((a) => a.name);
  if (names.length && !names.includes(account())) setAccount(names[0]);
  clear(picker);
  for (const n of names) picker.append(h('option', { value: n }, n));
  picker.value = account();
  pickerBox.hidden = names.length < 2;
}
function pick(name) {
  if (name === account()) return;
  setAccount(name);
  picker.value = name;
  unwatchState();
  live.restart();
  route();
}
picker.addEventListener('change', () => pick(picker.value));

function shell() {
  const s = current();
  const logged = !!s;
  nav.hidden = !logged;
  document.getElementById('logout').hidden = !logged;
  document.getElementById('user').textContent = logged ? `${s.username} (${s.role}${s.role === 'viewer' ? ', read only' : ''})` : '';
  document.documentElement.dataset.role = logged ? s.role : '';
  clear(nav);
  if (!logged) return;
  for (const [id, label, , role] of VIEWS) {
    if (!can(role)) continue;
    nav.append(h('a', { href: `#/${id}`, id: `nav-${id}`, class: 'nav-link' }, label));
  }
}

function loginView() {
  const err = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    { class: 'card login', id: 'login-form' },
    h('h1', {}, 'Sign in to MTQ'),
    h('label', { class: 'field' }, 'User name', h('input', { name: 'username', id: 'username', autocomplete: 'username', required: true })),
    h('label', { class: 'field' }, 'Password', h('input', { name: 'password', id: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    err,
    h('button', { class: 'btn btn-primary', type: 'submit', id: 'login-submit' }, 'Sign in'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    const f = new FormData(form);
    try {
      await login(String(f.get('username')), String(f.get('password')));
      if (!location.hash || location.hash === '#/login') location.hash = '#/overview';
      else route();
    } catch (x) {
      err.textContent = x instanceof ApiError && x.status === 401 ? 'Wrong user name or password.' : x.message;
    }
  });
  return form;
}

async function route() {
  const gen = ++generation;
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // A view that failed to clean up must not block the next one.
    }
    cleanup = null;
  }
  shell();
  clear(main);
  if (!current()) {
    unwatchState();
    pickerBox.hidden = true;
    live.stop();
    main.append(loginView());
    document.getElementById('username').focus();
    return;
  }
  try {
    await Promise.all([loadRoutes(), loadAccounts()]);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return route();
  }
  if (gen !== generation) return;
  live.start();
  watchState();
  const id = (location.hash.replace(/^#\/?/, '').split('?')[0] || 'overview').split('/')[0];
  const found = VIEWS.find((v) => v[0] === id && can(v[3])) || VIEWS[0];
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.id === `nav-${found[0]}`);
  document.title = `MTQ · ${found[1]}`;
  const root = h('div', { class: 'view', id: `view-${found[0]}` });
  main.append(root);
  try {
    const c = await found[2].render(root, ctx);
    if (gen !== generation) {
      if (typeof c === 'function') c();
      return;
    }
    cleanup = typeof c === 'function' ? c : null;
    root.dataset.ready = '1';
  } catch (e) {
    if (gen !== generation) return;
    if (e instanceof ApiError && e.status === 401) return route();
    root.append(h('p', { class: 'error' }, `This view could not load: ${e.message}`));
    root.dataset.ready = 'error';
  }
}

document.getElementById('theme').addEventListener('click', () => {
  theme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark');
});
document.getElementById('logout').addEventListener('click', async () => {
  await logout();
  location.hash = '#/login';
  route();
});

// After a reconnect, the current view reloads its data (the server may have restarted).
live.onReconnect.add(() => route());

let wasLogged = !!current();
onSession((s) => {
  if (!!s !== wasLogged) {
    wasLogged = !!s;
    if (!s) toast('Signed out.', 'info');
    route();
  }
});

window.addEventListener('hashchange', route);

let stored = null;
try {
  stored = localStorage.getItem('mtq.theme');
} catch {
  // Storage disabled: follow the system's preference.
}
theme(stored || (matchMedia('(prefers-color-scheme: light)').matches ? 'light' : 'dark'));

// The vendored chart library is a deferred classic script: wait for it before the first view.
function whenCharts() {
  return new Promise((resolve) => {
    if (window.LightweightCharts) return resolve();
    window.addEventListener('DOMContentLoaded', () => resolve(), { once: true });
  });
}

whenCharts().then(async () => {
  await route();
  document.documentElement.dataset.interactive = '1';
  performance.mark('mtq-interactive');
});

export { ctx };
