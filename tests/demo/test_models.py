"""Which rows are the demo's own (hallboard.demo.models.SeededScreen), also in databases seeded
before the demo marked them."""

from __future__ import annotations

import datetime as dt

import pytest

from hallboard.schools.models import School
from hallboard.screens.models import Screen
from tests.demo.management.commands.test_seed_demo import seed_json


@pytest.mark.django_db
def test_demo_databases_from_before_are_adopted() -> None:
    """A demo seeded before the demo marked its screens: the migration marks the screens made
    with the demo (its first minute), not screens added later."""
    import importlib

    from django.apps import apps

    from hallboard.demo.models import SeededScreen

    seed_json()
    school = School.objects.get(slug="lindenhof")
    later = Screen.objects.create(school=school, name="Added later")
    Screen.objects.filter(pk=later.pk).update(
        created_at=Screen.objects.order_by("created_at").first().created_at  # type: ignore[union-attr]
        + dt.timedelta(hours=2)
    )
    SeededScreen.objects.all().delete()
    migration = importlib.import_module("hallboard.demo.migrations.0002_adopt_seeded_screens")
    migration.adopt(apps, None)
    adopted = set(SeededScreen.objects.values_list("screen_id", flat=True))
    assert later.pk not in adopted
    assert len(adopted) == 6
