"""Connect data changes to publishing, always after the transaction commits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from hallboard.alerts.delivery import top_alerts
from hallboard.alerts.models import Alert
from hallboard.realtime import publish
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.schools.models import School
from hallboard.schools.revision import revisions_committed
from hallboard.screens.models import Command, PushSettings, Screen, credentials_changed


@receiver(revisions_committed, dispatch_uid="realtime-invalidate")
def _invalidate(revisions: Mapping[int, int], **_: Any) -> None:
    publish.invalidate_many(revisions)


@receiver(post_save, sender=Alert, dispatch_uid="realtime-alert-saved")
@receiver(post_delete, sender=Alert, dispatch_uid="realtime-alert-deleted")
def _alert_changed(instance: Alert, **kwargs: Any) -> None:
    schools = dict(
        School.objects.filter(pk__in=instance.affected_school_ids()).values_list(
            "pk", "organisation_id"
        )
    )
    alert_id = instance.pk
    ended = "created" not in kwargs or instance.cleared_at is not None  # deleted, or cleared

    def send() -> None:
        # One event per school, carrying what that school's screens must show
        # now (its most severe active alert), so a gateway needs no query and a
        # display can show it at once. Alerts are rare; N publishes are cheap.
        shown = top_alerts(schools, timezone.now())
        for school_id in sorted(schools):
            publish.alert_changed(school_id, shown[school_id], alert_id if ended else None)

    transaction.on_commit(send, robust=True)


@receiver(post_save, sender=Command, dispatch_uid="realtime-command")
def _command_created(instance: Command, created: bool, **_: Any) -> None:
    if created:
        transaction.on_commit(
            lambda: publish.command(
                instance.screen_id, instance.pk, instance.name, dict(instance.payload)
            ),
            robust=True,
        )


@receiver(credentials_changed, dispatch_uid="realtime-credentials")
def _credentials_changed(screen_id: int, **_: Any) -> None:
    publish.close_screen(screen_id, CloseCode.INVALID_TOKEN)


@receiver(post_delete, sender=Screen, dispatch_uid="realtime-screen-deleted")
def _screen_deleted(instance: Screen, **_: Any) -> None:
    screen_id = instance.pk
    transaction.on_commit(
        lambda: publish.close_screen(screen_id, CloseCode.INVALID_TOKEN), robust=True
    )


@receiver(post_save, sender=PushSettings, dispatch_uid="realtime-flags")
@receiver(post_save, sender=School, dispatch_uid="realtime-school-flags")
def _flags_changed(**_: Any) -> None:
    # Every gateway re-checks its screens and closes those now off with 4409.
    transaction.on_commit(publish.flags_changed, robust=True)
