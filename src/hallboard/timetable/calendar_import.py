"""Holidays into the school calendar: from iCal (RFC 5545) and from the ``holidays`` package.

Both write ``Closure`` rows, idempotently: a row is found again by ``source``
and ``external_id`` and updated in place, so importing the same file or region
twice changes nothing. ``import_ical(..., replace=True)`` also deletes the rows
of that source in the file's window that the file no longer has (a feed that
dropped a holiday). Everything for one call happens in one transaction and
bumps the school's revision once.

iCal: each VEVENT (recurrences expanded by ``recurring-ical-events``) becomes
one closure. An all-day event's DTEND is exclusive (RFC 5545 3.6.1): DTSTART
2026-12-21, DTEND 2027-01-02 is a holiday up to and including 1 January.
Without DTEND (or DURATION) an all-day event is one day. Timed events count for
the school-local days they touch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from hallboard.schools import revision
from hallboard.schools.models import School
from hallboard.timetable.models import Closure

#: The largest iCal document read (a school's holiday feed is a few kilobytes).
MAX_ICAL_BYTES = 2 * 1024 * 1024
#: The most events one import writes.
MAX_EVENTS = 2000
URL_TIMEOUT_SECONDS = 15
ICAL_SOURCE = "ical"
HOLIDAYS_SOURCE = "holidays"


class CalendarImportError(ValueError):
    """What is wrong with the input, in words for the person who gave it."""


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    closures: list[Closure] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "closures": [
                {
                    "id": c.pk,
                    "kind": c.kind,
                    "name": c.name,
                    "starts_on": c.starts_on.isoformat(),
                    "ends_on": c.ends_on.isoformat(),
                }
                for c in self.closures
            ],
        }


def fetch_url(url: str) -> bytes:
    """The document at an http(s) URL, at most ``MAX_ICAL_BYTES``."""
    if not url.lower().startswith(("http://", "https://")):
        raise CalendarImportError(_("Only http:// and https:// addresses can be read."))
    request = urllib.request.Request(url, headers={"User-Agent": "hallboard"})  # noqa: S310 - scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=URL_TIMEOUT_SECONDS) as response:  # noqa: S310
            data: bytes = response.read(MAX_ICAL_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise CalendarImportError(
            _("Could not read %(url)s: %(error)s") % {"url": url, "error": exc}
        ) from exc
    if len(data) > MAX_ICAL_BYTES:
        raise CalendarImportError(_("The calendar is larger than 2 MiB."))
    return data


def _day(value: Any, tz: dt.tzinfo) -> tuple[dt.date, bool]:
    """(school-local date, all-day?) of a DTSTART/DTEND value."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=tz)
        return value.astimezone(tz).date(), False
    if isinstance(value, dt.date):
        return value, True
    raise CalendarImportError(_("An event has a start that is not a date."))


def _span(event: Any, tz: dt.tzinfo) -> tuple[dt.date, dt.date]:
    """First and last day (both inclusive) of an event."""
    start_value = event.get("DTSTART")
    if start_value is None:
        raise CalendarImportError(_("An event has no DTSTART."))
    start_raw = start_value.dt
    start, all_day = _day(start_raw, tz)
    end_value = event.get("DTEND")
    if end_value is not None:
        end_raw = end_value.dt
    elif event.get("DURATION") is not None:
        end_raw = start_raw + event.get("DURATION").dt
    else:
        return start, start  # RFC 5545: an all-day event without an end is one day long
    end, _all_day = _day(end_raw, tz)
    if all_day or (
        isinstance(end_raw, dt.datetime) and end_raw.timetz().replace(tzinfo=None) == dt.time()
    ):
        end -= dt.timedelta(days=1)  # DTEND is exclusive
    return start, max(start, end)


def _clean_text(value: Any, limit: int) -> str:
    return str(value or "").replace("\x00", "").strip()[:limit]


def parse_ical(
    data: bytes, tz: dt.tzinfo, window: tuple[dt.date, dt.date]
) -> list[tuple[str, str, dt.date, dt.date]]:
    """(external id, name, first day, last day) of each event in ``window``."""
    import icalendar
    import recurring_ical_events

    if len(data) > MAX_ICAL_BYTES:
        raise CalendarImportError(_("The calendar is larger than 2 MiB."))
    try:
        calendar = icalendar.Calendar.from_ical(data)
        events = recurring_ical_events.of(calendar).between(window[0], window[1])
    except Exception as exc:  # the parsers raise many kinds of errors for bad input
        raise CalendarImportError(
            _("This is not an iCal calendar (RFC 5545): %(error)s") % {"error": exc}
        ) from exc
    if len(events) > MAX_EVENTS:
        raise CalendarImportError(
            _("The calendar has more than %(count)s events in the window.") % {"count": MAX_EVENTS}
        )
    rows = []
    for event in events:
        start, end = _span(event, tz)
        uid = _clean_text(event.get("UID"), 500) or _clean_text(event.get("SUMMARY"), 500)
        key = f"{uid}@{start.isoformat()}"
        if len(key) > 64:
            key = hashlib.sha256(key.encode()).hexdigest()[:64]
        name = _clean_text(event.get("SUMMARY"), 120) or _("Holiday")
        rows.append((key, name, start, end))
    return rows


