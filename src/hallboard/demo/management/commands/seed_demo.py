"""``hallboard seed-demo [--json]``: seed the demo data (if absent) and print credentials."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from hallboard.demo import seed
from hallboard.server.dbready import require_migrated


class Command(BaseCommand):
    help = (
        "Seed a demo district with two schools (once), then print fresh credentials for "
        "the demo's own rows: admin password, demo API keys and the demo screens' tokens "
        "(secrets are stored hashed, so each run issues new ones and the old ones stop "
        "working). Screens, users, keys and content you added are kept as they are."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON document and nothing else."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated()
        credentials = seed.seed()
        if options["json"]:
            self.stdout.write(json.dumps(credentials.as_json(), indent=2, ensure_ascii=False))
            return
        self.stdout.write(describe(credentials))


def what_was_reset(credentials: seed.Credentials) -> list[str]:
    """The lines a re-run prints: what it reset and what it kept."""
    if credentials.created:
        return []
    lines = [
        "The demo data was already there: kept it, and everything added since.",
        f"Reset: the password of {credentials.admin_username!r}, the demo's API keys "
        f"(the old ones are revoked) and the tokens of the demo's {credentials.reset_screens} "
        "screens (open their new URLs below; the old ones stop working).",
    ]
    if credentials.kept_screens:
        lines.append(
            f"Kept: the screens you added ({credentials.kept_screens}), with their tokens "
            "and devices (listed below without a URL)."
        )
    return lines


def describe(credentials: seed.Credentials, base_url: str | None = None) -> str:
    from django.conf import settings

    base = (base_url or settings.PUBLIC_URL).rstrip("/")
    lines = [
        "",
        "hallboard demo",
        "==============",
        *what_was_reset(credentials),
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
        for screen in school["kept_screens"]:
            lines.append(f"  screen {screen['id']:>3}  {screen['name']:<24} (yours: token kept)")
        lines.append("")
    return "\n".join(lines)
