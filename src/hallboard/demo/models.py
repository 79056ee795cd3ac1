"""Which rows are the demo's own: re-running the demo touches those and nothing else."""

from __future__ import annotations

from django.db import models

from hallboard.screens.models import Screen


class SeededScreen(models.Model):
    """A screen the demo created. Each demo run issues it a fresh token to print;
    screens people add to the demo schools keep theirs."""

    screen = models.OneToOneField(
        Screen, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"demo screen {self.screen_id}"
