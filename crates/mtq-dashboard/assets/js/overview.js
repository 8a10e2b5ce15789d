// Overview: the account, its limits, the trader's state and health, and open positions with
// live P&L (from the WebSocket), with close and modify-SL/TP actions for traders. With several
// accounts, every account side by side first, with the portfolio's totals and limits.

import { h, clear, card, stat, usage, table, money, pct, price, time, signClass, num, confirmDialog, act, killSwitchLabel, tradingLabel } from './ui.js';

async function safe(p) {
  try {
    return await p;
  } catch (e) {
    return { error: e };
  }
}

async function probe(path) {
  try {
    const r = await fetch(path, { cache: 'no-store' });
    return { ok: r.ok, body: await r.json().catch(() => ({})) };
  } catch {
    return { ok: false, body: {} };
  }
}

export async function render(root, ctx) {
  const { api, acct, can, live } = ctx;
  const accountBox = h('div', { class: 'stats', id: 'account-stats' });
  const limitsBox = h('div', { class: 'limits', id: 'limits' });
  const healthBox = h('div', { class: 'stats', id: 'health' });
  const posBox = h('div', { id: 'positions' });
  const several = ctx.accounts.length > 1;
  const allBox = h('div', { id: 'all-accounts' });
  root.append(
    ...[
      h('h1', {}, several ? `Overview · ${ctx.account}` : 'Overview'),
      several ? card('All accounts', allBox) : null,
      h('div', { class: 'cols' }, card('Account', accountBox), card('Limits', limitsBox), card('State and health', healthBox)),
      card('Open positions', posBox),
    ].filter(Boolean),
  );

  // Every account's state and money, and what the portfolio limits see across them.
  async function drawAll() {
    if (!several) return;
    const [list, pr] = await Promise.all([safe(api('/api/v1/accounts')), safe(api('/api/v1/portfolio/risk'))]);
    clear(allBox);
    const rows = Array.isArray(list) ? list : [];
    const cols = [
      { key: 'name', label: 'Account', cls: (r) => (r.name === ctx.account ? 'current' : null) },
      { key: 'connection', label: 'Connection', cls: (r) => (r.connection === 'connected' ? 'pos' : 'neg') },
      { key: 'trading', label: 'Trading', fmt: (v) => tradingLabel(v).text },
      { key: 'kill_switch', label: 'Kill switch', fmt: (v) => killSwitchLabel(v).text, cls: (r) => killSwitchLabel(r.kill_switch).cls },
      { key: 'balance', label: 'Balance', fmt: (v, r) => (v == null ? '–' : `${money(v)} ${r.currency || ''}`) },
      { key: 'equity', label: 'Equity', fmt: (v, r) => (v == null ? '–' : `${money(v)} ${r.currency || ''}`) },
      { key: 'daily_pnl', label: "Today's P&L", fmt: (v) => (v == null ? '–' : money(v)), cls: (r) => signClass(r.daily_pnl) },
      { key: 'open_positions', label: 'Positions' },
    ];
    allBox.append(table(cols, rows, { empty: 'No accounts.', id: (r) => r.name, onrow: (r) => ctx.switchAccount(r.name) }));
    if (pr && !pr.error) {
      const loss = num(pr.max_daily_loss);
      const totals = h(
        'div',
        { class: 'stats', id: 'portfolio-totals' },
        stat("Portfolio P&L today", money(pr.daily_pnl), signClass(pr.daily_pnl)),
        stat('Daily loss limit', loss ? money(loss) : 'none'),
        stat('Exposure limit', pr.max_currency_exposure_lots ? `${pr.max_currency_exposure_lots} lots a currency` : 'none'),
        stat('Portfolio limit', pr.limit_reached ? pr.limit_reached.replaceAll('_', ' ') : 'not reached', pr.limit_reached ? 'neg' : 'pos'),
      );
      allBox.append(totals);
      if (pr.limit_message) allBox.append(h('p', { class: 'warn' }, pr.limit_message));
    }
  }

  let account = null;
  let riskView = null;
  let health = null;
  let ready = null;

  function drawAccount() {
    clear(accountBox);
    if (!account || account.error) {
      accountBox.append(h('p', { class: 'muted' }, account && account.error ? `No live account: ${account.error.message}` : 'Loading…'));
      return;
    }
    const cur = account.currency || '';
    accountBox.append(
      stat('Balance', `${money(account.balance)} ${cur}`),
      stat('Equity', `${money(account.equity)} ${cur}`, 'equity'),
      stat('Margin', money(account.margin)),
      stat('Free margin', money(account.free_margin)),
      stat('Margin level', account.margin_level ? pct(account.margin_level, 0) : '–'),
    );
    const el = document.getElementById('equity-value');
    if (el) el.textContent = money(account.equity);
  }

  function drawLimits() {
    clear(limitsBox);
    const r = riskView;
    if (!r || r.error) {
      limitsBox.append(h('p', { class: 'muted' }, r && r.error ? `Limits unavailable: ${r.error.message}` : 'Loading…'));
      return;
    }
    const dl = num(r.daily_loss_limit);
    limitsBox.append(
      stat("Today's P&L", money(r.daily_pnl), signClass(r.daily_pnl)),
      usage('Daily loss limit', r.daily_loss_used, dl ? `${pct((num(r.daily_loss_used) || 0) * 100, 0)} of ${money(dl)}` : 'no limit'),
      usage(
        'Drawdown',
        num(r.drawdown_limit_pct) ? (num(r.drawdown_pct) || 0) / num(r.drawdown_limit_pct) : 0,
        num(r.drawdown_limit_pct) ? `${pct(r.drawdown_pct, 2)} of ${pct(r.drawdown_limit_pct, 0)}` : `${pct(r.drawdown_pct, 2)} (no limit)`,
      ),
    );
  }

  function drawHealth() {
    clear(healthBox);
    const a = account && !account.error ? account : null;
    const ks = a ? a.kill_switch : riskView && riskView.kill_switch;
    const k = killSwitchLabel(ks);
    const t = tradingLabel(a && a.trading);
    healthBox.append(
      stat('Trading', t.text, t.cls),
      stat('Kill switch', k.text, k.cls),
      stat('Alive (/healthz)', health ? (health.ok ? 'yes' : 'no') : '…', health && health.ok ? 'pos' : 'neg'),
      stat('Ready (/readyz)', ready ? (ready.ok ? 'yes' : 'not ready') : '…', ready && ready.ok ? 'pos' : 'warn'),
      stat('Broker', a ? (a.broker_connected ? 'connected' : 'disconnected') : '–', a && a.broker_connected ? 'pos' : 'neg'),
      stat('Database', a ? (a.database_ok ? 'ok' : 'failing') : '–', a && a.database_ok ? 'pos' : 'neg'),
    );
    healthBox.dataset.trading = a ? a.trading : '';
    healthBox.dataset.kill = ks || '';
    if (a && a.kill_switch_reason) healthBox.append(h('p', { class: 'muted' }, `Kill switch reason: ${a.kill_switch_reason}`));
  }

  function drawPositions(list) {
    clear(posBox);
    const cols = [
      { key: 'ticket', label: 'Ticket' },
      { key: 'symbol', label: 'Symbol' },
      { key: 'side', label: 'Side', cls: (r) => (r.side === 'buy' ? 'pos' : 'neg') },
      { key: 'volume', label: 'Volume' },
      { key: 'open_price', label: 'Open', fmt: price },
      { key: 'current_price', label: 'Price', fmt: price },
      { key: 'sl', label: 'SL', fmt: price },
      { key: 'tp', label: 'TP', fmt: price },
      { key: 'profit', label: 'P&L', fmt: (v) => money(v), cls: (r) => `pnl ${signClass(r.profit)}` },
      { key: 'open_time', label: 'Opened', fmt: time },
    ];
    if (can('trader')) {
      cols.push({
        key: 'actions',
        label: 'Actions',
        node: (p) =>
          h(
            'span',
            { class: 'row-actions' },
            h('button', { class: 'btn btn-small', type: 'button', dataset: { action: 'modify', ticket: p.ticket }, onclick: () => modify(p) }, 'SL/TP'),
            h('button', { class: 'btn btn-small btn-danger', type: 'button', dataset: { action: 'close', ticket: p.ticket }, onclick: () => close(p) }, 'Close'),
          ),
      });
    }
    posBox.append(table(cols, list, { empty: 'No open positions.', id: (p) => p.ticket }));
    if (can('trader') && list.length > 1) {
      posBox.append(h('button', { class: 'btn btn-danger', type: 'button', id: 'close-all', onclick: closeAll }, 'Close all'));
    }
  }

  async function close(p) {
    const v = await confirmDialog(`Close ${p.symbol} #${p.ticket}?`, `${p.side} ${p.volume} lots, P&L now ${money(p.profit)}. Leave the volume empty to close it all.`, {
      fields: [{ name: 'volume', label: 'Volume (optional)', placeholder: String(p.volume) }],
      ok: 'Close position',
      danger: true,
    });
    if (!v) return;
    const body = v.volume ? { volume: v.volume } : {};
    await act(`Close #${p.ticket}`, () => api(acct(`/positions/${p.ticket}/close`), { method: 'POST', body }));
  }

  async function modify(p) {
    const v = await confirmDialog(`Modify stops of #${p.ticket}`, `${p.symbol} ${p.side} ${p.volume} at ${p.open_price}. Empty removes a stop.`, {
      fields: [
        { name: 'sl', label: 'Stop loss', value: p.sl ?? '' },
        { name: 'tp', label: 'Take profit', value: p.tp ?? '' },
      ],
      ok: 'Modify',
    });
    if (!v) return;
    const body = { sl: v.sl || null, tp: v.tp || null };
    await act(`Modify #${p.ticket}`, () => api(acct(`/positions/${p.ticket}`), { method: 'PATCH', body }));
  }

  async function closeAll() {
    const v = await confirmDialog('Close all positions?', 'Every open position of this account is closed at market.', { ok: 'Close all', danger: true });
    if (!v) return;
    await act('Close all', () => api(acct('/positions/close-all'), { method: 'POST', body: {} }));
  }

  async function poll() {
    [riskView, health, ready] = await Promise.all([safe(api(acct('/risk'))), probe('/healthz'), probe('/readyz')]);
    drawLimits();
    drawHealth();
    await drawAll();
  }

  [account] = await Promise.all([safe(api(acct()))]);
  const positions = await safe(api(acct('/positions')));
  drawAccount();
  drawPositions(Array.isArray(positions) ? positions : []);
  if (positions && positions.error) posBox.prepend(h('p', { class: 'muted' }, `Positions unavailable: ${positions.error.message}`));
  await poll();
  const timer = setInterval(poll, 5000);
  const offs = [
    live.subscribeState(`account:${ctx.account}`, (a) => {
      account = a;
      drawAccount();
      drawHealth();
    }),
    live.subscribe(`positions:${ctx.account}`, (m) => {
      if (Array.isArray(m.data)) drawPositions(m.data);
    }),
  ];
  return () => {
    clearInterval(timer);
    offs.forEach((f) => f());
  };
}
