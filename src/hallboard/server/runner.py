"""Run the web application, the realtime gateway, or both in one process.

``--role all`` (the default) serves both from one event loop: the web app on
``--port`` (uvicorn, ASGI) and the gateway on ``settings.GATEWAY_PORT`` (which
``serve --gateway-port`` sets, so displays are told the same port); the in-process
broker then connects them with no services. ``--role web`` and ``--role
gateway`` let operators scale them separately (they then need ``REDIS_URL``);
``--role gateway --processes N`` runs N gateways sharing one port
(``hallboard.server.processes``).

The web roles also run the watched-source scheduler (``hallboard.imports.watch``)
in a thread, unless ``HALLBOARD_IMPORT_WATCH=false``.

Every role logs the periodic metrics summary once per process
(``hallboard.observability.summary``). ``--role web --workers N`` runs N
uvicorn workers under a supervisor: they share a fresh metrics directory
(``hallboard.observability.multiprocess``), so a scrape of any worker sees
the sum over all, and the supervisor logs the summary for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Literal

from django.conf import settings

from hallboard.imports import watch
from hallboard.observability import multiprocess, summary
from hallboard.realtime.brokers import broker_for, configured_url
from hallboard.realtime.gateway.server import Gateway, GatewayOptions
from hallboard.server import gctune, processes
from hallboard.server.uvicorn_config import ServeOptions, uvicorn_kwargs

logger = logging.getLogger("hallboard.server")

Role = Literal["all", "web", "gateway"]
ROLES: tuple[Role, ...] = ("all", "web", "gateway")


def gateway_options(host: str, reuse_port: bool = False) -> GatewayOptions:
    return GatewayOptions(
        host=host,
        reuse_port=reuse_port,
        port=settings.GATEWAY_PORT,
        path=settings.DISPLAY_WS_PATH,
        max_connections=settings.WS_MAX_CONNECTIONS,
        coalesce_window=settings.REALTIME_COALESCE_SECONDS,
        ping_interval=settings.WS_PING_INTERVAL_SECONDS,
        slow_after=settings.WS_SLOW_CLIENT_SECONDS,
    )


def check(options: ServeOptions, role: Role) -> None:
    """Refuse combinations that cannot work, with the reason."""
    if role not in ROLES:
        raise ValueError(f"--role must be one of {', '.join(ROLES)}")
    if options.workers > 1 and role != "web":
        raise ValueError("--workers > 1 needs --role web (run gateways as separate processes)")
    if role != "all" and not configured_url():
        logger.warning(
            "--role %s without REDIS_URL (or HALLBOARD_BROKER_URL): edits made in one process "
            "are not pushed to gateways in another (displays still converge by polling)",
            role,
        )


async def _serve_gateway_until_signal(gateway: Gateway) -> None:
    await gateway.start()
    processes.report_ready()  # to the supervisor of ``--processes N``, if any
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        logger.info("gateway draining %d connections", len(gateway.hub))
        await gateway.shutdown()


#: Seconds between refusing new connections and closing idle ones on shutdown: a
#: connection accepted just before has its request on the way (a proxy sends it
#: right after connecting), and closing it unread would fail that request.
SHUTDOWN_SETTLE_SECONDS = 0.3


def _server(config: Any) -> Any:
    """uvicorn's server, stopping on SIGINT/SIGTERM without re-raising the signal after.

    uvicorn re-raises the stop signal once it has shut down, which would end the
    process before the gateway beside it (``--role all``) drains its sockets, and
    would make a clean stop exit 143 instead of 0. On shutdown it first refuses
    new connections (a proxy retries them on another replica), then lets the
    ones just accepted deliver their request before closing idle connections.
    """
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: Any = None) -> None:
            for server in self.servers:
                server.close()
            await asyncio.sleep(SHUTDOWN_SETTLE_SECONDS)
            await super().shutdown(sockets)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            stops = (signal.SIGINT, signal.SIGTERM)
            original = {sig: signal.signal(sig, self.handle_exit) for sig in stops}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return Server(config)


async def serve(options: ServeOptions, role: Role) -> None:
    import uvicorn

    summary.start()
    gateway = None
    if role in ("all", "gateway"):
        gateway = Gateway(
            broker_for(configured_url()),
            replace(
                gateway_options(options.host, options.reuse_port),
                listen_fd=processes.inherited_listener(),  # under ``--processes N``
            ),
            freezer=gctune.Freezer(),
        )
    config = None
    if role != "gateway":
        config = uvicorn.Config(**uvicorn_kwargs(options))
        config.load()  # imports the ASGI application (Django, URLs) now, before the freeze
    # Everything imported and built: out of the collector's way (server/gctune.py).
    gctune.tune_for_serving()
    if config is None:
        assert gateway is not None
        await _serve_gateway_until_signal(gateway)
        return
    server = _server(config)
    if gateway is not None:
        await gateway.start()
    stop_watch = threading.Event()
    watch.start_thread(stop_watch)
    try:
        await server.serve()  # returns after SIGINT/SIGTERM, open requests finished
    finally:
        stop_watch.set()
        if gateway is not None:
            logger.info("gateway draining %d connections", len(gateway.hub))
            with contextlib.suppress(Exception):
                await gateway.shutdown()


def run(options: ServeOptions, role: Role = "all") -> None:
    check(options, role)
    if role == "web" and options.workers > 1:
        import uvicorn

        with multiprocess.directory():
            stop_summary = threading.Event()
            summary.start_thread(stop_summary)
            watch.start_thread(stop_summary)  # one scheduler for all workers, in the supervisor
            try:
                uvicorn.run(**uvicorn_kwargs(options))
            finally:
                stop_summary.set()  # before the workers' metrics directory goes
        return
    processes.raise_fd_limit()  # every socket is a file
    if not processes.supervised():  # siblings share the supervisor's metrics directory
        multiprocess.prepare()
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(options, role))
