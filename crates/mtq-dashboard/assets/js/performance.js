// Performance: equity and drawdown curves from the account's snapshots, and closed P&L grouped
// by day, week, month, symbol, strategy and exit reason (from the closed trades).

import { h, clear, card, table, money, num, signClass, stat } from './ui.js';
import { makeChart, dropChart, drawdown, ts, palette } from './charts.js';

/** ISO week key, e.g. 2026-W49. */
function isoWeek(d) {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const y = t.getUTCFullYear();
  const w = Math.ceil(((t - Date.UTC(y, 0, 1)) / 86400000 + 1) / 7);
  return `${y}-W${String(w).padStart(2, '0')}`;
}

export function group(trades, key) {
  const m = new Map();
  for (const t of trades) {
    const k = key(t) || '–';
    const g = m.get(k) || { key: k, trades: 0, wins: 0, net: 0 };
    const p = num(t.net_profit) || 0;
    g.trades += 1;
    g.wins += p > 0 ? 1 : 0;
    g.net += p;
    m.set(k, g);
  }
  return [...m.values()];
}

async function closedTrades(api, acct, max = 5000) {
  const out = [];
  let cursor = null;
  while (out.length < max) {
    const q = new URLSearchParams({ status: 'closed', limit: '500' });
    if (cursor) q.set('cursor', cursor);
    const r = await api(acct(`/trades?${q}`));
    out.push(...r.items);
    if (!r.next || r.items.length === 0) break;
    cursor = r.next;
  }
  return out;
}

export async function render(root, ctx) {
  const { api, acct } = ctx;
  const eqBox = h('div', { class: 'chart-box chart-small', id: 'equity-chart' });
  const ddBox = h('div', { class: 'chart-box chart-small', id: 'drawdown-chart' });
  const dayBox = h('div', { class: 'chart-box chart-small', id: 'daily-chart' });
  const totals = h('div', { class: 'stats' });
  const groups = h('div', { class: 'cols' });
  root.append(h('h1', {}, 'Performance'), card('Summary', totals), card('Equity', eqBox), card('Drawdown (%)', ddBox), card('P&L by day', dayBox), groups);
  const c = palette();
  const charts = [makeChart(eqBox), makeChart(ddBox), makeChart(dayBox)];
  const [eq, dd, day] = charts;
  const eqS = eq.addLineSeries({ color: c.accent, lineWidth: 2 });
  const balS = eq.addLineSeries({ color: c.text, lineWidth: 1, lineStyle: 2 });
  const ddS = dd.addAreaSeries({ lineColor: c.down, topColor: 'rgba(239,68,68,0.05)', bottomColor: 'rgba(239,68,68,0.4)', lineWidth: 1 });
  const dayS = day.addHistogramSeries({ priceFormat: { type: 'price', precision: 2, minMove: 0.01 } });

  const [points, trades] = await Promise.all([api(acct('/equity?from=2000-01-01T00:00:00Z&step=300')).catch(() => []), closedTrades(api, acct)]);
  const pts = (Array.isArray(points) ? points : points.items || []).map((p) => ({ time: ts(p.time), equity: num(p.equity), balance: num(p.balance) }));
  const uniq = [];
  for (const p of pts.sort((a, b) => a.time - b.time)) if (!uniq.length || uniq[uniq.length - 1].time !== p.time) uniq.push(p);
  const eqLine = uniq.map((p) => ({ time: p.time, value: p.equity }));
  eqS.setData(eqLine);
  balS.setData(uniq.map((p) => ({ time: p.time, value: p.balance })));
  ddS.setData(drawdown(eqLine));
  const maxDd = drawdown(eqLine).reduce((m, p) => Math.min(m, p.value), 0);

  const byDay = group(trades, (t) => (t.exit_time || t.entry_time).slice(0, 10)).sort((a, b) => (a.key < b.key ? -1 : 1));
  dayS.setData(byDay.map((g) => ({ time: g.key, value: g.net, color: g.net >= 0 ? c.up : c.down })));
  for (const ch of charts) ch.timeScale().fitContent();

  const net = trades.reduce((s, t) => s + (num(t.net_profit) || 0), 0);
  const wins = trades.filter((t) => num(t.net_profit) > 0);
  const gross = wins.reduce((s, t) => s + num(t.net_profit), 0);
  const loss = trades.reduce((s, t) => s + Math.min(0, num(t.net_profit) || 0), 0);
  clear(totals).append(
    stat('Closed trades', String(trades.length)),
    stat('Net P&L', money(net), signClass(net)),
    stat('Win rate', trades.length ? `${((wins.length / trades.length) * 100).toFixed(1)}%` : '–'),
    stat('Profit factor', loss ? (gross / -loss).toFixed(2) : '–'),
    stat('Max drawdown', `${maxDd.toFixed(2)}%`, maxDd < 0 ? 'neg' : ''),
  );

  const cols = (label) => [
    { key: 'key', label },
    { key: 'trades', label: 'Trades' },
    { key: 'wins', label: 'Win %', fmt: (v, g) => `${((g.wins / g.trades) * 100).toFixed(0)}%` },
    { key: 'net', label: 'Net P&L', fmt: (v) => money(v), cls: (g) => signClass(g.net) },
  ];
  const monthKey = (t) => (t.exit_time || t.entry_time).slice(0, 7);
  const weekKey = (t) => isoWeek(new Date(t.exit_time || t.entry_time));
  const sets = [
    ['By week', 'Week', group(trades, weekKey).sort((a, b) => (a.key < b.key ? 1 : -1))],
    ['By month', 'Month', group(trades, monthKey).sort((a, b) => (a.key < b.key ? 1 : -1))],
    ['By symbol', 'Symbol', group(trades, (t) => t.symbol)],
    ['By strategy', 'Strategy', group(trades, (t) => t.strategy)],
    ['By exit reason', 'Exit reason', group(trades, (t) => t.exit_reason)],
  ];
  for (const [title, label, rows] of sets) groups.append(card(title, table(cols(label), rows, { empty: 'No closed trades yet.' })));
  return () => charts.forEach(dropChart);
}
