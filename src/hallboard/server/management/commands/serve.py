"""``hallboard serve``: run hallboard for production behind a reverse proxy (ASGI, uvicorn).

The realtime layer will add the WebSocket gateway to this command (and a
``--role`` option to run web and gateway separately); today it serves the web
application: admin, display HTTP protocol and management API.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from hallboard.server.uvicorn_config import ServeOptions, run


class Command(BaseCommand):
    help = "Serve hallboard (ASGI under uvicorn). Run `hallboard migrate` first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on.")
        parser.add_argument("--workers", type=int, default=1, help="Worker processes.")
        parser.add_argument(
            "--graceful-timeout", type=int, default=10, help="Seconds to drain on shutdown."
        )
        parser.add_argument("--log-level", default="info")

    def handle(self, *args: Any, **options: Any) -> None:
        run(
            ServeOptions(
                host=options["host"],
                port=options["port"],
                workers=options["workers"],
                graceful_timeout=options["graceful_timeout"],
                log_level=options["log_level"],
            )
        )
