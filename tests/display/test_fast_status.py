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
from tests.realtime.gateway.test_server import in_thread

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


# --- parity: the fast path and the Django view read and answer a request alike -------

#: Headers only Django's answers carry: the language middleware's (no status answer
#: depends on the language).
DJANGO_ONLY = {"vary", "content-language"}


async def fast_then_django(
    client: httpx.AsyncClient, settings: Any, spy: Spy, **request: Any
) -> tuple[httpx.Response, httpx.Response, bool]:
    """The same request with the fast path on, then off; and whether the fast path
    answered the first itself (Django was not called)."""
    calls = spy.calls
    fast = await client.get("/api/display/status/", **request)
    answered_fast = spy.calls == calls
    settings.DISPLAY_STATUS_FAST_PATH = False
    try:
        slow = await client.get("/api/display/status/", **request)
    finally:
        settings.DISPLAY_STATUS_FAST_PATH = True
    return fast, slow, answered_fast


def assert_same_answer(fast: httpx.Response, slow: httpx.Response) -> None:
    assert fast.status_code == slow.status_code
    if fast.status_code == 429:  # the detail names the seconds left, which may tick over
        assert fast.json()["error"] == slow.json()["error"] == "rate_limited"
        assert abs(int(fast.headers["retry-after"]) - int(slow.headers["retry-after"])) <= 1
        ignored = DJANGO_ONLY | {"retry-after", "content-length"}
    else:
        assert fast.content == slow.content
        ignored = DJANGO_ONLY
    assert {k: v for k, v in fast.headers.items() if k not in ignored} == {
        k: v for k, v in slow.headers.items() if k not in ignored
    }


@pytest.mark.parametrize(
    ("case", "status_code", "fast_answers"),
    [
        ("plain", 200, True),
        ("if-none-match", 304, True),
        ("if-none-match star", 304, True),
        ("if-none-match list", 304, True),
        ("stale etag", 200, True),
        ("bearer and header key", 200, True),
        ("no device key", 400, False),
        ("malformed device key", 400, False),
        ("device key header twice", 400, False),
        ("no token", 401, False),
        ("unknown token", 401, False),
        ("another device", 403, False),
        ("token twice, the right one last", 200, True),
        ("token twice, the right one first", 401, False),
        ("device key twice, the right one last", 200, True),
        ("device key twice, the right one first", 403, False),
    ],
)
async def test_fast_path_and_django_answer_alike(
    client: httpx.AsyncClient,
    spy: Spy,
    tenant: Tenant,
    settings: Any,
    case: str,
    status_code: int,
    fast_answers: bool,
) -> None:
    """Every kind of request gets the same status, body and headers from the fast path as
    from the Django view; repeated query parameters mean their last value in both (as
    Django's QueryDict.get), repeated headers their values joined (as Django's ASGI
    handler). The fast path answers the common cases itself and leaves the rest to Django."""
    _, token = await in_thread(make_screen, tenant.school)
    bound = await status(client, token)  # Django binds DK
    etag = bound.headers["etag"]
    requests: dict[str, dict[str, Any]] = {
        "plain": {"params": {"token": token, "dk": DK}},
        "if-none-match": {"params": {"token": token, "dk": DK}, "headers": {"If-None-Match": etag}},
        "if-none-match star": {
            "params": {"token": token, "dk": DK},
            "headers": {"If-None-Match": "*"},
        },
        "if-none-match list": {
            "params": {"token": token, "dk": DK},
            "headers": {"If-None-Match": f'"old", {etag}'},
        },
        "stale etag": {"params": {"token": token, "dk": DK}, "headers": {"If-None-Match": '"old"'}},
        "bearer and header key": {
            "headers": {"Authorization": f"Bearer {token}", "X-Device-Key": DK}
        },
        "no device key": {"params": {"token": token}},
        "malformed device key": {"params": {"token": token, "dk": "short"}},
        "device key header twice": {
            "params": {"token": token},
            "headers": [("X-Device-Key", DK), ("X-Device-Key", DK)],
        },
        "no token": {"params": {"dk": DK}},
        "unknown token": {"params": {"token": "hbs_unknown", "dk": DK}},
        "another device": {"params": {"token": token, "dk": "device-9999"}},
        "token twice, the right one last": {
            "params": [("token", "hbs_unknown"), ("token", token), ("dk", DK)]
        },
        "token twice, the right one first": {
            "params": [("token", token), ("token", "hbs_unknown"), ("dk", DK)]
        },
        "device key twice, the right one last": {
            "params": [("token", token), ("dk", "device-9999"), ("dk", DK)]
        },
        "device key twice, the right one first": {
            "params": [("token", token), ("dk", DK), ("dk", "device-9999")]
        },
    }
    fast, slow, answered_fast = await fast_then_django(client, settings, spy, **requests[case])
    assert fast.status_code == status_code
    assert_same_answer(fast, slow)
    assert answered_fast is fast_answers


