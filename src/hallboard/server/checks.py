"""Deployment checks (`hallboard check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def secret_key_is_set(app_configs: Any, **kwargs: Any) -> list[Warning]:
    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        return [
            Warning(
                "HALLBOARD_SECRET_KEY is not set: sessions and CSRF tokens use a public key.",
                hint="Set HALLBOARD_SECRET_KEY to a long random value (docs/configuration.md).",
                id="hallboard.W001",
            )
        ]
    return []
