"""Today's changes: what the timetabler's page reads and writes (docs/staff.md).

The page shows the effective timetable of one school and date as computed by
``hallboard.timetable.day.effective_day`` (nothing is re-derived here) and
changes it through ``Substitution`` and ``TeacherAbsence`` rows, validated by
the models' own rules (``Substitution.clean``: one change per lesson and date,
a room change needs its room...). Every write is one transaction with one
revision bump (``hallboard.schools.revision.batch``), so screens hear of it at
once and two people editing the same day see each other's changes.

Conflicts: each slot carries a *tag* naming the state of its change as the
page saw it (``"none"`` or ``"<id>:<updated_at>"``). A write sends the tag it
was made against; when the lesson's change is no longer what the page saw,
the write is refused (``Refused`` 409 ``conflict``) naming what is there now,
and nothing is overwritten.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from hallboard.schools import revision
from hallboard.schools.models import School
from hallboard.staff.refused import Refused
from hallboard.timetable.calendar import SchoolCalendarView
from hallboard.timetable.day import Day, Slot, effective_day, natural_key, slot_json
from hallboard.timetable.models import (
    Lesson,
    Period,
    Room,
    SchoolClass,
    Substitution,
    Teacher,
    TeacherAbsence,
)

logger = logging.getLogger(__name__)

Kind = Substitution.Kind

#: The kinds the page makes (the admin and the API make the others).
PAGE_KINDS = (Kind.CANCELLED, Kind.SUBSTITUTE, Kind.ROOM_CHANGE, Kind.NOTE)
ACTIONS = ("cancel", "substitute", "room", "note", "clear")
MAX_PASTE_ROWS = 500
MAX_PASTE_CHARS = 100_000
NOTE_LENGTH = 200


def today(school: School, now: dt.datetime | None = None) -> dt.date:
    """The date in the school's time zone."""
    return (now or timezone.now()).astimezone(school.tz).date()


def tag_of(change: Substitution | None) -> str:
    """The state of a lesson's change as a page saw it (sent back with each write)."""
    if change is None:
        return "none"
    return f"{change.pk}:{change.updated_at.isoformat()}"


# --- reading a day ------------------------------------------------------------------------


@dataclass
class Board:
    """A school's day as the page shows it: the effective day and who is free when."""

    school: School
    date: dt.date
    day: Day
    periods: list[Period]
    classes: list[SchoolClass]
    teachers: list[Teacher]
    rooms: list[Room]
    absences: list[TeacherAbsence]
    busy_teachers: dict[int, set[str]] = field(default_factory=dict)
    busy_rooms: dict[int, set[str]] = field(default_factory=dict)
    absent: dict[int, set[str]] = field(default_factory=dict)

    def free_teachers(self, period: Period) -> list[Teacher]:
        busy = self.busy_teachers.get(period.pk, set()) | self.absent.get(period.pk, set())
        return [t for t in self.teachers if t.code not in busy]

    def free_rooms(self, period: Period) -> list[Room]:
        busy = self.busy_rooms.get(period.pk, set())
        return [r for r in self.rooms if r.name not in busy]

    def absent_in(self, slot: Slot) -> list[str]:
        """The slot's regular teachers who are away in its period."""
        if slot.regular is None:
            return []
        away = self.absent.get(slot.period.pk, set())
        return [code for code in slot.regular.teachers if code in away]


def load(school: School, date: dt.date) -> Board:
    calendar = SchoolCalendarView.load(school.pk)
    day = effective_day(school, date, calendar=calendar)
    periods = list(Period.objects.filter(school=school).order_by("starts_at", "number"))
    classes = sorted(SchoolClass.objects.filter(school=school), key=lambda c: natural_key(c.name))
    absences = list(
        TeacherAbsence.objects.filter(school=school, starts_on__lte=date, ends_on__gte=date)
        .select_related("teacher", "first_period", "last_period")
        .order_by("teacher__code", "pk")
    )
    board = Board(
        school=school,
        date=date,
        day=day,
        periods=periods,
        classes=classes,
        teachers=list(Teacher.objects.filter(school=school).order_by("code")),
        rooms=sorted(Room.objects.filter(school=school), key=lambda r: natural_key(r.name)),
        absences=absences,
    )
    for slot in day.slots:
        if slot.now is not None:
            board.busy_teachers.setdefault(slot.period.pk, set()).update(slot.now.teachers)
            board.busy_rooms.setdefault(slot.period.pk, set()).update(slot.now.rooms)
    for period in periods:
        board.absent[period.pk] = {a.teacher.code for a in absences if a.covers(date, period)}
    return board


