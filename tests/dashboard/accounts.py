"""Several accounts in the dashboard, in a real browser (Debian chromium + chromedriver, selenium).

This script runs its own `mtq-trader serve` with two paper accounts, `one` and `two`, on a fresh
SQLite file, and checks, in order:

  picker     the header offers both accounts; the overview lists every account side by side with
             the portfolio's totals and limits
  switch     choosing `two` in the picker moves every view to it (heading, state pill, API calls)
  control    entries paused from Controls pause `two` only: the API says `two` is paused and
             `one` is still running, and the all-accounts table shows it
  remember   a reload keeps the chosen account; a click on a row of the all-accounts table
             switches to that account
  oscillator the chart of GBPUSD (an RSI strategy) and USDJPY (MACD) draws the strategy's own
             oscillator in a pane under the candles with its levels, its values agreeing with RSI
             and MACD computed here on the API's bars, and follows live bars
  phone      the overview with several accounts, and the chart with its oscillator pane, have no
             horizontal overflow at 390x844
  console    no console error or warning on the way

Usage: accounts.py BIN WORK_DIR PORT OUT_DIR. Exits 1 with every failure listed.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import datetime

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

BIN, WORK, PORT, OUT = sys.argv[1], os.path.abspath(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
BASE = f"http://127.0.0.1:{PORT}"
DB_URL = f"sqlite://{os.path.join(WORK, 'accounts.db')}"
USER, PASSWORD = "ops", f"accounts-{time.time_ns()}-passphrase"
CONFIG = """\
currencies:
  - {symbol: EURUSD, risk_percent: 0.1, strategy_type: crossover, timeframe: M5, fast_period: 2, slow_period: 5, sl_pips: 30, tp_pips: 30, cooldown_seconds: 60}
  - {symbol: GBPUSD, risk_percent: 0.1, strategy_type: rsi, timeframe: M5, rsi_period: 7, oversold: 35, overbought: 65, sl_pips: 30, tp_pips: 30, cooldown_seconds: 60}
  - {symbol: USDJPY, risk_percent: 0.1, strategy_type: macd, timeframe: M5, fast_period: 5, slow_period: 13, signal_period: 4, sl_pips: 30, tp_pips: 30, cooldown_seconds: 60}
portfolio:
  max_daily_loss: 5000
accounts:
  - {name: one, magic: 1}
  - {name: two, magic: 2}
"""
os.makedirs(OUT, exist_ok=True)
os.makedirs(WORK, exist_ok=True)
failures = []


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    failures.append(msg)


def step(msg):
    print(f"--- {msg} ({time.strftime('%H:%M:%S')})", flush=True)


def until(d, f, what, timeout=30):
    try:
        return WebDriverWait(d, timeout, poll_frequency=0.2).until(lambda _: f())
    except TimeoutException:
        fail(f"timed out after {timeout} s waiting for {what}")
        return None


def css(d, sel):
    return d.find_elements(By.CSS_SELECTOR, sel)


def text(d, sel):
    """A live element's text, read in one step (tables re-render under selenium)."""
    return d.execute_script("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", sel)


def call(d, path):
    """GET from the page with the signed-in user's own token: the JSON body, or None."""
    return d.execute_async_script(
        """
        const [path, done] = arguments;
        const s = JSON.parse(sessionStorage.getItem('mtq.session') || 'null');
        fetch(path, {headers: s ? {authorization: 'Bearer ' + s.access} : {}})
          .then(async (r) => done(r.ok ? await r.json() : null)).catch(() => done(null));
        """, path)


def trading(d, name):
    return (call(d, f"/api/v1/accounts/{name}") or {}).get("trading")


def rsi(closes, n):
    """TA-Lib's RSI: Wilder's smoothing seeded with the mean of the first n changes."""
    out, gain, loss = [None] * len(closes), 0.0, 0.0
    for i in range(1, len(closes)):
        ch = closes[i] - closes[i - 1]
        g, lo = max(ch, 0.0), max(-ch, 0.0)
        if i <= n:
            gain, loss = gain + g, loss + lo
            if i < n:
                continue
            gain, loss = gain / n, loss / n
        else:
            gain, loss = (gain * (n - 1) + g) / n, (loss * (n - 1) + lo) / n
        out[i] = 100 * gain / (gain + loss) if gain + loss > 0 else 50.0
    return out


def macd(closes, fast, slow, sig):
    """TA-Lib's MACD line and signal: EMAs seeded with SMAs ending on bar slow - 1, the signal
    seeded with the mean of the line's first `sig` values; both from bar slow + sig - 2."""
    line, sigs = [None] * len(closes), [None] * len(closes)
    f, s = sum(closes[slow - fast:slow]) / fast, sum(closes[:slow]) / slow
    acc, v = 0.0, None
    for i in range(slow - 1, len(closes)):
        if i >= slow:
            f = (closes[i] - f) * (2 / (fast + 1)) + f
            s = (closes[i] - s) * (2 / (slow + 1)) + s
        m, j = f - s, i - slow + 1
        if j < sig - 1:
            acc += m
            continue
        v = (acc + m) / sig if j == sig - 1 else (m - v) * (2 / (sig + 1)) + v
        line[i], sigs[i] = m, v
    return line, sigs


