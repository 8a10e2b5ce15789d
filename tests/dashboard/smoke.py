"""Dashboard smoke test in a real browser (Debian chromium + chromedriver, Python selenium).

Against a running `mtq-trader serve`: sign in, open every view, and fail on any console error or
warning, on a view that does not render, or on horizontal overflow at a phone's 390x844. Writes a
screenshot per view into OUT. Usage: smoke.py BASE_URL USER OUT_DIR (password in MTQ_PASSWORD).
"""
import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

base, user, out = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
opts = webdriver.ChromeOptions()
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"]:
    opts.add_argument(a)
opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
d = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=opts)
failures = []
# What a view must show beyond its heading, given what .ci/dashboard-smoke put in the database.
EXPECT = {
    "optimizations": "#view-optimizations tbody tr[data-id]",
    # The account's state from the live channel, not overwritten by the account's events.
    "overview": "#health[data-trading='running']",
}
# The stored backtest: its row opens its statistics and equity curve.
BACKTEST_ROW = "#view-optimizations section:first-of-type tbody tr[data-id]"
try:
    wait = WebDriverWait(d, 30)
    d.get(base + "/")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "input[type=password]")))
    inputs = d.find_elements(By.CSS_SELECTOR, "input")
    inputs[0].send_keys(user)
    d.find_element(By.CSS_SELECTOR, "input[type=password]").send_keys(os.environ["MTQ_PASSWORD"])
    d.find_element(By.CSS_SELECTOR, "form button").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "nav a")))
    links = [a.get_attribute("href") for a in d.find_elements(By.CSS_SELECTOR, "nav a")]
    if len(links) < 9:
        failures.append(f"expected 9 views in the navigation, found {links}")
    for href in links:
        d.get(href)
        time.sleep(3)
        name = href.split("#")[-1].strip("/").replace("/", "_") or "root"
        heading = d.find_elements(By.CSS_SELECTOR, "main h1, h1")
        if not heading or not heading[0].text.strip():
            failures.append(f"view {name}: no heading rendered")
        if name in EXPECT and not d.find_elements(By.CSS_SELECTOR, EXPECT[name]):
            failures.append(f"view {name}: nothing matches {EXPECT[name]}")
        if name == "optimizations":
            rows = d.find_elements(By.CSS_SELECTOR, BACKTEST_ROW)
            if not rows:
                failures.append("research view: the stored backtest is not listed")
            else:
                rows[0].click()
                try:
                    WebDriverWait(d, 15).until(lambda _: int(d.execute_script(
                        "const e = document.getElementById('backtest-detail');"
                        "return e && e.dataset.points ? e.dataset.points : 0;")) > 1)
                    time.sleep(1)
                    d.save_screenshot(os.path.join(out, "backtest-run.png"))
                except Exception:  # noqa: BLE001 - a timeout is the failure reported
                    failures.append("research view: the backtest's equity curve was not drawn")
        d.save_screenshot(os.path.join(out, f"{name}.png"))
    d.set_window_size(390, 844)
    for href in links:
        d.get(href)
        time.sleep(1)
        if d.execute_script("return document.documentElement.scrollWidth > window.innerWidth"):
            failures.append(f"view {href}: horizontal overflow at 390x844")
    d.save_screenshot(os.path.join(out, "phone.png"))
    problems = [l for l in d.get_log("browser") if l["level"] in ("SEVERE", "WARNING")]
    if problems:
        failures.append("console problems: " + json.dumps(problems[:5], indent=1))
finally:
    d.quit()
if failures:
    print("\n".join(failures), file=sys.stderr)
    sys.exit(1)
print(f"dashboard smoke: {len(links)} views, no console problems, no overflow at 390x844")
