// Trades: filters, cursor paging, CSV export, and a trade's detail with its signal, its orders
// (the intents, by client order id) and their state transitions.

import { raw } from './api.js';
import { h, clear, card, table, money, price, time, signClass, download, toast } from './ui.js';

export async function render(root, ctx) {
  const { api, acct } = ctx;
  const form = h(
    'form',
    { class: 'filters', id: 'trade-filters' },
    h('label', { class: 'field' }, 'Symbol', h('input', { name: 'symbol', placeholder: 'EURUSD', autocomplete: 'off' })),
    h('label', { class: 'field' }, 'Status', h('select', { name: 'status' }, ['', 'open', 'closed'].map((s) => h('option', { value: s }, s || 'any')))),
    h('label', { class: 'field' }, 'From', h('input', { name: 'from', type: 'date' })),
    h('label', { class: 'field' }, 'To', h('input', { name: 'to', type: 'date' })),
    h('button', { class: 'btn btn-primary', type: 'submit' }, 'Apply'),
    h('button', { class: 'btn', type: 'button', id: 'csv', onclick: () => csv() }, 'CSV'),
  );
  const list = h('div', { id: 'trade-list' });
  const pager = h('div', { class: 'pager' });
  const detail = h('div', { id: 'trade-detail' });
  root.append(h('h1', {}, 'Trades'), card(null, form, list, pager), detail);

  let cursors = [null];
  let page = 0;

  function query(cursor) {
    const f = new FormData(form);
    const q = new URLSearchParams();
    if (f.get('symbol')) q.set('symbol', String(f.get('symbol')).toUpperCase());
    if (f.get('status')) q.set('status', f.get('status'));
    if (f.get('from')) q.set('from', `${f.get('from')}T00:00:00Z`);
    if (f.get('to')) q.set('to', `${f.get('to')}T23:59:59Z`);
    q.set('limit', '50');
    if (cursor) q.set('cursor', cursor);
    return q;
  }

  async function load() {
    const r = await api(acct(`/trades?${query(cursors[page])}`));
    clear(list);
    list.append(
      table(
        [
          { key: 'id', label: 'Id' },
          { key: 'symbol', label: 'Symbol' },
          { key: 'side', label: 'Side', cls: (t) => (t.side === 'buy' ? 'pos' : 'neg') },
          { key: 'volume', label: 'Volume' },
          { key: 'entry_time', label: 'Entry', fmt: time },
          { key: 'entry_price', label: 'Entry price', fmt: price },
          { key: 'exit_time', label: 'Exit', fmt: time },
          { key: 'exit_price', label: 'Exit price', fmt: price },
          { key: 'net_profit', label: 'Net P&L', fmt: (v) => money(v), cls: (t) => signClass(t.net_profit) },
          { key: 'status', label: 'Status' },
          { key: 'exit_reason', label: 'Exit reason' },
          { key: 'strategy', label: 'Strategy' },
        ],
        r.items,
        { empty: 'No trades match.', onrow: (t) => show(t.id), id: (t) => t.id },
      ),
    );
    if (r.next) cursors[page + 1] = r.next;
    clear(pager);
    pager.append(
      h('button', { class: 'btn', type: 'button', disabled: page === 0, onclick: () => { page -= 1; load(); } }, '← Newer'),
      h('span', { class: 'muted' }, `Page ${page + 1}`),
      h('button', { class: 'btn', type: 'button', disabled: !r.next, onclick: () => { page += 1; load(); } }, 'Older →'),
    );
  }

  async function show(id) {
    const d = await api(acct(`/trades/${id}`));
    clear(detail);
    const t = d.trade;
    const sig = d.signal;
    detail.append(
      card(
        `Trade ${t.id}: ${t.symbol} ${t.side} ${t.volume}`,
        h(
          'dl',
          { class: 'kv' },
          [
            ['Ticket', t.ticket],
            ['Entry', `${time(t.entry_time)} at ${t.entry_price}`],
            ['Exit', t.exit_time ? `${time(t.exit_time)} at ${t.exit_price} (${t.exit_reason || '–'})` : 'open'],
            ['SL / TP', `${t.sl ?? '–'} / ${t.tp ?? '–'}`],
            ['Net P&L', `${money(t.net_profit)} (commission ${t.commission}, swap ${t.swap})`],
            ['Pips', t.pips ?? '–'],
          ].flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]),
        ),
        h('h3', {}, 'Signal'),
        sig
          ? h('p', {}, `${time(sig.time)} ${sig.strategy}: ${sig.kind} (${sig.reason}), confidence ${Number(sig.confidence).toFixed(2)}, ${sig.fate}${sig.refusal ? `: ${sig.refusal}` : ''}`)
          : h('p', { class: 'muted' }, 'No signal recorded (an operator or manual order).'),
        h('h3', {}, 'Orders and intents'),
        (d.orders || []).length
          ? d.orders.map((o) =>
              h(
                'div',
                { class: 'order' },
                h('p', {}, h('strong', {}, o.client_order_id), ` ${o.kind} ${o.side} ${o.volume} ${o.symbol}: ${o.state}${o.retcode ? ` (${o.retcode})` : ''}${o.message ? ` ${o.message}` : ''}`),
                table(
                  [
                    { key: 'time', label: 'Time', fmt: time },
                    { key: 'state', label: 'State' },
                    { key: 'retcode', label: 'Retcode' },
                    { key: 'message', label: 'Message' },
                  ],
                  o.transitions || [],
                  { empty: 'No transitions recorded.' },
                ),
              ),
            )
          : h('p', { class: 'muted' }, 'No orders recorded.'),
      ),
    );
    detail.scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  // Every trade the filters match, page by page (the route answers at most 500 a page and names
  // the next page in `X-Next-Cursor`), as one file with one header line.
  async function csv() {
    const parts = [];
    let cursor = null;
    let rows = 0;
    for (let pages = 0; pages < 200; pages++) {
      const q = query(cursor);
      q.set('limit', '500');
      const r = await raw(acct(`/trades.csv?${q}`));
      if (!r.ok) {
        let why = `HTTP ${r.status}`;
        try {
          const p = await r.json();
          why = p.detail || p.title || why;
        } catch {
          // Not a problem document: the status says it.
        }
        return toast(`CSV export failed: ${why}`, 'error');
      }
      const text = await r.text();
      const body = text.slice(text.indexOf('\n') + 1);
      parts.push(parts.length ? body : text);
      rows += body.split('\n').length - 1;
      cursor = r.headers.get('x-next-cursor');
      if (!cursor) break;
    }
    download('trades.csv', new Blob(parts, { type: 'text/csv' }));
    toast(`Exported ${rows} trade${rows === 1 ? '' : 's'} to trades.csv.`, 'ok');
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    cursors = [null];
    page = 0;
    load();
  });
  await load();
  const off = ctx.live.subscribe(`trades:${ctx.account}`, () => page === 0 && load());
  return off;
}
