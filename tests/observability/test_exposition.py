"""A scrape's body and content type (hallboard.observability.exposition.render), as /metrics
and the gateway's port answer it; who may scrape what is in test_views.py."""

from __future__ import annotations

from hallboard.observability.exposition import render
from tests.conftest import Tenant, make_screen
from tests.observability.test_views import series


def test_the_text_format_with_the_process_metrics_and_the_schools_gauges(tenant: Tenant) -> None:
    """By default the text format 0.0.4: this process's metrics, and the screens of the schools
    named (here alpha's, not beta's)."""
    make_screen(tenant.school)
    make_screen(tenant.other_school)
    body, content_type = render(school_ids=[tenant.school.pk])
    assert content_type.startswith("text/plain; version=0.0.4")
    values = series(body)
    assert values[("hallboard_screens", (("school", "alpha"), ("status", "offline")))] == 1
    schools = {dict(labels)["school"] for name, labels in values if name == "hallboard_screens"}
    assert schools == {"alpha"}
    assert b"\n# TYPE hallboard_display_requests_total counter\n" in body  # this process's


def test_every_school_without_a_limit(tenant: Tenant) -> None:
    """school_ids None (the metrics token, a superuser): every school's screens."""
    make_screen(tenant.school)
    make_screen(tenant.other_school)
    schools = {
        dict(labels)["school"]
        for name, labels in series(render()[0])
        if name == "hallboard_screens"
    }
    assert schools == {"alpha", "beta"}


def test_openmetrics_when_the_scraper_accepts_it(db: None) -> None:
    """A scraper that accepts OpenMetrics gets that format, ended by # EOF."""
    body, content_type = render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")
