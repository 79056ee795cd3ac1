"""``hallboard.api.schema``: what every request schema of the management API accepts."""

# No `from __future__ import annotations`: pydantic evaluates these annotations.

import datetime as dt
import typing

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from hallboard.api.schema import MAX_UTC_OFFSET, PatchDict, Schema


class Event(Schema):
    title: str = Field(max_length=5)
    body: str = ""
    at: dt.datetime | None = None
    bell: dt.time | None = None
    note: str | None = None
    priority: int = Field(default=1, ge=0, le=2)


def _patch(data: dict[str, typing.Any]) -> dict[str, typing.Any]:
    wrapped = typing.get_args(PatchDict[Event])[0]
    result: dict[str, typing.Any] = TypeAdapter(wrapped).validate_python(data)
    return result


@pytest.mark.parametrize("offset", ["+14:00", "-12:00", "Z", "+05:45", "-14:00"])
def test_timestamps_with_real_utc_offsets_are_accepted(offset: str) -> None:
    """Timestamps with any offset a time zone uses (within ±14 h) are accepted as given."""
    value = Event.model_validate({"title": "x", "at": f"2026-11-23T08:00:00{offset}"}).at
    assert value is not None
    assert value.utcoffset() is not None
    assert abs(value.utcoffset() or dt.timedelta()) <= MAX_UTC_OFFSET


@pytest.mark.parametrize("offset", ["+14:01", "-15:00", "+16:00", "+23:59"])
def test_timestamps_with_impossible_utc_offsets_are_refused(offset: str) -> None:
    """An offset beyond ±14 h is a validation error on that field, naming the limit."""
    with pytest.raises(ValidationError) as caught:
        Event.model_validate({"title": "x", "at": f"2026-11-23T08:00:00{offset}"})
    (error,) = caught.value.errors()
    assert error["loc"] == ("at",)
    assert "-14:00 and +14:00" in error["msg"]


def test_a_time_of_day_with_an_offset_is_refused() -> None:
    """A time of day is the school's local time: one with an offset is refused."""
    assert Event.model_validate({"title": "x", "bell": "08:00"}).bell == dt.time(8)
    with pytest.raises(ValidationError) as caught:
        Event.model_validate({"title": "x", "bell": "08:00+05:00"})
    assert caught.value.errors()[0]["loc"] == ("bell",)


def test_a_naive_timestamp_is_left_for_the_school_zone() -> None:
    """A timestamp without an offset passes the schema unchanged (the school's zone applies)."""
    at = Event.model_validate({"title": "x", "at": "2026-11-23T08:00:00"}).at
    assert at == dt.datetime(2026, 11, 23, 8, 0)


def test_a_patch_gives_only_the_fields_sent() -> None:
    """``PatchDict[S]`` yields only the fields sent; none is required."""
    assert _patch({}) == {}
    assert _patch({"priority": 2}) == {"priority": 2}


def test_a_patch_accepts_null_only_where_the_schema_does() -> None:
    """``null`` passes for a nullable field, and is refused for one that cannot be null."""
    assert _patch({"note": None}) == {"note": None}
    for field in ("body", "title", "priority"):
        with pytest.raises(ValidationError):
            _patch({field: None})


def test_a_patch_keeps_the_fields_constraints() -> None:
    """Lengths, ranges and offset limits of ``S`` still apply in a partial update."""
    with pytest.raises(ValidationError):
        _patch({"title": "far too long"})
    with pytest.raises(ValidationError):
        _patch({"priority": 3})
    with pytest.raises(ValidationError):
        _patch({"at": "2026-11-23T08:00:00+16:00"})
