// Optimisation: the runs `mtq-trader optimize --database-url ...` stored, each with its best
// result, a run's leading results on a click, and the best parameters per symbol, strategy and
// timeframe. Read-only, for every role.

import { h, clear, card, table, time, num } from './ui.js';

const RUNS = '/api/v1/optimizations';

const params = (v) => h('span', { class: 'params' }, v && typeof v === 'object' ? Object.entries(v).map(([k, x]) => `${k}=${typeof x === 'object' ? JSON.stringify(x) : x}`).join(' · ') : String(v ?? '–'));
const fixed = (d) => (v) => (num(v) === null ? '–' : num(v).toFixed(d));

export async function render(root, ctx) {
  const { api } = ctx;
  root.append(h('h1', {}, 'Optimisation'));
  if (!ctx.has('get', RUNS)) {
    root.append(card(null, h('p', { class: 'muted' }, 'This server does not list optimisation runs.')));
    return;
  }
  const [runs, best] = await Promise.all([api(`${RUNS}?limit=100`), api('/api/v1/best-parameters')]);
  const detail = h('div', { id: 'run-detail' });
  root.append(
    card(
      'Best parameters',
      table(
        [
          { key: 'symbol', label: 'Symbol' },
          { key: 'strategy', label: 'Strategy' },
          { key: 'timeframe', label: 'TF' },
          { key: 'parameters', label: 'Parameters', node: (b) => params(b.parameters) },
          { key: 'score', label: 'Score', fmt: fixed(3) },
          { key: 'run_id', label: 'Run', fmt: (v) => (v ? `#${v}` : '–') },
          { key: 'updated_at', label: 'Updated', fmt: time },
        ],
        best,
        { empty: 'No best parameters stored yet: run `mtq-trader optimize ... --database-url URL`.', id: (b) => `${b.symbol}-${b.strategy}-${b.timeframe}` },
      ),
    ),
    card(
      'Runs',
      table(
        [
          { key: 'id', label: 'Run', fmt: (v) => `#${v}` },
          { key: 'symbol', label: 'Symbol' },
          { key: 'strategy', label: 'Strategy' },
          { key: 'timeframe', label: 'TF' },
          { key: 'objective', label: 'Objective' },
          { key: 'status', label: 'Status', cls: (r) => (r.status === 'finished' ? 'pos' : r.status === 'running' ? 'warn' : 'neg') },
          { key: 'period_start', label: 'Data', fmt: (v, r) => `${time(v).slice(0, 10)} → ${time(r.period_end).slice(0, 10)}` },
          { key: 'started_at', label: 'Started', fmt: time },
          { key: 'best', label: 'Best', node: (r) => (r.results[0] ? params(r.results[0].parameters) : h('span', { class: 'muted' }, 'no result')) },
          { key: 'score', label: 'Score', fmt: (v, r) => (r.results[0] ? num(r.results[0].score).toFixed(3) : '–') },
        ],
        runs,
        { empty: 'No optimisation runs stored yet.', id: (r) => r.id, onrow: (r) => show(r.id) },
      ),
    ),
    detail,
  );

  async function show(id) {
    clear(detail).append(card(`Run #${id}`, h('p', { class: 'muted' }, 'Loading…')));
    try {
      const r = await api(`${RUNS}/${id}?limit=50`);
      clear(detail).append(
        card(
          `Run #${r.id}: ${r.symbol} ${r.strategy} ${r.timeframe}, by ${r.objective}`,
          h('p', { class: 'muted' }, 'Searched: ', params(r.parameter_space)),
          table(
            [
              { key: 'rank', label: '#' },
              { key: 'parameters', label: 'Parameters', node: (x) => params(x.parameters) },
              { key: 'score', label: 'Score', fmt: fixed(3) },
              { key: 'net_profit', label: 'Net', fmt: fixed(2) },
              { key: 'trades', label: 'Trades' },
              { key: 'win_rate', label: 'Win %', fmt: (v) => (num(v) === null ? '–' : `${num(v).toFixed(1)}%`) },
              { key: 'profit_factor', label: 'PF', fmt: fixed(2) },
              { key: 'sharpe', label: 'Sharpe', fmt: fixed(2) },
              { key: 'max_drawdown_pct', label: 'Max DD %', fmt: fixed(2) },
            ],
            r.results.map((x, i) => ({ ...x, rank: i + 1 })),
            { empty: 'No results recorded.' },
          ),
        ),
      );
      detail.scrollIntoView({ behavior: 'smooth', block: 'start' });
    } catch (e) {
      clear(detail).append(card(`Run #${id}`, h('p', { class: 'error' }, `Could not load: ${e.message}`)));
    }
  }
}
