"""The one error every import ends in when a file cannot be used.

A parser never raises anything else for bad input: a file that cannot be read,
a row with too few fields, a value that is not a date all become a ``Problem``
naming the file, the line and the field. Problems of one file are collected
(up to ``MAX_PROBLEMS``) and raised together as ``ImportFileError``, so that a
timetabler sees every bad row of an export at once instead of one per attempt.

Each problem has a stable ``code`` (for the API and tests) and a message that
is translated when it is shown (``Problem.message``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

#: How many problems one import reports before it stops looking for more.
MAX_PROBLEMS = 100

# One message per code; the parameters are filled in when the message is shown.
MESSAGES: Mapping[str, Any] = {
    "empty_file": _("The file is empty."),
    "too_large": _("The file is larger than the limit of %(limit)s bytes."),
    "binary": _("The file contains NUL bytes: it is not a text export."),
    "separator": _(
        "Cannot tell the separator (comma, semicolon or tab): no candidate gives rows "
        "of at least %(needed)s fields."
    ),
    "quoting": _("Malformed quoting: %(detail)s."),
    "too_many_rows": _("More than %(limit)s rows: split the export."),
    "too_few_fields": _("The row has %(found)s fields; at least %(needed)s are expected."),
    "required": _("A value is required here."),
    "too_long": _("The value is longer than %(limit)s characters."),
    "not_integer": _("“%(value)s” is not a whole number."),
    "out_of_range": _("%(value)s is outside the range %(low)s to %(high)s."),
    "bad_date": _("“%(value)s” is not a date (expected %(expected)s)."),
    "bad_timestamp": _("“%(value)s” is not a date and time (expected %(expected)s)."),
    "bad_weekday": _("“%(value)s” is not a weekday (1 = Monday … 7 = Sunday, or a name)."),
    "bad_period": _("“%(value)s” is not a period, a range such as “1 - 2”, or a break “0/1”."),
    "bad_range": _("The range ends before it starts."),
    "unknown_kind": _("“%(value)s” is not a kind of change (one of %(choices)s)."),
    "unknown_format": _(
        "Cannot tell what kind of file this is. Name Untis exports GPU001.TXT … GPU018.TXT, "
        "or choose the format."
    ),
    "wrong_format": _("This file is not %(expected)s."),
    "not_monitor_html": _(
        "No Untis monitor page found: the page has no element with the class mon_title."
    ),
    "truncated_html": _(
        "The page ends before </html>: it was cut off, or was still being written. "
        "Nothing was imported; try again."
    ),
    "no_date": _("The page title “%(value)s” holds no date (d.M.yyyy)."),
    "missing_column": _("The required column “%(column)s” is missing. Columns found: %(found)s."),
    "duplicate_column": _("The column “%(column)s” appears twice."),
    "no_header": _("The file has no header row."),
    "duplicate_key": _("The id “%(value)s” is used twice (first on line %(first)s)."),
    "too_many_files": _("More than %(limit)s files in one import."),
    "needs_gpu001": _(
        "GPU002 gives the week groups and validity of the lessons in GPU001: "
        "import it together with GPU001."
    ),
    # watched sources
    "source_unreachable": _("The source cannot be read: %(detail)s."),
    "source_http_error": _("The server answered HTTP %(status)s."),
    "source_timeout": _("The source took too long to answer."),
    "source_empty": _("The source holds no file to import."),
    "page_not_found": _("A page the plan leads to cannot be read."),
    # mapping onto the school's timetable
    "unknown_period": _(
        "Period %(value)s is not in the school's bell schedule: add it in the admin first."
    ),
    "week_not_in_rotation": _(
        "Week group “%(value)s” is not a week of the school's rotation (%(cycle)s)."
    ),
    # notes: not errors, decisions the user should know about
    "substitutions_from_gpu014": _(
        "Substitutions were taken from GPU014; the monitor pages gave the day's messages, "
        "week labels and export time."
    ),
    "page_not_given": _("The page leads to %(link)s, which is not among the files."),
    "unknown_reference": _("%(what)s “%(value)s” is not in the master data: the row was left out."),
    "unknown_period_skipped": _(
        "Period %(value)s is not in the school's bell schedule: the row was left out."
    ),
    "week_groups_ignored": _(
        "The school has no week rotation: the lessons' week groups (%(value)s) were ignored "
        "and the lessons take place every week."
    ),
    "week_label_ignored": _(
        "The page names week “%(value)s”, which is not a week of the school's rotation: "
        "the week label was not taken."
    ),
    "merged_changes": _(
        "Several rows change the same lesson on %(date)s: they were merged into one change."
    ),
    "move_unpaired": _(
        "A moved or swapped lesson without its other half in the export: imported as %(kind)s."
    ),
    "no_subject": _("A lesson without a subject was left out."),
    "no_class": _("A lesson without a class was left out."),
}


@dataclasses.dataclass(frozen=True)
class Problem:
    """One reason a file cannot be imported, located as precisely as known."""

    file: str
    code: str
    line: int | None = None
    field: str | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def message(self) -> str:
        template = MESSAGES.get(self.code, self.code)
        try:
            return str(template) % dict(self.params)
        except (KeyError, TypeError, ValueError):  # a parameter missing: still say something
            return str(template)

    def where(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(_("line %(line)s") % {"line": self.line}))
        if self.field:
            parts.append(str(_("field %(field)s") % {"field": self.field}))
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.where()}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        """The JSON form used by the API and the import history."""
        return {
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "code": self.code,
            "message": self.message,
        }


class ImportFileError(Exception):
    """A file (or a set of files) that cannot be imported; nothing was changed."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)[:MAX_PROBLEMS]
        if not self.problems:
            raise ValueError("ImportFileError needs at least one problem")
        super().__init__(str(self.problems[0]))

    def __str__(self) -> str:
        first = str(self.problems[0])
        more = len(self.problems) - 1
        if more:
            return f"{first} (+{more} more)"
        return first


class ProblemCollector:
    """Collects a file's problems; ``check()`` raises them at the end."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(
        self,
        code: str,
        *,
        line: int | None = None,
        field: str | None = None,
        **params: Any,
    ) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(self.file, code, line, field, params))

    @property
    def full(self) -> bool:
        return len(self.problems) >= MAX_PROBLEMS

    def fail(
        self, code: str, *, line: int | None = None, field: str | None = None, **params: Any
    ) -> ImportFileError:
        """The error for a problem that ends reading the file at once."""
        self.add(code, line=line, field=field, **params)
        return ImportFileError(self.problems)

    def check(self) -> None:
        if self.problems:
            raise ImportFileError(self.problems)
