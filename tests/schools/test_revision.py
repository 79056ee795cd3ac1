"""Revision is truth: every change a school's screens show bumps its revision once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from hallboard.alerts.models import Alert
from hallboard.schools import revision
from hallboard.schools.models import School
from hallboard.screens.models import Screen
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
from tests.conftest import Tenant, make_lesson, make_screen, revision_of


@pytest.fixture
def committed(tenant: Tenant) -> list[tuple[int, int]]:
    """(school_id, revision) pairs sent by revisions_committed during the test."""
    sent: list[tuple[int, int]] = []

    def receiver(revisions: dict[int, int], **_: object) -> None:
        sent.extend(revisions.items())

    revision.revisions_committed.connect(receiver, dispatch_uid="test-committed")
    yield sent
    revision.revisions_committed.disconnect(dispatch_uid="test-committed")


def _lesson(school: School) -> Lesson:
    return Lesson.objects.create(
        school=school,
        weekday=1,
        period=school.periods.first(),
        subject=school.subjects.first(),
    )


CREATORS = {
    "period": lambda s: Period.objects.create(
        school=s, number=9, starts_at=dt.time(14), ends_at=dt.time(15)
    ),
    "class": lambda s: SchoolClass.objects.create(school=s, name="9c", grade=9),
    "room": lambda s: Room.objects.create(school=s, name="A101"),
    "subject": lambda s: Subject.objects.create(school=s, code="EN"),
    "teacher": lambda s: Teacher.objects.create(school=s, code="SMI"),
    "lesson": _lesson,
    "substitution": lambda s: Substitution.objects.create(
        school=s,
        date=dt.date(2026, 11, 23),
        period=s.periods.first(),
        kind=Substitution.Kind.CANCELLED,
    ),
    "announcement": lambda s: Announcement.objects.create(school=s, title="Choir at 3"),
    "alert": lambda s: Alert.objects.create(
        organisation=s.organisation, school=s, headline="Lockdown"
    ),
}


@pytest.mark.parametrize("kind", sorted(CREATORS))
def test_create_update_delete_each_bump_the_revision_once(tenant: Tenant, kind: str) -> None:
    """Creating, saving and deleting any content type bumps its school's revision by one each."""
    school = tenant.school
    start = revision_of(school)
    obj = CREATORS[kind](school)
    assert revision_of(school) == start + 1
    obj.save()
    assert revision_of(school) == start + 2
    obj.delete()
    assert revision_of(school) == start + 3


@pytest.mark.parametrize("kind", sorted(CREATORS))
def test_changes_leave_other_schools_alone(tenant: Tenant, kind: str) -> None:
    """A change in one school does not touch another school's revision."""
    before = revision_of(tenant.other_school)
    CREATORS[kind](tenant.school)
    assert revision_of(tenant.other_school) == before


def test_bulk_operations_bump_once_per_school(tenant: Tenant) -> None:
    """bulk_create, QuerySet.update, bulk_update and QuerySet.delete bump each school once."""
    school = tenant.school
    start = revision_of(school)
    made = Announcement.objects.bulk_create(
        [Announcement(school=school, title=f"n{i}") for i in range(20)]
    )
    assert revision_of(school) == start + 1
    Announcement.objects.filter(school=school).update(priority=2)
    assert revision_of(school) == start + 2
    for a in made:
        a.title = a.title.upper()
    Announcement.objects.bulk_update(made, ["title"])
    assert revision_of(school) == start + 3
    Announcement.objects.filter(school=school).delete()
    assert revision_of(school) == start + 4


def test_bulk_update_spanning_schools_bumps_each(tenant: Tenant) -> None:
    """A bulk change that spans two schools bumps both."""
    Announcement.objects.create(school=tenant.school, title="a")
    Announcement.objects.create(school=tenant.other_school, title="b")
    a, b = revision_of(tenant.school), revision_of(tenant.other_school)
    Announcement.objects.all().update(priority=0)
    assert (revision_of(tenant.school), revision_of(tenant.other_school)) == (a + 1, b + 1)


def test_cascade_delete_bumps_once_inside_a_batch(tenant: Tenant) -> None:
    """Deleting a teacher inside batch() bumps once, even though lessons cascade."""
    school = tenant.school
    for period in (1, 2):
        make_lesson(school, "7a", 1, period, teachers="MUE")
    start = revision_of(school)
    with revision.batch():
        Teacher.objects.filter(school=school).delete()
        SchoolClass.objects.filter(school=school).delete()
    assert revision_of(school) == start + 1


