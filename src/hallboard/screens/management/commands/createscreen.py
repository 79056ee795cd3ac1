"""``hallboard createscreen --school SLUG --name NAME``: a new screen, its token shown once."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hallboard.schools.models import School
from hallboard.screens.models import Screen
from hallboard.server.dbready import require_migrated


class Command(BaseCommand):
    help = "Create a screen and print its token and display URL (shown once; stored hashed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--school", required=True, help="The school's slug.")
        parser.add_argument("--name", required=True)
        parser.add_argument("--location", default="")
        parser.add_argument(
            "--orientation", choices=Screen.Orientation.values, default=Screen.Orientation.LANDSCAPE
        )
        parser.add_argument("--json", action="store_true", help="Print JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated()
        school = School.objects.filter(slug=options["school"]).first()
        if school is None:
            raise CommandError(f"No school with slug {options['school']!r}.")
        screen = Screen.objects.create(
            school=school,
            name=options["name"],
            location=options["location"],
            orientation=options["orientation"],
        )
        token = screen.issue_token()
        url = f"{settings.PUBLIC_URL}/display/?token={token}"
        if options["json"]:
            self.stdout.write(json.dumps({"id": screen.pk, "token": token, "display_url": url}))
        else:
            self.stdout.write(f"Screen {screen.pk} '{screen.name}' in {school.name}.")
            self.stdout.write(f"Token (shown once): {token}\nDisplay URL: {url}")
