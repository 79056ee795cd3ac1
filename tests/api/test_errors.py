"""``hallboard.api.errors``: one error shape, ``{"error": code, "detail": ...}``, for the API."""

from __future__ import annotations

from ninja.errors import HttpError

from hallboard.api import errors
from tests.conftest import KeyFactory, Tenant


def test_an_api_error_carries_status_code_and_detail() -> None:
    """``ApiError`` is an ``HttpError`` with its status, a stable code and the human detail."""
    error = errors.ApiError(409, "conflict", "Already there.")
    assert isinstance(error, HttpError)
    assert (error.status_code, error.code, error.detail) == (409, "conflict", "Already there.")
    assert str(error) == "Already there."


def test_not_found_names_what_is_missing() -> None:
    """``not_found`` is a 404 ``not_found`` naming the kind of object."""
    error = errors.not_found("screen")
    assert (error.status_code, error.code, error.detail) == (404, "not_found", "No such screen.")
    assert errors.not_found().detail == "No such object."


def test_forbidden_names_the_missing_right() -> None:
    """``forbidden`` is a 403 ``forbidden`` naming the right the role lacks."""
    error = errors.forbidden("alert")
    assert (error.status_code, error.code) == (403, "forbidden")
    assert "'alert'" in error.detail


def test_invalid_is_a_422_locating_the_field_in_the_body() -> None:
    """``invalid`` is a 422 ``validation_error`` whose detail locates the field in the body."""
    error = errors.invalid("ends_at", "Must be after the start.")
    assert (error.status_code, error.code) == (422, "validation_error")
    assert error.detail == [{"loc": ["body", "ends_at"], "msg": "Must be after the start."}]


def test_the_api_answers_errors_in_the_one_shape(tenant: Tenant, api_as: KeyFactory) -> None:
    """Over HTTP an error is ``{"error", "detail"}`` with its status: another tenant's is 404."""
    response = api_as("viewer").get("schools/no-such-school/screens")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "No such school."}
    forbidden = api_as("viewer").post("schools/alpha/announcements", {"title": "Hi"})
    assert forbidden.status_code == 403
    assert forbidden.json()["error"] == "forbidden"
    assert set(forbidden.json()) == {"error", "detail"}
