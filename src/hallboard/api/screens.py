"""``/api/v1/schools/{slug}/screens``: screens, their tokens and bindings, and commands.

Status of a screen (``status``, with ``status_reason``): ``offline``, ``stale``
or ``online`` as decided by ``hallboard.screens.status``.
"""

# No `from __future__ import annotations` here: ninja's PatchDict needs the
# annotations evaluated at import time to build its partial schema.

import datetime as dt
from typing import Any, Literal

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, PatchDict, Router, Schema, Status

from hallboard.api.errors import ApiError, invalid
from hallboard.api.scoping import get_in_school, principal, save_validated, school_for
from hallboard.display.ratelimit import limiter
from hallboard.schools.access import Right
from hallboard.schools.models import School
from hallboard.screens import pairing
from hallboard.screens.models import Command, Screen
from hallboard.screens.status import state_of
from hallboard.timetable.models import SchoolClass

router = Router(tags=["screens"])


class ScreenIn(Schema):
    name: str = Field(min_length=1, max_length=80)
    location: str = Field("", max_length=120)
    view: Screen.View = Screen.View.SCHOOL
    classes: list[str] = Field(default_factory=list, description="Class names (view 'classes').")
    grades: list[int] = Field(default_factory=list, description="Grades (view 'grades').")
    hide_teacher_names: bool = False
    orientation: Screen.Orientation = Screen.Orientation.LANDSCAPE
    allow_multi_device: bool | None = None


class ScreenOut(Schema):
    id: int
    name: str
    location: str
    view: str
    classes: list[str]
    grades: list[int]
    hide_teacher_names: bool
    orientation: str
    allow_multi_device: bool | None
    status: Literal["online", "stale", "offline"]
    status_reason: str
    bound: bool
    bound_at: dt.datetime | None
    last_heartbeat_at: dt.datetime | None
    revision_shown: int | None
    school_revision: int
    connection_mode: str
    push_refused_code: int | None
    has_token: bool


class ScreenCreated(ScreenOut):
    token: str = Field(description="Shown once: only its hash is stored.")
    display_url: str


class TokenOut(Schema):
    token: str = Field(description="Shown once: only its hash is stored.")
    display_url: str


class CommandIn(Schema):
    name: Command.Name
    payload: dict[str, Any] = Field(default_factory=dict)


class CommandOut(Schema):
    id: int
    name: str
    payload: dict[str, Any]
    status: str
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    acknowledged_at: dt.datetime | None


def display_url(token: str) -> str:
    return f"{settings.PUBLIC_URL}/display/?token={token}"


def _out(screen: Screen, school: School) -> dict[str, Any]:
    state = state_of(screen, school.revision, school.revision_changed_at, timezone.now(), school.tz)
    return {
        "id": screen.pk,
        "name": screen.name,
        "location": screen.location,
        "view": screen.view,
        "classes": [c.name for c in screen.classes.all()],
        "grades": screen.grades,
        "hide_teacher_names": screen.hide_teacher_names,
        "orientation": screen.orientation,
        "allow_multi_device": screen.allow_multi_device,
        "status": state.status,
        "status_reason": state.reason,
        "bound": screen.device_key is not None,
        "bound_at": screen.bound_at,
        "last_heartbeat_at": screen.last_heartbeat_at,
        "revision_shown": screen.revision_shown,
        "school_revision": school.revision,
        "connection_mode": screen.connection_mode,
        "push_refused_code": screen.push_refused_code,
        "has_token": screen.token_hash is not None,
    }


