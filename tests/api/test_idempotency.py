"""Idempotency-Key: a retried create is answered from the first answer, never done twice."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from hallboard.api.idempotency import TTL
from hallboard.api.models import IdempotencyRecord
from hallboard.screens.models import Command, Screen
from hallboard.screens.tokens import hash_token
from hallboard.timetable.models import Announcement
from tests.conftest import ApiClient, KeyFactory, Tenant, make_screen, sample


def post(api: ApiClient, path: str, body: Any, key: str | None) -> Any:
    headers = {**api.headers, **({"Idempotency-Key": key} if key is not None else {})}
    return api.client.post(
        f"/api/v1/{path}", data=json.dumps(body), content_type="application/json", headers=headers
    )


def test_a_retry_with_the_same_key_gets_the_first_answer_and_creates_nothing(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """Same key twice: one announcement, and the second answer is the first (status and body)."""
    api = api_as("office")
    before = sample("hallboard_idempotent_replays_total")
    first = post(api, "schools/alpha/announcements", {"title": "Fire drill"}, "k-1")
    second = post(api, "schools/alpha/announcements", {"title": "Fire drill"}, "k-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert Announcement.objects.filter(title="Fire drill").count() == 1
    assert sample("hallboard_idempotent_replays_total") == before + 1


def test_without_a_key_or_with_another_key_each_request_creates(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """The header is opt-in: no key or a new key is a new create."""
    api = api_as("office")
    for key in (None, None, "a", "b"):
        assert post(api, "schools/alpha/announcements", {"title": "News"}, key).status_code == 201
    assert Announcement.objects.filter(title="News").count() == 4


def test_a_key_reused_for_another_body_is_refused(tenant: Tenant, api_as: KeyFactory) -> None:
    """Same key, different request: 422 idempotency_key_reused, nothing created."""
    api = api_as("office")
    assert post(api, "schools/alpha/announcements", {"title": "One"}, "k").status_code == 201
    response = post(api, "schools/alpha/announcements", {"title": "Two"}, "k")
    assert response.status_code == 422
    assert response.json()["error"] == "idempotency_key_reused"
    assert not Announcement.objects.filter(title="Two").exists()


@pytest.mark.parametrize("key", ["", "with space", "x" * 256, "tab\tkey", "ümlaut"])
def test_a_malformed_key_is_refused(tenant: Tenant, api_as: KeyFactory, key: str) -> None:
    """Keys are 1-255 printable ASCII characters: anything else is 400 invalid_idempotency_key."""
    api = api_as("office")
    response = post(api, "schools/alpha/announcements", {"title": "Bad key"}, key)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_idempotency_key"
    assert not Announcement.objects.filter(title="Bad key").exists()


def test_a_refused_create_is_not_recorded(tenant: Tenant, api_as: KeyFactory) -> None:
    """A create that failed validation can be fixed and retried with the same key."""
    api = api_as("office")
    refused = post(api, "schools/alpha/announcements", {"title": "x", "priority": 9}, "k")
    assert refused.status_code == 422
    fixed = post(api, "schools/alpha/announcements", {"title": "x", "priority": 2}, "k")
    assert fixed.status_code == 201


def test_keys_are_per_caller(tenant: Tenant, api_as: KeyFactory) -> None:
    """Two API keys using the same Idempotency-Key create two objects."""
    for api in (api_as("office"), api_as("admin")):
        assert (
            post(api, "schools/alpha/announcements", {"title": "Mine"}, "same").status_code == 201
        )
    assert Announcement.objects.filter(title="Mine").count() == 2


def test_an_expired_record_is_not_replayed(tenant: Tenant, api_as: KeyFactory) -> None:
    """After TTL the key is free again (and the old record is removed)."""
    api = api_as("office")
    assert post(api, "schools/alpha/announcements", {"title": "Old"}, "k").status_code == 201
    IdempotencyRecord.objects.update(created_at=timezone.now() - TTL - dt.timedelta(seconds=1))
    assert post(api, "schools/alpha/announcements", {"title": "Old"}, "k").status_code == 201
    assert Announcement.objects.filter(title="Old").count() == 2
    assert IdempotencyRecord.objects.count() == 1


def test_a_replayed_screen_create_gives_a_fresh_token_and_never_stores_one(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """The token is never stored: a replay answers the same screen with a new token, and
    the first token stops working."""
    api = api_as("admin")
    first = post(api, "schools/alpha/screens", {"name": "Hall"}, "screen-1").json()
    record = IdempotencyRecord.objects.get()
    assert first["token"] not in json.dumps(record.response)
    second = post(api, "schools/alpha/screens", {"name": "Hall"}, "screen-1").json()
    assert second["id"] == first["id"]
    assert second["token"] != first["token"]
    assert Screen.objects.filter(name="Hall").count() == 1
    assert Screen.objects.get().token_hash == hash_token(second["token"])


def test_commands_are_sent_once(tenant: Tenant, api_as: KeyFactory) -> None:
    """A retried command (one screen, or the whole school) is stored once."""
    api = api_as("admin")
    screen, _ = make_screen(tenant.school)
    for _ in range(2):
        post(api, f"schools/alpha/screens/{screen.pk}/commands", {"name": "reload"}, "c-1")
        post(api, "schools/alpha/commands", {"name": "identify"}, "c-2")
    assert Command.objects.filter(name="reload").count() == 1
    assert Command.objects.filter(name="identify").count() == 1


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_once(tenant: Tenant, api_as: KeyFactory) -> None:
    """Eight requests with the same key at once: one announcement, eight equal answers."""
    api = api_as("office")
    answers: list[Any] = []

    def send() -> None:
        try:
            client = ApiClient(client=Client())
            client.headers = api.headers
            answers.append(post(client, "schools/alpha/announcements", {"title": "Race"}, "race"))
        finally:
            connections.close_all()  # each thread has its own connection

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {a.status_code for a in answers} == {201}
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    assert Announcement.objects.filter(title="Race").count() == 1