def oscillator(d, symbol, label, levels, compute):
    """The chart of `symbol` draws `label` in the pane under the candles with `levels`, and its
    values agree with `compute` on the API's bars (the same bars from the serve's first one: the
    values closed in both, to 1e-9), and it follows live bars."""
    d.get(BASE + f"/#/chart?symbol={symbol}&tf=M5")
    until(d, lambda: css(d, f"#chart[data-oscillator^='{label}=']"), f"the {label} pane of {symbol}")
    pane = css(d, "#chart-osc")
    if not pane or not pane[0].is_displayed() or pane[0].size["height"] < 80:
        fail(f"the {label} pane of {symbol} is not shown under the candles")
        return
    got_levels = pane[0].get_attribute("data-levels")
    if got_levels != levels:
        fail(f"the {label} pane's levels are {got_levels!r}, not {levels!r}")
    # MACD reads in the symbol's digits, RSI in two (the scale's labels).
    precision = pane[0].get_attribute("data-precision")
    want_precision = css(d, "#chart")[0].get_attribute("data-digits") if label.startswith("MACD") else "2"
    if precision != want_precision:
        fail(f"the {label} pane's scale has {precision} decimals, not {want_precision}")
    legend = text(d, "#chart-legend") or ""
    if label not in legend or "none drawn" in legend:
        fail(f"the chart's legend does not name the {label} pane: {legend!r}")
    canvases = d.execute_script("return document.querySelectorAll('#chart-osc canvas').length")
    if not canvases:
        fail(f"the {label} pane has no canvas")
    last = int(css(d, "#chart")[0].get_attribute("data-last-bar") or 0)
    until(d, lambda: int(css(d, "#chart")[0].get_attribute("data-last-bar") or 0) > last,
          f"a live bar on the {symbol} chart")
    # The pane moved with the live bar: its last point is the chart's last bar.
    live = int(css(d, "#chart")[0].get_attribute("data-last-bar") or 0)
    def last_point():
        series = json.loads(css(d, "#chart-osc")[0].get_attribute("data-values") or "[]")
        return series[-1][-1][0] if series and series[-1] else 0
    until(d, lambda: last_point() >= live,
          f"the {label} pane to follow the live bar")
    # A few more bars (a paper bar a second), so that several values are compared.
    until(d, lambda: len((json.loads(css(d, "#chart-osc")[0].get_attribute("data-values") or "[[]]") or [[]])[-1]) >= 8,
          f"eight {label} values on the {symbol} chart", timeout=60)
    values = json.loads(css(d, "#chart-osc")[0].get_attribute("data-values") or "[]")
    live = int(css(d, "#chart")[0].get_attribute("data-last-bar") or 0)
    values = json.loads(css(d, "#chart-osc")[0].get_attribute("data-values") or "[]")
    bars = call(d, f"/api/v1/accounts/one/symbols/{symbol}/bars?timeframe=M5&limit=1000") or {}
    items = bars if isinstance(bars, list) else bars.get("items") or bars.get("bars") or []
    times = [int(b["time"]) if isinstance(b["time"], (int, float)) else
             int(datetime.fromisoformat(b["time"].replace("Z", "+00:00")).timestamp()) for b in items]
    first = int(css(d, "#chart")[0].get_attribute("data-first-bar") or 0)
    if not times or times[0] != first:
        fail(f"the {symbol} bars from the API start at {times[:1]}, the page's at {first}: nothing to compare")
        return
    closes = [float(b["close"]) for b in items]
    want = compute(closes)
    checked = 0
    for series, expected in zip(values, want):
        at = {t: v for t, v in zip(times, expected) if v is not None}
        for t, v in series:
            # Bars closed in both (the last one may still be forming).
            if t in at and t < min(times[-1], live):
                checked += 1
                if abs(at[t] - v) > 1e-9:
                    fail(f"{symbol} {label} at {t}: the page draws {v}, {at[t]} computed on the API's bars")
                    return
    if checked < 6:
        fail(f"only {checked} {label} values of the page could be checked against the API's bars")
        return
    step(f"oscillator: {symbol} {label} pane, {checked} values agree")


