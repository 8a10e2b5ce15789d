// lightweight-charts (the vendored standalone build, loaded as a classic script before the app
// sets `window.LightweightCharts`), themed from the page's CSS variables.

const LW = () => window.LightweightCharts;

function colors() {
  const s = getComputedStyle(document.documentElement);
  const v = (n) => s.getPropertyValue(n).trim();
  return { bg: v('--panel'), text: v('--text'), grid: v('--grid'), up: v('--up'), down: v('--down'), accent: v('--accent') };
}

const charts = new Set();

export function makeChart(container, opts = {}) {
  const c = colors();
  const chart = LW().createChart(container, {
    autoSize: true,
    layout: { background: { type: 'solid', color: c.bg }, textColor: c.text, attributionLogo: true },
    grid: { vertLines: { color: c.grid }, horzLines: { color: c.grid } },
    rightPriceScale: { borderVisible: false },
    timeScale: { borderVisible: false, timeVisible: true, secondsVisible: false },
    crosshair: { mode: 0 },
    ...opts,
  });
  charts.add(chart);
  return chart;
}

export function dropChart(chart) {
  charts.delete(chart);
  chart.remove();
}

/** Re-colours every open chart after the theme changed. */
export function retheme() {
  const c = colors();
  for (const ch of charts) {
    ch.applyOptions({
      layout: { background: { type: 'solid', color: c.bg }, textColor: c.text },
      grid: { vertLines: { color: c.grid }, horzLines: { color: c.grid } },
    });
  }
}

export function palette() {
  return colors();
}

/** Seconds since the epoch, as the charts want. */
export function ts(iso) {
  return Math.floor(new Date(iso).getTime() / 1000);
}

/** Entry and exit markers for trades on a series, sorted by time as the library requires. */
export function tradeMarkers(trades, symbol) {
  const c = colors();
  const out = [];
  for (const t of trades) {
    if (symbol && t.symbol !== symbol) continue;
    const buy = t.side === 'buy';
    out.push({
      time: ts(t.entry_time),
      position: buy ? 'belowBar' : 'aboveBar',
      color: buy ? c.up : c.down,
      shape: buy ? 'arrowUp' : 'arrowDown',
      text: `${buy ? 'Buy' : 'Sell'} ${t.volume}`,
      id: `in-${t.id}`,
    });
    if (t.exit_time) {
      out.push({
        time: ts(t.exit_time),
        position: buy ? 'aboveBar' : 'belowBar',
        color: c.accent,
        shape: 'circle',
        text: `Exit ${t.exit_reason || ''} ${Number(t.net_profit).toFixed(2)}`.trim(),
        id: `out-${t.id}`,
      });
    }
  }
  out.sort((a, b) => a.time - b.time);
  return out;
}

/** Equity and drawdown (percent below the running peak) from {time, value} points. */
export function drawdown(points) {
  let peak = -Infinity;
  return points.map((p) => {
    peak = Math.max(peak, p.value);
    return { time: p.time, value: peak > 0 ? ((p.value - peak) / peak) * 100 : 0 };
  });
}
