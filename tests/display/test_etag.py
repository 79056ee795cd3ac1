"""Conditional requests: strong ETags, 304 without a body, date rollover by school time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from hallboard.schools.models import School
from hallboard.timetable.models import Announcement
from tests.conftest import Tenant, make_screen
from tests.display.conftest import ScreenClient

UTC = dt.UTC


@pytest.mark.parametrize("endpoint", ["snapshot", "status"])
def test_if_none_match_gives_304_without_body(tenant: Tenant, endpoint: str) -> None:
    """Repeating a request with the ETag answers 304 with no body and the same ETag."""
    _, token = make_screen(tenant.school)
    client = ScreenClient(token)
    first = client.get(endpoint)
    etag = first["ETag"]
    second = client.get(endpoint, {"If-None-Match": etag})
    assert second.status_code == 304
    assert second.content == b""
    assert second["ETag"] == etag


@pytest.mark.parametrize("endpoint", ["snapshot", "status"])
def test_an_edit_changes_the_etag(tenant: Tenant, endpoint: str) -> None:
    """After an edit the old ETag no longer matches: 200 with the new revision."""
    _, token = make_screen(tenant.school)
    client = ScreenClient(token)
    first = client.get(endpoint)
    Announcement.objects.create(school=tenant.school, title="New")
    second = client.get(endpoint, {"If-None-Match": first["ETag"]})
    assert second.status_code == 200
    assert second["ETag"] != first["ETag"]
    rev = second.json()["rev"] if endpoint == "status" else second.json()["meta"]["rev"]
    assert rev == first_rev(first, endpoint) + 1


def first_rev(response: object, endpoint: str) -> int:
    body = response.json()  # type: ignore[attr-defined]
    return int(body["rev"] if endpoint == "status" else body["meta"]["rev"])


def test_another_schools_edit_keeps_the_etag(tenant: Tenant) -> None:
    """An edit in another school leaves this screen's ETag valid (304)."""
    _, token = make_screen(tenant.school)
    client = ScreenClient(token)
    etag = client.get("snapshot")["ETag"]
    Announcement.objects.create(school=tenant.other_school, title="Elsewhere")
    assert client.get("snapshot", {"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize("endpoint", ["snapshot", "status"])
def test_date_rollover_in_the_schools_timezone(
    tenant: Tenant, freeze: Callable[[dt.datetime], None], endpoint: str
) -> None:
    """The ETag changes at the school's local midnight, not at UTC midnight."""
    school = tenant.school
    School.objects.filter(pk=school.pk).update(timezone="Pacific/Auckland")  # UTC+13 in November
    _, token = make_screen(school)
    client = ScreenClient(token)

    freeze(dt.datetime(2026, 11, 23, 10, 30, tzinfo=UTC))  # 23:30 in Auckland
    before = client.get(endpoint)
    assert (before.json()["date"] if endpoint == "status" else before.json()["meta"]["date"]) == (
        "2026-11-23"
    )

    freeze(dt.datetime(2026, 11, 23, 10, 59, tzinfo=UTC))  # still the same local day
    assert client.get(endpoint, {"If-None-Match": before["ETag"]}).status_code == 304

    freeze(dt.datetime(2026, 11, 23, 11, 1, tzinfo=UTC))  # 00:01 on the 24th in Auckland
    after = client.get(endpoint, {"If-None-Match": before["ETag"]})
    assert after.status_code == 200
    body = after.json()
    assert (body["date"] if endpoint == "status" else body["meta"]["date"]) == "2026-11-24"


def test_status_is_not_a_render(
    tenant: Tenant, django_assert_max_num_queries: Callable[..., object]
) -> None:
    """Status answers from one query for a bound screen, without building the snapshot."""
    _, token = make_screen(tenant.school)
    client = ScreenClient(token)
    client.get("status")  # binds the device
    with django_assert_max_num_queries(1):  # type: ignore[operator]
        response = client.get("status")
    assert response.status_code == 200
    assert set(response.json()) == {"rev", "date"}
