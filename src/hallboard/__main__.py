"""The ``hallboard`` command: Django's management commands under one name.

``hallboard demo``, ``hallboard seed-demo``, ``hallboard serve`` and
``hallboard createscreen`` are management commands of the hallboard apps;
every other Django command (``migrate``, ``createsuperuser``, ...) works too.
Hyphens in the command name are accepted for underscores (``seed-demo``).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hallboard.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    args[0] = "hallboard"
    if len(args) > 1 and not args[1].startswith("-"):
        args[1] = args[1].replace("-", "_")
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