def test_a_lessons_classes_teachers_and_rooms_bump_the_revision(tenant: Tenant) -> None:
    """Adding or removing a lesson's classes, teachers or rooms bumps its school's revision."""
    school = tenant.school
    lesson = _lesson(school)
    start = revision_of(school)
    lesson.classes.add(school.classes.first())
    lesson.teachers.add(Teacher.objects.get(school=school, code="MUE"))
    lesson.rooms.add(Room.objects.create(school=school, name="R9"))
    assert revision_of(school) == start + 4  # the room's creation is one of them
    lesson.classes.clear()
    assert revision_of(school) == start + 5


def test_organisation_alert_bumps_every_school_of_the_organisation(tenant: Tenant) -> None:
    """An alert scoped to the organisation bumps every school in it."""
    a, b = revision_of(tenant.school), revision_of(tenant.other_school)
    Alert.objects.create(organisation=tenant.organisation, headline="Storm")
    assert (revision_of(tenant.school), revision_of(tenant.other_school)) == (a + 1, b + 1)


def test_school_save_never_writes_back_a_stale_revision(tenant: Tenant) -> None:
    """Saving a School instance loaded before other changes keeps their bumps."""
    stale = School.objects.get(pk=tenant.school.pk)
    Announcement.objects.create(school=tenant.school, title="x")
    after_content = revision_of(tenant.school)
    stale.name = "Renamed"
    stale.save()
    assert revision_of(tenant.school) == after_content + 1


def test_screen_display_changes_bump_but_heartbeats_do_not(tenant: Tenant) -> None:
    """A screen's view or orientation bumps the revision; its heartbeat fields do not."""
    screen, _ = make_screen(tenant.school)
    screen = Screen.objects.get(pk=screen.pk)
    start = revision_of(tenant.school)
    screen.location = "Ground floor"  # not shown on the screen
    screen.save()
    Screen.objects.filter(pk=screen.pk).update(revision_shown=5, connection_mode="poll")
    assert revision_of(tenant.school) == start
    screen.orientation = Screen.Orientation.PORTRAIT
    screen.save()
    assert revision_of(tenant.school) == start + 1
    screen.classes.add(tenant.school.classes.first())
    assert revision_of(tenant.school) == start + 2


@pytest.mark.django_db(transaction=True)
def test_revisions_committed_is_sent_after_commit_only(
    tenant: Tenant, committed: list[tuple[int, int]]
) -> None:
    """The post-commit hook fires after commit with the new revision, never on rollback."""
    school = tenant.school
    committed.clear()
    with transaction.atomic():
        Announcement.objects.create(school=school, title="kept")
        assert committed == []
    assert committed == [(school.pk, revision_of(school))]

    committed.clear()
    before = revision_of(school)

    def create_then_fail() -> None:
        with transaction.atomic():
            Announcement.objects.create(school=school, title="rolled back")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        create_then_fail()
    assert committed == []
    assert revision_of(school) == before


@pytest.mark.django_db(transaction=True)
def test_a_bump_of_many_schools_is_one_signal_in_school_order(tenant: Tenant) -> None:
    """A change that bumps several schools commits one ``revisions_committed`` carrying
    every school's new revision, in school id order (one batch of events for a district's
    edit, not one signal per school); a receiver that fails does not keep the others from
    hearing it."""
    calls: list[list[tuple[int, int]]] = []

    def failing(**_: object) -> None:
        raise RuntimeError("a broken receiver")

    def receiver(revisions: dict[int, int], **_: object) -> None:
        calls.append(list(revisions.items()))

    revision.revisions_committed.connect(failing, dispatch_uid="test-failing")
    revision.revisions_committed.connect(receiver, dispatch_uid="test-batch")
    try:
        ids = sorted([tenant.school.pk, tenant.other_school.pk])
        with revision.batch():
            revision.touch(reversed(ids))
    finally:
        revision.revisions_committed.disconnect(dispatch_uid="test-failing")
        revision.revisions_committed.disconnect(dispatch_uid="test-batch")
    assert calls == [[(pk, revision_of(School.objects.get(pk=pk))) for pk in ids]]


def test_a_bump_records_when_the_revision_changed(tenant: Tenant) -> None:
    """The UPDATE that bumps the revision also stamps revision_changed_at; a save keeps it."""
    School.objects.filter(pk=tenant.school.pk).update(revision_changed_at=None)
    before = dt.datetime.now(dt.UTC)
    Announcement.objects.create(school=tenant.school, title="Hello")
    stamped = School.objects.get(pk=tenant.school.pk).revision_changed_at
    assert stamped is not None
    assert stamped >= before - dt.timedelta(seconds=1)
    stale = School.objects.get(pk=tenant.school.pk)
    School.objects.filter(pk=stale.pk).update(revision_changed_at=None)
    stale.name = "Renamed"
    stale.save()  # bumps again: a new stamp, never the loaded value written back
    assert School.objects.get(pk=stale.pk).revision_changed_at is not None
