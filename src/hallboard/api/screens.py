"""``/api/v1/schools/{slug}/screens``: screens, their tokens and bindings, and commands.

Status of a screen (``status``, with ``status_reason``): ``offline``, ``stale``
or ``online`` as decided by ``hallboard.screens.status``. The live dashboard
(``hallboard.staff``) reads its rows here, so each row carries everything it
shows, including the screen's last command and what became of it; also
``/api/v1/organisations/{slug}/screens`` for a whole district.
"""

# No `from __future__ import annotations` here: ninja's PatchDict needs the
# annotations evaluated at import time to build its partial schema.

import datetime as dt
from typing import Any, Literal

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Router, Status

from hallboard.alerts import delivery
from hallboard.api.errors import ApiError, ErrorOut, forbidden, invalid, not_found
from hallboard.api.idempotency import idempotent
from hallboard.api.schema import PatchDict, Schema
from hallboard.api.scoping import get_in_school, principal, save_validated, school_for
from hallboard.display.ratelimit import limiter
from hallboard.schools.access import Right
from hallboard.schools.models import Organisation, School
from hallboard.screens import pairing
from hallboard.screens.models import COMMAND_TTL, Command, Screen
from hallboard.screens.status import state_of
from hallboard.staff import frames
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
    next_day: Screen.NextDay = Field(
        Screen.NextDay.AFTER, description="Show the next school day: never, after, always."
    )
    next_day_from: dt.time = Field(
        dt.time(14, 0), description="With 'after': from this school time on."
    )
    large_text: bool = Field(False, description="Larger letters for longer viewing distances.")
    hide_past_periods: bool = Field(True, description="Changes of past periods leave the list.")


class CommandOut(Schema):
    id: int
    screen: int
    name: str
    payload: dict[str, Any]
    status: str = Field(
        description="pending, delivered, acknowledged, or expired (still pending after "
        "10 minutes: it will not be delivered any more); hidden: an identify or message "
        "that reached the screen while it showed an emergency alert, which covered it."
    )
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    hidden_by: int | None = Field(
        None, description="With status hidden: the alert the screen showed over it."
    )


class ScreenOut(Schema):
    id: int
    school: str = Field(description="The school's slug.")
    name: str
    location: str
    view: str
    classes: list[str]
    grades: list[int]
    hide_teacher_names: bool
    orientation: str
    allow_multi_device: bool | None
    next_day: str
    next_day_from: dt.time
    large_text: bool
    hide_past_periods: bool
    status: Literal["online", "stale", "offline"]
    status_reason: str
    status_since: dt.datetime | None = Field(description="Since when, where it is known.")
    bound: bool
    bound_at: dt.datetime | None
    last_heartbeat_at: dt.datetime | None
    revision_shown: int | None
    school_revision: int
    connection_mode: str
    push_refused_code: int | None
    push_refused_at: dt.datetime | None
    client_info: dict[str, Any] = Field(
        description="What the display last reported: uptime_s and its health figures."
    )
    has_token: bool
    token_issued_at: dt.datetime | None
    last_command: CommandOut | None


class ScreenCreated(ScreenOut):
    token: str = Field(description="Shown once: only its hash is stored.")
    display_url: str


class TokenOut(Schema):
    token: str = Field(description="Shown once: only its hash is stored.")
    display_url: str


class CommandIn(Schema):
    name: Command.Name
    payload: dict[str, Any] = Field(default_factory=dict)


def display_url(token: str) -> str:
    return f"{settings.PUBLIC_URL}/display/?token={token}"


def _out(screen: Screen, school: School, last_command: Command | None = None) -> dict[str, Any]:
    now = timezone.now()
    state = state_of(screen, school.revision, school.revision_changed_at, now, school.tz)
    return {
        "id": screen.pk,
        "school": school.slug,
        "name": screen.name,
        "location": screen.location,
        "view": screen.view,
        "classes": [c.name for c in screen.classes.all()],
        "grades": screen.grades,
        "hide_teacher_names": screen.hide_teacher_names,
        "orientation": screen.orientation,
        "allow_multi_device": screen.allow_multi_device,
        "next_day": screen.next_day,
        "next_day_from": screen.next_day_from,
        "large_text": screen.large_text,
        "hide_past_periods": screen.hide_past_periods,
        "status": state.status,
        "status_reason": state.reason,
        "status_since": state.since,
        "bound": screen.device_key is not None,
        "bound_at": screen.bound_at,
        "last_heartbeat_at": screen.last_heartbeat_at,
        "revision_shown": screen.revision_shown,
        "school_revision": school.revision,
        "connection_mode": screen.connection_mode,
        "push_refused_code": screen.push_refused_code,
        "push_refused_at": screen.push_refused_at,
        "client_info": screen.client_info or {},
        "has_token": screen.token_hash is not None,
        "token_issued_at": screen.token_issued_at,
        "last_command": _command_out(last_command, now) if last_command else None,
    }


def _with_last_commands(screens: QuerySet[Screen]) -> list[tuple[Screen, Command | None]]:
    """Each screen with its latest command, in two queries whatever the number of screens."""
    latest = Command.objects.filter(screen=OuterRef("pk")).order_by("-created_at", "-pk")
    rows = list(screens.annotate(last_command_id=Subquery(latest.values("pk")[:1])))
    commands = Command.objects.in_bulk([s.last_command_id for s in rows if s.last_command_id])
    return [(s, commands.get(s.last_command_id)) for s in rows]


