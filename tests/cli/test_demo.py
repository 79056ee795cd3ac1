"""The demo seeding and the `hallboard` command."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
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


@pytest.fixture
def demo_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`hallboard demo` sets PUBLIC_URL, GATEWAY_PORT and $GATEWAY_PORT for its process:
    put them back after the test."""
    settings.PUBLIC_URL = settings.PUBLIC_URL
    settings.GATEWAY_PORT = settings.GATEWAY_PORT
    monkeypatch.delenv("GATEWAY_PORT", raising=False)
    monkeypatch.delenv("HALLBOARD_PUBLIC_URL", raising=False)
    return settings


def run_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", "--no-serve", *args, stdout=out)
    return out.getvalue()


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
def test_each_demo_school_writes_its_announcements_in_its_language() -> None:
    """The German school's screens show German notices, the English school's English ones
    (the German demo screen read "Parents' evening on Thursday")."""
    from hallboard.timetable.models import Announcement

    seed_json()
    german = set(
        Announcement.objects.filter(school__slug="lindenhof").values_list("title", flat=True)
    )
    english = set(
        Announcement.objects.filter(school__slug="riverside").values_list("title", flat=True)
    )
    assert "Elternsprechtag am Donnerstag" in german
    assert "Parents' evening on Thursday" not in german
    assert "Parents' evening on Thursday" in english


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
def test_the_demo_printout_says_where_to_click(demo_settings: Any) -> None:
    """`hallboard demo` prints the admin, API docs, live dashboard and health addresses, and
    a display URL per screen."""
    text = run_demo("--port", "8123")
    for address in ("/admin/", "/api/v1/docs", "/staff/", "/readyz", "/display/?token=hbs_"):
        assert f"http://127.0.0.1:8123{address}" in text, address


@pytest.mark.django_db
def test_demo_port_sets_every_address_and_the_gateway_next_to_it(demo_settings: Any) -> None:
    """`demo --port P`: the gateway is on P+1, displays are told so (meta.ws_url), and the
    pairing claim URL (the QR code's content) and every printed URL use P."""
    from django.test import Client

    text = run_demo("--port", "18000")
    assert "http://127.0.0.1:8000" not in text
    assert "port 18001" in text
    assert demo_settings.GATEWAY_PORT == 18001
    assert demo_settings.PUBLIC_URL == "http://127.0.0.1:18000"
    token = re.search(r"/display/\?token=(hbs_\S+)", text).group(1)  # type: ignore[union-attr]
    client = Client(HTTP_HOST="127.0.0.1:18000")
    meta = client.get("/api/display/snapshot/", {"token": token, "dk": "demo-device-1"}).json()
    assert meta["meta"]["ws_url"] == "ws://127.0.0.1:18001/ws/display/"
    pairing = client.post(
        "/api/display/pair/", {"dk": "demo-device-2"}, content_type="application/json"
    ).json()
    assert pairing["claim_url"].startswith("http://127.0.0.1:18000/admin/")


@pytest.mark.django_db
def test_demo_gateway_port_can_be_chosen(demo_settings: Any, monkeypatch: Any) -> None:
    """--gateway-port wins over P+1; so does GATEWAY_PORT from the environment."""
    run_demo("--port", "18000", "--gateway-port", "19999")
    assert demo_settings.GATEWAY_PORT == 19999
    monkeypatch.setenv("GATEWAY_PORT", "17777")
    demo_settings.GATEWAY_PORT = 17777  # what the settings read from that environment
    run_demo("--port", "18000")
    assert demo_settings.GATEWAY_PORT == 17777


@pytest.mark.django_db
def test_demo_keeps_an_explicit_public_url(demo_settings: Any, monkeypatch: Any) -> None:
    """HALLBOARD_PUBLIC_URL set by the operator (a proxy, a LAN name) is what gets printed."""
    monkeypatch.setenv("HALLBOARD_PUBLIC_URL", "https://demo.example.org")
    demo_settings.PUBLIC_URL = "https://demo.example.org"
    assert "https://demo.example.org/display/?token=hbs_" in run_demo("--port", "18000")


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


@pytest.mark.django_db
def test_demo_databases_from_before_are_adopted() -> None:
    """A demo seeded before the demo marked its screens: the migration marks the screens made
    with the demo (its first minute), not screens added later."""
    import datetime as dt
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


def test_commands_before_migrate_say_run_migrate_first(tmp_path: Path) -> None:
    """seed-demo, createscreen, createapikey, serve (and Django's createsuperuser) on an
    empty database end with "run `hallboard migrate` first", not a traceback."""
    env = {**os.environ, "HALLBOARD_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)  # a fresh SQLite database in tmp_path
    for command in (
        ["seed-demo"],
        ["createscreen", "--school", "x", "--name", "y"],
        ["createapikey", "--org", "x", "--role", "admin", "--name", "k"],
        ["serve", "--port", "0"],
        ["createsuperuser", "--noinput", "--username", "a", "--email", "a@example.org"],
    ):
        result = subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "hallboard", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 1, (command, result.stderr)
        assert "run `hallboard migrate` first" in result.stderr, (command, result.stderr)
        assert "Traceback" not in result.stderr, (command, result.stderr)
