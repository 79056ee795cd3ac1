"""Translations for hallboard's JavaScript, as a JSON block the page carries.

The display page and the staff dashboard do not load a catalog script: their
strict Content-Security-Policy allows no inline script, and a screen must start
from its cache when the server is away. Instead the view renders the messages
as data (``{{ catalogs|json_script:"i18n" }}``), and the page's own script reads
them with ``gettext``/``ngettext``/``interpolate`` (``static/hallboard/i18n.js``).

A catalog is ``{"messages": {msgid: str | [forms...]}, "plural": [index for n =
0..199]}``: the plural form of every ``n`` below 200 precomputed on the server
(the script takes ``100 + n % 100`` beyond), so no plural expression is evaluated
in the browser. Messages come from ``djangojs.po`` of ``src/hallboard/locale``
alone, not from Django's own JavaScript catalogs.
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from typing import Any

from hallboard.i18n import LANGUAGES
from hallboard.i18n.catalogs import LOCALE_DIR

DOMAIN = "djangojs"
PLURAL_TABLE_SIZE = 200


@lru_cache(maxsize=16)
def catalog(language: str) -> dict[str, Any]:
    """The JavaScript catalog of ``language`` (empty messages for English, the source)."""
    mo = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
    translations: gettext.NullTranslations
    try:
        with mo.open("rb") as f:
            translations = gettext.GNUTranslations(f)
    except FileNotFoundError:
        translations = gettext.NullTranslations()
    raw: dict[Any, str] = getattr(translations, "_catalog", {})
    messages: dict[str, Any] = {}
    plurals: dict[str, dict[int, str]] = {}
    for key, value in raw.items():
        if isinstance(key, tuple):
            plurals.setdefault(key[0], {})[key[1]] = value
        elif key and value:
            messages[key] = value
    for msgid, forms in plurals.items():
        messages[msgid] = [forms[i] for i in sorted(forms)]
    plural = getattr(translations, "plural", lambda n: int(n != 1))
    return {"messages": messages, "plural": [plural(n) for n in range(PLURAL_TABLE_SIZE)]}


def catalogs(languages: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The catalogs of ``languages`` (default: every language hallboard speaks)."""
    codes = languages if languages is not None else [code for code, _ in LANGUAGES]
    return {code: catalog(code) for code in codes}


def page_data(default: str, languages: list[str] | None = None) -> dict[str, Any]:
    """What a page embeds as ``i18n``: the catalogs and the language to use by default."""
    return {"default": default, "catalogs": catalogs(languages)}
