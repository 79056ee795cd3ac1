"""Management API: an announcement's target screens (``screens``), as on the staff page."""

from __future__ import annotations

from django.utils import timezone

from hallboard.alerts.models import AnnouncementTargets
from hallboard.display.snapshot import build
from hallboard.timetable.models import Announcement
from tests.conftest import KeyFactory, Tenant, make_screen, revision_of


def _titles_on(screen: object) -> list[str]:
    content, _etag = build(screen, timezone.now())  # type: ignore[arg-type]
    return [a["title"] for a in content["announcements"]]


def test_created_for_chosen_screens_reaches_only_them(tenant: Tenant, api_as: KeyFactory) -> None:
    """POST with ``screens`` shows the announcement on those screens only, and reads them back."""
    hall, _ = make_screen(tenant.school, "Hall")
    foyer, _ = make_screen(tenant.school, "Foyer")
    client = api_as("office")
    rev = revision_of(tenant.school)
    created = client.post("schools/alpha/announcements", {"title": "Choir", "screens": [hall.pk]})
    assert created.status_code == 201
    assert created.json()["screens"] == [hall.pk]
    assert revision_of(tenant.school) == rev + 1
    assert "Choir" in _titles_on(hall)
    assert "Choir" not in _titles_on(foyer)
    listed = client.get("schools/alpha/announcements").json()
    assert [(a["title"], a["screens"]) for a in listed] == [("Choir", [hall.pk])]
    one = client.get(f"schools/alpha/announcements/{created.json()['id']}").json()
    assert one["screens"] == [hall.pk]


def test_without_screens_it_goes_to_every_screen(tenant: Tenant, api_as: KeyFactory) -> None:
    """Left out or null, ``screens`` means every screen, and reads back as null."""
    hall, _ = make_screen(tenant.school, "Hall")
    client = api_as("office")
    created = client.post("schools/alpha/announcements", {"title": "Choir"})
    assert created.json()["screens"] is None
    assert not AnnouncementTargets.objects.exists()
    assert "Choir" in _titles_on(hall)


def test_patch_and_put_change_the_targets(tenant: Tenant, api_as: KeyFactory) -> None:
    """PATCH without ``screens`` keeps them; PATCH with a list aims it; null or a PUT
    without ``screens`` widens it to every screen again. Each change bumps the revision."""
    hall, _ = make_screen(tenant.school, "Hall")
    foyer, _ = make_screen(tenant.school, "Foyer")
    client = api_as("office")
    pk = client.post("schools/alpha/announcements", {"title": "Choir"}).json()["id"]
    rev = revision_of(tenant.school)
    aimed = client.patch(f"schools/alpha/announcements/{pk}", {"screens": [foyer.pk, hall.pk]})
    assert aimed.json()["screens"] == sorted([foyer.pk, hall.pk])
    assert revision_of(tenant.school) == rev + 1
    narrowed = client.patch(f"schools/alpha/announcements/{pk}", {"screens": [foyer.pk]})
    assert narrowed.json()["screens"] == [foyer.pk]
    assert "Choir" not in _titles_on(hall)
    kept = client.patch(f"schools/alpha/announcements/{pk}", {"body": "Hall B"})
    assert kept.json()["screens"] == [foyer.pk]
    everywhere = client.patch(f"schools/alpha/announcements/{pk}", {"screens": None})
    assert everywhere.json()["screens"] is None
    assert "Choir" in _titles_on(hall)
    client.patch(f"schools/alpha/announcements/{pk}", {"screens": [foyer.pk]})
    replaced = client.put(f"schools/alpha/announcements/{pk}", {"title": "Choir"})
    assert replaced.json()["screens"] is None
    assert not AnnouncementTargets.objects.filter(announcement_id=pk).exists()


def test_a_screen_of_another_school_is_refused_by_id(tenant: Tenant, api_as: KeyFactory) -> None:
    """A screen id that is not one of the school's (another school's, unknown) is 422 naming
    it, and nothing is saved; an empty list is refused too."""
    hall, _ = make_screen(tenant.school, "Hall")
    elsewhere, _ = make_screen(tenant.other_school, "Beta hall")
    client = api_as("office")
    rev = revision_of(tenant.school)
    for ids, bad, index in (([hall.pk, elsewhere.pk], elsewhere.pk, 1), ([987654], 987654, 0)):
        refused = client.post("schools/alpha/announcements", {"title": "x", "screens": ids})
        assert refused.status_code == 422
        body = refused.json()
        assert body["error"] == "validation_error"
        assert body["detail"][0]["loc"] == ["body", "screens", index]
        assert str(bad) in body["detail"][0]["msg"]
    empty = client.post("schools/alpha/announcements", {"title": "x", "screens": []})
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["loc"] == ["body", "screens"]
    pk = client.post("schools/alpha/announcements", {"title": "Keep"}).json()["id"]
    patched = client.patch(f"schools/alpha/announcements/{pk}", {"screens": [elsewhere.pk]})
    assert patched.status_code == 422
    assert str(elsewhere.pk) in patched.json()["detail"][0]["msg"]
    assert not AnnouncementTargets.objects.exists()
    assert list(Announcement.objects.values_list("title", flat=True)) == ["Keep"]
    assert revision_of(tenant.school) == rev + 1
