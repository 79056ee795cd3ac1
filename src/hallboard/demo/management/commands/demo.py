"""``hallboard demo``: migrate, seed, print where to click, and serve on the embedded default."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from hallboard.demo import seed
from hallboard.demo.management.commands.seed_demo import describe
from hallboard.server.runner import run
from hallboard.server.uvicorn_config import ServeOptions


class Command(BaseCommand):
    help = "Run the demo: migrate, seed demo data (once), print credentials and URLs, serve."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-serve", action="store_true", help="Prepare and print, but do not serve."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        credentials = seed.seed()
        self.stdout.write(describe(credentials, f"http://{options['host']}:{options['port']}"))
        if options["no_serve"]:
            return
        self.stdout.write("Serving. Stop with Ctrl-C.\n")
        self.stdout.flush()
        run(ServeOptions(host=options["host"], port=options["port"]))
