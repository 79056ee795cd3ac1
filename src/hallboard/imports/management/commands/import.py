"""``hallboard import FILES… --school SLUG``: import timetable exports from the command line.

FILES are Untis GPU files, Untis monitor pages, hallboard CSV files, or folders
holding them (read like a watched folder). ``--dry-run`` shows the difference
and changes nothing. A progress bar shows on large inputs, a summary table at
the end. The exit status is 1 when the files have problems (nothing was then
imported), 0 otherwise. See docs/import.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console

from hallboard.imports import report
from hallboard.imports.detect import FAMILIES
from hallboard.imports.errors import ImportFileError
from hallboard.imports.models import ImportRun
from hallboard.imports.plan import UNKNOWN_POLICIES, ImportOptions
from hallboard.imports.service import run_import
from hallboard.imports.sources import read_folder
from hallboard.schools.models import School


def read_paths(paths: list[str]) -> list[tuple[str, bytes]]:
    """The files named, with each folder's importable files (``ImportFileError`` if unreadable)."""
    files: list[tuple[str, bytes]] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            fetched = read_folder(path, settle=0)
            files += [(str(Path(name) / n), data) for n, data in fetched.files]
            continue
        try:
            files.append((name, path.read_bytes()))
        except OSError as exc:
            from hallboard.imports.errors import Problem

            raise ImportFileError(
                [Problem(name, "source_unreachable", params={"detail": exc.strerror or str(exc)})]
            ) from None
    return files


class Command(BaseCommand):
    help = (
        "Import Untis GPU files, Untis monitor pages (subst_NNN.htm) or hallboard CSV into a "
        "school: all or nothing, only what changed, one revision bump."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="Files or folders.")
        parser.add_argument("--school", required=True, help="The school's slug.")
        parser.add_argument("--format", choices=FAMILIES, default="auto")
        parser.add_argument(
            "--dry-run", action="store_true", help="Show the difference, change nothing."
        )
        parser.add_argument(
            "--unknown",
            choices=UNKNOWN_POLICIES,
            default="create",
            help="Classes, subjects, teachers, rooms not in the master data: create them "
            "(default) or report them and leave their rows out.",
        )
        parser.add_argument(
            "--overwrite-edited",
            action="store_true",
            help="Take the import's values also for imported rows a person edited since.",
        )
        parser.add_argument(
            "--difference",
            action="store_true",
            help="List the rows added, changed, removed (always with --dry-run).",
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        school = School.objects.filter(slug=options["school"]).first()
        if school is None:
            raise CommandError(f"No school with the slug {options['school']!r}.")
        console = Console(file=self.stdout, highlight=False, soft_wrap=True)  # type: ignore[arg-type]
        try:
            files = read_paths(options["files"])
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        size = sum(len(d) for _, d in files)
        large = size >= report.LARGE_BYTES or len(files) >= report.LARGE_FILES
        show = large and not options["no_progress"] and not options["json"]
        with report.progress_bar(Console(file=sys.stderr), len(files), show) as progress:
            outcome = run_import(
                school,
                files,
                origin=ImportRun.Origin.CLI,
                format=options["format"],
                dry_run=options["dry_run"],
                options=ImportOptions(
                    unknown=options["unknown"], overwrite_edited=options["overwrite_edited"]
                ),
                progress=progress,
            )
        if options["json"]:
            self.stdout.write(json.dumps(outcome.as_json(), default=str, ensure_ascii=False))
        else:
            report.print_outcome(
                console, outcome, show_difference=options["dry_run"] or options["difference"]
            )
        if not outcome.ok:
            raise CommandError("the import failed; nothing was changed", returncode=1)
