"""Today's changes in a real Chromium: a substitution by keyboard, pasted rows, cover for an
absent teacher, two people on the same day — at 1920x1080 and laptop size, in German and
English.

Screenshots go to the test's tmp dir, or to HALLBOARD_SCREENSHOTS when set
(``HALLBOARD_SCREENSHOTS=docs/screenshots`` regenerates the ones in docs/staff.md).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from hallboard.schools.models import School
from hallboard.staff.pages import day as day_page
from hallboard.timetable.models import Period, Substitution, Teacher, TeacherAbsence
from tests.browser.conftest import needs_chromium
from tests.conftest import Tenant, make_lesson, make_screen, make_user, revision_of, signed_in

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("HALLBOARD_SCREENSHOTS")
SIZES = {"desktop": (1920, 1080), "laptop": (1366, 768)}
WORDS = {
    "en": {
        "substitute": "Substitute teacher",
        "cancelled": "Cancelled",
        "conflict": "Someone else",
    },
    "de": {"substitute": "Vertretung", "cancelled": "Entfall", "conflict": "Jemand anderes"},
}


#: The pictures docs/staff.md shows (the others stay in the test's tmp dir).
IN_DOCS = {"en-desktop", "de-laptop", "paste-en-laptop", "cover-de-laptop", "conflict-en-desktop"}


def shot(page: Any, tmp_path: Path, name: str) -> None:
    folder = Path(SHOTS) if SHOTS and name in IN_DOCS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"staff-day-{name}.png"))


def school_today(school: School) -> dt.date:
    return timezone.now().astimezone(school.tz).date()


def build_day(school: School) -> dict[str, Any]:
    """A small school's day (today, whatever weekday): classes 5a-8b, four periods."""
    for number, (start, end) in enumerate([("09:50", "10:35"), ("10:40", "11:25")], start=3):
        Period.objects.create(
            school=school,
            number=number,
            starts_at=dt.time.fromisoformat(start),
            ends_at=dt.time.fromisoformat(end),
        )
    teachers = [
        ("BRA", "Frau Braun"),
        ("KLE", "Herr Klein"),
        ("SCH", "Frau Schmidt"),
        ("WEB", "Frau Weber"),
    ]
    for code, name in teachers:
        Teacher.objects.create(school=school, code=code, name=name)
    weekday = school_today(school).isoweekday()
    plan = {
        "5a": [("MA", "MUE", "101"), ("DE", "SCH", "101"), ("EN", "WEB", "101"), None],
        "6b": [
            ("EN", "WEB", "102"),
            ("MA", "MUE", "102"),
            ("BIO", "SCH", "Lab"),
            ("DE", "SCH", "102"),
        ],
        "7a": [
            ("DE", "SCH", "103"),
            ("EN", "WEB", "103"),
            ("MA", "MUE", "103"),
            ("PH", "WEB", "Lab"),
        ],
        "8b": [
            ("PH", "WEB", "Lab"),
            ("BIO", "SCH", "104"),
            ("DE", "KLE", "104"),
            ("MA", "MUE", "104"),
        ],
    }
    lessons = {}
    for name, row in plan.items():
        for period, entry in enumerate(row, start=1):
            if entry is not None:
                subject, teacher, room = entry
                lessons[(name, period)] = make_lesson(
                    school, name, weekday, period, subject, teacher, room
                )
    make_lesson(school, "5a", weekday, 4, "SP", "KLE", "Gym")
    for room in ("105", "106"):
        from hallboard.timetable.models import Room

        Room.objects.get_or_create(school=school, name=room)
    return lessons


@pytest.fixture
def lessons(tenant: Tenant) -> dict[Any, Any]:
    return build_day(tenant.school)


@pytest.fixture
def fast_poll() -> Iterator[None]:
    before = day_page.POLL_SECONDS
    day_page.POLL_SECONDS = 1
    yield
    day_page.POLL_SECONDS = before


