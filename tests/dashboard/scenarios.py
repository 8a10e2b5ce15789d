"""The issue's dashboard scenarios in a real browser (Debian chromium + chromedriver, Python selenium).

This script runs its own `mtq-trader serve` (paper, simulated clock at 300x, manual orders on) on a
fresh SQLite file, because one scenario restarts it under an open page. In order:

  speed      first load (bytes transferred compressed, time to interactive) with an empty cache,
             the logged-in overview after a cold reload, and the chart drawing 50,000 candles with
             markers, all from the browser's Performance API (results in OUT/perf.json)
  position   a position appears on the overview and its P&L moves; its SL/TP set from its row;
             the chart draws its entry, SL and TP lines and takes new bars from the WebSocket
  close      closed from the UI (button, confirmation), then found closed in the SQLite file
  trades     the closed trade in Trades filtered to closed, its detail (orders, transitions) on a
             desktop and a phone, the CSV button's file against the API, and Performance's P&L
             by exit reason counting it
  pause      entries paused from Controls: the state changes on the page; while paused, the
             Signals view shows a strategy's entry refused "entries are paused by an operator"
             (live), counts it and filters to refusals; resumed again
  kill       the kill switch tripped from Controls (with a reason), the header turns red; reset
             by the admin, armed and running again; the System view's audit log narrowed to
             operator commands lists the trip
  markers    the chart's markers are exactly the entries and exits of the trades the API lists
  viewer     a viewer sees no controls, and an action forged from the page with the viewer's own
             token is refused with 403 (and changes nothing)
  restart    the server is stopped under an open page, which says it is reconnecting; started
             again, the page recovers by itself and shows live data

Usage: scenarios.py BIN WORK_DIR PORT OUT_DIR. Exits 1 with every failure listed.
"""
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import datetime

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BIN, WORK, PORT, OUT = sys.argv[1], os.path.abspath(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
BASE = f"http://127.0.0.1:{PORT}"
DB_FILE = os.path.join(WORK, "scenarios.db")
DB_URL = f"sqlite://{DB_FILE}"
ADMIN, VIEWER = "ops", "watcher"
PASSWORDS = {ADMIN: f"admin-{time.time_ns()}-passphrase", VIEWER: f"viewer-{time.time_ns()}-passphrase"}
os.makedirs(OUT, exist_ok=True)
os.makedirs(WORK, exist_ok=True)

failures = []
perf = {}
server = None


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    failures.append(msg)


def step(msg):
    print(f"--- {msg} ({time.strftime('%H:%M:%S')})", flush=True)


def create_user(name, role):
    env = dict(os.environ, MTQ_PASSWORD=PASSWORDS[name])
    subprocess.run([BIN, "user", "create", "--name", name, "--role", role, "--database-url", DB_URL],
                   env=env, check=True, stdout=subprocess.DEVNULL)


def start_server():
    global server
    log = open(os.path.join(WORK, "scenarios-server.log"), "ab")
    server = subprocess.Popen(
        [BIN, "serve", "--database-url", DB_URL, "--port", str(PORT), "--pace", "300",
         "--set", "api.manual_orders=true"],
        cwd=WORK, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(BASE + "/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("serve did not answer /healthz within 30 s")


def stop_server():
    if server and server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def browser():
    opts = webdriver.ChromeOptions()
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"]:
        opts.add_argument(a)
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=opts)
    d.set_script_timeout(60)
    return d


def until(d, f, what, timeout=30):
    try:
        return WebDriverWait(d, timeout, poll_frequency=0.2).until(lambda _: f())
    except TimeoutException:
        fail(f"timed out after {timeout} s waiting for {what}")
        return None


def css(d, sel):
    return d.find_elements(By.CSS_SELECTOR, sel)


def login(d, user):
    if not css(d, "#username"):
        d.get(BASE + "/#/overview")
    until(d, lambda: css(d, "#username"), "the login form")
    css(d, "#username")[0].send_keys(user)
    css(d, "#password")[0].send_keys(PASSWORDS[user])
    css(d, "#login-form button")[0].click()
    until(d, lambda: css(d, "#view-overview[data-ready='1']"), f"the overview after {user} signs in")


def call(d, method, path, body=None, headers=None):
    """fetch() from the page with the signed-in user's own access token: {status, body}."""
    return d.execute_async_script(
        """
        const [method, path, body, headers, done] = arguments;
        const s = JSON.parse(sessionStorage.getItem('mtq.session') || 'null');
        const h = Object.assign({'content-type': 'application/json'}, headers || {});
        if (s) h.authorization = 'Bearer ' + s.access;
        fetch(path, {method, headers: h, body: body === null ? undefined : JSON.stringify(body)})
          .then(async (r) => done({status: r.status, body: await r.json().catch(() => null)}))
          .catch((e) => done({status: 0, body: String(e)}));
        """, method, path, body, headers)


def acct(path=""):
    return f"/api/v1/accounts/default{path}"


def position_rows(d):
    return css(d, "#positions tbody tr")


def js_text(d, sel, attr=None):
    """A live element's text (or attribute), read in one step: tables re-render on every update,
    so a found element may be gone before selenium reads it."""
    return d.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "return e ? (arguments[1] ? e.getAttribute(arguments[1]) : e.textContent) : null;", sel, attr)


def open_position(d, key):
    """A manual market order through the API (the scenarios need a position now, not whenever the
    strategy's next signal comes)."""
    cfg = call(d, "GET", "/api/v1/config")["body"] or {}
    symbol = next((c["symbol"] for c in cfg.get("currencies", []) if c.get("enabled", True)), "EURUSD")
    # The risk rules size and check every entry from its stop loss: one 1% below the bid.
    q = call(d, "GET", acct(f"/symbols/{symbol}/quote"))["body"] or {}
    spec = call(d, "GET", acct(f"/symbols/{symbol}"))["body"] or {}
    digits = int((spec.get("spec") or spec).get("digits", 5))
    sl = f"{float(q.get('bid', 1.0)) * 0.99:.{digits}f}"
    # The strategy trades too: its own entry a moment earlier starts the symbol's cooldown (900 s of
    # the paper clock, 3 s of wall time at 300x), which refuses this order until it has passed.
    for attempt in range(10):
        r = call(d, "POST", acct("/orders"), {"symbol": symbol, "side": "buy", "volume": "0.01", "sl": sl, "tp": None},
                 {"idempotency-key": f"{key[:16]}-{attempt}"})  # keys: at most 19 characters
        if r["status"] != 422 or "cooling down" not in str(r["body"]):
            break
        time.sleep(1)
    if r["status"] != 200:
        fail(f"manual order for {symbol}: HTTP {r['status']} {r['body']}")
    return symbol


def shot(d, name):
    d.save_screenshot(os.path.join(OUT, f"{name}.png"))


def speed(d):
    step("speed: first load, cold overview, 50,000 candles")
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd("Network.clearBrowserCache", {})
    d.get(BASE + "/")
    until(d, lambda: d.execute_script("return document.documentElement.dataset.interactive === '1'"), "the first load")
    first = d.execute_script(PAGE_COST)
    perf["first_load"] = first
    login(d, ADMIN)
    d.execute_cdp_cmd("Network.clearBrowserCache", {})
    d.refresh()
    until(d, lambda: d.execute_script("return document.documentElement.dataset.interactive === '1'"), "the overview after a reload")
    perf["overview_cold"] = d.execute_script(PAGE_COST)
    perf["chart_50k"] = d.execute_async_script(CHART_50K)
    print(json.dumps(perf, indent=1))
    if first["transfer_bytes"] >= 500_000:
        fail(f"first load transferred {first['transfer_bytes']} bytes (goal: under 500 KB)")
    if first["interactive_ms"] >= 1000:
        fail(f"first load interactive after {first['interactive_ms']:.0f} ms (goal: under 1 s)")
    if perf["overview_cold"]["transfer_bytes"] >= 500_000:
        fail(f"cold overview transferred {perf['overview_cold']['transfer_bytes']} bytes (goal: under 500 KB)")
    c = perf["chart_50k"]
    if c.get("error"):
        fail(f"50,000-candle chart: {c['error']}")
    elif c["candles"] != 50_000 or c["markers"] < 1000:
        fail(f"50,000-candle chart drew {c['candles']} candles and {c['markers']} markers")


# Bytes over the wire (compressed bodies plus headers) for the document and every resource it
# loaded, and the time from navigation start to the app's `mtq-interactive` mark (set once the
# first view has rendered with its data).
PAGE_COST = """
const nav = performance.getEntriesByType('navigation')[0];
const res = performance.getEntriesByType('resource');
const mark = performance.getEntriesByName('mtq-interactive')[0];
const all = [nav, ...res];
return {
  transfer_bytes: all.reduce((s, e) => s + (e.transferSize || 0), 0),
  decoded_bytes: all.reduce((s, e) => s + (e.decodedBodySize || 0), 0),
  requests: all.length,
  dom_content_loaded_ms: nav.domContentLoadedEventEnd,
  interactive_ms: mark ? mark.startTime : null,
};
"""

# The dashboard's own chart code (charts.js) with 50,000 M5 candles of a seeded walk and the
# markers of 2,500 trades (5,000 markers): from createChart until two animation frames after the
# data is set, i.e. until the library has painted.
CHART_50K = """
const done = arguments[arguments.length - 1];
(async () => {
  const { makeChart, dropChart, tradeMarkers } = await import('/assets/js/charts.js');
  const box = document.createElement('div');
  box.style.cssText = 'width:1200px;height:600px;position:fixed;left:0;top:0;z-index:99';
  document.body.append(box);
  let seed = 7, p = 1.1, t0 = Date.UTC(2020, 0, 1) / 1000;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const bars = [];
  for (let i = 0; i < 50000; i++) {
    const o = p, c = o + rnd() * 0.002;
    bars.push({ time: t0 + i * 300, open: o, high: Math.max(o, c) + 0.0005, low: Math.min(o, c) - 0.0005, close: c });
    p = c;
  }
  const trades = [];
  for (let i = 0; i < 2500; i++) {
    const a = bars[i * 20].time, b = bars[i * 20 + 10].time;
    trades.push({ id: i, symbol: 'EURUSD', side: i % 2 ? 'sell' : 'buy', volume: '0.1',
      entry_time: new Date(a * 1000).toISOString(), exit_time: new Date(b * 1000).toISOString(),
      exit_reason: 'signal', net_profit: '1.5' });
  }
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  await frame();
  const t = performance.now();
  const chart = makeChart(box);
  const s = chart.addCandlestickSeries();
  s.setData(bars);
  const markers = tradeMarkers(trades, 'EURUSD');
  s.setMarkers(markers);
  chart.timeScale().fitContent();
  await frame();
  await frame();
  const ms = performance.now() - t;
  const canvases = box.querySelectorAll('canvas').length;
  dropChart(chart);
  box.remove();
  done({ candles: bars.length, markers: markers.length, draw_ms: ms, canvases });
})().catch((e) => done({ error: String(e) }));
"""


def position_and_close(d):
    step("position: appears, P&L moves, closed from the UI, closed in the database")
    d.get(BASE + "/#/overview")
    until(d, lambda: css(d, "#view-overview[data-ready='1']"), "the overview")
    open_position(d, f"scn-open-{int(time.time())}")
    ticket = until(d, lambda: js_text(d, "#positions tbody tr", "data-id"), "a position row on the overview")
    if not ticket:
        return None
    pnl_sel = f"#positions tbody tr[data-id='{ticket}'] td.pnl"
    first = js_text(d, pnl_sel)
    moved = until(d, lambda: (lambda t: t not in (first, None, "") and t)(js_text(d, pnl_sel)),
                  f"the P&L of position #{ticket} to move from {first}", timeout=40)
    print(f"position #{ticket}: P&L {first} -> {moved}")
    shot(d, "scenario-position")
    if modify_stops(d, ticket):
        chart_lines(d, ticket)
        d.get(BASE + "/#/overview")
        until(d, lambda: css(d, f"#positions tbody tr[data-id='{ticket}']"), f"position #{ticket} back on the overview")
    d.execute_script("document.querySelector(arguments[0]).click()", f"button[data-action='close'][data-ticket='{ticket}']")
    until(d, lambda: css(d, "dialog[open] #confirm-ok"), "the close confirmation")
    css(d, "dialog[open] #confirm-ok")[0].click()
    until(d, lambda: not css(d, f"#positions tbody tr[data-id='{ticket}']"), f"position #{ticket} to leave the table")
    row = None
    deadline = time.time() + 15
    while time.time() < deadline:
        con = sqlite3.connect(f"file:{DB_FILE}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute("SELECT status, exit_time, exit_price, exit_reason FROM trades WHERE ticket = ? "
                              "ORDER BY id DESC LIMIT 1", (int(ticket),)).fetchone()
        finally:
            con.close()
        if row and row[0] == "closed":
            break
        time.sleep(0.3)
    if not row or row[0] != "closed" or not row[1] or not row[2]:
        fail(f"trade of position #{ticket} in {DB_FILE}: {row} (expected closed with exit time and price)")
    elif row[3] != "operator":
        fail(f"trade of position #{ticket} closed with exit_reason {row[3]!r}, expected 'operator'")
    else:
        print(f"trade #{ticket} in the database: {row}")
    return ticket


def modify_stops(d, ticket):
    """The position's SL/TP button: new stops typed into its confirmation, then the broker's
    position (through the API) and the row carry them."""
    pos = call(d, "GET", acct(f"/positions/{ticket}"))["body"] or {}
    q = call(d, "GET", acct(f"/symbols/{pos.get('symbol', 'EURUSD')}/quote"))["body"] or {}
    bid = float(q.get("bid") or pos.get("current_price") or 1.0)
    digits = len(str(pos.get("open_price", "1.00000")).split(".")[-1]) if "." in str(pos.get("open_price", "")) else 5
    sl, tp = f"{bid * 0.985:.{digits}f}", f"{bid * 1.02:.{digits}f}"
    d.execute_script("document.querySelector(arguments[0]).click()", f"button[data-action='modify'][data-ticket='{ticket}']")
    if not until(d, lambda: css(d, "dialog[open] input[name=sl]"), "the SL/TP dialog"):
        return
    d.execute_script(
        "document.querySelector('dialog[open] input[name=sl]').value = arguments[0];"
        "document.querySelector('dialog[open] input[name=tp]').value = arguments[1];", sl, tp)
    css(d, "dialog[open] #confirm-ok")[0].click()
    got = until(d, lambda: (lambda p: p if p and p.get("sl") is not None and abs(float(p["sl"]) - float(sl)) < 1e-9
                            and p.get("tp") is not None and abs(float(p["tp"]) - float(tp)) < 1e-9 else None)(
        call(d, "GET", acct(f"/positions/{ticket}"))["body"]), f"position #{ticket} to carry SL {sl} and TP {tp}")
    row = f"#positions tbody tr[data-id='{ticket}']"
    shown = until(d, lambda: (lambda a, b: (a, b) if a and b and abs(float(a) - float(sl)) < 1e-9 and abs(float(b) - float(tp)) < 1e-9 else None)(
        js_text(d, f"{row} td[data-label='SL']"), js_text(d, f"{row} td[data-label='TP']")), f"the row of #{ticket} to show the new stops")
    if got and shown:
        print(f"position #{ticket}: SL/TP modified from the UI to {sl} / {tp}")
        return got
    return None


def chart_lines(d, ticket):
    """The chart of the position's symbol: its entry, SL and TP as price lines, and new bars from
    the WebSocket without a reload."""
    pos = call(d, "GET", acct(f"/positions/{ticket}"))["body"] or {}
    d.get(BASE + f"/#/chart?symbol={pos['symbol']}&tf=M5")
    want = {f"#{ticket} {pos['side']}": float(pos["open_price"]), f"SL #{ticket}": float(pos["sl"]), f"TP #{ticket}": float(pos["tp"])}

    def drawn():
        raw = js_text(d, "#chart", "data-price-lines") or ""
        got = {}
        for part in raw.split(";"):
            name, _, value = part.rpartition("=")
            if name:
                got[name] = float(value)
        return got if all(k in got and abs(got[k] - v) < 1e-9 for k, v in want.items()) else None
    if until(d, drawn, f"the chart's price lines for #{ticket} (entry, SL, TP)"):
        print(f"chart: price lines {js_text(d, '#chart', 'data-price-lines')!r}")
    first = int(js_text(d, "#chart", "data-last-bar") or 0)
    until(d, lambda: int(js_text(d, "#chart", "data-last-bar") or 0) > first, "a new bar on the chart from the WebSocket")
    shot(d, "scenario-chart-position")


def kill_switch(d):
    """Trip from Controls (a reason asked for), the header turns red; reset (admin, a reason),
    armed and running again."""
    step("kill switch: tripped and reset from Controls")
    d.get(BASE + "/#/controls")
    until(d, lambda: css(d, "#control-state[data-kill='active']"), "Controls showing an armed kill switch")
    for button, state in (("trip", None), ("reset", "active")):
        css(d, f"#{button}")[0].click()
        if not until(d, lambda: css(d, "dialog[open] input[name=reason]"), f"the {button} confirmation asking for a reason"):
            return
        css(d, "dialog[open] input[name=reason]")[0].send_keys(f"dashboard scenario {button}")
        css(d, "dialog[open] #confirm-ok")[0].click()
        # Tripped: halted or reduce-only, whichever the trader applies to an operator's trip.
        sel = f"[data-kill='{state}']" if state else ":not([data-kill='active']):not([data-kill=''])"
        until(d, lambda: css(d, f"#control-state{sel}"), f"Controls to show the kill switch {state or 'tripped'}")
        until(d, lambda: css(d, f"#state-pill{sel}"), f"the header's pill to show the kill switch {state or 'tripped'}")
        if button == "trip":
            pill = js_text(d, "#state-pill") or ""
            if "Kill switch tripped" not in pill:
                fail(f"the header says {pill!r} with the kill switch tripped")
            shot(d, "scenario-kill-switch")
    st = call(d, "GET", acct())["body"] or {}
    if st.get("kill_switch") != "active" or st.get("trading") != "running":
        fail(f"after the reset the API says kill switch {st.get('kill_switch')!r}, trading {st.get('trading')!r}")
    # The System view's audit log narrowed to the operators' commands: the trip and the reset.
    d.get(BASE + "/#/system")
    until(d, lambda: css(d, "#view-system[data-ready='1']"), "the system view")
    d.execute_script("const s = document.getElementById('audit-kind'); s.value = 'operator_command';"
                     "s.dispatchEvent(new Event('change'));")
    rows = until(d, lambda: css(d, "#audit-log[data-kind='operator_command'] tbody tr") and d.execute_script(
        "return [...document.querySelectorAll('#audit-log tbody tr')].map((r) => r.textContent);"),
        "the audit log narrowed to operator commands")
    if rows and not all("operator_command" in r for r in rows):
        fail(f"the audit log filtered to operator commands lists other kinds: {rows[:3]}")
    elif rows and not any("trip" in r.lower() for r in rows):
        fail(f"the audit log has no record of the trip: {rows[:5]}")
    elif rows:
        print(f"system: {len(rows)} operator commands in the audit log, e.g. {rows[0][:100]!r}")


def pause_resume(d):
    step("pause: entries paused from Controls, state shown; resumed")
    d.get(BASE + "/#/controls")
    until(d, lambda: css(d, "#control-state[data-trading='running']"), "Controls showing a running trader")
    for button, state, text in [("pause", "entries_paused", "Entries paused"), ("resume", "running", "Running")]:
        css(d, f"#{button}")[0].click()
        until(d, lambda: css(d, "dialog[open] #confirm-ok"), f"the {button} confirmation")
        css(d, "dialog[open] #confirm-ok")[0].click()
        until(d, lambda: css(d, f"#control-state[data-trading='{state}']"), f"Controls to show {state}")
        until(d, lambda: css(d, f"#state-pill[data-trading='{state}']") and css(d, "#state-pill")[0].text == text,
              f"the header to say {text}")
        if button == "pause":
            shot(d, "scenario-paused")
            st = call(d, "GET", acct())["body"] or {}
            if st.get("trading") != "entries_paused":
                fail(f"the API says trading is {st.get('trading')!r} after the pause")
            refused_signals(d)
            d.get(BASE + "/#/controls")
            until(d, lambda: css(d, "#control-state[data-trading='entries_paused']"), "Controls showing the pause again")


PAUSED = "entries are paused by an operator"


def refused_signals(d):
    """While entries are paused, the strategies' next entry signal is refused: the Signals view
    shows it (live, without a reload) with the reason, and counts it in its summary."""
    step("signals: a refused entry and its reason")
    d.get(BASE + "/#/signals")
    until(d, lambda: css(d, "#view-signals[data-ready='1']"), "the signals view")
    row = until(d, lambda: d.execute_script(
        "return [...document.querySelectorAll('#signal-list tbody tr')].map((r) => r.textContent)"
        ".find((t) => t.includes(arguments[0])) || null;", PAUSED),
        "a signal refused because entries are paused", timeout=60)
    if not row:
        return
    api = call(d, "GET", acct("/signals?fate=refused&limit=100"))["body"] or {}
    if not any(x.get("refusal") == PAUSED and x.get("fate") == "refused" for x in api.get("items", [])):
        fail(f"the Signals view shows a refusal the API does not list: {row!r}")
    summary = js_text(d, "#refusal-summary") or ""
    if PAUSED not in summary:
        fail(f"the Signals summary does not count the pause: {summary!r}")
    # Filtered to refusals: every row refused, each with its reason.
    d.execute_script("const s = document.querySelector('#signal-filters select[name=fate]'); s.value = 'refused';")
    css(d, "#signal-filters button[type=submit]")[0].click()
    until(d, lambda: d.execute_script(
        "const rows = [...document.querySelectorAll('#signal-list tbody tr')];"
        "return rows.length > 0 && rows.every((r) => r.querySelector(\"td[data-label='Fate']\").textContent === 'refused'"
        " && r.querySelector('td.refusal'));"), "the Signals view filtered to refusals, each with its reason")
    print(f"signals: refused while paused: {row[:120]!r}")
    shot(d, "scenario-signals")


def trades_view(d, ticket):
    """The closed trade in Trades (filtered to closed), its detail with its orders and their
    transitions, the CSV export downloaded by the button, and the detail at a phone's width."""
    step("trades: filter, the closed trade's detail, CSV export")
    con = sqlite3.connect(f"file:{DB_FILE}?mode=ro", uri=True, timeout=5)
    try:
        trade_id = con.execute("SELECT id FROM trades WHERE ticket = ? ORDER BY id DESC LIMIT 1", (int(ticket),)).fetchone()[0]
    finally:
        con.close()
    want = call(d, "GET", acct(f"/trades/{trade_id}"))["body"] or {}
    orders = [o["client_order_id"] for o in want.get("orders", [])]
    if not orders:
        fail(f"trade {trade_id}: the API lists no orders for it")
    d.get(BASE + "/#/trades")
    until(d, lambda: css(d, "#view-trades[data-ready='1']"), "the trades view")
    d.execute_script("document.querySelector('#trade-filters select[name=status]').value = 'closed';")
    css(d, "#trade-filters button[type=submit]")[0].click()
    until(d, lambda: css(d, f"#trade-list tbody tr[data-id='{trade_id}']") and d.execute_script(
        "return [...document.querySelectorAll(\"#trade-list td[data-label='Status']\")].every((c) => c.textContent === 'closed');"),
        f"trade {trade_id} in the list filtered to closed trades")
    d.execute_script("document.querySelector(arguments[0]).click()", f"#trade-list tbody tr[data-id='{trade_id}']")
    detail = until(d, lambda: (lambda t: t if t and all(o in t for o in orders) else None)(js_text(d, "#trade-detail")),
                   f"trade {trade_id}'s detail with its orders {orders}")
    if detail:
        for part in ("Signal", "Orders and intents", "operator", str(ticket)):
            if part not in detail:
                fail(f"trade {trade_id}'s detail lacks {part!r}: {detail[:300]!r}")
        if not css(d, "#trade-detail .order tbody tr"):
            fail(f"trade {trade_id}'s detail shows no order state transitions")
        shot(d, "scenario-trade-detail")
    d.set_window_size(390, 844)
    time.sleep(0.5)
    wide = d.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    if wide[0] > wide[1]:
        fail(f"the trades view with a detail open overflows at 390 px: {wide[0]} px wide")
    shot(d, "scenario-trade-detail-phone")
    d.set_window_size(1280, 900)
    # The CSV button: every closed trade the filter matches, in one file, the header once.
    downloads = os.path.join(WORK, "downloads")
    os.makedirs(downloads, exist_ok=True)
    d.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    path = os.path.join(downloads, "trades.csv")
    if os.path.exists(path):
        os.remove(path)
    css(d, "#csv")[0].click()
    until(d, lambda: os.path.exists(path) and os.path.getsize(path) > 0, "trades.csv to download")
    if not os.path.exists(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    listed = call(d, "GET", acct("/trades?status=closed&limit=500"))["body"]["items"]
    ids = [r["id"] for r in rows]
    if str(trade_id) not in ids:
        fail(f"trades.csv has no row for trade {trade_id}: ids {ids[:10]}")
    elif any(r["status"] != "closed" for r in rows) or len(rows) < len(listed):
        fail(f"trades.csv: {len(rows)} rows (statuses {sorted(set(r['status'] for r in rows))}), the API lists {len(listed)} closed")
    else:
        mine = next(r for r in rows if r["id"] == str(trade_id))
        if mine["ticket"] != str(ticket) or mine["exit_reason"] != "operator":
            fail(f"trades.csv's row for trade {trade_id}: {mine}")
        print(f"trades: detail with orders {orders}; trades.csv with {len(rows)} closed trades")
    # Performance counts it: a row `operator` in P&L by exit reason, and the closed trades' total.
    d.get(BASE + "/#/performance")
    until(d, lambda: css(d, "#view-performance[data-ready='1']"), "the performance view")
    by_reason = d.execute_script(
        "const c = [...document.querySelectorAll('#view-performance section')].find((s) => s.querySelector('h2')?.textContent === 'By exit reason');"
        "return c ? [...c.querySelectorAll('tbody tr')].map((r) => [...r.cells].map((x) => x.textContent)) : null;")
    if not by_reason or not any(r[0] == "operator" for r in by_reason):
        fail(f"Performance's P&L by exit reason has no `operator` row: {by_reason}")


def markers(d, symbol):
    step(f"markers: the chart's markers for {symbol} against the API's trades")
    d.get(BASE + f"/#/chart?symbol={symbol}&tf=M5")
    box = until(d, lambda: (lambda e: e and e[0].get_attribute("data-marker-ids") is not None and e[0])(css(d, "#chart")),
                "the chart's markers")
    if not box:
        return
    time.sleep(1)  # a trade closing meanwhile reloads the markers: read a settled chart
    box = css(d, "#chart")[0]
    shown = set((box.get_attribute("data-marker-ids") or "").split())
    first = int(box.get_attribute("data-first-bar") or 0)
    trades = call(d, "GET", acct(f"/trades?symbol={symbol}&limit=500"))["body"]["items"]

    def ts(iso):
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())

    # The chart snaps each marker to the bar it falls in and drops those before its first bar.
    want = set()
    for t in trades:
        if ts(t["entry_time"]) >= first:
            want.add(f"in-{t['id']}")
        if t.get("exit_time") and ts(t["exit_time"]) >= first:
            want.add(f"out-{t['id']}")
    if not want:
        fail(f"chart for {symbol}: the API lists no trade within the chart's bars ({len(trades)} trades)")
    elif want != shown:
        fail(f"chart markers for {symbol}: missing {sorted(want - shown)[:5]}, not in the API {sorted(shown - want)[:5]}")
    else:
        print(f"chart: {len(shown)} markers, the entries and exits of the {len(trades)} trades the API lists")
    shot(d, "scenario-chart")


def viewer(d):
    step("viewer: no controls; forged actions refused")
    css(d, "#logout")[0].click()
    login(d, VIEWER)
    until(d, lambda: position_rows(d), "a position row for the viewer")
    nav = [a.get_attribute("id") for a in css(d, "nav a")]
    if "nav-controls" in nav:
        fail(f"the viewer's navigation offers Controls: {nav}")
    if css(d, "#positions [data-action], #close-all"):
        fail("the viewer's overview shows position actions")
    d.get(BASE + "/#/controls")
    until(d, lambda: css(d, "#view-overview[data-ready='1']"), "the viewer sent back to the overview from #/controls")
    if css(d, "#pause, #resume, #stop, #trip, #reset"):
        fail("the viewer sees control buttons")
    d.get(BASE + "/#/strategies")
    until(d, lambda: css(d, "#view-strategies[data-ready='1']"), "the strategies view")
    if css(d, "[data-action='toggle'], [data-action='test']"):
        fail("the viewer can enable or disable symbols, or test them (a trader's action)")
    d.get(BASE + "/#/system")
    until(d, lambda: css(d, "#view-system[data-ready='1']"), "the system view")
    if css(d, "#sys-reload, #logs"):
        fail("the viewer sees the reload button or the server's logs (admin)")
    shot(d, "scenario-viewer")
    d.get(BASE + "/#/overview")
    ticket = until(d, lambda: js_text(d, "#positions tbody tr", "data-id"), "the viewer's positions") or "1"
    for method, path, body in [
        ("POST", acct("/trading/pause"), None),
        ("POST", acct(f"/positions/{ticket}/close"), {}),
        ("POST", acct("/kill-switch/trip"), {"reason": "forged"}),
    ]:
        r = call(d, method, path, body)
        if r["status"] != 403:
            fail(f"forged {method} {path} as a viewer: HTTP {r['status']} {r['body']} (expected 403)")
    st = call(d, "GET", acct())["body"] or {}
    if st.get("trading") != "running" or st.get("kill_switch") != "active":
        fail(f"after the forged actions the trader is {st.get('trading')!r}, kill switch {st.get('kill_switch')!r}")
    if not css(d, f"#positions tbody tr[data-id='{ticket}']"):
        fail(f"position #{ticket} is gone after a forged close")
    print("viewer: no controls shown; pause, close and trip refused with 403")


def restart(d):
    step("restart: the server goes away under an open page and comes back")
    d.get(BASE + "/#/overview")
    until(d, lambda: css(d, "#view-overview[data-ready='1']"), "the overview")
    until(d, lambda: d.execute_script("return document.documentElement.dataset.live") == "open", "the live connection")
    stop_server()
    banner = until(d, lambda: (lambda e: e and e[0].is_displayed() and "reconnecting" in e[0].text and e[0].text)(css(d, "#banner")),
                   "the page to say it is reconnecting")
    print(f"banner while the server is down: {banner!r}")
    shot(d, "scenario-reconnecting")
    time.sleep(2)
    start_server()
    until(d, lambda: d.execute_script("return document.documentElement.dataset.live") == "open", "the page to reconnect", timeout=40)
    until(d, lambda: css(d, "#view-overview[data-ready='1'] #account-stats .stat"), "the overview to reload its data after the restart")
    until(d, lambda: not css(d, "#banner")[0].is_displayed() or "Reconnected" in css(d, "#banner")[0].text,
          "the reconnecting banner to go")
    st = call(d, "GET", acct())
    if st["status"] != 200:
        fail(f"after the restart the page's API calls answer HTTP {st['status']}")
    shot(d, "scenario-recovered")


def main():
    create_user(ADMIN, "admin")
    create_user(VIEWER, "viewer")
    start_server()
    d = browser()
    t0 = time.time()
    try:
        speed(d)
        ticket = position_and_close(d)
        symbol = None
        if ticket:
            con = sqlite3.connect(f"file:{DB_FILE}?mode=ro", uri=True, timeout=5)
            try:
                r = con.execute("SELECT symbol FROM trades WHERE ticket = ?", (int(ticket),)).fetchone()
                symbol = r and r[0]
            finally:
                con.close()
        if ticket:
            trades_view(d, ticket)
        pause_resume(d)
        kill_switch(d)
        if symbol:
            markers(d, symbol)
        open_position(d, f"scn-view-{int(time.time())}")
        viewer(d)
        restart(d)
    except Exception as e:  # noqa: BLE001 - report any harness error as a failure with the page
        fail(f"{type(e).__name__}: {e}")
        shot(d, "scenario-error")
    finally:
        d.quit()
        stop_server()
    with open(os.path.join(OUT, "perf.json"), "w") as f:
        json.dump(perf, f, indent=1)
    print(f"scenarios took {time.time() - t0:.0f} s")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)
    print("dashboard scenarios: all passed")


main()
