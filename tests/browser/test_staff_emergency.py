"""The emergency panel and the announcements page in a real Chromium, on a phone and a laptop,
in German and English: alert from a template with hold-to-confirm, its reach live, the
all-clear; an announcement added and ended."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from bench.staff_flows import lockdown
from django.utils import timezone

from hallboard.alerts.models import Alert
from hallboard.schools.models import School
from hallboard.timetable.models import Announcement
from tests.browser.conftest import needs_chromium
from tests.browser.test_dashboard_page import display_socket, receive_command
from tests.conftest import Tenant, make_screen, make_user, signed_in
from tests.display.conftest import ScreenClient

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]
__all__ = ["display_socket"]  # the display's push socket, a fixture of the dashboard tests

PHONE = {"width": 375, "height": 667}
LAPTOP = {"width": 1366, "height": 800}
#: Where the pictures of a run go, to be looked at (docs/screenshots/ come from tools/).
SHOTS = Path(__file__).resolve().parents[2] / ".pytest-screens"


@pytest.fixture
def context(browser: Any) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        ctx = browser.new_context(**{"viewport": LAPTOP, **options})
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


def sign_in(ctx: Any, site: str, user: Any) -> None:
    session = signed_in(user).cookies["sessionid"].value
    ctx.add_cookies([{"name": "sessionid", "value": session, "url": site}])


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def hold(page: Any, selector: str, until: str) -> None:
    """Press and hold ``selector`` with the mouse until ``until`` appears, then let go."""
    box = page.locator(selector).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.wait_for_selector(until)
    page.mouse.up()


def test_a_phone_triggers_a_lockdown_follows_its_reach_and_gives_the_all_clear(
    context: Any, site: str, tenant: Tenant
) -> None:
    """German school, German phone: the landing page leads a safety officer straight to the
    panel; Lockdown then a hold sends it (3 actions); the reach follows a screen's ack
    live; holding all-clear ends it. The page fits the phone's width."""
    School.objects.filter(pk=tenant.school.pk).update(language="de")
    hall, token = make_screen(tenant.school, name="Eingang")
    make_screen(tenant.school, name="Mensa")
    ctx = context(viewport=PHONE, locale="de-DE", is_mobile=True, has_touch=True)
    sign_in(ctx, site, make_user("alpha-safety", "safety", school=tenant.school))
    page = ctx.new_page()

    actions: list[tuple[str, str]] = []
    lockdown.run(page, site, lambda kind, what: actions.append((kind, what)))
    assert [kind for kind, _ in actions] == ["click", "hold"]
    alert = Alert.objects.get()
    assert (alert.school_id, alert.kind) == (tenant.school.pk, "lockdown")
    assert alert.headline == "Abriegelung \N{EN DASH} Türen verschließen"  # school's language
    card = page.inner_text(".alert-card")
    assert "Auf 0 von 2 Bildschirmen gezeigt" in card
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    ScreenClient(token).ack({"alert": alert.pk, "state": "shown"})
    page.wait_for_selector(".alert-card :text('Auf 1 von 2 Bildschirmen gezeigt')")
    assert page.locator(f'.reach-screen.shown[data-screen="{hall.pk}"]').count() == 1
    assert "offline" in page.inner_text(".reach-screen.not-shown")
    shot(page, "emergency-phone-de")

    hold(page, ".hold-clear", "#none-active:not([hidden])")
    alert.refresh_from_db()
    assert alert.cleared_at is not None
    assert page.locator(".alert-card").count() == 0


def test_a_click_does_not_send_and_the_words_can_be_edited(
    context: Any, site: str, tenant: Tenant
) -> None:
    """English laptop, school admin: a plain click on the send button sends nothing; the
    template's words are there to edit, and the edited words are what is sent (held with
    the space bar)."""
    ctx = context(locale="en-GB")
    sign_in(ctx, site, make_user("alpha-admin", "admin", school=tenant.school))
    page = ctx.new_page()
    page.goto(f"{site}/staff/emergency/alpha/")
    labels = page.eval_on_selector_all(".template-label", "els => els.map(e => e.textContent)")
    assert labels == ["Lockdown", "Evacuation", "Fire", "Shelter in place", "Severe weather"]
    page.click("button.template.kind-fire")
    assert page.input_value("#send-headline") == "Fire alarm"
    assert "nearest exit" in page.input_value("#send-instructions")
    page.click("#send-hold")
    page.wait_for_timeout(2000)  # longer than the hold: a click must still send nothing
    assert not Alert.objects.exists()
    assert page.is_visible("#dlg-send")

    page.fill("#send-headline", "Fire in the science wing")
    page.focus("#send-hold")
    page.keyboard.down(" ")
    page.wait_for_selector(".alert-card")
    page.keyboard.up(" ")
    alert = Alert.objects.get()
    assert (alert.kind, alert.headline) == ("fire", "Fire in the science wing")
    assert "Shown on 0 of 0 screens" in page.inner_text(".alert-card")
    shot(page, "emergency-laptop-en")


