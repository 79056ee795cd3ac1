"""A served replica while its database goes away and comes back (real PostgreSQL, a proxy cut).

``hallboard serve --role all`` talks to the test database through a proxy the
test cuts (the database went away) or holds (a network that swallows
packets). Users and screens must get fast, clear answers meanwhile, and no
write anyone gave up on may commit later.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from hallboard.api.models import ApiKey
from hallboard.timetable.models import Announcement
from tests.conftest import Tenant, make_screen
from tests.dbbackend.proxy import Proxy, end_other_sessions, proxy_to_postgres
from tests.observability.serving import Served, free_port, serve

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL=postgres://...)"
    ),
    pytest.mark.django_db(transaction=True),
]

#: Seconds a client of this test waits for any one answer (requests must end well before).
CLIENT_TIMEOUT = 30.0
#: Seconds allowed for the replica to serve again once the database is back.
RECOVERY = 15.0


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    with proxy_to_postgres(
        connection.settings_dict["HOST"] or "127.0.0.1",
        int(connection.settings_dict["PORT"] or 5432),
    ) as p:
        yield p
    end_other_sessions(connection)


@pytest.fixture
def served(tmp_path: Path, proxy: Proxy) -> Iterator[tuple[Served, int]]:
    gateway_port = free_port()
    url = f"postgres://{connection.settings_dict['USER']}@127.0.0.1:{proxy.port}/{connection.settings_dict['NAME']}"
    with serve(
        tmp_path,
        "--role",
        "all",
        DATABASE_URL=url,
        GATEWAY_PORT=str(gateway_port),
        DATABASE_POOL_TIMEOUT="1",
        DATABASE_CONNECT_TIMEOUT="2",
        DATABASE_STATEMENT_TIMEOUT="2",
        READYZ_TIMEOUT_SECONDS="1",
        WS_METRICS_LOG_INTERVAL="0",
    ) as server:
        server.wait_until_up()
        yield server, gateway_port


def call(
    server: Served, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Message, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - loopback
        server.base + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT) as response:  # noqa: S310
            return int(response.status), response.headers, response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.headers, error.read()


def recovered(server: Served, path: str, headers: dict[str, str]) -> int:
    deadline = time.monotonic() + RECOVERY
    status = 0
    while time.monotonic() < deadline:
        status = call(server, "GET", path, headers=headers)[0]
        if status == 200:
            break
        time.sleep(0.2)
    return status


def socket_close_code(port: int, token: str) -> int | None:
    try:
        with connect(
            f"ws://127.0.0.1:{port}/ws/display/?token={token}&dk=device-0002",
            open_timeout=CLIENT_TIMEOUT,
        ) as ws:
            ws.recv(timeout=CLIENT_TIMEOUT)
            ws.recv(timeout=CLIENT_TIMEOUT)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    return None


def test_every_endpoint_answers_503_while_the_database_is_away_and_serves_again_after(
    tenant: Tenant, proxy: Proxy, served: tuple[Served, int]
) -> None:
    """Database cut: each API and display endpoint answers 503 database_unavailable (JSON,
    Retry-After), /readyz says the database is failing, a new push socket gets 1013; the
    database back, the same requests are served again within seconds."""
    server, gateway_port = served
    _, key = ApiKey.create(
        name="t", organisation=tenant.organisation, school=tenant.school, role="admin"
    )
    api = {"Authorization": f"Bearer {key}"}
    _, token = make_screen(tenant.school)
    screen = f"token={token}&dk=device-0001"
    assert call(server, "GET", f"/api/display/snapshot/?{screen}")[0] == 200
    assert call(server, "GET", "/api/v1/schools", headers=api)[0] == 200

    proxy.cut()
    requests = [
        ("GET", f"/api/display/snapshot/?{screen}", None, {}),
        ("GET", f"/api/display/status/?token={token}&dk=device-0009", None, {}),
        ("POST", f"/api/display/heartbeat/?{screen}", {"rev": 1, "mode": "poll"}, {}),
        ("POST", f"/api/display/ack/?{screen}", {"alert": 1, "state": "shown"}, {}),
        ("POST", "/api/display/pair/", {"dk": "device-0003"}, {}),
        ("GET", "/api/display/pair/ABCD2345/?secret=x", None, {}),
        ("GET", "/api/v1/schools", None, api),
        ("GET", "/api/v1/schools/alpha/screens", None, api),
        ("POST", "/api/v1/schools/alpha/announcements", {"title": "cut"}, api),
    ]
    for method, path, body, headers in requests:
        status, answer_headers, content = call(server, method, path, body, headers)
        assert status == 503, (method, path, status, content[:200])
        assert answer_headers.get("Content-Type", "").startswith("application/json"), path
        assert json.loads(content)["error"] == "database_unavailable", path
        assert int(answer_headers.get("Retry-After", "0")) > 0, path
    status, _, content = call(server, "GET", "/readyz")
    assert status == 503
    assert json.loads(content)["checks"]["database"]["ok"] is False
    assert socket_close_code(gateway_port, token) == 1013

    proxy.forward()
    assert recovered(server, "/api/v1/schools", api) == 200
    assert call(server, "GET", f"/api/display/snapshot/?{screen}")[0] == 200
    assert call(server, "GET", "/readyz")[0] == 200
    assert not Announcement.objects.filter(title="cut").exists()


def test_a_write_held_by_the_network_is_answered_503_and_never_commits_later(
    tenant: Tenant, proxy: Proxy, served: tuple[Served, int]
) -> None:
    """The network to the database swallows everything: a create is answered 503 (instead
    of hanging), and when the network returns it has not been carried out; the client's
    retry with the same Idempotency-Key creates it once."""
    server, _ = served
    _, key = ApiKey.create(
        name="t", organisation=tenant.organisation, school=tenant.school, role="admin"
    )
    api = {"Authorization": f"Bearer {key}", "Idempotency-Key": "create-held-1"}
    assert call(server, "GET", "/api/v1/schools", headers=api)[0] == 200  # a pooled connection

    proxy.hold()
    try:
        status, _, content = call(
            server, "POST", "/api/v1/schools/alpha/announcements", {"title": "held"}, api
        )
    finally:
        proxy.forward()
    assert status == 503, content[:200]
    assert json.loads(content)["error"] == "database_unavailable"

    assert recovered(server, "/api/v1/schools", api) == 200
    status, _, content = call(
        server, "POST", "/api/v1/schools/alpha/announcements", {"title": "held"}, api
    )
    assert status == 201, content[:200]
    again = call(server, "POST", "/api/v1/schools/alpha/announcements", {"title": "held"}, api)
    assert again[0] == 201
    assert json.loads(again[2]) == json.loads(content)
    assert Announcement.objects.filter(title="held").count() == 1
