"""The status fast path: the same answers as the Django view, from memory, never staler
than a refresh; anything unusual is Django's to answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from django.core.asgi import get_asgi_application
from django.db.models import F

from hallboard.display.fast_status import FastStatus, StatusCache
from hallboard.schools.models import School
from hallboard.screens.models import Screen
from hallboard.timetable.models import Announcement
from tests.conftest import Tenant, make_screen, sample
from tests.realtime.test_gateway import in_thread

pytestmark = pytest.mark.django_db(transaction=True)

DK = "device-0001"


class Spy:
    """The Django application, counting the requests that reach it."""

    def __init__(self) -> None:
        self.app = get_asgi_application()
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await self.app(scope, receive, send)


@pytest.fixture
def spy() -> Spy:
    return Spy()


@pytest.fixture
def cache() -> StatusCache:
    return StatusCache(background=False)  # tests refresh by hand


@pytest.fixture
async def client(spy: Spy, cache: StatusCache, settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings.DISPLAY_RATE_LIMIT = "1000/second"
    transport = httpx.ASGITransport(app=FastStatus(spy, cache))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield c


async def status(client: httpx.AsyncClient, token: str, dk: str = DK, **headers: str) -> Any:
    return await client.get(
        "/api/display/status/", params={"token": token, "dk": dk}, headers=headers
    )


async def test_a_known_bound_screen_is_answered_from_memory(
    client: httpx.AsyncClient, spy: Spy, tenant: Tenant
) -> None:
    """After the first poll (Django binds), polls are answered without Django, 200 then 304."""
    _, token = await in_thread(make_screen, tenant.school)
    first = await status(client, token)  # unbound: Django binds the device
    assert first.status_code == 200
    assert spy.calls == 1
    second = await status(client, token)
    assert second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["etag"] == first.headers["etag"]
    third = await status(client, token, **{"If-None-Match": first.headers["etag"]})
    assert third.status_code == 304
    assert third.content == b""
    assert spy.calls == 1  # both answered by the fast path


async def test_answers_match_the_django_view_byte_for_byte(
    client: httpx.AsyncClient, tenant: Tenant, settings: Any
) -> None:
    """Body, status, ETag and security headers are what the Django view sends."""
    _, token = await in_thread(make_screen, tenant.school)
    await status(client, token)  # bind
    fast = await status(client, token)
    settings.DISPLAY_STATUS_FAST_PATH = False
    slow = await status(client, token)
    assert fast.status_code == slow.status_code == 200
    assert fast.content == slow.content
    wanted = ["etag", "cache-control", "content-type", "content-length", "x-content-type-options"]
    wanted += ["referrer-policy", "cross-origin-opener-policy", "x-frame-options"]
    assert {h: fast.headers[h] for h in wanted} == {h: slow.headers[h] for h in wanted}


async def test_edits_in_this_process_show_at_once(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """An edit committed in this process changes the next answer (no refresh needed)."""
    _, token = await in_thread(make_screen, tenant.school)
    before = (await status(client, token)).json()["rev"]
    await in_thread(Announcement.objects.create, school=tenant.school, title="New")
    assert (await status(client, token)).json()["rev"] == before + 1


async def test_edits_elsewhere_show_after_a_refresh(
    client: httpx.AsyncClient, cache: StatusCache, tenant: Tenant
) -> None:
    """A revision bumped by another process is seen once the cache re-reads (each second)."""
    _, token = await in_thread(make_screen, tenant.school)
    before = (await status(client, token)).json()["rev"]
    # Another process's edit: no signal reaches this one.
    await in_thread(
        lambda: School.objects.filter(pk=tenant.school.pk).update(revision=F("revision") + 3)
    )
    await in_thread(cache.refresh)
    assert (await status(client, token)).json()["rev"] == before + 3


async def test_unusual_requests_are_djangos(
    client: httpx.AsyncClient, spy: Spy, tenant: Tenant
) -> None:
    """Unknown token, another device, missing key and a bad host get Django's own errors."""
    _, token = await in_thread(make_screen, tenant.school)
    await status(client, token)  # bind to DK
    calls = spy.calls
    unknown = await status(client, "hbs_nope")
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_token")
    other = await status(client, token, dk="device-9999")
    assert (other.status_code, other.json()["error"]) == (403, "screen_bound")
    missing = await client.get("/api/display/status/", params={"token": token})
    assert (missing.status_code, missing.json()["error"]) == (400, "missing_device_key")
    evil = await client.get(
        "/api/display/status/", params={"token": token, "dk": DK}, headers={"Host": "evil.example"}
    )
    assert evil.status_code == 400
    assert spy.calls == calls + 4


async def test_a_revoked_token_is_refused_at_once(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """Revoking in this process drops the cached credentials: the next poll is 401."""
    screen, token = await in_thread(make_screen, tenant.school)
    assert (await status(client, token)).status_code == 200
    assert (await status(client, token)).status_code == 200  # now from memory
    await in_thread(lambda: Screen.objects.get(pk=screen.pk).revoke_token())
    assert (await status(client, token)).status_code == 401


async def test_the_rate_limit_holds_on_the_fast_path(
    client: httpx.AsyncClient, spy: Spy, tenant: Tenant, settings: Any
) -> None:
    """Over the per-screen limit the fast path answers 429 with Retry-After, like the view."""
    settings.DISPLAY_RATE_LIMIT = "3/minute"
    _, token = await in_thread(make_screen, tenant.school)
    answers = [(await status(client, token)).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = await status(client, token)
    assert limited.json()["error"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    assert spy.calls == 1  # only the binding poll went through Django


async def test_switched_off_everything_goes_to_django(
    client: httpx.AsyncClient, spy: Spy, tenant: Tenant, settings: Any
) -> None:
    """DISPLAY_STATUS_FAST_PATH=false: every poll is Django's."""
    settings.DISPLAY_STATUS_FAST_PATH = False
    _, token = await in_thread(make_screen, tenant.school)
    for _ in range(3):
        assert (await status(client, token)).status_code == 200
    assert spy.calls == 3


async def test_a_token_revoked_elsewhere_is_refused_after_the_credentials_refresh(
    client: httpx.AsyncClient, cache: StatusCache, tenant: Tenant
) -> None:
    """Revoked by another process (no signal here): refused once the credentials are re-read."""
    screen, token = await in_thread(make_screen, tenant.school)
    assert (await status(client, token)).status_code == 200  # binds (Django)
    assert (await status(client, token)).status_code == 200  # cached
    # Another process revokes: only the database knows.
    await in_thread(lambda: Screen.objects.filter(pk=screen.pk).update(token_hash=None))
    assert (await status(client, token)).status_code == 200  # within CREDENTIALS_TTL
    await in_thread(cache.refresh, credentials=True)
    assert (await status(client, token)).status_code == 401


async def test_fast_answers_are_counted_like_djangos(
    client: httpx.AsyncClient, spy: Spy, tenant: Tenant
) -> None:
    """hallboard_display_requests_total counts the answers the fast path gives."""
    _, token = await in_thread(make_screen, tenant.school)
    first = await status(client, token)  # Django binds (and counts)
    name = "hallboard_display_requests_total"
    before_200 = sample(name, endpoint="status", code="200")
    before_304 = sample(name, endpoint="status", code="304")
    await status(client, token)
    await status(client, token, **{"If-None-Match": first.headers["etag"]})
    assert spy.calls == 1
    assert sample(name, endpoint="status", code="200") == before_200 + 1
    assert sample(name, endpoint="status", code="304") == before_304 + 1
