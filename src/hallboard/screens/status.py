"""Is a screen online, stale or offline, and why: the one place it is decided.

- **offline**: no heartbeat within ``DISPLAY_OFFLINE_AFTER_SECONDS`` (or never);
  or the screen cannot be showing data whatever its last heartbeat says: its
  token was revoked, or rotated after that heartbeat (the display that sent
  it was locked out and needs the new URL or pairing).
- **stale**: heartbeats arrive, but the revision the screen reports showing is
  older than its school's current revision, and that revision was made more
  than ``DISPLAY_STALE_AFTER_SECONDS`` ago. (Right after an edit every screen
  is briefly behind; displays report the new revision as soon as they show it,
  so the grace period only hides that moment.)
- **online** otherwise.

The *reason* is a sentence for the dashboard, in the language of the request
(the user's, on staff pages); the *mode* is how the screen
hears about changes (push or polling). A push socket refused by the gateway is
not a status of its own (the screen still converges by polling) but it is the
reason shown next to an online polling screen.

Used by the management API, the live dashboard and the metrics collector.
``heartbeat_is_news`` says which heartbeats change what a dashboard shows
(the others are not worth a frame to every open dashboard).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

Status = Literal["online", "stale", "offline"]
STATUSES: tuple[Status, ...] = ("online", "stale", "offline")

#: What each refusal close code means to an admin (codes: hallboard.realtime.core.close_codes).
REFUSAL_REASONS = {
    1008: gettext_lazy("policy violation"),
    1013: gettext_lazy("gateway at capacity"),
    4400: gettext_lazy("missing token or device key"),
    4401: gettext_lazy("invalid or revoked token"),
    4403: gettext_lazy("bound to another device"),
    4408: gettext_lazy("too slow to keep up"),
    4409: gettext_lazy("push is off for this screen"),
}


@dataclass(frozen=True)
class ScreenState:
    status: Status
    reason: str
    #: Since when the screen is in this state, where that is known.
    since: dt.datetime | None = None


def _hhmm(at: dt.datetime, tz: dt.tzinfo | None) -> str:
    return at.astimezone(tz).strftime("%H:%M:%S") if tz else at.strftime("%H:%M:%S UTC")


def is_offline(last_heartbeat_at: dt.datetime | None, now: dt.datetime) -> bool:
    """No heartbeat within ``DISPLAY_OFFLINE_AFTER_SECONDS`` (or never)."""
    if last_heartbeat_at is None:
        return True
    return now - last_heartbeat_at > dt.timedelta(seconds=settings.DISPLAY_OFFLINE_AFTER_SECONDS)


def heartbeat_is_news(
    screen: Any, revision_shown: int | None, mode: str | None, now: dt.datetime
) -> bool:
    """Whether a heartbeat reporting ``revision_shown`` and ``mode`` changes the dashboard.

    ``screen`` carries the heartbeat fields as stored *before* this heartbeat.
    News: the screen comes back online, shows another revision, or changed
    its connection mode. A heartbeat that only refreshes the time and the
    client figures is not (the dashboard refreshes those periodically).
    """
    if is_offline(screen.last_heartbeat_at, now):
        return True
    if revision_shown is not None and revision_shown != screen.revision_shown:
        return True
    return mode is not None and mode != screen.connection_mode


def state_of(
    screen: Any,
    school_revision: int,
    school_revision_changed_at: dt.datetime | None,
    now: dt.datetime,
    tz: dt.tzinfo | None = None,
) -> ScreenState:
    """The state of ``screen`` (a Screen, or any object with its heartbeat fields) at ``now``."""
    stale_after = dt.timedelta(seconds=settings.DISPLAY_STALE_AFTER_SECONDS)
    last = screen.last_heartbeat_at
    if getattr(screen, "token_hash", "") is None:
        return ScreenState("offline", _("token revoked: needs a new display URL or pairing"))
    if last is None:
        return ScreenState("offline", _("never connected"))
    issued = getattr(screen, "token_issued_at", None)
    if issued is not None and issued > last:
        return ScreenState(
            "offline",
            _("new token since %(time)s: waiting for the display to use it")
            % {"time": _hhmm(issued, tz)},
            issued,
        )
    if is_offline(last, now):
        return ScreenState(
            "offline", _("no heartbeat since %(time)s") % {"time": _hhmm(last, tz)}, last
        )
    shown = screen.revision_shown
    if shown is None or shown < school_revision:
        changed = school_revision_changed_at
        if changed is None or now - changed > stale_after:
            return ScreenState("stale", _stale_reason(shown, school_revision, changed, tz), changed)
    code = getattr(screen, "push_refused_code", None)
    if code is not None and screen.connection_mode != "ws":
        what = REFUSAL_REASONS.get(code, _("refused"))
        return ScreenState(
            "online",
            _("polling: push refused with %(code)s (%(reason)s)") % {"code": code, "reason": what},
        )
    if screen.connection_mode == "ws":
        return ScreenState("online", _("push connected"))
    return ScreenState("online", _("polling"))


def _stale_reason(
    shown: int | None, current: int, changed: dt.datetime | None, tz: dt.tzinfo | None
) -> str:
    """Why a screen is stale, as one whole sentence for each case."""
    values = {"shown": shown, "current": current, "time": _hhmm(changed, tz) if changed else ""}
    if shown is None and changed is None:
        return _("shows no revision, current is %(current)s") % values
    if shown is None:
        return _("shows no revision, current is %(current)s since %(time)s") % values
    if changed is None:
        return _("shows revision %(shown)s, current is %(current)s") % values
    return _("shows revision %(shown)s, current is %(current)s since %(time)s") % values


def counts_by_school(rows: Iterable[Any], now: dt.datetime) -> dict[int, Counter[str]]:
    """Screens per status for each school, from screens with ``school`` loaded."""
    counts: dict[int, Counter[str]] = {}
    for screen in rows:
        school = screen.school
        state = state_of(screen, school.revision, school.revision_changed_at, now)
        counts.setdefault(school.pk, Counter())[state.status] += 1
    return counts
