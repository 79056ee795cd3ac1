"""Whether push (WebSocket) is enabled for a screen: the one place it is decided.

Order: the global switch (``PushSettings.enabled``, default ``DISPLAY_WS_ENABLED``)
turns push off everywhere; a school set to on or off decides for its screens;
otherwise the screen is in the rollout when a stable hash of its id falls below
``rollout_percent``. Snapshot ``meta.ws_enabled`` and the gateway's 4409 both
ask ``push_enabled``.
"""

from __future__ import annotations

import hashlib

from hallboard.schools.models import School
from hallboard.screens.models import PushSettings, Screen


def rollout_bucket(screen_id: int) -> int:
    """A stable number 0-99 for a screen: the same screen stays in or out as percentages grow."""
    digest = hashlib.sha256(f"hallboard-push:{screen_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100


def push_enabled_for(screen_id: int, school_push: str, flags: PushSettings | None = None) -> bool:
    flags = flags or PushSettings.current()
    if not flags.enabled:
        return False
    if school_push == School.Push.ON:
        return True
    if school_push == School.Push.OFF:
        return False
    return rollout_bucket(screen_id) < flags.rollout_percent


def push_enabled(screen: Screen, flags: PushSettings | None = None) -> bool:
    return push_enabled_for(screen.pk, screen.school.push, flags)
