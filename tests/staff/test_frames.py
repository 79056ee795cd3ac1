"""Staff frames published by the web side, after commit, on each change a dashboard shows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pytest
from django.utils import timezone

from hallboard.realtime import publish
from hallboard.realtime.core import events
from hallboard.screens import pairing
from hallboard.screens.models import Screen
from hallboard.timetable.models import Announcement
from tests.conftest import KeyFactory, Tenant, make_screen, make_user, signed_in
from tests.display.conftest import ScreenClient

Frames = list[tuple[str, dict[str, Any]]]


@pytest.fixture(autouse=True)
def generous_rate_limit(settings: Any) -> None:
    settings.DISPLAY_RATE_LIMIT = "10000/second"


# Real commits: after-commit callbacks run when each change commits, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def frames(monkeypatch: pytest.MonkeyPatch) -> Frames:
    """Every staff frame published from now on: (topic, frame)."""
    published: Frames = []
    real = publish.publish_many

    def record(batch: Iterable[events.Event]) -> None:
        batch = list(batch)
        for event in batch:
            if isinstance(event, events.StaffFrames):
                published.extend((event.topic, frame) for frame in event.frames)
        real(batch)

    monkeypatch.setattr(publish, "publish_many", record)
    return published


def screen_events(published: Frames, screen: Screen | int) -> list[str]:
    screen_id = screen if isinstance(screen, int) else screen.pk
    return [f["event"] for _, f in published if f["type"] == "screen" and f["screen"] == screen_id]


def test_frames_go_to_the_screens_school_dashboard_only(tenant: Tenant, frames: Frames) -> None:
    """A frame about an alpha screen is published on dash:<alpha> and nowhere else."""
    screen, token = make_screen(tenant.school)
    frames.clear()
    ScreenClient(token).heartbeat({"rev": 1, "mode": "poll"})
    assert frames == [
        (
            f"dash:{tenant.school.pk}",
            {
                "type": "screen",
                "school": tenant.school.pk,
                "screen": screen.pk,
                "event": "heartbeat",
            },
        )
    ]


def test_a_heartbeat_is_news_when_the_screen_comes_online(tenant: Tenant, frames: Frames) -> None:
    """The first heartbeat of a screen, and the first after it went offline, are published."""
    screen, token = make_screen(tenant.school)
    client = ScreenClient(token)
    frames.clear()
    client.heartbeat({"rev": 1, "mode": "poll"})
    assert screen_events(frames, screen) == ["heartbeat"]
    long_ago = timezone.now() - dt.timedelta(seconds=91)
    Screen.objects.filter(pk=screen.pk).update(last_heartbeat_at=long_ago)
    frames.clear()
    client.heartbeat({"rev": 1, "mode": "poll"})
    assert screen_events(frames, screen) == ["heartbeat"]


def test_an_unchanged_heartbeat_publishes_nothing(tenant: Tenant, frames: Frames) -> None:
    """Same revision, same mode, screen online: only the figures change, no frame."""
    screen, token = make_screen(tenant.school)
    client = ScreenClient(token)
    client.heartbeat({"rev": 4, "mode": "ws", "uptime_s": 10})
    frames.clear()
    client.heartbeat({"rev": 4, "mode": "ws", "uptime_s": 40, "health": {"errors": 1}})
    client.heartbeat({"uptime_s": 70})  # says nothing about revision or mode
    assert frames == []
    assert Screen.objects.get(pk=screen.pk).client_info["uptime_s"] == 70


@pytest.mark.parametrize("change", [{"rev": 5, "mode": "ws"}, {"rev": 4, "mode": "poll"}])
def test_a_heartbeat_with_a_new_revision_or_mode_is_news(
    tenant: Tenant, frames: Frames, change: dict[str, Any]
) -> None:
    """Another revision shown, or a switch between push and polling, is published."""
    screen, token = make_screen(tenant.school)
    client = ScreenClient(token)
    client.heartbeat({"rev": 4, "mode": "ws"})
    frames.clear()
    client.heartbeat(change)
    assert screen_events(frames, screen) == ["heartbeat"]


def test_a_refused_heartbeat_publishes_nothing(tenant: Tenant, frames: Frames) -> None:
    """A heartbeat answered 400 changes nothing and tells no one."""
    _, token = make_screen(tenant.school)
    frames.clear()
    assert ScreenClient(token).heartbeat({"rev": -1}).status_code == 400
    assert frames == []


def test_revision_frames_follow_each_committed_revision(tenant: Tenant, frames: Frames) -> None:
    """An edit sends the school's dashboards its new revision."""
    Announcement.objects.create(school=tenant.school, title="News")
    rev = type(tenant.school).objects.get(pk=tenant.school.pk).revision
    assert (
        f"dash:{tenant.school.pk}",
        {"type": "revision", "school": tenant.school.pk, "rev": rev},
    ) in frames


