"""The demo seeding and the `hallboard` command."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from django.core.management import call_command

from hallboard.__main__ import main
from hallboard.api.models import ApiKey, hash_key
from hallboard.schools.models import School
from hallboard.screens.models import Screen
from hallboard.screens.tokens import hash_token
from hallboard.timetable.models import Lesson, Substitution


def seed_json() -> dict[str, Any]:
    out = io.StringIO()
    call_command("seed_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_seed_demo_json_has_the_documented_shape() -> None:
    """seed-demo --json prints one document: admin, organisation key, schools with screens."""
    doc = seed_json()
    assert set(doc) == {"admin", "api_key", "schools"}
    assert set(doc["admin"]) == {"username", "password"}
    assert len(doc["schools"]) == 2
    for school in doc["schools"]:
        assert set(school) == {"slug", "name", "api_key", "screens"}
        assert len(school["screens"]) == 3
        for screen in school["screens"]:
            assert set(screen) == {"id", "name", "token", "display_url"}
            assert screen["display_url"].endswith(f"/display/?token={screen['token']}")


@pytest.mark.django_db
def test_printed_secrets_are_the_stored_hashes() -> None:
    """Every printed token and key works: its hash is what the database holds."""
    doc = seed_json()
    assert ApiKey.objects.filter(key_hash=hash_key(doc["api_key"]), school=None).exists()
    for school in doc["schools"]:
        assert ApiKey.objects.filter(key_hash=hash_key(school["api_key"])).exists()
        for screen in school["screens"]:
            stored = Screen.objects.get(pk=screen["id"]).token_hash
            assert stored == hash_token(screen["token"])


@pytest.mark.django_db
def test_demo_has_a_week_of_lessons_and_todays_substitutions() -> None:
    """Each school has lessons Monday to Friday and substitutions for its local today."""
    seed_json()
    for school in School.objects.all():
        weekdays = set(Lesson.objects.filter(school=school).values_list("weekday", flat=True))
        assert {1, 2, 3, 4, 5} <= weekdays
        local_today = dt.datetime.now(dt.UTC).astimezone(school.tz).date()
        assert Substitution.objects.filter(school=school, date=local_today).count() >= 6
    assert {s.timezone for s in School.objects.all()} == {"Europe/Berlin", "Europe/London"}


@pytest.mark.django_db
def test_rerunning_seed_demo_keeps_data_and_issues_fresh_secrets() -> None:
    """A second run adds nothing, and only its new tokens and keys work."""
    first = seed_json()
    counts = (School.objects.count(), Lesson.objects.count(), Screen.objects.count())
    second = seed_json()
    assert (School.objects.count(), Lesson.objects.count(), Screen.objects.count()) == counts
    old, new = first["schools"][0]["screens"][0], second["schools"][0]["screens"][0]
    assert old["id"] == new["id"]
    assert Screen.objects.get(pk=new["id"]).token_hash == hash_token(new["token"])
    assert Screen.objects.get(pk=old["id"]).token_hash != hash_token(old["token"])
    old_key = ApiKey.objects.get(key_hash=hash_key(first["api_key"]))
    assert old_key.revoked_at is not None


@pytest.mark.django_db
def test_seeding_bumps_each_schools_revision_once() -> None:
    """The whole seed is one batch: each school's revision is bumped exactly once."""
    seed_json()
    assert set(School.objects.values_list("revision", flat=True)) == {2}


@pytest.mark.django_db
def test_createscreen_prints_a_working_token() -> None:
    """createscreen --json creates the screen and prints its token once."""
    seed_json()
    out = io.StringIO()
    call_command("createscreen", "--school", "riverside", "--name", "Canteen", "--json", stdout=out)
    made = json.loads(out.getvalue())
    screen = Screen.objects.get(pk=made["id"])
    assert screen.school.slug == "riverside"
    assert screen.token_hash == hash_token(made["token"])


@pytest.mark.django_db
def test_createscreen_unknown_school_is_an_error() -> None:
    """createscreen names an unknown school in its error."""
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="nope"):
        call_command("createscreen", "--school", "nope", "--name", "X")


@pytest.mark.django_db
def test_hallboard_command_accepts_hyphenated_names(capsys: pytest.CaptureFixture[str]) -> None:
    """`hallboard seed-demo --json` runs the seed_demo management command."""
    main(["hallboard", "seed-demo", "--json"])
    assert json.loads(capsys.readouterr().out)["admin"]["username"] == "admin"


@pytest.mark.django_db
def test_the_demo_printout_says_where_to_click() -> None:
    """`hallboard demo` prints the admin, API docs, live dashboard and health addresses, and
    a display URL per screen."""
    out = io.StringIO()
    call_command("demo", "--no-serve", "--port", "8123", stdout=out)
    text = out.getvalue()
    for address in ("/admin/", "/api/v1/docs", "/staff/", "/readyz", "/display/?token=hbs_"):
        assert f"http://127.0.0.1:8123{address}" in text, address
