"""`hallboard loadtest setup/cleanup`: a separate organisation of screens, created in bulk."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hallboard.loadtest import fleet as fleets
from hallboard.schools.models import Organisation, School
from hallboard.screens.models import Screen
from hallboard.screens.tokens import hash_token
from hallboard.timetable.models import Announcement
from tests.conftest import Tenant


def test_setup_creates_schools_screens_and_a_private_secrets_file(db: None, tmp_path: Path) -> None:
    """Every screen has a working token, is bound to its device key; the file is mode 0600."""
    path = tmp_path / "lt.json"
    fleet, written = fleets.setup(4, 3, org="lt", path=path)
    assert written == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(fleet.schools) == 4
    assert len(fleet.screens) == 12
    loaded = fleets.load(path)
    assert loaded.screens == fleet.screens
    assert loaded.api_key == fleet.api_key
    for creds in fleet.screens:
        screen = Screen.objects.get(pk=creds.id)
        assert screen.token_hash == hash_token(creds.token)
        assert screen.device_key == creds.dk
        assert screen.school_id == creds.school
    assert set(fleet.announcements) == set(fleet.schools)
    assert Announcement.objects.filter(pk__in=fleet.announcements.values()).count() == 4


def test_setup_unbound_leaves_binding_to_the_first_connect(db: None, tmp_path: Path) -> None:
    """With bind=False no screen has a device key yet."""
    fleets.setup(2, 2, org="lt", path=tmp_path / "lt.json", bind=False)
    assert not Screen.objects.filter(school__organisation__slug="lt", device_key__isnull=False)


def test_setup_refuses_an_existing_organisation_unless_replacing(db: None, tmp_path: Path) -> None:
    """A second setup is refused with what to do; --replace starts over."""
    path = tmp_path / "lt.json"
    fleets.setup(1, 1, org="lt", path=path)
    with pytest.raises(fleets.FleetError, match="cleanup"):
        fleets.setup(1, 1, org="lt", path=path)
    fleet, _ = fleets.setup(2, 1, org="lt", path=path, replace=True)
    assert School.objects.filter(organisation__slug="lt").count() == 2 == len(fleet.schools)


def test_cleanup_removes_only_the_load_test_organisation(tenant: Tenant, tmp_path: Path) -> None:
    """Cleanup deletes the organisation and its file; another organisation is untouched."""
    path = tmp_path / "lt.json"
    fleets.setup(3, 2, org="lt", path=path)
    other_schools = School.objects.filter(organisation=tenant.organisation).count()
    counts = fleets.cleanup(org="lt", path=path)
    assert counts == {"schools": 3, "screens": 6}
    assert not Organisation.objects.filter(slug="lt").exists()
    assert not path.exists()
    assert School.objects.filter(organisation=tenant.organisation).count() == other_schools


def test_load_without_setup_says_what_to_do(tmp_path: Path) -> None:
    """A missing file is an error naming the setup command."""
    with pytest.raises(fleets.FleetError, match="loadtest setup"):
        fleets.load(tmp_path / "none.json")