def _slot_key(slot: Slot) -> str:
    if slot.moved_from is not None and slot.change is not None:
        return f"in-{slot.change.pk}"  # a lesson moved here from elsewhere
    if slot.lesson is not None:
        return f"lesson-{slot.lesson.pk}"
    assert slot.change is not None
    return f"change-{slot.change.pk}"


def board_json(board: Board) -> dict[str, Any]:
    """The page's data: grid rows and columns, slots, absences, who and what is free."""
    day = board.day
    slots = []
    for slot in day.slots:
        data = slot_json(slot)
        absent = board.absent_in(slot)
        data.update(
            key=_slot_key(slot),
            tag=tag_of(slot.change),
            class_ids=sorted(slot.class_ids),
            editable=slot.lesson is not None
            and slot.moved_from is None
            and (slot.change is None or slot.change.kind in PAGE_KINDS),
            absent=absent,
            needs_cover=bool(absent) and slot.change is None and slot.lesson is not None,
            substitute=(
                slot.change.substitute_teacher.code
                if slot.change is not None and slot.change.substitute_teacher is not None
                else None
            ),
        )
        slots.append(data)
    return {
        "school": board.school.slug,
        "date": board.date.isoformat(),
        "weekday": board.date.isoweekday(),
        "revision": board.school.revision,
        "school_day": day.school_day,
        "reason": day.reason,
        "closure": day.closure.name if day.closure is not None else None,
        "week_label": day.week_label,
        "periods": [
            {
                "id": p.pk,
                "number": p.number,
                "label": p.label or str(p.number),
                "start": p.starts_at.strftime("%H:%M"),
                "end": p.ends_at.strftime("%H:%M"),
                "free_teachers": [t.code for t in board.free_teachers(p)],
                "free_rooms": [r.name for r in board.free_rooms(p)],
                "absent": sorted(board.absent.get(p.pk, set())),
            }
            for p in board.periods
        ],
        "classes": [{"id": c.pk, "name": c.name} for c in board.classes],
        "teachers": [{"code": t.code, "name": t.name} for t in board.teachers],
        "rooms": [r.name for r in board.rooms],
        "slots": slots,
        "absences": [
            {
                "id": a.pk,
                "teacher": a.teacher.code,
                "name": a.teacher.name,
                "first_period": _period_on(a, board.date, first=True),
                "last_period": _period_on(a, board.date, first=False),
                "days": [a.starts_on.isoformat(), a.ends_on.isoformat()],
                "reason": a.reason,
            }
            for a in board.absences
        ],
    }


def _period_on(absence: TeacherAbsence, date: dt.date, *, first: bool) -> int | None:
    """The first (last) period of the absence on ``date``; None: from the start (to the end)."""
    if first:
        period = absence.first_period if date == absence.starts_on else None
    else:
        period = absence.last_period if date == absence.ends_on else None
    return period.number if period is not None else None


# --- one change --------------------------------------------------------------------------


def _messages(exc: ValidationError) -> str:
    return " ".join(str(m) for messages in exc.message_dict.values() for m in messages)


def _teacher(school: School, code: str | None) -> Teacher | None:
    code = (code or "").strip()
    if not code:
        return None
    teacher = Teacher.objects.filter(school=school, code__iexact=code).first()
    if teacher is None:
        raise Refused(
            422, "unknown_teacher", _("There is no teacher %(code)s here.") % {"code": code}
        )
    return teacher


def _room(school: School, name: str | None) -> Room | None:
    name = (name or "").strip()
    if not name:
        return None
    room = Room.objects.filter(school=school, name__iexact=name).first()
    if room is None:
        raise Refused(422, "unknown_room", _("There is no room %(name)s here.") % {"name": name})
    return room


def describe(change: Substitution | None) -> str:
    """A change in a few words, for messages ("Substitute teacher: SCH")."""
    if change is None:
        return _("no change")
    text = change.get_kind_display()
    extra = []
    if change.substitute_teacher is not None:
        extra.append(change.substitute_teacher.code)
    if change.room is not None:
        extra.append(change.room.name)
    if change.note:
        extra.append(f"“{change.note}”")
    return f"{text}: {', '.join(extra)}" if extra else str(text)


