"""The catalogs are complete, compiled, and cover every string of the code (the build step that
compiles them for every install: test_build.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from hallboard.i18n import LANGUAGES, catalogs

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "hallboard"
TRANSLATED = [code for code, _ in LANGUAGES if code != "en"]  # English is the source
DISPLAY_JS = SRC / "display" / "static" / "display" / "display.js"
DAY_JS = SRC / "display" / "static" / "display" / "day.js"
DASHBOARD_JS = SRC / "staff" / "static" / "staff" / "dashboard.js"
PAGE_HTML = SRC / "display" / "templates" / "display" / "page.html"

# gettext("..."), gettext_noop("..."), ngettext("...", "...", n), pgettext("ctx", "...")
JS_CALL = re.compile(
    r"\b(gettext|gettext_noop|ngettext|pgettext)\(\s*"
    r'"((?:[^"\\]|\\.)*)"(?:\s*,\s*"((?:[^"\\]|\\.)*)")?',
    re.S,
)


def js_messages(path: Path) -> set[str]:
    """The msgids a script asks for (contexts joined as gettext does, ctx\\x04msgid)."""
    found = set()
    for function, first, second in JS_CALL.findall(path.read_text()):
        first = first.encode().decode("unicode_escape") if "\\" in first else first
        found.add(f"{first}\x04{second}" if function == "pgettext" else first)
    return found


def translations(language: str, domain: str) -> dict[str, str]:
    po = catalogs.LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"
    with po.open("rb") as f:
        catalog = read_po(f)
    result = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        text = message.string[0] if isinstance(message.string, tuple) else message.string
        result[f"{message.context}\x04{msgid}" if message.context else msgid] = text
    return result


def test_every_language_has_both_catalogs() -> None:
    """German (and every other language but English, the source) has django.po and djangojs.po."""
    for language in TRANSLATED:
        for domain in ("django", "djangojs"):
            assert (catalogs.LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po").is_file()


def test_catalogs_are_complete_and_not_fuzzy() -> None:
    """No entry is untranslated, marked fuzzy, or has placeholders other than its msgid's."""
    problems = [p for po in catalogs.po_files() for p in catalogs.problems(po)]
    assert problems == []


def test_problems_are_found(tmp_path: Path) -> None:
    """The check itself notices an empty, a fuzzy and a mismatched entry."""
    po = tmp_path / "de" / "LC_MESSAGES" / "django.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Empty"\nmsgstr ""\n\n'
        '#, fuzzy\nmsgid "Fuzzy"\nmsgstr "Unscharf"\n\n'
        '#, python-format\nmsgid "As of %(time)s"\nmsgstr "Stand: %(zeit)s"\n'
    )
    found = "\n".join(catalogs.problems(po))
    assert "'Empty' has no translation" in found
    assert "'Fuzzy' is marked fuzzy" in found
    assert "As of %(time)s" in found


@pytest.mark.parametrize("script", [DISPLAY_JS, DAY_JS, DASHBOARD_JS], ids=lambda p: p.name)
def test_every_string_of_the_scripts_is_translated(script: Path) -> None:
    """Each message the display (display.js, day.js) and the dashboard ask for has a German
    translation."""
    asked = js_messages(script)
    assert len(asked) > 20  # the parser found the calls
    for language in TRANSLATED:
        known = translations(language, "djangojs")
        missing = sorted(m for m in asked if not known.get(m))
        assert missing == [], f"{script.name}: untranslated in {language}: {missing}"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and re.search(r"[A-Za-z]", data):
            self.words.append(data.strip())


def test_the_display_template_has_no_words_of_its_own() -> None:
    """Every word on the display comes from display.js's catalog, in the school's language."""
    parser = _Text()
    template = re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", "", PAGE_HTML.read_text(), flags=re.S)
    parser.feed(template)
    assert [w for w in parser.words if w != "hallboard"] == []


def test_compiled_catalogs_match_their_sources() -> None:
    """The .mo files Django reads are compiled from the current .po (run `make` if not)."""
    stale = [str(po) for po in catalogs.po_files() if catalogs.stale(po)]
    assert stale == []


@pytest.mark.skipif(
    not shutil.which("xgettext"), reason="needs GNU gettext (apt-get install gettext)"
)
def test_the_catalogs_hold_every_string_of_the_code(tmp_path: Path) -> None:
    """`make messages` would add nothing: no string in the code is missing from the catalogs."""
    tree = tmp_path / "hallboard"
    shutil.copytree(SRC, tree, ignore=shutil.ignore_patterns("*.mo", "__pycache__"))
    before = {domain: set(translations("de", domain)) for domain in ("django", "djangojs")}
    sources = {po: po.stat().st_mtime_ns for po in catalogs.po_files()}
    for domain in ("django", "djangojs"):
        subprocess.run(  # noqa: S603 - Django's makemessages, on a copy of our tree
            [
                sys.executable,
                "-m",
                "django",
                "makemessages",
                "-l",
                "de",
                "-d",
                domain,
                "--no-obsolete",
                "--add-location",
                "file",
            ],
            cwd=tree,
            check=True,
            capture_output=True,
            env={"DJANGO_SETTINGS_MODULE": "hallboard.settings", "PATH": "/usr/bin:/bin"},
        )
        with (tree / "locale" / "de" / "LC_MESSAGES" / f"{domain}.po").open("rb") as f:
            catalog = read_po(f)
        extracted = {
            (f"{m.context}\x04" if m.context else "")
            + (m.id[0] if isinstance(m.id, tuple) else m.id)
            for m in catalog
            if m.id
        }
        assert sorted(extracted - before[domain]) == [], f"{domain}: run `make messages`"
    # makemessages wrote into the copy (its files' nearest locale/), never the repository.
    assert {po: po.stat().st_mtime_ns for po in catalogs.po_files()} == sources
