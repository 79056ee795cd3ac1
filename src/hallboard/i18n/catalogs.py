"""Compile and check hallboard's gettext catalogs, in pure Python (Babel; no GNU gettext).

    python -m hallboard.i18n.catalogs           # compile every changed .po to its .mo
    python -m hallboard.i18n.catalogs --check   # list incomplete, fuzzy or stale catalogs

The ``.po`` files under ``src/hallboard/locale/`` are the source and live in the
repository; the ``.mo`` files Django reads are built from them, never committed:
by the build step, ``hallboard.i18n.build`` (so every ``pip install``, editable or not, and every
wheel has them) and by ``make`` when a ``.po`` changed since. docs/translations.md
explains the choice.

This module imports nothing from Django or hallboard, so that the build step can load
it by path while the package is being built.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"


def po_files(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Every catalog source: ``<locale_dir>/<lang>/LC_MESSAGES/<domain>.po``, sorted."""
    return sorted(locale_dir.glob("*/LC_MESSAGES/*.po"))


def read(po: Path) -> Catalog:
    with po.open("rb") as f:
        return read_po(f, locale=po.parent.parent.name, domain=po.stem)


def mo_bytes(po: Path) -> bytes:
    """What ``po`` compiles to (fuzzy entries left out, as msgfmt does)."""
    out = io.BytesIO()
    write_mo(out, read(po), use_fuzzy=False)
    return out.getvalue()


def compile_po(po: Path) -> bool:
    """Write ``po``'s ``.mo`` beside it; False when it was already up to date."""
    mo = po.with_suffix(".mo")
    data = mo_bytes(po)
    if mo.exists() and mo.read_bytes() == data:
        return False
    mo.write_bytes(data)
    return True


def compile_all(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Compile every catalog under ``locale_dir``; returns the ``.mo`` files written."""
    return [po.with_suffix(".mo") for po in po_files(locale_dir) if compile_po(po)]


def _text(message_id: object) -> str:
    if isinstance(message_id, (tuple, list)):
        return str(message_id[0])
    return str(message_id or "")


def problems(po: Path) -> list[str]:
    """Why ``po`` is not ready to ship: untranslated, fuzzy or mismatched-placeholder entries."""
    found: list[str] = []
    catalog = read(po)
    for message in catalog:
        if not message.id:
            continue  # the header
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        where = f"{po}: {_text(message.id)!r}"
        if message.fuzzy:
            found.append(f"{where} is marked fuzzy")
        elif not all(strings):
            found.append(f"{where} has no translation")
    for message, errors in catalog.check():
        for error in errors:
            found.append(f"{po}: {_text(message.id)!r}: {error}")
    return found


def stale(po: Path) -> bool:
    """True when ``po``'s ``.mo`` is missing or was built from another version of it."""
    mo = po.with_suffix(".mo")
    return not mo.exists() or mo.read_bytes() != mo_bytes(po)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report problems, compile nothing")
    parser.add_argument("--locale-dir", type=Path, default=LOCALE_DIR)
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.check:
        report = [p for po in po_files(args.locale_dir) for p in problems(po)]
        report += [f"{po}: .mo missing or stale" for po in po_files(args.locale_dir) if stale(po)]
        for line in report:
            print(line)
        return 1 if report else 0
    for mo in compile_all(args.locale_dir):
        print(f"compiled {mo}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
