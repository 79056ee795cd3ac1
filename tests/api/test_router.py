"""Every status the management API answers is in its OpenAPI document, and none is a 5xx
other than 503, nor anything but JSON.

The test walks every operation of the generated document and sends it good and bad
requests: without credentials, with a role lacking the right, for another tenant's
school, for unknown and out-of-range ids, with a NUL in the URL, with malformed, deeply
nested and non-finite JSON, with every field of its body replaced by hostile values, with
a malformed Idempotency-Key, from an address throttled for failed keys, and with the
database failing. Each answer's status must be one the document lists for that operation.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection
from django.test import Client
from django.test.client import BOUNDARY, encode_multipart

from hallboard.alerts.models import Alert
from hallboard.api.models import ApiKey
from hallboard.api.router import api
from hallboard.screens.models import Command
from hallboard.timetable.models import Announcement
from tests.conftest import Tenant, make_screen

NOW = "2030-01-07T08:00:00+01:00"
DAY = "2030-01-07"

#: A request body each writing operation accepts (the walker also spoils each of its fields).
BODIES: dict[tuple[str, str], Any] = {
    ("post", "/schools/{slug}/announcements"): {"title": "Notice", "body": "Text"},
    ("put", "/schools/{slug}/announcements/{pk}"): {"title": "Notice", "body": "Text"},
    ("patch", "/schools/{slug}/announcements/{pk}"): {"body": "New text"},
    ("post", "/schools/{slug}/substitutions"): {
        "date": DAY,
        "period": 1,
        "class": "7a",
        "kind": "cancelled",
    },
    ("put", "/schools/{slug}/substitutions"): [
        {"date": DAY, "period": 1, "class": "7a", "kind": "note", "note": "x"}
    ],
    ("put", "/schools/{slug}/substitutions/{pk}"): {
        "date": DAY,
        "period": 2,
        "class": "8b",
        "kind": "cancelled",
    },
    ("patch", "/schools/{slug}/substitutions/{pk}"): {"note": "moved"},
    ("post", "/schools/{slug}/alerts"): {"headline": "Drill", "severity": "minor"},
    ("patch", "/schools/{slug}/alerts/{pk}"): {"instructions": "Stay calm"},
    ("post", "/schools/{slug}/screens"): {"name": "Hall", "grades": [7]},
    ("put", "/schools/{slug}/screens/{pk}"): {"name": "Hall", "view": "grades", "grades": [8]},
    ("patch", "/schools/{slug}/screens/{pk}"): {"location": "Foyer"},
    ("post", "/schools/{slug}/screens/{pk}/commands"): {"name": "identify"},
    ("post", "/schools/{slug}/commands"): {"name": "reload"},
    ("post", "/schools/{slug}/screens/{pk}/pair"): {"code": "ABCD2345"},
    ("put", "/schools/{slug}/calendar"): {"week_cycle": "A,B", "anchor": DAY, "region": "DE-BE"},
    ("post", "/schools/{slug}/calendar/terms"): {
        "name": "Spring",
        "starts_on": "2030-01-01",
        "ends_on": "2030-03-31",
    },
    ("post", "/schools/{slug}/calendar/closures"): {
        "name": "Snow day",
        "starts_on": DAY,
        "ends_on": DAY,
    },
    ("put", "/schools/{slug}/calendar/weeks/{week}"): {"label": "A"},
    ("post", "/schools/{slug}/calendar/ical"): {
        "ics": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
    },
    ("post", "/schools/{slug}/calendar/public-holidays"): {"years": [2030]},
    ("patch", "/push"): {"rollout_percent": 50},
    ("put", "/schools/{slug}/push"): {"push": "on"},
}
#: Operations whose body is not JSON (a CAP message is XML; an import is multipart).
MULTIPART = "multipart/form-data; boundary=" + BOUNDARY
RAW_BODIES = {
    ("post", "/schools/{slug}/alerts/cap"): b"<alert>not CAP</alert>",
    ("post", "/schools/{slug}/imports"): encode_multipart(
        BOUNDARY,
        {"files": SimpleUploadedFile("GPU001.TXT", b'1,"7a","MUE","MA","",1,1,,\n')},
    ),
}
RAW_TYPES = {("post", "/schools/{slug}/imports"): MULTIPART}

HOSTILE_VALUES: list[Any] = [
    None,
    "a\x00b",
    2**70,
    -1,
    "x" * 5000,
    {},
    [None, "a\x00"],
    "2030-01-07T08:00:00+16:00",
]
HOSTILE_BODIES: list[bytes] = [
    b"{",
    b"[" * 5000 + b"]" * 5000,
    b'{"title": NaN}',
    b'{"title": Infinity}',
    b"null",
    b"[]",
    b'"text"',
    b"\xff\xfe",
    b'{"a\\u0000": 1}',
]


def documented() -> dict[tuple[str, str], set[int]]:
    paths = api.get_openapi_schema(path_prefix="")["paths"]
    return {
        (method, path): {int(code) for code in operation["responses"]}
        for path, methods in paths.items()
        for method, operation in methods.items()
    }


class Walker:
    def __init__(self, tenant: Tenant, south: Tenant) -> None:
        self.client = Client(raise_request_exception=False)
        org, school = tenant.organisation, tenant.school
        self.admin = "Bearer " + ApiKey.create(name="a", organisation=org, role="admin")[1]
        self.viewer = "Bearer " + ApiKey.create(name="v", organisation=org, role="viewer")[1]
        screen, _ = make_screen(school)
        self.ids = {
            "announcements": Announcement.objects.create(school=school, title="A").pk,
            "alerts": Alert.objects.create(
                organisation=org, school=school, headline="Old", cleared_at=NOW
            ).pk,
            "screens": screen.pk,
        }
        for resource, path in (
            ("substitutions", "/schools/{slug}/substitutions"),
            ("terms", "/schools/{slug}/calendar/terms"),
            ("closures", "/schools/{slug}/calendar/closures"),
        ):
            created = self.client.post(
                self.url(path),
                data=json.dumps(BODIES[("post", path)]),
                content_type="application/json",
                headers={"Authorization": self.admin},
            )
            assert created.status_code == 201, (path, created.content)
            self.ids[resource] = created.json()["id"]
        Command.objects.create(screen=screen, name="reload")
        self.seen: dict[tuple[str, str], dict[int, list[str]]] = defaultdict(
            lambda: defaultdict(list)
        )

    def url(self, path: str, *, slug: str = "alpha", pk: str | None = None) -> str:
        resource = path.split("/{pk}")[0].rsplit("/", 1)[-1]
        concrete = (
            path.replace("{slug}", slug)
            .replace("{pk}", pk if pk is not None else str(self.ids.get(resource, 1)))
            .replace("{week}", "2030-W02")
        )
        return "/api/v1" + concrete

    def send(
        self,
        what: str,
        method: str,
        path: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        content_type: str = "application/json",
    ) -> None:
        if method == "get":
            response = self.client.get(url, headers=headers)
        else:
            response = getattr(self.client, method)(
                url, data=body or b"", content_type=content_type, headers=headers
            )
        status = response.status_code
        self.seen[(method, path)][status].append(what)
        if status != 204:
            assert response["Content-Type"].startswith("application/json"), (what, url, status)

    def walk(self, method: str, path: str, *, auth: str | None = None, label: str = "") -> None:
        auth = self.admin if auth is None else auth
        headers = {"Authorization": auth} if auth else {}
        raw = RAW_BODIES.get((method, path))
        body = BODIES.get((method, path))
        if method in ("post", "put", "patch") and raw is None and body is None:
            body = {}
        encoded = (
            raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        )
        kind = (
            RAW_TYPES.get((method, path), "application/cap+xml")
            if raw is not None
            else "application/json"
        )
        send = self.send
        send(label + "good", method, path, self.url(path), encoded, headers, kind)
        if label:
            return
        send("no credentials", method, path, self.url(path), encoded, {}, kind)
        send("viewer", method, path, self.url(path), encoded, {"Authorization": self.viewer}, kind)
        send("other tenant", method, path, self.url(path, slug="gamma"), encoded, headers, kind)
        send("unknown school", method, path, self.url(path, slug="nowhere"), encoded, headers, kind)
        send("NUL in URL", method, path, self.url(path, slug="al%00pha"), encoded, headers, kind)
        if "{pk}" in path:
            for pk in ("999999", str(2**70), "-1", "x"):
                send(f"pk {pk}", method, path, self.url(path, pk=pk), encoded, headers, kind)
        if method == "get":
            for query in ("?active=maybe", "?date=2030-13-45", "?limit=0", "?alert=" + str(2**70)):
                send("query " + query, method, path, self.url(path) + query, None, headers)
            return
        send(
            "bad idempotency key",
            method,
            path,
            self.url(path),
            encoded,
            {**headers, "Idempotency-Key": "has space"},
            kind,
        )
        if raw is not None:
            send("raw garbage", method, path, self.url(path), b"\x00\xff" * 10, headers, kind)
            return
        for hostile in HOSTILE_BODIES:
            send(f"body {hostile[:20]!r}", method, path, self.url(path), hostile, headers)
        fields = body[0] if isinstance(body, list) and body else body
        names = list(fields) if isinstance(fields, dict) else []
        extra = (
            ["starts_at", "ends_at", "expires_at", "grades", "payload"] if method == "post" else []
        )
        for name in [*names, *extra]:
            for value in HOSTILE_VALUES:
                spoiled = {**(fields or {}), name: value}
                document = [spoiled] if isinstance(body, list) else spoiled
                send(
                    f"{name}={value!r:.30}",
                    method,
                    path,
                    self.url(path),
                    json.dumps(document).encode(),
                    headers,
                )


@contextmanager
def database_failing() -> Iterator[None]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("the database went away")

    with connection.execute_wrapper(fail):
        yield


@pytest.fixture
def walker(tenant: Tenant, south: Tenant) -> Walker:
    return Walker(tenant, south)


def check(walker: Walker) -> None:
    docs = documented()
    undocumented = {
        f"{method.upper()} {path} → {status} (for {', '.join(sorted(set(whats))[:4])})"
        for (method, path), statuses in walker.seen.items()
        for status, whats in statuses.items()
        if status not in docs[(method, path)]
    }
    assert not undocumented, "answered but not in the OpenAPI document:\n" + "\n".join(
        sorted(undocumented)
    )


def operations() -> list[tuple[str, str]]:
    return sorted(documented())


def test_every_operation_has_an_example_body() -> None:
    """The walker knows a good request for every writing operation (add one for a new one)."""
    for method, path in operations():
        if method in ("post", "put", "patch") and (method, path) not in RAW_BODIES:
            has_body = (
                "requestBody" in api.get_openapi_schema(path_prefix="")["paths"][path][method]
            )
            assert not has_body or (method, path) in BODIES, (method, path)


def test_every_answer_of_every_operation_is_documented(walker: Walker) -> None:
    """Good and hostile requests to every operation: each status is in the document."""
    for method, path in operations():
        walker.walk(method, path)
    sent = sum(len(whats) for statuses in walker.seen.values() for whats in statuses.values())
    assert sent > 1000  # the walk really ran
    check(walker)
    for (method, path), statuses in walker.seen.items():
        assert not any(500 <= s < 600 for s in statuses), (method, path, dict(statuses))


def test_while_the_database_fails_every_operation_answers_503(walker: Walker) -> None:
    """A database error in any operation is 503 database_unavailable, documented."""
    with database_failing():
        for method, path in operations():
            walker.walk(method, path, label="database failing: ")
    check(walker)
    for (method, path), statuses in walker.seen.items():
        assert set(statuses) == {503}, (method, path, dict(statuses))


def test_a_throttled_address_gets_429_from_every_operation(walker: Walker, settings: Any) -> None:
    """After too many wrong API keys, every operation answers 429, documented."""
    settings.AUTH_FAILURE_RATE = "2/minute"
    for _ in range(2):
        walker.client.get("/api/v1/schools", headers={"Authorization": "Bearer hbk_wrong"})
    for method, path in operations():
        walker.walk(method, path, label="throttled: ")
    check(walker)
    for (method, path), statuses in walker.seen.items():
        assert set(statuses) == {429}, (method, path, dict(statuses))


def test_statuses_are_described_in_the_document() -> None:
    """Each documented error status has a description and the error schema."""
    for path, methods in api.get_openapi_schema(path_prefix="")["paths"].items():
        for method, operation in methods.items():
            for code, answer in operation["responses"].items():
                assert answer.get("description"), (method, path, code)
                if int(code) >= 400:
                    schema = answer["content"]["application/json"]["schema"]
                    assert "ErrorOut" in json.dumps(schema), (method, path, code)
