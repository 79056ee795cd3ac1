"""What the staff task pages share: JSON refusals, CSRF in JSON, the school of the URL,
the request body and the task links a user may open (staff.pages.tasks)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import RequestFactory
from django.utils.translation import gettext_lazy

from hallboard.schools.access import Right, for_user
from hallboard.schools.models import School
from hallboard.staff.pages.tasks import (
    MAX_BODY,
    MAX_SCHOOL_LINKS,
    Refused,
    body,
    json_view,
    school_with,
    signed_in,
    task_links,
)
from tests.conftest import Tenant, make_school, make_user, sample

factory = RequestFactory()


@json_view("testpage")
def echo(request: HttpRequest) -> HttpResponse:
    """A JSON endpoint that echoes the body, or refuses when asked to."""
    data = body(request)
    if data.get("refuse"):
        raise Refused(409, "busy", "Try later.")
    return JsonResponse({"got": data})


def post(data: bytes, **extra: Any) -> HttpRequest:
    request = factory.post("/x", data, content_type="application/json", **extra)
    request.user = AnonymousUser()
    return request


def csrf_off(request: HttpRequest) -> HttpRequest:
    request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
    return request


def refused(response: HttpResponse) -> tuple[int, str]:
    return response.status_code, json.loads(response.content)["error"]


def test_a_json_view_answers_a_refusal_in_json_with_a_log_line_and_a_metric(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Refused raised in the view becomes {"error", "detail"} with its status, not cached,
    one log line naming the page and code, and one count of the refusals metric."""
    before = sample("hallboard_staff_refusals_total", page="testpage", error="busy")
    with caplog.at_level(logging.INFO, logger="hallboard.staff"):
        response = echo(csrf_off(post(b'{"refuse": true}')))
    assert response.status_code == 409
    assert json.loads(response.content) == {"error": "busy", "detail": "Try later."}
    assert response["Cache-Control"] == "no-store"
    assert sample("hallboard_staff_refusals_total", page="testpage", error="busy") == before + 1
    lines = [r.getMessage() for r in caplog.records if r.name == "hallboard.staff"]
    assert len(lines) == 1
    assert "testpage" in lines[0]
    assert "busy" in lines[0]


def test_a_json_view_refuses_a_post_without_csrf_token_in_json() -> None:
    """A write without the CSRF token is a 403 csrf_failed JSON answer, not Django's page."""
    response = echo(post(b"{}"))
    assert refused(response) == (403, "csrf_failed")
    assert response["Content-Type"] == "application/json"


def test_a_json_view_lets_reads_through_without_csrf() -> None:
    """GET is not CSRF-checked: the view answers."""
    request = factory.get("/x")
    request.user = AnonymousUser()

    @json_view("testpage")
    def hello(request: HttpRequest) -> HttpResponse:
        return JsonResponse({"ok": True})

    assert hello(request).status_code == 200


def test_a_refusal_answers_its_extra_fields_too() -> None:
    """Refused with extra fields (a conflict's state now) answers them beside error and
    detail, with its status."""

    @json_view("testpage")
    def conflict(request: HttpRequest) -> HttpResponse:
        raise Refused(409, "conflict", "Changed meanwhile.", tag="7:1", lesson=3)

    request = factory.get("/x")
    request.user = AnonymousUser()
    response = conflict(request)
    assert response.status_code == 409
    assert json.loads(response.content) == {
        "error": "conflict",
        "detail": "Changed meanwhile.",
        "tag": "7:1",
        "lesson": 3,
    }


@json_view("testpage", method="POST", sign_in=True, csrf_detail=gettext_lazy("Reload."))
def strict(request: HttpRequest) -> dict[str, Any]:
    """A JSON endpoint answering POST to signed-in users only, returning a dict."""
    return {"ok": True}


def test_a_json_view_with_a_method_and_sign_in_checks_them_before_csrf(tenant: Tenant) -> None:
    """method: another is 405; sign_in: a signed-out user 401; both before the CSRF check,
    whose refusal says csrf_detail; a dict the view returns is JSON, not cached."""
    request = factory.get("/x")
    request.user = AnonymousUser()
    assert refused(strict(request)) == (405, "method_not_allowed")
    assert refused(strict(post(b"{}"))) == (401, "unauthorized")
    user = make_user("tt", "timetabler", school=tenant.school)
    request = post(b"{}")
    request.user = user
    response = strict(request)
    assert refused(response) == (403, "csrf_failed")
    assert json.loads(response.content)["detail"] == "Reload."
    request = csrf_off(post(b"{}"))
    request.user = user
    response = strict(request)
    assert json.loads(response.content) == {"ok": True}
    assert response["Cache-Control"] == "no-store"


