"""How long a gateway drains (hallboard.server.drain), checked against Gateway.shutdown itself,
and the kit's stop timeouts checked against it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

from hallboard.realtime.brokers.memory import MemoryBroker
from hallboard.realtime.gateway import server as gateway_server
from hallboard.realtime.gateway.connection import Phase
from hallboard.realtime.gateway.server import Gateway, GatewayOptions
from hallboard.server import drain
from hallboard.server.uvicorn_config import ServeOptions

ROOT = Path(__file__).resolve().parents[2]


class _OpenSocket:
    """A socket that stays open: the drain waits its close timeout out."""

    phase = Phase.OPEN

    def abort(self) -> None:
        pass


async def _simulated_drain(monkeypatch: pytest.MonkeyPatch, sockets: int, jitter: float) -> float:
    """Seconds Gateway.shutdown() waits for ``sockets`` open sockets, with the jitter factor
    fixed to ``jitter``: its sleeps are counted, not slept."""
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    gateway = Gateway(MemoryBroker(), GatewayOptions(port=0), clock=lambda: now[0])
    gateway._sockets = {_OpenSocket() for _ in range(sockets)}  # type: ignore[misc]
    monkeypatch.setattr(gateway, "close", lambda sock, code, reason=None: None)
    monkeypatch.setattr(gateway_server.random, "uniform", lambda low, high: jitter)
    monkeypatch.setattr(gateway_server.asyncio, "sleep", sleep)
    await gateway.shutdown()
    return sum(slept)


@pytest.mark.parametrize("sockets", [1, 500, 501, 10_000])
async def test_the_longest_drain_is_what_shutdown_waits_at_most(
    monkeypatch: pytest.MonkeyPatch, sockets: int
) -> None:
    """With the largest jitter and clients that never close, shutdown waits exactly the
    longest drain (to the resolution of its closing-handshake poll)."""
    waited = await _simulated_drain(monkeypatch, sockets, max(gateway_server.DRAIN_JITTER))
    assert waited == pytest.approx(drain.longest_drain_seconds(sockets), abs=0.03)


async def test_the_expected_drain_is_the_pauses_at_the_mean_jitter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At the mean jitter, the pauses between batches add up to the expected drain."""
    mean = sum(gateway_server.DRAIN_JITTER) / 2
    waited = await _simulated_drain(monkeypatch, 10_000, mean)
    close_wait = GatewayOptions().close_timeout
    assert waited - close_wait == pytest.approx(drain.expected_drain_seconds(10_000), abs=0.03)


def test_docs_show_the_generated_drain_table() -> None:
    """docs/deploy.md's drain table is drain.markdown_table() (tools/deploy_docs.py)."""
    assert drain.markdown_table() in (ROOT / "docs/deploy.md").read_text()


def _longest_stop() -> float:
    """What a clean stop may take: the longest gateway drain at WS_MAX_CONNECTIONS, or the
    web role's graceful timeout, whichever is longer."""
    return max(
        drain.longest_drain_seconds(settings.WS_MAX_CONNECTIONS),
        ServeOptions().graceful_timeout,
    )


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)", value)
    assert match, value
    return float(match.group(1)) * (60 if match.group(2) == "min" else 1)


def test_compose_waits_longer_than_a_drain_before_killing() -> None:
    """Every hallboard service's stop_grace_period exceeds the longest clean stop."""
    compose: dict[str, Any] = yaml.safe_load((ROOT / "deploy/compose.yaml").read_text())
    for name in ("web-1", "web-2", "gateway-1", "gateway-2"):
        grace = _seconds(compose["services"][name]["stop_grace_period"])
        assert grace > _longest_stop(), name


def test_systemd_waits_longer_than_a_drain_before_killing() -> None:
    """The web and gateway units' TimeoutStopSec exceeds the longest clean stop."""
    for unit in ("hallboard-web@.service", "hallboard-gateway@.service"):
        text = (ROOT / "deploy/systemd" / unit).read_text()
        timeout = re.search(r"^TimeoutStopSec=(\S+)$", text, re.M)
        assert timeout is not None, unit
        assert _seconds(timeout.group(1)) > _longest_stop(), unit