def open_day(browser: Any, site: str, user: Any, size: str, language: str) -> Any:
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    session = signed_in(user).cookies["sessionid"].value
    context.add_cookies(
        [
            {"name": "sessionid", "value": session, "url": site},
            {"name": "django_language", "value": language, "url": site},
        ]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(site + "/staff/day/")  # one school: straight to today's page
    page.wait_for_selector("#day-link.live")
    page.wait_for_selector(".slot")
    return page


def slot(lesson: Any) -> str:
    return f'.slot[data-key="lesson-{lesson.pk}"]'


@pytest.fixture
def timetabler(tenant: Tenant) -> Any:
    return make_user("alpha-tt", "timetabler", school=tenant.school)


@pytest.mark.parametrize("size", ["desktop", "laptop"])
@pytest.mark.parametrize("language", ["en", "de"])
def test_a_substitution_by_keyboard(
    browser: Any,
    site: str,
    tenant: Tenant,
    lessons: Any,
    timetabler: Any,
    size: str,
    language: str,
    tmp_path: Path,
) -> None:
    """Click 7a period 2, arrow right to period 3, S, type a code, Enter: the substitute is
    saved with one revision bump and shows in the grid; the page never reloads."""
    screen, _ = make_screen(tenant.school, "Main entrance")
    page = open_day(browser, site, timetabler, size, language)
    page.evaluate("window.__sameDocument = true")
    before = revision_of(tenant.school)
    page.click(slot(lessons[("7a", 2)]))
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.key") == f"lesson-{lessons[('7a', 3)].pk}"
    page.keyboard.press("s")
    page.wait_for_selector("#day-editor:not([hidden])")
    # The suggestions start with the one teacher free in period 3 (the others teach then).
    assert page.inner_text("#day-suggest li:first-child b") == "BRA"
    assert "free" in page.get_attribute("#day-suggest li:first-child", "class")  # type: ignore[operator]
    page.keyboard.type("bra")
    shot(page, tmp_path, f"editor-{language}-{size}")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{slot(lessons[('7a', 3)])}.kind-substitute")
    change = Substitution.objects.get(lesson=lessons[("7a", 3)])
    assert change.substitute_teacher is not None
    assert change.substitute_teacher.code == "BRA"
    assert revision_of(tenant.school) == before + 1
    text = page.inner_text(slot(lessons[("7a", 3)]))
    assert "BRA" in text
    assert WORDS[language]["substitute"].upper() in text.upper()
    # Focus is back on the lesson, so the next key acts on it: N, a note, Enter.
    page.keyboard.press("n")
    page.keyboard.type("Bring the atlas")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{slot(lessons[('7a', 3)])} .slot-note")
    change.refresh_from_db()
    assert (change.kind, change.note) == ("substitute", "Bring the atlas")
    page.select_option("#day-screen", str(screen.pk))
    page.wait_for_selector("#day-preview .preview-table")
    assert "Bring the atlas" in page.inner_text("#day-preview")
    assert page.evaluate("window.__sameDocument") is True
    shot(page, tmp_path, f"{language}-{size}")
    page.context.close()


@pytest.mark.parametrize(("size", "language"), [("desktop", "de"), ("laptop", "en")])
def test_pasted_rows_preview_then_apply(
    browser: Any,
    site: str,
    tenant: Tenant,
    lessons: Any,
    timetabler: Any,
    size: str,
    language: str,
    tmp_path: Path,
) -> None:
    """Rows pasted from a spreadsheet: the preview marks the bad row and nothing is saved;
    corrected, Apply writes them all with one revision bump and the grid shows them."""
    page = open_day(browser, site, timetabler, size, language)
    before = revision_of(tenant.school)
    page.click("#day-paste summary")
    page.fill(
        "#day-paste-text",
        "Klasse\tStunde\tArt\tLehrkraft\tRaum\tNotiz\n"
        "5a\t1\tEntfall\t\t\tAusflug\n"
        "6b\t2\tsubstitute\tKLE\t\t\n"
        "8b\t1\troom change\t\t999\t\n",
    )
    page.click("#day-paste-preview")
    page.wait_for_selector("#day-paste-rows tr.bad")
    assert page.locator("#day-paste-rows tbody tr").count() == 3
    assert "999" in page.inner_text("#day-paste-rows tr.bad")
    assert page.is_disabled("#day-paste-apply")
    shot(page, tmp_path, f"paste-{language}-{size}")
    assert revision_of(tenant.school) == before
    page.fill(
        "#day-paste-text",
        "5a\t1\tEntfall\t\t\tAusflug\n6b\t2\tsubstitute\tKLE\t\t\n8b\t1\troom change\t\t105\t\n",
    )
    page.click("#day-paste-preview")
    page.wait_for_selector("#day-paste-apply:not([disabled])")
    page.click("#day-paste-apply")
    page.wait_for_selector(f"{slot(lessons[('8b', 1)])}.kind-room_change")
    assert revision_of(tenant.school) == before + 1
    kinds = sorted(Substitution.objects.values_list("kind", flat=True))
    assert kinds == ["cancelled", "room_change", "substitute"]
    assert page.locator(f"{slot(lessons[('5a', 1)])}.kind-cancelled").count() == 1
    page.context.close()


@pytest.mark.parametrize(("size", "language"), [("laptop", "de"), ("desktop", "en")])
def test_an_absent_teacher_is_covered_one_action_each(
    browser: Any,
    site: str,
    tenant: Tenant,
    lessons: Any,
    timetabler: Any,
    size: str,
    language: str,
    tmp_path: Path,
) -> None:
    """Mark MUE absent from period 2: the lessons of periods 2-4 need cover; one click
    covers one with the first free teacher, one click cancels another; the list empties."""
    page = open_day(browser, site, timetabler, size, language)
    page.fill("#day-absent-teacher", "MUE")
    page.select_option("#day-absent-from", "2")
    page.click("#day-absent-form button[type=submit]")
    page.wait_for_selector(".cover-item")
    items = page.locator(".cover-item")
    assert items.count() == 3  # 6b P2, 7a P3, 8b P4
    assert TeacherAbsence.objects.get().first_period.number == 2  # type: ignore[union-attr]
    shot(page, tmp_path, f"cover-{language}-{size}")
    first = page.locator(".cover-item").first
    teacher = first.locator(".cover-by").get_attribute("data-teacher")
    first.locator(".cover-by").click()
    page.wait_for_function("document.querySelectorAll('.cover-item').length === 2")
    covered = Substitution.objects.get(lesson=lessons[("6b", 2)])
    assert covered.substitute_teacher is not None
    assert covered.substitute_teacher.code == teacher
    assert covered.teacher is None  # one teacher: nobody else to name
    page.locator(".cover-item").first.locator(".cover-cancel").click()
    page.wait_for_function("document.querySelectorAll('.cover-item').length === 1")
    assert Substitution.objects.get(lesson=lessons[("7a", 3)]).kind == "cancelled"
    assert page.locator(f"{slot(lessons[('8b', 4)])}.needs-cover").count() == 1
    page.context.close()


@pytest.mark.parametrize(("size", "language"), [("desktop", "en"), ("laptop", "de")])
def test_two_people_on_the_same_day(
    browser: Any,
    site: str,
    tenant: Tenant,
    lessons: Any,
    timetabler: Any,
    size: str,
    language: str,
    fast_poll: None,
    tmp_path: Path,
) -> None:
    """Two timetablers open the same day. A's substitution shows in B's page without a
    reload. B, acting on a lesson A changed a moment before B's page heard of it, is
    refused with a clear message; A's change stays; B replaces it on purpose."""
    other = make_user("alpha-tt2", "timetabler", school=tenant.school)
    a = open_day(browser, site, timetabler, size, language)
    b = open_day(browser, site, other, size, language)
    # A substitutes 5a period 1; B sees it by itself.
    a.click(slot(lessons[("5a", 1)]))
    a.keyboard.press("s")
    a.keyboard.type("KLE")
    a.keyboard.press("Enter")
    b.wait_for_selector(f"{slot(lessons[('5a', 1)])}.kind-substitute")
    assert "KLE" in b.inner_text(slot(lessons[("5a", 1)]))
    # B stops hearing (as between two polls) while A changes 6b period 1 ...
    day_page.POLL_SECONDS = 3600
    b.reload()
    b.wait_for_selector(slot(lessons[("6b", 1)]))
    b.click(slot(lessons[("6b", 1)]))
    a.click(slot(lessons[("6b", 1)]))
    a.keyboard.press("r")
    a.keyboard.type("106")
    a.keyboard.press("Enter")
    a.wait_for_selector(f"{slot(lessons[('6b', 1)])}.kind-room_change")
    # ... then B cancels the lesson it still sees unchanged.
    b.keyboard.press("c")
    b.wait_for_selector("#day-notice:not([hidden])")
    assert WORDS[language]["conflict"] in b.inner_text("#day-notice")
    assert Substitution.objects.get(lesson=lessons[("6b", 1)]).kind == "room_change"
    b.wait_for_selector(f"{slot(lessons[('6b', 1)])}.kind-room_change")  # B now sees A's
    shot(b, tmp_path, f"conflict-{language}-{size}")
    b.click("#day-retry")
    b.wait_for_selector(f"{slot(lessons[('6b', 1)])}.kind-cancelled")
    assert Substitution.objects.get(lesson=lessons[("6b", 1)]).kind == "cancelled"
    a.context.close()
    b.context.close()
