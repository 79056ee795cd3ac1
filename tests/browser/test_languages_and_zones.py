"""In Chromium: screens speak their school's language, staff pages the user's, and every
time people type or read is in the school's zone, whatever the browser's own zone."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from hallboard.schools.models import School
from hallboard.screens.models import Screen
from hallboard.timetable.models import Announcement, Lesson, Room, Substitution
from tests.browser.conftest import needs_chromium
from tests.conftest import Tenant, make_lesson, make_school, make_screen, make_user, signed_in

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]

UTC = dt.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
#: Monday 30 November 2026, 09:00 in Berlin: what the screens' clocks read.
MONDAY_MORNING = dt.datetime(2026, 11, 30, 9, 0, tzinfo=BERLIN)


@pytest.fixture
def context(browser: Any, request: Any) -> Iterator[Any]:
    """A browser context; ``@pytest.mark.parametrize`` may not reach it, so tests open
    their own with ``open_context``."""
    contexts: list[Any] = []

    def open_context(**options: Any) -> Any:
        ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, **options)
        contexts.append(ctx)
        return ctx

    yield open_context
    for ctx in contexts:
        ctx.close()


def with_content(school: School) -> None:
    """A lesson every weekday in period 2 (on at the screens' 09:00), moved to another room
    today; an announcement."""
    today = timezone.now().astimezone(school.tz).date()
    for weekday in range(1, 8):
        make_lesson(school, "7a", weekday, 2, rooms="A1")
    Substitution.objects.create(
        school=school,
        date=today,
        lesson=Lesson.objects.get(school=school, weekday=today.isoweekday(), period__number=2),
        kind=Substitution.Kind.ROOM_CHANGE,
        room=Room.objects.create(school=school, name="Library"),
    )
    Announcement.objects.create(school=school, title="Choir")


def open_screen(ctx: Any, site: str, token: str, clock: dt.datetime | None = None) -> Any:
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    if clock is not None:
        page.clock.set_fixed_time(clock)
    page.goto(f"{site}/display/?token={token}")
    page.wait_for_selector("body:not(.booting)")
    return page


def sign_in(ctx: Any, site: str, user: Any) -> None:
    session = signed_in(user).cookies["sessionid"].value
    ctx.add_cookies([{"name": "sessionid", "value": session, "url": site}])


def test_a_german_schools_screen_speaks_german(context: Any, site: str, tenant: Tenant) -> None:
    """German words and a German date on the screen of a German school, in an English browser."""
    School.objects.filter(pk=tenant.school.pk).update(language="de")
    with_content(tenant.school)
    _, token = make_screen(tenant.school)
    page = open_screen(context(locale="en-US"), site, token, MONDAY_MORNING)
    assert page.inner_text("#date") == "Montag, 30. November"
    assert page.inner_text("#subs-title") == "Vertretungen"
    assert page.inner_text("#news-title") == "Mitteilungen"
    assert "Raumänderung" in page.text_content("#subs")
    assert page.get_attribute("html", "lang") == "de"
    page.wait_for_selector("#asof:has-text('Stand:')")


def test_an_english_schools_screen_speaks_english(context: Any, site: str, tenant: Tenant) -> None:
    """The same screen of an English school, in a German browser: English words and date."""
    with_content(tenant.school)
    _, token = make_screen(tenant.school)
    page = open_screen(context(locale="de-DE"), site, token, MONDAY_MORNING)
    assert page.inner_text("#date") == "Monday, November 30"
    assert page.inner_text("#subs-title") == "Substitutions"
    assert "Room change" in page.text_content("#subs")
    page.wait_for_selector("#asof:has-text('As of')")


def test_a_screen_follows_its_schools_new_language(context: Any, site: str, tenant: Tenant) -> None:
    """The school's language changed in the admin: its screens speak it without a reload."""
    _, token = make_screen(tenant.school)
    page = open_screen(context(), site, token)
    assert page.inner_text("#subs-title") == "Substitutions"
    page.evaluate("window.__sameDocument = true")
    school = School.objects.get(pk=tenant.school.pk)
    school.language = "de"
    school.save()
    page.wait_for_selector("#subs-title:has-text('Vertretungen')")
    assert page.evaluate("window.__sameDocument") is True


def test_an_unpaired_screen_speaks_the_browsers_language(context: Any, site: str, db: None) -> None:
    """Before it knows its school, a screen shows its pairing code in the browser's language."""
    page = context(locale="de-DE").new_page()
    page.goto(f"{site}/display/")
    page.wait_for_selector("#pairing-code:not(:has-text('·'))")
    assert page.inner_text("#pairing-title") == "Diesen Bildschirm koppeln"
    assert "Bildschirme → Anzeige koppeln" in page.inner_text("#pairing-help")
    assert "Minuten gültig" in page.inner_text("#pairing-expiry")


def test_the_dashboard_speaks_the_language_chosen(context: Any, site: str, tenant: Tenant) -> None:
    """The staff page's language switch: the page, its script's words, and the admin follow."""
    make_screen(tenant.school, name="Hall")
    ctx = context(locale="en-US")
    sign_in(ctx, site, make_user("alpha-admin", "admin", school=tenant.school))
    page = ctx.new_page()
    page.goto(f"{site}/staff/schools/alpha/")
    page.wait_for_selector("#updated:has-text('Checked')")
    page.select_option("#language-select", "de")
    page.click(".language-form button")
    page.wait_for_selector("#updated:has-text('Geprüft')")
    assert page.get_attribute("html", "lang") == "de"
    assert "Bildschirme" in page.inner_text("#summary")
    assert "nie verbunden" in page.inner_text("tr[data-screen]")  # the server's reason, too
    page.goto(f"{site}/admin/")
    assert "Schulanzeigen" in page.inner_text("#content")


def test_the_dashboard_shows_school_local_times(context: Any, site: str, tenant: Tenant) -> None:
    """A browser in New York reads a Berlin school's times in Berlin time."""
    screen, _ = make_screen(tenant.school, name="Hall")
    bound = dt.datetime(2026, 11, 23, 6, 5, tzinfo=UTC)  # 07:05 in Berlin, 01:05 in New York
    Screen.objects.filter(pk=screen.pk).update(
        device_key="d" * 32, bound_at=bound, last_heartbeat_at=timezone.now()
    )
    ctx = context(locale="en-GB", timezone_id="America/New_York")
    sign_in(ctx, site, make_user("alpha-admin", "admin", school=tenant.school))
    page = ctx.new_page()
    page.goto(f"{site}/staff/schools/alpha/")
    cell = page.locator(f'tr[data-screen="{screen.pk}"] .col-binding')
    cell.wait_for()
    assert "07:05" in cell.inner_text()
    assert "01:05" not in cell.inner_text()
    page.wait_for_selector("#updated:has-text('Checked')")
    checked = re.search(r"Checked (\d\d):(\d\d)", page.inner_text("#updated"))
    assert checked
    berlin_now = timezone.now().astimezone(BERLIN)
    minutes = int(checked[1]) * 60 + int(checked[2])
    gap = abs(minutes - (berlin_now.hour * 60 + berlin_now.minute))
    assert min(gap, 24 * 60 - gap) <= 2  # Berlin's clock, not New York's (six hours off)


def test_a_page_spanning_zones_names_each_times_zone(
    context: Any, site: str, tenant: Tenant
) -> None:
    """An organisation page with a Berlin and a London school names the zone of each time."""
    london = make_school(tenant.organisation, "thames", tz="Europe/London")
    bound = dt.datetime(2026, 11, 23, 6, 5, tzinfo=UTC)
    for school in (tenant.school, london):
        screen, _ = make_screen(school, name=f"Hall {school.slug}")
        Screen.objects.filter(pk=screen.pk).update(device_key="d" * 32, bound_at=bound)
    ctx = context(locale="en-GB", timezone_id="America/New_York")
    sign_in(ctx, site, make_user("district", "admin", organisation=tenant.organisation))
    page = ctx.new_page()
    page.goto(f"{site}/staff/organisations/north/")
    page.wait_for_selector("#school-" + str(london.pk) + " tr[data-screen]")
    berlin_row = page.inner_text(f"#school-{tenant.school.pk} .col-binding")
    london_row = page.inner_text(f"#school-{london.pk} .col-binding")
    assert re.search(r"07:05 (CET|GMT\+1)", berlin_row), berlin_row
    assert re.search(r"06:05 (GMT|UTC)", london_row), london_row
    assert "Europe/Berlin, Europe/London" in page.inner_text(".head")


@pytest.mark.parametrize(
    ("zone", "stored_hour"),
    [("Europe/Berlin", 21), ("Europe/London", 22)],
    ids=["berlin", "london"],
)
def test_a_secretary_types_2235_in_the_admin(
    context: Any, site: str, tenant: Tenant, zone: str, stored_hour: int
) -> None:
    """22:35 typed in the admin is 22:35 at the school (stored in UTC), from a browser in
    New York, and reads 22:35 when the form is opened again."""
    school = make_school(tenant.organisation, "home", tz=zone)
    ctx = context(locale="en-GB", timezone_id="America/New_York")
    sign_in(ctx, site, make_user("secretary", "office", school=school))
    page = ctx.new_page()
    page.goto(f"{site}/admin/timetable/announcement/add/")
    assert zone in page.inner_text(".zone-note")
    page.select_option("#id_school", str(school.pk))
    page.fill("#id_title", "Choir practice")
    page.fill("#id_starts_at_0", "2026-11-23")
    page.fill("#id_starts_at_1", "22:35")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    announcement = Announcement.objects.get(school=school)
    assert announcement.starts_at == dt.datetime(2026, 11, 23, stored_hour, 35, tzinfo=UTC)
    page.goto(f"{site}/admin/timetable/announcement/{announcement.pk}/change/")
    assert page.input_value("#id_starts_at_1") == "22:35:00"