def test_a_json_view_is_csrf_exempt_for_django_because_it_checks_itself() -> None:
    """The wrapped view is marked csrf_exempt (the check is done inside, answered in JSON)."""
    assert getattr(echo, "csrf_exempt", False) is True
    assert echo.__name__ == "echo"


def test_body_reads_a_json_object() -> None:
    """A JSON object body is returned as a dict."""
    response = echo(csrf_off(post(b'{"title": "Aula"}')))
    assert json.loads(response.content) == {"got": {"title": "Aula"}}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"{not json", (400, "invalid_json")),
        (b"[1, 2]", (400, "invalid_json")),
        (b"", (400, "invalid_json")),
        (b'{"a": "' + b"x" * MAX_BODY + b'"}', (413, "too_large")),
    ],
)
def test_body_refuses_what_is_not_a_small_json_object(
    data: bytes, expected: tuple[int, str]
) -> None:
    """Malformed JSON, a non-object, an empty body: 400 invalid_json; too large: 413."""
    assert refused(echo(csrf_off(post(data)))) == expected


def test_signed_in_refuses_anonymous_and_inactive_users(tenant: Tenant) -> None:
    """No signed-in, active user: Refused 401 unauthorized."""
    request = factory.get("/x")
    request.user = AnonymousUser()
    with pytest.raises(Refused) as error:
        signed_in(request)
    assert (error.value.status, error.value.code) == (401, "unauthorized")
    user = make_user("gone", "admin", school=tenant.school)
    user.is_active = False
    request.user = user
    with pytest.raises(Refused):
        signed_in(request)
    user.is_active = True
    request.user = user
    assert signed_in(request).can(Right.ALERT, tenant.school)


def test_school_with_hides_schools_the_user_cannot_see(tenant: Tenant) -> None:
    """Another school, or one that does not exist, is the same 404: existence not confirmed."""
    who = for_user(make_user("sam", "safety", school=tenant.school))
    for slug in (tenant.other_school.slug, "nowhere"):
        with pytest.raises(Refused) as error:
            school_with(who, slug, Right.ALERT)
        assert (error.value.status, error.value.code) == (404, "not_found")


def test_school_with_refuses_a_visible_school_without_the_right(tenant: Tenant) -> None:
    """A school the user sees but whose page their role lacks is 403 forbidden."""
    who = for_user(make_user("sam", "safety", school=tenant.school))
    assert school_with(who, tenant.school.slug, Right.ALERT) == tenant.school
    with pytest.raises(Refused) as error:
        school_with(who, tenant.school.slug, Right.ANNOUNCE)
    assert (error.value.status, error.value.code) == (403, "forbidden")


@pytest.mark.parametrize(
    ("role", "keys"),
    [
        ("admin", ["day", "emergency", "announcements"]),
        ("timetabler", ["day"]),
        ("safety", ["emergency"]),
        ("office", ["announcements"]),
        ("viewer", []),
    ],
)
def test_task_links_follow_the_roles_rights(tenant: Tenant, role: str, keys: list[str]) -> None:
    """Each role gets exactly the task pages it may open, in a fixed order."""
    user = make_user(f"u-{role}", role, school=tenant.school)
    assert [link.key for link in task_links(user)] == keys


def test_task_links_name_the_pages_and_lead_to_their_choosers(tenant: Tenant) -> None:
    """Links carry a label and the chooser URL; per-school links only when asked."""
    links = task_links(make_user("boss", "admin", school=tenant.school))
    assert [(link.label, link.url) for link in links] == [
        ("Today's changes", "/staff/day/"),
        ("Emergency", "/staff/emergency/"),
        ("Announcements", "/staff/announcements/"),
    ]
    assert all(link.schools == () for link in links)


def test_task_links_with_schools_link_each_school_by_name(tenant: Tenant) -> None:
    """with_schools adds (name, page URL) for every school of the right, sorted by name."""
    user = make_user("org-safety", "safety", organisation=tenant.organisation)
    [link] = task_links(user, with_schools=True)
    assert link.schools == (
        ("Alpha", "/staff/emergency/alpha/"),
        ("Beta", "/staff/emergency/beta/"),
    )


def test_task_links_with_schools_are_capped(tenant: Tenant) -> None:
    """At most MAX_SCHOOL_LINKS schools are linked per task (the landing page stays short)."""
    for n in range(MAX_SCHOOL_LINKS):
        make_school(tenant.organisation, f"s{n:02d}")
    user = make_user("org-office", "office", organisation=tenant.organisation)
    [link] = task_links(user, with_schools=True)
    assert School.objects.filter(organisation=tenant.organisation).count() > MAX_SCHOOL_LINKS
    assert len(link.schools) == MAX_SCHOOL_LINKS
