// Market data for the charts: bars from the API's market routes, symbols from the running
// configuration.

import { ts } from './charts.js';

/** The configured symbols with their strategy settings (`currencies` in the config). */
export function symbolsFromConfig(config) {
  const list = (config && config.currencies) || [];
  return list.filter((c) => c && c.symbol);
}

function toBar(b) {
  return { time: typeof b.time === 'number' ? b.time : ts(b.time), open: +b.open, high: +b.high, low: +b.low, close: +b.close };
}

/** Bars for a symbol and timeframe, oldest first: `{bars, note}`. */
export const BARS_ROUTE = '/api/v1/accounts/{account}/symbols/{symbol}/bars';

export async function loadBars(ctx, symbol, timeframe, limit = 1000) {
  const { api, acct } = ctx;
  if (!ctx.has('get', BARS_ROUTE)) return { bars: [], note: 'This server has no market-bars route: markers only.' };
  const q = `timeframe=${encodeURIComponent(timeframe)}&limit=${limit}`;
  try {
    const r = await api(acct(`/symbols/${encodeURIComponent(symbol)}/bars?${q}`));
    const items = Array.isArray(r) ? r : r.items || r.bars || [];
    const bars = items.map(toBar).sort((a, b) => a.time - b.time);
    const out = [];
    for (const b of bars) if (!out.length || out[out.length - 1].time !== b.time) out.push(b);
    return { bars: out, note: out.length ? '' : 'No bars yet for this symbol and timeframe.' };
  } catch (e) {
    return { bars: [], note: `Bars unavailable: ${e.message}` };
  }
}
