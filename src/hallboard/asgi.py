"""The one ASGI entry point of hallboard: Django, behind the status fast path and the probes."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hallboard.settings")

django_application = get_asgi_application()

from hallboard.display.fast_status import FastStatus  # noqa: E402 - needs Django set up
from hallboard.observability.readiness import Probes  # noqa: E402

# /healthz and /readyz never wait behind Django's thread (readiness.Probes).
application = Probes(FastStatus(django_application))
