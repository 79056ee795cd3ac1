"""``hallboard demo``: migrate, seed, print where to click, and serve on the embedded default.

``--port P`` serves the web app on P and the push gateway on P+1 (unless
``--gateway-port`` or ``GATEWAY_PORT`` say otherwise), and every address the
demo prints, hands to displays (``meta.ws_url``) or encodes in a pairing QR
code uses those ports: ``HALLBOARD_PUBLIC_URL`` is taken to be
``http://<host>:P`` unless it is set.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from hallboard.demo import seed
from hallboard.demo.management.commands.seed_demo import describe
from hallboard.server.management.commands.serve import use_gateway_port
from hallboard.server.runner import run
from hallboard.server.uvicorn_config import ServeOptions

WILDCARD_HOSTS = {"0.0.0.0", "::", ""}  # noqa: S104 - names of "every address", not a bind


def public_url(host: str, port: int) -> str:
    """Where this demo is reached from this machine (``--host 0.0.0.0``: the loopback)."""
    name = "127.0.0.1" if host in WILDCARD_HOSTS else host
    return f"http://[{name}]:{port}" if ":" in name else f"http://{name}:{port}"


def gateway_port(web_port: int, option: int | None) -> int:
    """``--gateway-port``, else ``GATEWAY_PORT`` when set, else the web port + 1."""
    if option is not None:
        return option
    if os.environ.get("GATEWAY_PORT"):
        return int(settings.GATEWAY_PORT)
    return web_port + 1


class Command(BaseCommand):
    help = (
        "Run the demo: migrate, seed demo data (once), print credentials and URLs, serve "
        "(web on --port, push gateway on --port + 1)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000, help="Port of the web app.")
        parser.add_argument(
            "--gateway-port",
            type=int,
            default=None,
            help="Port of the push gateway (default: GATEWAY_PORT if set, else --port + 1).",
        )
        parser.add_argument(
            "--no-serve", action="store_true", help="Prepare and print, but do not serve."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        use_gateway_port(gateway_port(port, options["gateway_port"]))
        if not os.environ.get("HALLBOARD_PUBLIC_URL"):
            settings.PUBLIC_URL = public_url(host, port)
        call_command("migrate", interactive=False, verbosity=0)
        credentials = seed.seed()
        self.stdout.write(describe(credentials))
        gateway = settings.GATEWAY_PORT
        if settings.DISPLAY_WS_URL:
            told = f"DISPLAY_WS_URL ({settings.DISPLAY_WS_URL})"
        else:
            told = f"port {gateway} (ws://…:{gateway}{settings.DISPLAY_WS_PATH})"
        self.stdout.write(f"Push:      gateway on port {gateway}; displays connect to {told}\n")
        if options["no_serve"]:
            return
        self.stdout.write("Serving. Stop with Ctrl-C.\n")
        self.stdout.flush()
        run(ServeOptions(host=host, port=port))
