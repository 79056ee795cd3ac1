"""Count the actions of the staff pages' key flows, performed in Chromium as a person would.

    .venv/bin/python bench/staff_actions.py            # print the report
    .venv/bin/python bench/staff_actions.py --docs     # and write docs/staff-actions.md
    .venv/bin/python bench/staff_actions.py --base-url http://127.0.0.1:8110 \\
        --user NAME --password PW                      # against a running server

This is a measurement, not a test. By default it starts its own server on free
loopback ports with a throwaway data directory (the demo's data, ``seed_demo``)
and users for each role the flows name, stops it by its PID afterwards, and
writes var/staff-actions.json.

The flows live in bench/staff_flows/ (``substitution``, ``lockdown``): each has
``run(page, base_url, count)`` and calls ``count(kind, what)`` for every user
action: a click, a key, a typed text, or a press held down (a hold-to-confirm).
A typed code counts as one action (and its characters as keystrokes, reported
beside). Opening the page (the
bookmark) and signing in are not counted. A flow module missing from this build
is reported as "not in this build".

Goals (issue 14): at most 5 actions for one substitution of a known lesson, at
most 3 for a lockdown.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Flow module (bench/staff_flows/<name>.py) → (what it does, most actions allowed, the
#: role it is done in unless the module names its own ``ROLE``).
FLOWS: dict[str, tuple[str, int, str]] = {
    "substitution": ("One substitution of a known lesson (Today's changes)", 5, "timetabler"),
    "lockdown": ("A lockdown alert for the school (Emergency panel)", 3, "safety"),
}
#: What a flow may count: a click, a key, a typed text, a press held down (one action).
KINDS = ("click", "key", "type", "hold")
CHROMIUM = os.environ.get("HALLBOARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT = {"width": 1366, "height": 768}  # a school laptop
HALLBOARD = str(Path(sys.executable).with_name("hallboard"))

# Users the runner makes in its own server: one per role a flow may name.
MAKE_USERS = """
from django.contrib.auth import get_user_model
from hallboard.schools.models import Membership, School
school = School.objects.order_by("name").first()
User = get_user_model()
for role in ("timetabler", "safety", "office", "admin"):
    user, _ = User.objects.get_or_create(username="bench-" + role, defaults={"is_staff": True})
    user.set_password(PASSWORD)
    user.save()
    Membership.objects.get_or_create(user=user, school=school, role=role)
print(school.slug)
"""


@dataclass
class Result:
    name: str
    title: str
    goal: int
    status: str = "not run"  # measured, failed, not in this build
    actions: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""

    @property
    def count(self) -> int:
        return len(self.actions)

    @property
    def keystrokes(self) -> int:
        return sum(
            len(what) if kind == "type" else 1 for kind, what in self.actions if kind != "click"
        )

    @property
    def met(self) -> bool | None:
        return self.count <= self.goal if self.status == "measured" else None

    def as_json(self) -> dict[str, Any]:
        return {
            "flow": self.name,
            "title": self.title,
            "goal": self.goal,
            "status": self.status,
            "actions": self.count if self.status == "measured" else None,
            "keystrokes": self.keystrokes if self.status == "measured" else None,
            "met": self.met,
            "steps": [{"kind": k, "what": w} for k, w in self.actions],
            "seconds": round(self.seconds, 2),
            "error": self.error,
        }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def own_server() -> Iterator[tuple[str, str, str]]:
    """A throwaway server with the demo's data: yields (base URL, password, school slug)."""
    with tempfile.TemporaryDirectory(prefix="hb-staff-actions-") as data:
        env = {
            **os.environ,
            "HALLBOARD_DATA_DIR": data,
            "DJANGO_SETTINGS_MODULE": "hallboard.settings",
        }
        env.pop("DATABASE_URL", None)  # its own SQLite file, never a shared database
        password = secrets.token_urlsafe(12)
        quiet = {"env": env, "check": True, "capture_output": True, "text": True}
        subprocess.run([HALLBOARD, "migrate", "--no-input"], **quiet)  # noqa: S603
        subprocess.run([HALLBOARD, "seed_demo"], **quiet)  # noqa: S603
        made = subprocess.run(  # noqa: S603
            [HALLBOARD, "shell", "-c", f"PASSWORD = {password!r}\n{MAKE_USERS}"], **quiet
        )
        slug = made.stdout.strip().splitlines()[-1]
        port, gateway = free_port(), free_port()
        log = open(Path(data) / "serve.log", "w")  # noqa: SIM115 - closed below
        server = subprocess.Popen(  # noqa: S603
            [
                HALLBOARD,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--gateway-port",
                str(gateway),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=2):  # noqa: S310
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            "the server did not start:\n" + (Path(data) / "serve.log").read_text()
                        ) from None
                    time.sleep(0.5)
            yield base, password, slug
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()


