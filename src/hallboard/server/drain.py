"""How long a gateway takes to drain, derived from the code that drains it.

``Gateway.shutdown()`` (``hallboard.realtime.gateway.server``) closes its
sockets with 1001 in batches of ``drain_batch``, pausing ``drain_interval``
times a jitter factor (``DRAIN_JITTER``) between batches, then waits up to
``close_timeout`` for the last closing handshakes. So for ``n`` sockets:

- expected: (batches - 1) * drain_interval (the jitter averages 1), plus the
  last closing handshakes (a round trip: left out);
- longest: (batches - 1) * drain_interval * the jitter's maximum, plus
  close_timeout (clients that never answer the close frame).

A process manager must wait longer than the longest drain before it kills a
gateway (compose ``stop_grace_period``, systemd ``TimeoutStopSec``); a test
checks the kit against ``longest_drain_seconds`` at ``WS_MAX_CONNECTIONS``.
docs/deploy.md's table is ``markdown_table()`` (``tools/deploy_docs.py``).
"""

from __future__ import annotations

import math

from hallboard.realtime.gateway.server import DRAIN_JITTER, GatewayOptions

#: Sockets per gateway the table in docs/deploy.md shows.
TABLE_SOCKETS = (1_000, 5_000, 10_000, 20_000, 50_000)


def _pauses(sockets: int, options: GatewayOptions) -> int:
    return max(math.ceil(sockets / options.drain_batch) - 1, 0)


def expected_drain_seconds(sockets: int, options: GatewayOptions | None = None) -> float:
    o = options or GatewayOptions()
    mean_jitter = sum(DRAIN_JITTER) / 2
    return _pauses(sockets, o) * o.drain_interval * mean_jitter


def longest_drain_seconds(sockets: int, options: GatewayOptions | None = None) -> float:
    o = options or GatewayOptions()
    return _pauses(sockets, o) * o.drain_interval * max(DRAIN_JITTER) + o.close_timeout


def markdown_table(options: GatewayOptions | None = None) -> str:
    """The drain table of docs/deploy.md (generated: never typed by hand)."""
    o = options or GatewayOptions()
    lines = [
        f"Derived from the gateway's drain settings by `tools/deploy_docs.py` "
        f"(batches of {o.drain_batch:,} sockets, {o.drain_interval:g} s apart "
        f"times a jitter of {DRAIN_JITTER[0]:g} to {DRAIN_JITTER[1]:g}, "
        f"{o.close_timeout:g} s for the last closing handshakes):",
        "",
        "| screens on the gateway | expected drain | longest drain |",
        "|---|---|---|",
    ]
    for sockets in TABLE_SOCKETS:
        lines.append(
            f"| {sockets:,} | {expected_drain_seconds(sockets, o):.1f} s "
            f"| {longest_drain_seconds(sockets, o):.1f} s |"
        )
    return "\n".join(lines)
