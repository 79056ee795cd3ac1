"""What is this file? Decided by name first, then by content.

* An HTML document (``<html``, ``<table`` … near the start) is an Untis monitor page.
* A name containing ``GPUnnn`` (any case, any extension) is that Untis export;
  GPU files hallboard does not read (GPU009 break supervisions, GPU013 absences,
  …) are recognised and left out, so that a folder holding a complete Untis
  export can be imported as it is.
* A first row naming hallboard CSV columns is that CSV.
* Otherwise, a row shaped like GPU014 (≥ 21 fields, a ``yyyyMMdd`` date second)
  or GPU001 (a weekday 1 to 7 sixth, a period seventh) is taken as one.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from hallboard.imports.errors import ImportFileError, ProblemCollector
from hallboard.imports.hallboard_csv import header_kind
from hallboard.imports.records import FileKind
from hallboard.imports.text import decode, read_text_table

FAMILIES = ("auto", "untis-gpu", "untis-html", "csv")

_GPU_NAME = re.compile(r"gpu0*(\d{1,3})", re.IGNORECASE)
_HTML_START = re.compile(rb"<\s*(?:!doctype\s+html|html|head|body|table|meta|frameset)\b", re.I)
_GPU_KINDS = {
    1: FileKind.GPU001,
    2: FileKind.GPU002,
    3: FileKind.GPU003,
    4: FileKind.GPU004,
    5: FileKind.GPU005,
    6: FileKind.GPU006,
    14: FileKind.GPU014,
    18: FileKind.GPU018,
}
_FAMILY_NAMES = {
    "untis-gpu": "an Untis GPU export",
    "untis-html": "an Untis monitor page",
    "csv": "a hallboard CSV file",
}


def is_html(data: bytes) -> bool:
    return bool(_HTML_START.search(data[:4096]))


def detect(name: str, data: bytes, family: str = "auto") -> FileKind | None:
    """The kind of ``name``; None for a GPU file hallboard does not read.

    Raises ``ImportFileError`` when the kind cannot be told, or is not of ``family``.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown format family {family!r}")
    problems = ProblemCollector(name)
    kind: FileKind | None
    gpu = _GPU_NAME.search(PurePath(name).name)
    if is_html(data):
        kind = FileKind.UNTIS_HTML
    elif gpu is not None and family in ("auto", "untis-gpu"):
        kind = _GPU_KINDS.get(int(gpu[1]))
        if kind is None:
            return None
    else:
        kind = _by_content(name, data, family)
    if kind is None:
        raise problems.fail("unknown_format")
    if family != "auto" and kind.family != family:
        raise problems.fail("wrong_format", expected=_FAMILY_NAMES[family])
    return kind


def _by_content(name: str, data: bytes, family: str) -> FileKind | None:
    text, encoding = decode(name, data)
    first_line = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    try:
        _fmt, rows = read_text_table(name, first_line, encoding, min_fields=2)
    except ImportFileError:
        return None
    fields = rows[0].fields
    if family in ("auto", "csv"):
        kind = header_kind(fields)
        if kind is not None:
            return kind
    if family in ("auto", "untis-gpu"):
        if len(fields) >= 21 and len(fields[1]) == 8 and fields[1].isdigit():
            return FileKind.GPU014
        if (
            7 <= len(fields) <= 9
            and fields[0].isdigit()
            and fields[5] in {"1", "2", "3", "4", "5", "6", "7"}
            and fields[6].isdigit()
        ):
            return FileKind.GPU001
    return None
