"""The gateway's options (from settings: ``hallboard.server.runner``); the node's part of
them is handed to ``core.node.Options``."""

from __future__ import annotations

from dataclasses import dataclass

from hallboard.realtime.core import node
from hallboard.realtime.gateway import staff

#: Connections a listening socket queues before the kernel drops new SYNs (the client sends
#: them again); capped by net.core.somaxconn (4,096 on current kernels).
BACKLOG = 4096


@dataclass(frozen=True)
class GatewayOptions:
    host: str = "127.0.0.1"
    port: int = 8001
    path: str = "/ws/display/"
    max_connections: int = 10_000
    coalesce_window: float = 2.0
    heartbeat_s: int = 30
    #: A socket silent this long gets a ping; one that stays silent as long again is dropped.
    ping_interval: float = 30.0
    slow_after: float = 10.0
    #: A socket's send buffer over this pauses writing to it (the hub's slow-client policy).
    write_limit: int = 64 * 1024
    #: A socket whose peer leaves more than this unread is dropped, in any phase.
    max_write_buffer: int = 256 * 1024
    db_threads: int = 8
    drain_batch: int = 500
    drain_interval: float = 0.2
    #: Most sockets authenticated by one query; batches in flight at once (one: measured
    #: fastest, each batch then takes everything that queued behind the last one).
    auth_batch: int = 500
    auth_concurrency: int = 1
    #: Seconds a client has to send its handshake, and to answer our close frame.
    open_timeout: float = 10.0
    close_timeout: float = 5.0
    #: Live dashboards (gateway/staff.py): their path, and how long a socket may live.
    staff_path: str = staff.PATH
    staff_max_age: float = staff.MAX_AGE
    #: Share the port with other gateway processes (SO_REUSEPORT: the kernel spreads
    #: connections over them; ``hallboard serve --processes N``).
    reuse_port: bool = False
    #: Accept from this listening socket (inherited from ``serve --processes N``'s
    #: supervisor, which keeps it across restarts) instead of opening one.
    listen_fd: int | None = None

    def node(self) -> node.Options:
        return node.Options(
            coalesce_window=self.coalesce_window,
            heartbeat_s=self.heartbeat_s,
            ping_interval=self.ping_interval,
            slow_after=self.slow_after,
            max_connections=self.max_connections,
            staff_max_age=self.staff_max_age,
        )
