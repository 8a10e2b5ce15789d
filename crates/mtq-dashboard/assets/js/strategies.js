// Strategies and symbols: each configured symbol with its strategy and parameters, enable or
// disable it (traders), and "test now": the strategy on the latest bars, its signal and the risk
// verdict, with nothing sent.

import { h, clear, card, table, act, toast, time } from './ui.js';
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
          can('trader') && ctx.has('post', '/api/v1/accounts/{account}/symbols/{symbol}/test') ? h('button', { class: 'btn btn-small', type: 'button', dataset: { action: 'test', symbol: s.symbol }, onclick: () => test(s.symbol) }, 'Test now') : null,
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
    const strategyCols = [
      { key: 'name', label: 'Strategy' },
      { key: 'symbols', label: 'Symbols', fmt: (v) => (v || []).join(', '), cls: () => 'wrap' },
      { key: 'parameters', label: 'Parameters', node: (s) => h('span', { class: 'params' }, params(s.parameters || {})) },
    ];
    root.append(card('Strategies running', h('div', { id: 'strategies' }, table(strategyCols, items, { empty: 'No strategy is running.' }))));
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
      clear(out).append(verdict(r));
    } catch (e) {
      clear(out);
      toast(`Test ${symbol}: ${e.status === 404 || e.status === 405 ? 'this server has no test route' : e.message}`, 'error');
    }
  }
}

const VERDICTS = {
  no_signal: ['No signal', 'muted'],
  not_an_entry: ['Not an entry', 'muted'],
  allowed: ['Allowed', 'pos'],
  refused: ['Refused', 'neg'],
};

/** What "test now" found, as people read it: the signal, the risk verdict and the rule. */
function verdict(r) {
  const [label, cls] = VERDICTS[r.verdict] || [r.verdict, ''];
  const s = r.signal;
  const rows = [
    ['Verdict', h('strong', { class: cls, id: 'test-verdict', dataset: { verdict: r.verdict } }, label)],
    ['Bars seen', `${r.bars} closed ${r.timeframe} bars, the newest opened ${time(r.bar_time)}`],
    ['Signal', s ? `${s.kind} by ${s.strategy} (${s.reason}), confidence ${Number(s.confidence).toFixed(2)}` : 'none on the latest bar'],
  ];
  if (s && (s.sl != null || s.tp != null)) rows.push(['SL / TP', `${s.sl ?? '–'} / ${s.tp ?? '–'}`]);
  if (r.rule) rows.push(['Refused by', r.rule]);
  if (r.refusal) rows.push(['Why', r.refusal]);
  if (r.volume != null) rows.push(['Volume', `${r.volume} lots`]);
  return card(
    `Test ${r.symbol}: nothing was sent`,
    h('dl', { class: 'kv' }, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    r.message ? h('p', { class: 'muted' }, r.message) : null,
  );
}