def _last_command(screen: Screen) -> Command | None:
    return screen.commands.order_by("-created_at", "-pk").first()


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
    return [_out(s, school, command) for s, command in _with_last_commands(screens)]


@router.get("/organisations/{slug}/screens", response=list[ScreenOut])
def list_organisation_screens(request: HttpRequest, slug: str) -> list[dict[str, Any]]:
    """Every screen of the organisation's schools in which you hold the screens right."""
    who = principal(request)
    organisation = Organisation.objects.filter(
        slug=slug, pk__in=who.schools(Right.VIEW).values("organisation_id")
    ).first()
    if organisation is None:
        raise not_found("organisation")
    schools = who.schools(Right.SCREENS).filter(organisation=organisation)
    if not schools.exists():
        raise forbidden(Right.SCREENS.value)
    screens = (
        Screen.objects.filter(school__in=schools)
        .select_related("school")
        .prefetch_related("classes")
        .order_by("school__name", "name", "pk")
    )
    return [_out(s, s.school, command) for s, command in _with_last_commands(screens)]


def _fresh_token(request: HttpRequest, answer: dict[str, Any]) -> dict[str, Any]:
    """A replayed create (same Idempotency-Key): the stored answer, with a new token (the
    first is never stored, so it cannot be shown again; it stops working)."""
    school = school_for(request, answer["school"], Right.SCREENS)
    token = _screen(school, int(answer["id"])).issue_token()
    return {**answer, "token": token, "display_url": display_url(token)}


@router.post("/schools/{slug}/screens", response={201: ScreenCreated})
@idempotent(secret=("token", "display_url"), on_replay=_fresh_token)
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
    screen = _screen(school, pk)
    return _out(screen, school, _last_command(screen))


def _update(request: HttpRequest, slug: str, pk: int, data: dict[str, Any]) -> dict[str, Any]:
    school = school_for(request, slug, Right.SCREENS)
    with transaction.atomic():
        screen = _screen(school, pk, lock=True)
        _apply(screen, school, data)
    school.refresh_from_db(fields=["revision"])
    return _out(screen, school, _last_command(screen))


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
    return _out(screen, school, _last_command(screen))


@router.post("/schools/{slug}/screens/{pk}/reset-binding", response=ScreenOut)
def reset_binding(request: HttpRequest, slug: str, pk: int) -> dict[str, Any]:
    """Unbind the device: the next device that presents the token binds the screen."""
    school = school_for(request, slug, Right.SCREENS)
    screen = _screen(school, pk)
    screen.reset_binding()
    frames.screen_event(school.pk, screen.pk, "binding")
    return _out(screen, school, _last_command(screen))


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


def _command_out(c: Command, now: dt.datetime) -> dict[str, Any]:
    status = c.status
    if status == Command.Status.PENDING and now - c.created_at > COMMAND_TTL:
        status = Command.Status.EXPIRED  # the gateway no longer delivers it
    hidden_by = None
    reached = c.acknowledged_at or c.delivered_at
    if c.name != Command.Name.RELOAD and reached is not None:
        # An alert covers what identify and message show: reported as hidden, not seen.
        hidden_by = delivery.alert_shown_on(c.screen_id, reached)
        if hidden_by is not None:
            status = "hidden"
    return {
        "id": c.pk,
        "screen": c.screen_id,
        "name": c.name,
        "payload": c.payload,
        "status": status,
        "created_at": c.created_at,
        "delivered_at": c.delivered_at,
        "acknowledged_at": c.acknowledged_at,
        "hidden_by": hidden_by,
    }


@router.post("/schools/{slug}/screens/{pk}/commands", response={201: CommandOut})
@idempotent
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
    return Status(201, _command_out(command, timezone.now()))


@router.get("/schools/{slug}/screens/{pk}/commands", response=list[CommandOut])
def list_commands(request: HttpRequest, slug: str, pk: int) -> list[dict[str, Any]]:
    school = school_for(request, slug, Right.SCREENS)
    now = timezone.now()
    return [_command_out(c, now) for c in _screen(school, pk).commands.all()[:100]]


@router.post("/schools/{slug}/commands", response={201: list[CommandOut]})
@idempotent
def send_school_command(
    request: HttpRequest, slug: str, payload: CommandIn
) -> Status[list[dict[str, Any]]]:
    """Send the command to every screen of the school that has a token, one command each.

    Each is delivered and acknowledged on its own (see the single-screen
    endpoint); the answer lists them, one per screen, to follow up.
    """
    school = school_for(request, slug, Right.SCREENS)
    data = _validate_command(payload.name, payload.payload)
    user = principal(request).user_or_none
    with transaction.atomic():
        screens = Screen.objects.filter(school=school, token_hash__isnull=False).order_by("pk")
        commands = [
            Command.objects.create(screen=s, name=payload.name, payload=data, created_by=user)
            for s in screens
        ]
    now = timezone.now()
    return Status(201, [_command_out(c, now) for c in commands])


class PairIn(Schema):
    code: str = Field(min_length=4, max_length=12, description="The code shown on the display.")


class PairOut(Schema):
    status: str
    screen: int


@router.post("/schools/{slug}/screens/{pk}/pair", response={200: PairOut, 409: ErrorOut})
@idempotent
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
