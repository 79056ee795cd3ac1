"""``hallboard.schools.content``: every write to school content bumps the schools it shows in.

(That each content type bumps once per create, save and delete, and the bulk operations once
per school, is in ``tests/schools/test_revision.py``; here: the rows that change school, and
the base class's own contract.)
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from hallboard.alerts.models import Alert
from hallboard.schools.content import SchoolContent
from hallboard.timetable.models import Announcement, Room
from tests.conftest import Tenant, revision_of


def _revisions(tenant: Tenant) -> tuple[int, int]:
    return revision_of(tenant.school), revision_of(tenant.other_school)


def test_moving_a_row_to_another_school_bumps_both(tenant: Tenant) -> None:
    """Saving a row moved to another school bumps the school it left and the one it joined."""
    note = Announcement.objects.create(school=tenant.school, title="Choir")
    a, b = _revisions(tenant)
    note.school = tenant.other_school
    note.save()
    assert _revisions(tenant) == (a + 1, b + 1)


def test_an_update_moving_rows_bumps_both_schools(tenant: Tenant) -> None:
    """``QuerySet.update`` that moves rows to another school bumps both schools once."""
    for i in range(3):
        Announcement.objects.create(school=tenant.school, title=f"n{i}")
    a, b = _revisions(tenant)
    moved = Announcement.objects.filter(school=tenant.school).update(school=tenant.other_school)
    assert moved == 3
    assert _revisions(tenant) == (a + 1, b + 1)


def test_a_bulk_update_moving_rows_bumps_both_schools(tenant: Tenant) -> None:
    """``bulk_update`` of the school field bumps the old and the new school."""
    notes = [Announcement.objects.create(school=tenant.school, title=f"n{i}") for i in range(2)]
    a, b = _revisions(tenant)
    for note in notes:
        note.school = tenant.other_school
    Announcement.objects.bulk_update(notes, ["school"])
    assert _revisions(tenant) == (a + 1, b + 1)


def test_an_update_that_matches_nothing_bumps_nothing(tenant: Tenant) -> None:
    """An update or delete of no rows leaves every revision alone."""
    a, b = _revisions(tenant)
    assert Announcement.objects.filter(title="none").update(priority=2) == 0
    Announcement.objects.filter(title="none").delete()
    assert _revisions(tenant) == (a, b)


def test_a_failed_save_leaves_the_revision_alone(tenant: Tenant) -> None:
    """The bump is in the save's transaction: a save the database refuses does not bump."""
    Room.objects.create(school=tenant.school, name="A101")
    before = revision_of(tenant.school)
    with pytest.raises(IntegrityError), transaction.atomic():
        Room.objects.create(school=tenant.school, name="A101")
    assert revision_of(tenant.school) == before


def test_school_ids_of_lists_each_school_once(tenant: Tenant) -> None:
    """``school_ids_of`` gives the distinct schools of the rows of a queryset."""
    for school in (tenant.school, tenant.school, tenant.other_school):
        Announcement.objects.create(school=school, title="x")
    ids = sorted(Announcement.school_ids_of(Announcement.objects.all()))
    assert ids == sorted([tenant.school.pk, tenant.other_school.pk])


def test_a_subclass_decides_which_schools_a_row_affects(tenant: Tenant) -> None:
    """A row's schools come from ``affected_school_ids``: an organisation alert bumps all."""
    assert issubclass(Alert, SchoolContent)
    a, b = _revisions(tenant)
    alert = Alert.objects.create(organisation=tenant.organisation, headline="Storm")
    assert alert.affected_school_ids() == {tenant.school.pk, tenant.other_school.pk}
    assert _revisions(tenant) == (a + 1, b + 1)
    alert.delete()
    assert _revisions(tenant) == (a + 2, b + 2)
