"""``hallboard serve``: the web application and the realtime gateway (ASGI, uvicorn, websockets).

``--role all`` (default) serves both from one process: the web app on
``--port`` and the push gateway on ``--gateway-port`` (default
``GATEWAY_PORT``, 8001). ``--role web`` and ``--role gateway`` run them
separately, to scale them apart (with REDIS_URL).

``--gateway-port`` is also the port displays are told to connect to (their
``meta.ws_url``) when ``DISPLAY_WS_URL`` is not set, so two instances on one
host each send their displays to their own gateway.

``--role gateway --processes N`` runs N gateway processes sharing
``--gateway-port`` (SO_REUSEPORT) under a supervisor
(``hallboard.server.processes``): one process per core, each within its own
file-descriptor limit. ``--reuse-port`` lets a single gateway share its port
with others started some other way (one systemd unit per process).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hallboard.observability import multiprocess
from hallboard.realtime.gateway.options import GatewayOptions
from hallboard.server import dbready, drain, processes
from hallboard.server.runner import ROLES, gateway_options, run
from hallboard.server.uvicorn_config import ServeOptions

logger = logging.getLogger("hallboard.server.migrate")


class _LogLines(io.StringIO):
    """What migrate prints, as log records (one per line): one format for the whole log."""

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                logger.info("%s", line.rstrip())
        return len(text)


def use_gateway_port(port: int) -> None:
    """Serve the gateway on ``port`` and tell displays so (also in spawned web workers)."""
    settings.GATEWAY_PORT = port
    os.environ["GATEWAY_PORT"] = str(port)


def default_drain_timeout(gateway: GatewayOptions) -> float:
    """The supervisor's drain timeout unless ``--drain-timeout``: the longest drain of a
    process at ``WS_MAX_CONNECTIONS`` (``hallboard.server.drain``) plus 10 s."""
    return drain.longest_drain_seconds(gateway.max_connections, gateway) + 10


class Command(BaseCommand):
    help = "Serve hallboard: web app and push gateway. Run `hallboard migrate` first, or --migrate."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8000, help="Port of the web app.")
        parser.add_argument(
            "--gateway-port",
            type=int,
            default=None,
            help="Port of the gateway, and the port displays are told to use "
            "(default GATEWAY_PORT).",
        )
        parser.add_argument("--role", choices=ROLES, default="all")
        parser.add_argument("--workers", type=int, default=1, help="Web worker processes.")
        parser.add_argument(
            "--processes",
            type=int,
            default=1,
            help="Gateway processes sharing --gateway-port (SO_REUSEPORT), supervised; "
            "needs --role gateway.",
        )
        parser.add_argument(
            "--reuse-port",
            action="store_true",
            help="Let other gateway processes listen on the same port (SO_REUSEPORT).",
        )
        parser.add_argument(
            "--graceful-timeout", type=int, default=10, help="Seconds to drain on shutdown."
        )
        parser.add_argument(
            "--drain-timeout",
            type=float,
            default=None,
            help="With --processes N: seconds the supervisor lets its gateway processes drain "
            "after SIGTERM before it kills them (default: the longest drain at "
            "WS_MAX_CONNECTIONS plus 10 s; raise it where the processes share few cores).",
        )
        parser.add_argument(
            "--forwarded-allow-ips",
            default=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
            help="Comma-separated addresses of the reverse proxies whose X-Forwarded-For and "
            "X-Forwarded-Proto are trusted, or '*' (default FORWARDED_ALLOW_IPS or 127.0.0.1).",
        )
        parser.add_argument(
            "--migrate",
            action="store_true",
            help="Apply migrations first, under the migration lock (replicas starting "
            "together migrate once).",
        )
        parser.add_argument("--log-level", default="info")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["gateway_port"] is not None:
            use_gateway_port(options["gateway_port"])
        if options["processes"] < 1:
            raise CommandError("--processes must be at least 1")
        if options["drain_timeout"] is not None and options["drain_timeout"] <= 0:
            raise CommandError("--drain-timeout must be more than 0 seconds")
        if options["processes"] > 1 and options["role"] != "gateway":
            raise CommandError(
                "--processes N needs --role gateway (web workers: --role web --workers N)"
            )
        if options["migrate"]:
            call_command("migrate", interactive=False, verbosity=1, stdout=_LogLines())
        else:
            dbready.check_for_serving()
        if options["processes"] > 1:
            self._supervise(options)
            return
        try:
            run(
                ServeOptions(
                    host=options["host"],
                    port=options["port"],
                    workers=options["workers"],
                    graceful_timeout=options["graceful_timeout"],
                    forwarded_allow_ips=options["forwarded_allow_ips"],
                    log_level=options["log_level"],
                    reuse_port=options["reuse_port"],
                ),
                options["role"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

    def _supervise(self, options: dict[str, Any]) -> None:
        """N gateway processes on one port (hallboard.server.processes)."""
        host = options["host"]
        try:
            first = processes.listener(host, settings.GATEWAY_PORT)
        except OSError as exc:
            raise CommandError(
                f"cannot share port {settings.GATEWAY_PORT} on {host}: {exc.strerror or exc} "
                "(another program listens on it without SO_REUSEPORT?)"
            ) from exc
        with contextlib.ExitStack() as held:
            listeners = [held.enter_context(first)]
            held.enter_context(multiprocess.directory())
            port = first.getsockname()[1]
            use_gateway_port(port)  # port 0: the children share the one picked here
            gateway = gateway_options(host)
            listeners += [
                held.enter_context(processes.listener(host, port))
                for _ in range(options["processes"] - 1)
            ]
            supervisor = processes.Supervisor(
                processes.child_argv(
                    host,
                    port,
                    graceful_timeout=options["graceful_timeout"],
                    log_level=options["log_level"],
                ),
                options["processes"],
                drain_timeout=options["drain_timeout"] or default_drain_timeout(gateway),
                listeners=listeners,
            )
            processes.logger.info(
                "%d gateway processes sharing %s:%d", options["processes"], host, port
            )
            code = supervisor.run()
        if code:
            raise CommandError("the gateway processes did not all stop cleanly (logged above)")