def _conflict(lesson: Lesson, current: Substitution | None) -> Refused:
    return Refused(
        409,
        "conflict",
        _(
            "Someone else changed this lesson meanwhile; it is now: %(now)s. "
            "Your change was not saved: look at theirs, then change it again if need be."
        )
        % {"now": describe(current)},
        tag=tag_of(current),
        lesson=lesson.pk,
    )


def _current(lesson: Lesson, date: dt.date) -> Substitution | None:
    # Only the change's own row is locked: PostgreSQL refuses FOR UPDATE on the nullable
    # side of the outer joins select_related makes.
    return (
        Substitution.objects.select_for_update(of=("self",))
        .filter(lesson=lesson, date=date)
        .select_related("substitute_teacher", "room", "teacher")
        .first()
    )


def _replaced(lesson: Lesson, board_absent: set[str], replaces: str | None) -> Teacher | None:
    """The teacher a substitute stands in for, where the lesson has several."""
    teachers = list(lesson.teachers.all())
    if len(teachers) < 2:
        return None
    wanted = (replaces or "").strip().upper()
    for teacher in teachers:
        if teacher.code.upper() == wanted:
            return teacher
    for teacher in teachers:
        if teacher.code in board_absent:
            return teacher
    return None


def change(
    school: School,
    date: dt.date,
    *,
    lesson_id: int,
    action: str,
    value: str = "",
    expect: str,
    replaces: str | None = None,
) -> Substitution | None:
    """Apply one action to one lesson of ``date``; returns its change (None once cleared).

    ``expect`` is the tag the page saw; a different current state is a 409 conflict.
    Actions: cancel, substitute (value: teacher code), room (value: room name),
    note (value: text; kept with the change there is, else a note of its own),
    clear (the lesson as planned again).
    """
    if action not in ACTIONS:
        raise Refused(400, "bad_action", _("Unknown action."))
    lesson = Lesson.objects.filter(school=school, pk=lesson_id).select_related("period").first()
    if lesson is None:
        raise Refused(404, "not_found", _("No such lesson in this school."))
    with revision.batch():
        current = _current(lesson, date)
        if tag_of(current) != expect:
            raise _conflict(lesson, current)
        if current is not None and current.kind not in PAGE_KINDS:
            raise Refused(
                422,
                "edit_in_admin",
                _("Change this lesson's change (%(kind)s) in the admin.")
                % {"kind": current.get_kind_display()},
            )
        if action == "clear":
            if current is not None:
                current.delete()
            return None
        target = current or Substitution(school=school, date=date, lesson=lesson, note="")
        if current is not None and current.source != "manual":
            target.source = "manual"  # a person changed it: an import keeps it (docs/import.md)
        if action == "cancel":
            target.kind = Kind.CANCELLED
            target.substitute_teacher = None
            target.room = None
        elif action == "substitute":
            teacher = _teacher(school, value)
            if teacher is None:
                raise Refused(422, "missing_value", _("Name the substitute teacher."))
            if target.kind not in (Kind.SUBSTITUTE, Kind.ROOM_CHANGE, Kind.NOTE):
                target.room = None
            target.kind = Kind.SUBSTITUTE
            target.substitute_teacher = teacher
            absent = {
                a.teacher.code
                for a in TeacherAbsence.objects.filter(
                    school=school, starts_on__lte=date, ends_on__gte=date
                ).select_related("teacher", "first_period", "last_period")
                if a.covers(date, lesson.period)
            }
            target.teacher = _replaced(lesson, absent, replaces)
        elif action == "room":
            room = _room(school, value)
            if room is None:
                raise Refused(422, "missing_value", _("Name the room."))
            if target.kind != Kind.SUBSTITUTE:
                target.kind = Kind.ROOM_CHANGE
                target.substitute_teacher = None
            target.room = room
        elif action == "note":
            note = value.strip()
            if len(note) > NOTE_LENGTH:
                raise Refused(
                    422,
                    "note_too_long",
                    _("A note has at most %(count)s characters.") % {"count": NOTE_LENGTH},
                )
            if current is None and not note:
                raise Refused(422, "missing_value", _("Write the note."))
            if current is None:
                target.kind = Kind.NOTE
            target.note = note
        try:
            target.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            raise Refused(422, "invalid", _messages(exc)) from exc
        try:
            with transaction.atomic():
                target.save()
        except IntegrityError as exc:  # another writer inserted the lesson's change first
            raise _conflict(
                lesson, Substitution.objects.filter(lesson=lesson, date=date).first()
            ) from exc
    return target


