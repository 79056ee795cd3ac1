"""A school's timetable: bell schedule, classes, lessons, substitutions, announcements.

Every model here is ``SchoolContent``: a change bumps the school's revision.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from hallboard.schools.content import SchoolContent
from hallboard.schools.models import School


class Weekday(models.IntegerChoices):
    MONDAY = 1, "Monday"
    TUESDAY = 2, "Tuesday"
    WEDNESDAY = 3, "Wednesday"
    THURSDAY = 4, "Thursday"
    FRIDAY = 5, "Friday"
    SATURDAY = 6, "Saturday"
    SUNDAY = 7, "Sunday"


class Period(SchoolContent):
    """One slot of the bell schedule (e.g. period 3, 09:50-10:35)."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="periods")
    number = models.PositiveSmallIntegerField()
    label = models.CharField(
        max_length=40, blank=True, help_text="Shown instead of the number, e.g. 'Break'."
    )
    starts_at = models.TimeField()
    ends_at = models.TimeField()

    class Meta:
        ordering = ["school", "starts_at"]
        constraints = [
            models.UniqueConstraint(fields=["school", "number"], name="unique_period_number"),
        ]

    def __str__(self) -> str:
        return f"{self.label or self.number} ({self.starts_at:%H:%M}-{self.ends_at:%H:%M})"

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "A period must end after it starts."})


class SchoolClass(SchoolContent):
    """A class or form, e.g. '7b', in a grade (year) used for screen views."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="classes")
    name = models.CharField(max_length=40)
    grade = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["school", "grade", "name"]
        verbose_name = "class"
        verbose_name_plural = "classes"
        constraints = [models.UniqueConstraint(fields=["school", "name"], name="unique_class_name")]

    def __str__(self) -> str:
        return self.name


class Room(SchoolContent):
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="rooms")
    name = models.CharField(max_length=40)

    class Meta:
        ordering = ["school", "name"]
        constraints = [models.UniqueConstraint(fields=["school", "name"], name="unique_room_name")]

    def __str__(self) -> str:
        return self.name


class Subject(SchoolContent):
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="subjects")
    code = models.CharField(max_length=16)
    name = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["school", "code"]
        constraints = [
            models.UniqueConstraint(fields=["school", "code"], name="unique_subject_code")
        ]

    def __str__(self) -> str:
        return self.name or self.code


class Teacher(SchoolContent):
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="teachers")
    code = models.CharField(max_length=16, help_text="Short name shown on screens, e.g. 'MUE'.")
    name = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["school", "code"]
        constraints = [
            models.UniqueConstraint(fields=["school", "code"], name="unique_teacher_code")
        ]

    def __str__(self) -> str:
        return self.code


class Lesson(SchoolContent):
    """A regular weekly lesson: class, weekday, period, subject, teacher, room."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="lessons")
    school_class = models.ForeignKey(SchoolClass, on_delete=models.CASCADE, related_name="lessons")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    period = models.ForeignKey(Period, on_delete=models.CASCADE, related_name="lessons")
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="lessons")
    teacher = models.ForeignKey(
        Teacher, on_delete=models.SET_NULL, null=True, blank=True, related_name="lessons"
    )
    room = models.ForeignKey(
        Room, on_delete=models.SET_NULL, null=True, blank=True, related_name="lessons"
    )

    class Meta:
        ordering = ["school", "weekday", "period__number", "school_class__name"]
        indexes = [models.Index(fields=["school", "weekday"])]

    def __str__(self) -> str:
        return (
            f"{self.school_class} {self.get_weekday_display()} {self.period.number}: {self.subject}"
        )


class Substitution(SchoolContent):
    """A dated change to the timetable: cancelled, room change, substitute, or a note."""

    class Kind(models.TextChoices):
        CANCELLED = "cancelled", "Cancelled"
        ROOM_CHANGE = "room_change", "Room change"
        SUBSTITUTE = "substitute", "Substitute teacher"
        NOTE = "note", "Note"

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="substitutions")
    date = models.DateField(db_index=True)
    period = models.ForeignKey(Period, on_delete=models.CASCADE, related_name="substitutions")
    school_class = models.ForeignKey(
        SchoolClass, on_delete=models.CASCADE, related_name="substitutions"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    lesson = models.ForeignKey(
        Lesson,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="substitutions",
        help_text="The regular lesson this replaces, if any.",
    )
    subject = models.ForeignKey(
        Subject, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    teacher = models.ForeignKey(
        Teacher,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The teacher who would have taught.",
    )
    substitute_teacher = models.ForeignKey(
        Teacher, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    room = models.ForeignKey(
        Room,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The room the lesson now takes place in.",
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["school", "date", "period__number", "school_class__name"]
        indexes = [models.Index(fields=["school", "date"])]

    def __str__(self) -> str:
        return f"{self.date} {self.school_class} {self.period.number}: {self.get_kind_display()}"


class Announcement(SchoolContent):
    """A message shown on a school's screens between ``starts_at`` and ``ends_at``."""

    class Priority(models.IntegerChoices):
        LOW = 0, "Low"
        NORMAL = 1, "Normal"
        HIGH = 2, "High"

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="announcements")
    title = models.CharField(max_length=120)
    body = models.TextField(blank=True, max_length=2000)
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until removed.")
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)

    class Meta:
        ordering = ["school", "-priority", "starts_at"]
        indexes = [models.Index(fields=["school", "starts_at"])]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.ends_at and self.starts_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "An announcement must end after it starts."})
