"""``hallboard serve``: the web application and the realtime gateway (ASGI, uvicorn, websockets).

``--role all`` (default) serves both from one process: the web app on
``--port`` and the push gateway on ``GATEWAY_PORT`` (8001). ``--role web`` and
``--role gateway`` run them separately, to scale them apart (with REDIS_URL).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hallboard.server.runner import ROLES, run
from hallboard.server.uvicorn_config import ServeOptions


class Command(BaseCommand):
    help = "Serve hallboard: web app and push gateway. Run `hallboard migrate` first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8000, help="Port of the web app.")
        parser.add_argument(
            "--gateway-port", type=int, default=None, help="Port of the gateway (GATEWAY_PORT)."
        )
        parser.add_argument("--role", choices=ROLES, default="all")
        parser.add_argument("--workers", type=int, default=1, help="Web worker processes.")
        parser.add_argument(
            "--graceful-timeout", type=int, default=10, help="Seconds to drain on shutdown."
        )
        parser.add_argument("--log-level", default="info")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run(
                ServeOptions(
                    host=options["host"],
                    port=options["port"],
                    workers=options["workers"],
                    graceful_timeout=options["graceful_timeout"],
                    log_level=options["log_level"],
                ),
                options["role"],
                options["gateway_port"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
