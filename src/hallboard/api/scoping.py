"""Resolve the school in a URL for the principal asking, or answer 404/403."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from hallboard import safejson
from hallboard.api.errors import ApiError, forbidden, invalid, not_found
from hallboard.schools import zones
from hallboard.schools.access import Principal, Right
from hallboard.schools.models import School

#: How every time the API takes is described in its docs (with ``SCHOOL_TIME_EXAMPLE``).
SCHOOL_TIME = (
    "ISO 8601. With an offset (`+01:00`, `Z`) as given; without one, the school's local "
    "time (Europe/Berlin: `2026-11-23T22:35:00` is `2026-11-23T21:35:00Z`)."
)
SCHOOL_TIME_EXAMPLE = "2026-11-23T22:35:00+01:00"


def principal(request: HttpRequest) -> Principal:
    auth = request.auth  # type: ignore[attr-defined]  # set by ninja's authenticators
    assert isinstance(auth, Principal)
    return auth


def school_for(request: HttpRequest, slug: str, right: Right = Right.VIEW) -> School:
    """The school ``slug`` if the principal may see it (else 404) and holds ``right`` (else 403)."""
    who = principal(request)
    school = who.schools(Right.VIEW).filter(slug=slug).first()
    if school is None:
        raise not_found("school")
    if right is not Right.VIEW and not who.can(right, school):
        raise forbidden(right.value)
    # Times in and out are the school's (hallboard.api.rendering); the request ends
    # in the default zone again (hallboard.schools.zones.SchoolTimezoneMiddleware).
    timezone.activate(school.tz)
    return school


def in_school_zone(data: dict[str, Any], school: School) -> dict[str, Any]:
    """``data`` with every time sent without an offset read as ``school``'s local time."""
    for name, value in data.items():
        if isinstance(value, dt.datetime):
            try:
                data[name] = zones.aware(value, school.tz)
            except zones.NonexistentTime as exc:
                raise invalid(name, str(exc)) from None
    return data


def is_id(value: int) -> bool:
    """Whether ``value`` can be a row id (a positive 64-bit integer): others match nothing."""
    return 1 <= value <= safejson.INT_MAX


def get_in_school(
    queryset: models.QuerySet[Any] | models.Manager[Any], school: School, pk: int, what: str
) -> Any:
    obj = queryset.filter(school=school, pk=pk).first() if is_id(pk) else None
    if obj is None:
        raise not_found(what)
    return obj


def validation_error(exc: ValidationError) -> ApiError:
    """A model's validation errors as the API's 422, one entry per field."""
    return ApiError(
        422,
        "validation_error",
        [
            {"loc": ["body", field], "msg": " ".join(messages)}
            for field, messages in exc.message_dict.items()
        ],
    )


def save_validated(obj: models.Model, *, exclude: list[str] | None = None) -> None:
    """Run the model's validation and save, turning its errors into a 422."""
    try:
        obj.full_clean(exclude=exclude, validate_unique=True)
    except ValidationError as exc:
        raise validation_error(exc) from exc
    obj.save()
