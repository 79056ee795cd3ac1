"""A school's timetable and calendar: what a lesson, a change and a school day are.

The data model is described for people in docs/data-model.md; in short:

- ``Period``, ``SchoolClass``, ``Subject``, ``Teacher``, ``Room``: master data,
  named on screens and in imports by their natural keys (period number, class
  name, subject and teacher code, room name).
- ``Lesson``: a regular weekly lesson. It may join several classes (combined
  groups, upper-school courses), have several teachers and rooms, take place
  only in some weeks of the school's rotation (``weeks``: "A", "B", "A,C"; empty
  means every week) and only between ``valid_from`` and ``valid_to``. Parallel
  groups of a class in one period (languages, religion/ethics, courses) are
  separate lessons, told apart by ``group``.
- ``Substitution``: a dated change. One that names its regular ``lesson`` takes
  the period, classes, subject, teachers and rooms from it unless it overrides
  them; there is at most one per lesson and date. Kinds: ``Substitution.Kind``.
- ``TeacherAbsence``: a teacher away for days or periods; their lessons then
  need cover (the staff page lists them; screens do not show absences).
- ``SchoolCalendar``, ``Term``, ``Closure``, ``WeekLabel``: when a school has
  lessons and which week of its rotation a week is (``hallboard.timetable.calendar``).

What a date looks like after all of this (the lessons that take place, with
that day's changes applied) is computed in one place,
``hallboard.timetable.day.effective_day``; screens, the API and staff pages
show its result and reconcile nothing themselves.

Every model here is ``SchoolContent``: a change bumps the school's revision.
Many-to-many changes made through the relation managers (``lesson.classes.add``)
bump it too (``_m2m_changed`` below); code that writes the through tables in
bulk must call ``hallboard.schools.revision.touch`` itself (inside ``batch()``).

Rows written by an import carry ``source`` (e.g. "untis") and ``external_id``
(the id in that system, e.g. an Untis lesson number); rows made by people have
``source="manual"``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.signals import m2m_changed
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from hallboard.schools import revision
from hallboard.schools.content import SchoolContent, SchoolContentQuerySet
from hallboard.schools.models import School

#: ``source`` of rows made by people (admin, API, CLI); imports use their own name.
MANUAL = "manual"

WEEK_LABEL_RE = re.compile(r"^[A-Za-z0-9]{1,8}$")


def parse_week_labels(value: str) -> list[str]:
    """'A, b' → ['A', 'B']: the labels of a week pattern or cycle, in order, without repeats."""
    labels: list[str] = []
    for part in (value or "").split(","):
        label = part.strip().upper()
        if label and label not in labels:
            labels.append(label)
    return labels


def validate_week_labels(value: str) -> None:
    for label in parse_week_labels(value):
        if not WEEK_LABEL_RE.match(label):
            raise ValidationError(
                _("%(label)r is not a week label: use letters or digits, e.g. 'A' or 'A,B'."),
                params={"label": label},
            )


class Weekday(models.IntegerChoices):
    MONDAY = 1, _("Monday")
    TUESDAY = 2, _("Tuesday")
    WEDNESDAY = 3, _("Wednesday")
    THURSDAY = 4, _("Thursday")
    FRIDAY = 5, _("Friday")
    SATURDAY = 6, _("Saturday")
    SUNDAY = 7, _("Sunday")


class Sourced(models.Model):
    """Where a row came from: made by people (``manual``) or by an import."""

    source = models.CharField(
        _("source"),
        max_length=32,
        default=MANUAL,
        help_text=_("'manual' for rows made by people; the importer's name for imported rows."),
    )
    external_id = models.CharField(
        _("external id"),
        max_length=64,
        blank=True,
        help_text=_("The row's id in the system it was imported from (e.g. an Untis number)."),
    )

    class Meta:
        abstract = True


class Period(SchoolContent):
    """One slot of the bell schedule (e.g. period 3, 09:50-10:35)."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="periods")
    number = models.PositiveSmallIntegerField(_("number"))
    label = models.CharField(
        _("label"), max_length=40, blank=True, help_text=_("Shown instead of the number.")
    )
    starts_at = models.TimeField(_("starts at"))
    ends_at = models.TimeField(_("ends at"))

    class Meta:
        ordering = ["school", "starts_at"]
        verbose_name = _("period")
        verbose_name_plural = _("periods")
        constraints = [
            models.UniqueConstraint(fields=["school", "number"], name="unique_period_number"),
        ]

    def __str__(self) -> str:
        return f"{self.label or self.number} ({self.starts_at:%H:%M}-{self.ends_at:%H:%M})"

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("A period must end after it starts.")})


