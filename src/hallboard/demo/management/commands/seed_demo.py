"""``hallboard seed-demo [--json]``: seed the demo data (if absent) and print credentials."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from hallboard.demo import seed


class Command(BaseCommand):
    help = (
        "Seed a demo district with two schools (once), then print fresh credentials: "
        "admin password, API keys and screen tokens (secrets are stored hashed, so "
        "each run issues new ones and the old ones stop working)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON document and nothing else."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        existed = seed.is_seeded()
        credentials = seed.seed()
        if options["json"]:
            self.stdout.write(json.dumps(credentials.as_json(), indent=2, ensure_ascii=False))
            return
        if existed:
            self.stderr.write("Demo data already present: kept it and issued fresh credentials.")
        self.stdout.write(describe(credentials))


def describe(credentials: seed.Credentials, base_url: str | None = None) -> str:
    from django.conf import settings

    base = (base_url or settings.PUBLIC_URL).rstrip("/")
    lines = [
        "",
        "hallboard demo",
        "==============",
        f"Admin:     {base}/admin/   user {credentials.admin_username!r}"
        f"  password {credentials.admin_password!r}",
        f"API docs:  {base}/api/v1/docs   organisation API key: {credentials.api_key}",
        f"Screens:   {base}/staff/   (live dashboard; sign in as the admin first)",
        f"Health:    {base}/readyz   metrics: {base}/metrics (signed in, or METRICS_TOKEN)",
        "",
    ]
    for school in credentials.schools:
        lines.append(f"{school['name']} ({school['slug']})  API key: {school['api_key']}")
        for screen in school["screens"]:
            url = screen["display_url"].replace(settings.PUBLIC_URL, base, 1)
            lines.append(f"  screen {screen['id']:>3}  {screen['name']:<24} {url}")
        lines.append("")
    return "\n".join(lines)
