"""``hallboard.schools.zones``: which zone people read and type times in."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils import timezone, translation

from hallboard.schools import zones
from hallboard.schools.models import Membership, School
from tests.conftest import Tenant, make_school, make_user

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def test_a_naive_time_is_read_as_local_time_in_the_zone() -> None:
    """A time without an offset is taken as the wall clock time in the given zone."""
    value = zones.aware(dt.datetime(2026, 1, 15, 8, 0), BERLIN)
    assert value.astimezone(dt.UTC) == dt.datetime(2026, 1, 15, 7, 0, tzinfo=dt.UTC)


def test_a_time_with_an_offset_is_kept() -> None:
    """A time that already has an offset is returned unchanged, whatever the zone."""
    value = dt.datetime(2026, 1, 15, 8, 0, tzinfo=dt.UTC)
    assert zones.aware(value, BERLIN) is value


def test_a_time_the_clocks_pass_twice_is_its_first_occurrence() -> None:
    """On the autumn change, 02:30 (which happens twice) is taken at summer time, +02:00."""
    value = zones.aware(dt.datetime(2026, 10, 25, 2, 30), BERLIN)
    assert value.utcoffset() == dt.timedelta(hours=2)
    assert value.astimezone(dt.UTC) == dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)


def test_a_time_the_clocks_skip_is_refused_naming_time_and_zone() -> None:
    """On the spring change, 02:30 never happens: ``NonexistentTime`` names time and zone."""
    with translation.override("en"), pytest.raises(zones.NonexistentTime) as caught:
        zones.aware(dt.datetime(2026, 3, 29, 2, 30), BERLIN)
    assert str(caught.value) == (
        "2026-03-29 02:30 does not exist in Europe/Berlin (the clocks change then)."
    )
    assert isinstance(caught.value, ValueError)


def test_the_skipped_time_message_is_translated() -> None:
    """The refusal is read in German by a German user."""
    with translation.override("de"), pytest.raises(zones.NonexistentTime) as caught:
        zones.aware(dt.datetime(2026, 3, 29, 2, 30), BERLIN)
    assert "does not exist" not in str(caught.value)
    assert "Europe/Berlin" in str(caught.value)


def test_zone_name_is_the_iana_key() -> None:
    """A zone's name is its IANA key; a zone without one is named by ``str``."""
    assert zones.zone_name(BERLIN) == "Europe/Berlin"
    assert zones.zone_name(dt.UTC) == "UTC"


def test_common_zone_is_the_shared_zone_or_none(tenant: Tenant) -> None:
    """Schools in one zone give that zone; schools in two zones, or none, give None."""
    alpha_and_beta = School.objects.filter(pk__in=[tenant.school.pk, tenant.other_school.pk])
    assert zones.common_zone(alpha_and_beta) == BERLIN
    make_school(tenant.organisation, "ny", tz="America/New_York")
    assert zones.common_zone(School.objects.all()) is None
    assert zones.common_zone(School.objects.none()) is None


def test_zone_of_user_is_the_zone_of_the_schools_they_see(tenant: Tenant) -> None:
    """A user's zone is their schools' shared zone; None for anonymous or mixed-zone users."""
    ny = make_school(tenant.organisation, "ny", tz="America/New_York")
    berliner = make_user("b", "viewer", school=tenant.school)
    assert zones.zone_of_user(berliner) == BERLIN
    both = make_user("both", "viewer", school=ny)
    assert zones.zone_of_user(both) == NEW_YORK
    Membership.objects.create(user=both, school=tenant.school, role="viewer")
    assert zones.zone_of_user(both) is None
    assert zones.zone_of_user(AnonymousUser()) is None
    assert zones.zone_of_user(None) is None


def test_a_time_is_labelled_with_its_zone_only_where_the_page_spans_zones() -> None:
    """``label`` shows the local time; it adds the zone's abbreviation only for a foreign zone."""
    value = dt.datetime(2026, 1, 15, 7, 0, tzinfo=dt.UTC)
    with translation.override("en"), timezone.override(BERLIN):
        assert not zones.spans_zones(BERLIN)
        in_page_zone = zones.label(value, BERLIN)
        assert in_page_zone == "Jan. 15, 2026, 8 a.m."
        assert zones.spans_zones(NEW_YORK)
        foreign = zones.label(value, NEW_YORK)
        assert foreign == "Jan. 15, 2026, 2 a.m. EST"


def test_of_school_is_the_schools_zone_else_the_pages(tenant: Tenant) -> None:
    """``of_school`` is the school's zone, or the current zone for organisation-wide rows."""
    assert zones.of_school(tenant.school) == BERLIN
    with timezone.override(NEW_YORK):
        assert zones.of_school(None) == NEW_YORK


def _seen_zone(request: HttpRequest) -> HttpResponse:
    return HttpResponse(zones.zone_name(timezone.get_current_timezone()))


@pytest.mark.parametrize("path", ["/admin/", "/staff/day", "/api/v1/schools"])
def test_the_middleware_activates_the_users_zone_on_their_pages(tenant: Tenant, path: str) -> None:
    """Admin, staff and API pages run in the signed-in user's zone; it ends with the request."""
    request = RequestFactory().get(path)
    request.user = make_user("v", "viewer", school=tenant.school)
    response = zones.SchoolTimezoneMiddleware(_seen_zone)(request)
    assert response.content.decode() == "Europe/Berlin"
    assert zones.zone_name(timezone.get_current_timezone()) == "UTC"


def test_the_middleware_leaves_other_pages_in_the_default_zone(tenant: Tenant) -> None:
    """Pages outside the zoned prefixes (the display) run in the default zone."""
    request = RequestFactory().get("/display/")
    request.user = make_user("v", "viewer", school=tenant.school)
    response = zones.SchoolTimezoneMiddleware(_seen_zone)(request)
    assert response.content.decode() == "UTC"


def test_a_zone_left_active_never_leaks_into_the_next_request(db: None) -> None:
    """A zone a view activates, or one left over from before, is gone before and after."""

    def activates(request: HttpRequest) -> HttpResponse:
        seen = zones.zone_name(timezone.get_current_timezone())
        timezone.activate(NEW_YORK)
        return HttpResponse(seen)

    timezone.activate(BERLIN)
    request: Any = RequestFactory().get("/staff/")
    request.user = AnonymousUser()
    response = zones.SchoolTimezoneMiddleware(activates)(request)
    assert response.content.decode() == "UTC"
    assert zones.zone_name(timezone.get_current_timezone()) == "UTC"
