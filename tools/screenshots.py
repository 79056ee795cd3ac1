"""Regenerate docs/screenshots/: the demo in Chromium (landscape, portrait, alert, pairing,
the live screens dashboard).

    .venv/bin/python tools/screenshots.py

Starts `hallboard demo` on free ports with a throwaway data directory, opens
screens in headless Chromium, raises and clears an alert through the management
API, and stops the demo (by PID) when done.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import staff_screenshots  # tools/: the emergency panel and announcements pages
from playwright.sync_api import sync_playwright

#: The screens' clock in the pictures: mid-morning at the school, so a picture taken in
#: the evening shows a school day under way (the server's clock is the real one).
SCHOOL_TIME = dt.time(10, 5)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api(base: str, key: str, path: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(  # noqa: S310 - loopback demo only
        f"{base}/api/v1/{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return dict(json.load(response))


def dashboard(
    browser: Any, base: str, urls: list[str], ids: list[str], user: str, password: str
) -> None:
    """The district's live dashboard on a laptop, with a few screens running."""
    displays = browser.new_context(viewport={"width": 1280, "height": 720})
    for url in urls[2:5]:
        displays.new_page().goto(url)
    time.sleep(4)  # let them connect and send a first heartbeat
    page = browser.new_page(viewport={"width": 1366, "height": 800})
    page.goto(f"{base}/admin/login/?next=/staff/organisations/north/")
    page.fill("#id_username", user)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#link.live")
    page.wait_for_function(
        "document.querySelectorAll('tr[data-status=online]').length >= 3", timeout=60_000
    )
    page.click(f'tr[data-screen="{ids[2]}"] button[data-action=identify]')
    page.wait_for_selector(".cmd-status.acknowledged", timeout=60_000)
    page.evaluate("document.getElementById('flash').hidden = true")
    page.screenshot(path=str(OUT / "dashboard.png"), full_page=True)
    displays.close()
    page.close()


def screen_page(browser: Any, url: str, size: tuple[int, int], tz: str) -> Any:
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    zone = zoneinfo.ZoneInfo(tz)
    today = dt.datetime.now(zone).date()
    page.clock.set_fixed_time(dt.datetime.combine(today, SCHOOL_TIME, tzinfo=zone))
    page.goto(url)
    page.wait_for_selector("#link:has-text('live')")
    return page


def holiday(browser: Any, base: str, key: str, url: str) -> None:
    """An English school's screen on a day off: a closure today, then removed again."""
    zone = zoneinfo.ZoneInfo("Europe/London")
    today = dt.datetime.now(zone).date().isoformat()
    closure = api(
        base,
        key,
        "schools/riverside/calendar/closures",
        {"kind": "closure", "name": "Staff training day", "starts_on": today, "ends_on": today},
    )
    page = screen_page(browser, url, (1920, 1080), "Europe/London")
    page.wait_for_selector("#closure:not([hidden])")
    page.screenshot(path=str(OUT / "holiday.png"))
    page.close()
    request = urllib.request.Request(  # noqa: S310 - loopback demo only
        f"{base}/api/v1/schools/riverside/calendar/closures/{closure['id']}",
        headers={"Authorization": f"Bearer {key}"},
        method="DELETE",
    )
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310


@dataclass(frozen=True)
class Demo:
    """A running `hallboard demo`: where it serves and what it printed."""

    base: str
    #: The display URLs it printed, in its order (German school first).
    urls: list[str]
    org_key: str
    user: str
    password: str
    #: Its screens' ids, in the order of ``urls``.
    screen_ids: list[str]


@contextlib.contextmanager
def running_demo(web: int | None = None, gateway: int | None = None) -> Iterator[Demo]:
    """Start `hallboard demo` on ``web``/``gateway`` (free ports if not given) with a
    throwaway data directory; yield what it printed once it serves; stop it (by PID)."""
    web, gateway = web or free_port(), gateway or free_port()
    base = f"http://127.0.0.1:{web}"
    with tempfile.TemporaryDirectory() as data:
        env = {
            **os.environ,
            "HALLBOARD_DATA_DIR": data,
            "GATEWAY_PORT": str(gateway),
            "HALLBOARD_PUBLIC_URL": base,
        }
        demo = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "-m", "hallboard", "demo", "--port", str(web)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            lines: list[str] = []
            assert demo.stdout is not None
            while not any(line.startswith("Serving") for line in lines):
                line = demo.stdout.readline()
                if not line and demo.poll() is not None:
                    raise SystemExit(f"the demo stopped before serving:\n{''.join(lines)}")
                lines.append(line)
            text = "".join(lines)
            urls = re.findall(r"http://\S+/display/\?token=\S+", text)
            org_key = re.search(r"organisation API key: (hbk_\S+)", text)
            admin = re.search(r"user '(\S+)'\s+password '(\S+)'", text)
            if not urls or org_key is None or admin is None:
                raise SystemExit(f"the demo printed no display URLs, API key or admin:\n{text}")
            time.sleep(1)
            yield Demo(
                base,
                urls,
                org_key.group(1),
                admin.group(1),
                admin.group(2),
                re.findall(r"screen\s+(\d+)\s", text),
            )
        finally:
            demo.terminate()
            demo.wait(timeout=30)


def main() -> None:
    with running_demo() as demo:
        base, urls = demo.base, demo.urls
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            shots = [
                ("landscape", urls[0], (1920, 1080), "Europe/Berlin"),
                ("portrait", urls[1], (1080, 1920), "Europe/Berlin"),
                ("staff-room", urls[5], (1920, 1080), "Europe/London"),
            ]
            for name, url, size, tz in shots:
                page = screen_page(browser, url, size, tz)
                page.screenshot(path=str(OUT / f"{name}.png"))
                if name == "landscape":
                    alert = api(
                        base,
                        demo.org_key,
                        "schools/lindenhof/alerts",
                        {
                            "headline": "Lockdown",
                            "kind": "lockdown",
                            "severity": "extreme",
                            "instructions": "Lock the doors. Stay away from windows.\n"
                            "Wait for the all-clear.",
                        },
                    )
                    page.wait_for_selector("#alert:not([hidden])")
                    page.evaluate("document.querySelector('#alert').style.animation = 'none'")
                    page.screenshot(path=str(OUT / "alert.png"))
                    api(
                        base,
                        demo.org_key,
                        f"schools/lindenhof/alerts/{alert['id']}/clear",
                        {},
                    )
                    page.wait_for_selector("#alert", state="hidden")
                page.close()
            holiday(browser, base, demo.org_key, urls[3])
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(f"{base}/display/")
            page.wait_for_selector("#pairing-qr svg")
            page.screenshot(path=str(OUT / "pairing.png"))
            dashboard(browser, base, urls, demo.screen_ids, demo.user, demo.password)
            staff_screenshots.shots(browser, base, urls, demo.user, demo.password)
            browser.close()
    print("wrote", ", ".join(sorted(p.name for p in OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
