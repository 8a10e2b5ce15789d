"""The backtest reports in a real browser (Debian chromium + chromedriver, Python selenium), opened
from disk with the network off, as a user opens them offline.

Against the `report.html` files `mtq-trader backtest/optimize --report DIR` wrote: each page draws
without a console error and loads nothing; the backtest page's candles carry a marker for every
entry and exit of its trades, its trades table lists them all and sorts by a clicked column (both
ways); the optimisation page's heat map has a cell per pair of the two parameters' values and
follows the chosen metric; the walk-forward page shows every window on its timeline and table.

Usage: reports.py BACKTEST_DIR OPTIMIZE_DIR WALK_FORWARD_DIR OUT_DIR. Exits 1 with every failure.
"""
import json
import os
import sys

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

bt_dir, opt_dir, wf_dir, out = (os.path.abspath(a) for a in sys.argv[1:5])
os.makedirs(out, exist_ok=True)
failures = []


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    failures.append(msg)


opts = webdriver.ChromeOptions()
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"]:
    opts.add_argument(a)
opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
d = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=opts)
# Offline: any request the page tried would fail (and show in the console and resource list).
d.execute_cdp_cmd("Network.enable", {})
d.execute_cdp_cmd("Network.emulateNetworkConditions",
                  {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})


def css(sel):
    return d.find_elements(By.CSS_SELECTOR, sel)


def open_page(path, name):
    d.get("file://" + path)
    try:
        WebDriverWait(d, 20).until(lambda _: d.execute_script("return document.documentElement.dataset.ready"))
    except TimeoutException:
        fail(f"{name}: the page never said it was ready")
    state = d.execute_script("return document.documentElement.dataset.ready")
    if state != "1":
        fail(f"{name}: page state {state!r}: {d.find_element(By.TAG_NAME, 'body').text[:300]}")
    loads = d.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    if loads:
        fail(f"{name}: the page loaded {loads[:5]} (it must be self-contained)")
    problems = [entry for entry in d.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    if problems:
        fail(f"{name}: console problems {json.dumps(problems[:3])}")
    return d.execute_script("return JSON.parse(document.getElementById('mtq-data').textContent)")


def column(n):
    return [r.find_elements(By.CSS_SELECTOR, "td")[n].text for r in css("#trades tbody tr")]


try:
    data = open_page(os.path.join(bt_dir, "report.html"), "backtest")
    first_bar = data["bars"][0][0]
    want = sum(1 for t in data["trades"] if t["entry_time"] >= first_bar) + \
        sum(1 for t in data["trades"] if t["exit_time"] >= first_bar)
    shown = int(css("#candles")[0].get_attribute("data-markers") or -1)
    if not data["trades"] or shown != want:
        fail(f"backtest: {shown} markers for {len(data['trades'])} trades (expected {want})")
    # The CSV's prices have 5 decimals: the price scale shows them all.
    if css("#candles")[0].get_attribute("data-digits") != "5" or data.get("digits") != 5:
        fail(f"backtest: prices drawn with {css('#candles')[0].get_attribute('data-digits')} digits, the data has {data.get('digits')}")
    d.execute_script("document.getElementById('candles').scrollIntoView({block: 'center'})")
    d.save_screenshot(os.path.join(out, "report-backtest.png"))
    rows = css("#trades tbody tr")
    if len(rows) != len(data["trades"]):
        fail(f"backtest: {len(rows)} table rows for {len(data['trades'])} trades")
    heads = [th.text.strip() for th in css("#trades thead th")]
    net = heads.index("net")
    css(f"#trades thead th[data-key='net_profit']")[0].click()
    values = [float(v) for v in column(net)]
    if values != sorted(values, reverse=True):
        fail(f"backtest: after one click the trades are not by net profit, largest first: {values[:5]}")
    css(f"#trades thead th[data-key='net_profit']")[0].click()
    values = [float(v) for v in column(net)]
    if values != sorted(values):
        fail(f"backtest: after a second click the trades are not by net profit, smallest first: {values[:5]}")
    print(f"backtest report: {len(data['bars'])} candles, {shown} markers, {len(rows)} trades sorted both ways")

    data = open_page(os.path.join(opt_dir, "report.html"), "optimisation")
    xs = Select(css("#heat-x")[0]).first_selected_option.get_attribute("value")
    ys = Select(css("#heat-y")[0]).first_selected_option.get_attribute("value")
    distinct = lambda k: {json.dumps(r["params"][k]) for r in data["results"]}  # noqa: E731
    cells = len(css("#heat-grid td"))
    if cells != len(distinct(xs)) * len(distinct(ys)):
        fail(f"optimisation: {cells} heat-map cells for {len(distinct(xs))} x {len(distinct(ys))} values")
    d.save_screenshot(os.path.join(out, "report-optimization.png"))
    before = [td.text for td in css("#heat-grid td")]
    Select(css("#heat-metric")[0]).select_by_value("trades")
    after = [td.text for td in css("#heat-grid td")]
    if before == after or not all(a.isdigit() for a in after if a):
        fail(f"optimisation: the heat map did not follow the metric: {before[:4]} -> {after[:4]}")
    if len(css("#results tbody tr")) != len(data["results"]):
        fail("optimisation: the results table misses results")
    print(f"optimisation report: {cells} heat-map cells ({xs} x {ys}), {len(data['results'])} results")

    data = open_page(os.path.join(wf_dir, "report.html"), "walk-forward")
    lanes = len(css("#timeline .lane"))
    if not data["windows"] or lanes != len(data["windows"]) or len(css("#windows tbody tr")) != lanes:
        fail(f"walk-forward: {lanes} timeline lanes for {len(data['windows'])} windows")
    d.save_screenshot(os.path.join(out, "report-walk-forward.png"))
    print(f"walk-forward report: {lanes} windows")
finally:
    d.quit()
if failures:
    print("\n".join(failures), file=sys.stderr)
    sys.exit(1)
print("reports: all passed")