def test_screen_created_edited_and_deleted_through_the_api(
    tenant: Tenant, frames: Frames, api_as: KeyFactory
) -> None:
    """Create, edit and delete each tell the school's dashboards."""
    client = api_as("admin")
    created = client.post("schools/alpha/screens", {"name": "Foyer"}).json()
    assert "changed" in screen_events(frames, created["id"])
    frames.clear()
    client.patch(f"schools/alpha/screens/{created['id']}", {"location": "Ground floor"})
    assert screen_events(frames, created["id"]) == ["changed"]
    frames.clear()
    client.delete(f"schools/alpha/screens/{created['id']}")
    assert screen_events(frames, created["id"]) == ["deleted"]


def test_binding_reset_and_token_changes_through_the_api(
    tenant: Tenant, frames: Frames, api_as: KeyFactory
) -> None:
    """Reset binding → binding; rotate and revoke → token."""
    screen, _ = make_screen(tenant.school)
    client = api_as("admin")
    frames.clear()
    client.post(f"schools/alpha/screens/{screen.pk}/reset-binding")
    assert screen_events(frames, screen) == ["binding"]
    frames.clear()
    client.post(f"schools/alpha/screens/{screen.pk}/rotate-token")
    assert screen_events(frames, screen) == ["token"]
    frames.clear()
    client.post(f"schools/alpha/screens/{screen.pk}/revoke-token")
    assert screen_events(frames, screen) == ["token"]


def test_binding_reset_and_rotation_in_the_admin(tenant: Tenant, frames: Frames) -> None:
    """The admin's actions publish the same frames as the API."""
    screen, _ = make_screen(tenant.school)
    client = signed_in(make_user("alpha-admin", "admin", school=tenant.school))
    frames.clear()
    for action, event in (("reset_binding", "binding"), ("rotate_token", "token")):
        client.post("/admin/screens/screen/", {"action": action, "_selected_action": [screen.pk]})
        assert screen_events(frames, screen) == [event], action
        frames.clear()


def test_a_screen_moved_to_another_school_leaves_the_old_dashboard(
    tenant: Tenant, frames: Frames
) -> None:
    """Moving a screen: deleted on the old school's dashboard, changed on the new one's."""
    screen, _ = make_screen(tenant.school)
    frames.clear()
    screen.school = tenant.other_school
    screen.save()
    moved = [(t, f["event"]) for t, f in frames if f["type"] == "screen"]
    assert moved == [
        (f"dash:{tenant.school.pk}", "deleted"),
        (f"dash:{tenant.other_school.pk}", "changed"),
    ]


def test_pairing_claimed_and_picked_up(tenant: Tenant, frames: Frames) -> None:
    """Claiming a code tells the dashboard (binding); the pick-up binds and issues a token."""
    screen, _ = make_screen(tenant.school)
    code, secret = pairing.start("device-new0001")
    frames.clear()
    pairing.claim(code.code, screen)
    assert screen_events(frames, screen) == ["binding"]
    frames.clear()
    pairing.pick_up(code.code, secret)
    assert sorted(screen_events(frames, screen)) == ["binding", "token"]


def test_nothing_is_published_when_the_transaction_rolls_back(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frames go out after commit only: a rolled-back edit tells no one."""
    from django.db import transaction

    published: list[str] = []
    monkeypatch.setattr(
        publish, "publish_many", lambda batch: published.extend(e.topic for e in batch)
    )
    screen, _ = make_screen(tenant.school)
    published.clear()

    def rename_then_fail() -> None:
        with transaction.atomic():
            screen.name = "Renamed"
            screen.save()
            raise RuntimeError

    with pytest.raises(RuntimeError):
        rename_then_fail()
    assert published == []
