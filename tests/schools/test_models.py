"""A school's language: what its screens speak (School.language)."""

from __future__ import annotations

from typing import Any

import pytest

from hallboard.schools.models import Organisation, School

pytestmark = pytest.mark.django_db


def test_new_schools_speak_the_installs_default_language(settings: Any) -> None:
    """HALLBOARD_LANGUAGE=de: a new school's screens speak German until set otherwise."""
    org = Organisation.objects.create(slug="o", name="O")
    settings.LANGUAGE_CODE = "de"
    assert School.objects.create(organisation=org, slug="a", name="A").language == "de"
    settings.LANGUAGE_CODE = "en"
    assert School.objects.create(organisation=org, slug="b", name="B").language == "en"


def test_changing_the_language_is_a_change_screens_hear_of() -> None:
    """A new language bumps the school's revision, so its screens fetch the new words."""
    org = Organisation.objects.create(slug="o", name="O")
    school = School.objects.create(organisation=org, slug="a", name="A")
    before = School.objects.get(pk=school.pk).revision
    school.language = "de"
    school.save()
    assert School.objects.get(pk=school.pk).revision == before + 1
