"""The admin is scoped: members of school A can neither list nor change school B."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from hallboard.alerts.models import Alert
from hallboard.display.models import ReloadSchedule
from hallboard.schools.models import Membership, School
from hallboard.screens.models import Screen
from hallboard.screens.tokens import hash_token
from hallboard.timetable.models import Announcement, Lesson, Substitution, Teacher
from tests.conftest import Tenant, make_screen, revision_of


def member(tenant: Tenant, role: str, school: School | None = None) -> Client:
    user = get_user_model().objects.create_user(f"{role}-user", password="a-long-password")
    Membership.objects.create(user=user, school=school or tenant.school, role=role)
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def content_in_both(tenant: Tenant) -> dict[str, tuple[Any, Any]]:
    """One row of each kind in alpha and in beta."""
    rows: dict[str, tuple[Any, Any]] = {}
    for label, make in {
        "announcement": lambda s: Announcement.objects.create(school=s, title=f"{s.slug} news"),
        "substitution": lambda s: Substitution.objects.create(
            school=s,
            date=dt.date(2026, 11, 23),
            period=s.periods.first(),
            kind="cancelled",
            note=f"{s.slug} sub",
        ),
        "teacher": lambda s: Teacher.objects.get(school=s, code="MUE"),
        "alert": lambda s: Alert.objects.create(
            organisation=s.organisation, school=s, headline=f"{s.slug} alert"
        ),
        "screen": lambda s: make_screen(s, name=f"{s.slug} hall")[0],
        "nightly reload": lambda s: ReloadSchedule.objects.create(
            school=s, reload_at=dt.time(3, 0)
        ),
    }.items():
        rows[label] = (make(tenant.school), make(tenant.other_school))
    return rows


ADMIN_URL = {
    "announcement": "timetable/announcement",
    "substitution": "timetable/substitution",
    "teacher": "timetable/teacher",
    "alert": "alerts/alert",
    "screen": "screens/screen",
    "nightly reload": "display/reloadschedule",
}


def test_school_admin_lists_only_their_school(tenant: Tenant) -> None:
    """Every change list shows alpha's rows and none of beta's."""
    rows = content_in_both(tenant)
    client = member(tenant, "admin")
    for label, (mine, theirs) in rows.items():
        page = client.get(f"/admin/{ADMIN_URL[label]}/")
        assert page.status_code == 200, label
        listed = {obj.pk for obj in page.context["cl"].result_list}
        assert mine.pk in listed, label
        assert theirs.pk not in listed, label
    schools = client.get("/admin/schools/school/").context["cl"].result_list
    assert [s.slug for s in schools] == ["alpha"]


def test_other_schools_objects_cannot_be_opened_changed_or_deleted(tenant: Tenant) -> None:
    """Change and delete pages of beta's rows are not served to alpha's admin."""
    rows = content_in_both(tenant)
    client = member(tenant, "admin")
    for label, (_, theirs) in rows.items():
        base = f"/admin/{ADMIN_URL[label]}/{theirs.pk}"
        assert client.get(f"{base}/change/").status_code in (302, 403, 404), label
        assert client.get(f"{base}/delete/").status_code in (302, 403, 404), label
        client.post(f"{base}/delete/", {"post": "yes"})
        assert type(theirs).objects.filter(pk=theirs.pk).exists(), label


def test_choices_offer_no_other_schools_objects(tenant: Tenant) -> None:
    """The add form's school and teacher choices contain alpha's objects only."""
    client = member(tenant, "admin")
    form = client.get("/admin/timetable/lesson/add/").context["adminform"].form
    assert list(form.fields["school"].queryset) == [tenant.school]
    teachers = set(form.fields["teachers"].queryset.values_list("school__slug", flat=True))
    assert teachers == {"alpha"}


def test_creating_in_another_school_is_refused(tenant: Tenant) -> None:
    """POSTing an announcement for beta by alpha's office creates nothing."""
    client = member(tenant, "office")
    response = client.post(
        "/admin/timetable/announcement/add/",
        {
            "school": tenant.other_school.pk,
            "title": "Sneaky",
            "body": "",
            "starts_at_0": "2026-11-23",
            "starts_at_1": "08:00:00",
            "priority": 1,
        },
    )
    assert response.status_code == 200  # the form comes back with an error
    assert not Announcement.objects.filter(title="Sneaky").exists()


