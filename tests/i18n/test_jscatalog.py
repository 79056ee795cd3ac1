"""The catalogs pages carry for their scripts (hallboard.i18n.jscatalog)."""

from __future__ import annotations

from hallboard.i18n import jscatalog, supported


def test_german_messages_and_plural_forms() -> None:
    """German messages by msgid; plural forms as lists, chosen by a precomputed table."""
    catalog = jscatalog.catalog("de")
    assert catalog["messages"]["Substitutions"] == "Vertretungen"
    assert catalog["messages"]["The code is valid for %(minutes)s more minute."] == [
        "Der Code ist noch %(minutes)s Minute gültig.",
        "Der Code ist noch %(minutes)s Minuten gültig.",
    ]
    assert catalog["plural"][:3] == [1, 0, 1]  # 0 minutes, 1 minute, 2 minutes
    assert len(catalog["plural"]) == jscatalog.PLURAL_TABLE_SIZE


def test_english_is_the_source() -> None:
    """English has no messages (the msgids are English), only its plural rule."""
    assert jscatalog.catalog("en") == {
        "messages": {},
        "plural": [int(n != 1) for n in range(jscatalog.PLURAL_TABLE_SIZE)],
    }


def test_page_data_carries_the_languages_asked_for() -> None:
    data = jscatalog.page_data(default="de", languages=["de"])
    assert data["default"] == "de"
    assert list(data["catalogs"]) == ["de"]
    assert set(jscatalog.page_data(default="en")["catalogs"]) == {"en", "de"}


def test_supported_reduces_to_a_language_hallboard_speaks() -> None:
    assert supported("de-AT") == "de"
    assert supported("de_CH") == "de"
    assert supported("EN-gb") == "en"
    assert supported("fr") == "en"
    assert supported("fr", default="") == ""
    assert supported(None) == "en"