def _classes(school: School, names: list[str]) -> list[SchoolClass]:
    found = {c.name: c for c in SchoolClass.objects.filter(school=school, name__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise invalid("classes", f"No class {', '.join(map(repr, missing))} in this school.")
    return [found[n] for n in names]


def _apply(screen: Screen, school: School, data: dict[str, Any]) -> None:
    classes = data.pop("classes", None)
    for field, value in data.items():
        setattr(screen, field, value)
    save_validated(screen)
    if classes is not None:
        screen.classes.set(_classes(school, classes))


def _screen(school: School, pk: int, *, lock: bool = False) -> Screen:
    qs = Screen.objects.select_for_update() if lock else Screen.objects
    return get_in_school(qs, school, pk, "screen")


@router.get("/schools/{slug}/screens", response=list[ScreenOut])
def list_screens(request: HttpRequest, slug: str) -> list[dict[str, Any]]:
    school = school_for(request, slug, Right.SCREENS)
    screens = Screen.objects.filter(school=school).prefetch_related("classes")
    return [_out(s, school) for s in screens]


@router.post("/schools/{slug}/screens", response={201: ScreenCreated})
def create_screen(request: HttpRequest, slug: str, payload: ScreenIn) -> Status[dict[str, Any]]:
    school = school_for(request, slug, Right.SCREENS)
    with transaction.atomic():
        screen = Screen(school=school)
        data = payload.dict()
        _classes(school, data["classes"])  # refuse unknown classes before saving anything
        _apply(screen, school, data)
        token = screen.issue_token()
    school.refresh_from_db(fields=["revision"])
    return Status(201, {**_out(screen, school), "token": token, "display_url": display_url(token)})


@router.get("/schools/{slug}/screens/{pk}", response=ScreenOut)
def get_screen(request: HttpRequest, slug: str, pk: int) -> dict[str, Any]:
    school = school_for(request, slug, Right.SCREENS)
    return _out(_screen(school, pk), school)


def _update(request: HttpRequest, slug: str, pk: int, data: dict[str, Any]) -> dict[str, Any]:
    school = school_for(request, slug, Right.SCREENS)
    with transaction.atomic():
        screen = _screen(school, pk, lock=True)
        _apply(screen, school, data)
    school.refresh_from_db(fields=["revision"])
    return _out(screen, school)


@router.put("/schools/{slug}/screens/{pk}", response=ScreenOut)
def replace_screen(request: HttpRequest, slug: str, pk: int, payload: ScreenIn) -> dict[str, Any]:
    return _update(request, slug, pk, payload.dict())


@router.patch("/schools/{slug}/screens/{pk}", response=ScreenOut)
def patch_screen(
    request: HttpRequest, slug: str, pk: int, payload: PatchDict[ScreenIn]
) -> dict[str, Any]:
    return _update(request, slug, pk, dict(payload))


@router.delete("/schools/{slug}/screens/{pk}", response={204: None})
def delete_screen(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    school = school_for(request, slug, Right.SCREENS)
    _screen(school, pk).delete()
    return HttpResponse(status=204)


@router.post("/schools/{slug}/screens/{pk}/rotate-token", response=TokenOut)
def rotate_token(request: HttpRequest, slug: str, pk: int) -> dict[str, str]:
    """Issue a new token; the old one stops working at once."""
    school = school_for(request, slug, Right.SCREENS)
    token = _screen(school, pk).issue_token()
    return {"token": token, "display_url": display_url(token)}


@router.post("/schools/{slug}/screens/{pk}/revoke-token", response=ScreenOut)
def revoke_token(request: HttpRequest, slug: str, pk: int) -> dict[str, Any]:
    """Invalidate the token; the screen shows nothing until it gets a new one."""
    school = school_for(request, slug, Right.SCREENS)
    screen = _screen(school, pk)
    screen.revoke_token()
    return _out(screen, school)


@router.post("/schools/{slug}/screens/{pk}/reset-binding", response=ScreenOut)
def reset_binding(request: HttpRequest, slug: str, pk: int) -> dict[str, Any]:
    """Unbind the device: the next device that presents the token binds the screen."""
    school = school_for(request, slug, Right.SCREENS)
    screen = _screen(school, pk)
    screen.reset_binding()
    return _out(screen, school)


def _validate_command(name: str, payload: dict[str, Any]) -> dict[str, Any]:
    if name == Command.Name.RELOAD:
        if payload:
            raise invalid("payload", "reload takes no payload.")
        return {}
    seconds = payload.get("seconds", 10)
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 1 <= seconds <= 600:
        raise invalid("payload.seconds", "seconds must be a whole number from 1 to 600.")
    if name == Command.Name.IDENTIFY:
        if set(payload) - {"seconds"}:
            raise invalid("payload", "identify takes only 'seconds'.")
        return {"seconds": seconds}
    text = payload.get("text")
    if not isinstance(text, str) or not 1 <= len(text.strip()) <= 280:
        raise invalid("payload.text", "message needs 'text' of 1 to 280 characters.")
    if set(payload) - {"seconds", "text"}:
        raise invalid("payload", "message takes only 'text' and 'seconds'.")
    return {"text": text.strip(), "seconds": seconds}


def _command_out(c: Command) -> dict[str, Any]:
    return {
        "id": c.pk,
        "name": c.name,
        "payload": c.payload,
        "status": c.status,
        "created_at": c.created_at,
        "delivered_at": c.delivered_at,
        "acknowledged_at": c.acknowledged_at,
    }


@router.post("/schools/{slug}/screens/{pk}/commands", response={201: CommandOut})
def send_command(
    request: HttpRequest, slug: str, pk: int, payload: CommandIn
) -> Status[dict[str, Any]]:
    """Store a command for the screen (reload, identify, message).

    Delivered over push at once if the screen is connected, else when it next
    connects (within 10 minutes); the screen's ack marks it acknowledged.
    """
    school = school_for(request, slug, Right.SCREENS)
    screen = _screen(school, pk)
    command = Command.objects.create(
        screen=screen,
        name=payload.name,
        payload=_validate_command(payload.name, payload.payload),
        created_by=principal(request).user_or_none,
    )
    return Status(201, _command_out(command))


@router.get("/schools/{slug}/screens/{pk}/commands", response=list[CommandOut])
def list_commands(request: HttpRequest, slug: str, pk: int) -> list[dict[str, Any]]:
    school = school_for(request, slug, Right.SCREENS)
    return [_command_out(c) for c in _screen(school, pk).commands.all()[:100]]


class PairIn(Schema):
    code: str = Field(min_length=4, max_length=12, description="The code shown on the display.")


class PairOut(Schema):
    status: str
    screen: int


@router.post("/schools/{slug}/screens/{pk}/pair", response=PairOut)
def pair_screen(request: HttpRequest, slug: str, pk: int, payload: PairIn) -> dict[str, Any]:
    """Claim the code a display shows for this screen; the display picks up its token."""
    school = school_for(request, slug, Right.SCREENS)
    screen = _screen(school, pk)
    who = principal(request)
    key = f"key:{who.api_key.pk}" if who.api_key else f"user:{getattr(who.user, 'pk', '')}"
    retry_after = limiter(pairing.CLAIM_LIMIT).hit("pair-claim", key)
    if retry_after is not None:
        raise ApiError(429, "rate_limited", f"Too many pairing attempts; retry in {retry_after} s.")
    try:
        pairing.claim(payload.code, screen, who.user_or_none)
    except pairing.PairingError as exc:
        raise ApiError(404 if exc.code == "pairing_unknown" else 409, exc.code, exc.detail) from exc
    return {"status": "claimed", "screen": screen.pk}
