// Approvals (`trader.mode: semi`): the strategy's entries waiting for an operator, with approve
// and reject buttons for traders. Approving runs the risk checks again and sends the entry once;
// rejecting drops it. Entries nobody decides expire on their own.

import { h, clear, card, table, time, act, confirmDialog } from './ui.js';

export async function render(root, ctx) {
  const { api, acct, can } = ctx;
  const list = h('div', { id: 'approvals' });
  root.append(
    h('h1', {}, 'Approvals'),
    card('Entries waiting for approval', h('p', { class: 'muted' }, 'Only accounts in semi mode (trader.mode: semi) hold entries here.'), list),
  );

  const decide = (a, verb) =>
    h('button', {
      class: `btn ${verb === 'approve' ? 'btn-primary' : 'btn-danger'}`,
      type: 'button',
      dataset: { approval: String(a.id), verb },
      onclick: async () => {
        const what = `${a.side} ${a.volume} ${a.symbol}`;
        const ok = await confirmDialog(
          verb === 'approve' ? `Approve ${what}?` : `Reject ${what}?`,
          verb === 'approve' ? 'The risk checks run again now; if they pass the entry is sent.' : 'The entry is never sent.',
          { ok: verb === 'approve' ? 'Approve' : 'Reject', danger: verb !== 'approve' },
        );
        if (!ok) return;
        await act(verb === 'approve' ? 'Approve' : 'Reject', () => api(acct(`/approvals/${a.id}/${verb}`), { method: 'POST' }));
        await load();
      },
    }, verb === 'approve' ? 'Approve' : 'Reject');

  async function load() {
    const all = await api(acct('/approvals')).catch(() => []);
    const pending = (Array.isArray(all) ? all : []).filter((a) => a.state === 'pending');
    clear(list);
    list.append(
      table(
        [
          { key: 'id', label: 'Id' },
          { key: 'symbol', label: 'Symbol' },
          { key: 'side', label: 'Side' },
          { key: 'volume', label: 'Lots' },
          { key: 'sl', label: 'SL' },
          { key: 'tp', label: 'TP' },
          { key: 'strategy', label: 'Strategy' },
          { key: 'expires', label: 'Expires', fmt: (v) => time(v) },
          { key: 'act', label: '', node: (a) => (can('trader') ? h('span', { class: 'row-actions' }, decide(a, 'approve'), decide(a, 'reject')) : '–') },
        ],
        pending,
        { empty: 'No entries wait for approval.', id: (a) => a.id },
      ),
    );
  }
  await load();
  const t = setInterval(() => load().catch(() => {}), 5000);
  return () => clearInterval(t);
}
