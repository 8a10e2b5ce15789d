// Controls (traders; reset and reload for admins): pause or resume entries, stop, trip or reset
// the kill switch, each after a confirmation.

import { h, clear, card, stat, act, confirmDialog, killSwitchLabel, tradingLabel } from './ui.js';

export async function render(root, ctx) {
  const { api, acct, can, live } = ctx;
  const state = h('div', { class: 'stats', id: 'control-state' });
  const buttons = h('div', { class: 'control-grid' });
  root.append(h('h1', {}, 'Controls'), card('Trader state', state), card('Actions', buttons));

  function draw(a) {
    clear(state);
    if (!a) return state.append(h('p', { class: 'muted' }, 'No live trader.'));
    state.dataset.trading = a.trading;
    state.dataset.kill = a.kill_switch;
    const k = killSwitchLabel(a.kill_switch);
    const t = tradingLabel(a.trading);
    state.append(
      stat('Trading', t.text, t.cls),
      stat('Kill switch', k.text, k.cls),
      stat('Reason', a.kill_switch_reason || '–'),
      stat('Disabled symbols', (a.disabled_symbols || []).join(', ') || 'none'),
    );
  }

  const action = (id, label, text, path, { danger = false, reason = false, role = 'trader' } = {}) => {
    if (!can(role)) return null;
    return h(
      'div',
      { class: 'control' },
      h('button', {
        class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`,
        type: 'button',
        id,
        onclick: async () => {
          const v = await confirmDialog(`${label}?`, text, {
            fields: reason ? [{ name: 'reason', label: 'Reason (recorded in the audit log)', required: true }] : [],
            ok: label,
            danger,
          });
          if (!v) return;
          const r = await act(label, () => api(acct(path), { method: 'POST', body: reason ? { reason: v.reason } : undefined }));
          if (r && r.account) draw(r.account);
        },
      }, label),
      h('p', { class: 'muted' }, text),
    );
  };

  buttons.append(
    ...[
      action('pause', 'Pause entries', 'No new positions; open positions stay managed (stops, trailing, exits).', '/trading/pause'),
      action('resume', 'Resume entries', 'New entries are allowed again.', '/trading/resume'),
      action('stop', 'Stop the trader', 'The trading session ends; this server keeps serving history. Restart serve to trade again.', '/trading/stop', { danger: true }),
      action('trip', 'Trip the kill switch', 'Halts all trading at once until an admin resets it.', '/kill-switch/trip', { danger: true, reason: true }),
      action('reset', 'Reset the kill switch', 'Re-arms trading after a halt (admins).', '/kill-switch/reset', { reason: true, role: 'admin' }),
      action('reload', 'Reload configuration', 'Re-reads the configuration file; new values apply to new trades only (admins).', '/config/reload', { role: 'admin' }),
    ].filter(Boolean),
  );
  draw(await api(acct()).catch(() => null));
  return live.subscribeState(`account:${ctx.account}`, draw);
}
