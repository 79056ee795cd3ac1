"""Typed access to a row's values; each bad value becomes a ``Problem`` for its field."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime

from hallboard.imports.errors import ProblemCollector
from hallboard.imports.text import Row

#: Longest single value a parser keeps (texts); codes are bounded by the mapping.
MAX_VALUE_CHARS = 2000

#: Values that mean "none" in every format.
EMPTY_VALUES = frozenset({"", "---", "???"})

_DIGITS = re.compile(r"[+-]?\d+")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_GERMAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")


def split_list(value: str, separators: str = "~") -> tuple[str, ...]:
    """``"10c~10a"`` → ``("10c", "10a")``: trimmed, empty parts and repeats dropped."""
    parts: list[str] = [value]
    for sep in separators:
        parts = [piece for part in parts for piece in part.split(sep)]
    out: list[str] = []
    for part in parts:
        part = part.strip()
        if part and part not in EMPTY_VALUES and part not in out:
            out.append(part)
    return tuple(out)


class Cells:
    """The values of one row, read by index; problems go to the file's collector."""

    def __init__(
        self, row: Row, problems: ProblemCollector, label: Callable[[int, str], str]
    ) -> None:
        self.row = row
        self.problems = problems
        self.label = label
        self.ok = True

    def problem(self, code: str, index: int, name: str, **params: object) -> None:
        self.ok = False
        self.problems.add(code, line=self.row.line, field=self.label(index, name), **params)

    def raw(self, index: int) -> str:
        fields = self.row.fields
        return fields[index] if 0 <= index < len(fields) else ""

    def text(self, index: int, name: str, *, required: bool = False) -> str:
        value = self.raw(index)
        if value in EMPTY_VALUES:
            value = ""
        if required and not value:
            self.problem("required", index, name)
        elif len(value) > MAX_VALUE_CHARS:
            self.problem("too_long", index, name, limit=MAX_VALUE_CHARS)
            return ""
        return value

    def items(self, index: int, name: str, separators: str = "~") -> tuple[str, ...]:
        value = self.text(index, name)
        return split_list(value, separators) if value else ()

    def integer(
        self, index: int, name: str, *, low: int, high: int, required: bool = False
    ) -> int | None:
        value = self.raw(index)
        if not value:
            if required:
                self.problem("required", index, name)
            return None
        if not _DIGITS.fullmatch(value):
            self.problem("not_integer", index, name, value=value[:40])
            return None
        if len(value) > 12:  # int() of thousands of digits is slow, and out of range anyway
            self.problem("out_of_range", index, name, value=value[:40], low=low, high=high)
            return None
        number = int(value)
        if not low <= number <= high:
            self.problem("out_of_range", index, name, value=number, low=low, high=high)
            return None
        return number

    def compact_date(self, index: int, name: str, *, required: bool = False) -> date | None:
        """``yyyyMMdd`` (Untis)."""
        value = self.raw(index)
        if not value:
            if required:
                self.problem("required", index, name)
            return None
        if len(value) == 8 and value.isdigit():
            try:
                return date(int(value[:4]), int(value[4:6]), int(value[6:]))
            except ValueError:
                pass
        self.problem("bad_date", index, name, value=value[:40], expected="yyyyMMdd")
        return None

    def compact_timestamp(self, index: int, name: str) -> datetime | None:
        """``yyyyMMddHHmm`` (Untis), optional."""
        value = self.raw(index)
        if not value:
            return None
        if len(value) == 12 and value.isdigit():
            try:
                return datetime(
                    int(value[:4]),
                    int(value[4:6]),
                    int(value[6:8]),
                    int(value[8:10]),
                    int(value[10:]),
                )
            except ValueError:
                pass
        self.problem("bad_timestamp", index, name, value=value[:40], expected="yyyyMMddHHmm")
        return None

    def any_date(self, index: int, name: str, *, required: bool = False) -> date | None:
        """``yyyy-mm-dd`` (ISO) or ``dd.mm.yyyy`` (German), for hand-made CSV."""
        value = self.raw(index)
        if not value:
            if required:
                self.problem("required", index, name)
            return None
        parsed = parse_any_date(value)
        if parsed is None:
            self.problem("bad_date", index, name, value=value[:40], expected="yyyy-mm-dd")
        return parsed


def parse_any_date(value: str) -> date | None:
    try:
        if m := _ISO_DATE.fullmatch(value):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := _GERMAN_DATE.fullmatch(value):
            return date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:
        return None
    return None
