"""API answers in the school's zone: every time is ISO 8601 with the offset of the zone
the request is about (``hallboard.schools.zones``).

``school_for`` activates the zone of the school in the URL, so a school's
announcements, alerts, screens and audit log read ``2026-11-23T22:35:00+01:00``
in Berlin and ``2026-11-23T22:35:00Z`` in London. Answers that span schools
(an organisation's screens) are in the signed-in user's zone when all their
schools share one, else UTC (``Z``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder


class SchoolTimeEncoder(NinjaJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime) and timezone.is_aware(o):
            o = timezone.localtime(o)
        return super().default(o)


class SchoolTimeRenderer(JSONRenderer):
    encoder_class = SchoolTimeEncoder
