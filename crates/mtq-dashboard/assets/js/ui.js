// DOM helpers: elements without innerHTML (user data is always text), tables that turn into
// cards on phones, number formatting, confirmation dialogs and toasts.

/** h('div', {class: 'x', onclick: f}, 'text', child) */
export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k in e && typeof v !== 'string') e[k] = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function clear(e) {
  while (e.firstChild) e.removeChild(e.firstChild);
  return e;
}

export function num(v) {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : parseFloat(v);
  return Number.isFinite(n) ? n : null;
}

export function money(v, digits = 2) {
  const n = num(v);
  return n === null ? '–' : n.toLocaleString(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function pct(v, digits = 1) {
  const n = num(v);
  return n === null ? '–' : `${n.toFixed(digits)}%`;
}

export function price(v) {
  const n = num(v);
  if (n === null) return '–';
  return typeof v === 'string' ? v : n.toFixed(5);
}

export function time(v) {
  if (!v) return '–';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? String(v) : d.toISOString().replace('T', ' ').slice(0, 19);
}

export function signClass(v) {
  const n = num(v);
  return n === null || n === 0 ? '' : n > 0 ? 'pos' : 'neg';
}

/**
 * A table; `cols` are {key, label, fmt?(value,row), cls?(row), node?(row)}. Each cell carries
 * its column label so the phone layout can show rows as labelled cards.
 */
export function table(cols, rows, { empty = 'Nothing yet.', onrow, id } = {}) {
  if (!rows || rows.length === 0) return h('p', { class: 'muted empty' }, empty);
  const head = h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c.label)));
  const body = rows.map((r) =>
    h(
      'tr',
      { class: onrow ? 'clickable' : null, onclick: onrow ? () => onrow(r) : null, dataset: id ? { id: id(r) } : undefined },
      cols.map((c) => {
        const content = c.node ? c.node(r) : c.fmt ? c.fmt(r[c.key], r) : r[c.key] ?? '–';
        return h('td', { class: c.cls ? c.cls(r) : null, dataset: { label: c.label } }, content);
      }),
    ),
  );
  return h('div', { class: 'table-wrap' }, h('table', { class: 'grid' }, h('thead', {}, head), h('tbody', {}, body)));
}

export function card(title, ...children) {
  return h('section', { class: 'card' }, title ? h('h2', {}, title) : null, ...children);
}

export function stat(label, value, cls) {
  return h('div', { class: 'stat' }, h('span', { class: 'stat-label' }, label), h('span', { class: `stat-value ${cls || ''}` }, value));
}

/** A usage bar: `used` of 1 (0..1), with a label. */
export function usage(label, used, text) {
  const u = Math.max(0, Math.min(1, num(used) ?? 0));
  const level = u >= 0.8 ? 'high' : u >= 0.5 ? 'mid' : 'low';
  return h(
    'div',
    { class: 'usage' },
    h('div', { class: 'usage-head' }, h('span', {}, label), h('span', {}, text)),
    h('meter', { class: `usage-${level}`, min: 0, max: 1, low: 0.5, high: 0.8, optimum: 0, value: u }),
  );
}

let toastBox;
export function toast(msg, kind = 'info') {
  toastBox ||= document.getElementById('toasts');
  const t = h('div', { class: `toast toast-${kind}`, role: 'status' }, msg);
  toastBox.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

/**
 * Asks before doing something; resolves to the form's values, or null when cancelled.
 * `fields` are {name, label, value?, placeholder?, required?}.
 */
export function confirmDialog(title, text, { fields = [], ok = 'Confirm', danger = false } = {}) {
  return new Promise((resolve) => {
    const inputs = fields.map((f) =>
      h('label', { class: 'field' }, f.label, h('input', { name: f.name, value: f.value ?? '', placeholder: f.placeholder || '', required: !!f.required, autocomplete: 'off' })),
    );
    const dlg = h(
      'dialog',
      { class: 'dialog' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', {}, title),
        h('p', {}, text),
        inputs,
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', class: 'btn', value: 'cancel', onclick: () => dlg.close('cancel') }, 'Cancel'),
          h('button', { type: 'submit', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, value: 'ok', id: 'confirm-ok' }, ok),
        ),
      ),
    );
    dlg.addEventListener('close', () => {
      const values = {};
      for (const i of dlg.querySelectorAll('input')) values[i.name] = i.value;
      dlg.remove();
      resolve(dlg.returnValue === 'ok' ? values : null);
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

/** Runs an operator action with a toast for its outcome. */
export async function act(label, f) {
  try {
    const r = await f();
    toast(`${label}: ${(r && r.message) || 'done'}`, 'ok');
    return r;
  } catch (e) {
    toast(`${label} refused: ${e.message}`, 'error');
    return null;
  }
}

export function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * The kill switch as people read it. The trader calls the untripped state `active` (the switch
 * is live and watching), which read as "the kill switch has fired" in red: the dashboard says
 * "armed" for it and "tripped" (with what still runs) for the two halts.
 */
export function killSwitchLabel(state) {
  switch (state) {
    case 'active':
      return { text: 'Armed (not tripped)', cls: 'pos', tripped: false, help: 'Watching its limits; trading is allowed.' };
    case 'reduce_only':
    case 'reduce-only':
      return { text: 'Tripped: reduce only', cls: 'neg', tripped: true, help: 'No new entries; open positions may be reduced or closed.' };
    case 'halted':
      return { text: 'Tripped: halted', cls: 'neg', tripped: true, help: 'No entries and no position management until an admin resets it.' };
    default:
      return { text: state ? String(state) : '–', cls: '', tripped: false, help: '' };
  }
}

/** The trader's state (`running`, `entries_paused`, `stopped`) as people read it. */
export function tradingLabel(state) {
  switch (state) {
    case 'running':
      return { text: 'Running', cls: 'pos' };
    case 'entries_paused':
      return { text: 'Entries paused', cls: 'warn' };
    case 'stopped':
      return { text: 'Stopped', cls: 'neg' };
    default:
      return { text: state ? String(state) : '–', cls: '' };
  }
}