async def test_over_the_rate_limit_both_answer_429_alike(
    client: httpx.AsyncClient, spy: Spy, tenant: Tenant, settings: Any
) -> None:
    """Over the per-screen rate limit the fast path answers 429 itself, with the same
    body, Retry-After and security headers as the Django view."""
    settings.DISPLAY_RATE_LIMIT = "2/minute"
    _, token = await in_thread(make_screen, tenant.school)
    assert (await status(client, token)).status_code == 200  # Django binds
    assert (await status(client, token)).status_code == 200  # the fast path
    fast, slow, answered_fast = await fast_then_django(
        client, settings, spy, params={"token": token, "dk": DK}
    )
    assert fast.status_code == 429
    assert answered_fast
    assert_same_answer(fast, slow)
    for header in ("x-content-type-options", "referrer-policy", "x-frame-options"):
        assert header in fast.headers


async def test_an_address_with_too_many_wrong_tokens_is_refused_on_both(
    client: httpx.AsyncClient, spy: Spy, tenant: Tenant, settings: Any
) -> None:
    """An address throttled for wrong tokens (AUTH_FAILURE_RATE) is refused 429 even with
    a right token, by the fast path as by the view (hallboard.throttle)."""
    _, token = await in_thread(make_screen, tenant.school)
    assert (await status(client, token)).status_code == 200  # bound, cached
    settings.AUTH_FAILURE_RATE = "2/minute"
    wrong = [(await status(client, "hbs_wrong")).status_code for _ in range(3)]
    assert wrong == [401, 401, 429]  # two failures allowed, then the address waits
    fast, slow, answered_fast = await fast_then_django(
        client, settings, spy, params={"token": token, "dk": DK}
    )
    assert fast.status_code == 429
    assert answered_fast
    assert_same_answer(fast, slow)


# --- the table readers take: immutable, swapped whole ----------------------------------


async def test_a_reset_binding_takes_effect_on_the_fast_path_at_once(
    client: httpx.AsyncClient, spy: Spy, tenant: Tenant
) -> None:
    """Resetting a screen's binding drops it from this process's cache at once (no wait
    for the credentials refresh): the next device binds it, and the old device is then
    refused 403 by Django instead of answered 200 from memory."""
    screen, token = await in_thread(make_screen, tenant.school)
    assert (await status(client, token)).status_code == 200  # binds DK
    assert (await status(client, token)).status_code == 200  # from memory
    await in_thread(lambda: Screen.objects.get(pk=screen.pk).reset_binding())
    assert (await status(client, token, dk="device-2222")).status_code == 200  # binds anew
    old = await status(client, token)
    assert (old.status_code, old.json()["error"]) == (403, "screen_bound")


async def test_readers_hold_a_table_that_never_changes(
    client: httpx.AsyncClient, cache: StatusCache, tenant: Tenant
) -> None:
    """A reader's table is never changed under it: lookups, revisions, refreshes and
    forgets each swap in a new one; its mappings refuse writes."""
    screen, token = await in_thread(make_screen, tenant.school)
    await status(client, token)
    await status(client, token)
    held = cache.table
    screens, recent, schools = dict(held.screens), dict(held.recent), dict(held.schools)
    assert len(screens) + len(recent) == 1
    other, other_token = await in_thread(make_screen, tenant.school, name="Other")
    await status(client, other_token, dk="device-3333")
    await status(client, other_token, dk="device-3333")
    await in_thread(Announcement.objects.create, school=tenant.school, title="New")  # revision
    await in_thread(cache.refresh, credentials=True)
    cache.forget_screen(screen.pk)
    assert cache.table is not held
    assert (dict(held.screens), dict(held.recent), dict(held.schools)) == (
        screens,
        recent,
        schools,
    )
    with pytest.raises(TypeError):
        held.screens["x"] = held.screen(next(iter({**screens, **recent})))  # type: ignore[index]
    assert len(cache.screens) == 1  # only the other screen's token is left
    assert [s.screen_id for s in cache.screens.values()] == [other.pk]


async def test_a_refresh_does_not_bring_back_what_was_dropped_meanwhile(
    client: httpx.AsyncClient, cache: StatusCache, tenant: Tenant, monkeypatch: Any
) -> None:
    """A token dropped (revoked here) while the credentials refresh was reading the
    database stays dropped, although the refresh read it before the revocation."""
    screen, token = await in_thread(make_screen, tenant.school)
    await status(client, token)
    await status(client, token)
    read = StatusCache._read_credentials

    def read_then_revoke(digests: list[str]) -> Any:
        found = read(digests)
        Screen.objects.get(pk=screen.pk).revoke_token()  # signal: dropped from the cache
        return found

    monkeypatch.setattr(StatusCache, "_read_credentials", staticmethod(read_then_revoke))
    await in_thread(cache.refresh, credentials=True)
    assert cache.screens == {}
    assert (await status(client, token)).status_code == 401


async def test_security_headers_follow_a_change_of_the_settings(
    client: httpx.AsyncClient, tenant: Tenant, settings: Any
) -> None:
    """The security headers are built once, not per answer, yet a change of the settings
    they come from (X_FRAME_OPTIONS, SECURE_REFERRER_POLICY) shows in the next answer."""
    _, token = await in_thread(make_screen, tenant.school)
    await status(client, token)  # bind
    before = await status(client, token)
    assert before.headers["x-frame-options"] == settings.X_FRAME_OPTIONS
    settings.X_FRAME_OPTIONS = "SAMEORIGIN"
    settings.SECURE_REFERRER_POLICY = "no-referrer"
    after = await status(client, token)
    assert after.status_code == 200
    assert after.headers["x-frame-options"] == "SAMEORIGIN"
    assert after.headers["referrer-policy"] == "no-referrer"