class SchoolClass(SchoolContent):
    """A class, form or year group (e.g. '7b', 'Q1'), in a grade used for screen views."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="classes")
    name = models.CharField(_("name"), max_length=40)
    grade = models.PositiveSmallIntegerField(_("grade"), null=True, blank=True)

    class Meta:
        ordering = ["school", "grade", "name"]
        verbose_name = _("class")
        verbose_name_plural = _("classes")
        constraints = [models.UniqueConstraint(fields=["school", "name"], name="unique_class_name")]

    def __str__(self) -> str:
        return self.name


class Room(SchoolContent):
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="rooms")
    name = models.CharField(_("name"), max_length=40)

    class Meta:
        ordering = ["school", "name"]
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        constraints = [models.UniqueConstraint(fields=["school", "name"], name="unique_room_name")]

    def __str__(self) -> str:
        return self.name


class Subject(SchoolContent):
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="subjects")
    code = models.CharField(_("code"), max_length=16)
    name = models.CharField(_("name"), max_length=80, blank=True)

    class Meta:
        ordering = ["school", "code"]
        verbose_name = _("subject")
        verbose_name_plural = _("subjects")
        constraints = [
            models.UniqueConstraint(fields=["school", "code"], name="unique_subject_code")
        ]

    def __str__(self) -> str:
        return self.name or self.code


class Teacher(SchoolContent):
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="teachers")
    code = models.CharField(
        _("code"), max_length=16, help_text=_("Short name shown on screens, e.g. 'MUE'.")
    )
    name = models.CharField(_("name"), max_length=120, blank=True)

    class Meta:
        ordering = ["school", "code"]
        verbose_name = _("teacher")
        verbose_name_plural = _("teachers")
        constraints = [
            models.UniqueConstraint(fields=["school", "code"], name="unique_teacher_code")
        ]

    def __str__(self) -> str:
        return self.code


class Lesson(Sourced, SchoolContent):
    """A regular weekly lesson: when (weekday, period, weeks, validity), who and where.

    ``weeks`` lists the week labels of the school's rotation in which the lesson
    takes place ("A", "B", "A,C"); empty means every week. ``valid_from`` and
    ``valid_to`` (both inclusive, either open) bound the dates it exists on.
    """

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="lessons")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    period = models.ForeignKey(
        Period, on_delete=models.CASCADE, related_name="lessons", verbose_name=_("period")
    )
    classes = models.ManyToManyField(
        SchoolClass,
        related_name="lessons",
        verbose_name=_("classes"),
        help_text=_("One class, or several for a combined group or course."),
    )
    group = models.CharField(
        _("group or course"),
        max_length=40,
        blank=True,
        help_text=_("Tells parallel lessons apart, e.g. 'LK1', 'ev', 'Group 2'."),
    )
    subject = models.ForeignKey(
        Subject, on_delete=models.PROTECT, related_name="lessons", verbose_name=_("subject")
    )
    teachers = models.ManyToManyField(
        Teacher, blank=True, related_name="lessons", verbose_name=_("teachers")
    )
    rooms = models.ManyToManyField(
        Room, blank=True, related_name="lessons", verbose_name=_("rooms")
    )
    weeks = models.CharField(
        _("weeks"),
        max_length=40,
        blank=True,
        validators=[validate_week_labels],
        help_text=_("Week labels it takes place in, e.g. 'A' or 'A,C'. Empty: every week."),
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)

    class Meta:
        ordering = ["school", "weekday", "period__number", "pk"]
        verbose_name = _("lesson")
        verbose_name_plural = _("lessons")
        indexes = [
            models.Index(fields=["school", "weekday"]),
            models.Index(fields=["school", "source", "external_id"]),
        ]

    def __str__(self) -> str:
        group = f" {self.group}" if self.group else ""
        return f"{self.get_weekday_display()} {self.period.number}: {self.subject.code}{group}"

    def clean(self) -> None:
        self.weeks = ",".join(parse_week_labels(self.weeks))
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValidationError({"valid_to": _("The end of validity is before its start.")})
        if self.weeks and self.school_id is not None:
            from hallboard.timetable.calendar import cycle_labels

            cycle = cycle_labels(self.school_id)
            unknown = [w for w in parse_week_labels(self.weeks) if w not in cycle]
            if unknown:
                raise ValidationError(
                    {
                        "weeks": _(
                            "The school's week rotation has no week %(labels)s "
                            "(its labels: %(cycle)s)."
                        )
                        % {"labels": ", ".join(unknown), "cycle": ", ".join(cycle) or "-"}
                    }
                )

    @property
    def week_labels(self) -> frozenset[str]:
        """The labels of the weeks it takes place in; empty: every week."""
        return frozenset(parse_week_labels(self.weeks))

    def valid_on(self, day: dt.date) -> bool:
        """True if ``day`` lies within the validity range (not looking at weekday or weeks)."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