def test_a_district_officer_alerts_every_school(context: Any, site: str, tenant: Tenant) -> None:
    """An organisation role chooses 'all schools' in the sheet: one alert for the whole
    organisation, shown on beta's panel too."""
    make_screen(tenant.other_school, name="Beta hall")
    ctx = context(viewport=PHONE, locale="en-GB")
    sign_in(ctx, site, make_user("north", "safety", organisation=tenant.organisation))
    page = ctx.new_page()
    page.goto(f"{site}/staff/emergency/alpha/")
    page.click("button.template.kind-evacuation")
    page.check("input[name=scope][value=organisation]")
    hold(page, "#send-hold", ".alert-card")
    alert = Alert.objects.get()
    assert alert.school is None
    assert "All schools of North District" in page.inner_text(".alert-card")
    page.goto(f"{site}/staff/emergency/beta/")
    assert "Beta hall" in page.inner_text(".alert-card")


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("en-GB", {"add": "Add", "now": "showing now", "end": "End now", "every": "Every screen"}),
        (
            "de-DE",
            {
                "add": "Hinzufügen",
                "now": "wird gezeigt",
                "end": "Jetzt beenden",
                "every": "Alle Bildschirme",
            },
        ),
    ],
)
def test_an_announcement_is_added_edited_and_ended(
    context: Any, site: str, tenant: Tenant, locale: str, words: dict[str, str]
) -> None:
    """The office adds one with the defaults (now until the end of the school's day, every
    screen), edits it to one screen, and ends it now."""
    make_screen(tenant.school, name="Hall")
    gym, _ = make_screen(tenant.school, name="Gym")
    ctx = context(viewport=PHONE, locale=locale)
    sign_in(ctx, site, make_user("alpha-office", "office", school=tenant.school))
    page = ctx.new_page()
    page.goto(f"{site}/staff/")  # an office member lands on the announcements page
    page.wait_for_selector("#form-add")
    assert page.inner_text("#save") == words["add"]
    page.fill("#a-title", "Choir rehearsal moved")
    page.fill("#a-body", "Room 104")
    page.click("#save")
    page.wait_for_selector(".announcement")
    a = Announcement.objects.get()
    local_end = timezone.localtime(a.ends_at, tenant.school.tz)
    assert (local_end.hour, local_end.minute) == (23, 59)
    assert a.starts_at <= timezone.now() + dt.timedelta(minutes=1)
    card = page.text_content(".announcement") or ""
    assert words["now"] in card
    assert words["every"] in card
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.click(f'button[data-edit="{a.pk}"]')
    page.check("input[name=target][value=chosen]")
    page.check(f'input[name=screen][value="{gym.pk}"]')
    page.click("#save")
    page.wait_for_selector(".announcement .where:has-text('Gym')")
    assert list(a.targets.screens.all()) == [gym]
    shot(page, f"announcements-{locale}")

    page.click(f'button[data-end="{a.pk}"]')
    page.wait_for_selector("#list-empty:not([hidden])")
    a.refresh_from_db()
    assert a.ends_at is not None
    assert a.ends_at <= timezone.now()
    assert words["end"] not in page.inner_text("#list")


def test_the_dashboard_reports_an_identify_over_an_alert_as_hidden(
    context: Any, site: str, tenant: Tenant, display_socket: Any
) -> None:
    """A screen showing an alert gets an identify from the live dashboard and acks it: the
    row says 'hidden behind the alert', never 'acknowledged'."""
    screen, token = make_screen(tenant.school, name="Foyer")
    alert = Alert.objects.create(
        organisation=tenant.organisation, school=tenant.school, headline="Lockdown"
    )
    ScreenClient(token).ack({"alert": alert.pk, "state": "shown"})
    ctx = context(locale="en-GB")
    sign_in(ctx, site, make_user("alpha-admin", "admin", school=tenant.school))
    page = ctx.new_page()
    page.goto(f"{site}/staff/schools/alpha/")
    page.wait_for_selector("#link.live")
    ws = display_socket(token)
    page.click(f'tr[data-screen="{screen.pk}"] button[data-action="identify"]')
    pushed = receive_command(ws)
    ws.send(json.dumps({"type": "ack", "id": pushed["id"]}))
    page.wait_for_selector(f'tr[data-screen="{screen.pk}"] .cmd-status.hidden')
    cell = page.inner_text(f'tr[data-screen="{screen.pk}"] .col-command')
    assert "hidden behind the alert" in cell
    assert "acknowledged" not in cell


def test_a_school_admin_rewords_a_template_from_the_panel_on_a_phone(
    context: Any, site: str, tenant: Tenant
) -> None:
    """German phone: the panel's *Edit the templates* leads a school admin to the templates;
    the lockdown's button is reworded in a plain form, and the panel shows the new words.
    Both pages fit the phone's width."""
    School.objects.filter(pk=tenant.school.pk).update(language="de")
    ctx = context(viewport=PHONE, locale="de-DE", is_mobile=True, has_touch=True)
    sign_in(ctx, site, make_user("alpha-head", "admin", school=tenant.school))
    ctx.add_cookies([{"name": "django_language", "value": "de", "url": site}])
    page = ctx.new_page()
    page.goto(f"{site}/staff/emergency/{tenant.school.slug}/")
    page.click("text=Vorlagen bearbeiten")
    page.wait_for_selector("h1:has-text('Alarmvorlagen')")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "emergency-templates-phone-de")
    page.locator(".template-item", has_text="Abriegelung").locator("text=Bearbeiten").click()
    page.fill("#id_label", "SOFORT ABRIEGELN")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "emergency-template-form-phone-de")
    page.click(".template-form button[type=submit]")
    page.wait_for_selector(".template-name:has-text('SOFORT ABRIEGELN')")
    page.click("text=Zurück zum Bedienfeld")
    page.wait_for_selector(".template-label:has-text('SOFORT ABRIEGELN')")
