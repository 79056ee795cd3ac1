"""Bad input to the management API is a 4xx JSON error naming the problem, never a 500.

The general fixes are tested through the fields the issue named: NUL characters in any
text (``hallboard.safejson``, the body parser), ``null`` for a field that cannot be null
on a partial update (``hallboard.api.schema.PatchDict``), timestamps with impossible UTC
offsets (``hallboard.api.schema.Schema``), and NUL in a URL (``hallboard.httperrors``).
Run them on PostgreSQL too: it is PostgreSQL that cannot store a NUL or an offset of 16 h.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hallboard.screens.models import Screen
from hallboard.timetable.models import Announcement
from tests.conftest import ApiClient, KeyFactory, Tenant


def raw(api: ApiClient, method: str, path: str, body: bytes) -> Any:
    return getattr(api.client, method)(
        f"/api/v1/{path}", data=body, content_type="application/json", headers=api.headers
    )


def locations(response: Any) -> list[list[Any]]:
    return [entry["loc"] for entry in response.json()["detail"]]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("schools/alpha/announcements", {"title": "A\x00"}, "title"),
        ("schools/alpha/announcements", {"title": "A", "body": "x\x00y"}, "body"),
        ("schools/alpha/screens", {"name": "Hall", "location": "\x00"}, "location"),
        ("schools/alpha/screens", {"name": "Hall", "classes": ["7a\x00"]}, "classes"),
        ("schools/alpha/alerts", {"headline": "Fire", "instructions": "\x00"}, "instructions"),
        (
            "schools/alpha/substitutions",
            {"date": "2030-01-07", "period": 1, "class": "7a", "kind": "note", "note": "\x00"},
            "note",
        ),
    ],
)
def test_a_nul_in_any_text_field_is_a_422_naming_it(
    tenant: Tenant, api_as: KeyFactory, path: str, body: dict[str, Any], field: str
) -> None:
    """NUL characters are refused wherever they are, with the field's location."""
    response = api_as("admin").post(path, body)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    assert locations(response)[0][:2] == ["body", field]


def test_a_nul_in_a_name_of_the_body_is_refused(tenant: Tenant, api_as: KeyFactory) -> None:
    response = raw(api_as("admin"), "post", "schools/alpha/announcements", b'{"ti\\u0000tle": "x"}')
    assert response.status_code == 422


def test_body_null_on_an_announcement_edit_is_a_422(tenant: Tenant, api_as: KeyFactory) -> None:
    """``"body": null`` cannot be stored: refused, the announcement unchanged."""
    api = api_as("office")
    pk = api.post("schools/alpha/announcements", {"title": "T", "body": "kept"}).json()["id"]
    response = api.patch(f"schools/alpha/announcements/{pk}", {"body": None})
    assert response.status_code == 422
    assert locations(response)[0][-1] == "body"
    assert Announcement.objects.get(pk=pk).body == "kept"


def test_ends_at_null_still_clears_an_end(tenant: Tenant, api_as: KeyFactory) -> None:
    """Fields that may be null still accept it on a partial update."""
    api = api_as("office")
    created = {"title": "T", "ends_at": "2030-01-07T10:00:00+01:00"}
    pk = api.post("schools/alpha/announcements", created).json()["id"]
    response = api.patch(f"schools/alpha/announcements/{pk}", {"ends_at": None})
    assert response.status_code == 200
    assert response.json()["ends_at"] is None


def test_grades_null_on_a_screen_edit_is_a_422(tenant: Tenant, api_as: KeyFactory) -> None:
    api = api_as("admin")
    pk = api.post("schools/alpha/screens", {"name": "Hall", "grades": [7]}).json()["id"]
    response = api.patch(f"schools/alpha/screens/{pk}", {"grades": None})
    assert response.status_code == 422
    assert Screen.objects.get(pk=pk).grades == [7]


def test_a_partial_update_keeps_the_field_constraints(tenant: Tenant, api_as: KeyFactory) -> None:
    """Lengths still apply on PATCH (an empty title, a 5000-character body)."""
    api = api_as("office")
    pk = api.post("schools/alpha/announcements", {"title": "T"}).json()["id"]
    assert api.patch(f"schools/alpha/announcements/{pk}", {"title": ""}).status_code == 422
    assert api.patch(f"schools/alpha/announcements/{pk}", {"body": "x" * 5000}).status_code == 422


@pytest.mark.parametrize("offset", ["+16:00", "-16:00", "+23:59", "+14:01", "-14:30"])
def test_a_timestamp_with_an_impossible_utc_offset_is_a_422(
    tenant: Tenant, api_as: KeyFactory, offset: str
) -> None:
    api = api_as("office")
    response = api.post(
        "schools/alpha/announcements", {"title": "T", "starts_at": f"2030-01-07T08:00:00{offset}"}
    )
    assert response.status_code == 422
    assert locations(response)[0][-1] == "starts_at"


@pytest.mark.parametrize("offset", ["+14:00", "-12:00", "+05:45", "Z"])
def test_real_utc_offsets_are_accepted(tenant: Tenant, api_as: KeyFactory, offset: str) -> None:
    response = api_as("office").post(
        "schools/alpha/announcements", {"title": "T", "starts_at": f"2030-01-07T08:00:00{offset}"}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"[" * 10000 + b"]" * 10000, 400, "invalid_json"),
        (b'{"title": "T", "priority": NaN}', 400, "invalid_json"),
        (b'{"title": "T", "priority": Infinity}', 400, "invalid_json"),
        (b'{"title": "T", "priority": 9223372036854775808}', 422, "validation_error"),
        (b"{", 400, "invalid_json"),
        (b"\xff", 400, "invalid_json"),
    ],
)
def test_malformed_deep_or_non_finite_json_is_a_4xx(
    tenant: Tenant, api_as: KeyFactory, body: bytes, status: int, error: str
) -> None:
    response = raw(api_as("office"), "post", "schools/alpha/announcements", body)
    assert response.status_code == status
    assert response.json()["error"] == error


def test_a_nul_in_the_url_is_a_400(tenant: Tenant, api_as: KeyFactory) -> None:
    response = api_as("office").get("schools/al%00pha/announcements")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_an_unknown_api_url_is_a_json_404(tenant: Tenant, api_as: KeyFactory) -> None:
    response = api_as("office").client.get("/api/v1/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_ids_beyond_64_bits_are_not_found(tenant: Tenant, api_as: KeyFactory) -> None:
    api = api_as("admin")
    assert api.get(f"schools/alpha/announcements/{2**70}").status_code == 404
    assert api.get(f"schools/alpha/alerts/audit?alert={2**70}").json() == []
    assert json.loads(api.get(f"schools/alpha/alerts/{2**64}").content)["error"] == "not_found"
