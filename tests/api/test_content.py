"""Management API content endpoints: every write lands, validates, and bumps the revision."""

from __future__ import annotations

from django.utils import timezone

from hallboard.alerts.models import Alert
from hallboard.screens.models import Command, Screen
from hallboard.screens.tokens import hash_token
from hallboard.timetable.models import Announcement, Substitution
from tests.conftest import KeyFactory, Tenant, revision_of
from tests.display.conftest import ScreenClient


def test_announcement_crud_bumps_revision_each_time(tenant: Tenant, api_as: KeyFactory) -> None:
    """Create, update, patch and delete an announcement; each bumps the revision once."""
    client = api_as("office")
    rev = revision_of(tenant.school)
    created = client.post("schools/alpha/announcements", {"title": "Choir", "priority": 2})
    assert created.status_code == 201
    body = created.json()
    assert (body["title"], body["priority"], body["active"]) == ("Choir", 2, True)
    assert revision_of(tenant.school) == rev + 1

    pk = body["id"]
    replaced = client.put(f"schools/alpha/announcements/{pk}", {"title": "Choir moved"})
    assert replaced.json()["title"] == "Choir moved"
    patched = client.patch(f"schools/alpha/announcements/{pk}", {"body": "Hall B"})
    assert patched.json()["body"] == "Hall B"
    assert patched.json()["title"] == "Choir moved"
    assert revision_of(tenant.school) == rev + 3
    assert client.get(f"schools/alpha/announcements/{pk}").json()["body"] == "Hall B"
    assert client.delete(f"schools/alpha/announcements/{pk}").status_code == 204
    assert revision_of(tenant.school) == rev + 4
    assert not Announcement.objects.filter(pk=pk).exists()


def test_validation_errors_are_422_with_fields(tenant: Tenant, api_as: KeyFactory) -> None:
    """Bad input is 422 validation_error with a location for each problem, and saves nothing."""
    client = api_as("admin")
    rev = revision_of(tenant.school)
    missing = client.post("schools/alpha/announcements", {"priority": 9})
    assert missing.status_code == 422
    assert missing.json()["error"] == "validation_error"
    locations = {tuple(e["loc"]) for e in missing.json()["detail"]}
    assert ("body", "payload", "title") in locations
    assert ("body", "payload", "priority") in locations

    backwards = client.post(
        "schools/alpha/announcements",
        {
            "title": "x",
            "starts_at": "2026-11-23T10:00:00Z",
            "ends_at": "2026-11-23T09:00:00Z",
        },
    )
    assert backwards.status_code == 422
    assert backwards.json()["detail"][0]["loc"] == ["body", "ends_at"]

    unknown_class = client.post(
        "schools/alpha/substitutions",
        {"date": "2026-11-23", "period": 1, "class": "12z", "kind": "cancelled"},
    )
    assert unknown_class.status_code == 422
    assert unknown_class.json()["detail"][0]["loc"] == ["body", "class"]
    assert revision_of(tenant.school) == rev


def test_unknown_school_and_object_are_404(tenant: Tenant, api_as: KeyFactory) -> None:
    """An unknown school slug or object id is 404 not_found."""
    client = api_as("admin", school=None)
    assert client.get("schools/nowhere/announcements").json()["error"] == "not_found"
    assert client.get("schools/alpha/announcements/99999").status_code == 404


def test_substitutions_by_natural_keys(tenant: Tenant, api_as: KeyFactory) -> None:
    """Substitutions name periods, classes and teachers as timetablers do; filter by date."""
    client = api_as("timetabler")
    made = client.post(
        "schools/alpha/substitutions",
        {
            "date": "2026-11-24",
            "period": 2,
            "class": "8b",
            "kind": "substitute",
            "subject": "MA",
            "teacher": "MUE",
            "substitute": "MUE",
            "note": "Worksheets",
        },
    )
    assert made.status_code == 201, made.content
    assert made.json()["class"] == "8b"
    listed = client.get("schools/alpha/substitutions", date="2026-11-24").json()
    assert [(s["period"], s["class"], s["substitute"]) for s in listed] == [(2, "8b", "MUE")]
    assert client.get("schools/alpha/substitutions", date="2026-11-25").json() == []
    pk = made.json()["id"]
    patched = client.patch(f"schools/alpha/substitutions/{pk}", {"kind": "cancelled"})
    assert patched.json()["kind"] == "cancelled"


def test_replacing_a_day_bumps_the_revision_once(tenant: Tenant, api_as: KeyFactory) -> None:
    """PUT /substitutions?date= replaces that day's list in one transaction, one bump."""
    client = api_as("timetabler")
    for period in (1, 2):
        client.post(
            "schools/alpha/substitutions",
            {"date": "2026-11-24", "period": period, "class": "7a", "kind": "cancelled"},
        )
    rev = revision_of(tenant.school)
    day = [
        {"date": "2026-11-24", "period": p, "class": c, "kind": "note", "note": "Hall"}
        for p in (1, 2)
        for c in ("7a", "8b")
    ]
    replaced = client.put("schools/alpha/substitutions", day, date="2026-11-24")
    assert replaced.status_code == 200, replaced.content
    assert len(replaced.json()) == 4
    assert Substitution.objects.filter(school=tenant.school, date="2026-11-24").count() == 4
    assert revision_of(tenant.school) == rev + 1

    wrong_day = client.put(
        "schools/alpha/substitutions",
        [{"date": "2026-11-25", "period": 1, "class": "7a", "kind": "cancelled"}],
        date="2026-11-24",
    )
    assert wrong_day.status_code == 422
    assert revision_of(tenant.school) == rev + 1


