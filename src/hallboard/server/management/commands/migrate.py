"""``hallboard migrate``: Django's migrate, one process at a time.

Replicas that start together (``hallboard serve --migrate``, a compose file
with two web services) all run this: the first takes the migration lock
(``hallboard.server.dbready.migration_lock``) and migrates, the others wait
for it and then find nothing left to apply.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import migrate

from hallboard.server.dbready import migration_lock


class Command(migrate.Command):
    help = f"{migrate.Command.help} Holds a lock: concurrent runs apply each migration once."

    def handle(self, *args: Any, **options: Any) -> None:
        def waiting() -> None:
            if options["verbosity"] >= 1:
                self.stdout.write("Another process is migrating this database: waiting for it.")

        with migration_lock(options["database"], waiting):
            super().handle(*args, **options)
