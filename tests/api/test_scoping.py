"""``hallboard.api.scoping``: the school in a URL, resolved for the principal asking."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.utils import timezone

from hallboard import safejson
from hallboard.api import scoping
from hallboard.api.errors import ApiError
from hallboard.schools.access import Principal, Right, for_user
from hallboard.schools.models import Role
from hallboard.timetable.models import Announcement, Room
from tests.conftest import Tenant, make_user


@pytest.fixture(autouse=True)
def _default_zone() -> Iterator[None]:
    timezone.deactivate()
    yield
    timezone.deactivate()


def _request(who: Principal) -> Any:
    request = RequestFactory().get("/api/v1/")
    request.auth = who
    return request


def test_school_for_gives_a_visible_school_in_its_zone(tenant: Tenant) -> None:
    """A school the principal may see is returned, and its zone is activated for the request."""
    who = for_user(make_user("v", Role.VIEWER, school=tenant.school))
    assert scoping.school_for(_request(who), "alpha") == tenant.school
    assert timezone.get_current_timezone() == zoneinfo.ZoneInfo("Europe/Berlin")


def test_another_tenants_school_is_not_found_not_forbidden(tenant: Tenant) -> None:
    """A school the principal may not see is a 404, like one that does not exist."""
    who = for_user(make_user("v", Role.ADMIN, school=tenant.school))
    for slug in ("beta", "nowhere"):
        with pytest.raises(ApiError) as caught:
            scoping.school_for(_request(who), slug, Right.MANAGE)
        assert (caught.value.status_code, caught.value.code) == (404, "not_found")


def test_a_visible_school_without_the_right_is_forbidden(tenant: Tenant) -> None:
    """A school the principal sees but where their role lacks the right is a 403 naming it."""
    who = for_user(make_user("v", Role.OFFICE, school=tenant.school))
    assert scoping.school_for(_request(who), "alpha", Right.ANNOUNCE) == tenant.school
    with pytest.raises(ApiError) as caught:
        scoping.school_for(_request(who), "alpha", Right.ALERT)
    assert (caught.value.status_code, caught.value.code) == (403, "forbidden")
    assert "alert" in caught.value.detail


def test_times_without_an_offset_are_the_schools_local_time(tenant: Tenant) -> None:
    """``in_school_zone`` reads naive times in the school's zone; others pass unchanged."""
    aware = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    data = {"starts_at": dt.datetime(2026, 11, 23, 22, 35), "ends_at": aware, "title": "x"}
    out = scoping.in_school_zone(data, tenant.school)
    assert out["starts_at"] == dt.datetime(2026, 11, 23, 21, 35, tzinfo=dt.UTC)
    assert out["ends_at"] is aware
    assert out["title"] == "x"


def test_a_time_the_clocks_skip_is_a_422_on_that_field(tenant: Tenant) -> None:
    """A local time that never happens in the school's zone is a 422 naming the field."""
    with pytest.raises(ApiError) as caught:
        scoping.in_school_zone({"starts_at": dt.datetime(2026, 3, 29, 2, 30)}, tenant.school)
    assert (caught.value.status_code, caught.value.code) == (422, "validation_error")
    assert caught.value.detail[0]["loc"] == ["body", "starts_at"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, True), (safejson.INT_MAX, True), (0, False), (-5, False), (safejson.INT_MAX + 1, False)],
)
def test_only_positive_64_bit_integers_are_ids(value: int, expected: bool) -> None:
    """``is_id``: 1 … 2⁶³-1 may be a row id; anything else matches nothing."""
    assert scoping.is_id(value) is expected


def test_get_in_school_finds_only_that_schools_rows(tenant: Tenant) -> None:
    """A row is found in its own school; another school's row or an impossible id is a 404."""
    mine = Announcement.objects.create(school=tenant.school, title="mine")
    theirs = Announcement.objects.create(school=tenant.other_school, title="theirs")
    assert scoping.get_in_school(Announcement.objects, tenant.school, mine.pk, "x") == mine
    for pk in (theirs.pk, 2**64, 0):
        with pytest.raises(ApiError) as caught:
            scoping.get_in_school(Announcement.objects, tenant.school, pk, "announcement")
        assert caught.value.detail == "No such announcement."


def test_a_models_validation_errors_are_one_422_entry_per_field() -> None:
    """``validation_error`` turns a model's errors into 422 entries located in the body."""
    exc = ValidationError({"name": ["Too long.", "Bad."], "grade": ["Required."]})
    error = scoping.validation_error(exc)
    assert (error.status_code, error.code) == (422, "validation_error")
    assert sorted(error.detail, key=lambda e: e["loc"]) == [
        {"loc": ["body", "grade"], "msg": "Required."},
        {"loc": ["body", "name"], "msg": "Too long. Bad."},
    ]


def test_save_validated_saves_valid_rows_and_refuses_invalid_ones(tenant: Tenant) -> None:
    """A valid row is saved; a duplicate (unique) or invalid one is a 422 and not saved."""
    scoping.save_validated(Room(school=tenant.school, name="A101"))
    assert Room.objects.filter(school=tenant.school, name="A101").count() == 1
    with pytest.raises(ApiError) as caught:
        scoping.save_validated(Room(school=tenant.school, name="A101"))
    assert caught.value.status_code == 422
    with pytest.raises(ApiError) as caught:
        scoping.save_validated(Room(school=tenant.school, name=""))
    assert ["body", "name"] in [e["loc"] for e in caught.value.detail]
    assert Room.objects.filter(school=tenant.school).count() == 1
