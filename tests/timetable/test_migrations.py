"""The move to lessons of several classes keeps the data schools already have."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("timetable", "0001_initial")]
AFTER = [("timetable", "0004_drop_single_class_fields")]


@pytest.mark.django_db(transaction=True)
def test_lessons_and_changes_are_carried_over() -> None:
    """Each lesson keeps its class, teacher and room; a change is linked to its lesson; of two
    changes of one lesson and date the newer stays linked and the older is kept on its own."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    org = old.get_model("schools", "Organisation").objects.create(slug="o", name="O")
    school = old.get_model("schools", "School").objects.create(organisation=org, slug="s", name="S")
    period = old.get_model("timetable", "Period").objects.create(
        school=school, number=1, starts_at=dt.time(8), ends_at=dt.time(9)
    )
    cls = old.get_model("timetable", "SchoolClass").objects.create(school=school, name="7a")
    subject = old.get_model("timetable", "Subject").objects.create(school=school, code="M")
    teacher = old.get_model("timetable", "Teacher").objects.create(school=school, code="SCH")
    room = old.get_model("timetable", "Room").objects.create(school=school, name="A1")
    lesson = old.get_model("timetable", "Lesson").objects.create(
        school=school,
        school_class=cls,
        weekday=1,
        period=period,
        subject=subject,
        teacher=teacher,
        room=room,
    )
    Substitution = old.get_model("timetable", "Substitution")
    monday = dt.date(2026, 11, 23)
    first = Substitution.objects.create(  # not linked: the migration finds the lesson
        school=school, date=monday, period=period, school_class=cls, kind="cancelled"
    )
    second = Substitution.objects.create(
        school=school,
        date=monday,
        period=period,
        school_class=cls,
        kind="substitute",
        lesson=lesson,
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    leaves = executor.loader.graph.leaf_nodes()
    Lesson = new.get_model("timetable", "Lesson")
    migrated = Lesson.objects.get(pk=lesson.pk)
    assert [c.name for c in migrated.classes.all()] == ["7a"]
    assert [t.code for t in migrated.teachers.all()] == ["SCH"]
    assert [r.name for r in migrated.rooms.all()] == ["A1"]
    NewSubstitution = new.get_model("timetable", "Substitution")
    kept = NewSubstitution.objects.get(pk=second.pk)
    assert kept.lesson_id == lesson.pk
    assert list(kept.classes.all()) == []  # comes from the lesson
    older = NewSubstitution.objects.get(pk=first.pk)
    assert older.lesson_id is None
    assert [c.name for c in older.classes.all()] == ["7a"]
    MigrationExecutor(connection).migrate(leaves)  # the database as every other test expects
