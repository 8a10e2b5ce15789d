// System: version, the redacted configuration, reload (admin), configuration change history,
// the audit log, alerts, and the server's recent logs (admin).

import { h, clear, card, table, time, act } from './ui.js';

export async function render(root, ctx) {
  const { api, acct, can } = ctx;
  const [version, config, history, audit] = await Promise.all([
    api('/api/v1/version').catch(() => null),
    api('/api/v1/config').catch(() => null),
    api(acct('/config/history')).catch(() => null),
    api(acct('/audit?limit=100')).catch(() => null),
  ]);
  root.append(h('h1', {}, 'System'));
  root.append(
    card(
      'Version',
      h('p', { id: 'version' }, version ? `${version.name} ${version.version} (API ${version.api})` : 'unknown'),
      can('admin') ? h('button', { class: 'btn', type: 'button', id: 'sys-reload', onclick: () => act('Reload configuration', () => api(acct('/config/reload'), { method: 'POST' })) }, 'Reload configuration') : null,
    ),
  );
  const items = (x) => (Array.isArray(x) ? x : (x && x.items) || []);
  const events = [
    { key: 'time', label: 'Time', fmt: time },
    { key: 'kind', label: 'Kind' },
    { key: 'symbol', label: 'Symbol', fmt: (v) => v || '–' },
    { key: 'message', label: 'Message' },
  ];
  const all = items(audit);
  root.append(
    card('Audit log', table(events, all, { empty: 'No audit events.' })),
    card('Alerts', table(events, all.filter((e) => /alert|kill|halt|error|disconnect/i.test(e.kind)), { empty: 'No alerts recorded.' })),
    card(
      'Configuration changes',
      history && items(history).length
        ? h('pre', { class: 'json' }, JSON.stringify(items(history), null, 2))
        : h('p', { class: 'muted' }, 'No configuration changes recorded.'),
    ),
    card('Running configuration (secrets redacted)', h('pre', { class: 'json', id: 'config-json' }, JSON.stringify(config, null, 2))),
  );
  if (can('admin') && ctx.has('get', '/api/v1/logs')) {
    const logs = h('div', { id: 'logs' }, h('p', { class: 'muted' }, 'Loading…'));
    root.append(card('Logs', logs));
    api('/api/v1/logs?limit=200')
      .then((r) => {
        const lines = items(r);
        clear(logs).append(lines.length ? h('pre', { class: 'logs' }, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')) : h('p', { class: 'muted' }, 'No log lines.'));
      })
      .catch((e) => clear(logs).append(h('p', { class: 'muted' }, e.status === 404 ? 'This server does not expose its logs.' : `Logs unavailable: ${e.message}`)));
  }
}
