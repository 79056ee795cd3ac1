"""Reading delimited text exports whatever the school chose at export time.

Untis lets a school choose the separator (comma, semicolon, tab), the encoding
(UTF-8 with or without BOM, or "ANSI", i.e. Windows-1252) and whether text is
quoted; spreadsheets saving CSV make the same choices. ``read_table`` finds all
three, says which it found (``TextFormat``), and returns trimmed rows with the
physical line each row starts on.

Encoding is decided by a strict cascade, not by guessing statistics: a byte
order mark decides; otherwise the text is UTF-8 if it decodes as UTF-8 (text in
Windows-1252 almost never does), else Windows-1252, else ISO-8859-1 (which
decodes anything). A statistical detector can call a short file of German
teacher codes "Mac Roman"; this cascade cannot. The separator is sniffed by the
standard library's ``csv.Sniffer`` and then checked: the candidate must give
rows with at least as many fields as the format needs.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass

from hallboard.imports.errors import ImportFileError, ProblemCollector
from hallboard.imports.records import TextFormat

#: Largest file a parser accepts; a watched source or upload is bounded before that.
MAX_FILE_BYTES = 32 * 1024 * 1024
#: Most data rows one file may have (a large school's GPU001 has a few thousand).
MAX_ROWS = 200_000
#: How much of a file the separator is sniffed from.
SNIFF_CHARS = 64 * 1024

DELIMITERS = (",", ";", "\t")

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# WHATWG: a page that declares ISO-8859-1 (or ASCII) is decoded as Windows-1252.
_DECLARED_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "windows-1252": "cp1252",
    "cp1252": "cp1252",
    "utf8": "utf-8",
    "utf-8": "utf-8",
}
# A quote that opens a field: at the start of a line or after a separator.
_QUOTED_FIELD = re.compile(r'(?:^|[,;\t])[ ]*"', re.MULTILINE)


@dataclass(frozen=True)
class Row:
    line: int  # 1-based physical line the row starts on
    fields: tuple[str, ...]  # trimmed values


def decode(name: str, data: bytes, *, declared: str | None = None) -> tuple[str, str]:
    """The text of ``data`` and the codec that decoded it (see the module docstring)."""
    problems = ProblemCollector(name)
    if len(data) > MAX_FILE_BYTES:
        raise problems.fail("too_large", limit=MAX_FILE_BYTES)
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                break  # a UTF-16 mark on something that is not: treat as bytes
            return _checked(problems, text), codec
    if b"\x00" in data:
        raise problems.fail("binary")
    cascade = ["utf-8", "cp1252", "latin-1"]
    if declared:
        wanted = _DECLARED_ALIASES.get(declared.strip().lower())
        if wanted is None:
            try:
                wanted = codecs.lookup(declared.strip()).name
            except (LookupError, ValueError):
                wanted = None
        if wanted is not None and wanted not in ("utf-16", "utf-32") and wanted != cascade[0]:
            cascade.insert(0, wanted)
    for codec in cascade:
        try:
            return _checked(problems, data.decode(codec)), codec
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


def _checked(problems: ProblemCollector, text: str) -> str:
    if "\x00" in text:
        raise problems.fail("binary")
    if not text.strip("\ufeff \t\r\n"):
        raise problems.fail("empty_file")
    return text


def line_endings(text: str) -> str:
    crlf = text.count("\r\n")
    cr = text.count("\r") - crlf
    lf = text.count("\n") - crlf
    kinds = [name for name, n in (("CRLF", crlf), ("LF", lf), ("CR", cr)) if n]
    if not kinds:
        return "none"
    return kinds[0] if len(kinds) == 1 else "mixed"


def read_table(
    name: str,
    data: bytes,
    *,
    min_fields: int,
    delimiter: str | None = None,
    max_rows: int = MAX_ROWS,
) -> tuple[TextFormat, list[Row]]:
    """Decode, sniff and split a delimited export into trimmed rows (blank lines dropped)."""
    text, encoding = decode(name, data)
    if text.startswith("\ufeff"):  # a BOM inside UTF-16 text
        text = text[1:]
    return read_text_table(
        name, text, encoding, min_fields=min_fields, delimiter=delimiter, max_rows=max_rows
    )


def read_text_table(
    name: str,
    text: str,
    encoding: str,
    *,
    min_fields: int,
    delimiter: str | None = None,
    max_rows: int = MAX_ROWS,
) -> tuple[TextFormat, list[Row]]:
    problems = ProblemCollector(name)
    sample = text[:SNIFF_CHARS]
    if delimiter is None:
        delimiter = choose_delimiter(sample, min_fields)
        if delimiter is None:
            raise problems.fail("separator", needed=max(min_fields, 2))
    fmt = TextFormat(
        encoding=encoding,
        delimiter=delimiter,
        quoted=bool(_QUOTED_FIELD.search(sample)),
        line_ending=line_endings(text),
    )
    try:
        rows = _split(text, delimiter, max_rows, strict=True)
    except _Malformed as strict_error:
        if strict_error.end_of_data:
            # A quoted value still open when the file ends: the file was cut off.
            raise problems.fail(
                "quoting", line=strict_error.line, detail=strict_error.detail
            ) from None
        try:  # stray characters after a closing quote: read them as Excel would
            rows = _split(text, delimiter, max_rows, strict=False)
        except _Malformed as error:
            raise problems.fail("quoting", line=error.line, detail=error.detail) from None
    except _TooMany as error:
        raise problems.fail("too_many_rows", line=error.line, limit=max_rows) from None
    if not rows:
        raise problems.fail("empty_file")
    return fmt, rows


class _Malformed(Exception):
    def __init__(self, line: int, detail: str) -> None:
        self.line, self.detail = line, detail
        self.end_of_data = "end of data" in detail


class _TooMany(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def _split(text: str, delimiter: str, max_rows: int, *, strict: bool) -> list[Row]:
    rows: list[Row] = []
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quotechar='"',
        doublequote=True,
        skipinitialspace=True,
        strict=strict,
    )
    previous = 0
    try:
        for fields in reader:
            start, previous = previous + 1, reader.line_num
            values = tuple(f.strip() for f in fields)
            if not any(values):
                continue  # blank line, or only separators
            if len(rows) >= max_rows:
                raise _TooMany(start)
            rows.append(Row(start, values))
    except csv.Error as exc:
        raise _Malformed(previous + 1, str(exc)) from None
    return rows


def choose_delimiter(sample: str, min_fields: int) -> str | None:
    """The separator that splits ``sample`` into rows of at least ``min_fields`` fields.

    ``csv.Sniffer`` gives the first opinion; each candidate is then scored by the
    share of rows it splits into enough fields, and the best wins (the sniffer's
    choice on a tie). None if no candidate gives any row two or more fields.
    """
    candidates: list[str] = []
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    if sniffed in DELIMITERS:
        candidates.append(sniffed)
    candidates += [d for d in DELIMITERS if d not in candidates]
    needed = max(min_fields, 2)
    lines = sample.splitlines()
    if len(sample) == SNIFF_CHARS and len(lines) > 1:
        lines = lines[:-1]  # the last line of a cut sample is incomplete
    best: tuple[float, str] | None = None
    for candidate in candidates:
        score = _score(lines, candidate, needed)
        if score > 0 and (best is None or score > best[0]):
            best = (score, candidate)
    return None if best is None else best[1]


def _score(lines: list[str], delimiter: str, needed: int) -> float:
    reader = csv.reader(lines, delimiter=delimiter, quotechar='"', skipinitialspace=True)
    total = good = 0
    try:
        for fields in reader:
            if not any(f.strip() for f in fields):
                continue
            total += 1
            good += len(fields) >= needed
    except csv.Error:
        return 0.0
    return good / total if total else 0.0


__all__ = ["ImportFileError", "Row", "decode", "read_table", "read_text_table"]
