"""What an import would change in a school: the difference, worked out before anything is written.

``plan_import(school, bundle, options)`` reads the school's current rows and
turns the records of a ``Bundle`` into the rows the school should have
("specs"), compares the two and returns a ``Plan``: per kind (classes,
teachers, rooms, subjects, lessons, substitutions, holidays, announcements,
week labels) what would be added, changed and removed, what stays, and the
conflicts with manual edits. It writes nothing; ``hallboard.imports.apply``
carries a plan out. docs/import.md ("Semantics") states the rules; in short:

* **Identity.** Imported rows are found again by ``source`` ("untis" for GPU
  files and monitor pages, "csv" for hallboard CSV) and ``external_id``.
  Master data is found by its code or name.
* **What an import states.** Lessons of a source are stated completely by an
  import holding lessons of that source; substitutions on each date from the
  first to the last of a GPU014 or CSV file, or on the days of monitor pages;
  holidays of GPU018 between its first and last day; the day's messages on
  the days of monitor pages. Rows of the source it states but no longer has
  are removed. Master data is never removed.
* **Manual edits.** Rows made by people (``source="manual"``, or any other
  source) are never touched. An imported row whose values were changed by a
  person since the import wrote them (its ``ImportedRow`` fingerprint no
  longer matches), or that a person deleted, is left as it is and listed as
  a conflict, unless ``overwrite_edited``. A change made by hand on a lesson
  and date wins over the import's change of the same lesson and date; a lesson
  to be removed that changes made by hand still name is kept.
* **Unknown references** (a class, subject, teacher or room neither in the
  school's master data nor in the import's master data files) are created
  (``unknown="create"``) or reported, their rows left out (``"report"``); the
  summary counts each. Periods and week labels cannot be created (they need
  times and a rotation): an unknown one is an error, or under "report" a
  row left out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Q

from hallboard.imports.bundle import Bundle
from hallboard.imports.errors import ImportFileError, Problem
from hallboard.imports.records import (
    ChangeKind,
    DayRecord,
    FileKind,
    LessonRecord,
    Source,
    SubstitutionRecord,
)
from hallboard.schools.models import School
from hallboard.timetable.calendar import SchoolCalendarView
from hallboard.timetable.models import (
    Announcement,
    Closure,
    Lesson,
    Period,
    Room,
    SchoolCalendar,
    SchoolClass,
    Subject,
    Substitution,
    Teacher,
    WeekLabel,
    monday_of,
    parse_week_labels,
)

UNTIS = "untis"
CSV = "csv"
SOURCE_OF_FAMILY = {"untis-gpu": UNTIS, "untis-html": UNTIS, "csv": CSV}

#: How many rows of each list a difference carries (counts are always complete).
MAX_ITEMS = 200
#: The longest external id the models store.
MAX_EXTERNAL_ID = 64

CREATE = "create"
REPORT = "report"
UNKNOWN_POLICIES = (CREATE, REPORT)

#: The kinds a difference lists, in the order people read them.
KINDS = (
    "classes",
    "subjects",
    "teachers",
    "rooms",
    "lessons",
    "substitutions",
    "holidays",
    "announcements",
    "week_labels",
)

Kind = Substitution.Kind
_GRADE = re.compile(r"^(\d{1,2})")
_WEEKDAY_NAMES = ["", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


@dataclass(frozen=True)
class ImportOptions:
    """How an import treats what it cannot simply take."""

    unknown: str = CREATE  # "create" or "report"
    overwrite_edited: bool = False  # take the import's values over manual edits

    def __post_init__(self) -> None:
        if self.unknown not in UNKNOWN_POLICIES:
            raise ValueError(f"unknown must be one of {UNKNOWN_POLICIES}")


# --- the rows as an import wants them ---------------------------------------------------


@dataclass(frozen=True)
class LessonSpec:
    weekday: int
    period: int
    classes: tuple[str, ...]
    group: str
    subject: str
    teachers: tuple[str, ...]
    rooms: tuple[str, ...]
    weeks: str
    valid_from: dt.date | None
    valid_to: dt.date | None

    def describe(self) -> str:
        parts = [
            f"{_WEEKDAY_NAMES[self.weekday]} {self.period}",
            ", ".join(self.classes),
            self.subject,
            ", ".join(self.teachers),
            ", ".join(self.rooms),
        ]
        if self.weeks:
            parts.append(f"({self.weeks})")
        return " · ".join(p for p in parts if p)


@dataclass(frozen=True)
class ChangeSpec:
    date: dt.date
    kind: str
    lesson: str | None  # "ext:<source>:<external id>" or "pk:<id>"; None: no lesson
    period: int
    classes: tuple[str, ...]  # overrides the lesson's (empty: the lesson's)
    group: str
    subject: str
    teacher: str
    substitute_teacher: str
    room: str
    target_date: dt.date | None
    target_period: int | None
    note: str
    #: For people: the lesson's classes and subject (not compared, not fingerprinted).
    context: str = field(default="", compare=False, repr=False)

    def describe(self) -> str:
        who = ", ".join(self.classes) or self.context
        parts = [f"{self.date:%Y-%m-%d} {self.period}", who, self.kind]
        if self.substitute_teacher:
            parts.append(f"→ {self.substitute_teacher}")
        if self.room:
            parts.append(f"→ {self.room}")
        if self.target_period is not None:
            target = self.target_date or self.date
            parts.append(f"→ {target:%Y-%m-%d} {self.target_period}")
        return " · ".join(p for p in parts if p)


@dataclass(frozen=True)
class ClosureSpec:
    kind: str
    name: str
    starts_on: dt.date
    ends_on: dt.date

    def describe(self) -> str:
        return f"{self.name} {self.starts_on:%Y-%m-%d} - {self.ends_on:%Y-%m-%d}"


@dataclass(frozen=True)
class AnnouncementSpec:
    title: str
    body: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    priority: int

    def describe(self) -> str:
        return f"{self.starts_at:%Y-%m-%d}: {self.title}"

    def key(self) -> tuple[Any, ...]:
        # compared as instants, whatever zone the database hands back
        return (
            self.title,
            self.body,
            self.starts_at.astimezone(dt.UTC),
            self.ends_at.astimezone(dt.UTC),
            self.priority,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnnouncementSpec) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())


@dataclass(frozen=True)
class WeekLabelSpec:
    week: dt.date
    label: str

    def describe(self) -> str:
        year, number, _ = self.week.isocalendar()
        return f"{year}-W{number:02d}: {self.label}"


@dataclass(frozen=True)
class NameSpec:
    """Master data: a code and, where the model has one, its long name."""

    code: str
    name: str

    def describe(self) -> str:
        return f"{self.code} ({self.name})" if self.name else self.code


Spec = LessonSpec | ChangeSpec | ClosureSpec | AnnouncementSpec | WeekLabelSpec | NameSpec


def fingerprint(spec: Spec) -> str:
    """What a row looked like when the import wrote it (compared to tell manual edits)."""
    text = repr(spec.key()) if isinstance(spec, AnnouncementSpec) else repr(spec)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _field_changes(old: Spec, new: Spec) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for f in dataclasses.fields(old):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
            if a.astimezone(dt.UTC) == b.astimezone(dt.UTC):
                continue
        elif a == b:
            continue
        out[f.name] = [_plain(a), _plain(b)]
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def short_id(key: str) -> str:
    """An external id that fits the models (long derived keys are hashed, stably)."""
    if len(key) <= MAX_EXTERNAL_ID:
        return key
    return "h:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


# --- the difference ------------------------------------------------------------------------


@dataclass
class Current:
    """A row the school has: its id, its values now, and what the import last wrote."""

    pk: int
    spec: Spec
    written: str | None = None  # fingerprint of the import's last write; None: never
    deletable: bool = True  # False when removing it would take manual rows with it

    @property
    def edited(self) -> bool:
        return self.written is not None and self.written != fingerprint(self.spec)


@dataclass
class KindPlan:
    """What one kind of row would go through."""

    create: list[tuple[str, Spec]] = field(default_factory=list)  # (external id, spec)
    update: list[tuple[int, str, Spec]] = field(default_factory=list)  # (pk, external id, spec)
    delete: list[tuple[int, str]] = field(default_factory=list)  # (pk, external id)
    #: Rows already as wanted whose fingerprint is missing or stale: refreshed, not rewritten.
    remember: list[tuple[int, str, Spec]] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)  # external ids of fingerprints to drop
    sources: dict[str, str] = field(default_factory=dict)  # external id → source
    unchanged: int = 0
    added: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    n_conflicts: int = 0

    @property
    def writes(self) -> bool:
        return bool(self.create or self.update or self.delete)

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.create),
            "changed": len(self.update),
            "removed": len(self.delete),
            "unchanged": self.unchanged,
            "conflicts": self.n_conflicts,
        }

    def listing(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "added": self.added[:MAX_ITEMS],
            "changed": self.changed[:MAX_ITEMS],
            "removed": self.removed[:MAX_ITEMS],
            "conflicts": self.conflicts[:MAX_ITEMS],
        }

    def conflict(self, key: str, spec: Spec, reason: str, **extra: Any) -> None:
        self.n_conflicts += 1
        if len(self.conflicts) < MAX_ITEMS:
            self.conflicts.append({"key": key, "what": spec.describe(), "reason": reason, **extra})


def diff(
    plan: KindPlan,
    desired: dict[str, tuple[Spec, Source | None]],
    current: dict[str, Current],
    *,
    stated: Callable[[str, Current], bool],
    overwrite_edited: bool,
    forgotten: dict[str, str] | None = None,
) -> None:
    """Fill ``plan`` from what is wanted and what is there (both by external id).

    ``stated(key, row)``: whether the import speaks for a current row it does not
    have (then the row is removed). ``forgotten``: external id → fingerprint of
    rows the import wrote that are gone (deleted by a person).
    """
    forgotten = forgotten or {}
    for key, (spec, where) in desired.items():
        row = current.get(key)
        at = str(where) if where is not None else None
        if row is None:
            deleted_fp = forgotten.get(key)
            if deleted_fp is not None and deleted_fp == fingerprint(spec) and not overwrite_edited:
                # Deleted by a person, and the import says what it said then: stays deleted.
                plan.conflict(key, spec, "deleted_by_hand", at=at)
                continue
            plan.create.append((key, spec))
            if len(plan.added) < MAX_ITEMS:
                plan.added.append({"key": key, "what": spec.describe(), "at": at})
            continue
        if row.spec == spec:
            plan.unchanged += 1
            if row.written != fingerprint(spec):
                plan.remember.append((row.pk, key, spec))
            continue
        changes = _field_changes(row.spec, spec)
        if row.edited and not overwrite_edited:
            plan.conflict(key, spec, "edited_by_hand", at=at, fields=changes)
            continue
        plan.update.append((row.pk, key, spec))
        if len(plan.changed) < MAX_ITEMS:
            plan.changed.append({"key": key, "what": spec.describe(), "at": at, "fields": changes})
    for key, row in current.items():
        if key in desired or not stated(key, row):
            continue
        if row.edited and not overwrite_edited:
            plan.conflict(key, row.spec, "edited_by_hand")
            continue
        if not row.deletable and not overwrite_edited:
            plan.conflict(key, row.spec, "manual_changes_depend")
            continue
        plan.delete.append((row.pk, key))
        if len(plan.removed) < MAX_ITEMS:
            plan.removed.append({"key": key, "what": row.spec.describe()})
    for key in forgotten:
        if key not in desired:
            plan.forget.append(key)


# --- master data ------------------------------------------------------------------------------


@dataclass
class MasterKind:
    """One kind of master data: what the school has, what the import lists and references."""

    name: str  # "classes", ...
    model: type[Any]
    key_field: str  # "name" or "code"
    limit: int  # the model's length of that field
    name_field: str | None  # the long name, if the model has one
    name_limit: int
    label: str  # for messages
    existing: dict[str, tuple[int, str]] = field(default_factory=dict)  # code → (pk, name)
    listed: dict[str, str] = field(default_factory=dict)  # from GPU003-006: code → name
    unknown: Counter[str] = field(default_factory=Counter)
    new: dict[str, str] = field(default_factory=dict)  # to create: code → name

    def known(self, code: str) -> bool:
        return code in self.existing or code in self.listed


# --- the plan ---------------------------------------------------------------------------------


@dataclass
class Plan:
    school: School
    options: ImportOptions
    bundle: Bundle
    kinds: dict[str, KindPlan] = field(default_factory=lambda: {k: KindPlan() for k in KINDS})
    masters: dict[str, MasterKind] = field(default_factory=dict)
    notes: list[Problem] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    #: Values the apply step needs that are not in the specs.
    periods: dict[int, int] = field(default_factory=dict)  # number → pk
    lesson_pks: dict[str, int] = field(default_factory=dict)  # "ext:.."/"pk:.." → pk (known)

    @property
    def writes(self) -> bool:
        return any(k.writes for k in self.kinds.values())

    def counts(self) -> dict[str, dict[str, int]]:
        return {name: plan.counts() for name, plan in self.kinds.items()}

    def difference(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        return {name: plan.listing() for name, plan in self.kinds.items()}

    def summary(self) -> dict[str, Any]:
        read = self.bundle.summary()
        read["notes"] = read["notes"] + [n.as_dict() for n in self.notes[:MAX_ITEMS]]
        skipped = dict(read.get("skipped", {}))
        for reason, n in self.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + n
        read["skipped"] = skipped
        read["unknown_policy"] = self.options.unknown
        read["unknown"] = {
            m.name: dict(sorted(m.unknown.items())) for m in self.masters.values() if m.unknown
        }
        read["counts"] = self.counts()
        read["days"] = [
            {
                "date": d.date.isoformat(),
                "week_label": d.week_label or None,
                "as_of": d.as_of.isoformat(timespec="minutes") if d.as_of else None,
                "messages": len(d.messages),
            }
            for d in self.bundle.days
        ]
        return read


class _Planner:
    """Works out one plan; an object only to share the school's state between steps."""

    def __init__(self, school: School, bundle: Bundle, options: ImportOptions) -> None:
        self.school = school
        self.bundle = bundle
        self.options = options
        self.plan = Plan(school, options, bundle)
        self.problems: list[Problem] = []
        self.family = {f.name: f.kind for f in bundle.files}
        self.calendar = SchoolCalendarView.load(school.pk)
        calendar = SchoolCalendar.objects.filter(school=school).first()
        self.cycle = calendar.labels if calendar is not None else []
        self.plan.periods = dict(Period.objects.filter(school=school).values_list("number", "pk"))
        self.fingerprints: dict[tuple[str, int], str] = {}
        self.ignored_week_groups: set[str] = set()
        self._load_fingerprints()

    # --- helpers ---------------------------------------------------------------------------
    def source_of(self, where: Source | None) -> str:
        kind = self.family.get(where.file) if where is not None else None
        return SOURCE_OF_FAMILY[kind.family] if kind is not None else UNTIS

    def problem(self, where: Source | None, code: str, field: str, **params: Any) -> None:
        self.problems.append(
            Problem(
                where.file if where else "-",
                code,
                where.line if where else None,
                field,
                params,
            )
        )

    def note(self, where: Source | None, code: str, **params: Any) -> None:
        if len(self.plan.notes) < MAX_ITEMS * 5:
            self.plan.notes.append(
                Problem(
                    where.file if where else "-", code, where.line if where else None, None, params
                )
            )

    def text(self, value: str, limit: int, where: Source | None, field: str) -> bool:
        """Check a value against the database's limit; a problem if it does not fit."""
        if "\x00" in value:
            self.problem(where, "binary", field)
            return False
        if len(value) > limit:
            self.problem(where, "too_long", field, limit=limit)
            return False
        return True

    def _load_fingerprints(self) -> None:
        from hallboard.imports.models import ImportedRow

        rows = ImportedRow.objects.filter(school=self.school).values_list(
            "kind", "object_id", "source", "external_id", "fingerprint"
        )
        self.tracked: dict[str, list[tuple[int, str, str, str]]] = defaultdict(list)
        for kind, object_id, source, external_id, fp in rows:
            self.fingerprints[(kind, object_id)] = fp
            self.tracked[kind].append((object_id, source, external_id, fp))

    def gone(self, kind: str, model: type[Any], source: str) -> dict[str, str]:
        """External id → fingerprint of rows this source wrote that are no longer there."""
        ours = [t for t in self.tracked.get(kind, []) if t[1] == source]
        if not ours:
            return {}
        there = set(model.objects.filter(pk__in=[t[0] for t in ours]).values_list("pk", flat=True))
        return {ext: fp for object_id, _src, ext, fp in ours if object_id not in there}

    # --- master data -----------------------------------------------------------------------
    def load_masters(self) -> None:
        specs: list[tuple[str, Any, str, int, str | None, int, str]] = [
            ("classes", SchoolClass, "name", 40, None, 0, "Class"),
            ("subjects", Subject, "code", 16, "name", 80, "Subject"),
            ("teachers", Teacher, "code", 16, "name", 120, "Teacher"),
            ("rooms", Room, "name", 40, None, 0, "Room"),
        ]
        listed: dict[str, list[Any]] = {
            "classes": self.bundle.classes,
            "subjects": self.bundle.subjects,
            "teachers": self.bundle.teachers,
            "rooms": self.bundle.rooms,
        }
        for name, model, key, limit, name_field, name_limit, label in specs:
            master = MasterKind(name, model, key, limit, name_field, name_limit, label)
            fields = [key, name_field] if name_field else [key]
            for pk, *values in model.objects.filter(school=self.school).values_list("pk", *fields):
                master.existing[values[0]] = (pk, values[1] if name_field else "")
            for record in listed[name]:
                ok = self.text(record.code, limit, record.source, f"{label} short name")
                if name_field:
                    ok = self.text(record.name, name_limit, record.source, "long name") and ok
                if ok:
                    master.listed[record.code] = record.name if name_field else ""
            self.plan.masters[name] = master

    def ref(self, kind: str, code: str, where: Source | None, field: str) -> bool:
        """May a row name this class/subject/teacher/room? Creates or reports an unknown one."""
        master = self.plan.masters[kind]
        if master.known(code) or code in master.new:
            if code in master.new:
                master.unknown[code] += 1
            return True
        if not self.text(code, master.limit, where, field):
            return False
        master.unknown[code] += 1
        if self.options.unknown == CREATE:
            master.new[code] = ""
            return True
        self.note(where, "unknown_reference", what=master.label, value=code)
        return False

    def refs(self, kind: str, codes: Iterable[str], where: Source | None, field: str) -> bool:
        ok = True
        for code in codes:
            ok = self.ref(kind, code, where, field) and ok
        return ok

    def period(self, number: int, where: Source | None, field: str) -> bool:
        if number in self.plan.periods:
            return True
        if self.options.unknown == CREATE:
            self.problem(where, "unknown_period", field, value=number)
        else:
            self.note(where, "unknown_period_skipped", value=number)
            self.plan.skipped["unknown_period"] += 1
        return False

    def plan_masters(self) -> None:
        for master in self.plan.masters.values():
            kind_plan = self.plan.kinds[master.name]
            for code, name in {**master.listed, **master.new}.items():
                spec = NameSpec(code, name)
                if code not in master.existing:
                    kind_plan.create.append((code, spec))
                    if len(kind_plan.added) < MAX_ITEMS:
                        reason = None if code in master.listed else "unknown_reference"
                        kind_plan.added.append(
                            {"key": code, "what": spec.describe(), "reason": reason}
                        )
                    continue
                pk, old_name = master.existing[code]
                if master.name_field and name and name != old_name:
                    kind_plan.update.append((pk, code, spec))
                    if len(kind_plan.changed) < MAX_ITEMS:
                        kind_plan.changed.append(
                            {
                                "key": code,
                                "what": spec.describe(),
                                "fields": {"name": [old_name, name]},
                            }
                        )
                else:
                    kind_plan.unchanged += 1

    # --- lessons -----------------------------------------------------------------------------
    def lesson_weeks(self, record: LessonRecord) -> str | None:
        labels = parse_week_labels(record.week_label)
        if not labels:
            return ""
        if not self.cycle:
            self.ignored_week_groups.update(labels)
            return ""
        missing = [w for w in labels if w not in self.cycle]
        if missing:
            if self.options.unknown == CREATE:
                self.problem(
                    record.source,
                    "week_not_in_rotation",
                    "week group",
                    value=record.week_label,
                    cycle=", ".join(self.cycle),
                )
            else:
                self.note(record.source, "unknown_reference", what="Week", value=record.week_label)
                self.plan.skipped["unknown_week"] += 1
            return None
        return ",".join(labels)

    def desired_lessons(self) -> dict[str, dict[str, tuple[Spec, Source | None]]]:
        out: dict[str, dict[str, tuple[Spec, Source | None]]] = defaultdict(dict)
        for record in self.bundle.lessons:
            where = record.source
            if not record.subject:
                self.note(where, "no_subject")
                self.plan.skipped["no_subject"] += 1
                continue
            if not record.classes:
                self.note(where, "no_class")
                self.plan.skipped["no_class"] += 1
                continue
            ok = self.period(record.period, where, "period")
            ok = self.refs("classes", record.classes, where, "class") and ok
            ok = self.ref("subjects", record.subject, where, "subject") and ok
            teachers = (record.teacher,) if record.teacher else ()
            ok = self.refs("teachers", teachers, where, "teacher") and ok
            ok = self.refs("rooms", record.rooms, where, "room") and ok
            weeks = self.lesson_weeks(record)
            if not ok or weeks is None:
                continue
            spec = LessonSpec(
                weekday=record.weekday,
                period=record.period,
                classes=tuple(sorted(record.classes)),
                group="",
                subject=record.subject,
                teachers=tuple(sorted(teachers)),
                rooms=tuple(sorted(record.rooms)),
                weeks=weeks,
                valid_from=record.valid_from,
                valid_to=record.valid_to,
            )
            out[self.source_of(where)][short_id(record.key)] = (spec, where)
        if self.ignored_week_groups:
            self.note(
                None, "week_groups_ignored", value=", ".join(sorted(self.ignored_week_groups))
            )
        return out

    def load_lessons(self) -> list[_StoredLesson]:
        """The school's lessons as specs, in four queries and no model instances (fast)."""
        names: dict[str, dict[int, list[str]]] = {}
        for kind, through, column in (
            ("classes", Lesson.classes.through, "schoolclass__name"),
            ("teachers", Lesson.teachers.through, "teacher__code"),
            ("rooms", Lesson.rooms.through, "room__name"),
        ):
            found: dict[int, list[str]] = defaultdict(list)
            rows = through.objects.filter(lesson__school=self.school).values_list(
                "lesson_id", column
            )
            for lesson_id, name in rows:
                found[lesson_id].append(name)
            names[kind] = found
        out = []
        for pk, weekday, period, group, subject, weeks, first, last, source, ext in (
            Lesson.objects.filter(school=self.school)
            .order_by("pk")
            .values_list(
                "pk",
                "weekday",
                "period__number",
                "group",
                "subject__code",
                "weeks",
                "valid_from",
                "valid_to",
                "source",
                "external_id",
            )
        ):
            spec = LessonSpec(
                weekday=weekday,
                period=period,
                classes=tuple(sorted(names["classes"].get(pk, ()))),
                group=group,
                subject=subject,
                teachers=tuple(sorted(names["teachers"].get(pk, ()))),
                rooms=tuple(sorted(names["rooms"].get(pk, ()))),
                weeks=weeks,
                valid_from=first,
                valid_to=last,
            )
            out.append(_StoredLesson(pk, source, ext, spec))
        return out

    def plan_lessons(self) -> list[_LessonView]:
        """The lessons diff; returns the lessons there will be (to link changes to)."""
        desired = self.desired_lessons()
        lessons = self.load_lessons()
        imported_sources = set(desired)
        # Lessons that changes of another source (made by hand) name: not removed silently.
        depended_on = set(
            Substitution.objects.filter(school=self.school, lesson__isnull=False)
            .exclude(source=F("lesson__source"))
            .values_list("lesson_id", flat=True)
        )
        plan = self.plan.kinds["lessons"]
        by_source: dict[str, dict[str, Current]] = defaultdict(dict)
        for lesson in lessons:
            self.plan.lesson_pks[lesson.ref] = lesson.pk
            if lesson.source in imported_sources and lesson.external_id:
                by_source[lesson.source][lesson.external_id] = Current(
                    lesson.pk,
                    lesson.spec,
                    self.fingerprints.get(("lesson", lesson.pk)),
                    deletable=lesson.pk not in depended_on,
                )
        rewritten: dict[str, LessonSpec] = {}  # ref → the spec the import writes
        deleted: set[int] = set()
        for source in sorted(imported_sources):
            n_create, n_update, n_delete = len(plan.create), len(plan.update), len(plan.delete)
            diff(
                plan,
                desired[source],
                by_source[source],
                stated=lambda key, row: True,
                overwrite_edited=self.options.overwrite_edited,
                forgotten=self.gone("lesson", Lesson, source),
            )
            for key, spec in plan.create[n_create:]:
                assert isinstance(spec, LessonSpec)
                rewritten[f"ext:{source}:{key}"] = spec
            for _pk, key, spec in plan.update[n_update:]:
                assert isinstance(spec, LessonSpec)
                rewritten[f"ext:{source}:{key}"] = spec
            deleted |= {pk for pk, _key in plan.delete[n_delete:]}
            plan.sources.update(dict.fromkeys([*desired[source], *by_source[source]], source))
        # the lessons after the import: written ones as written, the others as they are
        after = [_LessonView.of(ref, spec) for ref, spec in rewritten.items()]
        for lesson in lessons:
            if lesson.pk not in deleted and lesson.ref not in rewritten:
                after.append(_LessonView.of(lesson.ref, lesson.spec))
        return after

    # --- substitutions -------------------------------------------------------------------------
    def stated_dates(self) -> dict[str, set[dt.date]]:
        """Per source, the dates whose substitutions this import states completely."""
        out: dict[str, set[dt.date]] = defaultdict(set)
        gpu014 = [f for f in self.bundle.files if f.kind is FileKind.GPU014]
        for parsed in self.bundle.files:
            if parsed.kind in (FileKind.GPU014, FileKind.CSV_SUBSTITUTIONS):
                dates = [s.date for s in parsed.substitutions]
                if dates:
                    first, last = min(dates), max(dates)
                    source = SOURCE_OF_FAMILY[parsed.kind.family]
                    out[source].update(
                        first + dt.timedelta(days=n) for n in range((last - first).days + 1)
                    )
            elif parsed.kind is FileKind.UNTIS_HTML and not gpu014:
                out[UNTIS].update(d.date for d in parsed.days)
                out[UNTIS].update(s.date for s in parsed.substitutions)
        return out

    def plan_substitutions(self, after: list[_LessonView]) -> None:
        stated = self.stated_dates()
        desired_by_source = self.desired_changes(after)
        dates = set().union(*stated.values()) if stated else set()
        dates |= {
            spec.date
            for wanted in desired_by_source.values()
            for spec, _ in wanted.values()
            if isinstance(spec, ChangeSpec)
        }
        keys = [k for wanted in desired_by_source.values() for k in wanted]
        sources = set(stated) | set(desired_by_source)
        if not sources:
            return
        rows = list(
            Substitution.objects.filter(school=self.school)
            .filter(Q(date__in=dates) | Q(source__in=list(sources), external_id__in=keys))
            .select_related(
                "lesson__subject",
                "period",
                "subject",
                "teacher",
                "substitute_teacher",
                "room",
                "target_period",
            )
            .prefetch_related("classes", "lesson__classes")
        )
        plan = self.plan.kinds["substitutions"]
        by_source: dict[str, dict[str, Current]] = defaultdict(dict)
        # (lesson, date) held by a change the import does not own: it wins
        held: dict[tuple[str, dt.date], Substitution] = {}
        for row in rows:
            spec = self.change_spec(row)
            if row.source in sources and row.external_id:
                by_source[row.source][row.external_id] = Current(
                    row.pk, spec, self.fingerprints.get(("substitution", row.pk))
                )
            elif spec.lesson is not None:
                held[(spec.lesson, row.date)] = row
        for source in sorted(sources):
            wanted = desired_by_source.get(source, {})
            for key, (wanted_spec, where) in list(wanted.items()):
                assert isinstance(wanted_spec, ChangeSpec)
                other = (
                    held.get((wanted_spec.lesson, wanted_spec.date)) if wanted_spec.lesson else None
                )
                if other is not None:
                    plan.conflict(
                        key,
                        wanted_spec,
                        "manual_change_there",
                        at=str(where) if where else None,
                        id=other.pk,
                    )
                    del wanted[key]
            days = stated.get(source, set())
            diff(
                plan,
                wanted,
                by_source[source],
                stated=lambda key, row, days=days: (  # type: ignore[misc]
                    isinstance(row.spec, ChangeSpec) and row.spec.date in days
                ),
                overwrite_edited=self.options.overwrite_edited,
                forgotten=self.gone("substitution", Substitution, source),
            )
            plan.sources.update(dict.fromkeys([*wanted, *by_source[source]], source))
        self._one_per_lesson_and_date(plan, by_source)

    def _one_per_lesson_and_date(
        self, plan: KindPlan, by_source: dict[str, dict[str, Current]]
    ) -> None:
        """A change the import keeps as it is (edited by hand) holds its lesson and date: a
        change the import would add or move there is a conflict instead."""
        leaving = {pk for pk, _key in plan.delete} | {pk for pk, _key, _spec in plan.update}
        occupied: dict[tuple[str, dt.date], int] = {}
        for current in by_source.values():
            for row in current.values():
                spec = row.spec
                if row.pk not in leaving and isinstance(spec, ChangeSpec) and spec.lesson:
                    occupied[(spec.lesson, spec.date)] = row.pk
        creates: list[tuple[str, Spec]] = []
        for key, spec in plan.create:
            assert isinstance(spec, ChangeSpec)
            holder = occupied.get((spec.lesson, spec.date)) if spec.lesson else None
            if holder is not None:
                plan.conflict(key, spec, "manual_change_there", id=holder)
                plan.added = [a for a in plan.added if a["key"] != key]
                continue
            creates.append((key, spec))
        plan.create = creates
        updates: list[tuple[int, str, Spec]] = []
        for pk, key, spec in plan.update:
            assert isinstance(spec, ChangeSpec)
            holder = occupied.get((spec.lesson, spec.date)) if spec.lesson else None
            if holder is not None and holder != pk:
                plan.conflict(key, spec, "manual_change_there", id=holder)
                plan.changed = [c for c in plan.changed if c["key"] != key]
                continue
            updates.append((pk, key, spec))
        plan.update = updates

    def desired_changes(
        self, after: list[_LessonView]
    ) -> dict[str, dict[str, tuple[Spec, Source | None]]]:
        index = _LessonIndex(after, self.calendar)
        items: list[_ChangeItem] = []
        for record in self.bundle.substitutions:
            where = record.source
            if record.is_break:
                self.plan.skipped["break_supervision"] += 1
                continue
            classes = record.classes or record.substitute_classes
            ok = self.refs("classes", classes, where, "classes")
            ok = self.refs("classes", record.substitute_classes, where, "substitute classes") and ok
            for kind, codes, name in (
                ("subjects", (record.subject, record.substitute_subject), "subject"),
                ("teachers", (record.teacher, record.substitute_teacher), "teacher"),
                ("rooms", record.rooms + record.substitute_rooms, "room"),
            ):
                ok = self.refs(kind, [c for c in codes if c], where, name) and ok
            ok = self.text(record.text, 200, where, "text") and ok
            for number in range(record.period_from, record.period_to + 1):
                ok = self.period(number, where, "period") and ok
            if not ok:
                continue
            for number in range(record.period_from, record.period_to + 1):
                key = record.key
                if record.period_from != record.period_to:
                    key = f"{record.key}@{number}"
                lesson = None if record.kind == ChangeKind.EXTRA else index.find(record, number)
                items.append(_ChangeItem(short_id(key), record, number, lesson))
        out: dict[str, dict[str, tuple[Spec, Source | None]]] = defaultdict(dict)
        seen: dict[tuple[str, str, dt.date], str] = {}
        for source, key, spec, where in self._pair_moves(items):
            if spec.lesson is not None:
                slot = (source, spec.lesson, spec.date)
                first_key = seen.get(slot)
                if first_key is not None:
                    first, first_where = out[source][first_key]
                    assert isinstance(first, ChangeSpec)
                    out[source][first_key] = (_merge(first, spec), first_where)
                    self.note(where, "merged_changes", date=spec.date.isoformat())
                    self.plan.skipped["merged"] += 1
                    continue
                seen[slot] = key
            out[source][key] = (spec, where)
        return out

    def _pair_moves(
        self, items: list[_ChangeItem]
    ) -> list[tuple[str, str, ChangeSpec, Source | None]]:
        """Moved and swapped rows: the row at the lesson's own slot is where it leaves; the
        row at another slot, of the same lesson, is where it goes (docs/import.md)."""
        out: list[tuple[str, str, ChangeSpec, Source | None]] = []
        origins: list[_ChangeItem] = []
        targets: list[_ChangeItem] = []
        for item in items:
            if item.record.kind in (ChangeKind.MOVED, ChangeKind.SWAPPED):
                (origins if item.lesson is not None else targets).append(item)
            else:
                out.append(self._spec(item, item.record.kind))
        free_targets = list(targets)
        for origin in origins:
            identity = _identity(origin.record)
            match = min(
                (t for t in free_targets if _identity(t.record) == identity),
                key=lambda t: (abs((t.record.date - origin.record.date).days), t.period),
                default=None,
            )
            if match is None:
                fallback = (
                    ChangeKind.SUBSTITUTE
                    if origin.record.substitute_teacher and origin.record.kind == ChangeKind.SWAPPED
                    else ChangeKind.CANCELLED
                )
                self.note(origin.record.source, "move_unpaired", kind=fallback.value)
                out.append(self._spec(origin, fallback))
                continue
            free_targets.remove(match)
            out.append(self._spec(origin, origin.record.kind, target=match))
        for target in free_targets:
            self.note(target.record.source, "move_unpaired", kind=ChangeKind.EXTRA.value)
            out.append(self._spec(target, ChangeKind.EXTRA))
        return out

    def _spec(
        self, item: _ChangeItem, kind: ChangeKind, target: _ChangeItem | None = None
    ) -> tuple[str, str, ChangeSpec, Source | None]:
        record = item.record
        lesson = item.lesson if kind != ChangeKind.EXTRA else None
        # where it takes place now: the target's values for a move
        now = target.record if target is not None else record
        new_rooms = now.substitute_rooms
        subject = now.substitute_subject or ""
        substitute = now.substitute_teacher
        classes = record.substitute_classes
        teacher = ""
        if lesson is not None:
            if subject == lesson.subject:
                subject = ""
            if substitute in lesson.teachers:
                substitute = ""  # Untis repeats the teacher on room changes
            if record.teacher in lesson.teachers and len(lesson.teachers) > 1:
                teacher = record.teacher
            room = new_rooms[0] if new_rooms and set(new_rooms) != set(lesson.rooms) else ""
            if set(classes) == set(lesson.classes):
                classes = ()
        else:
            subject = subject or record.subject
            teacher = record.teacher
            room = (new_rooms or record.rooms or ("",))[0]
            classes = record.classes or record.substitute_classes
        if kind == ChangeKind.CANCELLED:
            subject = substitute = room = ""
            classes = classes if lesson is None else ()
        if kind == ChangeKind.ROOM_CHANGE and not room:
            kind = ChangeKind.NOTE if lesson is not None else ChangeKind.CANCELLED
        if kind == ChangeKind.EXTRA and not subject:
            kind = ChangeKind.NOTE
        target_date = None
        target_period = None
        if target is not None:
            target_period = target.period
            if target.record.date != record.date:
                target_date = target.record.date
        text = record.text or (target.record.text if target is not None else "")
        spec = ChangeSpec(
            date=record.date,
            kind=kind.value,
            lesson=lesson.ref if lesson is not None else None,
            period=item.period,
            classes=tuple(sorted(classes)),
            group="",
            subject=subject,
            teacher=teacher,
            substitute_teacher=substitute,
            room=room,
            target_date=target_date,
            target_period=target_period,
            note=text,
            context=lesson.describe() if lesson is not None else "",
        )
        return self.source_of(record.source), item.key, spec, record.source

    def change_spec(self, row: Substitution) -> ChangeSpec:
        lesson_ref = _lesson_ref(row.lesson) if row.lesson is not None else None
        return ChangeSpec(
            date=row.date,
            kind=row.kind,
            lesson=lesson_ref,
            period=row.period.number,
            classes=tuple(sorted(c.name for c in row.classes.all())),
            group=row.group,
            subject=row.subject.code if row.subject else "",
            teacher=row.teacher.code if row.teacher else "",
            substitute_teacher=row.substitute_teacher.code if row.substitute_teacher else "",
            room=row.room.name if row.room else "",
            target_date=row.target_date,
            target_period=row.target_period.number if row.target_period else None,
            note=row.note,
            context=" ".join(
                [", ".join(c.name for c in row.lesson.classes.all()), row.lesson.subject.code]
            )
            if row.lesson is not None
            else "",
        )

    # --- holidays, the day's messages, week labels ---------------------------------------------
    def plan_closures(self) -> None:
        if not self.bundle.holidays:
            return
        desired: dict[str, tuple[Spec, Source | None]] = {}
        for record in self.bundle.holidays:
            if not self.text(record.name, 120, record.source, "long name"):
                continue
            key = short_id(f"{record.code}/{record.first_day:%Y%m%d}")
            desired[key] = (
                ClosureSpec(
                    Closure.Kind.PUBLIC_HOLIDAY if record.public_holiday else Closure.Kind.HOLIDAY,
                    record.name,
                    record.first_day,
                    record.last_day,
                ),
                record.source,
            )
            self.plan.kinds["holidays"].sources[key] = UNTIS
        first = min(r.first_day for r in self.bundle.holidays)
        last = max(r.last_day for r in self.bundle.holidays)
        rows = list(Closure.objects.filter(school=self.school, source=UNTIS))
        current = {
            row.external_id: Current(
                row.pk,
                ClosureSpec(row.kind, row.name, row.starts_on, row.ends_on),
                self.fingerprints.get(("closure", row.pk)),
            )
            for row in rows
            if row.external_id
        }
        diff(
            self.plan.kinds["holidays"],
            desired,
            current,
            stated=lambda key, row: (
                isinstance(row.spec, ClosureSpec)
                and row.spec.starts_on <= last
                and row.spec.ends_on >= first
            ),
            overwrite_edited=self.options.overwrite_edited,
            forgotten=self.gone("closure", Closure, UNTIS),
        )

    def plan_announcements(self) -> None:
        days = [d for d in self.bundle.days if d.source is not None]
        if not days:
            return
        desired: dict[str, tuple[Spec, Source | None]] = {}
        for day in days:
            for spec in _announcements(day, self.school):
                key = short_id(f"msg:{day.date:%Y%m%d}:{_digest(spec.title + spec.body)}")
                desired[key] = (spec, day.source)
                self.plan.kinds["announcements"].sources[key] = UNTIS
        stated = {f"msg:{d.date:%Y%m%d}:" for d in days}
        tracked = [t for t in self.tracked.get("announcement", []) if t[1] == UNTIS]
        rows = {
            a.pk: a
            for a in Announcement.objects.filter(school=self.school, pk__in=[t[0] for t in tracked])
        }
        current: dict[str, Current] = {}
        for object_id, _source, ext, fp in tracked:
            row = rows.get(object_id)
            if row is not None:
                current[ext] = Current(
                    row.pk,
                    AnnouncementSpec(
                        row.title,
                        row.body,
                        row.starts_at,
                        row.ends_at or row.starts_at,
                        row.priority,
                    ),
                    fp,
                )
        diff(
            self.plan.kinds["announcements"],
            desired,
            current,
            stated=lambda key, row: any(key.startswith(p) for p in stated),
            overwrite_edited=self.options.overwrite_edited,
            forgotten={ext: fp for object_id, _s, ext, fp in tracked if object_id not in rows},
        )

    def plan_week_labels(self) -> None:
        plan = self.plan.kinds["week_labels"]
        wanted: dict[dt.date, tuple[str, Source | None]] = {}
        for day in self.bundle.days:
            label = day.week_label.strip().upper()
            if not label:
                continue
            if label not in self.cycle:
                self.note(day.source, "week_label_ignored", value=day.week_label)
                continue
            wanted[monday_of(day.date)] = (label, day.source)
        if not wanted:
            return
        tracked = {
            object_id: (ext, fp)
            for object_id, source, ext, fp in self.tracked.get("week_label", [])
            if source == UNTIS
        }
        rows = {
            row.week: row
            for row in WeekLabel.objects.filter(school=self.school, week__in=list(wanted))
        }
        for monday, (label, where) in sorted(wanted.items()):
            key = f"week:{monday:%Y%m%d}"
            spec = WeekLabelSpec(monday, label)
            row = rows.get(monday)
            if row is None:
                if self.calendar.week_label(monday) == label:
                    plan.unchanged += 1  # the rotation already says so
                    continue
                plan.create.append((key, spec))
                plan.added.append({"key": key, "what": spec.describe(), "at": str(where)})
                continue
            if row.label == label:
                plan.unchanged += 1
                continue
            ours = tracked.get(row.pk)
            edited = ours is None or ours[1] != fingerprint(WeekLabelSpec(monday, row.label))
            if edited and not self.options.overwrite_edited:
                plan.conflict(
                    key, spec, "edited_by_hand", at=str(where), fields={"label": [row.label, label]}
                )
                continue
            plan.update.append((row.pk, key, spec))
            plan.changed.append(
                {"key": key, "what": spec.describe(), "fields": {"label": [row.label, label]}}
            )

    # --- all of it ------------------------------------------------------------------------------
    def run(self) -> Plan:
        self.load_masters()
        after = self.plan_lessons()
        self.plan_substitutions(after)
        self.plan_closures()
        self.plan_announcements()
        self.plan_week_labels()
        self.plan_masters()
        if self.problems:
            raise ImportFileError(self.problems)
        return self.plan


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _announcements(day: DayRecord, school: School) -> list[AnnouncementSpec]:
    """One announcement per message of "Nachrichten zum Tag", shown that day (school time)."""
    tz = school.tz
    starts = dt.datetime.combine(day.date, dt.time(0), tzinfo=tz)
    ends = dt.datetime.combine(day.date + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    out: list[AnnouncementSpec] = []
    for message in day.messages:
        text = message.text.strip()
        if not text:
            continue
        if message.label:
            title, body = message.label[:120], text[:2000]
        elif len(text) <= 120:
            title, body = text, ""
        else:
            cut = text[:119].rsplit(" ", 1)[0] or text[:119]
            title, body = cut + "…", text[:2000]
        out.append(AnnouncementSpec(title, body, starts, ends, Announcement.Priority.NORMAL))
    return out


def _merge(first: ChangeSpec, second: ChangeSpec) -> ChangeSpec:
    """Two rows for one lesson and date: the first's kind; empty values filled from the second."""
    values = dataclasses.asdict(first)
    for name in ("subject", "teacher", "substitute_teacher", "room", "note"):
        if not values[name]:
            values[name] = getattr(second, name)
    if not values["classes"]:
        values["classes"] = second.classes
    return ChangeSpec(**values)


def _identity(record: SubstitutionRecord) -> tuple[str, ...]:
    """What tells the two halves of one move as the same lesson: its Untis number, else what
    it teaches to whom."""
    if record.lesson_key:
        return ("no", record.lesson_key)
    subject = record.subject or record.substitute_subject
    return ("slot", subject, *sorted(record.classes or record.substitute_classes))


def _lesson_ref(lesson: Lesson) -> str:
    if lesson.external_id:
        return f"ext:{lesson.source}:{lesson.external_id}"
    return f"pk:{lesson.pk}"


@dataclass(frozen=True)
class _StoredLesson:
    pk: int
    source: str
    external_id: str
    spec: LessonSpec

    @property
    def ref(self) -> str:
        return f"ext:{self.source}:{self.external_id}" if self.external_id else f"pk:{self.pk}"


@dataclass
class _ChangeItem:
    key: str
    record: SubstitutionRecord
    period: int
    lesson: _LessonView | None


@dataclass(frozen=True)
class _LessonView:
    """A lesson as the import will leave it, for linking changes."""

    ref: str
    weekday: int
    period: int
    classes: tuple[str, ...]
    subject: str
    teachers: tuple[str, ...]
    rooms: tuple[str, ...]
    weeks: frozenset[str]
    valid_from: dt.date | None
    valid_to: dt.date | None
    number: str  # the Untis lesson number, for imported Untis lessons

    @classmethod
    def of(cls, ref: str, spec: LessonSpec) -> _LessonView:
        number = ""
        if ref.startswith(f"ext:{UNTIS}:"):
            external_id = ref[len(f"ext:{UNTIS}:") :]
            number = external_id.split("/", 1)[0] if "/" in external_id else ""
        return cls(
            ref=ref,
            weekday=spec.weekday,
            period=spec.period,
            classes=spec.classes,
            subject=spec.subject,
            teachers=spec.teachers,
            rooms=spec.rooms,
            weeks=frozenset(parse_week_labels(spec.weeks)),
            valid_from=spec.valid_from,
            valid_to=spec.valid_to,
            number=number,
        )

    def describe(self) -> str:
        return f"{', '.join(self.classes)} {self.subject}"

    def valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


class _LessonIndex:
    """Finds the regular lesson a change row is about."""

    def __init__(self, lessons: list[_LessonView], calendar: SchoolCalendarView) -> None:
        self.by_slot: dict[tuple[int, int], list[_LessonView]] = defaultdict(list)
        self.numbers: set[str] = set()
        for lesson in sorted(lessons, key=lambda v: v.ref):
            self.by_slot[(lesson.weekday, lesson.period)].append(lesson)
            if lesson.number:
                self.numbers.add(lesson.number)
        self.calendar = calendar
        self._labels: dict[dt.date, str | None] = {}

    def label(self, day: dt.date) -> str | None:
        if day not in self._labels:
            self._labels[day] = self.calendar.week_label(day)
        return self._labels[day]

    def find(self, record: SubstitutionRecord, period: int) -> _LessonView | None:
        day = record.date
        candidates = [
            c for c in self.by_slot.get((day.isoweekday(), period), []) if c.valid_on(day)
        ]
        label = self.label(day)
        in_week = [c for c in candidates if not c.weeks or label in c.weeks]
        candidates = in_week or candidates
        if not candidates:
            return None
        if record.lesson_key and record.lesson_key in self.numbers:
            # the lesson number decides: a row of a lesson not here is not about these
            candidates = [c for c in candidates if c.number == record.lesson_key]
            if not candidates:
                return None
            return max(candidates, key=lambda c: (_score(record, c), c.ref))
        classes = set(record.classes or record.substitute_classes)
        overlapping = [c for c in candidates if not classes or classes & set(c.classes)]
        moving = record.kind in (ChangeKind.MOVED, ChangeKind.SWAPPED)
        matching = [
            c
            for c in overlapping
            if (record.subject and record.subject == c.subject)
            or (record.teacher and record.teacher in c.teachers)
        ]
        if matching:
            return max(matching, key=lambda c: (_score(record, c), c.ref))
        if len(overlapping) == 1 and classes and not moving:
            return overlapping[0]
        return None


def _score(record: SubstitutionRecord, lesson: _LessonView) -> int:
    score = 0
    if record.teacher and record.teacher in lesson.teachers:
        score += 2
    if record.subject and record.subject == lesson.subject:
        score += 2
    if set(record.classes) == set(lesson.classes):
        score += 1
    return score


def plan_import(school: School, bundle: Bundle, options: ImportOptions | None = None) -> Plan:
    """The difference this import would make; ``ImportFileError`` for rows that cannot map."""
    return _Planner(school, bundle, options or ImportOptions()).run()


__all__ = ["KINDS", "ImportOptions", "Plan", "fingerprint", "plan_import"]
