// Research: the backtests `mtq-trader backtest --database-url ...` stored (a run's statistics and
// equity curve on a click), the runs `mtq-trader optimize` stored, each with its best result (a
// run's leading results on a click), and the best parameters per symbol, strategy and timeframe.
// Read-only, for every role.

import { h, clear, card, table, time, num, money, signClass, stat } from './ui.js';
import { makeChart, dropChart, drawdown, ts, palette } from './charts.js';

const RUNS = '/api/v1/optimizations';
const BACKTESTS = '/api/v1/backtests';

const params = (v) => h('span', { class: 'params' }, v && typeof v === 'object' ? Object.entries(v).map(([k, x]) => `${k}=${typeof x === 'object' ? JSON.stringify(x) : x}`).join(' · ') : String(v ?? '–'));
const fixed = (d) => (v) => (num(v) === null ? '–' : num(v).toFixed(d));

export async function render(root, ctx) {
  const { api } = ctx;
  root.append(h('h1', {}, 'Backtests and optimisation'));
  if (!ctx.has('get', RUNS)) {
    root.append(card(null, h('p', { class: 'muted' }, 'This server does not list optimisation runs.')));
    return;
  }
  const withBacktests = ctx.has('get', BACKTESTS);
  const [runs, best, backtests] = await Promise.all([
    api(`${RUNS}?limit=100`),
    api('/api/v1/best-parameters'),
    withBacktests ? api(`${BACKTESTS}?limit=100`) : [],
  ]);
  const detail = h('div', { id: 'run-detail' });
  const btDetail = h('div', { id: 'backtest-detail' });
  let btCharts = [];
  const dropBtCharts = () => {
    btCharts.forEach(dropChart);
    btCharts = [];
  };
  if (withBacktests) {
    root.append(
      card(
        'Backtests',
        table(
          [
            { key: 'id', label: 'Run', fmt: (v) => `#${v}` },
            { key: 'symbol', label: 'Symbol' },
            { key: 'strategy', label: 'Strategy' },
            { key: 'timeframe', label: 'TF' },
            { key: 'parameters', label: 'Parameters', node: (b) => params(b.parameters) },
            { key: 'period_start', label: 'Data', fmt: (v, r) => `${time(v).slice(0, 10)} → ${time(r.period_end).slice(0, 10)}` },
            { key: 'trades', label: 'Trades' },
            { key: 'net_profit', label: 'Net', fmt: (v) => money(v), cls: (r) => signClass(r.net_profit) },
            { key: 'win_rate', label: 'Win %', fmt: (v) => (num(v) === null ? '–' : `${num(v).toFixed(1)}%`) },
            { key: 'profit_factor', label: 'PF', fmt: fixed(2) },
            { key: 'max_drawdown_pct', label: 'Max DD %', fmt: fixed(2) },
            { key: 'created_at', label: 'Run at', fmt: time },
          ],
          backtests,
          { empty: 'No backtests stored yet: run `mtq-trader backtest ... --database-url URL`.', id: (r) => r.id, onrow: (r) => showBacktest(r.id) },
        ),
      ),
      btDetail,
    );
  }
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

  async function showBacktest(id) {
    dropBtCharts();
    clear(btDetail).append(card(`Backtest #${id}`, h('p', { class: 'muted' }, 'Loading…')));
    try {
      const r = await api(`${BACKTESTS}/${id}`);
      const st = r.stats || {};
      const eqBox = h('div', { class: 'chart-box chart-small', id: 'backtest-equity' });
      const ddBox = h('div', { class: 'chart-box chart-small', id: 'backtest-drawdown' });
      clear(btDetail).append(
        card(
          `Backtest #${r.id}: ${r.symbol} ${r.strategy} ${r.timeframe}`,
          h('p', { class: 'muted' }, params(r.parameters)),
          h(
            'div',
            { class: 'stats' },
            stat('Net profit', money(r.net_profit), signClass(r.net_profit)),
            stat('Return', `${fixed(2)(r.return_pct)}%`),
            stat('Trades', String(r.trades)),
            stat('Win rate', `${fixed(1)(r.win_rate)}%`),
            stat('Profit factor', fixed(2)(r.profit_factor)),
            stat('Sharpe', fixed(2)(r.sharpe)),
            stat('Max drawdown', `${fixed(2)(r.max_drawdown_pct)}%`),
            stat('Expectancy', st.expectancy != null ? money(st.expectancy) : '–'),
          ),
          h('h3', {}, 'Equity'),
          eqBox,
          h('h3', {}, 'Drawdown'),
          ddBox,
        ),
      );
      const points = (Array.isArray(r.equity) ? r.equity : [])
        .map(([t, v]) => ({ time: ts(t), value: Number(v) }))
        .filter((p, i, a) => Number.isFinite(p.value) && (i === 0 || p.time > a[i - 1].time));
      const c = palette();
      const [eq, dd] = [makeChart(eqBox), makeChart(ddBox)];
      btCharts = [eq, dd];
      eq.addLineSeries({ color: c.accent, lineWidth: 2 }).setData(points);
      dd.addAreaSeries({ lineColor: c.down, topColor: 'rgba(239,68,68,0.05)', bottomColor: 'rgba(239,68,68,0.4)', lineWidth: 1 }).setData(drawdown(points));
      eq.timeScale().fitContent();
      dd.timeScale().fitContent();
      btDetail.dataset.points = String(points.length);
      btDetail.scrollIntoView({ behavior: 'smooth', block: 'start' });
    } catch (e) {
      clear(btDetail).append(card(`Backtest #${id}`, h('p', { class: 'error' }, `Could not load: ${e.message}`)));
    }
  }

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
  return dropBtCharts;
}