def _upsert(
    school: School,
    source: str,
    kind: str,
    rows: list[tuple[str, str, dt.date, dt.date]],
    *,
    delete_missing_in: tuple[dt.date, dt.date] | None = None,
) -> ImportResult:
    result = ImportResult()
    with transaction.atomic(), revision.batch():
        existing = {c.external_id: c for c in Closure.objects.filter(school=school, source=source)}
        seen: set[str] = set()
        for key, name, start, end in rows:
            if key in seen:
                continue
            seen.add(key)
            closure = existing.get(key)
            if closure is None:
                closure = Closure.objects.create(
                    school=school,
                    source=source,
                    external_id=key,
                    kind=kind,
                    name=name,
                    starts_on=start,
                    ends_on=end,
                )
                result.created += 1
            elif (closure.name, closure.starts_on, closure.ends_on, closure.kind) != (
                name,
                start,
                end,
                kind,
            ):
                closure.name, closure.starts_on, closure.ends_on, closure.kind = (
                    name,
                    start,
                    end,
                    kind,
                )
                closure.save()
                result.updated += 1
            else:
                result.unchanged += 1
            result.closures.append(closure)
        if delete_missing_in is not None:
            first, last = delete_missing_in
            gone = [
                c.pk
                for key, c in existing.items()
                if key not in seen and c.ends_on >= first and c.starts_on <= last
            ]
            if gone:
                result.deleted = Closure.objects.filter(pk__in=gone).delete()[0]
    result.closures.sort(key=lambda c: (c.starts_on, c.name))
    return result


def default_window(today: dt.date) -> tuple[dt.date, dt.date]:
    """From a year ago to two years ahead: this school year and the next."""
    return today - dt.timedelta(days=366), today + dt.timedelta(days=731)


def import_ical(
    school: School,
    data: bytes,
    *,
    kind: str = Closure.Kind.HOLIDAY,
    source: str = ICAL_SOURCE,
    replace: bool = True,
    today: dt.date | None = None,
) -> ImportResult:
    """Holidays or closures from an iCal document into ``school``'s calendar."""
    if kind not in Closure.Kind.values:
        raise CalendarImportError(_("Unknown kind %(kind)r.") % {"kind": kind})
    local_today = today or dt.datetime.now(school.tz).date()
    window = default_window(local_today)
    rows = parse_ical(data, school.tz, window)
    return _upsert(school, source, kind, rows, delete_missing_in=window if replace else None)


def split_region(region: str) -> tuple[str, str | None]:
    """'DE-BE' → ('DE', 'BE'); 'GB' → ('GB', None)."""
    country, _sep, subdivision = region.strip().upper().partition("-")
    return country, subdivision or None


def public_holidays(
    region: str, years: list[int], language: str | None = None
) -> list[tuple[dt.date, str]]:
    """The public holidays of a region (ISO 3166: 'DE-BE', 'GB-ENG', 'FR') in ``years``."""
    import holidays

    country, subdivision = split_region(region)
    if not country:
        raise CalendarImportError(_("Name a region, e.g. 'DE-BE' or 'GB-ENG'."))
    if not years or any(not (1900 <= y <= 2200) for y in years) or len(years) > 10:
        raise CalendarImportError(_("Name up to ten years between 1900 and 2200."))
    try:
        found = holidays.country_holidays(
            country, subdiv=subdivision, years=years, language=language
        )
    except NotImplementedError as exc:
        raise CalendarImportError(
            _("No public holidays known for %(region)s: %(error)s")
            % {"region": region, "error": exc}
        ) from exc
    return sorted(found.items())


def import_public_holidays(
    school: School, region: str, years: list[int], language: str | None = None
) -> ImportResult:
    """Public holidays of ``region`` in ``years`` into ``school``'s calendar (one day each)."""
    rows = [
        (f"{region.upper()}:{day.isoformat()}", str(name)[:120], day, day)
        for day, name in public_holidays(region, years, language)
    ]
    return _upsert(school, HOLIDAYS_SOURCE, Closure.Kind.PUBLIC_HOLIDAY, rows)
