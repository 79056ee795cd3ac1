"""Data changes become events on the right topics, and only once the transaction commits
(hallboard.realtime.signals). Watched on the in-process bus, as a gateway hears them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from hallboard.alerts.models import Alert
from hallboard.realtime.brokers.memory import BUS
from hallboard.realtime.core import topics
from hallboard.schools.models import School
from hallboard.screens.models import Command, PushSettings, Screen
from hallboard.timetable.models import Announcement
from tests.conftest import Tenant, make_screen, revision_of

pytestmark = pytest.mark.django_db


class Listener:
    """Stands where a gateway's broker stands on the bus: every topic it names, as events."""

    def __init__(self, *names: str) -> None:
        self.topics = set(names)
        self.events: list[tuple[str, dict[str, Any]]] = []

    def receive_threadsafe(self, topic: str, data: bytes) -> None:
        self.events.append((topic, json.loads(data)))

    def kinds(self) -> list[tuple[str, str]]:
        return [(topic, event["e"]) for topic, event in self.events]


@pytest.fixture
def listen() -> Iterator[Callable[..., Listener]]:
    attached: list[Listener] = []

    def attach(*names: str) -> Listener:
        listener = Listener(*names)
        BUS.attach(listener)  # type: ignore[arg-type]  # the bus needs topics and one method
        attached.append(listener)
        return listener

    yield attach
    for listener in attached:
        BUS.detach(listener)  # type: ignore[arg-type]


def test_a_content_edit_invalidates_the_school_after_commit(
    tenant: Tenant, listen: Callable[..., Listener], django_capture_on_commit_callbacks: Any
) -> None:
    """An edit bumps the revision; its school's topic hears the new revision, once."""
    listener = listen(topics.school(tenant.school.pk))
    with django_capture_on_commit_callbacks(execute=True):
        Announcement.objects.create(school=tenant.school, title="News")
    assert listener.kinds() == [(topics.school(tenant.school.pk), "invalidate")]
    event = listener.events[0][1]
    assert (event["school"], event["rev"]) == (tenant.school.pk, revision_of(tenant.school))


def test_nothing_is_published_for_a_rolled_back_edit(
    tenant: Tenant, listen: Callable[..., Listener], django_capture_on_commit_callbacks: Any
) -> None:
    """A transaction that rolls back tells no screen anything."""
    listener = listen(topics.school(tenant.school.pk))

    def edit_then_fail() -> None:
        with transaction.atomic():
            Announcement.objects.create(school=tenant.school, title="Never")
            raise RuntimeError("rolled back")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        edit_then_fail()
    assert listener.events == []


def test_an_alert_and_its_all_clear_reach_the_school(
    tenant: Tenant, listen: Callable[..., Listener], django_capture_on_commit_callbacks: Any
) -> None:
    """A new alert is sent with what the school must show; its all-clear names it as
    cleared and carries no alert (none is left)."""
    listener = listen(topics.school(tenant.school.pk))
    with django_capture_on_commit_callbacks(execute=True):
        alert = Alert.objects.create(
            organisation=tenant.organisation, school=tenant.school, headline="Fire"
        )
    alerts = [event for _, event in listener.events if event["e"] == "alert"]
    assert len(alerts) == 1
    assert alerts[0]["alert"]["id"] == alert.pk
    assert alerts[0]["cleared"] is None
    listener.events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        alert.cleared_at = timezone.now()
        alert.save()
    alerts = [event for _, event in listener.events if event["e"] == "alert"]
    assert [(a["alert"], a["cleared"]) for a in alerts] == [(None, alert.pk)]


def test_a_command_goes_to_its_screen(
    tenant: Tenant, listen: Callable[..., Listener], django_capture_on_commit_callbacks: Any
) -> None:
    """A new command is published on its screen's topic with its id, name and payload;
    saving it again (its status changing) publishes nothing more."""
    screen, _ = make_screen(tenant.school)
    listener = listen(topics.screen(screen.pk))
    with django_capture_on_commit_callbacks(execute=True):
        command = Command.objects.create(screen=screen, name="message", payload={"text": "Hi"})
    assert listener.kinds() == [(topics.screen(screen.pk), "command")]
    event = listener.events[0][1]
    assert (event["id"], event["name"], event["payload"]) == (command.pk, "message", {"text": "Hi"})
    with django_capture_on_commit_callbacks(execute=True):
        command.status = Command.Status.DELIVERED
        command.save()
    assert len(listener.events) == 1


@pytest.mark.parametrize("change", ["revoke", "rotate", "delete"])
def test_lost_credentials_close_the_screens_sockets(
    tenant: Tenant,
    listen: Callable[..., Listener],
    django_capture_on_commit_callbacks: Any,
    change: str,
) -> None:
    """A revoked or rotated token, or a deleted screen: its sockets are told to close with
    4401 (every gateway holding one hears it)."""
    screen, _ = make_screen(tenant.school)
    listener = listen(topics.screen(screen.pk))
    with django_capture_on_commit_callbacks(execute=True):
        if change == "revoke":
            screen.revoke_token()
        elif change == "rotate":
            screen.issue_token()
        else:
            Screen.objects.get(pk=screen.pk).delete()
    closes = [event for _, event in listener.events if event["e"] == "close"]
    assert [(c["screen"], c["code"]) for c in closes] == [(screen.pk, 4401)]


@pytest.mark.parametrize("what", ["push settings", "school"])
def test_push_flag_changes_tell_every_gateway(
    tenant: Tenant,
    listen: Callable[..., Listener],
    django_capture_on_commit_callbacks: Any,
    what: str,
) -> None:
    """Saving the push settings or a school (its push switch) is a flags event on the
    control topic, which every gateway listens to."""
    listener = listen(topics.CONTROL)
    with django_capture_on_commit_callbacks(execute=True):
        if what == "push settings":
            settings_row = PushSettings.objects.first() or PushSettings()
            settings_row.save()
        else:
            school = School.objects.get(pk=tenant.school.pk)
            school.push = School.Push.OFF
            school.save()
    assert (topics.CONTROL, "flags") in listener.kinds()
