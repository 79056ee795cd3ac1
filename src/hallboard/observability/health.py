"""The health verdict of ``/api/display/ws-metrics/``: ok, warning or critical, and why.

A pure function of two ``Totals``: the lifetime figures (what the JSON shows,
like the seed) and the *window*, what changed over the last minutes
(``figures.History``, 5 minutes by default). Rates are judged on the window,
so an incident an hour ago does not keep the verdict red; states (sockets open
now, a broker down now) are judged as they are.

The seed's rules (docs/operations.md has the operator's version):

===================  ========  ===============================================================
rule                 verdict   when
===================  ========  ===============================================================
``refusals``         critical  more than 10 % of the window's connection attempts were
                               refused with 4400, 4401 or 4403 (missing parameters, invalid
                               token, bound elsewhere), over at least 10 attempts
``all_dropped``      warning   no socket open, yet more than 10 were accepted since start
``publish_failures`` warning   more than 5 % of the window's publishes failed, over at
                               least 10 publishes
``push_latency``     warning   the window's average push latency is over 100 ms
===================  ========  ===============================================================

Choices where the seed is silent or loose:

- The refusal rate is ``refused / (accepted + refused)``: the seed divided by
  its lifetime total of accepted sockets, which exceeds 100 % when most
  attempts fail. Only refusals that point at a broken display or token count
  (4400, 4401, 4403); 4409 (push off by the operator's flags), 1013 (at
  capacity) and 1001 (restarting) are the server's own decisions.
- Rates need a minimum volume (10, the seed's own threshold for
  ``all_dropped``): one mistyped display URL after a restart is not an outage.
- Added by hallboard: ``broker`` (warning) while a gateway reports its broker
  disconnected (push reaches only that gateway's own process; polling covers
  the rest), and ``fleet`` (warning) when the gateways' figures could not be
  read from Redis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from hallboard.observability import figures as fig

Status = Literal["ok", "warning", "critical"]
_ORDER: dict[Status, int] = {"ok": 0, "warning": 1, "critical": 2}

#: Close codes that count as failed connections (a display or token problem).
FAILURE_CODES = ("4400", "4401", "4403")
REFUSAL_RATE_CRITICAL = 0.10
PUBLISH_FAILURE_RATE_WARNING = 0.05
PUSH_LATENCY_WARNING_MS = 100.0
#: Rates are judged over at least this many attempts / publishes.
MIN_VOLUME = 10
#: ``all_dropped`` needs more than this many sockets accepted since start.
DROPPED_AFTER = 10


@dataclass(frozen=True)
class Totals:
    """The few numbers the verdict needs (from lifetime figures or a window's increase)."""

    connections_active: int = 0
    connections_accepted: int = 0
    connections_failed: int = 0
    broadcasts_sent: int = 0
    broadcasts_failed: int = 0
    latency_sum_s: float = 0.0
    latency_count: int = 0
    brokers_down: tuple[str, ...] = ()

    @classmethod
    def of(cls, figures: Mapping[str, float], brokers_down: tuple[str, ...] = ()) -> Totals:
        """From summed figures; ``brokers_down`` is judged per gateway (``brokers_down()``)."""
        open_ = sum(
            v for k, v in fig.labelled(figures, "connections").items() if k.endswith("open")
        )
        refused = fig.labelled(figures, "refused")
        return cls(
            connections_active=int(open_),
            connections_accepted=int(fig.total(figures, "accepted")),
            connections_failed=int(sum(refused.get(code, 0) for code in FAILURE_CODES)),
            broadcasts_sent=int(fig.total(figures, "published")),
            broadcasts_failed=int(fig.total(figures, "publish_failed")),
            latency_sum_s=figures.get("push_latency.sum", 0.0),
            latency_count=int(figures.get("push_latency.count", 0)),
            brokers_down=brokers_down,
        )

    @property
    def latency_avg_ms(self) -> float:
        return self.latency_sum_s / self.latency_count * 1000 if self.latency_count else 0.0


def brokers_down(figures: Mapping[str, float]) -> list[str]:
    """The brokers one gateway's figures report disconnected."""
    return sorted(name for name, up in fig.labelled(figures, "broker_connected").items() if up < 1)


@dataclass(frozen=True)
class Reason:
    rule: str
    status: Status
    detail: str


@dataclass(frozen=True)
class Verdict:
    status: Status
    reasons: tuple[Reason, ...] = field(default=())


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def verdict(
    lifetime: Totals, window: Totals, *, window_s: float | None = None, fleet_error: str = ""
) -> Verdict:
    """ok / warning / critical with every rule that fired (worst first)."""
    during = f"in the last {window_s:.0f} s" if window_s else "since start"
    reasons: list[Reason] = []
    attempts = window.connections_accepted + window.connections_failed
    refusal_rate = _rate(window.connections_failed, attempts)
    if attempts >= MIN_VOLUME and refusal_rate > REFUSAL_RATE_CRITICAL:
        reasons.append(
            Reason(
                "refusals",
                "critical",
                f"{window.connections_failed} of {attempts} connection attempts {during} were "
                f"refused with 4400/4401/4403 ({refusal_rate:.0%}; bad tokens or device keys?)",
            )
        )
    if lifetime.connections_active == 0 and lifetime.connections_accepted > DROPPED_AFTER:
        reasons.append(
            Reason(
                "all_dropped",
                "warning",
                f"no socket open, {lifetime.connections_accepted} accepted since start "
                "(gateway restart, network or proxy problem?)",
            )
        )
    publishes = window.broadcasts_sent + window.broadcasts_failed
    publish_rate = _rate(window.broadcasts_failed, publishes)
    if publishes >= MIN_VOLUME and publish_rate > PUBLISH_FAILURE_RATE_WARNING:
        reasons.append(
            Reason(
                "publish_failures",
                "warning",
                f"{window.broadcasts_failed} of {publishes} publishes {during} failed "
                f"({publish_rate:.0%}; is Redis reachable?)",
            )
        )
    if window.latency_count and window.latency_avg_ms > PUSH_LATENCY_WARNING_MS:
        reasons.append(
            Reason(
                "push_latency",
                "warning",
                f"push latency averaged {window.latency_avg_ms:.0f} ms {during} "
                f"over {window.latency_count} events (gateway or broker overloaded?)",
            )
        )
    if lifetime.brokers_down:
        reasons.append(
            Reason(
                "broker",
                "warning",
                f"broker disconnected ({', '.join(lifetime.brokers_down)}): push reaches only "
                "screens on the publishing process; polling covers the rest",
            )
        )
    if fleet_error:
        reasons.append(Reason("fleet", "warning", f"gateway figures unavailable: {fleet_error}"))
    reasons.sort(key=lambda r: -_ORDER[r.status])
    status: Status = reasons[0].status if reasons else "ok"
    return Verdict(status, tuple(reasons))