# --- absences ------------------------------------------------------------------------------


def add_absence(
    school: School,
    date: dt.date,
    *,
    teacher: str,
    first_period: int | None = None,
    last_period: int | None = None,
    reason: str = "",
) -> TeacherAbsence:
    """Mark a teacher away on ``date`` (all day, or from/to a period)."""
    who = _teacher(school, teacher)
    if who is None:
        raise Refused(422, "missing_value", _("Name the teacher who is away."))
    periods = {p.number: p for p in Period.objects.filter(school=school)}
    first = last = None
    for number, name in ((first_period, "first"), (last_period, "last")):
        if number is None:
            continue
        period = periods.get(number)
        if period is None:
            raise Refused(
                422, "unknown_period", _("There is no period %(number)s.") % {"number": number}
            )
        if name == "first":
            first = period
        else:
            last = period
    if first is not None and last is not None and last.starts_at < first.starts_at:
        raise Refused(422, "invalid", _("The last period is before the first."))
    absence = TeacherAbsence(
        school=school,
        teacher=who,
        starts_on=date,
        ends_on=date,
        first_period=first,
        last_period=last,
        reason=reason[:80],
    )
    try:
        absence.full_clean()
    except ValidationError as exc:
        raise Refused(422, "invalid", _messages(exc)) from exc
    absence.save()
    return absence


def remove_absence(school: School, date: dt.date, absence_id: int) -> None:
    """End an absence for ``date``: a one-day absence goes; a longer one loses that day."""
    with revision.batch():
        absence = (
            TeacherAbsence.objects.select_for_update()
            .filter(school=school, pk=absence_id, starts_on__lte=date, ends_on__gte=date)
            .first()
        )
        if absence is None:
            raise Refused(404, "not_found", _("No such absence on this day."))
        one_day = dt.timedelta(days=1)
        if absence.starts_on == absence.ends_on == date:
            absence.delete()
        elif absence.starts_on == date:
            absence.starts_on, absence.first_period = date + one_day, None
            absence.save()
        elif absence.ends_on == date:
            absence.ends_on, absence.last_period = date - one_day, None
            absence.save()
        else:  # split around the day
            after = TeacherAbsence(
                school=school,
                teacher=absence.teacher,
                starts_on=date + one_day,
                ends_on=absence.ends_on,
                last_period=absence.last_period,
                reason=absence.reason,
            )
            absence.ends_on, absence.last_period = date - one_day, None
            absence.save()
            after.save()


# --- pasted rows ---------------------------------------------------------------------------


@dataclass
class PasteRow:
    line: int
    cells: list[str]
    school_class: str = ""
    period: str = ""
    kind: str = ""
    teacher: str = ""
    room: str = ""
    note: str = ""
    errors: list[str] = field(default_factory=list)
    lesson: Lesson | None = None
    resolved_kind: str | None = None
    slot: Slot | None = None

    def as_json(self) -> dict[str, Any]:
        slot = self.slot
        return {
            "line": self.line,
            "class": self.school_class,
            "period": self.period,
            "kind": self.resolved_kind or self.kind,
            "teacher": self.teacher,
            "room": self.room,
            "note": self.note,
            "lesson": self.lesson.pk if self.lesson is not None else None,
            "regular": slot.regular.as_json() if slot is not None and slot.regular else None,
            "errors": self.errors,
        }


def _kind_words() -> dict[str, str]:
    """Every word a pasted kind may be, in each language, lower case → kind."""
    words: dict[str, str] = {}
    aliases = {
        Kind.CANCELLED: ["cancel", "x", "entfall", "entfällt", "ausfall", "fällt aus"],
        Kind.SUBSTITUTE: ["sub", "cover", "vertretung", "vertr", "vertr."],
        Kind.ROOM_CHANGE: ["room", "raum", "raumänderung", "raumwechsel"],
        Kind.NOTE: ["notiz", "hinweis", "info"],
    }
    for kind in PAGE_KINDS:
        words[kind.value] = kind.value
        for language in ("en", "de"):
            with override(language):
                words[str(kind.label).lower()] = kind.value
        for alias in aliases[kind]:
            words[alias] = kind.value
    return words


