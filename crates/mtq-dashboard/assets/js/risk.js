// Risk: each limit and how much of it is used, and net exposure by currency.

import { h, clear, card, usage, stat, money, pct, num, signClass, table, killSwitchLabel } from './ui.js';

export async function render(root, ctx) {
  const { api, acct } = ctx;
  const limits = h('div', { class: 'limits', id: 'risk-limits' });
  const exposure = h('div', { id: 'exposure' });
  const configured = h('div', { id: 'risk-config' });
  root.append(h('h1', {}, 'Risk'), h('div', { class: 'cols' }, card('Limits in use', limits), card('Exposure by currency (lots)', exposure)), card('Configured limits', configured));

  const config = await api('/api/v1/config').catch(() => ({}));
  const g = config.global || {};
  const e = config.emergency || {};
  configured.append(
    table(
      [
        { key: 'k', label: 'Limit' },
        { key: 'v', label: 'Value' },
      ],
      [
        ['Max concurrent trades', g.max_concurrent_trades],
        ['Portfolio risk to stops (% balance)', g.portfolio_risk_percent],
        ['Max currency exposure (% equity)', g.max_currency_exposure_percent],
        ['Max daily loss (%)', e.max_daily_loss_percent],
        ['Stop on daily loss', e.stop_on_daily_loss],
        ['Max drawdown (%)', e.max_drawdown_percent],
        ['Stop on max drawdown', e.stop_on_max_drawdown],
        ['Max consecutive order failures', e.max_consecutive_order_failures],
        ['Emergency stop', e.emergency_stop],
      ]
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => ({ k, v: String(v) })),
      { empty: 'No limits in the configuration.' },
    ),
  );

  async function load() {
    const [r, positions] = await Promise.all([api(acct('/risk')), api(acct('/positions')).catch(() => [])]);
    clear(limits);
    const ddUsed = num(r.drawdown_limit_pct) ? (num(r.drawdown_pct) || 0) / num(r.drawdown_limit_pct) : 0;
    const maxTrades = num(g.max_concurrent_trades);
    limits.append(
      stat("Today's P&L", money(r.daily_pnl), signClass(r.daily_pnl)),
      stat('Kill switch', killSwitchLabel(r.kill_switch).text, killSwitchLabel(r.kill_switch).cls),
      usage('Daily loss', r.daily_loss_used, num(r.daily_loss_limit) ? `${pct((num(r.daily_loss_used) || 0) * 100, 0)} of ${money(r.daily_loss_limit)}` : 'no limit'),
      usage('Drawdown', ddUsed, num(r.drawdown_limit_pct) ? `${pct(r.drawdown_pct, 2)} of ${pct(r.drawdown_limit_pct, 0)}` : 'no limit'),
      usage('Open positions', maxTrades ? positions.length / maxTrades : 0, maxTrades ? `${positions.length} of ${maxTrades}` : String(positions.length)),
    );
    clear(exposure);
    const rows = Object.entries(r.exposure || {}).map(([cur, lots]) => ({ cur, lots }));
    exposure.append(
      table(
        [
          { key: 'cur', label: 'Currency' },
          { key: 'lots', label: 'Net lots', cls: (x) => signClass(x.lots) },
          { key: 'dir', label: 'Direction', fmt: (v, x) => (num(x.lots) > 0 ? 'long' : num(x.lots) < 0 ? 'short' : 'flat') },
        ],
        rows,
        { empty: 'No exposure: no open positions.' },
      ),
    );
  }
  await load();
  const t = setInterval(() => load().catch(() => {}), 5000);
  return () => clearInterval(t);
}
