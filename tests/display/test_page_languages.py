"""The display page carries every language's words, and starts in the browser's."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def page_i18n(accept_language: str) -> dict[str, Any]:
    html = Client().get("/display/", HTTP_ACCEPT_LANGUAGE=accept_language).content.decode()
    block = re.search(r'<script id="i18n" type="application/json">(.*?)</script>', html, re.S)
    assert block, "no i18n block"
    return dict(json.loads(block.group(1)))


def test_the_page_carries_every_languages_catalog() -> None:
    """A screen learns its school's language from the snapshot: all languages are on the page."""
    data = page_i18n("en-US")
    assert set(data["catalogs"]) == {"en", "de"}
    assert data["catalogs"]["de"]["messages"]["Announcements"] == "Mitteilungen"


@pytest.mark.parametrize(
    ("accept", "default"), [("de-DE,de;q=0.9", "de"), ("en-GB", "en"), ("fr-FR", "en")]
)
def test_before_it_knows_its_school_the_page_speaks_the_browsers_language(
    accept: str, default: str
) -> None:
    """The pairing screen's language: the browser's, when hallboard speaks it."""
    assert page_i18n(accept)["default"] == default
    html = Client().get("/display/", HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    assert f'<html lang="{default}">' in html


def test_new_translations_make_a_new_offline_shell(
    monkeypatch: pytest.MonkeyPatch, settings
) -> None:  # type: ignore[no-untyped-def]
    """The service worker's shell carries the words: changed catalogs are a new version, so
    a screen that starts offline speaks the current translations."""
    from hallboard.display import page
    from tests.display.test_page import served_shell

    settings.DEBUG = True  # the shell worked out afresh per request
    before = served_shell(Client().get("/display/sw.js"))["version"]
    real = page.jscatalog.page_data

    def changed(default: str, languages: list[str] | None = None) -> dict[str, Any]:
        data = real(default, languages)
        data["catalogs"]["de"] = {**data["catalogs"]["de"], "messages": {"Today": "Heute!"}}
        return data

    monkeypatch.setattr(page.jscatalog, "page_data", changed)
    assert served_shell(Client().get("/display/sw.js"))["version"] != before
