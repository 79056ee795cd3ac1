"""The ``hallboard`` command: Django's management commands under one name.

``hallboard demo``, ``hallboard seed-demo``, ``hallboard serve`` and
``hallboard createscreen`` are management commands of the hallboard apps;
every other Django command (``migrate``, ``createsuperuser``, ...) works too.
``hallboard init-secrets DIR`` runs without Django (hallboard.server.secretfiles).
Hyphens in the command name are accepted for underscores (``seed-demo``).

A command that fails because the database has not been migrated (any
command: ``createsuperuser`` before ``migrate``, say) ends with "run
`hallboard migrate` first" instead of a traceback; so does a setting that
cannot be read (``HALLBOARD_SECRET_KEY_FILE`` naming a missing file).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hallboard.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db import DatabaseError

    args = list(sys.argv if argv is None else argv)
    args[0] = "hallboard"
    if len(args) > 1 and not args[1].startswith("-"):
        args[1] = args[1].replace("-", "_")
    if len(args) > 1 and args[1] == "init_secrets":
        # Before Django: the settings read the secrets this command makes.
        from hallboard.server import secretfiles

        raise SystemExit(secretfiles.main(args[2:]))
    try:
        execute_from_command_line(args)
    except ImproperlyConfigured as exc:
        if "--traceback" in args:
            raise
        sys.stderr.write(f"hallboard: configuration error: {exc}\n")
        raise SystemExit(2) from exc
    except DatabaseError as exc:
        from hallboard.server.dbready import explain

        sentence = explain(exc)
        if sentence is None or "--traceback" in args:
            raise
        sys.stderr.write(f"hallboard: {sentence}\n")
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