def test_alert_and_all_clear(tenant: Tenant, api_as: KeyFactory) -> None:
    """A district safety key raises an organisation alert and clears it; both reach every
    school."""
    client = api_as("safety", school=None)
    a, b = revision_of(tenant.school), revision_of(tenant.other_school)
    raised = client.post(
        "schools/alpha/alerts",
        {
            "headline": "Evacuate",
            "kind": "evacuation",
            "severity": "extreme",
            "scope": "organisation",
        },
    )
    assert raised.status_code == 201, raised.content
    assert raised.json()["scope"] == "organisation"
    assert raised.json()["active"] is True
    assert (revision_of(tenant.school), revision_of(tenant.other_school)) == (a + 1, b + 1)
    pk = raised.json()["id"]
    assert [x["id"] for x in client.get("schools/alpha/alerts", active="true").json()] == [pk]

    cleared = client.post(f"schools/alpha/alerts/{pk}/clear")
    assert cleared.json()["active"] is False
    assert cleared.json()["cleared_at"] is not None
    assert revision_of(tenant.other_school) == b + 2
    again = client.post(f"schools/alpha/alerts/{pk}/clear")  # idempotent
    assert again.json()["cleared_at"] == cleared.json()["cleared_at"]
    assert revision_of(tenant.other_school) == b + 2
    assert Alert.objects.get(pk=pk).cleared_at is not None


def test_screen_lifecycle(tenant: Tenant, api_as: KeyFactory) -> None:
    """Create shows the token once; rotate replaces it; reset unbinds; revoke refuses."""
    client = api_as("admin")
    created = client.post(
        "schools/alpha/screens",
        {"name": "Foyer", "view": "classes", "classes": ["7a"], "orientation": "portrait"},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    token = body["token"]
    assert body["display_url"].endswith(f"/display/?token={token}")
    screen = Screen.objects.get(pk=body["id"])
    assert screen.token_hash == hash_token(token)
    assert [c.name for c in screen.classes.all()] == ["7a"]
    assert "token" not in client.get(f"schools/alpha/screens/{screen.pk}").json()

    assert ScreenClient(token, "device-one1").get("status").status_code == 200
    assert client.get(f"schools/alpha/screens/{screen.pk}").json()["bound"] is True
    reset = client.post(f"schools/alpha/screens/{screen.pk}/reset-binding")
    assert reset.json()["bound"] is False
    assert ScreenClient(token, "device-two2").get("status").status_code == 200

    new_token = client.post(f"schools/alpha/screens/{screen.pk}/rotate-token").json()["token"]
    assert ScreenClient(token, "device-two2").get("status").status_code == 401
    assert ScreenClient(new_token, "device-two2").get("status").status_code == 200
    client.post(f"schools/alpha/screens/{screen.pk}/revoke-token")
    assert ScreenClient(new_token, "device-two2").get("status").status_code == 401

    rev = revision_of(tenant.school)
    moved = client.patch(f"schools/alpha/screens/{screen.pk}", {"orientation": "landscape"})
    assert moved.json()["orientation"] == "landscape"
    assert revision_of(tenant.school) == rev + 1
    bad = client.patch(f"schools/alpha/screens/{screen.pk}", {"classes": ["nope"]})
    assert bad.status_code == 422


def test_commands_are_validated_and_stored(tenant: Tenant, api_as: KeyFactory) -> None:
    """Commands to a screen are stored pending; bad payloads are 422."""
    client = api_as("admin")
    screen_id = client.post("schools/alpha/screens", {"name": "Foyer"}).json()["id"]
    path = f"schools/alpha/screens/{screen_id}/commands"
    sent = client.post(path, {"name": "message", "payload": {"text": "Assembly", "seconds": 60}})
    assert sent.status_code == 201, sent.content
    assert sent.json()["status"] == "pending"
    assert client.post(path, {"name": "identify"}).json()["payload"] == {"seconds": 10}
    assert client.post(path, {"name": "reload"}).status_code == 201
    assert client.post(path, {"name": "message", "payload": {}}).status_code == 422
    assert client.post(path, {"name": "self-destruct"}).status_code == 422
    assert client.post(path, {"name": "reload", "payload": {"x": 1}}).status_code == 422
    assert len(client.get(path).json()) == 3
    assert Command.objects.filter(screen_id=screen_id).count() == 3
    assert all(c.created_at <= timezone.now() for c in Command.objects.all())


def test_patch_validates_like_create(tenant: Tenant, api_as: KeyFactory) -> None:
    """A PATCH with an out-of-range or empty value is 422 and changes nothing."""
    client = api_as("office")
    pk = client.post("schools/alpha/announcements", {"title": "Keep"}).json()["id"]
    assert client.patch(f"schools/alpha/announcements/{pk}", {"priority": 9}).status_code == 422
    assert client.patch(f"schools/alpha/announcements/{pk}", {"title": ""}).status_code == 422
    assert Announcement.objects.get(pk=pk).title == "Keep"
