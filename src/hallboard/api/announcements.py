"""``/api/v1/schools/{slug}/announcements``: the office's messages on the screens."""

# No `from __future__ import annotations` here: ninja's PatchDict needs the
# annotations evaluated at import time to build its partial schema.

import datetime as dt

from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Router, Status

from hallboard.alerts.models import AnnouncementTargets
from hallboard.api.errors import ApiError
from hallboard.api.idempotency import idempotent
from hallboard.api.schema import PatchDict, Schema
from hallboard.api.scoping import (
    SCHOOL_TIME,
    SCHOOL_TIME_EXAMPLE,
    get_in_school,
    in_school_zone,
    save_validated,
    school_for,
)
from hallboard.schools.access import Right
from hallboard.schools.models import School
from hallboard.screens.models import Screen
from hallboard.timetable.models import Announcement

router = Router(tags=["announcements"])

#: At most this many target screens in one request.
MAX_TARGETS = 1000
_MAX_ID = 2**63 - 1


class AnnouncementIn(Schema):
    title: str = Field(min_length=1, max_length=120)
    body: str = Field("", max_length=2000)
    starts_at: dt.datetime | None = Field(
        None, description=f"Default: now. {SCHOOL_TIME}", examples=[SCHOOL_TIME_EXAMPLE]
    )
    ends_at: dt.datetime | None = Field(
        None,
        description=f"Empty: until removed. {SCHOOL_TIME}",
        examples=["2026-11-23T23:30:00+01:00"],
    )
    priority: int = Field(1, ge=0, le=2, description="0 low, 1 normal, 2 high.")
    screens: list[int] | None = Field(
        None,
        max_length=MAX_TARGETS,
        description=(
            "Ids of the school's screens that show it (see `GET /schools/{slug}/screens`); "
            "null or left out: every screen of the school. An id that is not one of the "
            "school's screens is refused with 422 naming it; an empty list too."
        ),
        examples=[None, [3, 7]],
    )


class AnnouncementOut(Schema):
    id: int
    title: str
    body: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    priority: int
    active: bool
    screens: list[int] | None = Field(
        description="Ids of the screens that show it; null: every screen of the school."
    )


def _targets(school: School, ids: list[int]) -> list[Screen]:
    """The school's screens ``ids``, or 422 naming the first id that is not one of them."""
    if not ids:
        raise ApiError(
            422,
            "validation_error",
            [
                {
                    "loc": ["body", "screens"],
                    "msg": "Choose at least one screen, or null for every screen.",
                }
            ],
        )
    wanted = [i for i in ids if 0 < i <= _MAX_ID]
    found = {s.pk: s for s in Screen.objects.filter(school=school, pk__in=wanted)}
    for index, screen_id in enumerate(ids):
        if screen_id not in found:
            raise ApiError(
                422,
                "validation_error",
                [
                    {
                        "loc": ["body", "screens", index],
                        "msg": f"Screen {screen_id} is not a screen of this school.",
                    }
                ],
            )
    return list(found.values())


def _aim(announcement: Announcement, screens: list[Screen] | None) -> None:
    """Show ``announcement`` on ``screens`` only, or (None) on every screen of its school."""
    if screens is None:
        AnnouncementTargets.objects.filter(announcement_id=announcement.pk).delete()
        return
    targets, _created = AnnouncementTargets.objects.get_or_create(announcement=announcement)
    targets.screens.set(screens)


def _screen_ids(a: Announcement) -> list[int] | None:
    targets = getattr(a, "targets", None)  # no row: every screen
    return None if targets is None else sorted(s.pk for s in targets.screens.all())


def _out(a: Announcement) -> dict[str, object]:
    now = timezone.now()
    return {
        "id": a.pk,
        "title": a.title,
        "body": a.body,
        "starts_at": a.starts_at,
        "ends_at": a.ends_at,
        "priority": a.priority,
        "active": a.starts_at <= now and (a.ends_at is None or a.ends_at > now),
        "screens": _screen_ids(a),
    }


def _fetch(school: School) -> QuerySet[Announcement]:
    return (
        Announcement.objects.filter(school=school)
        .select_related("targets")
        .prefetch_related("targets__screens")
    )


@router.get("/schools/{slug}/announcements", response=list[AnnouncementOut])
def list_announcements(
    request: HttpRequest, slug: str, active: bool | None = None
) -> list[dict[str, object]]:
    school = school_for(request, slug)
    qs = _fetch(school)
    now = timezone.now()
    live = Q(starts_at__lte=now) & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))
    if active is True:
        qs = qs.filter(live)
    elif active is False:
        qs = qs.exclude(live)
    return [_out(a) for a in qs]


@router.post("/schools/{slug}/announcements", response={201: AnnouncementOut})
@idempotent
def create_announcement(
    request: HttpRequest, slug: str, payload: AnnouncementIn
) -> Status[dict[str, object]]:
    school = school_for(request, slug, Right.ANNOUNCE)
    data = in_school_zone(payload.dict(), school)
    ids = data.pop("screens")
    screens = None if ids is None else _targets(school, ids)
    data["starts_at"] = data["starts_at"] or timezone.now()
    announcement = Announcement(school=school, **data)
    with transaction.atomic():
        save_validated(announcement)  # bumps the school's revision, in this transaction
        _aim(announcement, screens)
    return Status(201, _out(_fetch(school).get(pk=announcement.pk)))


@router.get("/schools/{slug}/announcements/{pk}", response=AnnouncementOut)
def get_announcement(request: HttpRequest, slug: str, pk: int) -> dict[str, object]:
    school = school_for(request, slug)
    return _out(get_in_school(_fetch(school), school, pk, "announcement"))


def _update(request: HttpRequest, slug: str, pk: int, data: dict[str, object]) -> dict[str, object]:
    school = school_for(request, slug, Right.ANNOUNCE)
    data = in_school_zone(data, school)
    aim = "screens" in data  # a PATCH without it leaves the screens as they are
    ids = data.pop("screens", None)
    screens = None if ids is None else _targets(school, ids)  # type: ignore[arg-type]
    with transaction.atomic():
        announcement = get_in_school(
            Announcement.objects.select_for_update(), school, pk, "announcement"
        )
        for field, value in data.items():
            setattr(announcement, field, value)
        if announcement.starts_at is None:
            announcement.starts_at = timezone.now()
        save_validated(announcement)  # bumps the school's revision, in this transaction
        if aim:
            _aim(announcement, screens)
    return _out(_fetch(school).get(pk=announcement.pk))


@router.put("/schools/{slug}/announcements/{pk}", response=AnnouncementOut)
def replace_announcement(
    request: HttpRequest, slug: str, pk: int, payload: AnnouncementIn
) -> dict[str, object]:
    return _update(request, slug, pk, payload.dict())


@router.patch("/schools/{slug}/announcements/{pk}", response=AnnouncementOut)
def patch_announcement(
    request: HttpRequest, slug: str, pk: int, payload: PatchDict[AnnouncementIn]
) -> dict[str, object]:
    return _update(request, slug, pk, dict(payload))


@router.delete("/schools/{slug}/announcements/{pk}", response={204: None})
def delete_announcement(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    school = school_for(request, slug, Right.ANNOUNCE)
    get_in_school(Announcement.objects, school, pk, "announcement").delete()
    return HttpResponse(status=204)
