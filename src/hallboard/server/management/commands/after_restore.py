"""``hallboard after-restore``: run once after restoring a database backup (docs/deploy.md).

Screens may be showing revisions made after the backup was taken. The
restored schools would reach those revision numbers again with other content,
and until then screens would take the restored (older) revision for old news
and keep what they show. This moves every school's revision forward by
``STEP``, past anything a screen can have seen unless more than ``STEP``
changes were made to a school between the backup and the restore, and
publishes the change: connected screens fetch the restored content at once,
the others with their next poll.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hallboard.realtime import publish
from hallboard.schools import revision
from hallboard.schools.models import School
from hallboard.server.dbready import require_migrated

#: How far revisions move: more changes than any school makes between a backup and a restore.
STEP = 1_000_000


class Command(BaseCommand):
    help = (
        "After restoring a backup: move every school's revision past anything a screen may "
        "show, so every screen fetches the restored content."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--step", type=int, default=STEP, help=f"How far to move (default {STEP:,})."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["step"] < 1:
            raise CommandError("--step must be at least 1.")
        require_migrated()
        school_ids = list(School.objects.values_list("pk", flat=True))
        revision.advance(school_ids, options["step"])
        self.stdout.write(
            f"Moved the revision of {len(school_ids)} schools forward by {options['step']:,}."
        )
        publish.flush(timeout=10.0)  # connected screens are told now, the others at their next poll
