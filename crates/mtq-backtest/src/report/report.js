// MTQ's interactive report: inlined in every report.html with its data and the vendored
// lightweight-charts, so the file opens offline with nothing beside it. Three kinds of page:
// a backtest (candles with trade markers, equity and drawdown, a sortable trades table), an
// optimisation (a heat map of two parameters and a sortable results table) and a walk-forward
// (its windows on a timeline, their results, the stitched out-of-sample equity).
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('mtq-data').textContent);
  const LW = window.LightweightCharts;
  const css = getComputedStyle(document.documentElement);
  const color = (n) => css.getPropertyValue(n).trim();
  const C = { up: color('--up'), down: color('--down'), accent: color('--accent'), text: color('--text'), grid: color('--grid'), bg: color('--panel') };

  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'class') e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  }

  const fmtTime = (s) => (s === null || s === undefined ? '–' : new Date(s * 1000).toISOString().slice(0, 16).replace('T', ' '));
  const fmtNum = (v, d = 2) => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(d));

  function chart(el, opts) {
    return LW.createChart(el, {
      autoSize: true,
      layout: { background: { type: 'solid', color: C.bg }, textColor: C.text },
      grid: { vertLines: { color: C.grid }, horzLines: { color: C.grid } },
      timeScale: { timeVisible: true, secondsVisible: false, borderVisible: false },
      rightPriceScale: { borderVisible: false },
      ...(opts || {}),
    });
  }

  /** Equity points [[t, v]] -> drawdown in percent below the running peak. */
  function drawdown(points) {
    let peak = -Infinity;
    return points.map(([t, v]) => {
      peak = Math.max(peak, v);
      return { time: t, value: peak > 0 ? ((v - peak) / peak) * 100 : 0 };
    });
  }

  function equityCharts(equity) {
    const eqBox = document.getElementById('equity');
    const ddBox = document.getElementById('drawdown');
    if (!eqBox || !equity.length) return [];
    const eq = chart(eqBox);
    eq.addLineSeries({ color: C.accent, lineWidth: 2 }).setData(equity.map(([t, v]) => ({ time: t, value: v })));
    const dd = chart(ddBox);
    dd.addAreaSeries({ lineColor: C.down, topColor: 'rgba(220,38,38,0.05)', bottomColor: 'rgba(220,38,38,0.4)', lineWidth: 1 }).setData(drawdown(equity));
    eq.timeScale().fitContent();
    dd.timeScale().fitContent();
    // One time axis for both: scrolling one scrolls the other.
    let syncing = false;
    const link = (a, b) =>
      a.timeScale().subscribeVisibleLogicalRangeChange((r) => {
        if (syncing || !r) return;
        syncing = true;
        b.timeScale().setVisibleLogicalRange(r);
        syncing = false;
      });
    link(eq, dd);
    link(dd, eq);
    return [eq, dd];
  }

  /**
   * A table sorted by clicking a header (again: the other way). `cols` are
   * {key, label, num?, fmt?(v, row), cls?(row)}; `onrow(row)` on a row click.
   */
  function sortable(box, cols, rows, onrow) {
    let key = null;
    let dir = 1;
    const table = h('table', { class: 'sortable' });
    const head = h('tr', {});
    const body = h('tbody', {});
    table.append(h('thead', {}, head), body);
    for (const c of cols) {
      const th = h('th', { scope: 'col', class: c.num ? '' : 'l', 'data-key': c.key, tabindex: '0', 'aria-sort': 'none' }, c.label);
      const go = () => {
        dir = key === c.key ? -dir : c.num ? -1 : 1;
        key = c.key;
        draw();
      };
      th.addEventListener('click', go);
      th.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), go()));
      head.append(th);
    }
    function draw() {
      const sorted = rows.slice();
      if (key !== null) {
        const c = cols.find((x) => x.key === key);
        const val = c.sortValue || ((r) => r[key]);
        sorted.sort((a, b) => {
          const x = val(a);
          const y = val(b);
          if (x === y) return 0;
          if (x === null || x === undefined) return 1;
          if (y === null || y === undefined) return -1;
          return (c.num ? x - y : String(x).localeCompare(String(y))) * dir;
        });
      }
      for (const th of head.children) th.setAttribute('aria-sort', th.dataset.key === key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
      body.replaceChildren(
        ...sorted.map((r) =>
          h(
            'tr',
            { class: onrow ? 'clickable' : null, onclick: onrow ? () => onrow(r) : null },
            cols.map((c) => h('td', { class: [c.num ? '' : 'l', c.cls ? c.cls(r) : ''].join(' ').trim() || null }, c.fmt ? c.fmt(r[c.key], r) : r[c.key] ?? '–')),
          ),
        ),
      );
    }
    draw();
    box.replaceChildren(table);
    return table;
  }

  // ---- backtest -------------------------------------------------------------------------------

  /** The time of the bar a moment falls in (bars are sorted; before the first: null). */
  function barTime(times, t) {
    let lo = 0;
    let hi = times.length - 1;
    if (hi < 0 || t < times[0]) return null;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (times[mid] <= t) lo = mid;
      else hi = mid - 1;
    }
    return times[lo];
  }

  function backtest() {
    const bars = data.bars.map(([t, o, hi, lo, c]) => ({ time: t, open: o, high: hi, low: lo, close: c }));
    const times = bars.map((b) => b.time);
    let candles = null;
    let priceChart = null;
    const box = document.getElementById('candles');
    if (box && bars.length) {
      priceChart = chart(box);
      // Prices with the data's digits (the library's default of 2 would read 1.08 for every EURUSD price).
      const digits = Number.isInteger(data.digits) ? data.digits : 5;
      candles = priceChart.addCandlestickSeries({
        upColor: C.up, downColor: C.down, wickUpColor: C.up, wickDownColor: C.down, borderVisible: false,
        priceFormat: { type: 'price', precision: digits, minMove: 1 / 10 ** digits },
      });
      candles.setData(bars);
      box.dataset.digits = String(digits);
      const markers = [];
      for (const t of data.trades) {
        const buy = t.side === 'buy';
        const a = barTime(times, t.entry_time);
        const b = barTime(times, t.exit_time);
        if (a !== null) markers.push({ time: a, position: buy ? 'belowBar' : 'aboveBar', color: buy ? C.up : C.down, shape: buy ? 'arrowUp' : 'arrowDown', text: `#${t.n} ${t.side} ${t.volume}`, id: `in-${t.n}` });
        if (b !== null) markers.push({ time: b, position: buy ? 'aboveBar' : 'belowBar', color: C.accent, shape: 'circle', text: `#${t.n} ${t.exit_reason} ${fmtNum(t.net_profit)}`, id: `out-${t.n}` });
      }
      markers.sort((x, y) => x.time - y.time);
      candles.setMarkers(markers);
      box.dataset.markers = String(markers.length);
      // The newest 400 bars to start with, where candles and markers can be told apart; scroll
      // or zoom out for the rest.
      if (bars.length > 400) priceChart.timeScale().setVisibleLogicalRange({ from: bars.length - 400, to: bars.length + 5 });
      else priceChart.timeScale().fitContent();
    }
    equityCharts(data.equity);
    const cols = [
      { key: 'n', label: '#', num: true },
      { key: 'side', label: 'side', cls: (r) => (r.side === 'buy' ? 'pos' : 'neg') },
      { key: 'volume', label: 'volume', num: true },
      { key: 'entry_time', label: 'entry', num: true, fmt: fmtTime },
      { key: 'entry_price', label: 'price', num: true, fmt: (v) => fmtNum(v, data.digits) },
      { key: 'exit_time', label: 'exit', num: true, fmt: fmtTime },
      { key: 'exit_price', label: 'price', num: true, fmt: (v) => fmtNum(v, data.digits) },
      { key: 'commission', label: 'commission', num: true, fmt: (v) => fmtNum(v) },
      { key: 'swap', label: 'swap', num: true, fmt: (v) => fmtNum(v) },
      { key: 'profit', label: 'profit', num: true, fmt: (v) => fmtNum(v) },
      { key: 'net_profit', label: 'net', num: true, fmt: (v) => fmtNum(v), cls: (r) => (r.net_profit < 0 ? 'neg' : 'pos') },
      { key: 'exit_reason', label: 'exit reason' },
    ];
    const tableBox = document.getElementById('trades');
    if (tableBox) {
      sortable(tableBox, cols, data.trades, (t) => {
        // Show the trade on the candles, with a little room either side.
        if (!priceChart) return;
        const pad = Math.max(3600, (t.exit_time - t.entry_time) * 0.5);
        priceChart.timeScale().setVisibleRange({ from: t.entry_time - pad, to: t.exit_time + pad });
        box.scrollIntoView({ behavior: 'smooth', block: 'center' });
      });
    }
  }

  // ---- optimisation ---------------------------------------------------------------------------

  const METRICS = [
    ['score', 'score'],
    ['net_profit', 'net profit'],
    ['sharpe', 'Sharpe'],
    ['profit_factor', 'profit factor'],
    ['win_rate', 'win rate %'],
    ['max_drawdown_pct', 'max drawdown %'],
    ['trades', 'trades'],
  ];
  // Lower is better for drawdown; every other metric is better higher.
  const better = (m, a, b) => (m === 'max_drawdown_pct' ? a < b : a > b);

  function key(v) {
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }

  function distinct(results, name) {
    const seen = new Map();
    for (const r of results) if (r.params && name in r.params) seen.set(key(r.params[name]), r.params[name]);
    return [...seen.values()].sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b))));
  }

  /** Blue (worst) to green (best) over [lo, hi]. */
  function heat(v, lo, hi, m) {
    if (v === null || v === undefined || !Number.isFinite(v)) return 'transparent';
    let f = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    if (m === 'max_drawdown_pct') f = 1 - f;
    const hue = 220 - f * 100;
    return `hsl(${hue}, 70%, ${38 + f * 12}%)`;
  }

  function heatmap(results, names) {
    const box = document.getElementById('heatmap');
    const xs = h('select', { id: 'heat-x', 'aria-label': 'Parameter across' }, names.map((n, i) => h('option', { value: n, selected: i === 0 ? 'selected' : null }, n)));
    const ys = h('select', { id: 'heat-y', 'aria-label': 'Parameter down' }, names.map((n, i) => h('option', { value: n, selected: i === 1 ? 'selected' : null }, n)));
    const ms = h('select', { id: 'heat-metric', 'aria-label': 'Metric' }, METRICS.map(([k, l]) => h('option', { value: k }, l)));
    const grid = h('div', { id: 'heat-grid' });
    const note = h('p', { class: 'muted' });
    box.append(h('div', { class: 'toolbar' }, h('label', {}, 'across ', xs), h('label', {}, 'down ', ys), h('label', {}, 'colour ', ms)), grid, note);
    function draw() {
      const x = xs.value;
      const y = ys.value;
      const m = ms.value;
      const xv = distinct(results, x);
      const yv = distinct(results, y);
      // Each cell: the best result with these two values (over the other parameters).
      const cells = new Map();
      for (const r of results) {
        if (!r.params || !(x in r.params) || !(y in r.params)) continue;
        const v = r[m];
        if (v === null || v === undefined) continue;
        const k = `${key(r.params[x])}|${key(r.params[y])}`;
        const cur = cells.get(k);
        if (!cur || better(m, v, cur[m])) cells.set(k, r);
      }
      const vals = [...cells.values()].map((r) => r[m]);
      const lo = Math.min(...vals);
      const hi = Math.max(...vals);
      const t = h('table', { class: 'heat' });
      t.append(h('tr', {}, h('th', { class: 'l' }, `${y} \\ ${x}`), xv.map((v) => h('th', {}, key(v)))));
      for (const yy of yv) {
        const row = h('tr', {}, h('th', {}, key(yy)));
        for (const xx of xv) {
          const r = cells.get(`${key(xx)}|${key(yy)}`);
          const v = r ? r[m] : null;
          row.append(
            h('td', { style: `background:${heat(v, lo, hi, m)}`, title: r ? `${JSON.stringify(r.params)}\n${m}: ${fmtNum(v, 3)}${r.eligible ? '' : ' (too few trades)'}` : 'not evaluated', class: r && !r.eligible ? 'ineligible' : null }, r ? fmtNum(v, m === 'trades' ? 0 : 2) : ''),
          );
        }
        t.append(row);
      }
      grid.replaceChildren(t);
      note.textContent = names.length > 2 ? `Each cell shows the best ${m} over the other parameters. Hover a cell for its parameters; struck-through cells had too few trades.` : 'Hover a cell for its parameters; struck-through cells had too few trades.';
    }
    for (const s of [xs, ys, ms]) s.addEventListener('change', draw);
    draw();
  }

  function optimization() {
    const results = data.results;
    const names = (data.ranged.length ? data.ranged : Object.keys((results[0] && results[0].params) || {})).filter((n) => distinct(results, n).length > 1);
    if (names.length >= 2) heatmap(results, names);
    else document.getElementById('heatmap').append(h('p', { class: 'muted' }, 'A heat map needs two parameters with more than one value.'));
    const cols = [
      { key: 'rank', label: 'rank', num: true },
      { key: 'params', label: 'parameters', fmt: (v) => JSON.stringify(v), sortValue: (r) => JSON.stringify(r.params) },
      ...METRICS.map(([k, l]) => ({ key: k, label: l, num: true, fmt: (v) => fmtNum(v, k === 'trades' ? 0 : 2) })),
      { key: 'eligible', label: 'eligible', fmt: (v) => (v ? 'yes' : 'no') },
    ];
    sortable(document.getElementById('results'), cols, results.map((r, i) => ({ ...r, rank: i + 1 })));
  }

  // ---- walk-forward ---------------------------------------------------------------------------

  function walkForward() {
    const w = data.windows;
    const line = document.getElementById('timeline');
    if (w.length) {
      const t0 = w[0].in_sample_from;
      const t1 = w[w.length - 1].out_of_sample_to;
      const span = Math.max(1, t1 - t0);
      const pct = (t) => `${(((t - t0) / span) * 100).toFixed(3)}%`;
      for (const x of w) {
        line.append(
          h(
            'div',
            { class: 'lane', title: `window ${x.index}` },
            h('span', { class: 'lane-label' }, `#${x.index}`),
            h('span', { class: 'seg is', style: `left:${pct(x.in_sample_from)};width:calc(${pct(x.in_sample_to)} - ${pct(x.in_sample_from)})`, title: `in sample ${fmtTime(x.in_sample_from)} to ${fmtTime(x.in_sample_to)}` }),
            h('span', { class: `seg oos ${x.oos_net_profit === null ? '' : x.oos_net_profit < 0 ? 'oos-neg' : 'oos-pos'}`, style: `left:${pct(x.out_of_sample_from)};width:calc(${pct(x.out_of_sample_to)} - ${pct(x.out_of_sample_from)})`, title: `out of sample ${fmtTime(x.out_of_sample_from)} to ${fmtTime(x.out_of_sample_to)}: ${fmtNum(x.oos_net_profit)}` }),
          ),
        );
      }
    }
    const cols = [
      { key: 'index', label: '#', num: true },
      { key: 'in_sample_from', label: 'in sample from', num: true, fmt: fmtTime },
      { key: 'in_sample_to', label: 'to', num: true, fmt: fmtTime },
      { key: 'out_of_sample_from', label: 'out of sample from', num: true, fmt: fmtTime },
      { key: 'out_of_sample_to', label: 'to', num: true, fmt: fmtTime },
      { key: 'best', label: 'best parameters', fmt: (v) => (v ? JSON.stringify(v) : 'none eligible'), sortValue: (r) => JSON.stringify(r.best) },
      { key: 'in_sample_score', label: 'in-sample score', num: true, fmt: (v) => fmtNum(v, 3) },
      { key: 'oos_net_profit', label: 'OOS net', num: true, fmt: (v) => fmtNum(v), cls: (r) => (r.oos_net_profit < 0 ? 'neg' : 'pos') },
      { key: 'oos_trades', label: 'OOS trades', num: true },
      { key: 'oos_win_rate', label: 'OOS win %', num: true, fmt: (v) => fmtNum(v, 1) },
      { key: 'oos_max_drawdown_pct', label: 'OOS max DD %', num: true, fmt: (v) => fmtNum(v) },
    ];
    sortable(document.getElementById('windows'), cols, w);
    equityCharts(data.equity);
  }

  if (!LW) {
    document.body.prepend(h('p', { class: 'neg' }, 'The chart library did not load; the tables below still work.'));
  }
  try {
    if (data.kind === 'backtest') backtest();
    else if (data.kind === 'optimization') optimization();
    else if (data.kind === 'walk_forward') walkForward();
    document.documentElement.dataset.ready = '1';
  } catch (e) {
    document.body.prepend(h('p', { class: 'neg' }, `This report could not draw: ${e.message}`));
    document.documentElement.dataset.ready = 'error';
  }
})();
