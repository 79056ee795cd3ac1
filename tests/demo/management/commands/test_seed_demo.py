"""``hallboard seed-demo``: the printed credentials, and re-runs that keep what people added."""

from __future__ import annotations

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
from hallboard.timetable.models import Lesson


def seed_json() -> dict[str, Any]:
    out = io.StringIO()
    call_command("seed_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_seed_demo_json_has_the_documented_shape() -> None:
    """seed-demo --json prints one document: admin, organisation key, schools with screens."""
    doc = seed_json()
    assert set(doc) == {"admin", "api_key", "schools", "created"}
    assert set(doc["admin"]) == {"username", "password"}
    assert len(doc["schools"]) == 2
    assert doc["created"] is True
    for school in doc["schools"]:
        assert set(school) == {"slug", "name", "api_key", "screens", "kept_screens"}
        assert school["kept_screens"] == []
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
def test_hallboard_command_accepts_hyphenated_names(capsys: pytest.CaptureFixture[str]) -> None:
    """`hallboard seed-demo --json` runs the seed_demo management command."""
    main(["hallboard", "seed-demo", "--json"])
    assert json.loads(capsys.readouterr().out)["admin"]["username"] == "admin"


@pytest.mark.django_db
def test_rerunning_the_demo_keeps_what_people_added() -> None:
    """A screen, an API key and a user added to the demo keep working after a re-run
    (token, binding); the demo's own screens get new tokens; the printout says so."""
    from django.contrib.auth import get_user_model

    seed_json()
    school = School.objects.get(slug="lindenhof")
    mine = Screen.objects.create(school=school, name="My corridor")
    my_token = mine.issue_token()
    Screen.objects.filter(pk=mine.pk).update(device_key="my-device-01")
    _, my_key = ApiKey.create(
        name="demo-sync", organisation=school.organisation, school=school, role="admin"
    )
    get_user_model().objects.create_user("teacher", password="a-long-password")

    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()

    mine.refresh_from_db()
    assert mine.token_hash == hash_token(my_token)
    assert mine.device_key == "my-device-01"
    assert ApiKey.objects.get(key_hash=hash_key(my_key)).revoked_at is None
    assert get_user_model().objects.get(username="teacher").check_password("a-long-password")
    assert "Reset:" in text
    assert "the demo's 6 screens" in text
    assert "Kept: the screens you added (1)" in text
    assert f"screen {mine.pk:>3}  My corridor" in text
    assert "(yours: token kept)" in text


@pytest.mark.django_db
def test_a_first_run_says_nothing_was_reset() -> None:
    """The first seed creates the data and reports no reset."""
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "Reset:" not in out.getvalue()
    assert seed_json()["created"] is False
