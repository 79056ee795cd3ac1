"""How hallboard runs under uvicorn: one place for the server's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ASGI_APP = "hallboard.asgi:application"


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Seconds a shutdown waits for open requests before closing them.
    graceful_timeout: int = 10
    proxy_headers: bool = True
    forwarded_allow_ips: str = "127.0.0.1"
    log_level: str = "info"
    #: Gateway: share the port with other processes (SO_REUSEPORT; ``serve --processes N``).
    reuse_port: bool = False


def uvicorn_kwargs(options: ServeOptions) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` (kept apart so tests can check them)."""
    return {
        "app": ASGI_APP,
        "host": options.host,
        "port": options.port,
        "workers": options.workers,
        "proxy_headers": options.proxy_headers,
        "forwarded_allow_ips": options.forwarded_allow_ips,
        "timeout_graceful_shutdown": options.graceful_timeout,
        "log_level": options.log_level,
        # uvicorn's records go to hallboard's handler (settings.LOGGING): one
        # format for everything, JSON lines with HALLBOARD_LOG_FORMAT=json.
        "log_config": None,
        # Large listen backlog: a reconnect storm of screens must not hit SYN retries.
        "backlog": 2048,
        # Screens send tiny messages; compression would cost memory per socket.
        "ws_per_message_deflate": False,
        "lifespan": "off",  # Django's ASGI handler does not implement lifespan
        "server_header": False,
        # Display URLs carry screen tokens in the query string: an access log
        # would write secrets to disk. Refusals are logged by hallboard itself.
        "access_log": False,
    }
