"""``hallboard watch``: check the schools' watched sources and import what changed.

Runs until stopped (Ctrl-C, SIGTERM), looking every ``--tick`` seconds for
sources that are due; ``--once`` checks each enabled source once now and
exits (for cron). Safe beside ``hallboard serve`` processes that run the same
scheduler: each check is claimed by one process. See docs/import.md.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rich.console import Console
from rich.table import Table

from hallboard.imports.models import WatchedSource
from hallboard.imports.watch import Watcher, check_source, claim


class Command(BaseCommand):
    help = "Check the schools' watched folders and addresses and import what changed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="Check every enabled source once now, then exit."
        )
        parser.add_argument("--school", help="Only this school's source (with --once).")
        parser.add_argument(
            "--tick",
            type=float,
            default=None,
            help="Seconds between looks for due sources (HALLBOARD_IMPORT_WATCH_TICK_SECONDS).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            self.once(options["school"])
            return
        if options["school"]:
            raise CommandError("--school needs --once")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        tick = options["tick"] or settings.IMPORT_WATCH_TICK_SECONDS
        self.stdout.write(f"Watching import sources every {tick:g} s. Stop with Ctrl-C.\n")
        watcher = Watcher(stop, tick=tick)
        watcher.start()
        while watcher.is_alive():
            watcher.join(timeout=0.5)

    def once(self, slug: str | None) -> None:
        sources = WatchedSource.objects.filter(enabled=True).select_related("school")
        if slug:
            sources = sources.filter(school__slug=slug)
        table = Table(title="Watched sources")
        for column in ("School", "Source", "Result", "Reason"):
            table.add_column(column)
        failed = 0
        for source in sources.order_by("school__slug"):
            now = timezone.now()
            source.next_check_at = None  # --once checks now, due or not
            WatchedSource.objects.filter(pk=source.pk).update(next_check_at=None)
            if not claim(source, now):
                continue
            result = check_source(source, now=now)
            failed += result.outcome == "failed"
            table.add_row(source.school.slug, source.location, result.outcome, result.reason)
        Console(file=self.stdout, soft_wrap=True).print(table)  # type: ignore[arg-type]
        if failed:
            raise CommandError(f"{failed} source(s) failing", returncode=1)
