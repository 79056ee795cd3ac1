"""daphne serves this: the display socket on Channels, everything else on Django."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.seeds_stack.settings")

from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application
from django.urls import path

django_app = get_asgi_application()

from bench.seeds_stack.consumers import DisplayConsumer  # noqa: E402 - needs the apps loaded

application = ProtocolTypeRouter(
    {
        "http": django_app,
        "websocket": URLRouter([path("ws/display/", DisplayConsumer.as_asgi())]),
    }
)
