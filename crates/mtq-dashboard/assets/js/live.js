// The live connection: one WebSocket per page, opened with a single-use ticket, channels
// resubscribed after every reconnect. When the server goes away (restart, network drop) a banner
// says so and the page retries with backoff; when it is back, views reload their data.

import { raw, account } from './api.js';

const BACKOFF = [500, 1000, 2000, 3000, 5000];

export class Live {
  constructor(banner) {
    this.banner = banner;
    this.handlers = new Map(); // channel -> Set(callback)
    this.onReconnect = new Set();
    this.ws = null;
    this.attempt = 0;
    this.stopped = true;
    this.seq = new Map();
    this.everOpen = false;
    this.state = 'idle';
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.show(null);
  }

  /** A new connection for another account (its channels; not a reconnect after a loss). */
  restart() {
    const was = !this.stopped;
    this.stop();
    this.everOpen = false;
    if (was) this.start();
  }

  /** Calls `f(state)` with the account's state from every snapshot and delta on its `account:`
   * channel (the channel also carries the account's events, which are not its state). */
  subscribeState(channel, f) {
    return this.subscribe(channel, (m) => {
      if (m.type !== 'event' && m.data && typeof m.data === 'object') f(m.data);
    });
  }

  /** Calls `f(msg)` for every message on `channel`; returns an unsubscribe function. */
  subscribe(channel, f) {
    if (!this.handlers.has(channel)) {
      this.handlers.set(channel, new Set());
      this.send({ op: 'subscribe', channels: [channel] });
    }
    this.handlers.get(channel).add(f);
    return () => {
      const s = this.handlers.get(channel);
      if (!s) return;
      s.delete(f);
      if (s.size === 0) {
        this.handlers.delete(channel);
        this.seq.delete(channel);
        this.send({ op: 'unsubscribe', channels: [channel] });
      }
    };
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  show(text, kind = 'warn') {
    if (!this.banner) return;
    this.banner.textContent = text || '';
    this.banner.hidden = !text;
    this.banner.className = `banner banner-${kind}`;
  }

  retry(reason) {
    if (this.stopped) return;
    clearInterval(this.pinger);
    const wait = BACKOFF[Math.min(this.attempt, BACKOFF.length - 1)];
    this.attempt += 1;
    this.state = 'reconnecting';
    this.show(`Connection to the server lost (${reason}); reconnecting in ${(wait / 1000).toFixed(1)} s (attempt ${this.attempt})…`);
    document.documentElement.dataset.live = 'reconnecting';
    this.timer = setTimeout(() => this.connect(), wait);
  }

  async connect() {
    if (this.stopped) return;
    let ticket;
    try {
      const r = await raw('/api/v1/auth/ws-ticket', { method: 'POST' });
      if (!r.ok) return this.retry(`ticket: HTTP ${r.status}`);
      ticket = (await r.json()).ticket;
    } catch {
      return this.retry('server unreachable');
    }
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // A connection carries one account's channels: the one the views show.
    const q = `ticket=${encodeURIComponent(ticket)}&account=${encodeURIComponent(account())}`;
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/ws?${q}`);
    this.ws = ws;
    ws.addEventListener('open', () => {
      const again = this.everOpen;
      this.everOpen = true;
      this.attempt = 0;
      this.state = 'open';
      document.documentElement.dataset.live = 'open';
      this.seq.clear();
      if (this.handlers.size) this.send({ op: 'subscribe', channels: [...this.handlers.keys()] });
      this.pinger = setInterval(() => this.send({ op: 'ping' }), 20_000);
      if (again) {
        this.show('Reconnected.', 'ok');
        setTimeout(() => this.state === 'open' && this.show(null), 2500);
        for (const f of this.onReconnect) f();
      } else {
        this.show(null);
      }
    });
    ws.addEventListener('message', (ev) => {
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (!m.ch) return;
      const last = this.seq.get(m.ch);
      this.seq.set(m.ch, m.seq);
      if (last !== undefined && m.seq !== last + 1 && m.type !== 'snapshot') {
        // A gap: resubscribe for a fresh snapshot.
        this.send({ op: 'subscribe', channels: [m.ch] });
      }
      const hs = this.handlers.get(m.ch);
      if (hs) for (const f of hs) f(m);
    });
    ws.addEventListener('close', (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.retry(ev.code === 1013 ? 'too slow, dropped' : `code ${ev.code}`);
    });
  }
}
