"""deploy/ stays true: its dashboard and alert rules use only metrics hallboard exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hallboard.observability.metrics import metric_names

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC = re.compile(r"\bhallboard_[a-z0-9_]+")


def referenced() -> dict[str, set[str]]:
    """Metric names each monitoring file under deploy/ (Prometheus, Grafana) mentions.

    (nginx's files name their upstreams hallboard_web and hallboard_gateway: not metrics.)
    """
    return {
        str(path.relative_to(DEPLOY)): set(METRIC.findall(path.read_text()))
        for folder in ("prometheus", "grafana")
        for path in sorted((DEPLOY / folder).rglob("*"))
        if path.is_file()
    }


def test_every_metric_name_in_deploy_is_exported() -> None:
    """No dashboard query or alert rule names a metric that does not exist."""
    exported = metric_names()
    unknown = {file: names - exported for file, names in referenced().items() if names - exported}
    assert unknown == {}


def test_the_dashboard_shows_what_operators_watch() -> None:
    """The dashboard is valid JSON and charts connections, refusals, messages, latency,
    broker, polling, screens and GC pauses."""
    dashboard = json.loads((DEPLOY / "grafana/hallboard.json").read_text())
    exprs = " ".join(
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    )
    for name in (
        "hallboard_gateway_connections",
        "hallboard_gateway_refused_total",
        "hallboard_realtime_published_total",
        "hallboard_gateway_messages_delivered_total",
        "hallboard_gateway_messages_failed_total",
        "hallboard_push_latency_seconds_bucket",
        "hallboard_broker_connected",
        "hallboard_display_requests_total",
        "hallboard_screens",
        "hallboard_gc_pause_seconds_bucket",
    ):
        assert name in exprs
    assert "histogram_quantile(0.99" in exprs
    assert "histogram_quantile(0.5" in exprs
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((DEPLOY / "prometheus/hallboard-alerts.yml").read_text())
    assert isinstance(document, dict)
    assert set(document) == {"groups"}
    rules: list[dict[str, Any]] = []
    for group in document["groups"]:
        assert isinstance(group["name"], str)
        assert group["rules"]
        rules.extend(group["rules"])
    return rules


def test_alert_rules_have_the_expected_structure() -> None:
    """Each rule: a name, an expression, a duration, a severity, a summary and a description."""
    rules = _rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"Hallboard[A-Za-z]+", rule["alert"])
        assert isinstance(rule["expr"], str)
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"])
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert {"summary", "description"} <= set(rule["annotations"])


def test_alert_rules_cover_the_runbook() -> None:
    """Gateway down, broker, refusals, latency, screens offline and stale, slow clients."""
    names = {rule["alert"] for rule in _rules()}
    assert {
        "HallboardGatewayDown",
        "HallboardBrokerDisconnected",
        "HallboardRefusalRateHigh",
        "HallboardPushLatencyHigh",
        "HallboardManyScreensOffline",
        "HallboardScreensStale",
        "HallboardSlowClientDisconnects",
    } <= names


def test_scrape_example_loads_the_rules_file() -> None:
    """The example prometheus.yml names the rules file and both jobs the rules assume."""
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    assert config["rule_files"] == ["hallboard-alerts.yml"]
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {"hallboard-web", "hallboard-gateway"}


def test_promtool_accepts_the_rules_and_the_dashboard_queries(tmp_path: Path) -> None:
    """Prometheus' own checker parses every alert rule and every dashboard query.

    Needs promtool (Debian package "prometheus"); skipped where it is missing.
    """
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (apt-get install prometheus)")
    dashboard = json.loads((DEPLOY / "grafana/hallboard.json").read_text())
    variables = {"$__rate_interval": "5m", "$instance": ".*", "$school": ".*"}
    recorded = []
    for number, target in enumerate(
        t for panel in dashboard["panels"] for t in panel.get("targets", [])
    ):
        expr = target["expr"]
        for variable, value in variables.items():
            expr = expr.replace(variable, value)
        recorded.append({"record": f"dashboard:query_{number}", "expr": expr})
    queries = tmp_path / "dashboard-queries.yml"
    queries.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": recorded}]}))
    for rules in (DEPLOY / "prometheus/hallboard-alerts.yml", queries):
        result = subprocess.run(  # noqa: S603 - a fixed tool on our own files
            [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
