"""Values derived from the settings once, for code on a hot path, and again after a change.

The status fast path answers every display's poll and reads a handful of settings and the
limiter they choose for each; reading them through ``django.conf.settings`` every time
costs more than the rest of a 304. ``per_settings`` caches a function's answer (by its
arguments, like ``functools.lru_cache``) and drops every cached answer when Django says a
setting changed (``setting_changed``: ``override_settings`` and pytest-django's
``settings`` fixture send it), so tests that change settings see the change.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar, overload

from django.core.signals import setting_changed

F = TypeVar("F", bound=Callable[..., Any])

#: The ``cache_clear`` of every function made with ``per_settings``.
_CLEARS: list[Callable[[], None]] = []


@overload
def per_settings(function: F) -> F: ...


@overload
def per_settings(*, maxsize: int | None = None) -> Callable[[F], F]: ...


def per_settings(function: F | None = None, *, maxsize: int | None = None) -> Any:
    """``function`` with its answers kept until the settings change (``cache_clear()`` too).

    ``@per_settings`` keeps every answer (for functions of few arguments);
    ``@per_settings(maxsize=N)`` the N last used (for arguments a client chooses, such as
    a ``Host`` header)."""

    def wrap(function: F) -> F:
        cached = lru_cache(maxsize=maxsize)(function)
        _CLEARS.append(cached.cache_clear)
        return cached  # type: ignore[return-value]

    return wrap if function is None else wrap(function)


def forget(**_: Any) -> None:
    """Drop every cached answer (a setting changed)."""
    for clear in _CLEARS:
        clear()


setting_changed.connect(forget, dispatch_uid="hallboard-settingscache")