def sign_in(page: Any, base: str, user: str, password: str) -> None:
    page.goto(f"{base}/admin/login/?next=/staff/")
    page.fill("#id_username", user)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state("networkidle")


def measure(browser: Any, base: str, credentials: dict[str, tuple[str, str]]) -> list[Result]:
    results = []
    for name, (title, goal, default_role) in FLOWS.items():
        result = Result(name, title, goal)
        results.append(result)
        try:
            module = importlib.import_module(f"bench.staff_flows.{name}")
        except ModuleNotFoundError as exc:
            if exc.name not in (f"bench.staff_flows.{name}", "bench.staff_flows"):
                raise
            result.status = "not in this build"
            continue
        role = getattr(module, "ROLE", default_role)
        user, password = credentials.get(role) or credentials["admin"]
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            sign_in(page, base, user, password)

            def count(kind: str, what: str, _result: Result = result) -> None:
                if kind not in KINDS:
                    raise ValueError(f"unknown action kind {kind!r}")
                _result.actions.append((kind, what))

            started = time.monotonic()
            module.run(page, base, count)
            result.seconds = time.monotonic() - started
            result.status = "measured"
        except Exception as exc:  # a flow that breaks is reported, the others still run
            result.status = "failed"
            result.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            traceback.print_exc()
        finally:
            context.close()
    return results


def from_json(data: dict[str, Any]) -> list[Result]:
    """The results a JSON report holds (docs/staff-actions.json), to render them again."""
    results = []
    for flow in data["flows"]:
        result = Result(flow["flow"], flow["title"], flow["goal"], flow["status"])
        result.actions = [(step["kind"], step["what"]) for step in flow["steps"]]
        result.seconds, result.error = flow["seconds"], flow["error"]
        results.append(result)
    return results


def chromium_version(browser: Any) -> str:
    return str(browser.version)


def report(results: list[Result], meta: dict[str, str]) -> str:
    """The report as Markdown (printed, and written to docs with --docs)."""
    lines = [
        "# Staff actions",
        "",
        "<!-- Generated by bench/staff_actions.py --docs; do not edit by hand. -->",
        "",
        "How many actions the key flows of the staff pages take, performed in Chromium as "
        "a person would (bench/staff_actions.py; the flows are in bench/staff_flows/). A "
        "click, a key and a typed text each count as one action; keystrokes are shown "
        "beside. Opening the page and signing in are not counted.",
        "",
        f"Measured {meta['date']} on {meta['machine']}, Chromium {meta['chromium']}, "
        f"viewport {VIEWPORT['width']}x{VIEWPORT['height']}, hallboard {meta['version']}.",
        "",
        "| flow | actions | keystrokes | goal | met | steps |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.status == "measured":
            steps = "; ".join(f"{kind} {what}" for kind, what in r.actions)
            met = "yes" if r.met else "**no**"
            lines.append(
                f"| {r.title} | {r.count} | {r.keystrokes} | ≤ {r.goal} | {met} | {steps} |"
            )
        else:
            detail = r.status + (f": {r.error}" if r.error else "")
            lines.append(f"| {r.title} | – | – | ≤ {r.goal} | – | {detail} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", action="store_true", help="write docs/staff-actions.md")
    parser.add_argument("--base-url", help="a running server (default: start one)")
    parser.add_argument("--user", help="with --base-url: a user with every role the flows need")
    parser.add_argument("--password")
    parser.add_argument("--json", default=str(ROOT / "var" / "staff-actions.json"))
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with contextlib.ExitStack() as stack:
        if args.base_url:
            if not (args.user and args.password):
                parser.error("--base-url needs --user and --password")
            base = args.base_url.rstrip("/")
            credentials = {"admin": (args.user, args.password)}
        else:
            base, password, _slug = stack.enter_context(own_server())
            credentials = {
                role: (f"bench-{role}", password)
                for role in ("timetabler", "safety", "office", "admin")
            }
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        results = measure(browser, base, credentials)
        meta = {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
            "chromium": chromium_version(browser),
            "version": _version(),
        }

    text = report(results, meta)
    print(text)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {"meta": meta, "flows": [r.as_json() for r in results]}
    out.write_text(json.dumps(data, indent=2) + "\n")
    if args.docs:
        (ROOT / "docs" / "staff-actions.json").write_text(json.dumps(data, indent=2) + "\n")
        (ROOT / "docs" / "staff-actions.md").write_text(text)
    return 1 if any(r.status == "failed" for r in results) else 0


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("hallboard")
    except Exception:
        return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
