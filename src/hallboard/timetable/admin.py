"""Admin pages for the timetable: the timetabler's and the office's daily work."""

from __future__ import annotations

from django.contrib import admin

from hallboard.schools.access import Right
from hallboard.schools.admin_scoping import SchoolScopedAdmin
from hallboard.timetable.models import (
    Announcement,
    Lesson,
    Period,
    Room,
    SchoolClass,
    Subject,
    Substitution,
    Teacher,
)


class TimetableAdmin(SchoolScopedAdmin):
    right = Right.TIMETABLE
    list_filter = ["school"]


@admin.register(Period)
class PeriodAdmin(TimetableAdmin):
    list_display = ["school", "number", "label", "starts_at", "ends_at"]


@admin.register(SchoolClass)
class SchoolClassAdmin(TimetableAdmin):
    list_display = ["name", "grade", "school"]
    search_fields = ["name"]


@admin.register(Room)
class RoomAdmin(TimetableAdmin):
    list_display = ["name", "school"]
    search_fields = ["name"]


@admin.register(Subject)
class SubjectAdmin(TimetableAdmin):
    list_display = ["code", "name", "school"]
    search_fields = ["code", "name"]


@admin.register(Teacher)
class TeacherAdmin(TimetableAdmin):
    list_display = ["code", "name", "school"]
    search_fields = ["code", "name"]


@admin.register(Lesson)
class LessonAdmin(TimetableAdmin):
    list_display = ["school_class", "weekday", "period", "subject", "teacher", "room", "school"]
    list_filter = ["school", "weekday", "school_class"]
    list_select_related = ["school_class", "period", "subject", "teacher", "room", "school"]


@admin.register(Substitution)
class SubstitutionAdmin(TimetableAdmin):
    list_display = ["date", "period", "school_class", "kind", "substitute_teacher", "room", "note"]
    list_filter = ["school", "kind", "date"]
    date_hierarchy = "date"
    ordering = ["-date", "period__number"]
    list_select_related = ["period", "school_class", "substitute_teacher", "room"]


@admin.register(Announcement)
class AnnouncementAdmin(SchoolScopedAdmin):
    right = Right.ANNOUNCE
    list_display = ["title", "school", "priority", "starts_at", "ends_at"]
    list_filter = ["school", "priority"]
    search_fields = ["title", "body"]
