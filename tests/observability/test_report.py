"""The deployment's figures in one document: this process and the gateway fleet added up,
the window judged for health (observability.report).

The summary line built from the document is tested in test_summary.py, a real fleet over
Redis in test_fleet.py; here the collection and the document themselves, their sources
replaced by fixed figures and an injected clock.
"""

from __future__ import annotations

from typing import Any

import pytest

from hallboard.observability import figures as fig
from hallboard.observability import fleet, report

ME = "web-1:100"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch, settings: Any) -> dict[str, float]:
    """This process's figures (mutable), a fresh history on a fake clock, no Redis."""
    figures: dict[str, float] = {}
    clock = Clock()
    monkeypatch.setattr(report, "LOCAL_HISTORY", fig.History(300.0, clock=clock))
    monkeypatch.setattr(fig, "read", lambda _registry: dict(figures))
    monkeypatch.setattr(fleet, "process_id", lambda: ME)
    settings.REDIS_URL = ""
    return figures


def gateway_report(gid: str, ts: float, **figures: float) -> fleet.Report:
    return fleet.Report(gid, ts, 0.0, dict(figures), dict(figures), 300.0)


def test_a_web_process_without_gateway_lists_no_gateway(local: dict[str, float]) -> None:
    """Only publish figures (no gateway runs here): no gateway, fleet says no Redis."""
    local.update({"published.invalidate": 3.0})
    snapshot = report.collect(now=2000.0)
    assert snapshot.gateways == []
    assert snapshot.fleet == {"redis": False}
    assert snapshot.lifetime == {"published.invalidate": 3.0}


def test_this_processs_gateway_is_one_local_source(local: dict[str, float]) -> None:
    """A gateway in this process (it sets its broker state) is listed as 'local', with only
    its gateway figures."""
    local.update(
        {"broker_connected.memory": 1.0, "published.invalidate": 3.0, "accepted.display": 5.0}
    )
    snapshot = report.collect(now=2000.0)
    [source] = snapshot.gateways
    assert (source.id, source.origin, source.age_s) == (ME, "local", 0.0)
    assert source.figures == {"broker_connected.memory": 1.0, "accepted.display": 5.0}


