"""``hallboard.observability.access``: who may read the metrics, and which schools' series."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from hallboard.observability import access
from hallboard.schools.models import Role
from tests.conftest import Tenant, make_user

TOKEN = "s3cret-metrics-token"


@pytest.fixture(autouse=True)
def _token(settings: Any) -> None:
    settings.METRICS_TOKEN = TOKEN


def _request(user: Any = None, authorization: str | None = None) -> Any:
    headers = {"Authorization": authorization} if authorization is not None else {}
    request = RequestFactory().get("/metrics", headers=headers)
    request.user = user if user is not None else AnonymousUser()
    return request


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER  {TOKEN} "])
def test_the_bearer_token_matches_whatever_the_scheme_case(header: str) -> None:
    """``Bearer <METRICS_TOKEN>`` matches, the scheme in any case, spaces around the token aside."""
    assert access.token_matches(header)


@pytest.mark.parametrize(
    "header", ["", TOKEN, f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer ", f"Token {TOKEN}"]
)
def test_anything_else_does_not_match(header: str) -> None:
    """A wrong token, another scheme, or the bare token does not match."""
    assert not access.token_matches(header)


def test_with_no_token_configured_nothing_matches(settings: Any) -> None:
    """With ``METRICS_TOKEN`` empty this way in is closed, even for an empty bearer token."""
    settings.METRICS_TOKEN = ""
    assert not access.token_matches("Bearer ")
    assert not access.token_matches("Bearer")


def test_a_scraper_with_the_token_sees_everything() -> None:
    """A request with the token is a ``token`` viewer of every school, no session needed."""
    assert access.viewer(_request(authorization=f"Bearer {TOKEN}")) == access.Viewer(None, "token")


def test_a_superuser_sees_everything(db: None) -> None:
    """A signed-in superuser is a viewer of every school."""
    viewer = access.viewer(_request(make_user("root", superuser=True)))
    assert viewer == access.Viewer(None, "superuser")


def test_staff_see_the_schools_they_may_view(tenant: Tenant) -> None:
    """Other staff see the series of the schools they may view, and only those."""
    viewer = access.viewer(_request(make_user("v", Role.VIEWER, school=tenant.school)))
    assert viewer == access.Viewer(frozenset({tenant.school.pk}), "staff")


def test_staff_without_schools_see_no_schools_series(db: None) -> None:
    """A staff user with no membership is still a viewer (process figures), of no school."""
    viewer = access.viewer(_request(make_user("lonely")))
    assert viewer == access.Viewer(frozenset(), "staff")


def test_anonymous_non_staff_and_inactive_users_may_not_see(tenant: Tenant) -> None:
    """No session, a user who is not staff, or a deactivated one: no viewer."""
    plain = make_user("p", Role.ADMIN, school=tenant.school)
    plain.is_staff = False
    plain.save()
    inactive = make_user("i", Role.ADMIN, school=tenant.school)
    inactive.is_active = False
    inactive.save()
    for user in (None, plain, inactive):
        assert access.viewer(_request(user)) is None
    wrong = _request(authorization="Bearer nope")
    assert access.viewer(wrong) is None


def test_unauthorized_is_a_json_401_with_a_challenge() -> None:
    """The refusal is a 401 JSON ``unauthorized``, with a Bearer challenge, never cached."""
    response = access.unauthorized()
    assert response.status_code == 401
    assert json.loads(response.content)["error"] == "unauthorized"
    assert response["WWW-Authenticate"] == 'Bearer realm="hallboard metrics"'
    assert response["Cache-Control"] == "no-store"