def main():
    cfg = os.path.join(WORK, "accounts.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG)
    env = dict(os.environ, MTQ_PASSWORD=PASSWORD)
    subprocess.run([BIN, "user", "create", "--name", USER, "--role", "admin", "--database-url", DB_URL],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    log = open(os.path.join(WORK, "accounts-server.log"), "ab")
    server = subprocess.Popen([BIN, "serve", "--config", cfg, "--database-url", DB_URL, "--port", str(PORT),
                               "--pace", "300"], cwd=WORK, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(BASE + "/healthz", timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    opts = webdriver.ChromeOptions()
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"]:
        opts.add_argument(a)
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=opts)
    d.set_script_timeout(30)
    try:
        step("picker: both accounts offered, every account on the overview")
        d.get(BASE + "/#/overview")
        until(d, lambda: css(d, "#username"), "the login form")
        css(d, "#username")[0].send_keys(USER)
        css(d, "#password")[0].send_keys(PASSWORD)
        css(d, "#login-form button")[0].click()
        until(d, lambda: css(d, "#view-overview[data-ready='1']"), "the overview after signing in")
        until(d, lambda: css(d, "#account-pick:not([hidden])"), "the account picker")
        names = [o.get_attribute("value") for o in css(d, "#account option")]
        if names != ["one", "two"]:
            fail(f"the picker offers {names}, not ['one', 'two']")
        until(d, lambda: css(d, "#all-accounts tr[data-id='one']") and css(d, "#all-accounts tr[data-id='two']"),
              "both accounts in the all-accounts table")
        until(d, lambda: css(d, "#portfolio-totals"), "the portfolio's totals")
        d.save_screenshot(os.path.join(OUT, "overview-accounts.png"))

        step("switch: the picker moves the views to account two")
        Select(css(d, "#account")[0]).select_by_value("two")
        until(d, lambda: (text(d, "#view-overview h1") or "").endswith("two"), "the overview of account two")
        until(d, lambda: css(d, "#state-pill:not([hidden])"), "the state pill of account two")

        step("control: entries paused on two only")
        d.get(BASE + "/#/controls")
        until(d, lambda: css(d, "#control-state[data-trading='running']"), "Controls showing two running")
        css(d, "#pause")[0].click()
        until(d, lambda: css(d, "dialog[open] #confirm-ok"), "the pause confirmation")
        css(d, "dialog[open] #confirm-ok")[0].click()
        until(d, lambda: css(d, "#control-state[data-trading='entries_paused']"), "Controls showing two paused")
        until(d, lambda: trading(d, "two") == "entries_paused", "the API to say two is paused")
        if trading(d, "one") != "running":
            fail(f"pausing two changed one: it is {trading(d, 'one')!r}")
        d.get(BASE + "/#/overview")
        until(d, lambda: "paused" in (text(d, "#all-accounts tr[data-id='two']") or "").lower(),
              "the all-accounts table to show two paused")

        step("remember: a reload keeps two; a row click switches to one")
        d.refresh()
        until(d, lambda: (text(d, "#view-overview h1") or "").endswith("two"), "account two after a reload")
        until(d, lambda: css(d, "#all-accounts tr[data-id='one']"), "the all-accounts table after a reload")
        css(d, "#all-accounts tr[data-id='one']")[0].click()
        until(d, lambda: (text(d, "#view-overview h1") or "").endswith("one"), "account one after a row click")
        if css(d, "#account") and css(d, "#account")[0].get_attribute("value") != "one":
            fail("the picker does not follow a row click")

        step("oscillator: the strategy's RSI and MACD in a pane under the candles")
        oscillator(d, "GBPUSD", "RSI 7", "oversold=35;overbought=65", lambda c: [rsi(c, 7)])
        d.save_screenshot(os.path.join(OUT, "chart-rsi-pane.png"))
        oscillator(d, "USDJPY", "MACD 5,13,4", "zero=0", lambda c: list(macd(c, 5, 13, 4)))
        d.save_screenshot(os.path.join(OUT, "chart-macd-pane.png"))

        step("phone: no horizontal overflow at 390x844")
        d.set_window_size(390, 844)
        d.get(BASE + "/#/overview")
        until(d, lambda: css(d, "#view-overview[data-ready='1']"), "the overview on a phone")
        time.sleep(1)
        if d.execute_script("return document.documentElement.scrollWidth > window.innerWidth"):
            fail("the several-account overview overflows at 390x844")
        d.save_screenshot(os.path.join(OUT, "overview-accounts-phone.png"))
        d.get(BASE + "/#/chart?symbol=GBPUSD&tf=M5")
        until(d, lambda: css(d, "#chart[data-oscillator^='RSI 7=']"), "the RSI pane on a phone")
        time.sleep(1)
        if d.execute_script("return document.documentElement.scrollWidth > window.innerWidth"):
            fail("the chart with its oscillator pane overflows at 390x844")
        d.save_screenshot(os.path.join(OUT, "chart-rsi-pane-phone.png"))

        problems = [entry for entry in d.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
        if problems:
            fail("console problems: " + json.dumps(problems[:5], indent=1))
    except Exception as e:  # noqa: BLE001 - report any harness error as a failure with the page
        import traceback
        traceback.print_exc()
        fail(f"{type(e).__name__}: {e}")
        d.save_screenshot(os.path.join(OUT, "accounts-error.png"))
    finally:
        d.quit()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)
    print("dashboard accounts: all passed")


main()