class SubstitutionQuerySet(SchoolContentQuerySet):
    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Any]:
        """As ``save()`` does, a change without a period takes its lesson's."""
        objs = list(objs)
        missing = [o for o in objs if o.period_id is None and o.lesson_id is not None]
        if missing:
            periods = dict(
                Lesson.objects.filter(pk__in={o.lesson_id for o in missing}).values_list(
                    "pk", "period_id"
                )
            )
            for obj in missing:
                obj.period_id = periods.get(obj.lesson_id)
        return super().bulk_create(objs, *args, **kwargs)


class Substitution(Sourced, SchoolContent):
    """A dated change to the timetable (a "Vertretung"), one kind per row.

    A change that names its regular ``lesson`` takes the period, classes,
    subject, teachers and rooms from it; any of ``classes``, ``subject``,
    ``room`` or ``substitute_teacher`` set here overrides the lesson's value.
    ``teacher`` names the teacher who would have taught (by default the
    lesson's; with several teachers, the one replaced). A change without a
    lesson (an extra lesson, an exam, a note) names period, classes and
    subject itself. ``moved`` and ``swapped`` changes name where the lesson
    goes (``target_date``, default the same day, and ``target_period``); a
    swap of two lessons is two ``swapped`` rows, one for each.

    At most one change per lesson and date: a second one is refused.
    """

    class Kind(models.TextChoices):
        CANCELLED = "cancelled", _("Cancelled")
        SUBSTITUTE = "substitute", _("Substitute teacher")
        ROOM_CHANGE = "room_change", _("Room change")
        MOVED = "moved", _("Moved")
        SWAPPED = "swapped", _("Swapped")
        EXTRA = "extra", _("Extra lesson")
        EXAM = "exam", _("Exam")
        SUPERVISION = "supervision", _("Supervision")
        NOTE = "note", _("Note")

    #: Kinds that take the lesson to another slot (``target_date``/``target_period``).
    MOVING = frozenset({Kind.MOVED, Kind.SWAPPED})

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="substitutions")
    date = models.DateField(_("date"), db_index=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    lesson = models.ForeignKey(
        Lesson,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="substitutions",
        verbose_name=_("regular lesson"),
        help_text=_("The regular lesson this changes; empty for an extra lesson or a note."),
    )
    period = models.ForeignKey(
        Period,
        on_delete=models.CASCADE,
        blank=True,
        related_name="substitutions",
        verbose_name=_("period"),
        help_text=_("Empty: the lesson's period."),
    )
    classes = models.ManyToManyField(
        SchoolClass,
        blank=True,
        related_name="substitutions",
        verbose_name=_("classes"),
        help_text=_("Empty: the lesson's classes."),
    )
    group = models.CharField(_("group or course"), max_length=40, blank=True)
    subject = models.ForeignKey(
        Subject,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("subject"),
        help_text=_("Empty: the lesson's subject."),
    )
    teacher = models.ForeignKey(
        Teacher,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("teacher replaced"),
        help_text=_("Empty: the lesson's teachers."),
    )
    substitute_teacher = models.ForeignKey(
        Teacher,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="substitutions",
        verbose_name=_("substitute teacher"),
    )
    room = models.ForeignKey(
        Room,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("room"),
        help_text=_("The room it takes place in now. Empty: the lesson's rooms."),
    )
    target_date = models.DateField(
        _("moved to date"), null=True, blank=True, help_text=_("Moved or swapped: empty: same day.")
    )
    target_period = models.ForeignKey(
        Period,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("moved to period"),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = SubstitutionQuerySet.as_manager()  # type: ignore[misc]

    class Meta:
        ordering = ["school", "date", "period__number", "pk"]
        verbose_name = _("substitution")
        verbose_name_plural = _("substitutions")
        indexes = [
            models.Index(fields=["school", "date"]),
            models.Index(fields=["school", "target_date"]),
            models.Index(fields=["school", "source", "external_id"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["lesson", "date"],
                condition=Q(lesson__isnull=False),
                name="one_change_per_lesson_and_date",
            )
        ]

    def __str__(self) -> str:
        period = self.period.number if self.period_id else "?"
        return f"{self.date} {period}: {self.get_kind_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.lesson_id is not None and self.period_id is None:
            self.period_id = self.lesson.period_id
        super().save(*args, **kwargs)

    @property
    def moves(self) -> bool:
        return self.kind in self.MOVING

    @property
    def moved_to(self) -> tuple[dt.date, int] | None:
        """(date, period id) the lesson goes to, for moved and swapped changes."""
        if not self.moves or self.target_period_id is None:
            return None
        return (self.target_date or self.date, self.target_period_id)

    def validate_constraints(self, exclude: Any = None) -> None:
        # The one-change-per-lesson rule is checked by clean(), with a message
        # naming the change already there; the constraint is the backstop.
        exclude = set(exclude or ()) | {"lesson"}
        super().validate_constraints(exclude=exclude)

    def conflicting(self) -> Substitution | None:
        """Another change of the same lesson on the same date, if there is one."""
        if self.lesson_id is None or self.date is None:
            return None
        others = Substitution.objects.filter(lesson_id=self.lesson_id, date=self.date)
        if self.pk is not None:
            others = others.exclude(pk=self.pk)
        return others.select_related("period").first()

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        lesson = self.lesson if self.lesson_id is not None else None
        if lesson is not None:
            if self.school_id is not None and lesson.school_id != self.school_id:
                errors["lesson"] = _("This lesson belongs to another school.")
            if self.period_id is None:
                self.period_id = lesson.period_id
            elif self.period_id != lesson.period_id:
                errors["period"] = _(
                    "The lesson is in period %(number)s; to put it elsewhere, make it 'moved'."
                ) % {"number": lesson.period.number}
            if self.date is not None:
                problem = lesson_absent_reason(lesson, self.date)
                if problem:
                    errors["date"] = problem
            if self.kind == self.Kind.EXTRA:
                errors["lesson"] = _("An extra lesson is one where there was none: name no lesson.")
            other = self.conflicting()
            if other is not None:
                errors["lesson"] = _(
                    "This lesson already has a change on %(date)s: %(kind)s (#%(id)s). "
                    "Change that one instead."
                ) % {"date": self.date, "kind": other.get_kind_display(), "id": other.pk}
        else:
            if self.period_id is None:
                errors["period"] = _("Name the period, or the regular lesson.")
            if self.kind in self.MOVING:
                errors["lesson"] = _("Name the lesson that is moved.")
            if self.kind == self.Kind.EXTRA and self.subject_id is None:
                errors["subject"] = _("An extra lesson needs a subject.")
        if self.kind == self.Kind.ROOM_CHANGE and self.room_id is None:
            errors["room"] = _("A room change needs the new room.")
        if self.kind in self.MOVING:
            if self.target_period_id is None:
                errors["target_period"] = _("Name the period the lesson moves to.")
            elif (self.target_date or self.date) == self.date and (
                self.target_period_id == self.period_id
            ):
                errors["target_period"] = _("That is where the lesson already is.")
        elif self.target_date or self.target_period_id:
            errors["target_period"] = _("Only moved or swapped lessons have a target.")
        if errors:
            raise ValidationError(errors)


def lesson_absent_reason(lesson: Lesson, day: dt.date) -> str | None:
    """Why ``lesson`` does not take place on ``day`` by the timetable alone, or None.

    Weekday, validity and week rotation; holidays are not a reason here (a
    change on a closed day is kept, and simply not shown while it is closed).
    """
    if day.isoweekday() != lesson.weekday:
        return str(
            _("The lesson is on %(weekday)s; %(date)s is a %(other)s.")
            % {
                "weekday": lesson.get_weekday_display(),
                "date": day.isoformat(),
                "other": Weekday(day.isoweekday()).label,
            }
        )
    if not lesson.valid_on(day):
        return str(_("The lesson is not valid on %(date)s.") % {"date": day.isoformat()})
    if lesson.week_labels:
        from hallboard.timetable.calendar import SchoolCalendarView

        label = SchoolCalendarView.load(lesson.school_id).week_label(day)
        if label not in lesson.week_labels:
            return str(
                _("The lesson is in week %(weeks)s only; %(date)s is in week %(label)s.")
                % {
                    "weeks": ", ".join(sorted(lesson.week_labels)),
                    "date": day.isoformat(),
                    "label": label or "-",
                }
            )
    return None


class TeacherAbsence(Sourced, SchoolContent):
    """A teacher away from ``starts_on`` (``first_period``) to ``ends_on`` (``last_period``).

    Empty periods mean the whole day. Their lessons in that time need cover;
    ``hallboard.timetable.day.uncovered_lessons`` lists those without a change.
    """

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="absences")
    teacher = models.ForeignKey(
        Teacher, on_delete=models.CASCADE, related_name="absences", verbose_name=_("teacher")
    )
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("to"), help_text=_("Inclusive."))
    first_period = models.ForeignKey(
        Period,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("from period"),
        help_text=_("On the first day, from this period. Empty: all day."),
    )
    last_period = models.ForeignKey(
        Period,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("to period"),
        help_text=_("On the last day, up to this period. Empty: all day."),
    )
    reason = models.CharField(_("reason"), max_length=80, blank=True)

    class Meta:
        ordering = ["school", "starts_on", "teacher__code"]
        verbose_name = _("teacher absence")
        verbose_name_plural = _("teacher absences")
        indexes = [models.Index(fields=["school", "starts_on", "ends_on"])]

    def __str__(self) -> str:
        return f"{self.teacher} {self.starts_on} - {self.ends_on}"

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": _("The absence ends before it starts.")})

    def covers(self, day: dt.date, period: Period) -> bool:
        """True if the teacher is away on ``day`` in ``period``."""
        if not (self.starts_on <= day <= self.ends_on):
            return False
        first, last = self.first_period, self.last_period
        if day == self.starts_on and first is not None and period.starts_at < first.starts_at:
            return False
        return not (day == self.ends_on and last is not None and period.starts_at > last.starts_at)


# --- the school calendar ----------------------------------------------------------------


class SchoolCalendar(SchoolContent):
    """A school's week rotation and region (one row per school; none: every week alike).

    ``week_cycle`` lists the rotation's labels in order ("A,B", "A,B,C,D"). The
    week containing ``anchor`` is the first label's week; from there the labels
    advance over school weeks only (a week lying wholly in holidays, closures or
    outside the terms has no label and does not advance the rotation). A
    ``WeekLabel`` sets one week's label by hand and the rotation continues from
    it. ``region`` (ISO 3166, e.g. "DE-BE") is where public holidays come from
    when asked for.
    """

    school = models.OneToOneField(School, on_delete=models.CASCADE, related_name="calendar")
    week_cycle = models.CharField(
        _("week rotation"),
        max_length=40,
        blank=True,
        validators=[validate_week_labels],
        help_text=_("Labels in order, e.g. 'A,B' or 'A,B,C,D'. Empty: no rotation."),
    )
    anchor = models.DateField(
        _("first week of the rotation"),
        null=True,
        blank=True,
        help_text=_("A day in a week that is the rotation's first week (e.g. week A)."),
    )
    region = models.CharField(
        _("region"),
        max_length=10,
        blank=True,
        help_text=_("For public holidays: country, or country-subdivision, e.g. 'DE-BE', 'GB'."),
    )

    class Meta:
        verbose_name = _("school calendar")
        verbose_name_plural = _("school calendars")

    def __str__(self) -> str:
        return str(self.school)

    def clean(self) -> None:
        self.week_cycle = ",".join(parse_week_labels(self.week_cycle))
        if self.week_cycle and self.anchor is None:
            raise ValidationError({"anchor": _("A rotation needs its first week.")})

    @property
    def labels(self) -> list[str]:
        return parse_week_labels(self.week_cycle)


class Term(SchoolContent):
    """A term of the school year. With terms, a day outside all of them has no lessons."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="terms")
    name = models.CharField(_("name"), max_length=80)
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("to"), help_text=_("Inclusive."))

    class Meta:
        ordering = ["school", "starts_on"]
        verbose_name = _("term")
        verbose_name_plural = _("terms")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": _("The term ends before it starts.")})


class Closure(Sourced, SchoolContent):
    """Days without lessons: holidays, public holidays, closures (both ends inclusive)."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("Holidays")
        PUBLIC_HOLIDAY = "public_holiday", _("Public holiday")
        CLOSURE = "closure", _("School closed")

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="closures")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.HOLIDAY)
    name = models.CharField(_("name"), max_length=120)
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("to"), help_text=_("Inclusive: the last day without lessons."))

    class Meta:
        ordering = ["school", "starts_on"]
        verbose_name = _("holiday or closure")
        verbose_name_plural = _("holidays and closures")
        indexes = [
            models.Index(fields=["school", "starts_on"]),
            models.Index(fields=["school", "source", "external_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.starts_on} - {self.ends_on})"

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": _("It ends before it starts.")})


class WeekLabel(SchoolContent):
    """One week's rotation label set by hand; the rotation continues from it."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="week_labels")
    week = models.DateField(_("week"), help_text=_("Any day of the week; stored as its Monday."))
    label = models.CharField(
        _("label"),
        max_length=8,
        validators=[validate_week_labels],
        help_text=_("One of the rotation's labels."),
    )

    class Meta:
        ordering = ["school", "week"]
        verbose_name = _("week label")
        verbose_name_plural = _("week labels")
        constraints = [models.UniqueConstraint(fields=["school", "week"], name="unique_week_label")]

    def __str__(self) -> str:
        year, week, _day = self.week.isocalendar()
        return f"{year}-W{week:02d}: {self.label}"

    def clean(self) -> None:
        if self.week:
            self.week = monday_of(self.week)
        self.label = (self.label or "").strip().upper()
        if self.school_id is not None and self.label:
            from hallboard.timetable.calendar import cycle_labels

            cycle = cycle_labels(self.school_id)
            if self.label not in cycle:
                raise ValidationError(
                    {
                        "label": _("The school's rotation has no week %(label)s (%(cycle)s).")
                        % {"label": self.label, "cycle": ", ".join(cycle) or "-"}
                    }
                )

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.week = monday_of(self.week)
        super().save(*args, **kwargs)


def monday_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.isoweekday() - 1)


class Announcement(SchoolContent):
    """A message shown on a school's screens between ``starts_at`` and ``ends_at``."""

    class Priority(models.IntegerChoices):
        LOW = 0, _("Low")
        NORMAL = 1, _("Normal")
        HIGH = 2, _("High")

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="announcements")
    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("text"), blank=True, max_length=2000)
    starts_at = models.DateTimeField(_("starts at"), default=timezone.now)
    ends_at = models.DateTimeField(
        _("ends at"), null=True, blank=True, help_text=_("Empty: until removed.")
    )
    priority = models.SmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )

    class Meta:
        ordering = ["school", "-priority", "starts_at"]
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")
        indexes = [models.Index(fields=["school", "starts_at"])]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.ends_at and self.starts_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("An announcement must end after it starts.")})


def _m2m_changed(sender: Any, instance: Any, action: str, using: str, **_: Any) -> None:
    """Classes, teachers or rooms of a lesson or change changed: the school's screens show it."""
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    revision.touch({instance.school_id}, using=using)


for _through in (
    Lesson.classes.through,
    Lesson.teachers.through,
    Lesson.rooms.through,
    Substitution.classes.through,
):
    m2m_changed.connect(_m2m_changed, sender=_through, dispatch_uid=f"m2m-{_through.__name__}")
