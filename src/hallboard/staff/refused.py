"""``Refused``: a refused staff request, raised by the staff pages and by what they call.

Its own module, importing nothing of hallboard, so that both the pages
(``staff.pages``) and the logic beneath them (``staff.daychanges``) raise it
without importing each other. ``staff.pages.tasks.refusal`` answers it: one log
line, ``hallboard_staff_refusals_total{page, error}`` and ``as_json()`` with its
status, not cached.
"""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    """A refused request: HTTP ``status``, a stable error ``code``, a ``detail`` for people,
    and ``extra`` JSON fields the answer carries too (e.g. a 409 conflict's state now)."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra

    def as_json(self) -> dict[str, Any]:
        """The answer's body: ``{"error", "detail", **extra}``."""
        return {"error": self.code, "detail": self.detail, **self.extra}
