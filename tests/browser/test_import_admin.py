"""The admin import flow in a real Chromium: upload two files, read the preview, confirm."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from hallboard.imports.models import ImportRun, WatchedSource
from hallboard.timetable.models import Substitution
from tests.browser.conftest import needs_chromium
from tests.conftest import Tenant, make_user, revision_of, signed_in
from tests.imports.conftest import FIXTURES
from tests.imports.test_service import prepare

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]

#: Where the screenshots go (HALLBOARD_SCREENSHOTS to keep them; else the test's tmp dir).
SHOTS = os.environ.get("HALLBOARD_SCREENSHOTS")


def shot(page: Any, tmp_path: Path, name: str) -> None:
    folder = Path(SHOTS) if SHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"import-{name}.png"), full_page=True)


def test_upload_preview_confirm_in_the_browser(
    tenant: Tenant, site: str, page: Any, tmp_path: Path
) -> None:
    """A timetabler picks GPU001 and GPU014 in the upload form, sees the preview (counts,
    the difference, the Confirm button; nothing changed yet), confirms, and sees the
    import applied; the history lists both."""
    school = prepare(tenant.school)
    user = make_user("tt", "timetabler", school=school)
    session = signed_in(user).cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": site}])
    before = revision_of(school)

    page.goto(site + "/admin/imports/importrun/")
    page.click("text=Import files")
    page.wait_for_selector("#import-upload")
    page.select_option("#id_school", str(school.pk))
    page.set_input_files(
        "#id_upload",
        [str(FIXTURES / "gpu001.txt"), str(FIXTURES / "gpu014_comma_utf8.txt")],
    )
    shot(page, tmp_path, "upload")
    page.click("input[name=preview]")

    page.wait_for_selector("#import-confirm")
    assert "Preview of the import" in page.inner_text("h1")
    counts = page.inner_text("#import-counts")
    assert "Substitutions" in counts
    assert "Lessons" in counts
    assert page.locator("#import-difference tr.added").count() > 0
    assert revision_of(school) == before
    assert not Substitution.objects.exists()
    shot(page, tmp_path, "preview")

    page.click("input[name=confirm]")
    page.wait_for_selector("#import-status.status-applied")
    assert "Imported: revision" in page.inner_text(".messagelist")
    assert Substitution.objects.filter(school=school).count() == 6
    assert revision_of(school) == before + 1
    shot(page, tmp_path, "applied")

    page.goto(site + "/admin/imports/importrun/")
    assert page.locator("td.field-status").count() == 2
    shot(page, tmp_path, "history")
    assert [r.status for r in ImportRun.objects.order_by("pk")] == ["preview", "applied"]


def test_a_failing_source_on_the_dashboard(
    tenant: Tenant, site: str, page: Any, tmp_path: Path
) -> None:
    """The live dashboard shows a failing watched source with its reason, kept current by
    the page's script from the API (the notice disappears once the source is well)."""
    import datetime as dt

    admin = make_user("boss", "admin", school=tenant.school)
    source = WatchedSource.objects.create(
        school=tenant.school,
        kind="url",
        location="http://127.0.0.1:9/subst_001.htm",
        failing_since=dt.datetime(2026, 9, 14, 5, 10, tzinfo=dt.UTC),
        last_checked_at=dt.datetime(2026, 9, 14, 5, 20, tzinfo=dt.UTC),
        last_error_code="source_unreachable",
        last_error="The source cannot be read: Connection refused.",
    )
    session = signed_in(admin).cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": site}])
    page.goto(site + "/staff/schools/alpha/")
    notice = page.locator(f"#import-source-{tenant.school.pk}")
    notice.wait_for(state="visible")
    page.wait_for_function(
        "document.querySelector('.import-source').textContent.includes('07:10')"
    )  # rewritten by the script, in the school's time (Berlin)
    assert "Connection refused" in notice.inner_text()
    shot(page, tmp_path, "dashboard-failing")
    WatchedSource.objects.filter(pk=source.pk).update(
        failing_since=None, last_error="", last_error_code=""
    )
    page.evaluate("() => {}")
    page.reload()
    page.wait_for_timeout(500)
    assert not notice.is_visible()
