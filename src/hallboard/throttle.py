"""Failed authentications, counted per source address: one throttle for every way in.

Guessing screen tokens, staff-socket tickets, API keys or admin passwords is
only worth it at speed; this module takes the speed away. Each way in is a
``Kind``; for each kind, failures are counted per source address (IPv6 per
/64: one host has a whole /64) with the ``limits`` notation:

- ``AUTH_FAILURE_RATE`` (default ``30/minute``) for display tokens over HTTP,
  push-socket tokens and staff tickets, and API keys: thirty failures at once,
  then one every two seconds;
- ``ADMIN_LOGIN_FAILURE_RATE`` (default ``5/15minute``) for the admin's
  sign-in: five wrong passwords, then one try every three minutes; a
  successful sign-in clears the count.

Once an address is over its rate, **every** attempt of that kind from it is
refused before the credentials are looked at (a correct one too: otherwise
its answers would still tell right guesses from wrong ones) until the wait is
over: HTTP answers ``429 rate_limited`` with ``Retry-After``, the gateway
refuses the socket with 1013 (try again later), the admin shows the wait.

Counts live where the rate limits live (``hallboard.display.ratelimit``:
Redis with ``REDIS_URL``, so they hold across replicas; this process's memory
otherwise); the gateway's counts are in its own memory, so its event loop never
waits for Redis. An address found clear is believed clear for ``CLEAR_SECONDS``
(one second) without asking again, except after a failure counted here.
Metrics: ``hallboard_auth_failures_total{kind}``,
``hallboard_auth_throttled_total{kind}``; one log line when an address goes
over its rate.

The calls, for every way in: ``check(kind, address)`` before looking at the
credentials (raises ``Throttled``), ``failed(kind, address)`` when they were
wrong, ``succeeded(kind, address)`` when they were right.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import logging
import time
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from hallboard.display import ratelimit
from hallboard.observability import metrics

logger = logging.getLogger("hallboard.throttle")


class Kind(enum.StrEnum):
    DISPLAY = "display"  # screen tokens on the display HTTP endpoints
    SOCKET = "socket"  # screen tokens and staff tickets on the gateway
    API = "api"  # management API keys
    ADMIN = "admin"  # the admin's sign-in form


class Throttled(Exception):
    """Too many failed authentications from this address: wait ``retry_after`` seconds."""

    def __init__(self, kind: Kind, retry_after: int) -> None:
        self.kind = kind
        self.retry_after = retry_after
        self.detail = (
            f"Too many failed authentications from your address; retry in {retry_after} s."
        )
        super().__init__(self.detail)


def _rate(kind: Kind) -> str:
    if kind is Kind.ADMIN:
        return str(settings.ADMIN_LOGIN_FAILURE_RATE)
    return str(settings.AUTH_FAILURE_RATE)


def _limiter(kind: Kind) -> ratelimit.RateLimiter | ratelimit.MemoryLimiter:
    if kind is Kind.SOCKET:
        return ratelimit._limiter(_rate(kind), "memory://")  # never Redis on the event loop
    return ratelimit.limiter(_rate(kind))


@functools.lru_cache(maxsize=8192)
def subject(address: str) -> str:
    """What is counted for ``address``: itself, or its /64 for IPv6. (Asked for every
    display's connect and poll: the few addresses a gateway sees are parsed once.)"""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def request_address(request: HttpRequest) -> str:
    """The client's address (the server resolved X-Forwarded-For of trusted proxies already)."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def socket_address(peer: Any, forwarded_for: str | None) -> str:
    """A gateway socket's client address: its peer (``transport.get_extra_info("peername")``),
    or behind a trusted proxy the rightmost X-Forwarded-For entry that is not itself one."""
    trusted = set(settings.HALLBOARD_TRUSTED_PROXIES)
    address = str(peer[0]) if isinstance(peer, tuple | list) and peer else str(peer or "unknown")
    if address in trusted and forwarded_for:
        for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
            address = hop
            if hop not in trusted:
                break
    return address


#: Seconds an answer "not blocked" is believed without asking the counts again. Every
#: display's poll asks, and almost always for an address that never failed; asking once a
#: second instead of for every poll saves a Redis round trip per poll. A failure counted
#: in this process takes effect here at once; one counted by another replica within
#: this many seconds.
CLEAR_SECONDS = 1.0
#: The most addresses remembered as clear (past it the memory starts again).
CLEAR_MAX = 4096
_clear: dict[tuple[Kind, str], float] = {}
#: Failures counted in this process so far: a "clear" answer read while one was being
#: counted (another thread) is not remembered.
_failures = 0


def blocked(kind: Kind, address: str, *, now: Callable[[], float] = time.monotonic) -> int | None:
    """Seconds ``address`` must wait before trying ``kind`` again (None: it may try now).

    A refusal is counted in ``hallboard_auth_throttled_total``."""
    counted = subject(address)
    key = (kind, counted)
    if _clear.get(key, 0.0) > now():
        return None
    failures = _failures
    wait = _limiter(kind).test("auth-fail", kind.value, counted)
    if wait is not None:
        _clear.pop(key, None)
        metrics.auth_throttled_total.labels(kind=kind.value).inc()
    elif kind is not Kind.ADMIN and failures == _failures:  # sign-ins are few: always asked
        if len(_clear) >= CLEAR_MAX:
            _clear.clear()
        _clear[key] = now() + CLEAR_SECONDS
    return wait


def forget() -> None:
    """Forget which addresses were seen clear (between tests, with the limiters' counts)."""
    _clear.clear()


def check(kind: Kind, address: str) -> None:
    """Raise ``Throttled`` if ``address`` failed too often at ``kind`` lately."""
    wait = blocked(kind, address)
    if wait is not None:
        raise Throttled(kind, wait)


def failed(kind: Kind, address: str) -> None:
    """Count one failed authentication of ``kind`` from ``address``."""
    global _failures
    metrics.auth_failures_total.labels(kind=kind.value).inc()
    counted = subject(address)
    _failures += 1  # a "clear" being read meanwhile is not remembered
    _clear.pop((kind, counted), None)  # this process asks the counts again at once
    if _limiter(kind).hit("auth-fail", kind.value, counted) is not None:
        return  # over already (a race with check): nothing new to say
    wait = _limiter(kind).test("auth-fail", kind.value, counted)
    if wait is not None:
        logger.warning(
            "%s authentication throttled for %s: too many failures (%s); next try in %d s",
            kind.value,
            counted,
            _rate(kind),
            wait,
        )


def succeeded(kind: Kind, address: str) -> None:
    """A correct sign-in: the admin's count starts again (other kinds keep theirs)."""
    if kind is Kind.ADMIN:
        _limiter(kind).reset("auth-fail", kind.value, subject(address))


# --- the admin's sign-in -------------------------------------------------------------


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's sign-in, throttled per address (``admin.site.login_form``)."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": _(
            "Too many failed sign-ins from your network address. "
            "Please wait %(seconds)s seconds before you try again."
        ),
    }

    def clean(self) -> dict[str, object]:
        address = request_address(self.request) if self.request else "unknown"
        try:
            check(Kind.ADMIN, address)
        except Throttled as exc:
            raise forms.ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"seconds": exc.retry_after},
            ) from None
        try:
            cleaned = super().clean()
        except forms.ValidationError as exc:
            if exc.code == "invalid_login":
                failed(Kind.ADMIN, address)
            raise
        succeeded(Kind.ADMIN, address)
        return cleaned
