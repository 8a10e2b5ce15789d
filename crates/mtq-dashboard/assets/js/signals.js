// Signals: every signal with its fate, including refusals and their reasons (the risk rule or
// filter that said no), so an operator sees why the bot did not trade.

import { h, clear, card, table, time } from './ui.js';

export async function render(root, ctx) {
  const { api, acct } = ctx;
  const form = h(
    'form',
    { class: 'filters', id: 'signal-filters' },
    h('label', { class: 'field' }, 'Symbol', h('input', { name: 'symbol', placeholder: 'EURUSD', autocomplete: 'off' })),
    h('label', { class: 'field' }, 'Fate', h('select', { name: 'fate' }, ['', 'executed', 'refused'].map((s) => h('option', { value: s }, s || 'any')))),
    h('button', { class: 'btn btn-primary', type: 'submit' }, 'Apply'),
  );
  const summary = h('div', { class: 'stats', id: 'refusal-summary' });
  const list = h('div', { id: 'signal-list' });
  const pager = h('div', { class: 'pager' });
  root.append(h('h1', {}, 'Signals'), card('Why not traded (this page)', summary), card(null, form, list, pager));
  let cursors = [null];
  let page = 0;

  async function load() {
    const f = new FormData(form);
    const q = new URLSearchParams({ limit: '100' });
    if (f.get('symbol')) q.set('symbol', String(f.get('symbol')).toUpperCase());
    if (f.get('fate')) q.set('fate', f.get('fate'));
    if (cursors[page]) q.set('cursor', cursors[page]);
    const r = await api(acct(`/signals?${q}`));
    if (r.next) cursors[page + 1] = r.next;
    const reasons = new Map();
    // Refusals of one kind differ by their numbers (a ticket, a price, a percentage): counted as one.
    for (const s of r.items) {
      if (!s.refusal) continue;
      const kind = s.refusal.replace(/\d+(?:[.:,-]\d+)*/g, '…');
      reasons.set(kind, (reasons.get(kind) || 0) + 1);
    }
    clear(summary);
    if (!reasons.size) summary.append(h('p', { class: 'muted' }, 'No refusals on this page.'));
    for (const [why, n] of [...reasons].sort((a, b) => b[1] - a[1])) summary.append(h('div', { class: 'stat' }, h('span', { class: 'stat-label' }, why), h('span', { class: 'stat-value' }, String(n))));
    clear(list);
    list.append(
      table(
        [
          { key: 'time', label: 'Bar', fmt: time },
          { key: 'symbol', label: 'Symbol' },
          { key: 'timeframe', label: 'TF' },
          { key: 'strategy', label: 'Strategy' },
          { key: 'kind', label: 'Signal' },
          { key: 'reason', label: 'Why' },
          { key: 'confidence', label: 'Conf.', fmt: (v) => Number(v).toFixed(2) },
          { key: 'fate', label: 'Fate', cls: (s) => (s.fate === 'refused' ? 'neg' : 'pos') },
          { key: 'refusal', label: 'Refused by', fmt: (v) => v || '–', cls: (s) => (s.refusal ? 'wrap refusal' : null) },
        ],
        r.items,
        { empty: 'No signals yet.', id: (s) => s.id },
      ),
    );
    clear(pager);
    pager.append(
      h('button', { class: 'btn', type: 'button', disabled: page === 0, onclick: () => { page -= 1; load(); } }, '← Newer'),
      h('span', { class: 'muted' }, `Page ${page + 1}`),
      h('button', { class: 'btn', type: 'button', disabled: !r.next, onclick: () => { page += 1; load(); } }, 'Older →'),
    );
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    cursors = [null];
    page = 0;
    load();
  });
  await load();
  return ctx.live.subscribe(`signals:${ctx.account}`, () => page === 0 && load());
}
