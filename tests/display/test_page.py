"""/display/ and its service worker /display/sw.js: policy, scope, shell and version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from hallboard.display import page


def served_shell(response: Any) -> dict[str, Any]:
    first_line = response.content.decode().split("\n", 1)[0]
    assert first_line.startswith("var SHELL = ")
    return dict(json.loads(first_line.removeprefix("var SHELL = ").rstrip(";")))


def test_the_page_allows_its_service_worker_and_nothing_else(db: None) -> None:
    """The page's policy lets this site's worker run (worker-src 'self'), nothing more."""
    policy = Client().get("/display/?token=x&dk=device-0001")["Content-Security-Policy"]
    assert "worker-src 'self'" in policy
    assert "default-src 'self'" in policy


def test_the_worker_is_served_for_the_display_scope(db: None) -> None:
    """/display/sw.js is JavaScript under /display/ (so its scope covers the page), never
    taken from an HTTP cache, and may fetch from this site only."""
    response = Client().get("/display/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Cache-Control"] == "no-cache"
    assert response["Service-Worker-Allowed"] == "/display/"
    assert response["Content-Security-Policy"] == "default-src 'self'"
    assert 'self.addEventListener("fetch"' in response.content.decode()


def test_the_shell_is_the_page_and_what_it_loads(db: None) -> None:
    """The worker keeps the page and every script and stylesheet the page loads."""
    shell = served_shell(Client().get("/display/sw.js"))
    html = Client().get("/display/").content.decode()
    assert shell["page"] == "/display/"
    assert shell["assets"] == [
        "/static/display/display.css",
        "/static/hallboard/i18n.js",
        "/static/display/day.js",
        "/static/display/display.js",
    ]
    for url in shell["assets"]:
        assert f'"{url}"' in html


def test_a_changed_script_makes_a_new_worker_version(
    db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """The version is a hash of the shell's contents: a deploy that changes display.js
    changes the worker script, which makes browsers install it and refresh the cache."""
    settings.DEBUG = True  # worked out afresh per request, as in development
    before = served_shell(Client().get("/display/sw.js"))["version"]
    assert served_shell(Client().get("/display/sw.js"))["version"] == before  # stable
    original = Path(page.finders.find("display/display.js"))  # type: ignore[arg-type]
    changed = tmp_path / "display.js"
    changed.write_bytes(original.read_bytes() + b"\n// a new release\n")
    real_find = page.finders.find
    monkeypatch.setattr(
        page.finders,
        "find",
        lambda path, *a, **k: str(changed) if path == "display/display.js" else real_find(path),
    )
    assert served_shell(Client().get("/display/sw.js"))["version"] != before


def test_without_debug_the_shell_is_worked_out_once(db: None, settings: Any) -> None:
    """A running server computes the shell once (files change only with a deploy)."""
    settings.DEBUG = False
    assert page.shell() is page.shell()


def test_the_page_carries_the_close_code_policy(db: None) -> None:
    """The page holds the server's close-code policy as data (display.js reads it before
    any snapshot, and on an offline start): the same as close_codes.policy()."""
    from bs4 import BeautifulSoup

    from hallboard.realtime.core import close_codes

    html = Client().get("/display/?token=x&dk=device-0001").content.decode()
    element = BeautifulSoup(html, "html.parser").find("script", id="close-codes")
    assert element is not None
    assert json.loads(element.get_text()) == close_codes.policy()
