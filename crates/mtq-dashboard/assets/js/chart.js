// Chart: candles of a symbol and timeframe with the strategy's indicators overlaid (its
// oscillator, RSI, MACD or stochastic, in a pane under the candles on the same time scale), entry
// and exit markers of the trades the API lists, entry/SL/TP lines of open positions, and live
// bars from the WebSocket.

import { h, card, num } from './ui.js';
import { makeChart, dropChart, tradeMarkers, ts, palette } from './charts.js';
import { loadBars, symbolsFromConfig } from './market.js';
import { overlays as strategyLines, oscillator as strategyOscillator } from './indicators.js';

// The overlay lines' colours, in order (orange, violet, teal).
const LINE_COLORS = ['#f59e0b', '#8b5cf6', '#14b8a6'];

const TIMEFRAMES = ['M1', 'M5', 'M15', 'M30', 'H1', 'H4', 'D1'];

export async function render(root, ctx) {
  const { api, acct, live } = ctx;
  const config = await api('/api/v1/config').catch(() => ({}));
  const symbols = symbolsFromConfig(config);
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  let symbol = params.get('symbol') || (symbols[0] && symbols[0].symbol) || 'EURUSD';
  let timeframe = params.get('tf') || (symbols.find((s) => s.symbol === symbol) || {}).timeframe || 'M5';

  const symSel = h('select', { id: 'chart-symbol', 'aria-label': 'Symbol' }, (symbols.length ? symbols : [{ symbol }]).map((s) => h('option', { value: s.symbol, selected: s.symbol === symbol }, s.symbol)));
  const tfSel = h('select', { id: 'chart-tf', 'aria-label': 'Timeframe' }, TIMEFRAMES.map((t) => h('option', { value: t, selected: t === timeframe }, t)));
  const note = h('p', { class: 'muted', id: 'chart-note' });
  const box = h('div', { class: 'chart-box', id: 'chart' });
  const oscBox = h('div', { class: 'chart-box osc-box', id: 'chart-osc', hidden: true });
  const legend = h('div', { class: 'legend muted', id: 'chart-legend' });
  root.append(h('h1', {}, 'Chart'), h('div', { class: 'toolbar' }, symSel, tfSel), card(null, box, oscBox, legend, note));

  const c = palette();
  const chart = makeChart(box);
  const candles = chart.addCandlestickSeries({ upColor: c.up, downColor: c.down, borderVisible: false, wickUpColor: c.up, wickDownColor: c.down });
  const lineSeries = LINE_COLORS.map((color) => chart.addLineSeries({ color, lineWidth: 1, priceLineVisible: false, lastValueVisible: false }));
  // The oscillator's pane: a chart of its own whose visible range follows the candles' (bar for
  // bar: a hidden series holds every bar's time so both charts count the same bars).
  const osc = makeChart(oscBox, { timeScale: { borderVisible: false, timeVisible: true, secondsVisible: false, visible: true } });
  const oscAnchor = osc.addLineSeries({ visible: false, priceLineVisible: false, lastValueVisible: false });
  const oscHist = osc.addHistogramSeries({ priceLineVisible: false, lastValueVisible: false });
  const oscSeries = LINE_COLORS.slice(0, 2).map((color) => osc.addLineSeries({ color, lineWidth: 1, priceLineVisible: false, lastValueVisible: true }));
  let oscLevels = [];
  let syncing = false;
  const follow = (to) => (range) => {
    if (syncing || !range || oscBox.hidden) return;
    syncing = true;
    to.timeScale().setVisibleLogicalRange(range);
    syncing = false;
  };
  chart.timeScale().subscribeVisibleLogicalRangeChange(follow(osc));
  osc.timeScale().subscribeVisibleLogicalRangeChange(follow(chart));
  let bars = [];
  let digits = 5;
  let lines = [];
  let markers = [];

  // The strategy's oscillator in its pane with its threshold levels; the pane hides without one.
  function oscillatorPane(s) {
    const o = strategyOscillator(s, bars);
    for (const l of oscLevels) oscSeries[0].removePriceLine(l);
    oscLevels = [];
    oscBox.hidden = !o;
    if (!o) {
      oscSeries.forEach((x) => x.setData([]));
      oscHist.setData([]);
      oscAnchor.setData([]);
      box.dataset.oscillator = '';
      oscBox.dataset.values = '';
      return '';
    }
    oscAnchor.setData(bars.map((b) => ({ time: b.time })));
    // MACD is in price units (the symbol's digits); RSI and the stochastic run 0-100.
    const precision = o.priceUnits ? digits : 2;
    const priceFormat = { type: 'price', precision, minMove: 1 / 10 ** precision };
    [...oscSeries, oscHist].forEach((x) => x.applyOptions({ priceFormat }));
    oscBox.dataset.precision = String(precision);
    oscSeries.forEach((x, i) => x.setData(o.lines[i] ? o.lines[i].points : []));
    oscHist.setData((o.hist || []).map((p) => ({ ...p, color: p.value >= 0 ? c.up : c.down })));
    oscLevels = o.levels.map((l) => oscSeries[0].createPriceLine({ price: l.value, color: c.text, lineStyle: 2, lineWidth: 1, axisLabelVisible: true, title: l.label }));
    const range = chart.timeScale().getVisibleLogicalRange();
    if (range) osc.timeScale().setVisibleLogicalRange(range);
    // What the pane draws, for the browser test: line=count;... and the last values.
    box.dataset.oscillator = [...o.lines.map((l) => `${l.label}=${l.points.length}`), ...(o.hist ? [`hist=${o.hist.length}`] : [])].join(';');
    oscBox.dataset.levels = o.levels.map((l) => `${l.label}=${l.value}`).join(';');
    oscBox.dataset.values = JSON.stringify(o.lines.map((l) => l.points.slice(-50).map((p) => [p.time, p.value])));
    const names = ['orange', 'violet'];
    const drawn = o.lines.map((l, i) => `${l.label} (${names[i]}${l.points.length ? '' : ', needs more bars'})`);
    return ` · pane below: ${o.label}: ${drawn.join(', ')}${o.hist ? ', histogram' : ''}; levels ${o.levels.map((l) => l.value).join(' / ')}`;
  }

  // The strategy's own indicators over the prices (moving averages, bands), from its parameters.
  function overlays() {
    const s = symbols.find((x) => x.symbol === symbol) || {};
    const got = strategyLines(s, bars);
    const ind = got || [];
    lineSeries.forEach((series, i) => series.setData(ind[i] ? ind[i].points : []));
    const names = ['orange', 'violet', 'teal'];
    const drawn = ind.slice(0, lineSeries.length).map((l, i) => `${l.label} (${names[i]}${l.points.length ? '' : ', needs more bars'})`);
    const pane = oscillatorPane(s);
    const none = got === null && !pane ? ` · ${s.strategy_type || 'this strategy'}'s indicators are neither price lines nor an oscillator: none drawn` : '';
    legend.textContent = `${symbol} ${timeframe} · ${bars.length} bars · ${s.strategy_type || 'strategy'}${drawn.length ? ` · ${drawn.join(' · ')}` : ''}${pane}${none} · ${markers.length} markers`;
    box.dataset.overlays = ind.map((l) => `${l.label}=${l.points.length}`).join(';');
  }

  async function positionsLines(list) {
    for (const l of lines) candles.removePriceLine(l);
    lines = [];
    for (const p of list || []) {
      if (p.symbol !== symbol) continue;
      lines.push(candles.createPriceLine({ price: num(p.open_price), color: c.accent, lineStyle: 2, title: `#${p.ticket} ${p.side}` }));
      if (p.sl) lines.push(candles.createPriceLine({ price: num(p.sl), color: c.down, lineStyle: 1, title: `SL #${p.ticket}` }));
      if (p.tp) lines.push(candles.createPriceLine({ price: num(p.tp), color: c.up, lineStyle: 1, title: `TP #${p.ticket}` }));
    }
    // The lines drawn, as `title=price;...` (for the browser test to check against the positions).
    box.dataset.priceLines = lines.map((l) => `${l.options().title}=${l.options().price}`).join(';');
  }

  async function load() {
    note.textContent = '';
    const got = await loadBars(ctx, symbol, timeframe);
    bars = got.bars;
    if (got.note) note.textContent = got.note;
    candles.setData(bars);
    // Prices with the symbol's digits (the library's default of 2 reads 1.08 for every EURUSD price).
    const spec = await api(acct(`/symbols/${encodeURIComponent(symbol)}`)).catch(() => null);
    const given = spec ? num((spec.spec || spec).digits) : null;
    digits = given !== null && given >= 0 && given <= 8 ? given : bars.length && bars[bars.length - 1].close >= 50 ? 3 : 5;
    const priceFormat = { type: 'price', precision: digits, minMove: 1 / 10 ** digits };
    candles.applyOptions({ priceFormat });
    lineSeries.forEach((l) => l.applyOptions({ priceFormat }));
    box.dataset.digits = String(digits);
    const trades = await api(acct(`/trades?symbol=${encodeURIComponent(symbol)}&limit=500`)).catch(() => ({ items: [] }));
    // Markers sit on bar times: snap each trade time to the bar it falls in.
    const step = bars.length > 1 ? bars[1].time - bars[0].time : 300;
    const first = bars.length ? bars[0].time : 0;
    markers = tradeMarkers(trades.items || [], symbol)
      .map((m) => ({ ...m, time: bars.length ? first + Math.floor((m.time - first) / step) * step : m.time }))
      .filter((m) => !bars.length || m.time >= first);
    candles.setMarkers(markers);
    box.dataset.markers = String(markers.length);
    // What the chart shows, for the browser test to check against the API's trades.
    box.dataset.markerIds = markers.map((m) => m.id).join(' ');
    box.dataset.firstBar = String(bars.length ? bars[0].time : '');
    box.dataset.trades = String((trades.items || []).length);
    box.dataset.bars = String(bars.length);
    box.dataset.lastBar = String(bars.length ? bars[bars.length - 1].time : '');
    overlays();
    chart.timeScale().fitContent();
    positionsLines(await api(acct('/positions')).catch(() => []));
  }

  const reload = () => {
    symbol = symSel.value;
    timeframe = tfSel.value;
    history.replaceState(null, '', `#/chart?symbol=${symbol}&tf=${timeframe}`);
    load();
  };
  symSel.addEventListener('change', reload);
  tfSel.addEventListener('change', reload);
  await load();

  const offs = [
    live.subscribe(`bars:${ctx.account}`, (m) => {
      const k = m.data && m.data.kind;
      if (!k || k.symbol !== symbol || k.timeframe !== timeframe || !k.bar) return;
      const b = { time: ts(k.bar.time), open: k.bar.open, high: k.bar.high, low: k.bar.low, close: k.bar.close };
      if (bars.length && b.time < bars[bars.length - 1].time) return;
      if (bars.length && b.time === bars[bars.length - 1].time) bars[bars.length - 1] = b;
      else bars.push(b);
      candles.update(b);
      box.dataset.lastBar = String(b.time);
      overlays();
    }),
    live.subscribe(`positions:${ctx.account}`, (m) => Array.isArray(m.data) && positionsLines(m.data)),
    live.subscribe(`trades:${ctx.account}`, () => load()),
  ];
  return () => {
    offs.forEach((f) => f());
    dropChart(osc);
    dropChart(chart);
  };
}
