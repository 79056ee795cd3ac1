"""The health verdict: each of the seed's rules, its edges, and hallboard's additions."""

from __future__ import annotations

from hallboard.observability.health import Totals, brokers_down, verdict


def rules(lifetime: Totals, window: Totals | None = None, **kwargs: object) -> dict[str, str]:
    result = verdict(lifetime, window if window is not None else lifetime, **kwargs)  # type: ignore[arg-type]
    return {reason.rule: reason.status for reason in result.reasons}


HEALTHY = Totals(connections_active=40, connections_accepted=40)


def test_nothing_happened_is_ok() -> None:
    """A fresh process with no figures at all is ok, with no reasons."""
    result = verdict(Totals(), Totals())
    assert (result.status, result.reasons) == ("ok", ())


def test_refusals_over_ten_percent_are_critical() -> None:
    """More than 10 % of the window's attempts refused with 4400/4401/4403 is critical."""
    window = Totals(connections_active=40, connections_accepted=89, connections_failed=11)
    result = verdict(HEALTHY, window, window_s=300)
    assert result.status == "critical"
    assert rules(HEALTHY, window) == {"refusals": "critical"}
    assert "11 of 100 connection attempts in the last 300 s" in result.reasons[0].detail


def test_refusals_at_exactly_ten_percent_are_ok() -> None:
    """Exactly 10 % is not over the threshold."""
    window = Totals(connections_active=40, connections_accepted=90, connections_failed=10)
    assert verdict(HEALTHY, window).status == "ok"


def test_refusal_rate_counts_refusals_in_the_denominator() -> None:
    """The rate is refused / (accepted + refused): 3 refused of 20 attempts is 15 %."""
    window = Totals(connections_active=40, connections_accepted=17, connections_failed=3)
    assert rules(HEALTHY, window) == {"refusals": "critical"}


def test_refusal_rate_needs_ten_attempts() -> None:
    """Under 10 attempts no rate is judged (one bad URL is no outage); at 10 it is."""
    nine = Totals(connections_active=40, connections_accepted=0, connections_failed=9)
    ten = Totals(connections_active=40, connections_accepted=0, connections_failed=10)
    assert verdict(HEALTHY, nine).status == "ok"
    assert verdict(HEALTHY, ten).status == "critical"


def test_past_refusals_outside_the_window_do_not_count() -> None:
    """Many refusals since start but none in the window: ok (a past incident heals)."""
    lifetime = Totals(connections_active=40, connections_accepted=100, connections_failed=900)
    window = Totals(connections_active=40, connections_accepted=5, connections_failed=0)
    assert verdict(lifetime, window).status == "ok"


def test_all_connections_dropped_is_a_warning() -> None:
    """No socket open while more than 10 were accepted since start is a warning."""
    dropped = Totals(connections_active=0, connections_accepted=11)
    result = verdict(dropped, Totals())
    assert result.status == "warning"
    assert rules(dropped, Totals()) == {"all_dropped": "warning"}
    assert "11 accepted since start" in result.reasons[0].detail


def test_all_dropped_needs_more_than_ten_accepted() -> None:
    """Ten accepted and none open is still ok; one open socket is ok too."""
    assert verdict(Totals(connections_active=0, connections_accepted=10), Totals()).status == "ok"
    assert verdict(Totals(connections_active=1, connections_accepted=500), Totals()).status == "ok"


def test_publish_failures_over_five_percent_are_a_warning() -> None:
    """More than 5 % of the window's publishes failing is a warning."""
    window = Totals(connections_active=40, broadcasts_sent=94, broadcasts_failed=6)
    assert rules(HEALTHY, window) == {"publish_failures": "warning"}
    assert verdict(HEALTHY, window).status == "warning"


def test_publish_failures_at_exactly_five_percent_are_ok() -> None:
    """Exactly 5 % (5 of 100 publishes) is not over the threshold."""
    window = Totals(connections_active=40, broadcasts_sent=95, broadcasts_failed=5)
    assert verdict(HEALTHY, window).status == "ok"


def test_publish_failure_rate_needs_ten_publishes() -> None:
    """9 failed publishes alone are not judged; 10 are."""
    assert verdict(HEALTHY, Totals(connections_active=40, broadcasts_failed=9)).status == "ok"
    assert verdict(HEALTHY, Totals(connections_active=40, broadcasts_failed=10)).status == "warning"


def test_push_latency_over_100_ms_is_a_warning() -> None:
    """An average push latency over 100 ms in the window is a warning."""
    slow = Totals(connections_active=40, latency_sum_s=1.01, latency_count=10)
    result = verdict(HEALTHY, slow, window_s=120)
    assert rules(HEALTHY, slow) == {"push_latency": "warning"}
    assert "averaged 101 ms in the last 120 s over 10 events" in result.reasons[0].detail


def test_push_latency_of_exactly_100_ms_is_ok() -> None:
    """100 ms on average is not over the threshold; no events means no judgement."""
    exact = Totals(connections_active=40, latency_sum_s=1.0, latency_count=10)
    assert verdict(HEALTHY, exact).status == "ok"
    assert verdict(HEALTHY, Totals(connections_active=40, latency_sum_s=5.0)).status == "ok"


def test_broker_down_is_a_warning() -> None:
    """A gateway reporting its broker disconnected makes the verdict a warning, named."""
    lifetime = Totals(
        connections_active=40, connections_accepted=40, brokers_down=("redis on gw-2",)
    )
    result = verdict(lifetime, lifetime)
    assert rules(lifetime) == {"broker": "warning"}
    assert "redis on gw-2" in result.reasons[0].detail


def test_unreadable_fleet_is_a_warning() -> None:
    """Gateway figures that could not be read from Redis make the verdict a warning."""
    result = verdict(HEALTHY, HEALTHY, fleet_error="Redis unreachable (ConnectionError)")
    assert rules(HEALTHY, fleet_error="x") == {"fleet": "warning"}
    assert "Redis unreachable" in result.reasons[0].detail


def test_worst_rule_decides_and_comes_first() -> None:
    """Critical and warnings together: critical, with every reason listed, worst first."""
    lifetime = Totals(connections_active=0, connections_accepted=50)
    window = Totals(connections_accepted=10, connections_failed=10, broadcasts_failed=20)
    result = verdict(lifetime, window)
    assert result.status == "critical"
    assert [r.rule for r in result.reasons] == ["refusals", "all_dropped", "publish_failures"]


def test_totals_from_figures() -> None:
    """Totals add up the figures: open sockets of every kind, refusals only of 4400/4401/4403."""
    totals = Totals.of(
        {
            "connections.display.open": 7,
            "connections.display.authenticating": 2,
            "connections.staff.open": 1,
            "accepted.display": 30,
            "accepted.staff": 3,
            "refused.4401": 4,
            "refused.4403": 1,
            "refused.4409": 50,
            "refused.1013": 9,
            "published.invalidate": 12,
            "published.alert": 1,
            "publish_failed.invalidate": 2,
            "push_latency.sum": 0.5,
            "push_latency.count": 10,
        }
    )
    assert (totals.connections_active, totals.connections_accepted) == (8, 33)
    assert totals.connections_failed == 5
    assert (totals.broadcasts_sent, totals.broadcasts_failed) == (13, 2)
    assert totals.latency_avg_ms == 50.0


def test_brokers_down_of_one_gateway() -> None:
    """A broker figure under 1 is a broker down."""
    assert brokers_down({"broker_connected.redis": 0.0}) == ["redis"]
    assert brokers_down({"broker_connected.redis": 1.0}) == []
