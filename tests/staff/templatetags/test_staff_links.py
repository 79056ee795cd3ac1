"""``{% staff_dashboard_links %}``: the admin's links to the live screens dashboards, for the
schools in which the user holds the screens right."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hallboard.staff.templatetags.staff_links import staff_dashboard_links
from tests.conftest import Tenant, make_school, make_user


def links(user: Any) -> dict[str, Any]:
    return staff_dashboard_links({"request": SimpleNamespace(user=user)})


def test_a_school_admin_gets_their_school_and_no_organisation_link(tenant: Tenant) -> None:
    """One school of an organisation: that school's link only (an organisation's page is
    offered when the user looks after two or more of its schools)."""
    result = links(make_user("ada", "admin", school=tenant.school))
    assert result == {"schools": [tenant.school], "more": False, "organisations": []}


def test_roles_without_the_screens_right_get_no_links(tenant: Tenant) -> None:
    """A timetabler does not look after screens: nothing is listed."""
    result = links(make_user("tt", "timetabler", school=tenant.school))
    assert result == {"schools": [], "more": False, "organisations": []}


def test_an_organisation_admin_gets_its_page_and_at_most_twenty_schools(tenant: Tenant) -> None:
    """Over every school of an organisation: the organisation's link, the first twenty schools
    by name, and "more" when there are others."""
    for number in range(20):
        make_school(tenant.organisation, f"school-{number:02}")
    result = links(make_user("od", "admin", organisation=tenant.organisation))
    assert result["organisations"] == [tenant.organisation]
    assert len(result["schools"]) == 20
    assert result["schools"][:2] == [tenant.school, tenant.other_school]  # Alpha, Beta first
    assert result["more"] is True


def test_no_request_means_no_links(db: None) -> None:
    """A template rendered without a request (an e-mail, a test) lists nothing."""
    assert staff_dashboard_links({}) == {"schools": [], "more": False, "organisations": []}
