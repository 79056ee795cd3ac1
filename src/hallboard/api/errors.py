"""One error shape for the whole management API: ``{"error": code, "detail": ...}``."""

from __future__ import annotations

from typing import Any

from ninja import Schema
from ninja.errors import HttpError


class ErrorOut(Schema):
    """Every error answer of the API."""

    error: str
    detail: Any


class ApiError(HttpError):
    """An answer with a stable machine-readable ``code`` and a human ``detail``."""

    def __init__(self, status: int, code: str, detail: Any) -> None:
        super().__init__(status, str(detail))
        self.code = code
        self.detail = detail


def not_found(what: str = "object") -> ApiError:
    # Used for unknown objects and for other tenants' objects alike: the answer
    # never tells whether something exists where the caller may not look.
    return ApiError(404, "not_found", f"No such {what}.")


def forbidden(right: str) -> ApiError:
    return ApiError(403, "forbidden", f"Your role in this school does not include '{right}'.")


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "validation_error", [{"loc": ["body", field], "msg": message}])
