"""Staff frames the web side publishes for live dashboards (CONTRACTS: "Staff frames").

A frame tells every dashboard watching a school that something it shows
changed; the page then re-reads that screen's row (status and reason computed
on the server) from the management API. Frames therefore carry ids and an
event name, never the status itself: the one place that decides a status is
``hallboard.screens.status``.

Frames go out after the transaction commits (a dashboard re-reading the row
at once must see the change) through ``hallboard.realtime.publish.dashboard``,
which never makes the change itself fail.

Events published here (the web side): ``heartbeat`` (an HTTP heartbeat that
changes what the dashboard shows), ``changed`` (created or edited),
``deleted``, ``binding`` (reset, pairing claimed or picked up), ``token``
(rotated or revoked), and ``revision`` frames. The gateway publishes
``connected``, ``disconnected``, ``refused`` and the ``command`` frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from django.db import transaction

from hallboard.realtime import publish

ScreenEvent = Literal[
    "connected", "disconnected", "heartbeat", "refused", "changed", "binding", "token", "deleted"
]


def screen_frame(
    school_id: int, screen_id: int, event: ScreenEvent, code: int | None = None
) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "screen",
        "school": school_id,
        "screen": screen_id,
        "event": event,
    }
    if code is not None:
        frame["code"] = code
    return frame


def revision_frame(school_id: int, revision: int) -> dict[str, Any]:
    return {"type": "revision", "school": school_id, "rev": revision}


def screen_event(school_id: int, screen_id: int, event: ScreenEvent) -> None:
    """Tell ``school_id``'s dashboards about ``screen_id``, once the transaction commits."""
    frame = screen_frame(school_id, screen_id, event)
    transaction.on_commit(lambda: publish.dashboard(school_id, frame), robust=True)


def revisions(revisions: Mapping[int, int]) -> None:
    """The schools' current revisions (school id → revision; sent after the commit that
    made them), one frame per school, in one batch."""
    publish.dashboards((school, revision_frame(school, rev)) for school, rev in revisions.items())
