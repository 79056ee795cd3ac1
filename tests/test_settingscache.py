"""Values derived from the settings once, and again after a change of them."""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings

from hallboard.settingscache import per_settings


def test_an_answer_is_kept_until_a_setting_changes(settings: Any) -> None:
    """The function runs once per argument while the settings stay; after a change (as
    ``override_settings`` and the ``settings`` fixture make) it runs again and sees it."""
    calls: list[str] = []

    @per_settings
    def frame_options(suffix: str) -> str:
        calls.append(suffix)
        return str(django_settings.X_FRAME_OPTIONS) + suffix

    settings.X_FRAME_OPTIONS = "DENY"
    assert frame_options("!") == "DENY!"
    assert frame_options("!") == "DENY!"
    assert frame_options("?") == "DENY?"
    assert calls == ["!", "?"]
    settings.X_FRAME_OPTIONS = "SAMEORIGIN"
    assert frame_options("!") == "SAMEORIGIN!"
    assert calls == ["!", "?", "!"]


def test_a_bounded_cache_keeps_the_last_answers_and_forgets_on_a_change(settings: Any) -> None:
    """With ``maxsize`` only the most recently used answers are kept (a client cannot grow
    it without end), and a change of the settings drops them too."""
    calls: list[str] = []

    @per_settings(maxsize=2)
    def allowed(host: str) -> bool:
        calls.append(host)
        return host in django_settings.ALLOWED_HOSTS

    settings.ALLOWED_HOSTS = ["a"]
    assert [allowed("a"), allowed("b"), allowed("a")] == [True, False, True]
    assert calls == ["a", "b"]
    allowed("c")  # evicts "b", the least recently used
    allowed("b")
    assert calls == ["a", "b", "c", "b"]
    settings.ALLOWED_HOSTS = ["b"]
    assert allowed("b") is True
    assert calls == ["a", "b", "c", "b", "b"]
