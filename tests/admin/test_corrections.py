"""Admin corrections of issue 14: push settings as one page, a school alert without an
organisation, alert templates by school and district admins, grades ticked, a screen added
and paired in one form, a substitution offering only its school's lessons of that weekday."""

from __future__ import annotations

import re

from django.utils import timezone

from hallboard.alerts.models import Alert, AlertTemplate
from hallboard.screens import pairing
from hallboard.screens.models import PairingCode, PushSettings, Screen
from hallboard.timetable.models import Substitution
from tests.conftest import Tenant, make_lesson, make_user, signed_in

SCREEN_FORM = {
    "name": "Library",
    "location": "",
    "view": "grades",
    "orientation": "landscape",
    "allow_multi_device": "unknown",
    "next_day": "after",
    "next_day_from": "14:00",
}


def test_push_settings_are_one_page_not_a_list(tenant: Tenant) -> None:
    """The list goes to the form that makes the row, then always to that row's page; saving
    stays on it. Not for school admins."""
    root = signed_in(make_user("root", superuser=True))
    response = root.get("/admin/screens/pushsettings/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/screens/pushsettings/add/"
    form = root.get(response["Location"]).content.decode()
    assert 'name="rollout_percent" value="100"' in form
    saved = root.post(
        "/admin/screens/pushsettings/add/", {"enabled": "on", "rollout_percent": "25"}
    )
    row = PushSettings.objects.get()
    assert saved["Location"] == f"/admin/screens/pushsettings/{row.pk}/change/"
    assert root.get("/admin/screens/pushsettings/")["Location"] == saved["Location"]
    again = root.post(saved["Location"], {"rollout_percent": "50"})
    assert again["Location"] == saved["Location"]
    row.refresh_from_db()
    assert (row.enabled, row.rollout_percent) == (False, 50)
    admin = signed_in(make_user("alpha-admin", "admin", school=tenant.school))
    assert admin.get("/admin/screens/pushsettings/").status_code == 403


def test_a_school_alert_does_not_ask_for_an_organisation(tenant: Tenant) -> None:
    """School chosen: its organisation is taken. Neither: the form asks for one of them (only
    an organisation role gets the organisation field, after the school)."""
    district = signed_in(make_user("north-safety", "safety", organisation=tenant.organisation))
    form = district.get("/admin/alerts/alert/add/").content.decode()
    assert form.index('name="school"') < form.index('name="organisation"')
    client = signed_in(make_user("alpha-safety", "safety", school=tenant.school))
    assert 'name="organisation"' not in client.get("/admin/alerts/alert/add/").content.decode()
    response = client.post(
        "/admin/alerts/alert/add/",
        {
            "school": tenant.school.pk,
            "kind": "lockdown",
            "severity": "extreme",
            "headline": "Lockdown",
            "starts_at_0": "2026-11-30",
            "starts_at_1": "08:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    alert = Alert.objects.get()
    assert (alert.school, alert.organisation) == (tenant.school, tenant.organisation)

    neither = district.post(
        "/admin/alerts/alert/add/",
        {
            "kind": "fire",
            "severity": "extreme",
            "headline": "x",
            "starts_at_0": "2026-11-30",
            "starts_at_1": "08:00",
        },
    )
    assert neither.status_code == 200
    assert "Choose a school, or leave it empty" in neither.content.decode()
    assert Alert.objects.count() == 1


def test_school_admins_edit_their_templates_and_district_admins_the_district_s(
    tenant: Tenant,
) -> None:
    """The list seeds the built-ins; a school admin changes alpha's, not beta's, and cannot
    change a district template; an organisation admin makes one for every school."""
    school_admin = signed_in(make_user("alpha-admin", "admin", school=tenant.school))
    listing = school_admin.get("/admin/alerts/alerttemplate/").content.decode()
    assert listing.count("Lockdown") >= 1
    mine = AlertTemplate.objects.get(school=tenant.school, builtin="lockdown")
    page = f"/admin/alerts/alerttemplate/{mine.pk}/change/"
    response = school_admin.post(
        page,
        {
            "label": "Lockdown",
            "kind": "lockdown",
            "severity": "extreme",
            "headline": "Lockdown: stay in the rooms",
            "instructions": "",
            "position": "10",
        },
    )
    assert response.status_code == 302, response.content.decode()[-1500:]
    mine.refresh_from_db()
    assert mine.headline == "Lockdown: stay in the rooms"

    district = signed_in(make_user("north-admin", "admin", organisation=tenant.organisation))
    response = district.post(
        "/admin/alerts/alerttemplate/add/",
        {
            "organisation": tenant.organisation.pk,
            "label": "Gas leak",
            "kind": "evacuation",
            "severity": "extreme",
            "headline": "Gas leak: leave the building",
            "position": "60",
        },
    )
    assert response.status_code == 302, response.content.decode()[-1500:]
    gas = AlertTemplate.objects.get(label="Gas leak")
    assert gas.school is None

    assert school_admin.get(f"/admin/alerts/alerttemplate/{gas.pk}/change/").status_code in (
        200,  # read-only view
        403,
    )
    refused = school_admin.post(
        f"/admin/alerts/alerttemplate/{gas.pk}/change/",
        {
            "label": "Mine now",
            "kind": "fire",
            "severity": "extreme",
            "headline": "x",
            "position": "1",
        },
    )
    assert refused.status_code == 403
    gas.refresh_from_db()
    assert gas.label == "Gas leak"
    # A school admin makes no district template.
    made = school_admin.post(
        "/admin/alerts/alerttemplate/add/",
        {
            "organisation": tenant.organisation.pk,
            "label": "X",
            "kind": "fire",
            "severity": "extreme",
            "headline": "x",
            "position": "1",
        },
    )
    assert made.status_code == 200  # the organisation is not among the choices
    assert not AlertTemplate.objects.filter(label="X").exists()
    beta = AlertTemplate.objects.create(
        organisation=tenant.organisation,
        school=tenant.other_school,
        label="Beta's",
        kind="fire",
        headline="x",
    )
    assert school_admin.get(f"/admin/alerts/alerttemplate/{beta.pk}/change/").status_code == 302


def test_grades_are_ticked_not_typed_as_json(tenant: Tenant) -> None:
    """The screen form shows a checkbox per grade; ticked grades are stored as a list."""
    client = signed_in(make_user("alpha-admin", "admin", school=tenant.school))
    form = client.get("/admin/screens/screen/add/").content.decode()
    assert 'type="checkbox" name="grades" value="7"' in form
    assert '<textarea name="grades"' not in form
    response = client.post(
        "/admin/screens/screen/add/",
        {**SCREEN_FORM, "school": tenant.school.pk, "grades": ["7", "8"]},
    )
    assert response.status_code == 302
    assert Screen.objects.get(name="Library").grades == [7, 8]


def test_a_screen_is_added_and_paired_in_one_form(tenant: Tenant) -> None:
    """The code a display shows, typed into the new screen's form: the display gets the
    screen, no URL to copy. A wrong code is a form error and adds nothing."""
    client = signed_in(make_user("alpha-admin", "admin", school=tenant.school))
    code, secret = pairing.start("display-device-1")
    wrong = client.post(
        "/admin/screens/screen/add/",
        {**SCREEN_FORM, "school": tenant.school.pk, "pairing_code": "ZZZZZZ"},
    )
    assert wrong.status_code == 200
    assert "No such pairing code" in wrong.content.decode()
    assert not Screen.objects.exists()

    response = client.post(
        "/admin/screens/screen/add/",
        {**SCREEN_FORM, "school": tenant.school.pk, "pairing_code": code.code.lower()},
        follow=True,
    )
    screen = Screen.objects.get(name="Library")
    shown = [str(m) for m in response.context["messages"]]
    assert any("Paired" in m for m in shown)
    assert not any("token=" in m for m in shown)
    assert PairingCode.objects.get(pk=code.pk).screen == screen
    pickup = pairing.pick_up(code.code, secret)
    assert (pickup.status, pickup.screen) == ("paired", screen)


def lesson_choices(html: str) -> list[str]:
    select = re.search(r'<select name="lesson".*?</select>', html, re.S)
    assert select, "the form has a lesson select"
    return list(re.findall(r'<option value="(\d+)"', select.group(0)))


def test_a_substitution_offers_only_the_school_s_lessons_of_that_weekday(
    tenant: Tenant,
) -> None:
    """Monday 2026-11-23: alpha's Monday lessons only, never Tuesday's nor beta's; a lesson
    of another weekday is refused when posted."""
    monday = make_lesson(tenant.school, "7a", 1, 1)
    tuesday = make_lesson(tenant.school, "7a", 2, 1)
    make_lesson(tenant.other_school, "7a", 1, 1)
    client = signed_in(make_user("tt", "timetabler", school=tenant.school))
    page = client.get(
        f"/admin/timetable/substitution/add/?school={tenant.school.pk}&date=2026-11-23"
    ).content.decode()
    assert lesson_choices(page) == [str(monday.pk)]
    assert "substitution_admin.js" in page
    # Without a date: the user's one school, today's weekday there.
    today = client.get("/admin/timetable/substitution/add/").content.decode()
    local_today = timezone.localdate(timezone.now(), tenant.school.tz)
    assert f'name="date" value="{local_today.isoformat()}"' in today
    refused = client.post(
        "/admin/timetable/substitution/add/",
        {
            "school": tenant.school.pk,
            "date": "2026-11-23",
            "kind": "cancelled",
            "lesson": tuesday.pk,
            "source": "manual",
        },
    )
    assert refused.status_code == 200
    assert not Substitution.objects.exists()
    accepted = client.post(
        "/admin/timetable/substitution/add/",
        {
            "school": tenant.school.pk,
            "date": "2026-11-23",
            "kind": "cancelled",
            "lesson": monday.pk,
            "source": "manual",
        },
    )
    assert accepted.status_code == 302
    assert Substitution.objects.get().lesson == monday
