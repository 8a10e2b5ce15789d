// System: version, the redacted configuration, reload (admin, confirmed), configuration change
// history, the audit log, the alert history (every notification delivered or not, from
// `alert_history`), and the server's recent logs (admin).

import { h, clear, card, table, time, act, confirmDialog } from './ui.js';

const items = (x) => (Array.isArray(x) ? x : (x && x.items) || []);

const EVENTS = [
  { key: 'time', label: 'Time', fmt: time },
  { key: 'kind', label: 'Kind' },
  { key: 'symbol', label: 'Symbol', fmt: (v) => v || '–' },
  { key: 'message', label: 'Message', cls: () => 'wrap' },
];

const ALERTS = [
  { key: 'time', label: 'Time', fmt: time },
  { key: 'channel', label: 'Channel' },
  { key: 'event_type', label: 'Event' },
  { key: 'severity', label: 'Severity', cls: (a) => (a.severity === 'critical' ? 'neg' : a.severity === 'warning' ? 'warn' : '') },
  { key: 'title', label: 'Title', cls: () => 'wrap' },
  {
    key: 'delivered',
    label: 'Outcome',
    cls: (a) => `wrap ${a.delivered ? 'pos' : 'neg'}`,
    fmt: (v, a) => `${v ? 'delivered' : `failed${a.error ? `: ${a.error}` : ''}`} (${a.attempts} attempt${a.attempts === 1 ? '' : 's'}${a.repeats ? `, ${a.repeats} folded` : ''})`,
  },
];

const KINDS = [
  ['', 'every kind'],
  ['operator_command', 'operator commands'],
  ['kill_switch', 'kill switch'],
  ['config_reloaded', 'configuration reloads'],
  ['connection', 'broker connection'],
  ['error', 'errors'],
  ['order_failed', 'failed orders'],
  ['order_intent', 'order intents'],
  ['position_opened', 'positions opened'],
  ['position_closed', 'positions closed'],
  ['signal_recorded', 'signals'],
  ['session', 'sessions'],
];

/** A log line as people read it: `2026-12-05 17:00:00 INFO mtq::serve: message`. */
function logLine(l) {
  if (typeof l === 'string') return l;
  return `${time(l.time)} ${String(l.level || '').toUpperCase().padEnd(5)} ${l.target}: ${l.message}`;
}

export async function render(root, ctx) {
  const { api, acct, can } = ctx;
  const withAlerts = ctx.has('get', '/api/v1/alerts');
  const [version, config, history, audit, alerts] = await Promise.all([
    api('/api/v1/version').catch(() => null),
    api('/api/v1/config').catch(() => null),
    api(acct('/config/history?limit=50')).catch(() => null),
    api(acct('/audit?limit=100')).catch(() => null),
    withAlerts ? api('/api/v1/alerts?limit=100').catch((e) => ({ error: e })) : null,
  ]);
  root.append(h('h1', {}, 'System'));

  async function reload() {
    const v = await confirmDialog('Reload configuration?', 'Re-reads the configuration file; new values apply to new trades only.', { ok: 'Reload' });
    if (!v) return;
    const r = await act('Reload configuration', () => api(acct('/config/reload'), { method: 'POST' }));
    if (r) setTimeout(() => ctx.refresh(), 300);
  }
  root.append(
    card(
      'Version',
      h('p', { id: 'version' }, version ? `${version.name} ${version.version} (API ${version.api})` : 'unknown'),
      can('admin') ? h('button', { class: 'btn', type: 'button', id: 'sys-reload', onclick: reload }, 'Reload configuration') : null,
    ),
  );

  let alertBody;
  if (!withAlerts) alertBody = h('p', { class: 'muted' }, 'This server keeps no alert history.');
  else if (alerts && alerts.error) alertBody = h('p', { class: 'muted' }, `Alert history unavailable: ${alerts.error.message}`);
  else alertBody = table(ALERTS, items(alerts), { empty: 'No alerts sent yet (configure them under alerts: in the configuration).', id: (a) => a.id });

  // The audit log is every event the trader recorded: bars and snapshots outnumber the rest, so
  // it can be narrowed to one kind (the operators' commands, the kill switch, ...).
  const kindSel = h('select', { id: 'audit-kind', 'aria-label': 'Event kind' }, KINDS.map(([v, l]) => h('option', { value: v }, l)));
  const auditBox = h('div', { id: 'audit-log' }, table(EVENTS, items(audit), { empty: 'No audit events.', id: (e) => e.id }));
  kindSel.addEventListener('change', async () => {
    const q = new URLSearchParams({ limit: '100' });
    if (kindSel.value) q.set('kind', kindSel.value);
    const r = await api(acct(`/audit?${q}`)).catch((e) => ({ error: e }));
    clear(auditBox).append(r && r.error ? h('p', { class: 'muted' }, `Audit log unavailable: ${r.error.message}`) : table(EVENTS, items(r), { empty: 'No events of this kind.', id: (e) => e.id }));
    auditBox.dataset.kind = kindSel.value;
  });
  root.append(
    card('Alerts sent', h('div', { id: 'alert-history' }, alertBody)),
    card('Audit log', h('div', { class: 'toolbar' }, h('label', { class: 'field' }, 'Kind', kindSel)), auditBox),
    card('Configuration changes', h('div', { id: 'config-history' }, table(EVENTS, items(history), { empty: 'No configuration changes recorded.', id: (e) => e.id }))),
    card('Running configuration (secrets redacted)', h('pre', { class: 'json', id: 'config-json' }, JSON.stringify(config, null, 2))),
  );

  if (can('admin') && ctx.has('get', '/api/v1/logs')) {
    const level = h('select', { id: 'log-level', 'aria-label': 'Least severe level' }, ['error', 'warn', 'info', 'debug'].map((l) => h('option', { value: l, selected: l === 'info' }, l)));
    const logs = h('div', { id: 'logs' }, h('p', { class: 'muted' }, 'Loading…'));
    root.append(card('Logs', h('div', { class: 'toolbar' }, h('label', { class: 'field' }, 'Level', level)), logs));
    const load = () =>
      api(`/api/v1/logs?limit=200&level=${level.value}`)
        .then((r) => {
          const lines = items(r);
          clear(logs).append(lines.length ? h('pre', { class: 'logs' }, lines.map(logLine).join('\n')) : h('p', { class: 'muted' }, 'No log lines at this level.'));
          logs.dataset.lines = String(lines.length);
        })
        .catch((e) => clear(logs).append(h('p', { class: 'muted' }, e.status === 409 ? 'This server keeps no log lines.' : `Logs unavailable: ${e.message}`)));
    level.addEventListener('change', load);
    load();
  }
}
