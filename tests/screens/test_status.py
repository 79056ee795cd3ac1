"""Screen status: online, stale or offline, with the reason an admin reads."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.utils import timezone

from hallboard.schools.models import School
from hallboard.screens.status import counts_by_school, heartbeat_is_news, state_of
from tests.conftest import Tenant, make_screen

NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)


def screen(**fields: object) -> SimpleNamespace:
    base = {
        "last_heartbeat_at": NOW - dt.timedelta(seconds=10),
        "revision_shown": 7,
        "connection_mode": "ws",
        "push_refused_code": None,
    }
    return SimpleNamespace(**{**base, **fields})


def test_a_screen_that_never_sent_a_heartbeat_is_offline() -> None:
    """No heartbeat ever: offline, "never connected"."""
    state = state_of(screen(last_heartbeat_at=None), 7, NOW, NOW)
    assert (state.status, state.reason) == ("offline", "never connected")


def test_a_screen_silent_longer_than_the_limit_is_offline_since_its_last_heartbeat() -> None:
    """A heartbeat older than DISPLAY_OFFLINE_AFTER_SECONDS (90 s) makes it offline, since then."""
    last = NOW - dt.timedelta(seconds=91)
    state = state_of(screen(last_heartbeat_at=last), 7, NOW, NOW)
    assert state.status == "offline"
    assert state.reason == "no heartbeat since 07:58:29 UTC"
    assert state.since == last
    assert state_of(
        screen(last_heartbeat_at=NOW - dt.timedelta(seconds=89)), 7, NOW, NOW
    ).status == ("online")


def test_behind_within_the_grace_period_is_still_online() -> None:
    """Right after an edit every screen is briefly behind: not stale within 60 s."""
    changed = NOW - dt.timedelta(seconds=59)
    assert state_of(screen(revision_shown=6), 7, changed, NOW).status == "online"


def test_behind_after_the_grace_period_is_stale_with_both_revisions() -> None:
    """Still showing an older revision 60 s after the current one was made: stale."""
    changed = NOW - dt.timedelta(seconds=61)
    state = state_of(screen(revision_shown=5), 7, changed, NOW, dt.timezone(dt.timedelta(hours=1)))
    assert state.status == "stale"
    assert state.reason == "shows revision 5, current is 7 since 08:58:59"
    assert state.since == changed


def test_a_screen_that_reported_no_revision_is_stale_when_the_school_has_one() -> None:
    """Heartbeats without a revision (nothing shown yet) count as behind."""
    state = state_of(screen(revision_shown=None), 7, None, NOW)
    assert (state.status, state.reason) == ("stale", "shows no revision, current is 7")


def test_the_reason_names_the_mode_and_a_refused_push() -> None:
    """Online screens say how they hear of changes; a refused push names its close code."""
    assert state_of(screen(), 7, NOW, NOW).reason == "push connected"
    assert state_of(screen(connection_mode="poll"), 7, NOW, NOW).reason == "polling"
    refused = screen(connection_mode="poll", push_refused_code=4403)
    assert state_of(refused, 7, NOW, NOW).reason == (
        "polling: push refused with 4403 (bound to another device)"
    )


@pytest.mark.django_db
def test_counts_by_school_counts_each_status(tenant: Tenant) -> None:
    """Per school: how many screens are online, stale and offline."""
    school = School.objects.get(pk=tenant.school.pk)
    online, _ = make_screen(school, "A")
    stale, _ = make_screen(school, "B")
    make_screen(school, "C")  # never connected
    make_screen(tenant.other_school, "D")
    now = timezone.now()  # heartbeats after the tokens were issued
    school.refresh_from_db()
    from hallboard.screens.models import Screen

    Screen.objects.filter(pk=online.pk).update(
        last_heartbeat_at=now, revision_shown=school.revision
    )
    Screen.objects.filter(pk=stale.pk).update(last_heartbeat_at=now, revision_shown=0)
    School.objects.filter(pk=school.pk).update(revision_changed_at=now - dt.timedelta(minutes=5))
    counts = counts_by_school(Screen.objects.select_related("school"), now)
    assert counts[school.pk] == {"online": 1, "stale": 1, "offline": 1}
    assert counts[tenant.other_school.pk] == {"offline": 1}


def test_a_heartbeat_is_news_only_when_the_dashboard_would_show_something_else() -> None:
    """Coming back online, another revision shown or another mode is news; the rest is not."""
    online = screen(revision_shown=7, connection_mode="ws")
    assert not heartbeat_is_news(online, 7, "ws", NOW)
    assert not heartbeat_is_news(online, None, None, NOW)  # says nothing new
    assert heartbeat_is_news(online, 8, "ws", NOW)
    assert heartbeat_is_news(online, 7, "poll", NOW)
    assert heartbeat_is_news(screen(last_heartbeat_at=None), 7, "ws", NOW)
    gone = screen(last_heartbeat_at=NOW - dt.timedelta(seconds=91))
    assert heartbeat_is_news(gone, 7, "ws", NOW)


def test_a_screen_whose_token_was_revoked_or_rotated_since_it_was_heard_is_offline() -> None:
    """A display locked out by a revoked or rotated token shows nothing, whatever its last
    heartbeat: offline, and the reason says what it waits for."""
    revoked = state_of(screen(token_hash=None), 7, NOW, NOW)
    assert revoked.status == "offline"
    assert revoked.reason == "token revoked: needs a new display URL or pairing"
    rotated_at = NOW - dt.timedelta(seconds=5)
    rotated = state_of(screen(token_hash="h", token_issued_at=rotated_at), 7, NOW, NOW)
    assert rotated.status == "offline"
    assert rotated.reason == "new token since 07:59:55 UTC: waiting for the display to use it"
    assert rotated.since == rotated_at
    in_use = screen(token_hash="h", token_issued_at=NOW - dt.timedelta(seconds=60))
    assert state_of(in_use, 7, NOW, NOW).status == "online"
