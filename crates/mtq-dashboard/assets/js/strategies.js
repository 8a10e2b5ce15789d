// Strategies and symbols: each configured symbol with its strategy and parameters, enable or
// disable it (traders), and "test now": the strategy on the latest bars, its signal and the risk
// verdict, with nothing sent.

import { h, clear, card, table, act, toast } from './ui.js';
import { symbolsFromConfig } from './market.js';

export async function render(root, ctx) {
  const { api, acct, can } = ctx;
  const [config, account, strategies] = await Promise.all([
    api('/api/v1/config').catch(() => ({})),
    api(acct()).catch(() => null),
    ctx.has('get', '/api/v1/accounts/{account}/strategies') ? api(acct('/strategies')).catch(() => null) : null,
  ]);
  const disabled = new Set((account && account.disabled_symbols) || []);
  const list = symbolsFromConfig(config);
  const out = h('div', { id: 'test-result' });
  const box = h('div', { id: 'symbols' });
  root.append(h('h1', {}, 'Strategies and symbols'), card('Symbols', box), out);

  const params = (s) =>
    Object.entries(s)
      .filter(([k]) => !['symbol', 'enabled', 'strategy_type', 'timeframe'].includes(k))
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
      .join(', ');

  const cols = [
    { key: 'symbol', label: 'Symbol' },
    { key: 'strategy_type', label: 'Strategy' },
    { key: 'timeframe', label: 'TF' },
    { key: 'state', label: 'State', node: (s) => h('span', { class: s.enabled && !disabled.has(s.symbol) ? 'pos' : 'neg' }, s.enabled ? (disabled.has(s.symbol) ? 'disabled by operator' : 'enabled') : 'disabled in config') },
    { key: 'params', label: 'Parameters', node: (s) => h('span', { class: 'params' }, params(s)) },
    {
      key: 'actions',
      label: 'Actions',
      node: (s) =>
        h(
          'span',
          { class: 'row-actions' },
          ctx.has('post', '/api/v1/accounts/{account}/symbols/{symbol}/test') ? h('button', { class: 'btn btn-small', type: 'button', dataset: { action: 'test', symbol: s.symbol }, onclick: () => test(s.symbol) }, 'Test now') : null,
          can('trader') && s.enabled
            ? h(
                'button',
                { class: 'btn btn-small', type: 'button', dataset: { action: 'toggle', symbol: s.symbol }, onclick: () => toggle(s.symbol, disabled.has(s.symbol)) },
                disabled.has(s.symbol) ? 'Enable' : 'Disable',
              )
            : null,
        ),
    },
  ];
  box.append(table(cols, list, { empty: 'No symbols in the configuration.', id: (s) => s.symbol }));
  if (strategies) {
    const items = Array.isArray(strategies) ? strategies : strategies.items || [];
    root.append(card('Strategies', h('pre', { class: 'json' }, JSON.stringify(items, null, 2))));
  }

  async function toggle(symbol, enable) {
    const r = await act(`${enable ? 'Enable' : 'Disable'} ${symbol}`, () => api(acct(`/symbols/${symbol}`), { method: 'PATCH', body: { enabled: enable } }));
    if (r) setTimeout(() => ctx.refresh(), 300);
  }

  async function test(symbol) {
    clear(out);
    out.append(card(`Test ${symbol}`, h('p', { class: 'muted' }, 'Running the strategy on the latest bars…')));
    try {
      const r = await api(acct(`/symbols/${symbol}/test`), { method: 'POST', body: {} });
      clear(out).append(card(`Test ${symbol}: nothing was sent`, h('pre', { class: 'json' }, JSON.stringify(r, null, 2))));
    } catch (e) {
      clear(out);
      toast(`Test ${symbol}: ${e.status === 404 || e.status === 405 ? 'this server has no test route' : e.message}`, 'error');
    }
  }
}
