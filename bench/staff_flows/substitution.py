"""One substitution of a known lesson on "Today's changes" (docs/staff.md).

The page is open on a school day (the runner opens it, as a bookmark would); the
timetabler knows the lesson and the colleague who stands in. Actions: click the
lesson, press S, type the colleague's code, press Enter. The flow checks that the
grid then shows the substitute, read back from the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ROLE = "timetabler"

Count = Callable[[str, str], None]


def _open_a_school_day(page: Any, base_url: str) -> None:
    """Setup, not counted: today's page, or the next day with lessons."""
    page.goto(base_url + "/staff/day/")
    page.wait_for_selector("#day-link.live")
    for _ in range(7):
        page.wait_for_function("window.hallboardDay && window.hallboardDay.state.data")
        if page.locator(".slot").count():
            return
        next_day = page.get_attribute(".day-dates a >> nth=3", "href")  # "Next day"
        page.goto(base_url + str(next_day))
        page.wait_for_selector("#day-link.live")
    raise RuntimeError("no school day with lessons within a week")


def _known_lesson(page: Any) -> tuple[str, str]:
    """A lesson without a change whose period has a free teacher: (slot key, teacher code).

    The person knows both; choosing them here is not an action on the page. The
    teacher is the *last* free one, so the code is really typed, not just the first
    suggestion taken.
    """
    found = page.evaluate(
        """() => {
          const data = window.hallboardDay.state.data;
          for (const slot of data.slots) {
            if (!slot.editable || slot.change) continue;
            const period = data.periods.find(p => p.number === slot.period);
            if (period && period.free_teachers.length) {
              return [slot.key, period.free_teachers[period.free_teachers.length - 1]];
            }
          }
          return null;
        }"""
    )
    if not found:
        raise RuntimeError("no unchanged lesson with a free teacher on this day")
    return str(found[0]), str(found[1])


def run(page: Any, base_url: str, count: Count) -> None:
    _open_a_school_day(page, base_url)
    key, teacher = _known_lesson(page)
    lesson = f'.slot[data-key="{key}"]'

    page.click(lesson)
    count("click", "the lesson in the grid")
    page.keyboard.press("s")
    count("key", "S (substitute)")
    page.keyboard.type(teacher)
    count("type", teacher)
    page.keyboard.press("Enter")
    count("key", "Enter")

    page.wait_for_selector(f"{lesson}.kind-substitute")
    shown = page.inner_text(lesson)
    if teacher not in shown:
        raise RuntimeError(f"the grid shows {shown!r}, not the substitute {teacher}")
