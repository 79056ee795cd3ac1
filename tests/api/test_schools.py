"""``/api/v1/schools``: the schools the caller may see, and their read-only lookups (bell
schedule, classes)."""

from __future__ import annotations

from tests.conftest import KeyFactory, Tenant, revision_of


def test_a_school_key_sees_its_school_and_an_organisation_key_every_school(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """Each school with its slug, name, zone, screen language, revision and organisation,
    by name; a school's key sees that school only."""
    school_key = api_as("viewer").get("schools")
    assert school_key.status_code == 200
    assert school_key.json() == [
        {
            "slug": "alpha",
            "name": "Alpha",
            "timezone": "Europe/Berlin",
            "language": tenant.school.language,
            "revision": revision_of(tenant.school),
            "organisation": "north",
        }
    ]
    everything = api_as("viewer", school=None).get("schools").json()
    assert [s["slug"] for s in everything] == ["alpha", "beta"]


def test_the_bell_schedule_and_classes_of_a_school(tenant: Tenant, api_as: KeyFactory) -> None:
    """Periods in the order of the day with their times; the school's classes with grades."""
    client = api_as("viewer")
    periods = client.get("schools/alpha/periods").json()
    assert [(p["number"], p["starts_at"], p["ends_at"]) for p in periods] == [
        (1, "08:00:00", "08:45:00"),
        (2, "08:50:00", "09:35:00"),
    ]
    classes = client.get("schools/alpha/classes").json()
    assert sorted((c["name"], c["grade"]) for c in classes) == [("7a", 7), ("8b", 8)]


def test_another_schools_lookups_are_not_found(tenant: Tenant, api_as: KeyFactory) -> None:
    """A school's key reads nothing of another school: 404, as for a school that does not
    exist."""
    client = api_as("viewer")
    for path in ("schools/beta/periods", "schools/beta/classes", "schools/nowhere/classes"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found", path
