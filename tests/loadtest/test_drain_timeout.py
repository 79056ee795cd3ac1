"""When the load test stops the gateway processes it spawned, their supervisor lets them
drain for a time that grows with the screens held (``--drain-timeout`` on both commands),
and the load test itself waits longer than that before it kills anything."""

from __future__ import annotations

import socket

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from hallboard.loadtest import server as servers
from hallboard.realtime.gateway.options import GatewayOptions
from hallboard.server import drain, processes
from hallboard.server.management.commands import serve


def test_the_drain_bound_grows_with_the_screens_held() -> None:
    """More screens on the same processes: a longer bound, never shorter than one process's
    longest drain; at 50,000 screens on 3 processes it is above the supervisor's default for
    19,000 per process (which killed the gateways before they had drained)."""
    small, large = servers.drain_timeout_for(1_000, 3), servers.drain_timeout_for(50_000, 3)
    assert small < large
    assert large >= drain.longest_drain_seconds(16_667) + 50_000 * servers.CLOSE_WORK_SECONDS
    assert large > serve.default_drain_timeout(GatewayOptions(max_connections=19_000))


def test_the_supervisor_is_given_the_drain_timeout_and_the_stop_waits_longer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``gateway_processes(drain_timeout=150)`` passes ``--drain-timeout 150`` to ``serve``;
    ``stop()`` waits 150 s plus its margin for the supervisor before killing it."""
    gateways = servers.gateway_processes(8123, 3, drain_timeout=150.0)
    at = gateways.argv.index("--drain-timeout")
    assert gateways.argv[at + 1] == "150"
    waited: list[float] = []

    class Process:
        pid = 1

        def poll(self) -> None:
            return None

        def terminate(self) -> None:
            pass

        def wait(self, timeout: float | None = None) -> int:
            waited.append(timeout if timeout is not None else -1.0)
            return 0

    gateways.process = Process()  # type: ignore[assignment]
    monkeypatch.setattr(gateways, "pids", lambda: [])
    gateways.stop()
    assert waited == [150.0 + servers.STOP_MARGIN]


@pytest.mark.parametrize(("given", "expected"), [(["--drain-timeout", "75"], 75.0), ([], None)])
def test_serve_hands_its_drain_timeout_to_the_supervisor(
    db: None, monkeypatch: pytest.MonkeyPatch, given: list[str], expected: float | None
) -> None:
    """``serve --processes N --drain-timeout S``: the supervisor kills its gateways after S
    seconds of draining; without it, after the default (the longest drain at
    WS_MAX_CONNECTIONS plus 10 s)."""
    made: list[float] = []
    # serve --gateway-port 0 picks a port and sets it (setting and environment): undone after.
    monkeypatch.setattr(django_settings, "GATEWAY_PORT", django_settings.GATEWAY_PORT)
    monkeypatch.setenv("GATEWAY_PORT", str(django_settings.GATEWAY_PORT))

    handed: list[list[tuple[int, int]]] = []

    class Supervisor:
        def __init__(
            self,
            argv: list[str],
            count: int,
            *,
            drain_timeout: float,
            listeners: list[socket.socket],
        ) -> None:
            made.append(drain_timeout)
            # One listening socket per process, all on the port the children are told.
            handed.append(
                [
                    (s.getsockname()[1], s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
                    for s in listeners
                ]
            )
            port = int(argv[argv.index("--gateway-port") + 1])
            assert handed[-1] == [(port, 1)] * count

        def run(self) -> int:
            return 0

    monkeypatch.setattr(processes, "Supervisor", Supervisor)
    call_command("serve", "--role", "gateway", "--processes", "2", "--gateway-port", "0", *given)
    default = serve.default_drain_timeout(serve.gateway_options("127.0.0.1"))
    assert made == [expected if expected is not None else default]
    assert len(handed) == 1
