// The strategies' price indicators, computed in the page from the chart's bars as the strategies
// compute them (mtq-indicators, TA-Lib's definitions): SMA, EMA (k = 2 / (n + 1), seeded with the
// SMA of the first n closes), WMA (weights 1..n) and Bollinger bands (SMA ± k population standard
// deviations). Each returns `{time, value}` points from the first bar where it is defined.

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
    case 'ema_trend':
      return [int(p.ema_fast, 21), int(p.ema_mid, 50), int(p.ema_slow, 200)].filter(Boolean).map((n) => ({ label: `EMA ${n}`, points: ema(bars, n) }));
    default:
      return null;
  }
}
