"""Defects the reliability tools found (docs/reliability.md), each fixed with this test."""

from __future__ import annotations

import pytest

from hallboard.screens.models import Screen
from tests.conftest import KeyFactory, Tenant


@pytest.mark.parametrize("method", ["post", "put", "patch"])
@pytest.mark.parametrize("value", ["08:00:00+05:00", "08:00Z", "14:30:00-03:00"])
def test_a_time_of_day_with_a_utc_offset_is_a_422_not_a_500(
    tenant: Tenant, api_as: KeyFactory, method: str, value: str
) -> None:
    """A screen's ``next_day_from`` with an offset is refused with 422 naming the field
    (found by schemathesis: SQLite raised "does not support timezone-aware times", a 500);
    nothing is stored."""
    api = api_as("admin")
    screen = Screen.objects.create(school=tenant.school, name="Hall")
    body = {"name": "Hall", "next_day_from": value}
    if method == "post":
        response = api.post("schools/alpha/screens", body)
    else:
        response = getattr(api, method)(f"schools/alpha/screens/{screen.pk}", body)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    assert response.json()["detail"][0]["loc"][-1] == "next_day_from"
    assert Screen.objects.filter(school=tenant.school).count() == 1


def test_a_time_of_day_without_an_offset_is_still_accepted(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """The school-local time is stored as given."""
    response = api_as("admin").post(
        "schools/alpha/screens", {"name": "Hall", "next_day_from": "13:15"}
    )
    assert response.status_code == 201
    assert response.json()["next_day_from"].startswith("13:15")


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",  # no boundary at all
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\u00e9",
    ],
)
def test_a_multipart_body_without_a_usable_boundary_is_a_400_not_a_500(
    tenant: Tenant, api_as: KeyFactory, content_type: str
) -> None:
    """An import posted as ``multipart/form-data`` with no (or a broken) boundary is refused
    with ``400 invalid_request`` as JSON (found by schemathesis: Django's
    MultiPartParserError reached the API's catch-all, a 500 "this is a bug")."""
    api = api_as("admin")
    response = api.client.post(
        "/api/v1/schools/alpha/imports",
        data=b"--x\r\n",
        content_type=content_type,
        headers=api.headers,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
