// The strategies' price indicators, computed in the page from the chart's bars as the strategies
// compute them (mtq-indicators, TA-Lib's definitions): SMA, EMA (k = 2 / (n + 1), seeded with the
// SMA of the first n closes), WMA (weights 1..n) and Bollinger bands (SMA ± k population standard
// deviations), and the oscillators RSI (Wilder), MACD and the slow stochastic as TA-Lib defines
// them. Each returns `{time, value}` points from the first bar where it is defined.

export function sma(bars, n) {
  const out = [];
  let sum = 0;
  for (let i = 0; i < bars.length; i++) {
    sum += bars[i].close;
    if (i >= n) sum -= bars[i - n].close;
    if (i >= n - 1) out.push({ time: bars[i].time, value: sum / n });
  }
  return out;
}

export function ema(bars, n) {
  const out = [];
  const k = 2 / (n + 1);
  let v = 0;
  for (let i = 0; i < bars.length; i++) {
    const c = bars[i].close;
    if (i < n) {
      v += c;
      if (i === n - 1) {
        v /= n;
        out.push({ time: bars[i].time, value: v });
      }
    } else {
      v = (c - v) * k + v;
      out.push({ time: bars[i].time, value: v });
    }
  }
  return out;
}

export function wma(bars, n) {
  const out = [];
  const div = (n * (n + 1)) / 2;
  for (let i = n - 1; i < bars.length; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += bars[i - n + 1 + j].close * (j + 1);
    out.push({ time: bars[i].time, value: s / div });
  }
  return out;
}

export function bollinger(bars, n, k) {
  const upper = [];
  const middle = [];
  const lower = [];
  for (let i = n - 1; i < bars.length; i++) {
    let s = 0;
    for (let j = i - n + 1; j <= i; j++) s += bars[j].close;
    const m = s / n;
    let q = 0;
    for (let j = i - n + 1; j <= i; j++) q += (bars[j].close - m) ** 2;
    const sd = Math.sqrt(q / n);
    const t = bars[i].time;
    middle.push({ time: t, value: m });
    upper.push({ time: t, value: m + k * sd });
    lower.push({ time: t, value: m - k * sd });
  }
  return { upper, middle, lower };
}

/**
 * RSI (TA-Lib `RSI`): average gain and loss seeded with the mean of the first n changes, then
 * Wilder's smoothing (avg = (avg · (n − 1) + x) / n); 100 · gain / (gain + loss), 50 when both
 * are zero. First value on bar n.
 */
export function rsi(bars, n) {
  const out = [];
  let gain = 0;
  let loss = 0;
  for (let i = 1; i < bars.length; i++) {
    const d = bars[i].close - bars[i - 1].close;
    const g = d > 0 ? d : 0;
    const l = d < 0 ? -d : 0;
    if (i <= n) {
      gain += g;
      loss += l;
      if (i < n) continue;
      gain /= n;
      loss /= n;
    } else {
      gain = (gain * (n - 1) + g) / n;
      loss = (loss * (n - 1) + l) / n;
    }
    const t = gain + loss;
    out.push({ time: bars[i].time, value: t > 0 ? (100 * gain) / t : 50 });
  }
  return out;
}

/**
 * MACD (TA-Lib `MACD`): fast EMA − slow EMA, both seeded with an SMA whose window ends on bar
 * slow − 1 (TA-Lib places the fast seed there, not on bar fast − 1); the signal is the EMA of that
 * line seeded with the mean of its first `signal` values; histogram = MACD − signal. All three
 * start on bar slow + signal − 2, where the strategy's values start.
 */
export function macd(bars, fast, slow, signal) {
  const res = { macd: [], signal: [], hist: [] };
  const start = slow - 1;
  if (fast > slow || bars.length <= start + signal - 1) return res;
  const kf = 2 / (fast + 1);
  const ks = 2 / (slow + 1);
  const kg = 2 / (signal + 1);
  let f = 0;
  let s = 0;
  for (let i = 0; i < slow; i++) s += bars[i].close;
  for (let i = slow - fast; i < slow; i++) f += bars[i].close;
  s /= slow;
  f /= fast;
  let sig = 0;
  for (let i = start; i < bars.length; i++) {
    if (i > start) {
      const c = bars[i].close;
      f = (c - f) * kf + f;
      s = (c - s) * ks + s;
    }
    const m = f - s;
    const j = i - start;
    if (j < signal - 1) {
      sig += m;
      continue;
    }
    if (j === signal - 1) sig = (sig + m) / signal;
    else sig = signal === 1 ? m : (m - sig) * kg + sig;
    const t = bars[i].time;
    res.macd.push({ time: t, value: m });
    res.signal.push({ time: t, value: sig });
    res.hist.push({ time: t, value: m - sig });
  }
  return res;
}

/**
 * Slow stochastic (TA-Lib `STOCH`, SMA smoothing): raw %K = 100 · (close − lowest low) /
 * (highest high − lowest low) over k bars (0 on a flat range), %K its SMA over `slowing`, %D the
 * SMA of %K over d.
 */
