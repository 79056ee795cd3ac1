"""``/api/v1/schools/{slug}/announcements``: the office's messages on the screens."""

# No `from __future__ import annotations` here: ninja's PatchDict needs the
# annotations evaluated at import time to build its partial schema.

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Router, Status

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
from hallboard.timetable.models import Announcement

router = Router(tags=["announcements"])


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


class AnnouncementOut(Schema):
    id: int
    title: str
    body: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    priority: int
    active: bool


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
    }


@router.get("/schools/{slug}/announcements", response=list[AnnouncementOut])
def list_announcements(
    request: HttpRequest, slug: str, active: bool | None = None
) -> list[dict[str, object]]:
    school = school_for(request, slug)
    qs = Announcement.objects.filter(school=school)
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
    data["starts_at"] = data["starts_at"] or timezone.now()
    announcement = Announcement(school=school, **data)
    with transaction.atomic():
        save_validated(announcement)
    return Status(201, _out(announcement))


@router.get("/schools/{slug}/announcements/{pk}", response=AnnouncementOut)
def get_announcement(request: HttpRequest, slug: str, pk: int) -> dict[str, object]:
    school = school_for(request, slug)
    return _out(get_in_school(Announcement.objects, school, pk, "announcement"))


def _update(request: HttpRequest, slug: str, pk: int, data: dict[str, object]) -> dict[str, object]:
    school = school_for(request, slug, Right.ANNOUNCE)
    data = in_school_zone(data, school)
    with transaction.atomic():
        announcement = get_in_school(
            Announcement.objects.select_for_update(), school, pk, "announcement"
        )
        for field, value in data.items():
            setattr(announcement, field, value)
        if announcement.starts_at is None:
            announcement.starts_at = timezone.now()
        save_validated(announcement)
    return _out(announcement)


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
