"""Carrying out a ``Plan``: one transaction, one revision bump per school, or nothing.

Everything a plan changes is written inside ``hallboard.schools.revision.batch``:
the school's revision goes up once at the end however many rows changed, and
not at all when the plan changes nothing (an import of the same files again).
The bulk writes of the through tables (a lesson's classes, teachers and rooms)
do not send signals, so the school is touched here explicitly.

After the content, the fingerprint of each row as written is stored
(``ImportedRow``): the next import compares it with the row to tell whether a
person edited it in between.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import connections, router, transaction

from hallboard.imports.models import ImportedRow
from hallboard.imports.plan import (
    AnnouncementSpec,
    ChangeSpec,
    ClosureSpec,
    LessonSpec,
    NameSpec,
    Plan,
    Spec,
    WeekLabelSpec,
    fingerprint,
)
from hallboard.schools import revision
from hallboard.timetable.models import (
    Announcement,
    Closure,
    Lesson,
    Room,
    SchoolClass,
    Subject,
    Substitution,
    Teacher,
    WeekLabel,
)

_GRADE_MAX = 32767
#: Kinds of the difference whose rows carry fingerprints → ``ImportedRow.kind``.
TRACKED = {
    "lessons": "lesson",
    "substitutions": "substitution",
    "holidays": "closure",
    "announcements": "announcement",
    "week_labels": "week_label",
}


def _grade(name: str) -> int | None:
    digits = ""
    for ch in name:
        if not ch.isdigit():
            break
        digits += ch
    if digits and 0 < int(digits) <= _GRADE_MAX and len(digits) <= 2:
        return int(digits)
    return None


class _Applier:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.school = plan.school
        self.ids: dict[str, dict[str, int]] = {}
        self.remember: list[tuple[str, int, str, str, Spec]] = []  # kind, pk, source, ext, spec
        self.forget: list[tuple[str, int]] = []  # kind, pk
        self.forget_keys: list[tuple[str, str, str]] = []  # kind, source, ext

    # --- master data ---------------------------------------------------------------------
    def masters(self) -> None:
        models: dict[str, tuple[Any, str, str | None]] = {
            "classes": (SchoolClass, "name", None),
            "subjects": (Subject, "code", "name"),
            "teachers": (Teacher, "code", "name"),
            "rooms": (Room, "name", None),
        }
        for kind, (model, key, name_field) in models.items():
            master = self.plan.masters[kind]
            ids = {code: pk for code, (pk, _name) in master.existing.items()}
            kind_plan = self.plan.kinds[kind]
            new = []
            for code, spec in kind_plan.create:
                assert isinstance(spec, NameSpec)
                values: dict[str, Any] = {"school": self.school, key: code}
                if name_field:
                    values[name_field] = spec.name
                if model is SchoolClass:
                    values["grade"] = _grade(code)
                new.append(model(**values))
            for obj in model.objects.bulk_create(new):
                ids[getattr(obj, key)] = obj.pk
            if kind_plan.update and name_field:
                changed = []
                for pk, _code, spec in kind_plan.update:
                    assert isinstance(spec, NameSpec)
                    obj = model(pk=pk, school=self.school)
                    setattr(obj, name_field, spec.name)
                    changed.append(obj)
                model.objects.bulk_update(changed, [name_field])
            self.ids[kind] = ids

    def _id(self, kind: str, code: str) -> int | None:
        return self.ids[kind].get(code) if code else None

    # --- removals first: what they free may be taken by what is added ---------------------
    def deletions(self) -> None:
        plan = self.plan.kinds
        if plan["substitutions"].delete:
            pks = [pk for pk, _ in plan["substitutions"].delete]
            Substitution.objects.filter(pk__in=pks).delete()
            self.forget += [("substitution", pk) for pk in pks]
        if plan["lessons"].delete:
            pks = [pk for pk, _ in plan["lessons"].delete]
            # their changes go with them (the plan kept lessons that changes by hand name)
            cascaded = list(
                Substitution.objects.filter(lesson_id__in=pks).values_list("pk", flat=True)
            )
            Lesson.objects.filter(pk__in=pks).delete()
            self.forget += [("lesson", pk) for pk in pks]
            self.forget += [("substitution", pk) for pk in cascaded]
        for kind, model, name in (
            ("holidays", Closure, "closure"),
            ("announcements", Announcement, "announcement"),
        ):
            if plan[kind].delete:
                pks = [pk for pk, _ in plan[kind].delete]
                model.objects.filter(pk__in=pks).delete()
                self.forget += [(name, pk) for pk in pks]

    # --- lessons ---------------------------------------------------------------------------
    def lessons(self) -> None:
        kind_plan = self.plan.kinds["lessons"]
        sources = kind_plan.sources
        periods = self.plan.periods
        created: list[tuple[Lesson, str, LessonSpec]] = []
        for key, spec in kind_plan.create:
            assert isinstance(spec, LessonSpec)
            source = sources[key]
            lesson = Lesson(source=source, external_id=key, school=self.school)
            self._set_lesson(lesson, spec, periods)
            created.append((lesson, source, spec))
        Lesson.objects.bulk_create([lesson for lesson, _, _ in created])
        updated: list[tuple[Lesson, str, LessonSpec]] = []
        for pk, key, spec in kind_plan.update:
            assert isinstance(spec, LessonSpec)
            source = sources[key]
            lesson = Lesson(pk=pk, school=self.school, source=source, external_id=key)
            self._set_lesson(lesson, spec, periods)
            updated.append((lesson, source, spec))
        if updated:
            Lesson.objects.bulk_update(
                [lesson for lesson, _, _ in updated],
                ["weekday", "period", "group", "subject", "weeks", "valid_from", "valid_to"],
            )
            pks = [lesson.pk for lesson, _, _ in updated]
            for through in (Lesson.classes.through, Lesson.teachers.through, Lesson.rooms.through):
                through.objects.filter(lesson_id__in=pks).delete()
        both = created + updated
        self._through(
            Lesson.classes.through, "schoolclass_id", "classes", both, lambda s: s.classes
        )
        self._through(Lesson.teachers.through, "teacher_id", "teachers", both, lambda s: s.teachers)
        self._through(Lesson.rooms.through, "room_id", "rooms", both, lambda s: s.rooms)
        for lesson, source, spec in both:
            self.plan.lesson_pks[f"ext:{source}:{lesson.external_id}"] = lesson.pk
            self.remember.append(("lesson", lesson.pk, source, lesson.external_id, spec))

    def _set_lesson(self, lesson: Lesson, spec: LessonSpec, periods: dict[int, int]) -> None:
        lesson.weekday = spec.weekday
        lesson.period_id = periods[spec.period]
        lesson.group = spec.group
        subject_id = self._id("subjects", spec.subject)
        assert subject_id is not None
        lesson.subject_id = subject_id
        lesson.weeks = spec.weeks
        lesson.valid_from = spec.valid_from
        lesson.valid_to = spec.valid_to

    def _through(
        self,
        through: Any,
        column: str,
        kind: str,
        rows: Iterable[tuple[Any, str, Any]],
        values: Any,
    ) -> None:
        owner = "lesson_id" if through.__name__.startswith("Lesson_") else "substitution_id"
        _insert(
            through,
            [owner, column],
            [
                (obj.pk, self.ids[kind][code])
                for obj, _source, spec in rows
                for code in values(spec)
            ],
        )

    # --- substitutions -------------------------------------------------------------------------
    def substitutions(self) -> None:
        kind_plan = self.plan.kinds["substitutions"]
        sources = kind_plan.sources
        created: list[tuple[Substitution, str, ChangeSpec]] = []
        for key, spec in kind_plan.create:
            assert isinstance(spec, ChangeSpec)
            change = Substitution(school=self.school, source=sources[key], external_id=key)
            self._set_change(change, spec)
            created.append((change, sources[key], spec))
        updated: list[tuple[Substitution, str, ChangeSpec]] = []
        for pk, key, spec in kind_plan.update:
            assert isinstance(spec, ChangeSpec)
            change = Substitution(pk=pk, school=self.school, source=sources[key], external_id=key)
            self._set_change(change, spec)
            updated.append((change, sources[key], spec))
        fields = [
            "date",
            "kind",
            "lesson",
            "period",
            "group",
            "subject",
            "teacher",
            "substitute_teacher",
            "room",
            "target_date",
            "target_period",
            "note",
        ]
        if updated:
            pks = [change.pk for change, _, _ in updated]
            # Free every (lesson, date) first: two changes trading lessons never collide.
            Substitution.objects.filter(pk__in=pks).update(lesson=None)
            Substitution.objects.bulk_update([c for c, _, _ in updated], fields)
            Substitution.classes.through.objects.filter(substitution_id__in=pks).delete()
        Substitution.objects.bulk_create([c for c, _, _ in created])
        both = created + updated
        self._through(
            Substitution.classes.through, "schoolclass_id", "classes", both, lambda s: s.classes
        )
        for change, source, spec in both:
            self.remember.append(("substitution", change.pk, source, change.external_id, spec))

    def _set_change(self, change: Substitution, spec: ChangeSpec) -> None:
        periods = self.plan.periods
        change.date = spec.date
        change.kind = spec.kind
        change.lesson_id = self.plan.lesson_pks[spec.lesson] if spec.lesson else None
        change.period_id = periods[spec.period]
        change.group = spec.group
        change.subject_id = self._id("subjects", spec.subject)
        change.teacher_id = self._id("teachers", spec.teacher)
        change.substitute_teacher_id = self._id("teachers", spec.substitute_teacher)
        change.room_id = self._id("rooms", spec.room)
        change.target_date = spec.target_date
        change.target_period_id = (
            periods[spec.target_period] if spec.target_period is not None else None
        )
        change.note = spec.note

    # --- holidays, announcements, week labels ------------------------------------------------
    def closures(self) -> None:
        kind_plan = self.plan.kinds["holidays"]
        source = "untis"
        new = []
        for key, spec in kind_plan.create:
            assert isinstance(spec, ClosureSpec)
            new.append(Closure(school=self.school, source=source, external_id=key))
            self._set_closure(new[-1], spec)
        created = Closure.objects.bulk_create(new)
        changed = []
        for pk, key, spec in kind_plan.update:
            assert isinstance(spec, ClosureSpec)
            changed.append(Closure(pk=pk, school=self.school, source=source, external_id=key))
            self._set_closure(changed[-1], spec)
        if changed:
            Closure.objects.bulk_update(changed, ["kind", "name", "starts_on", "ends_on"])
        specs = [s for _, s in kind_plan.create] + [s for _, _, s in kind_plan.update]
        for row, spec in zip(created + changed, specs, strict=True):
            self.remember.append(("closure", row.pk, source, row.external_id, spec))

    @staticmethod
    def _set_closure(row: Closure, spec: ClosureSpec) -> None:
        row.kind, row.name, row.starts_on, row.ends_on = (
            spec.kind,
            spec.name,
            spec.starts_on,
            spec.ends_on,
        )

    def announcements(self) -> None:
        kind_plan = self.plan.kinds["announcements"]
        source = "untis"
        keys = [key for key, _ in kind_plan.create]
        new = []
        for _key, spec in kind_plan.create:
            assert isinstance(spec, AnnouncementSpec)
            new.append(Announcement(school=self.school))
            self._set_announcement(new[-1], spec)
        created = Announcement.objects.bulk_create(new)
        for row, key, (_, spec) in zip(created, keys, kind_plan.create, strict=True):
            self.remember.append(("announcement", row.pk, source, key, spec))
        changed = []
        for pk, key, spec in kind_plan.update:
            assert isinstance(spec, AnnouncementSpec)
            changed.append(Announcement(pk=pk, school=self.school))
            self._set_announcement(changed[-1], spec)
            self.remember.append(("announcement", pk, source, key, spec))
        if changed:
            Announcement.objects.bulk_update(
                changed, ["title", "body", "starts_at", "ends_at", "priority"]
            )

    @staticmethod
    def _set_announcement(row: Announcement, spec: AnnouncementSpec) -> None:
        row.title, row.body = spec.title, spec.body
        row.starts_at, row.ends_at, row.priority = spec.starts_at, spec.ends_at, spec.priority

    def week_labels(self) -> None:
        kind_plan = self.plan.kinds["week_labels"]
        for key, spec in kind_plan.create:
            assert isinstance(spec, WeekLabelSpec)
            row = WeekLabel.objects.create(school=self.school, week=spec.week, label=spec.label)
            self.remember.append(("week_label", row.pk, "untis", key, spec))
        for pk, key, spec in kind_plan.update:
            assert isinstance(spec, WeekLabelSpec)
            WeekLabel.objects.filter(pk=pk).update(label=spec.label)
            self.remember.append(("week_label", pk, "untis", key, spec))

    # --- fingerprints ---------------------------------------------------------------------------
    def unchanged(self) -> None:
        """Rows already as the import wants them whose fingerprint is missing or stale."""
        for name, kind in TRACKED.items():
            kind_plan = self.plan.kinds[name]
            for pk, key, spec in kind_plan.remember:
                source = kind_plan.sources.get(key, "untis")
                self.remember.append((kind, pk, source, key, spec))

    def fingerprints(self) -> None:
        drop: dict[str, set[int]] = defaultdict(set)
        for kind, pk in self.forget:
            drop[kind].add(pk)
        for kind, pk, _source, _ext, _spec in self.remember:
            drop[kind].add(pk)
        for kind, pks in drop.items():
            ImportedRow.objects.filter(kind=kind, object_id__in=pks).delete()
        for name, kind in TRACKED.items():
            kind_plan = self.plan.kinds[name]
            if kind_plan.forget:
                ImportedRow.objects.filter(
                    school=self.school, kind=kind, external_id__in=kind_plan.forget
                ).delete()
        _insert(
            ImportedRow,
            ["school_id", "kind", "object_id", "source", "external_id", "fingerprint"],
            [
                (self.school.pk, kind, pk, source, ext, fingerprint(spec))
                for kind, pk, source, ext, spec in self.remember
            ],
        )

    def run(self) -> None:
        self.masters()
        self.deletions()
        self.lessons()
        self.substitutions()
        self.closures()
        self.announcements()
        self.week_labels()
        self.unchanged()
        self.fingerprints()


def _insert(model: Any, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Many plain rows at once, without building a model instance for each (the through
    tables and fingerprints: thousands of rows in a large import). Callers touch the
    school's revision themselves."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    head = "INSERT INTO {} ({}) VALUES ".format(  # noqa: S608 - our own table and columns
        quote(model._meta.db_table), ", ".join(quote(c) for c in columns)
    )
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):  # many rows per statement, few round trips
            chunk = rows[start : start + 500]
            cursor.execute(head + ", ".join([one] * len(chunk)), [v for row in chunk for v in row])


def apply_plan(plan: Plan) -> bool:
    """Write the plan; True if the school's content changed (and its revision went up once).

    A plan without changes writes no content (so the revision stays); it may still
    refresh fingerprints, which screens never see.
    """
    with transaction.atomic(), revision.batch():
        applier = _Applier(plan)
        if plan.writes:
            applier.run()
            revision.touch({plan.school.pk})
            return True
        if any(k.remember or k.forget for k in plan.kinds.values()):
            applier.unchanged()
            applier.fingerprints()
    return False
