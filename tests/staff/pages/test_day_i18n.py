"""Today's changes speaks German and English: every word of day.js and the page is in the
catalogs, and a German user reads the page in German."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Tenant, make_user, signed_in
from tests.i18n.test_catalogs import TRANSLATED, js_messages, translations

DAY_JS = Path(__file__).resolve().parents[3] / "src/hallboard/staff/static/staff/day.js"


def test_every_string_of_day_js_is_translated() -> None:
    """Each message day.js asks for has a translation in every language but English."""
    asked = js_messages(DAY_JS)
    assert len(asked) > 40  # the parser found the calls
    for language in TRANSLATED:
        known = translations(language, "djangojs")
        missing = sorted(m for m in asked if not known.get(m))
        assert missing == [], f"untranslated in {language}: {missing}"


def test_the_page_is_in_the_users_language(tenant: Tenant) -> None:
    """With German chosen, the page's own words and its date are German; the catalog it
    carries for day.js is the German one."""
    client = signed_in(make_user("alpha-tt", "timetabler", school=tenant.school))
    client.cookies["django_language"] = "de"
    html = client.get("/staff/schools/alpha/day/2026-11-30/").content.decode()
    assert "Montag, 30. November 2026" in html
    assert "Abwesende Lehrkräfte" in html
    assert "Braucht Vertretung" in html  # in the page's catalog data
    client.cookies["django_language"] = "en"
    html = client.get("/staff/schools/alpha/day/2026-11-30/").content.decode()
    assert "Monday, Nov. 30, 2026" in html
    assert "Absent teachers" in html
