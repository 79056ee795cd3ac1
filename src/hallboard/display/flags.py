"""Whether push (WebSocket) is enabled for a screen.

Today: the global ``DISPLAY_WS_ENABLED`` refined by the school's override.
The realtime layer adds percentage rollout here, so every caller (snapshot
``meta.ws_enabled``, the gateway's 4409 decision) asks this one function.
"""

from __future__ import annotations

from django.conf import settings

from hallboard.schools.models import School
from hallboard.screens.models import Screen


def push_enabled(screen: Screen) -> bool:
    school: School = screen.school
    if school.push == School.Push.ON:
        return True
    if school.push == School.Push.OFF:
        return False
    return bool(settings.DISPLAY_WS_ENABLED)
