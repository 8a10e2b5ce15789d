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
  phone      the overview with several accounts has no horizontal overflow at 390x844
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
  - {symbol: GBPUSD, risk_percent: 0.1, strategy_type: crossover, timeframe: M5, fast_period: 2, slow_period: 5, sl_pips: 30, tp_pips: 30, cooldown_seconds: 60}
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

        step("phone: no horizontal overflow at 390x844")
        d.set_window_size(390, 844)
        d.get(BASE + "/#/overview")
        until(d, lambda: css(d, "#view-overview[data-ready='1']"), "the overview on a phone")
        time.sleep(1)
        if d.execute_script("return document.documentElement.scrollWidth > window.innerWidth"):
            fail("the several-account overview overflows at 390x844")
        d.save_screenshot(os.path.join(OUT, "overview-accounts-phone.png"))

        problems = [entry for entry in d.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
        if problems:
            fail("console problems: " + json.dumps(problems[:5], indent=1))
    except Exception as e:  # noqa: BLE001 - report any harness error as a failure with the page
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