def split_rows(text: str) -> list[tuple[int, list[str]]]:
    """Pasted text → (line number, cells), the dialect sniffed (tabs from a spreadsheet,
    commas or semicolons from a CSV file). A header row naming the columns is skipped."""
    if len(text) > MAX_PASTE_CHARS:
        raise Refused(
            413, "too_large", _("Paste at most %(count)s characters.") % {"count": MAX_PASTE_CHARS}
        )
    lines = list(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    sample = "\n".join(line for line in lines if line.strip())[:4096]
    if not sample:
        return []
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters="\t;,|")
    except csv.Error:
        dialect = csv.excel_tab if "\t" in sample else csv.excel
    rows: list[tuple[int, list[str]]] = []
    for number, cells in enumerate(csv.reader(lines, dialect), start=1):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        rows.append((number, cells))
    if rows and _is_header(rows[0][1]):
        rows = rows[1:]
    if len(rows) > MAX_PASTE_ROWS:
        raise Refused(
            413, "too_many_rows", _("Paste at most %(count)s rows.") % {"count": MAX_PASTE_ROWS}
        )
    return rows


def _is_header(cells: list[str]) -> bool:
    period = cells[1].strip() if len(cells) > 1 else ""
    return bool(period) and not period.isdigit()


def plan_paste(school: School, date: dt.date, text: str) -> list[PasteRow]:
    """Each pasted row, resolved to its lesson of the effective day, with its errors."""
    board = load(school, date)
    kinds = _kind_words()
    teachers = {t.code.upper(): t for t in board.teachers}
    rooms = {r.name.upper(): r for r in board.rooms}
    by_class_period: dict[tuple[str, int], list[Slot]] = {}
    for slot in board.day.slots:
        if slot.lesson is None or slot.moved_from is not None:
            continue
        for school_class in slot.classes:
            by_class_period.setdefault((school_class.name.upper(), slot.period.number), []).append(
                slot
            )
    class_names = {c.name.upper() for c in board.classes}
    planned: list[PasteRow] = []
    seen: dict[int, int] = {}
    for line, cells in split_rows(text):
        padded = (cells + [""] * 6)[:6]
        row = PasteRow(
            line,
            cells,
            school_class=padded[0],
            period=padded[1],
            kind=padded[2],
            teacher=padded[3],
            room=padded[4],
            note=padded[5],
        )
        planned.append(row)
        if len(cells) > 6:
            row.errors.append(
                _("%(count)s columns; expected class, period, kind, teacher, room, note.")
                % {"count": len(cells)}
            )
        kind = kinds.get(row.kind.strip().lower())
        if kind is None:
            row.errors.append(
                _("Unknown kind %(kind)r: use cancelled, substitute, room change or note.")
                % {"kind": row.kind}
            )
        row.resolved_kind = kind
        if not row.period.isdigit():
            row.errors.append(
                _("The period must be a number, not %(value)r.") % {"value": row.period}
            )
            continue
        if row.school_class.upper() not in class_names:
            row.errors.append(_("There is no class %(name)s here.") % {"name": row.school_class})
            continue
        slots = by_class_period.get((row.school_class.upper(), int(row.period)), [])
        if not slots:
            row.errors.append(
                _("%(name)s has no lesson in period %(period)s on this day.")
                % {"name": row.school_class, "period": row.period}
            )
            continue
        if len(slots) > 1:
            row.errors.append(
                _("%(name)s has %(count)s lessons in period %(period)s: change those on the grid.")
                % {"name": row.school_class, "count": len(slots), "period": row.period}
            )
            continue
        slot = slots[0]
        row.slot, row.lesson = slot, slot.lesson
        assert row.lesson is not None
        if row.lesson.pk in seen:
            row.errors.append(
                _("Line %(line)s already changes this lesson: one change per lesson and day.")
                % {"line": seen[row.lesson.pk]}
            )
            continue
        seen[row.lesson.pk] = line
        if slot.change is not None:
            row.errors.append(
                _("This lesson already has a change: %(change)s. Change that one on the grid.")
                % {"change": describe(slot.change)}
            )
        if row.teacher and row.teacher.upper() not in teachers:
            row.errors.append(_("There is no teacher %(code)s here.") % {"code": row.teacher})
        if row.room and row.room.upper() not in rooms:
            row.errors.append(_("There is no room %(name)s here.") % {"name": row.room})
        if kind == Kind.SUBSTITUTE and not row.teacher:
            row.errors.append(_("A substitution needs the substitute teacher."))
        if kind == Kind.NOTE and not row.note:
            row.errors.append(_("A note needs its text."))
        if len(row.note) > NOTE_LENGTH:
            row.errors.append(
                _("A note has at most %(count)s characters.") % {"count": NOTE_LENGTH}
            )
        if row.errors or kind is None:
            continue
        candidate = _paste_change(school, date, row, teachers, rooms)
        try:
            candidate.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            row.errors.append(_messages(exc))
    return planned


