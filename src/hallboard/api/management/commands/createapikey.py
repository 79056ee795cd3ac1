"""``hallboard createapikey --org SLUG [--school SLUG] --role ROLE --name NAME``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hallboard.api.models import ApiKey
from hallboard.schools.models import Organisation, Role, School
from hallboard.server.dbready import require_migrated


class Command(BaseCommand):
    help = "Create a management API key; the key is printed once and stored only hashed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organisation slug.")
        parser.add_argument("--school", help="Limit the key to one school (slug).")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--name", required=True, help="What the key is for, e.g. 'MIS sync'.")

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated()
        organisation = Organisation.objects.filter(slug=options["org"]).first()
        if organisation is None:
            raise CommandError(f"No organisation with slug {options['org']!r}.")
        school = None
        if options["school"]:
            school = School.objects.filter(
                organisation=organisation, slug=options["school"]
            ).first()
            if school is None:
                raise CommandError(f"No school {options['school']!r} in {organisation.slug!r}.")
        _, secret = ApiKey.create(
            name=options["name"], organisation=organisation, school=school, role=options["role"]
        )
        self.stdout.write(secret)