def test_fleet_reports_are_added_and_this_processs_own_report_skipped(
    local: dict[str, float], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """With Redis, other gateways' reports are summed in; the report this process sent is
    not counted twice; each fleet source carries its age."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    local.update({"broker_connected.memory": 1.0, "accepted.display": 5.0})
    reports = [
        gateway_report(ME, 1995.0, **{"accepted.display": 5.0}),
        gateway_report(
            "gw-2:7", 1998.0, **{"accepted.display": 7.0, "broker_connected.redis": 1.0}
        ),
    ]
    monkeypatch.setattr(fleet, "read", lambda url, now: reports)
    snapshot = report.collect(now=2000.0)
    assert snapshot.lifetime["accepted.display"] == 12.0
    assert [(s.id, s.origin, s.age_s) for s in snapshot.gateways] == [
        (ME, "local", 0.0),
        ("gw-2:7", "fleet", 2.0),
    ]
    assert snapshot.fleet == {"redis": True, "reporting": 1}


def test_redis_down_answers_with_what_this_process_knows(
    local: dict[str, float], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """Redis unreachable: the local figures, the error named in fleet and in the verdict."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    local.update({"accepted.display": 4.0})

    def down(url: str, now: float) -> list[fleet.Report]:
        raise ConnectionError("refused")

    monkeypatch.setattr(fleet, "read", down)
    snapshot = report.collect(now=2000.0)
    assert snapshot.lifetime == {"accepted.display": 4.0}
    assert snapshot.fleet == {
        "redis": True,
        "reporting": 0,
        "error": "Redis unreachable (ConnectionError)",
    }
    assert snapshot.verdict.status != "ok"
    assert any("Redis unreachable" in r.detail for r in snapshot.verdict.reasons)


def test_a_disconnected_broker_is_named_with_its_gateway(local: dict[str, float]) -> None:
    """A gateway reporting its broker down makes the verdict name 'broker on gateway'."""
    local.update({"broker_connected.redis": 0.0})
    snapshot = report.collect(now=2000.0)
    assert snapshot.verdict.status != "ok"
    assert any(f"redis on {ME}" in r.detail for r in snapshot.verdict.reasons)


def test_the_window_is_the_increase_since_the_previous_collection(local: dict[str, float]) -> None:
    """The first collection's window is the lifetime (no length); later ones the increase
    over the seconds since."""
    local.update({"accepted.display": 10.0})
    first = report.collect(now=2000.0)
    assert first.window_s is None
    assert first.window == {"accepted.display": 10.0}
    local["accepted.display"] = 25.0
    clock = report.LOCAL_HISTORY.clock
    assert isinstance(clock, Clock)
    clock.now += 60.0
    second = report.collect(now=2060.0)
    assert second.window_s == 60.0
    assert second.window == {"accepted.display": 15.0}
    assert second.lifetime == {"accepted.display": 25.0}


FIGURES = {
    "connections.display.open": 30.0,
    "connections.display.authenticating": 2.0,
    "connections.staff.open": 1.0,
    "accepted.display": 40.0,
    "refused.4401": 3.0,
    "refused.1013": 4.0,
    "closed.1000": 6.0,
    "delivered.invalidate": 300.0,
    "failed.invalidate": 2.0,
    "slow_client_disconnects": 1.0,
    "push_latency.sum": 0.5,
    "push_latency.count": 100.0,
    "broker_connected.redis": 1.0,
    "published.invalidate": 12.0,
    "publish_failed.invalidate": 1.0,
}


def test_the_document_starts_with_the_seeds_fields() -> None:
    """The seed's fields keep their meaning: open sockets, accepted, refused by auth codes,
    broadcasts published and failed, and the average push latency in ms."""
    doc = report.document(report.Snapshot(FIGURES, {}, None))
    assert list(doc)[:6] == [
        "connections_active",
        "connections_total",
        "connections_failed",
        "broadcasts_sent",
        "broadcasts_failed",
        "broadcast_latency_avg_ms",
    ]
    assert (
        doc["connections_active"],
        doc["connections_total"],
        doc["connections_failed"],
        doc["broadcasts_sent"],
        doc["broadcasts_failed"],
        doc["broadcast_latency_avg_ms"],
    ) == (31, 40, 3, 12, 1, 5.0)
    assert doc["health"] == "ok"
    assert doc["window"]["seconds"] is None


def test_the_document_details_each_labelled_figure() -> None:
    """Connections by kind and state, refusals and closes by code, messages by type."""
    doc = report.document(report.Snapshot(FIGURES, FIGURES, 299.96))
    assert doc["connections"] == {
        "display": {"open": 30, "authenticating": 2},
        "staff": {"open": 1},
    }
    assert doc["refused"] == {"1013": 4, "4401": 3}
    assert doc["closed"] == {"1000": 6}
    assert doc["messages_delivered"] == {"invalidate": 300}
    assert doc["messages_failed"] == {"invalidate": 2}
    assert doc["slow_client_disconnects"] == 1
    assert doc["published"] == {"invalidate": 12}
    assert doc["publish_failed"] == {"invalidate": 1}
    assert doc["window"]["seconds"] == 300.0


def test_each_gateway_is_listed_with_its_own_figures() -> None:
    """Per gateway: id, source, age, its seed fields, deliveries and broker states."""
    source = report.Source("gw-2:7", "fleet", FIGURES, 2.5)
    doc = report.document(report.Snapshot(FIGURES, {}, None, [source], {"redis": True}))
    [gateway] = doc["gateways"]
    assert gateway["id"] == "gw-2:7"
    assert gateway["source"] == "fleet"
    assert gateway["age_s"] == 2.5
    assert gateway["connections_active"] == 31
    assert (gateway["delivered"], gateway["failed"]) == (300, 2)
    assert gateway["broker"] == {"redis": True}
    assert doc["fleet"] == {"redis": True}
