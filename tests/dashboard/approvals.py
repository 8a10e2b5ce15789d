"""The Approvals view (`trader.mode: semi`) in a real browser (Debian chromium + chromedriver, selenium).

This script runs its own `mtq-trader serve` of one paper account in semi mode on a fresh SQLite
file, with an admin and a viewer user, and checks, in order:

  pending    the strategy's entries wait in the view, one row each with its symbol, side and lots,
             as the API lists them
  phone      the view with waiting entries has no horizontal overflow at 390x844
  approve    Approve on one row, confirmed in the dialog: the API shows it approved by the user,
             its order is sent exactly once, and the row leaves the view
  reject     Reject on another row, confirmed: the API shows it rejected, nothing is sent
  viewer     a viewer sees the waiting entries but no Approve or Reject button; an approval forged
             from the page with the viewer's own token is refused with 403 and changes nothing
  console    no console error or warning on the way (before the forged request)

Usage: approvals.py BIN WORK_DIR PORT OUT_DIR. Exits 1 with every failure listed.
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
from selenium.webdriver.support.ui import WebDriverWait

BIN, WORK, PORT, OUT = sys.argv[1], os.path.abspath(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
BASE = f"http://127.0.0.1:{PORT}"
DB_URL = f"sqlite://{os.path.join(WORK, 'approvals.db')}"
ADMIN, VIEWER = "ops", "watcher"
PASSWORDS = {ADMIN: f"admin-{time.time_ns()}-passphrase", VIEWER: f"viewer-{time.time_ns()}-passphrase"}
# Fast crossovers on two symbols: entries within seconds of the paced feed (an M5 bar a second),
# each waiting a simulated day (the longest allowed): about five minutes of the paced feed.
CONFIG = """\
currencies:
  - {symbol: EURUSD, risk_percent: 0.1, strategy_type: crossover, timeframe: M5, fast_period: 2, slow_period: 5, sl_pips: 60, tp_pips: 60, cooldown_seconds: 60}
  - {symbol: GBPUSD, risk_percent: 0.1, strategy_type: crossover, timeframe: M5, fast_period: 2, slow_period: 5, sl_pips: 60, tp_pips: 60, cooldown_seconds: 60}
trader:
  mode: semi
  approval_ttl_seconds: 86400
"""
os.makedirs(OUT, exist_ok=True)
os.makedirs(WORK, exist_ok=True)
failures = []


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    failures.append(msg)


def step(msg):
    print(f"--- {msg} ({time.strftime('%H:%M:%S')})", flush=True)


def until(d, f, what, timeout=60):
    try:
        return WebDriverWait(d, timeout, poll_frequency=0.2).until(lambda _: f())
    except TimeoutException:
        fail(f"timed out after {timeout} s waiting for {what}")
        return None


def css(d, sel):
    return d.find_elements(By.CSS_SELECTOR, sel)


def call(d, method, path):
    """fetch() from the page with the signed-in user's own access token: {status, body}."""
    return d.execute_async_script(
        """
        const [method, path, done] = arguments;
        const s = JSON.parse(sessionStorage.getItem('mtq.session') || 'null');
        fetch(path, {method, headers: s ? {authorization: 'Bearer ' + s.access} : {}})
          .then(async (r) => done({status: r.status, body: await r.json().catch(() => null)}))
          .catch((e) => done({status: 0, body: String(e)}));
        """, method, path)


def acct(path=""):
    return f"/api/v1/accounts/default{path}"


def approvals(d):
    r = call(d, "GET", acct("/approvals"))
    return r["body"] if r["status"] == 200 and isinstance(r["body"], list) else []


def approval(d, ident):
    return next((a for a in approvals(d) if a["id"] == ident), None)


def orders_with(d, coid):
    r = call(d, "GET", acct("/orders?limit=500"))
    items = (r["body"] or {}).get("items", []) if r["status"] == 200 else []
    return [o for o in items if o.get("client_order_id") == coid]


def rows(d):
    """The ids of the view's rows, read in one step (the table re-renders every 5 s)."""
    return d.execute_script(
        "return [...document.querySelectorAll('#approvals tbody tr[data-id]')].map((r) => Number(r.dataset.id));")


def login(d, user):
    if not css(d, "#username"):
        d.get(BASE + "/#/approvals")
    until(d, lambda: css(d, "#username"), "the login form")
    css(d, "#username")[0].send_keys(user)
    css(d, "#password")[0].send_keys(PASSWORDS[user])
    css(d, "#login-form button")[0].click()
    until(d, lambda: css(d, "#logout:not([hidden])"), f"{user} signed in")


def decide(d, ident, verb):
    """Clicks `verb` on the row of approval `ident` and confirms the dialog."""
    sel = f"#approvals button[data-approval='{ident}'][data-verb='{verb}']"
    clicked = until(d, lambda: d.execute_script(
        "const b = document.querySelector(arguments[0]); if (!b) return false; b.click(); return true;", sel),
        f"the {verb} button of approval {ident}")
    if not clicked:
        return
    until(d, lambda: css(d, "dialog[open] #confirm-ok"), f"the {verb} confirmation")
    css(d, "dialog[open] #confirm-ok")[0].click()


