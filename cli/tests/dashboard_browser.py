"""Drives headless Chromium through the dashboard of a running `serve`.

Spawned by cli/tests/dashboard_browser.rs, which starts `serve`, a loopback
receiver and the dead deliveries, then checks what this script reports (one
JSON object on stdout). Any failed check raises: the exit status is non-zero
and the Rust test fails with this script's stderr.

Chromium runs with the flags of docs/design.md (it reaches nothing outside
the machine) and a fresh profile; chromedriver is the Debian package's, given
explicitly, so Selenium never looks for or downloads a driver.

The admin token comes from the DASHBOARD_TOKEN environment variable (not the
command line, which other processes can read).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--metrics-recording-only",
]

WAIT = 30  # seconds, for any one condition


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--chromedriver", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--redeliver", required=True)
    parser.add_argument("--dead", type=int, required=True)
    parser.add_argument("--delivered", type=int, required=True)
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--phone-screenshot", required=True)
    args = parser.parse_args()
    token = os.environ["DASHBOARD_TOKEN"]
    base = args.base.rstrip("/")

    profile = tempfile.mkdtemp(prefix="megabot-dashboard-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1280,1100")
    service = Service(executable_path=args.chromedriver)
    driver = webdriver.Chrome(service=service, options=options)
    report = {}
    try:
        wait = WebDriverWait(driver, WAIT, poll_frequency=0.1)

        # Without a session, the dashboard sends to the login form.
        driver.get(base + "/")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "input[name=token]"))
        check(driver.current_url == base + "/dashboard/login", driver.current_url)
        report["redirected_to"] = driver.current_url.removeprefix(base)

        # A wrong token: refused, still on the form, no cookie.
        field = driver.find_element(By.CSS_SELECTOR, "input[name=token]")
        field.send_keys("not-the-admin-token-not-the-admin-token")
        driver.find_element(By.CSS_SELECTOR, "main.login button[type=submit]").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".flash.error"))
        error = driver.find_element(By.CSS_SELECTOR, ".flash.error").text
        check("not the admin token" in error, error)
        check(driver.get_cookie("megabot_dashboard") is None, "no cookie after a wrong token")
        report["wrong_token_message"] = error

        # The right token: the dashboard.
        field = driver.find_element(By.CSS_SELECTOR, "input[name=token]")
        field.clear()
        field.send_keys(token)
        driver.find_element(By.CSS_SELECTOR, "main.login button[type=submit]").click()
        wait.until(lambda d: d.find_elements(By.ID, "endpoints"))
        check(driver.current_url == base + "/", driver.current_url)
        cookie = driver.get_cookie("megabot_dashboard")
        check(cookie is not None, "the session cookie is set")
        check(token not in cookie["value"], "the cookie is not the admin token")
        report["cookie"] = {
            "httpOnly": cookie.get("httpOnly"),
            "sameSite": cookie.get("sameSite"),
            "secure": cookie.get("secure"),
            "path": cookie.get("path"),
        }
        # HttpOnly: the page's scripts cannot read it.
        report["document_cookie"] = driver.execute_script("return document.cookie")
        check(token not in driver.page_source, "the admin token is not in the page")

        # The DOM: the endpoint's row, the chart, the failures.
        row = driver.find_element(By.CSS_SELECTOR, f'tr[data-endpoint-id="{args.endpoint}"]')
        report["endpoint_row"] = {
            "delivered": int(row.get_attribute("data-delivered")),
            "dead": int(row.get_attribute("data-dead")),
            "disabled": row.get_attribute("data-disabled"),
            "text": row.text,
        }
        chart = driver.find_element(By.CSS_SELECTOR, "svg#chart")
        check(chart.is_displayed(), "the chart is shown")
        report["chart"] = {
            "minutes": len(driver.find_elements(By.CSS_SELECTOR, "#chart g.minute")),
            "dead_bars": len(driver.find_elements(By.CSS_SELECTOR, "#chart rect.dead")),
            "delivered_bars": len(driver.find_elements(By.CSS_SELECTOR, "#chart rect.delivered")),
            "width": chart.size["width"],
        }
        failures = driver.find_elements(By.CSS_SELECTOR, "#failures tr[data-delivery-id]")
        report["failures_before"] = [f.get_attribute("data-delivery-id") for f in failures]
        # The stylesheet applied (served at its own route under the CSP).
        report["stylesheet_applied"] = driver.execute_script(
            "return getComputedStyle(document.querySelector('#chart rect.dead')).fill"
        )

        # Readable on a phone (emulated: 390 CSS pixels wide, the viewport meta
        # honoured): the page itself never scrolls sideways.
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
        )
        driver.refresh()
        wait.until(lambda d: d.find_elements(By.ID, "endpoints"))
        report["phone"] = driver.execute_script(
            "return {inner: window.innerWidth, scroll: document.documentElement.scrollWidth}"
        )
        driver.save_screenshot(args.phone_screenshot)
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.refresh()
        wait.until(lambda d: d.find_elements(By.ID, "endpoints"))

        # Redeliver one: the notice, then it is delivered (the receiver now succeeds).
        button = driver.find_element(
            By.CSS_SELECTOR, f'form[data-delivery-id="{args.redeliver}"] button'
        )
        button.click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".flash.notice"))
        notice = driver.find_element(By.CSS_SELECTOR, ".flash.notice").text
        check(args.redeliver in notice and "pending again" in notice, notice)
        check(driver.current_url == base + "/", driver.current_url)
        report["notice"] = notice

        def delivered_now(d):
            d.refresh()
            rows = d.find_elements(By.CSS_SELECTOR, f'tr[data-endpoint-id="{args.endpoint}"]')
            if not rows:
                return False
            delivered = int(rows[0].get_attribute("data-delivered"))
            gone = not d.find_elements(
                By.CSS_SELECTOR, f'#failures tr[data-delivery-id="{args.redeliver}"]'
            )
            return gone and delivered == args.delivered + 1

        WebDriverWait(driver, WAIT, poll_frequency=0.25).until(delivered_now)
        row = driver.find_element(By.CSS_SELECTOR, f'tr[data-endpoint-id="{args.endpoint}"]')
        report["endpoint_row_after"] = {
            "delivered": int(row.get_attribute("data-delivered")),
            "dead": int(row.get_attribute("data-dead")),
        }
        failures = driver.find_elements(By.CSS_SELECTOR, "#failures tr[data-delivery-id]")
        report["failures_after"] = [f.get_attribute("data-delivery-id") for f in failures]
        driver.save_screenshot(args.screenshot)

        # Log out: the session is gone.
        driver.find_element(By.CSS_SELECTOR, "form.logout button").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "input[name=token]"))
        driver.get(base + "/")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "input[name=token]"))
        report["after_logout"] = driver.current_url.removeprefix(base)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
