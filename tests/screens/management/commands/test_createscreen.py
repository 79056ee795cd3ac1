"""``hallboard createscreen --school SLUG --name NAME``: a new screen, its token shown once."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from hallboard.screens.models import Screen
from hallboard.screens.tokens import hash_token
from tests.conftest import Tenant


def test_createscreen_prints_a_working_token(tenant: Tenant) -> None:
    """createscreen --json creates the screen in the named school and prints its token once:
    the token's hash is what the database holds."""
    out = io.StringIO()
    call_command("createscreen", "--school", "beta", "--name", "Canteen", "--json", stdout=out)
    made = json.loads(out.getvalue())
    screen = Screen.objects.get(pk=made["id"])
    assert screen.school == tenant.other_school
    assert screen.name == "Canteen"
    assert screen.token_hash == hash_token(made["token"])


def test_createscreen_unknown_school_is_an_error(tenant: Tenant) -> None:
    """createscreen names an unknown school in its error, and creates nothing."""
    with pytest.raises(CommandError, match="nope"):
        call_command("createscreen", "--school", "nope", "--name", "X")
    assert not Screen.objects.exists()


def test_createscreen_prints_the_token_and_display_url_for_people(
    tenant: Tenant, settings: Any
) -> None:
    """Without --json: the screen, its school, the token once and the display URL with it;
    location and orientation are stored as given."""
    out = io.StringIO()
    call_command(
        "createscreen",
        *("--school", "alpha", "--name", "Hall", "--location", "By the stairs"),
        *("--orientation", "portrait"),
        stdout=out,
    )
    screen = Screen.objects.get()
    lines = out.getvalue().splitlines()
    assert lines[0] == f"Screen {screen.pk} 'Hall' in Alpha."
    token = lines[1].removeprefix("Token (shown once): ")
    assert screen.token_hash == hash_token(token)
    assert lines[2] == f"Display URL: {settings.PUBLIC_URL}/display/?token={token}"
    assert (screen.location, screen.orientation) == ("By the stairs", "portrait")