def test_lesson_mixing_schools_is_refused(tenant: Tenant) -> None:
    """A superuser cannot save a lesson of alpha taught by beta's teacher."""
    user = get_user_model().objects.create_superuser("root", "r@example.org", "a-long-password")
    client = Client()
    client.force_login(user)
    alpha = tenant.school
    response = client.post(
        "/admin/timetable/lesson/add/",
        {
            "school": alpha.pk,
            "classes": [alpha.classes.first().pk],
            "weekday": 1,
            "period": alpha.periods.first().pk,
            "subject": alpha.subjects.first().pk,
            "teachers": [Teacher.objects.get(school=tenant.other_school).pk],
            "source": "manual",
        },
    )
    assert response.status_code == 200
    assert "another school" in response.content.decode()
    assert not Lesson.objects.exists()


@pytest.mark.parametrize(
    ("role", "can_add"),
    [
        ("office", {"announcement"}),
        ("timetabler", {"substitution", "teacher"}),
        ("safety", {"alert"}),
        ("viewer", set()),
        (
            "admin",
            {"announcement", "substitution", "teacher", "alert", "screen", "nightly reload"},
        ),
    ],
)
def test_roles_decide_what_may_be_added(tenant: Tenant, role: str, can_add: set[str]) -> None:
    """Each role reaches the add page of exactly the content it may change."""
    client = member(tenant, role)
    for label, url in ADMIN_URL.items():
        status = client.get(f"/admin/{url}/add/").status_code
        assert (status == 200) == (label in can_add), (role, label, status)


def test_viewer_sees_but_cannot_change(tenant: Tenant) -> None:
    """A viewer can open alpha's announcement read-only; a POST changes nothing."""
    note = Announcement.objects.create(school=tenant.school, title="Original")
    client = member(tenant, "viewer")
    page = client.get(f"/admin/timetable/announcement/{note.pk}/change/")
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    client.post(f"/admin/timetable/announcement/{note.pk}/change/", {"title": "Changed"})
    note.refresh_from_db()
    assert note.title == "Original"


def test_screen_creation_shows_the_token_once(tenant: Tenant) -> None:
    """Adding a screen shows its display URL once; only the token's hash is stored."""
    client = member(tenant, "admin")
    response = client.post(
        "/admin/screens/screen/add/",
        {
            "school": tenant.school.pk,
            "name": "Library",
            "location": "",
            "view": "school",
            "orientation": "landscape",
            "allow_multi_device": "unknown",
            "next_day": "after",
            "next_day_from": "14:00",
        },
        follow=True,
    )
    assert response.status_code == 200
    screen = Screen.objects.get(name="Library")
    shown = [str(m) for m in response.context["messages"] if "token=" in str(m)]
    assert len(shown) == 1
    token = shown[0].split("token=")[1].split('"')[0]
    assert screen.token_hash == hash_token(token)
    listing = client.get("/admin/screens/screen/").content.decode()
    assert token not in listing
    assert screen.token_hash not in listing


def test_rotate_action_replaces_the_token(tenant: Tenant) -> None:
    """The rotate action issues a new token; the old one no longer matches."""
    screen, old = make_screen(tenant.school)
    client = member(tenant, "admin")
    client.post(
        "/admin/screens/screen/", {"action": "rotate_token", "_selected_action": [screen.pk]}
    )
    screen.refresh_from_db()
    assert screen.token_hash != hash_token(old)


def test_all_clear_action_clears_and_bumps(tenant: Tenant) -> None:
    """The all-clear action ends the alert and bumps the school's revision."""
    alert = Alert.objects.create(
        organisation=tenant.organisation, school=tenant.school, headline="Fire"
    )
    before = revision_of(tenant.school)
    client = member(tenant, "safety")
    client.post("/admin/alerts/alert/", {"action": "all_clear", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert alert.cleared_at is not None
    assert revision_of(tenant.school) == before + 1


def test_membership_makes_the_user_staff(tenant: Tenant) -> None:
    """A school admin adding a member lets that user sign in to the admin."""
    newcomer = get_user_model().objects.create_user("newcomer", password="a-long-password")
    client = member(tenant, "admin")
    client.post(
        "/admin/schools/membership/add/",
        {"user": newcomer.pk, "school": tenant.school.pk, "role": "office"},
    )
    newcomer.refresh_from_db()
    assert newcomer.is_staff
    refused = client.post(
        "/admin/schools/membership/add/",
        {"user": newcomer.pk, "school": tenant.other_school.pk, "role": "admin"},
    )
    assert refused.status_code == 200  # invalid choice: beta is not offered
    assert not Membership.objects.filter(school=tenant.other_school).exists()