def overflows(d):
    return d.execute_script("return document.documentElement.scrollWidth > window.innerWidth")


def main():
    cfg = os.path.join(WORK, "approvals.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG)
    for user, role in [(ADMIN, "admin"), (VIEWER, "viewer")]:
        env = dict(os.environ, MTQ_PASSWORD=PASSWORDS[user])
        subprocess.run([BIN, "user", "create", "--name", user, "--role", role, "--database-url", DB_URL],
                       env=env, check=True, stdout=subprocess.DEVNULL)
    log = open(os.path.join(WORK, "approvals-server.log"), "ab")
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
    problems = []
    try:
        step("pending: the strategy's entries wait in the view")
        login(d, ADMIN)
        d.get(BASE + "/#/approvals")
        until(d, lambda: css(d, "#view-approvals[data-ready='1']"), "the approvals view")
        until(d, lambda: len(rows(d)) >= 2, "two entries waiting in the view", timeout=90)
        listed = {a["id"]: a for a in approvals(d) if a["state"] == "pending"}
        shown = rows(d)
        if not shown or not set(shown) <= set(listed):
            fail(f"the view shows {shown}, the API lists {sorted(listed)} pending")
        first = listed.get(shown[0]) if shown else None
        if first:
            row = d.execute_script(
                "const r = document.querySelector(`#approvals tbody tr[data-id='${arguments[0]}']`); return r ? r.textContent : '';",
                first["id"])
            for want in (first["symbol"], first["side"]):
                if want.lower() not in row.lower():
                    fail(f"the row of approval {first['id']} does not show {want!r}: {row!r}")
        d.save_screenshot(os.path.join(OUT, "approvals.png"))

        step("phone: no horizontal overflow at 390x844")
        d.set_window_size(390, 844)
        d.refresh()
        until(d, lambda: css(d, "#view-approvals[data-ready='1']"), "the approvals view on a phone")
        until(d, lambda: rows(d), "waiting entries on a phone")
        time.sleep(1)
        if overflows(d):
            fail("the approvals view overflows at 390x844")
        d.save_screenshot(os.path.join(OUT, "approvals-phone.png"))
        d.set_window_size(1280, 900)

        step("approve: one row approved from the page, its order sent once")
        ids = rows(d)
        yes, no = ids[0], ids[1]
        pending = {a["id"]: a for a in approvals(d)}
        decide(d, yes, "approve")
        got = until(d, lambda: (approval(d, yes) or {}).get("state") != "pending" and approval(d, yes),
                    f"approval {yes} decided")
        if got and got["state"] != "approved":
            fail(f"approval {yes} is {got['state']!r} after Approve ({got.get('note')})")
        if got and not str(got.get("decided_by") or "").startswith("user:"):
            fail(f"approval {yes} was decided by {got.get('decided_by')!r}, not the signed-in user")
        coid = pending[yes]["client_order_id"]
        until(d, lambda: orders_with(d, coid), f"the order of approval {yes}")
        time.sleep(2)
        sent = orders_with(d, coid)
        if len(sent) != 1:
            fail(f"approval {yes} sent {len(sent)} orders, not one")
        until(d, lambda: yes not in rows(d), f"approval {yes} to leave the view")

        step("reject: another row rejected from the page, nothing sent")
        decide(d, no, "reject")
        got = until(d, lambda: (approval(d, no) or {}).get("state") != "pending" and approval(d, no),
                    f"approval {no} decided")
        if got and got["state"] != "rejected":
            fail(f"approval {no} is {got['state']!r} after Reject")
        until(d, lambda: no not in rows(d), f"approval {no} to leave the view")
        if orders_with(d, pending[no]["client_order_id"]):
            fail(f"the rejected approval {no} was sent")
        d.save_screenshot(os.path.join(OUT, "approvals-decided.png"))
        problems += [e for e in d.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]

        step("viewer: entries shown, no buttons; a forged approval refused")
        css(d, "#logout")[0].click()
        login(d, VIEWER)
        d.get(BASE + "/#/approvals")
        until(d, lambda: css(d, "#view-approvals[data-ready='1']"), "the approvals view for the viewer")
        until(d, lambda: rows(d), "a waiting entry for the viewer", timeout=90)
        if css(d, "#approvals button[data-verb]"):
            fail("the viewer sees Approve or Reject buttons")
        d.save_screenshot(os.path.join(OUT, "approvals-viewer.png"))
        problems += [e for e in d.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        target = rows(d)[0]
        forged = call(d, "POST", acct(f"/approvals/{target}/approve"))
        if forged["status"] != 403:
            fail(f"a viewer's approval answered {forged['status']}, not 403: {forged['body']}")
        if (approval(d, target) or {}).get("state") != "pending":
            fail(f"a viewer's forged approval changed approval {target}: {approval(d, target)}")

        if problems:
            fail("console problems: " + json.dumps(problems[:5], indent=1))
    except Exception as e:  # noqa: BLE001 - report any harness error as a failure with the page
        import traceback
        traceback.print_exc()
        fail(f"{type(e).__name__}: {e}")
        d.save_screenshot(os.path.join(OUT, "approvals-error.png"))
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
    print("dashboard approvals: all passed")


main()
