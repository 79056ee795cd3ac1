"""The deployment kit, run: deploy/compose.yaml's services as local processes behind nginx.

No container daemon: ``localcompose`` starts what each service's container would
run (a throwaway PostgreSQL cluster, Redis, two web replicas, two gateways and
Debian's nginx with the kit's files), in compose's order. Then, through nginx's
one port, as a display and an admin would: the display page loads, screens get
``hello`` over ``/ws/``, an edit reaches screens on both gateways, ``/readyz``
is green, a killed gateway is survived, a rolling restart of every hallboard
process loses no edit, a restored backup reaches every screen. The kit's
single-server nginx site is served over TLS against the same processes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect

from tests.deploy.localcompose import (
    DEPLOY,
    ENV_EXAMPLE,
    LocalCompose,
    free_port,
    postgres_bindir,
    read_env_file,
)

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def _postgres_usable() -> bool:
    if postgres_bindir() is None:
        return False
    if os.geteuid() != 0:
        return True
    import pwd

    try:
        pwd.getpwnam("postgres")  # initdb refuses root: the cluster runs as postgres
    except KeyError:
        return False
    return True


pytestmark = [
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it)"),
    pytest.mark.skipif(
        not _postgres_usable(), reason="no PostgreSQL server programs (initdb) to run the db"
    ),
    pytest.mark.skipif(
        "DATABASE_URL" in os.environ,
        reason="brings its own PostgreSQL: runs once, in the SQLite pass",
    ),
]

SCHOOL = "lindenhof"
SCREENS = 6


@dataclass
class Stack:
    compose: LocalCompose
    base: str  # http://127.0.0.1:<nginx port>
    api_key: str
    #: The screens the displays below run.
    tokens: list[str]
    #: Screens of their own for the page check and the TLS check (a screen binds one device).
    spare: list[str] = field(default_factory=list)
    #: Every edit made through the API (announcement titles), in order.
    edits: list[str] = field(default_factory=list)

    def hallboard(self, *args: str, service: str = "web-1") -> str:
        """``docker compose exec <service> hallboard …``: the service's command line and env."""
        c = self.compose
        target = c.services[service]
        result = subprocess.run(  # noqa: S603 - the kit's own command
            [c.command(target)[0], *args],
            env=c.environment(target),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def revision(self) -> int:
        return int(
            self.compose.psql(f"SELECT revision FROM schools_school WHERE slug = '{SCHOOL}'")  # noqa: S608
        )

    def edit(self, title: str) -> httpx.Response:
        """An announcement, as an admin's tool posts it through the public port."""
        response = httpx.post(
            f"{self.base}/api/v1/schools/{SCHOOL}/announcements",
            json={"title": title},
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=30,
        )
        if response.status_code == 201:
            self.edits.append(title)
        return response

    def metrics_token(self) -> str:
        return (Path(self.compose.path("/var/lib/hallboard/secrets")) / "metrics_token").read_text()

    def open_displays(self, gateway: str) -> float:
        """Display sockets a gateway holds, from its own /metrics (by its address)."""
        port = self.compose.port(gateway)
        response = httpx.get(
            f"http://127.0.0.1:{port}/metrics",
            headers={"Authorization": f"Bearer {self.metrics_token()}"},
            timeout=5,
        )
        response.raise_for_status()
        match = re.search(
            r'^hallboard_gateway_connections\{kind="display",state="open"\} (\S+)$',
            response.text,
            re.M,
        )
        return float(match.group(1)) if match else 0.0


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting: {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    assert NGINX is not None
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    run_dir = Path(tempfile.mkdtemp(prefix="hallboard-kit-"))
    port = free_port()
    # deploy/env.example as the operator copies it, with this run's public port.
    env = {
        **read_env_file(ENV_EXAMPLE),
        "HALLBOARD_HTTP_PORT": str(port),
        "HALLBOARD_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    compose = LocalCompose(run_dir, env, NGINX)
    try:
        with compose.running():
            base = f"http://127.0.0.1:{port}"
            stack = Stack(compose, base, api_key="", tokens=[])
            demo = json.loads(stack.hallboard("seed-demo", "--json"))
            school = next(s for s in demo["schools"] if s["slug"] == SCHOOL)
            stack.api_key = school["api_key"]
            for n in range(SCREENS + 2):  # as an admin's tool makes them, through nginx
                made = httpx.post(
                    f"{base}/api/v1/schools/{SCHOOL}/screens",
                    json={"name": f"Kit {n}"},
                    headers={"Authorization": f"Bearer {stack.api_key}"},
                    timeout=30,
                )
                assert made.status_code == 201, made.text
                assert made.json()["display_url"].startswith(f"{base}/display/?token=")
                (stack.tokens if n < SCREENS else stack.spare).append(made.json()["token"])
            yield stack
    finally:
        if not os.environ.get("HALLBOARD_KIT_KEEP"):  # set it to look at the logs afterwards
            shutil.rmtree(run_dir, ignore_errors=True)


# --- screens, as display.js behaves ----------------------------------------------------


class Display:
    """A screen: push socket through nginx, snapshot whenever told of a newer revision."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token
        self.dk = f"kit-{secrets.token_hex(8)}"
        self.shown_rev = 0
        self.titles: frozenset[str] = frozenset()
        self.hellos = 0
        self.connected = False
        self.close_codes: collections.Counter[int | None] = collections.Counter()

    async def run(self, stop: asyncio.Event, http: httpx.AsyncClient) -> None:
        ws = self.base.replace("http://", "ws://", 1)
        url = f"{ws}/ws/display/?token={self.token}&dk={self.dk}"
        while not stop.is_set():
            code = None
            try:
                async with connect(url, open_timeout=5, close_timeout=2) as socket:
                    try:
                        async for raw in socket:
                            message = json.loads(raw)
                            if message["type"] == "hello":
                                self.hellos += 1
                                self.connected = True
                            newer = message.get("rev", 0) > self.shown_rev
                            if message["type"] in ("hello", "invalidate") and newer:
                                await self.fetch(http)
                    finally:
                        code = socket.close_code
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException):
                pass
            self.connected = False
            self.close_codes[code] += 1
            await asyncio.sleep(0.3)

    async def fetch(self, http: httpx.AsyncClient) -> None:
        url = f"{self.base}/api/display/snapshot/"
        for _ in range(60):
            try:
                response = await http.get(url, params={"token": self.token, "dk": self.dk})
            except httpx.HTTPError:
                await asyncio.sleep(0.5)
                continue
            if response.status_code == 200:
                snapshot = response.json()
                self.shown_rev = snapshot["meta"]["rev"]
                self.titles = frozenset(a["title"] for a in snapshot["announcements"])
                return
            await asyncio.sleep(float(response.headers.get("Retry-After", "0.5")))


class Displays:
    """Screens running in a thread of their own, like the hallway does."""

    def __init__(self, stack: Stack) -> None:
        self.screens = [Display(stack.base, token) for token in stack.tokens]
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._run())
        self._loop.close()

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        async with httpx.AsyncClient(timeout=10) as http:
            running = [asyncio.ensure_future(s.run(self._stop, http)) for s in self.screens]
            # A screen stays on its socket until the server closes it: at the end of the
            # module, stop them (the sockets close) rather than wait for the join's timeout.
            await self._stop.wait()
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def __enter__(self) -> Displays:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def all_connected(self) -> bool:
        return all(s.connected for s in self.screens)

    def current(self, revision: int, title: str | None = None) -> bool:
        """Every screen shows ``revision`` (and ``title`` among its announcements)."""
        return all(
            s.shown_rev == revision and (title is None or title in s.titles) for s in self.screens
        )


@pytest.fixture(scope="module")
def displays(stack: Stack) -> Iterator[Displays]:
    with Displays(stack) as running:
        wait_until(running.all_connected, "every screen connected through nginx")
        yield running


def converged(stack: Stack, displays: Displays, title: str | None, what: str) -> None:
    wait_until(
        lambda: displays.current(stack.revision(), title),
        f"{what}: every screen current (revision {stack.revision()}; shown "
        f"{sorted(s.shown_rev for s in displays.screens)})",
    )


# --- the checks --------------------------------------------------------------------------


def test_two_replicas_starting_together_migrate_once(stack: Stack) -> None:
    """web-1 and web-2 start at the same moment with --migrate: each migration is applied
    once, by one of them, and the other finds nothing left (it waited for the lock)."""
    logs = [stack.compose.services[name].log() for name in ("web-1", "web-2")]
    applied = collections.Counter(
        name for log in logs for name in re.findall(r"Applying (\S+)\.\.\.", log)
    )
    assert applied, logs
    assert set(applied.values()) == {1}, applied
    recorded = int(stack.compose.psql("SELECT count(*) FROM django_migrations"))
    assert sum(applied.values()) == recorded
    assert sum("Applying" in log for log in logs) == 1  # all by one replica
    assert all(stack.compose.services[name].process.poll() is None for name in ("web-1", "web-2"))


def test_the_display_page_and_its_files_load_through_nginx(stack: Stack) -> None:
    """The display page, its script, and a snapshot telling the screen to push through /ws/
    on the same public address."""
    token = stack.spare[0]
    page = httpx.get(f"{stack.base}/display/", params={"token": token}, timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    script = re.search(r'src="([^"]+\.js)"', page.text)
    assert script is not None, page.text[:500]
    assert httpx.get(f"{stack.base}{script.group(1)}", timeout=10).status_code == 200
    snapshot = httpx.get(
        f"{stack.base}/api/display/snapshot/",
        params={"token": token, "dk": "kit-page-check"},
        timeout=10,
    )
    assert snapshot.status_code == 200
    ws = stack.base.replace("http://", "ws://", 1)
    assert snapshot.json()["meta"]["ws_url"] == f"{ws}/ws/display/"


def test_readyz_is_green_through_nginx(stack: Stack) -> None:
    """/readyz through the public port: database and Redis answer."""
    response = httpx.get(f"{stack.base}/readyz", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"


def test_an_edit_reaches_screens_on_both_gateways(stack: Stack, displays: Displays) -> None:
    """Screens connected through nginx sit on both gateways; an edit through the API
    reaches every one of them."""
    assert all(s.hellos >= 1 for s in displays.screens)
    wait_until(
        lambda: stack.open_displays("gateway-1") + stack.open_displays("gateway-2") == SCREENS,
        "every socket counted by a gateway",
    )
    assert stack.open_displays("gateway-1") >= 1
    assert stack.open_displays("gateway-2") >= 1
    assert stack.edit("Through nginx").status_code == 201
    converged(stack, displays, "Through nginx", "after an edit")


def test_a_killed_gateway_is_survived(stack: Stack, displays: Displays) -> None:
    """gateway-1 dies (SIGKILL); its screens reconnect through nginx to gateway-2 and are
    current, including an edit made while they were away."""
    before = displays.screens[0].hellos + sum(s.hellos for s in displays.screens[1:])
    stack.compose.stop_service("gateway-1", signal.SIGKILL)
    assert stack.edit("While a gateway was down").status_code == 201
    wait_until(lambda: stack.open_displays("gateway-2") == SCREENS, "every screen on gateway-2")
    assert sum(s.hellos for s in displays.screens) > before
    converged(stack, displays, "While a gateway was down", "after the gateway died")
    # Compose's restart policy brings it back.
    stack.compose.start_service("gateway-1")
    stack.compose.wait_healthy("gateway-1")


def rolling_restart(stack: Stack, services: tuple[str, ...]) -> dict[str, int]:
    """docs/deploy.md's rolling restart: one service at a time; the next one only when the
    last is healthy again and nginx's fail_timeout has passed (it may still skip the
    restarted one until then). Returns each one's exit code."""
    upstreams = (DEPLOY / "nginx/compose.conf").read_text()
    fail_timeout = max(float(t) for t in re.findall(r"fail_timeout=(\d+)s", upstreams))
    exits = {}
    for name in services:
        exits[name] = stack.compose.restart_service(name)
        time.sleep(fail_timeout + 1)  # docs/deploy.md: `sleep 3` after a fail_timeout of 2 s
    return exits


def test_a_rolling_restart_of_every_process_loses_no_edit(stack: Stack, displays: Displays) -> None:
    """Each web replica and gateway in turn gets SIGTERM (and exits 0 after draining) and
    comes back healthy, while an admin keeps editing: every edit is accepted and stored,
    the gateways' screens are moved with 1001, and every screen ends current."""
    results: list[int] = []
    done = threading.Event()

    def admin() -> None:
        n = 0
        while not done.is_set():
            results.append(stack.edit(f"Rolling edit {n}").status_code)
            n += 1
            time.sleep(0.1)

    drained_before = sum(s.close_codes[1001] for s in displays.screens)
    editor = threading.Thread(target=admin)
    editor.start()
    try:
        exits = rolling_restart(stack, ("web-1", "web-2", "gateway-1", "gateway-2"))
    finally:
        done.set()
        editor.join(timeout=60)
    # Each stopped by itself, within its grace; a killed one's log ends with its stacks.
    assert exits == dict.fromkeys(exits, 0), (
        exits,
        {name: stack.compose.services[name].log()[-6000:] for name, code in exits.items() if code},
    )
    assert results
    assert set(results) == {201}, (collections.Counter(results), _proxy_errors(stack))
    stored = httpx.get(
        f"{stack.base}/api/v1/schools/{SCHOOL}/announcements",
        headers={"Authorization": f"Bearer {stack.api_key}"},
        timeout=10,
    ).json()
    titles = {a["title"] for a in stored}
    assert {f"Rolling edit {n}" for n in range(len(results))} <= titles
    assert sum(s.close_codes[1001] for s in displays.screens) > drained_before
    converged(stack, displays, f"Rolling edit {len(results) - 1}", "after the rolling restart")


def test_a_restored_backup_reaches_every_screen(stack: Stack, displays: Displays) -> None:
    """docs/deploy.md's backup and restore: pg_dump, an edit after it (lost by the restore),
    hallboard stopped, the database dropped and restored, hallboard started, after-restore:
    every screen shows the restored content at a newer revision."""
    dump = Path(stack.compose.dir) / "hallboard.dump"
    stack.compose.pg_tool(
        "pg_dump", "--username=hallboard", "--format=custom", f"--file={dump}", "hallboard"
    )
    assert stack.edit("After the backup").status_code == 201
    converged(stack, displays, "After the backup", "before the restore")
    shown_before = max(s.shown_rev for s in displays.screens)

    app = ("web-1", "web-2", "gateway-1", "gateway-2")
    for name in app:
        assert stack.compose.stop_service(name) == 0
    stack.compose.pg_tool("dropdb", "--username=hallboard", "hallboard")
    stack.compose.pg_tool("createdb", "--username=hallboard", "hallboard")
    stack.compose.pg_tool(
        "pg_restore", "--username=hallboard", "--dbname=hallboard", "--no-owner", str(dump)
    )
    for name in app:
        stack.compose.start_service(name)
    for name in app:
        stack.compose.wait_healthy(name)
    assert "After the backup" not in _stored_titles(stack)
    stack.hallboard("after-restore")

    assert stack.revision() > shown_before
    wait_until(
        lambda: (
            displays.current(stack.revision())
            and all("After the backup" not in s.titles for s in displays.screens)
        ),
        "every screen shows the restored content",
    )
    assert all("Through nginx" in s.titles for s in displays.screens)


def _proxy_errors(stack: Stack) -> list[str]:
    """nginx's error lines (why a request failed), for assertion messages."""
    log = stack.compose.services["nginx"].log()
    return [line for line in log.splitlines() if "[error]" in line or "[crit]" in line][-20:]


def _stored_titles(stack: Stack) -> set[str]:
    response = httpx.get(
        f"{stack.base}/api/v1/schools/{SCHOOL}/announcements",
        headers={"Authorization": f"Bearer {stack.api_key}"},
        timeout=10,
    )
    response.raise_for_status()
    return {a["title"] for a in response.json()}


# --- the single-server site (deploy/nginx/hallboard.conf) ------------------------------


@contextlib.contextmanager
def debian_site(stack: Stack) -> Iterator[tuple[int, int]]:
    """nginx with the kit's Debian site file, in front of this run's replicas over TLS.

    Rewritten for this run only: its ports (80/443, and the systemd units' replica ports
    to the running replicas'), its paths (certificate, includes, logs).
    """
    assert NGINX is not None
    c = stack.compose
    prefix = Path(c.dir) / "site"
    (prefix / "conf").mkdir(parents=True, exist_ok=True)
    key, cert = prefix / "key.pem", prefix / "cert.pem"
    subprocess.run(  # noqa: S603
        [
            shutil.which("openssl") or "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=displays.example.org",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    http_port, https_port = free_port(), free_port()
    replicas = {
        "8010": c.port("web-1"),
        "8011": c.port("web-2"),
        "8020": c.port("gateway-1"),
        "8021": c.port("gateway-2"),
    }
    site = (DEPLOY / "nginx/hallboard.conf").read_text()
    site = re.sub(r"127\.0\.0\.1:(80[12]\d)\b", lambda m: f"127.0.0.1:{replicas[m.group(1)]}", site)
    site = re.sub(r"(?m)^\s*listen \[::\]:\d+.*$", "", site)  # no IPv6 needed on loopback
    site = re.sub(r"(?m)^(\s*listen )80;", rf"\g<1>127.0.0.1:{http_port};", site)
    site = re.sub(r"(?m)^(\s*listen )443 ssl;", rf"\g<1>127.0.0.1:{https_port} ssl;", site)
    site = re.sub(r"ssl_certificate /\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key /\S+;", f"ssl_certificate_key {key};", site)
    site = site.replace("/etc/nginx/hallboard/locations.conf", str(DEPLOY / "nginx/locations.conf"))
    site = site.replace("/var/log/nginx/", f"{prefix}/")
    (prefix / "conf/site.conf").write_text(site)
    (prefix / "conf/nginx.conf").write_text(
        f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\nevents {{}}\n"
        f"http {{\n include /etc/nginx/mime.types;\n include {prefix}/conf/site.conf;\n}}\n"
    )
    argv = [
        NGINX,
        "-p",
        str(prefix),
        "-e",
        str(prefix / "error.log"),
        "-c",
        str(prefix / "conf/nginx.conf"),
        "-g",
        "daemon off;",
    ]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    try:
        wait_until(lambda: _listening(https_port), "the site's nginx listening", timeout=20)
        yield http_port, https_port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_single_server_site_serves_displays_over_tls(stack: Stack) -> None:
    """deploy/nginx/hallboard.conf: HTTP redirects to HTTPS; over TLS the display page
    loads, the snapshot sends the screen to wss:// on the same site, and a screen gets
    hello through it."""
    token = stack.spare[1]
    with debian_site(stack) as (http_port, https_port):
        redirect = httpx.get(f"http://127.0.0.1:{http_port}/display/", timeout=10)
        assert redirect.status_code == 301
        assert redirect.headers["location"].startswith("https://")
        base = f"https://127.0.0.1:{https_port}"
        with httpx.Client(verify=False, timeout=10) as client:  # noqa: S501 - self-signed, loopback
            assert client.get(f"{base}/display/", params={"token": token}).status_code == 200
            meta = client.get(
                f"{base}/api/display/snapshot/", params={"token": token, "dk": "kit-tls-check"}
            ).json()["meta"]
        assert meta["ws_url"] == f"wss://127.0.0.1:{https_port}/ws/display/"
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE

        async def hello() -> dict[str, Any]:
            url = f"{meta['ws_url']}?token={token}&dk=kit-tls-check"
            async with connect(url, ssl=context, open_timeout=10) as socket:
                return dict(json.loads(await asyncio.wait_for(socket.recv(), 10)))

        assert asyncio.run(hello())["type"] == "hello"
