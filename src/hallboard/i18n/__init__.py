"""Languages: the languages hallboard speaks, its catalogs, and their use in JavaScript.

Words people read come from gettext catalogs kept in the repository under
``src/hallboard/locale/<lang>/LC_MESSAGES/`` (``django.po`` for Python and
templates, ``djangojs.po`` for the display page and the staff dashboard's
JavaScript). docs/translations.md says how to add a string or a language and
how the catalogs are compiled (``hallboard.i18n.catalogs``).

English is the source language: a message without a translation reads as its
English ``msgid``.
"""

from __future__ import annotations

#: The languages hallboard speaks, each named in itself (what a language menu shows).
#: ``settings.LANGUAGES`` and the choices of ``School.language`` are this list.
LANGUAGES: list[tuple[str, str]] = [
    ("en", "English"),
    ("de", "Deutsch"),
]

LANGUAGE_CODES: frozenset[str] = frozenset(code for code, _ in LANGUAGES)


def supported(code: str | None, default: str = "en") -> str:
    """``code`` reduced to a language hallboard speaks ("de-AT" → "de"), else ``default``."""
    if code:
        code = code.lower().replace("_", "-")
        if code in LANGUAGE_CODES:
            return code
        base = code.split("-", 1)[0]
        if base in LANGUAGE_CODES:
            return base
    return default
