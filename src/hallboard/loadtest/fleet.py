"""The screens a load test drives: a separate organisation, created in bulk, and its secrets file.

``hallboard loadtest setup`` creates an organisation (``loadtest`` by default)
with its schools, one announcement per school (what the ``api`` trigger edits)
and its screens, directly in the configured database with ``bulk_create``
(seconds for 10,000+ screens: a screen created one by one through the admin
or API would bump its school's revision and publish each time). Tokens are
generated and hashed exactly as ``Screen.issue_token`` does; each screen is
bound to its own device key unless ``--unbound`` (then the first connect binds
it, as a new display would).

The tokens, device keys and an admin API key of the organisation are written
to ``$HALLBOARD_DATA_DIR/loadtest/<org>.json`` with mode 0600: the run reads
it. ``hallboard loadtest cleanup`` deletes the organisation (every school,
screen and key in it, through the ORM so that open sockets are closed) and the
file. Nothing outside that organisation is touched.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hallboard.api.models import ApiKey
from hallboard.schools.models import Organisation, Role, School
from hallboard.screens import tokens
from hallboard.screens.models import Screen
from hallboard.timetable.models import Announcement

DEFAULT_ORG = "loadtest"
FILE_VERSION = 1


class FleetError(Exception):
    """Setup or loading refused, with what to do."""


@dataclass(frozen=True, slots=True)
class ScreenCredentials:
    id: int
    school: int
    token: str
    dk: str


@dataclass
class Fleet:
    """What ``setup`` created; the run reads it back from the secrets file."""

    org: str
    org_id: int
    schools: dict[int, str]  # id → slug
    announcements: dict[int, int]  # school id → announcement id (the api trigger edits it)
    screens: list[ScreenCredentials]
    api_key: str
    created_at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FILE_VERSION,
            "org": self.org,
            "org_id": self.org_id,
            "created_at": self.created_at,
            "api_key": self.api_key,
            "schools": [
                {"id": sid, "slug": slug, "announcement": self.announcements.get(sid)}
                for sid, slug in self.schools.items()
            ],
            "screens": [[s.id, s.school, s.token, s.dk] for s in self.screens],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fleet:
        if data.get("version") != FILE_VERSION:
            raise FleetError("the load-test file is from another version: run setup again")
        return cls(
            org=data["org"],
            org_id=int(data["org_id"]),
            schools={int(s["id"]): s["slug"] for s in data["schools"]},
            announcements={
                int(s["id"]): int(s["announcement"]) for s in data["schools"] if s["announcement"]
            },
            screens=[ScreenCredentials(int(i), int(sc), t, dk) for i, sc, t, dk in data["screens"]],
            api_key=data["api_key"],
            created_at=float(data["created_at"]),
        )


def fleet_path(org: str = DEFAULT_ORG) -> Path:
    return Path(settings.DATA_DIR) / "loadtest" / f"{org}.json"


def device_key(screen_id: int) -> str:
    return f"loadtest-{screen_id:08d}"


#: Screens created per transaction (whole schools). The connection's bounds
#: (``DATABASE_STATEMENT_TIMEOUT``: statement_timeout and
#: idle_in_transaction_session_timeout on PostgreSQL) are for requests; a
#: 50,000-screen setup in one transaction outlasted them on a busy machine.
#: Each chunk commits on its own, so none comes near them, at any size.
CHUNK_SCREENS = 2_000


def setup(
    schools: int,
    screens_per_school: int = 5,
    *,
    org: str = DEFAULT_ORG,
    replace: bool = False,
    bind: bool = True,
    path: Path | None = None,
    chunk_screens: int = CHUNK_SCREENS,
) -> tuple[Fleet, Path]:
    """Create the load-test organisation and write its secrets file (mode 0600).

    The schools are created in chunks of about ``chunk_screens`` screens, each in a
    transaction of its own, with the Python work (tokens and their hashes) done before
    it opens. A setup that fails part way deletes what it created (``cleanup``).
    """
    if schools < 1 or screens_per_school < 1:
        raise FleetError("--schools and --screens-per-school must be at least 1")
    path = path or fleet_path(org)
    if Organisation.objects.filter(slug=org).exists():
        if not replace:
            raise FleetError(
                f"organisation {org!r} exists: run `hallboard loadtest cleanup --org {org}` "
                "or pass --replace"
            )
        cleanup(org=org, path=path)
    now = timezone.now()
    organisation = Organisation.objects.create(slug=org, name=f"Load test ({org})")
    per_chunk = max(1, chunk_screens // screens_per_school)
    school_ids: dict[int, str] = {}
    announcements: dict[int, int] = {}
    credentials: list[ScreenCredentials] = []
    try:
        for first in range(1, schools + 1, per_chunk):
            numbers = range(first, min(first + per_chunk, schools + 1))
            # Outside the transaction: the tokens, and their hashes, of this chunk's screens.
            made = [[tokens.new_token() for _ in range(screens_per_school)] for _ in numbers]
            with transaction.atomic():
                chunk = _create_chunk(organisation, numbers, made, now, bind)
            school_ids.update(chunk[0])
            announcements.update(chunk[1])
            credentials += chunk[2]
        _, api_key = ApiKey.create(name="load test", organisation=organisation, role=Role.ADMIN)
    except BaseException:
        cleanup(org=org, path=path)  # half a fleet is none: nothing left behind
        raise
    fleet = Fleet(org, organisation.pk, school_ids, announcements, credentials, api_key)
    write(fleet, path)
    return fleet, path


def _create_chunk(
    organisation: Organisation,
    numbers: range,
    made: list[list[tuple[str, str]]],
    now: Any,
    bind: bool,
) -> tuple[dict[int, str], dict[int, int], list[ScreenCredentials]]:
    """Schools ``numbers`` with their announcement and screens (tokens ``made``, per school)."""
    org = organisation.slug
    slugs = [f"{org}-{n:05d}" for n in numbers]
    School.objects.bulk_create(
        [
            School(
                organisation=organisation,
                slug=slug,
                name=f"Load test school {n}",
                timezone="UTC",
            )
            for n, slug in zip(numbers, slugs, strict=True)
        ],
        batch_size=500,
    )
    by_slug = dict(
        School.objects.filter(organisation=organisation, slug__in=slugs).values_list("slug", "pk")
    )
    school_ids = {by_slug[slug]: slug for slug in slugs}
    # One announcement per school: the `api` trigger edits it (a real PATCH).
    Announcement.objects.bulk_create(
        [
            Announcement(school_id=sid, title="Load test", body="", starts_at=now)
            for sid in school_ids
        ],
        batch_size=500,
    )
    announcements = dict(
        Announcement.objects.filter(school_id__in=list(school_ids)).values_list("school_id", "pk")
    )
    rows = []
    for sid, pairs in zip(school_ids, made, strict=True):
        for n, (_, digest) in enumerate(pairs):
            rows.append(
                Screen(
                    school_id=sid,
                    name=f"Load test screen {n + 1}",
                    token_hash=digest,
                    token_issued_at=now,
                )
            )
    Screen.objects.bulk_create(rows, batch_size=1000)
    by_hash = dict(
        Screen.objects.filter(school_id__in=list(school_ids)).values_list("token_hash", "pk")
    )
    credentials = []
    for sid, pairs in zip(school_ids, made, strict=True):
        for token, digest in pairs:
            screen_id = by_hash[digest]
            credentials.append(ScreenCredentials(screen_id, sid, token, device_key(screen_id)))
    if bind:
        _bind(credentials, now)
    return school_ids, announcements, credentials


def _bind(credentials: list[ScreenCredentials], now: Any) -> None:
    """Bind every screen to its device key, as if each had connected once."""
    screens = [Screen(pk=c.id, device_key=c.dk, bound_at=now) for c in credentials]
    Screen.objects.bulk_update(screens, ["device_key", "bound_at"], batch_size=1000)


def write(fleet: Fleet, path: Path) -> None:
    """Write the secrets file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(fleet.to_json(), f, separators=(",", ":"))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load(path: Path) -> Fleet:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise FleetError(f"{path} not found: run `hallboard loadtest setup` first") from None
    except ValueError as exc:
        raise FleetError(f"{path} is not a load-test file: {exc}") from None
    return Fleet.from_json(data)


def cleanup(*, org: str = DEFAULT_ORG, path: Path | None = None) -> dict[str, int]:
    """Delete the load-test organisation with everything in it, and its secrets file."""
    path = path or fleet_path(org)
    organisation = Organisation.objects.filter(slug=org).first()
    counts: dict[str, int] = {"schools": 0, "screens": 0}
    if organisation is not None:
        counts["schools"] = School.objects.filter(organisation=organisation).count()
        counts["screens"] = Screen.objects.filter(school__organisation=organisation).count()
        organisation.delete()
    path.unlink(missing_ok=True)
    return counts


def describe(fleet: Fleet) -> dict[str, Any]:
    per_school = len(fleet.screens) // max(1, len(fleet.schools))
    return {
        "org": fleet.org,
        "schools": len(fleet.schools),
        "screens": len(fleet.screens),
        "screens_per_school": per_school,
    }
