import time, json, sys
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
o = webdriver.ChromeOptions()
for a in ["--headless=new","--no-sandbox","--disable-gpu","--window-size=1280,900"]: o.add_argument(a)
o.binary_location="/usr/bin/chromium"
o.set_capability("goog:loggingPrefs", {"browser":"ALL"})
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
d.get("http://127.0.0.1:18555/")
time.sleep(1)
inputs = d.find_elements(By.CSS_SELECTOR, "input")
inputs[0].send_keys("ops"); inputs[1].send_keys("correct-horse-battery")
d.find_element(By.CSS_SELECTOR, "button[type=submit], form button").click()
time.sleep(6)
d.save_screenshot("overview.png")
links = [a.get_attribute("href") for a in d.find_elements(By.CSS_SELECTOR, "nav a")]
print("nav:", links)
for h in links[:12]:
    if not h: continue
    d.get(h); time.sleep(3)
    name = h.split("#")[-1].replace("/","_") or "root"
    d.save_screenshot(f"view_{name}.png")
logs = d.get_log("browser")
bad = [l for l in logs if l["level"] in ("SEVERE","WARNING")]
print("console problems:", json.dumps(bad[:10], indent=1))
d.set_window_size(390, 844); time.sleep(2)
print("overflow:", d.execute_script("return document.documentElement.scrollWidth > window.innerWidth"))
d.save_screenshot("phone.png")
d.quit()
