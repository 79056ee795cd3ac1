"""Alert fixtures: members with a role, screens that acknowledge, frozen time, CAP samples."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from hallboard.realtime import publish
from hallboard.schools.models import Membership, School

SAMPLES = Path(__file__).parent / "cap_samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def make_member(school: School, role: str, username: str | None = None) -> Any:
    """A staff user holding ``role`` in ``school`` (more roles: add Memberships)."""
    user = get_user_model().objects.create_user(
        username or f"{role}-{school.slug}", password="a-long-password", is_staff=True
    )
    Membership.objects.create(user=user, school=school, role=role)
    return user


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def freeze(monkeypatch: pytest.MonkeyPatch) -> Callable[[dt.datetime], None]:
    """Set the server's idea of now (django.utils.timezone.now) to a fixed instant."""

    def set_now(instant: dt.datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: instant)

    return set_now


@pytest.fixture
def frames(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, dict[str, Any]]]:
    """Dashboard frames published (school id, frame), in order."""
    sent: list[tuple[int, dict[str, Any]]] = []
    monkeypatch.setattr(
        publish, "dashboard", lambda school_id, frame: sent.append((school_id, frame))
    )
    return sent
