"""Screenshots of the emergency panel and the announcements page for docs/staff.md.

    .venv/bin/python tools/staff_screenshots.py [WEB_PORT GATEWAY_PORT]

Starts `hallboard demo` (``screenshots.running_demo``; tools/screenshots.py also calls ``shots``),
opens two of the German school's screens, and as the demo's admin: triggers a
lockdown on the panel on a phone, waits for the screens to show it, takes the pictures, gives the
all-clear; then adds an announcement on a laptop. Writes
docs/screenshots/emergency-*.png and announcements.png.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
sys.path.insert(0, str(ROOT / "tools"))

PHONE = {"width": 375, "height": 667}
SCHOOL = "lindenhof"  # the demo's German school


def _signed_in(browser: Any, base: str, user: str, password: str, **options: Any) -> Any:
    context = browser.new_context(**options)
    page = context.new_page()
    page.goto(f"{base}/admin/login/?next=/staff/")
    page.fill("#id_username", user)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state()
    return page


def hold(page: Any, selector: str, until: str) -> None:
    """Press and hold ``selector`` until ``until`` shows (hold-to-confirm)."""
    box = page.locator(selector).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.wait_for_selector(until, timeout=30_000)
    page.mouse.up()


def shots(browser: Any, base: str, urls: list[str], user: str, password: str) -> None:
    """The panel on a phone (German and English), with two screens running; announcements."""
    displays = browser.new_context(viewport={"width": 1280, "height": 720})
    for url in urls[:2]:
        displays.new_page().goto(url)
    time.sleep(4)  # let them connect

    page = _signed_in(browser, base, user, password, viewport=PHONE, locale="en-GB")
    page.goto(f"{base}/staff/emergency/{SCHOOL}/")
    page.click("button.template.kind-lockdown")
    page.screenshot(path=str(OUT / "emergency-send.png"))
    page.click("[data-close]")

    de = _signed_in(browser, base, user, password, viewport=PHONE, locale="de-DE")
    de.goto(f"{base}/staff/emergency/{SCHOOL}/")
    de.click("button.template.kind-lockdown")
    hold(de, "#send-hold", ".alert-card")
    de.wait_for_selector(".reach-screen.shown", timeout=60_000)
    de.wait_for_function(
        "document.querySelectorAll('.reach-screen.shown').length >= 2", timeout=60_000
    )
    de.screenshot(path=str(OUT / "emergency-panel.png"), full_page=True)
    hold(de, ".hold-clear", "#none-active:not([hidden])")
    displays.close()

    laptop = _signed_in(
        browser, base, user, password, viewport={"width": 1366, "height": 800}, locale="en-GB"
    )
    laptop.goto(f"{base}/staff/announcements/{SCHOOL}/")
    laptop.fill("#a-title", "Choir rehearsal moved to the hall")
    laptop.fill("#a-body", "Today 13:30, bring your music.")
    laptop.select_option("#a-priority", "2")
    laptop.click("#save")
    laptop.wait_for_selector(".announcement")
    laptop.screenshot(path=str(OUT / "announcements.png"), full_page=True)


def main() -> None:
    from playwright.sync_api import sync_playwright
    from screenshots import ARGS, running_demo

    # Ports may be given (python tools/staff_screenshots.py WEB GATEWAY); else free ones.
    web, gateway = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (None, None)
    with running_demo(web, gateway) as demo:
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            shots(browser, demo.base, demo.urls, demo.user, demo.password)
            browser.close()


if __name__ == "__main__":
    main()
