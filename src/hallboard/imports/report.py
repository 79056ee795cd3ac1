"""An import told to a person on a terminal (rich): the summary table, the difference, problems.

Used by ``hallboard import`` and ``hallboard watch``. The words come from the
gettext catalogs like everything people read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.utils.translation import gettext as _
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hallboard.imports.plan import KINDS
from hallboard.imports.service import Outcome
from hallboard.imports.service import Progress as ProgressCallback

#: Inputs at least this large get a progress bar (bytes, or files).
LARGE_BYTES = 512 * 1024
LARGE_FILES = 10


def kind_names() -> dict[str, str]:
    return {
        "classes": _("Classes"),
        "subjects": _("Subjects"),
        "teachers": _("Teachers"),
        "rooms": _("Rooms"),
        "lessons": _("Lessons"),
        "substitutions": _("Substitutions"),
        "holidays": _("Holidays"),
        "announcements": _("Announcements"),
        "week_labels": _("Week labels"),
    }


def step_names() -> dict[str, str]:
    return {"read": _("Reading files"), "plan": _("Comparing"), "apply": _("Writing")}


@contextmanager
def progress_bar(
    console: Console, total_files: int, enabled: bool
) -> Iterator[ProgressCallback | None]:
    """A progress bar over reading, comparing and writing; None when not wanted."""
    if not enabled:
        yield None
        return
    names = step_names()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(names.get(step, step), total=total or 1)
            bar.update(tasks[step], completed=done, total=total or 1)

        update("read", 0, total_files)
        yield update


def summary_table(outcome: Outcome) -> Table:
    table = Table(title=_("Import into %(school)s") % {"school": outcome.run.school.name})
    table.add_column(_("Kind"))
    for column in (_("added"), _("changed"), _("removed"), _("unchanged"), _("conflicts")):
        table.add_column(column, justify="right")
    counts = outcome.run.summary.get("counts", {})
    names = kind_names()
    for kind in KINDS:
        row = counts.get(kind)
        if not row or not any(row.values()):
            continue
        table.add_row(
            names[kind],
            *(str(row[c]) for c in ("added", "changed", "removed", "unchanged", "conflicts")),
        )
    return table


def problems_table(problems: list[dict[str, Any]], title: str) -> Table:
    """Problems of one file: line, field, problem (the file is printed above, whole)."""
    table = Table(title=title)
    for column in (_("Line"), _("Field"), _("Problem")):
        table.add_column(column)
    for p in problems:
        table.add_row(
            str(p.get("line") or ""),
            str(p.get("field") or ""),
            str(p.get("message") or p.get("code")),
        )
    return table


def print_problems(console: Console, problems: list[dict[str, Any]], title: str) -> None:
    """Problems grouped by file, each file's name on a line of its own and never shortened
    (a table cell would cut a long path in a narrow terminal)."""
    files: dict[str, list[dict[str, Any]]] = {}
    for p in problems:
        files.setdefault(str(p.get("file") or "-"), []).append(p)
    console.print(title, markup=False)
    for name, items in files.items():
        console.print(name, soft_wrap=True, markup=False, highlight=False, overflow="ignore")
        console.print(problems_table(items, ""))


def difference_table(outcome: Outcome, limit: int = 30) -> Table:
    table = Table(title=_("Difference"), show_lines=False)
    table.add_column(_("Kind"))
    table.add_column("")
    table.add_column(_("What"))
    marks = {"added": "+", "changed": "~", "removed": "-", "conflicts": "!"}
    names = kind_names()
    for kind, lists in outcome.difference().items():
        for name, mark in marks.items():
            for item in lists.get(name, [])[:limit]:
                what = item["what"]
                if item.get("fields"):
                    what += (
                        "  ("
                        + "; ".join(
                            f"{f}: {old} → {new}" for f, (old, new) in item["fields"].items()
                        )
                        + ")"
                    )
                if item.get("reason") and name == "conflicts":
                    what += f"  [{item['reason']}]"
                table.add_row(names.get(kind, kind), mark, what)
    return table


def status_line(outcome: Outcome) -> str:
    run = outcome.run
    if run.status == run.Status.FAILED:
        return _("Nothing was imported: the files have problems (below).")
    if run.status == run.Status.PREVIEW:
        return _("Dry run: nothing was changed.")
    if run.status == run.Status.UNCHANGED:
        return _("Nothing changed (revision %(revision)s).") % {"revision": run.revision_after}
    return _("Imported: revision %(before)s → %(after)s.") % {
        "before": run.revision_before,
        "after": run.revision_after,
    }


def print_outcome(console: Console, outcome: Outcome, *, show_difference: bool) -> None:
    run = outcome.run
    if run.status == run.Status.FAILED:
        console.print(status_line(outcome))
        print_problems(console, run.problems, _("Problems"))
        return
    console.print(summary_table(outcome))
    unknown = run.summary.get("unknown") or {}
    if unknown:
        names = kind_names()
        for kind, codes in unknown.items():
            console.print(
                _("Unknown %(kind)s (%(policy)s): %(codes)s")
                % {
                    "kind": names.get(kind, kind),
                    "policy": run.summary.get("unknown_policy", ""),
                    "codes": ", ".join(f"{code} ({n})" for code, n in codes.items()),
                }
            )
    notes = run.summary.get("notes") or []
    if notes:
        print_problems(console, notes[:50], _("Notes"))
    if show_difference:
        console.print(difference_table(outcome))
    console.print(status_line(outcome))
