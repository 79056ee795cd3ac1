"""``{% import_source_status school_id %}``: what the dashboard's notice of a failing watched
source is given, its times in the school's zone."""

from __future__ import annotations

import datetime as dt

from hallboard.imports.models import WatchedSource
from hallboard.imports.templatetags.imports_status import import_source_status
from hallboard.schools.models import School
from tests.conftest import Tenant, make_school


def test_a_failing_source_is_described_in_the_schools_zone(tenant: Tenant) -> None:
    """Failing since and last checked are the school's local times (London here, whatever the
    page's zone), the day shown for the failure only."""
    london = make_school(tenant.organisation, "thames", tz="Europe/London")
    source = WatchedSource.objects.create(
        school=london,
        kind="folder",
        location="/srv/untis",
        failing_since=dt.datetime(2026, 11, 23, 6, 5, tzinfo=dt.UTC),
        last_checked_at=dt.datetime(2026, 11, 23, 13, 40, tzinfo=dt.UTC),
    )
    assert import_source_status(london.pk) == {
        "school": london,
        "source": source,
        "since": "23.11. 06:05",
        "checked": "13:40",
    }


def test_a_school_without_a_source_or_times_gets_dashes(tenant: Tenant) -> None:
    """No source, or a source never checked and not failing: the times read "-"."""
    assert import_source_status(tenant.school.pk) == {
        "school": tenant.school,
        "source": None,
        "since": "-",
        "checked": "-",
    }
    source = WatchedSource.objects.create(school=tenant.school, kind="folder", location="/srv")
    assert import_source_status(tenant.school.pk)["source"] == source
    assert import_source_status(tenant.school.pk)["since"] == "-"


def test_an_unknown_school_has_no_notice(db: None) -> None:
    """A school id that does not exist: no school, no source."""
    assert School.objects.filter(pk=999).first() is None
    assert import_source_status(999) == {
        "school": None,
        "source": None,
        "since": "-",
        "checked": "-",
    }
