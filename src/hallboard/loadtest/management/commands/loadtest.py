"""``hallboard loadtest setup|run|cleanup``: simulated screens against a running hallboard.

See docs/loadtest.md. ``run`` refuses any target that is not loopback unless
``--allow-remote`` is given: a load test is traffic someone must have agreed to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console

from hallboard.loadtest import fleet as fleets
from hallboard.loadtest.clients import Target
from hallboard.loadtest.report import ProgressBar, render
from hallboard.loadtest.runner import SCENARIOS, LoadRun, RunOptions
from hallboard.loadtest.server import (
    ServerError,
    ServerProcess,
    drain_timeout_for,
    free_port,
    gateway_processes,
    hallboard_serve,
)
from hallboard.loadtest.triggers import TriggerError, make_trigger


def cpu_list(value: str) -> list[int]:
    """ "1" or "0,1" or "2-3"."""
    cpus: list[int] = []
    for part in value.split(","):
        first, _, last = part.partition("-")
        cpus += list(range(int(first), int(last or first) + 1))
    return cpus


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(
                ipaddress.ip_address(info[4][0]).is_loopback
                for info in socket.getaddrinfo(host, None)
            )
        except OSError:
            return False


class Command(BaseCommand):
    help = "Load-test a running hallboard with simulated screens (setup, run, cleanup)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        setup = sub.add_parser("setup", help="Create the load-test organisation and its screens.")
        setup.add_argument("--schools", type=int, required=True)
        setup.add_argument("--screens-per-school", type=int, default=5)
        setup.add_argument("--org", default=fleets.DEFAULT_ORG, help="Organisation slug.")
        setup.add_argument("--replace", action="store_true", help="Delete an existing one first.")
        setup.add_argument(
            "--unbound",
            action="store_true",
            help="Leave screens unbound: the first connect binds each.",
        )

        cleanup = sub.add_parser("cleanup", help="Delete the load-test organisation and its file.")
        cleanup.add_argument("--org", default=fleets.DEFAULT_ORG)

        run = sub.add_parser("run", help="Run scenarios against a running server.")
        run.add_argument("--org", default=fleets.DEFAULT_ORG)
        run.add_argument(
            "--scenario",
            action="append",
            choices=[*SCENARIOS, "all"],
            help="Repeatable; default: all, in the documented order.",
        )
        run.add_argument("--screens", type=int, help="How many (default: all of the file).")
        run.add_argument(
            "--push-share",
            type=float,
            default=0.9,
            help="Share of screens using push; the rest poll only (default 0.9).",
        )
        run.add_argument("--host", default="127.0.0.1")
        run.add_argument("--port", type=int, default=8000, help="The web app's port.")
        run.add_argument(
            "--gateway-port",
            type=int,
            action="append",
            help="The push gateway's port (default GATEWAY_PORT); repeat it for replicas: "
            "screens are spread over them.",
        )
        run.add_argument(
            "--allow-remote",
            action="store_true",
            help="Allow a target that is not a loopback address.",
        )
        run.add_argument(
            "--trigger",
            default="db",
            help="db (needs the server's broker: HALLBOARD_BROKER_URL or REDIS_URL), api, or "
            "module:factory (default db).",
        )
        run.add_argument(
            "--spawn",
            action="store_true",
            help="Start `hallboard serve` here (free ports) and stop it at the end; "
            "needed for --storm kill.",
        )
        run.add_argument(
            "--drain-timeout",
            type=float,
            help="With --gateway-processes N: seconds the supervisor lets the gateways drain "
            "when the run stops them (default: grows with the screens held, "
            "loadtest.server.drain_timeout_for).",
        )
        run.add_argument("--server-cpus", type=cpu_list, help="Pin a spawned server, e.g. 0.")
        run.add_argument(
            "--gateway-processes",
            type=int,
            default=1,
            help="With --spawn: start `serve --role gateway --processes N` instead (N gateways "
            "on one port; needs REDIS_URL; no web app: polling screens need --port of one); "
            "--storm kill then kills every gateway process and the supervisor restarts them.",
        )
        run.add_argument(
            "--server-pid",
            type=int,
            action="append",
            default=[],
            help="Read CPU and memory of this server process from /proc.",
        )
        run.add_argument("--client-cpus", type=cpu_list, help="Pin the client processes, e.g. 1.")
        run.add_argument("--workers", type=int, help="Client processes (default: 1 per 15,000).")
        run.add_argument(
            "--rate",
            type=float,
            default=0.0,
            help="Connects per second while ramping (default: no limit).",
        )
        run.add_argument("--inflight", type=int, default=512, help="Handshakes in flight.")
        run.add_argument(
            "--handshake-timeout",
            type=float,
            default=10.0,
            help="Seconds a client waits for hello before it gives the attempt up (counted as "
            "a failure; a reconnect after it waits its backoff, as a display's would).",
        )
        run.add_argument(
            "--hold",
            type=float,
            default=0.0,
            help="Idle seconds after connecting (memory and idle CPU).",
        )
        run.add_argument(
            "--warmup", type=int, default=0, help="Connections opened before the memory baseline."
        )
        run.add_argument(
            "--connect-timeout", type=float, default=120.0, help="Bound of the connect phase."
        )
        run.add_argument("--delivery-timeout", type=float, default=10.0)
        run.add_argument(
            "--school-gap",
            type=float,
            default=2.5,
            help="Seconds between two edits of one school (above the server's coalescing window).",
        )
        run.add_argument("--sync-edits", type=int, default=5)
        run.add_argument("--latency-edits", type=int, default=200)
        run.add_argument("--latency-rate", type=float, default=50.0)
        run.add_argument("--push-all-repeat", type=int, default=3)
        run.add_argument("--poll-min", type=float, default=8.0)
        run.add_argument("--poll-max", type=float, default=45.0)
        run.add_argument("--poll-edits", type=int, default=10)
        run.add_argument("--churn-duration", type=float, default=20.0)
        run.add_argument(
            "--churn-share",
            type=float,
            default=0.02,
            help="Share of push sockets closed and reopened per second.",
        )
        run.add_argument("--churn-edit-rate", type=float, default=5.0)
        run.add_argument("--storm", choices=["drop", "kill"], default="drop")
        run.add_argument("--storm-timeout", type=float, default=60.0)
        run.add_argument(
            "--max-duration",
            type=float,
            default=900.0,
            help="Hard bound of the whole run in seconds.",
        )
        run.add_argument("--json", type=Path, help="Write the JSON result here.")
        run.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "setup":
            self._setup(options)
        elif action == "cleanup":
            counts = fleets.cleanup(org=options["org"])
            self.stdout.write(
                f"Deleted {counts['schools']} schools and {counts['screens']} "
                f"screens of {options['org']!r}."
            )
        else:
            self._run(options)

    def _setup(self, options: dict[str, Any]) -> None:
        started = time.monotonic()
        try:
            fleet, path = fleets.setup(
                options["schools"],
                options["screens_per_school"],
                org=options["org"],
                replace=options["replace"],
                bind=not options["unbound"],
            )
        except fleets.FleetError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Created {len(fleet.schools)} schools with {len(fleet.screens)} screens in "
            f"organisation {fleet.org!r} in {time.monotonic() - started:.1f} s.\n"
            f"Tokens (secret, mode 0600): {path}"
        )

    def _run(self, options: dict[str, Any]) -> None:
        host = options["host"]
        if not is_loopback(host) and not options["allow_remote"]:
            raise CommandError(f"{host} is not a loopback address: pass --allow-remote to load it")
        try:
            fleet = fleets.load(fleets.fleet_path(options["org"]))
        except fleets.FleetError as exc:
            raise CommandError(str(exc)) from exc
        server: ServerProcess | None = None
        port = options["port"]
        gateway_ports = options["gateway_port"] or [settings.GATEWAY_PORT]
        if options["spawn"] and options["gateway_processes"] > 1:
            gateway_ports = [free_port()]
            log = Path(settings.DATA_DIR) / "loadtest" / "server.log"
            held = options["screens"] or len(fleet.screens)
            server = gateway_processes(
                gateway_ports[0],
                options["gateway_processes"],
                drain_timeout=options["drain_timeout"]
                or drain_timeout_for(held, options["gateway_processes"]),
                env=dict(os.environ),
                cpus=options["server_cpus"],
                log_path=log,
            )
            try:
                server.start()
            except ServerError as exc:
                raise CommandError(str(exc)) from exc
        elif options["spawn"]:
            port, gateway_ports = free_port(), [free_port()]
            log = Path(settings.DATA_DIR) / "loadtest" / "server.log"
            server = hallboard_serve(
                port,
                gateway_ports[0],
                env=dict(os.environ),
                cpus=options["server_cpus"],
                log_path=log,
            )
            try:
                server.start()
            except ServerError as exc:
                raise CommandError(str(exc)) from exc
        scenarios = options["scenario"] or ["all"]
        if "all" in scenarios:
            scenarios = list(SCENARIOS)
        run_options = RunOptions(
            target=Target(
                host,
                gateway_ports[0],
                port,
                ws_path=settings.DISPLAY_WS_PATH,
                more_ws_ports=tuple(gateway_ports[1:]),
            ),
            scenarios=scenarios,
            screens=options["screens"],
            push_share=options["push_share"],
            rate=options["rate"],
            inflight=options["inflight"],
            handshake_timeout=options["handshake_timeout"],
            workers=options["workers"],
            client_cpus=options["client_cpus"],
            server_pids=options["server_pid"],
            hold=options["hold"],
            connect_timeout=options["connect_timeout"],
            warmup=options["warmup"],
            delivery_timeout=options["delivery_timeout"],
            school_gap=options["school_gap"],
            sync_edits=options["sync_edits"],
            latency_edits=options["latency_edits"],
            latency_rate=options["latency_rate"],
            push_all_repeat=options["push_all_repeat"],
            poll_min=options["poll_min"],
            poll_max=options["poll_max"],
            poll_edits=options["poll_edits"],
            churn_duration=options["churn_duration"],
            churn_share=options["churn_share"],
            churn_edit_rate=options["churn_edit_rate"],
            storm=options["storm"],
            storm_timeout=options["storm_timeout"],
            max_duration=options["max_duration"],
        )
        console = Console(file=sys.stderr)
        try:
            trigger = make_trigger(options["trigger"], host, port)
            with ProgressBar(console, enabled=not options["no_progress"]) as bar:
                run = LoadRun(fleet, trigger, run_options, server=server, progress=bar)
                result = asyncio.run(run.run())
        except (TriggerError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if server is not None:
                server.stop()
        render(result, Console(file=self.stdout))  # type: ignore[arg-type]
        if options["json"]:
            options["json"].write_text(json.dumps(result, indent=2))
            self.stdout.write(f"JSON result: {options['json']}")
        if not result["ok"]:
            raise CommandError("the load test found problems (listed above)")