export function stochastic(bars, k, slowing, d) {
  const raw = [];
  for (let i = k - 1; i < bars.length; i++) {
    let hi = -Infinity;
    let lo = Infinity;
    for (let j = i - k + 1; j <= i; j++) {
      hi = Math.max(hi, bars[j].high);
      lo = Math.min(lo, bars[j].low);
    }
    raw.push({ time: bars[i].time, close: hi - lo > 0 ? (100 * (bars[i].close - lo)) / (hi - lo) : 0 });
  }
  const slowK = sma(raw, slowing).map((p) => ({ time: p.time, close: p.value }));
  const slowD = sma(slowK, d);
  const from = slowD.length ? slowD[0].time : Infinity;
  return { k: slowK.filter((p) => p.time >= from).map((p) => ({ time: p.time, value: p.close })), d: slowD };
}

const MA = { sma, ema, wma };
const int = (v, d) => {
  const n = Number(v ?? d);
  return Number.isInteger(n) && n > 0 ? n : null;
};

/**
 * The lines a symbol's strategy trades on, from its configuration entry: `[{label, points}]`,
 * or `null` when the chart cannot draw this strategy's indicators over prices (an oscillator, or
 * a strategy of its own structure).
 */
export function overlays(entry, bars) {
  const p = entry || {};
  switch (p.strategy_type) {
    case 'crossover': {
      const type = String(p.ma_type || 'sma').toLowerCase();
      const f = MA[type] || sma;
      const name = (MA[type] ? type : 'sma').toUpperCase();
      return [int(p.fast_period, 10), int(p.slow_period, 20)].filter(Boolean).map((n) => ({ label: `${name} ${n}`, points: f(bars, n) }));
    }
    case 'bollinger': {
      const n = int(p.bb_period, 20);
      const k = Number(p.bb_std_dev ?? 2);
      if (!n || n < 2 || !Number.isFinite(k)) return [];
      const b = bollinger(bars, n, k);
      return [
        { label: `BB ${n} upper (${k}σ)`, points: b.upper },
        { label: `BB ${n} middle`, points: b.middle },
        { label: `BB ${n} lower`, points: b.lower },
      ];
    }
    case 'ma_rsi': {
      const type = String(p.ma_type || 'ema').toLowerCase();
      const n = int(p.ma_period, 50);
      const f = MA[type] || ema;
      return n ? [{ label: `${(MA[type] ? type : 'ema').toUpperCase()} ${n}`, points: f(bars, n) }] : [];
    }
    case 'ema_trend':
      return [int(p.ema_fast, 21), int(p.ema_mid, 50), int(p.ema_slow, 200)].filter(Boolean).map((n) => ({ label: `EMA ${n}`, points: ema(bars, n) }));
    default:
      return null;
  }
}

const level = (v, d) => {
  const n = Number(v ?? d);
  return Number.isFinite(n) ? n : d;
};

/**
 * The oscillator a symbol's strategy trades on, for a pane under the candles:
 * `{label, lines: [{label, points}], hist, levels: [{label, value}], priceUnits}` (hist: the MACD
 * histogram, else null; priceUnits: the values are price differences, not 0-100), or `null` when
 * the strategy has none.
 */
export function oscillator(entry, bars) {
  const p = entry || {};
  switch (p.strategy_type) {
    case 'rsi':
    case 'ma_rsi': {
      const n = int(p.rsi_period, 14);
      if (!n || n < 2) return null;
      const levels = [
        { label: 'oversold', value: level(p.oversold, 30) },
        { label: 'overbought', value: level(p.overbought, 70) },
      ];
      if (p.strategy_type === 'ma_rsi') levels.push({ label: 'mid', value: level(p.rsi_mid, 50) });
      return { label: `RSI ${n}`, lines: [{ label: `RSI ${n}`, points: rsi(bars, n) }], hist: null, levels };
    }
    case 'macd':
    case 'macd_mtf': {
      const [f, s, g] = [int(p.fast_period, 12), int(p.slow_period, 26), int(p.signal_period, 9)];
      if (!f || !s || !g) return null;
      const m = macd(bars, f, s, g);
      const th = p.strategy_type === 'macd' ? Math.abs(level(p.histogram_threshold, 0)) : 0;
      const levels = th > 0 ? [{ label: '+threshold', value: th }, { label: 'zero', value: 0 }, { label: '−threshold', value: -th }] : [{ label: 'zero', value: 0 }];
      const name = `MACD ${f},${s},${g}`;
      return { label: name, lines: [{ label: name, points: m.macd }, { label: 'signal', points: m.signal }], hist: m.hist, levels, priceUnits: true };
    }
    case 'stochastic_cross': {
      const [k, sl, d] = [int(p.k_period, 14), int(p.k_slowing, 3), int(p.d_period, 3)];
      if (!k || !sl || !d) return null;
      const st = stochastic(bars, k, sl, d);
      const name = `Stoch ${k},${sl},${d}`;
      return {
        label: name,
        lines: [{ label: '%K', points: st.k }, { label: '%D', points: st.d }],
        hist: null,
        levels: [
          { label: 'oversold', value: level(p.oversold, 20) },
          { label: 'overbought', value: level(p.overbought, 80) },
        ],
      };
    }
    default:
      return null;
  }
}
