"""Each role sees and may open only its own staff pages: the top bar's links, where /staff/
leads, and every page and endpoint of the emergency panel and announcements by role."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Tenant, make_user, signed_in

#: role → (may open the emergency panel, may open announcements)
RIGHTS = {
    "admin": (True, True),
    "safety": (True, False),
    "office": (False, True),
    "timetabler": (False, False),
    "viewer": (False, False),
}


@pytest.mark.parametrize("role", sorted(RIGHTS))
def test_each_role_opens_only_its_pages(tenant: Tenant, role: str) -> None:
    """The panel and the announcements page, their JSON and their writes: 200 where the
    role has the right, 403 where it does not; the top bar links only the former."""
    emergency, announce = RIGHTS[role]
    client = signed_in(make_user(f"alpha-{role}", role, school=tenant.school))
    pages = {
        "/staff/emergency/alpha/": emergency,
        "/staff/emergency/alpha/state": emergency,
        "/staff/announcements/alpha/": announce,
        "/staff/announcements/alpha/list": announce,
    }
    for path, allowed in pages.items():
        assert client.get(path).status_code == (200 if allowed else 403), path
    writes = {
        "/staff/emergency/alpha/trigger": emergency,
        "/staff/announcements/alpha/save": announce,
    }
    for path, allowed in writes.items():
        response = client.post(path, json.dumps({}), content_type="application/json")
        # Allowed: refused for the empty body (400), never for the role.
        assert response.status_code == (400 if allowed else 403), path

    home = (
        "/staff/emergency/alpha/"
        if emergency
        else "/staff/announcements/alpha/"
        if announce
        else "/staff/"
    )
    html = client.get(home, follow=True).content.decode()
    assert ('class="task-link task-emergency' in html) == emergency
    assert ('class="task-link task-announcements' in html) == announce


def test_the_landing_page_leads_each_role_to_its_page(tenant: Tenant) -> None:
    """A safety officer goes to the panel, the office to announcements, an admin to the
    screens dashboard (the others are in the top bar); with both rights, a choice."""
    cases = {
        "safety": "/staff/emergency/",
        "office": "/staff/announcements/",
        "admin": "/staff/schools/alpha/",
    }
    for role, target in cases.items():
        client = signed_in(make_user(f"alpha-{role}", role, school=tenant.school))
        assert client.get("/staff/")["Location"] == target, role
    assert (
        signed_in(make_user("s2", "safety", school=tenant.school))
        .get("/staff/emergency/", follow=True)
        .redirect_chain[-1][0]
        == "/staff/emergency/alpha/"
    )

    both = make_user("both", "safety", school=tenant.school)
    from hallboard.schools.models import Membership

    Membership.objects.create(user=both, school=tenant.school, role="office")
    html = signed_in(both).get("/staff/").content.decode()
    assert 'href="/staff/emergency/"' in html
    assert 'href="/staff/announcements/"' in html


def test_a_member_of_two_schools_chooses_and_sees_only_those(tenant: Tenant, south: Tenant) -> None:
    """The chooser lists the schools with the right, never another organisation's."""
    user = make_user("two", "safety", school=tenant.school)
    from hallboard.schools.models import Membership

    Membership.objects.create(user=user, school=tenant.other_school, role="safety")
    Membership.objects.create(user=user, school=south.school, role="viewer")
    html = signed_in(user).get("/staff/emergency/").content.decode()
    assert "/staff/emergency/alpha/" in html
    assert "/staff/emergency/beta/" in html
    assert "/staff/emergency/gamma/" not in html
    assert signed_in(user).get("/staff/emergency/gamma/").status_code == 403


def test_each_school_s_panel_is_one_click_from_the_landing_page(tenant: Tenant) -> None:
    """Several schools: a district safety officer lands on the list of panels; a user with
    more staff pages finds each school's panel on the landing page itself. Either way one
    click, so a lockdown stays within three actions."""
    officer = signed_in(make_user("north", "safety", organisation=tenant.organisation))
    landing = officer.get("/staff/", follow=True)
    assert landing.redirect_chain[-1][0] == "/staff/emergency/"
    html = landing.content.decode()
    assert 'href="/staff/emergency/alpha/"' in html
    assert 'href="/staff/emergency/beta/"' in html

    both = make_user("north-both", "safety", organisation=tenant.organisation)
    from hallboard.schools.models import OrganisationMembership

    OrganisationMembership.objects.create(
        user=both, organisation=tenant.organisation, role="office"
    )
    html = signed_in(both).get("/staff/").content.decode()
    assert 'data-task="emergency" href="/staff/emergency/alpha/"' in html
    assert 'data-task="emergency" href="/staff/emergency/beta/"' in html
    assert 'data-task="announcements" href="/staff/announcements/beta/"' in html