def _paste_change(
    school: School,
    date: dt.date,
    row: PasteRow,
    teachers: dict[str, Teacher],
    rooms: dict[str, Room],
) -> Substitution:
    assert row.lesson is not None
    assert row.resolved_kind is not None
    kind = row.resolved_kind
    return Substitution(
        school=school,
        date=date,
        lesson=row.lesson,
        period_id=row.lesson.period_id,
        kind=kind,
        substitute_teacher=teachers.get(row.teacher.upper()) if kind != Kind.CANCELLED else None,
        room=rooms.get(row.room.upper()) if kind != Kind.CANCELLED else None,
        note=row.note,
    )


def apply_paste(school: School, date: dt.date, text: str) -> list[PasteRow]:
    """Write every pasted row in one transaction and one revision bump, or none (any error:
    ``Refused`` 422 ``paste_invalid`` with the rows)."""
    with revision.batch():
        rows = plan_paste(school, date, text)
        if not rows:
            raise Refused(422, "paste_empty", _("Nothing to apply: paste some rows first."))
        if any(row.errors for row in rows):
            raise Refused(
                422,
                "paste_invalid",
                _("Nothing was applied: correct the rows marked in red."),
                rows=[row.as_json() for row in rows],
            )
        board_teachers = {t.code.upper(): t for t in Teacher.objects.filter(school=school)}
        board_rooms = {r.name.upper(): r for r in Room.objects.filter(school=school)}
        changes = [_paste_change(school, date, row, board_teachers, board_rooms) for row in rows]
        try:
            with transaction.atomic():
                Substitution.objects.bulk_create(changes)
        except IntegrityError as exc:  # someone changed one of these lessons in between
            raise Refused(
                409,
                "conflict",
                _("Someone else changed one of these lessons meanwhile. Nothing was applied."),
            ) from exc
    return rows


# --- what the screens show -----------------------------------------------------------------


def screens_json(school: School, now: dt.datetime) -> list[dict[str, Any]]:
    """The school's screens, with the revision each shows and when it said so last."""
    from hallboard.screens.models import Screen
    from hallboard.screens.status import state_of

    school.refresh_from_db(fields=["revision", "revision_changed_at"])
    tz = school.tz
    rows = []
    for screen in Screen.objects.filter(school=school).order_by("name", "pk"):
        state = state_of(screen, school.revision, school.revision_changed_at, now, tz)
        last = screen.last_heartbeat_at
        rows.append(
            {
                "id": screen.pk,
                "name": screen.name,
                "status": state.status,
                "reason": state.reason,
                "revision_shown": screen.revision_shown,
                "current": screen.revision_shown is not None
                and screen.revision_shown >= school.revision,
                "heard_at": last.astimezone(tz).strftime("%H:%M:%S") if last else None,
            }
        )
    return rows


def screen_preview(school: School, screen_id: int, now: dt.datetime) -> dict[str, Any]:
    """What one screen shows now: its snapshot's day(s) for its view (the same builder)."""
    from hallboard.display import snapshot
    from hallboard.screens.models import Screen

    screen = Screen.objects.filter(school=school, pk=screen_id).select_related("school").first()
    if screen is None:
        raise Refused(404, "not_found", _("No such screen in this school."))
    content, _etag = snapshot.build(screen, now)
    return {
        "screen": content["screen"],
        "rev": content["meta"]["rev"],
        "periods": content["periods"],
        "day": content["day"],
        "next": content["next"],
        "announcements": [a["title"] for a in content["announcements"]],
        "alert": content["alert"] is not None,
    }
