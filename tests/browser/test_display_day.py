"""The school day on the hallway screen, in Chromium: every kind of change shown in place in
the grid, the now/next list and the changes list; holidays; week label; paging; large text."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from hallboard.schools.models import School
from hallboard.timetable.models import (
    Announcement,
    Closure,
    Period,
    Room,
    SchoolCalendar,
    SchoolClass,
    Subject,
    Substitution,
    Teacher,
    monday_of,
)
from tests.browser.conftest import needs_chromium
from tests.conftest import Tenant, make_lesson, make_screen

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]
Kind = Substitution.Kind


def local_today(school: School) -> dt.date:
    return timezone.now().astimezone(school.tz).date()


def at(school: School, hour: int, minute: int = 0) -> dt.datetime:
    """Today at a school-local time (for the browser's clock)."""
    return dt.datetime.combine(local_today(school), dt.time(hour, minute), tzinfo=school.tz)


def more_periods(school: School) -> None:
    for number, (start, end) in enumerate(
        [("09:50", "10:35"), ("10:40", "11:25"), ("11:45", "12:30"), ("12:35", "13:20")], start=3
    ):
        Period.objects.create(
            school=school,
            number=number,
            starts_at=dt.time.fromisoformat(start),
            ends_at=dt.time.fromisoformat(end),
        )


def code(model: Any, school: School, **lookup: str) -> Any:
    return model.objects.get_or_create(school=school, **lookup)[0]


def every_kind(school: School) -> None:
    """Today in two classes: one change of each kind."""
    more_periods(school)
    day = local_today(school)
    wd = day.isoweekday()

    def change(lesson: Any, kind: str, **fields: Any) -> None:
        Substitution.objects.create(school=school, date=day, lesson=lesson, kind=kind, **fields)

    change(make_lesson(school, "7a", wd, 1, "PH", "SCH", "A103"), Kind.CANCELLED)
    change(
        make_lesson(school, "7a", wd, 2, "M", "SCH", "A105"),
        Kind.SUBSTITUTE,
        substitute_teacher=code(Teacher, school, code="HOF"),
    )
    change(
        make_lesson(school, "7a", wd, 3, "E", "WEB", "A1"),
        Kind.ROOM_CHANGE,
        room=code(Room, school, name="B2"),
    )
    change(
        make_lesson(school, "7a", wd, 4, "BIO", "FIS", "Lab"),
        Kind.MOVED,
        target_period=Period.objects.get(school=school, number=6),
    )
    change(make_lesson(school, "8b", wd, 1, "D", "MUE", "A2"), Kind.EXAM, note="Class test")
    change(make_lesson(school, "8b", wd, 2, "SP", "KOC", "Gym"), Kind.NOTE, note="Bring your kit")
    change(
        make_lesson(school, "8b", wd, 3, "CH", "KLE", "Lab"),
        Kind.SUPERVISION,
        substitute_teacher=code(Teacher, school, code="RIC"),
    )
    for period, target, subject in ((4, 6, "GE"), (6, 4, "EK")):
        change(
            make_lesson(school, "8b", wd, period, subject, "NEU", "A2"),
            Kind.SWAPPED,
            target_period=Period.objects.get(school=school, number=target),
        )
    extra = Substitution.objects.create(
        school=school,
        date=day,
        kind=Kind.EXTRA,
        period=Period.objects.get(school=school, number=5),
        subject=code(Subject, school, code="MA"),
        substitute_teacher=code(Teacher, school, code="BEC"),
        room=code(Room, school, name="A3"),
    )
    extra.classes.set([SchoolClass.objects.get(school=school, name="8b")])


def open_screen(page: Any, site: str, token: str, clock: dt.datetime | None = None) -> None:
    if clock is not None:
        page.clock.set_fixed_time(clock)
    page.goto(f"{site}/display/?token={token}")
    page.wait_for_selector("body:not(.booting)")


def cell(page: Any, cls: str, period: int) -> Any:
    """The grid cell of a class in a period (columns in class order, rows in period order)."""
    column = page.eval_on_selector_all(
        ".grid tr:first-child th", "(ths, c) => ths.findIndex(th => th.textContent === c)", cls
    )
    return page.locator(f".grid tr:nth-child({period + 1}) td:nth-child({column + 1})")


def test_every_kind_of_change_in_the_grid(page: Any, site: str, tenant: Tenant) -> None:
    """With two classes the day is a grid, and each change is shown in its cell: cancelled
    struck out, a substitute and a room change as old → new, moves saying where to and from."""
    school = tenant.school
    every_kind(school)
    _, token = make_screen(school)
    open_screen(page, site, token, at(school, 7, 0))
    assert page.inner_text("#lessons-title") == "Today"
    cancelled = cell(page, "7a", 1)
    assert cancelled.locator("s.subject.old").inner_text() == "PH"
    assert cancelled.locator(".badge").inner_text().lower() == "cancelled"
    substitute = cell(page, "7a", 2)
    assert substitute.locator("s.who.old").inner_text() == "SCH"
    assert substitute.locator("b.who.new").inner_text() == "HOF"
    assert substitute.locator("span.subject").inner_text() == "M"  # from the lesson
    assert substitute.locator("span.room").inner_text() == "A105"
    room = cell(page, "7a", 3)
    assert (room.locator("s.room").inner_text(), room.locator("b.room").inner_text()) == (
        "A1",
        "B2",
    )
    assert "moved to period 6" in cell(page, "7a", 4).inner_text().lower()
    arrived = cell(page, "7a", 6)
    assert arrived.locator("b.subject.new").inner_text() == "BIO"
    assert "moved from period 4" in arrived.inner_text().lower()
    assert "exam" in cell(page, "8b", 1).inner_text().lower()
    assert "Bring your kit" in cell(page, "8b", 2).inner_text()
    assert cell(page, "8b", 3).locator("b.who.new").inner_text() == "RIC"
    assert cell(page, "8b", 4).locator("b.subject.new").inner_text() == "EK"  # swapped in
    assert cell(page, "8b", 5).locator("b.subject.new").inner_text() == "MA"  # extra


def test_every_kind_of_change_in_the_list(page: Any, site: str, tenant: Tenant) -> None:
    """The changes list shows each change the same way, grouped by class, one row each."""
    school = tenant.school
    every_kind(school)
    _, token = make_screen(school)
    open_screen(page, site, token, at(school, 7, 0))
    rows = page.locator("#subs .sub-row")
    texts = [t.lower() for t in rows.all_inner_texts()]
    assert len(texts) == 13  # moved and swapped lessons show where they left and where they arrive
    first = page.locator("#subs .sub-row").first
    assert first.locator("s.subject.old").inner_text() == "PH"
    assert "cancelled" in texts[0]
    assert any("sch" in t and "hof" in t for t in texts)
    assert page.locator("#subs .sub-row b.room.new").first.inner_text() == "B2"
    assert any("extra lesson" in t for t in texts)
    assert any("supervision" in t for t in texts)
    assert any("class test" in t for t in texts)


def test_the_now_list_shows_changes_in_place(page: Any, site: str, tenant: Tenant) -> None:
    """With many classes the timetable lists the current period, changes in place."""
    school = tenant.school
    wd = local_today(school).isoweekday()
    for n, name in enumerate(["5a", "5b", "6a", "6b", "7a", "8b"]):
        lesson = make_lesson(school, name, wd, 1, "M", "T{n}", "R1")
        if n == 0:
            Substitution.objects.create(
                school=school, date=local_today(school), lesson=lesson, kind=Kind.CANCELLED
            )
    _, token = make_screen(school)
    open_screen(page, site, token, at(school, 8, 10))
    assert page.inner_text("#lessons-title") == "Now: Period 1"
    first = page.locator("#lessons .lesson-row").first
    assert first.locator(".class-name").inner_text() == "5a"
    assert first.locator("s.subject.old").inner_text() == "M"
    assert page.locator("#lessons .lesson-row").count() == 6


def test_a_holiday_says_so_and_shows_the_next_school_day(
    page: Any, site: str, tenant: Tenant
) -> None:
    """On a holiday the screen names it and the next school day, and shows that day's plan."""
    school = tenant.school
    today = local_today(school)
    for weekday in range(1, 8):
        make_lesson(school, "7a", weekday, 1, "M")
    Closure.objects.create(school=school, name="Winter break", starts_on=today, ends_on=today)
    _, token = make_screen(school, next_day="never")
    open_screen(page, site, token, at(school, 9, 0))
    closure = page.inner_text("#closure")
    assert "Winter break" in closure
    assert "Next school day" in closure
    tomorrow = today + dt.timedelta(days=1)
    assert str(tomorrow.day) in page.inner_text("#lessons-title")
    assert "M" in page.inner_text("#lessons")


def test_week_label_large_text_and_empty_columns(page: Any, site: str, tenant: Tenant) -> None:
    """'Week A' is in the header; large text makes letters larger; a list without anything
    to show gives its room to the others."""
    school = tenant.school
    today = local_today(school)
    make_lesson(school, "7a", today.isoweekday(), 1, "M")
    SchoolCalendar.objects.create(school=school, week_cycle="A,B", anchor=monday_of(today))
    Announcement.objects.create(school=school, title="Hello")
    _, token = make_screen(school)
    open_screen(page, site, token, at(school, 7, 0))
    assert page.inner_text("#week") == "Week A"
    size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    subs_width = page.evaluate("document.querySelector('.panel.subs').offsetWidth")
    lessons_width = page.evaluate("document.querySelector('.panel.lessons').offsetWidth")
    assert subs_width < lessons_width  # no changes today: the column shrinks
    _, large = make_screen(school, name="Far", large_text=True)
    open_screen(page, site, large, at(school, 7, 0))
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") > size * 1.25


def test_past_periods_leave_the_list_and_the_counter_shows_the_page(
    page: Any, site: str, tenant: Tenant
) -> None:
    """At noon the morning's changes are gone from the list (unless the screen keeps them);
    the page counter names the page on screen after paging."""
    school = tenant.school
    more_periods(school)
    today = local_today(school)
    wd = today.isoweekday()
    for n in range(30):
        lesson = make_lesson(school, f"{n}x", wd, 1 if n == 0 else 6, "M", "AAA", "R1")
        Substitution.objects.create(
            school=school, date=today, lesson=lesson, kind=Kind.NOTE, note=f"note {n}"
        )
    _, token = make_screen(school)
    open_screen(page, site, token, at(school, 12, 40))
    subs = page.text_content("#subs") or ""  # every page's text, not only the one shown
    assert "note 0" not in subs  # period 1 is over
    assert "note 29" in subs
    assert page.inner_text("#subs-page").startswith("1/")
    page.wait_for_function(
        "document.getElementById('subs-page').textContent.startsWith('2/')", timeout=12_000
    )
    page.wait_for_function("document.getElementById('subs').scrollTop > 0")
    _, keeps = make_screen(school, name="Staff", hide_past_periods=False)
    open_screen(page, site, keeps, at(school, 12, 40))
    assert "note 0" in (page.text_content("#subs") or "")


def test_portrait_keeps_the_school_name_on_one_line(
    browser: Any, site: str, tenant: Tenant
) -> None:
    """A portrait screen shows an ordinary school name whole, on one line."""
    school = tenant.school
    School.objects.filter(pk=school.pk).update(name="Lindenhof-Gymnasium Nordstadt")
    _, token = make_screen(school, orientation="portrait")
    context = browser.new_context(viewport={"width": 1080, "height": 1920}, bypass_csp=True)
    page = context.new_page()
    try:
        open_screen(page, site, token)
        fits = page.evaluate(
            "(() => { const e = document.getElementById('school-name');"
            " const r = document.createRange(); r.selectNodeContents(e);"
            " return e.scrollWidth <= e.clientWidth && r.getClientRects().length === 1; })()"
        )
        assert fits
    finally:
        context.close()


#: For each paged list of the screen: the items cut by its edge (only part of them shown),
#: and whether the last whole item shown is a class's name without its first row.
PAGE_CHECK = """(id) => {
  const el = document.getElementById(id);
  const box = el.getBoundingClientRect();
  const units = [...el.querySelectorAll(
    ".sub-class > .class-name, .sub-row, .grid tr, .lesson-row, .news-item")]
    .filter(u => getComputedStyle(u).visibility !== "hidden");
  const cut = units.filter(u => {
    const r = u.getBoundingClientRect();
    return r.bottom > box.top + 1 && r.top < box.bottom - 1 &&
      (r.top < box.top - 1 || r.bottom > box.bottom + 1);
  }).map(u => u.textContent.trim().slice(0, 40));
  const whole = units.filter(u => {
    const r = u.getBoundingClientRect();
    return r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
  });
  const last = whole[whole.length - 1];
  const orphan = !!last && last.matches(".sub-class > .class-name");
  return {cut: cut, orphan: orphan, shown: whole.length};
}"""


def test_pages_never_cut_an_item_in_half(browser: Any, site: str, tenant: Tenant) -> None:
    """A portrait screen with more changes than fit: each page of the changes list and of the
    grid shows whole items only (what does not fit whole waits for the next page), a class's
    name is never left at the bottom without its rows, and the grid keeps its class names
    on the next page."""
    school = tenant.school
    more_periods(school)
    today = local_today(school)
    wd = today.isoweekday()
    for n, cls in enumerate(["5a", "5b", "6a", "6b"]):
        for period in range(1, 7):
            lesson = make_lesson(school, cls, wd, period, "M", f"T{n}{period}", "R1")
            if (period + n) % 2:
                Substitution.objects.create(
                    school=school,
                    date=today,
                    lesson=lesson,
                    kind=Kind.SUBSTITUTE,
                    substitute_teacher=code(Teacher, school, code=f"S{n}{period}"),
                    note="Worksheets in the class folder, page twelve",
                )
    _, token = make_screen(school, orientation="portrait", hide_past_periods=False)
    context = browser.new_context(viewport={"width": 1080, "height": 1920}, bypass_csp=True)
    page = context.new_page()
    try:
        open_screen(page, site, token, at(school, 7, 0))
        assert page.inner_text("#subs-page").startswith("1/")
        for scroller in ("subs", "lessons"):
            first = page.evaluate(PAGE_CHECK, scroller)
            assert first["cut"] == [], (scroller, first)
            assert not first["orphan"], (scroller, first)
            assert first["shown"] > 0
        page.wait_for_function(
            "document.getElementById('subs-page').textContent.startsWith('2/')", timeout=12_000
        )
        page.wait_for_function(
            f"(() => {{ const r = ({PAGE_CHECK})('subs');"
            " return r.cut.length === 0 && r.shown > 0; })()",
            timeout=5_000,
        )
        page.wait_for_function(
            f"(() => {{ const r = ({PAGE_CHECK})('lessons'); return r.cut.length === 0; }})()",
            timeout=5_000,
        )
        # The class names at the top of page 2.
        assert page.evaluate(
            "document.querySelector('.grid tr:first-child th').getBoundingClientRect().top"
            " - document.getElementById('lessons').getBoundingClientRect().top"
        ) == pytest.approx(0, abs=2)
        assert page.evaluate(PAGE_CHECK, "subs")["orphan"] is False
    finally:
        context.close()


def test_portrait_shows_a_long_german_date_whole(browser: Any, site: str, tenant: Tenant) -> None:
    """A German school's portrait screen in large text with its week label shows the longest
    dates whole ("Donnerstag, 24. September"), set smaller rather than cut off with an
    ellipsis."""
    school = tenant.school
    School.objects.filter(pk=school.pk).update(language="de")
    today = local_today(school)
    SchoolCalendar.objects.create(school=school, week_cycle="A,B", anchor=monday_of(today))
    _, token = make_screen(school, orientation="portrait", large_text=True)
    context = browser.new_context(viewport={"width": 1080, "height": 1920})
    page = context.new_page()
    try:
        thursday = dt.datetime(2026, 9, 24, 10, 5, tzinfo=school.tz)
        open_screen(page, site, token, thursday)
        page.wait_for_selector("#week:not([hidden])")
        assert page.inner_text("#date") == "Donnerstag, 24. September"
        fits = page.evaluate(
            "(() => { const e = document.getElementById('date');"
            " return e.scrollWidth <= e.clientWidth; })()"
        )
        assert fits
    finally:
        context.close()


def test_the_grid_starts_at_the_first_period_not_over(page: Any, site: str, tenant: Tenant) -> None:
    """On a screen that hides past periods, the day's grid leaves out the periods already over
    (at 10:00 it starts at period 3); when every period is over it says so. A screen that
    keeps past periods shows the whole day."""
    school = tenant.school
    more_periods(school)
    wd = local_today(school).isoweekday()
    for period in range(1, 7):
        make_lesson(school, "7a", wd, period, "M", "SCH", "A1")
        make_lesson(school, "8b", wd, period, "D", "MUE", "A2")
    _, hides = make_screen(school, name="Hall")
    open_screen(page, site, hides, at(school, 10, 0))
    assert page.inner_text("#lessons-title") == "Today"
    rows = page.locator(".grid th.p").all_inner_texts()
    assert rows == ["3", "4", "5", "6"]
    open_screen(page, site, hides, at(school, 14, 0))
    assert "No more lessons today." in page.inner_text("#lessons")
    _, keeps = make_screen(school, name="Staff room", hide_past_periods=False)
    open_screen(page, site, keeps, at(school, 10, 0))
    assert page.locator(".grid th.p").all_inner_texts()[:2] == ["1", "2"]
