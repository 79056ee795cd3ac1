"""``hallboard calendar``: a school's holidays, closures and week rotation from the shell.

hallboard calendar show lindenhof [--from 2026-11-01] [--weeks 12]
hallboard calendar rotation lindenhof --labels A,B --anchor 2026-09-07
hallboard calendar week lindenhof 2026-W49 A        (or --clear)
hallboard calendar closure lindenhof "Staff training" 2026-12-04 [2026-12-04] [--kind closure]
hallboard calendar ical lindenhof ferien.ics        (a file, or an http(s) address)
hallboard calendar holidays lindenhof --region DE-BE --years 2026 2027
"""

from __future__ import annotations

import datetime as dt
import re
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from hallboard.schools.models import School
from hallboard.timetable.calendar import SchoolCalendarView
from hallboard.timetable.calendar_import import (
    ICAL_SOURCE,
    MAX_ICAL_BYTES,
    CalendarImportError,
    ImportResult,
    fetch_url,
    import_ical,
    import_public_holidays,
)
from hallboard.timetable.models import Closure, SchoolCalendar, WeekLabel, monday_of


def _date(value: str) -> dt.date:
    match = re.match(r"^(\d{4})-W(\d{2})$", value)
    try:
        if match:
            return dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a date (2026-12-04) or a week (2026-W49).") from exc


class Command(BaseCommand):
    help = "Show and change a school's calendar: rotation, week labels, holidays, closures."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        show = sub.add_parser("show", help="Week labels, holidays and closures.")
        show.add_argument("school")
        show.add_argument("--from", dest="start", type=_date)
        show.add_argument("--weeks", type=int, default=12)

        rotation = sub.add_parser("rotation", help="Set the week rotation.")
        rotation.add_argument("school")
        rotation.add_argument("--labels", required=True, help="e.g. A,B; empty: none")
        rotation.add_argument("--anchor", type=_date, help="A day in the first label's week.")
        rotation.add_argument("--region", help="For public holidays, e.g. DE-BE.")

        week = sub.add_parser("week", help="Set (or --clear) one week's label by hand.")
        week.add_argument("school")
        week.add_argument("week", type=_date, help="2026-W49 or a date in the week")
        week.add_argument("label", nargs="?")
        week.add_argument("--clear", action="store_true")

        closure = sub.add_parser("closure", help="Add a holiday or closure.")
        closure.add_argument("school")
        closure.add_argument("name")
        closure.add_argument("starts_on", type=_date)
        closure.add_argument("ends_on", type=_date, nargs="?")
        closure.add_argument("--kind", choices=Closure.Kind.values, default=Closure.Kind.CLOSURE)

        ical = sub.add_parser("ical", help="Holidays from an iCal file or http(s) address.")
        ical.add_argument("school")
        ical.add_argument("location", help="a file, or an http(s) address")
        ical.add_argument("--kind", choices=Closure.Kind.values, default=Closure.Kind.HOLIDAY)
        ical.add_argument("--source", default=ICAL_SOURCE)
        ical.add_argument(
            "--keep", action="store_true", help="Keep rows of this source the file no longer has."
        )

        holidays = sub.add_parser("holidays", help="Public holidays of a region.")
        holidays.add_argument("school")
        holidays.add_argument("--region", help="Default: the calendar's region.")
        holidays.add_argument("--years", type=int, nargs="+", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        school = School.objects.filter(slug=options["school"]).first()
        if school is None:
            raise CommandError(f"No school {options['school']!r}.")
        try:
            getattr(self, "do_" + options["action"])(school, options)
        except CalendarImportError as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc

    def do_show(self, school: School, options: dict[str, Any]) -> None:
        today = timezone.now().astimezone(school.tz).date()
        start = options["start"] or today
        end = start + dt.timedelta(weeks=max(1, min(options["weeks"], 110)) - 1)
        view = SchoolCalendarView.load(school.pk)
        self.stdout.write(f"{school.name}: rotation {', '.join(view.labels) or 'none'}")
        for row in view.weeks(start, end):
            monday = row["monday"]
            assert isinstance(monday, dt.date)
            closures = {
                c.name
                for d in range(7)
                if (c := view.closure_on(monday + dt.timedelta(days=d))) is not None
            }
            label = row["label"] or "-"
            mark = " (set by hand)" if row["set_by_hand"] else ""
            note = f"  {', '.join(sorted(closures))}" if closures else ""
            self.stdout.write(f"{row['week']}  {monday}  {label}{mark}{note}")

    def do_rotation(self, school: School, options: dict[str, Any]) -> None:
        calendar = SchoolCalendar.objects.filter(school=school).first() or SchoolCalendar(
            school=school
        )
        calendar.week_cycle = options["labels"]
        calendar.anchor = options["anchor"] or calendar.anchor
        if options["region"] is not None:
            calendar.region = options["region"].upper()
        calendar.full_clean()
        calendar.save()
        self.stdout.write(f"Rotation {calendar.week_cycle or 'none'} from {calendar.anchor}.")

    def do_week(self, school: School, options: dict[str, Any]) -> None:
        monday = monday_of(options["week"])
        with transaction.atomic():
            WeekLabel.objects.filter(school=school, week=monday).delete()
            if not options["clear"]:
                if not options["label"]:
                    raise CommandError("Name the label, or --clear.")
                row = WeekLabel(school=school, week=monday, label=options["label"])
                row.full_clean()
                row.save()
        label = SchoolCalendarView.load(school.pk).week_label(monday)
        self.stdout.write(f"Week of {monday}: {label or '-'}")

    def do_closure(self, school: School, options: dict[str, Any]) -> None:
        closure = Closure(
            school=school,
            kind=options["kind"],
            name=options["name"],
            starts_on=options["starts_on"],
            ends_on=options["ends_on"] or options["starts_on"],
        )
        closure.full_clean()
        closure.save()
        self.stdout.write(f"Added {closure}.")

    def do_ical(self, school: School, options: dict[str, Any]) -> None:
        location = options["location"]
        if location.lower().startswith(("http://", "https://")):
            data = fetch_url(location)
        else:
            path = Path(location)
            if not path.is_file():
                raise CommandError(f"No file {location!r}.")
            if path.stat().st_size > MAX_ICAL_BYTES:
                raise CommandError("The calendar is larger than 2 MiB.")
            data = path.read_bytes()
        result = import_ical(
            school,
            data,
            kind=options["kind"],
            source=options["source"],
            replace=not options["keep"],
        )
        self._report(result)

    def do_holidays(self, school: School, options: dict[str, Any]) -> None:
        calendar = SchoolCalendar.objects.filter(school=school).first()
        region = options["region"] or (calendar.region if calendar else "")
        if not region:
            raise CommandError("Name the region (--region DE-BE), or set the calendar's region.")
        language = getattr(school, "language", None) or None
        self._report(import_public_holidays(school, region, options["years"], language))

    def _report(self, result: ImportResult) -> None:
        for closure in result.closures:
            self.stdout.write(f"{closure.starts_on} - {closure.ends_on}  {closure.name}")
        self.stdout.write(
            f"{result.created} added, {result.updated} updated, {result.unchanged} unchanged, "
            f"{result.deleted} removed."
        )
