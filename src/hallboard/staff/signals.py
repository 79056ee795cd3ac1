"""Data changes that live dashboards show, connected to staff frames (``frames``).

Heartbeats and binding resets are told from where they happen (the heartbeat
view, the API and admin actions): they are plain UPDATEs that send no signal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from hallboard.schools.revision import revisions_committed
from hallboard.screens.models import PairingCode, Screen, credentials_changed
from hallboard.staff import frames


def _school_of(screen_id: int) -> int | None:
    return Screen.objects.filter(pk=screen_id).values_list("school_id", flat=True).first()


@receiver(revisions_committed, dispatch_uid="staff-revision")
def _revisions(revisions: Mapping[int, int], **_: Any) -> None:
    frames.revisions(revisions)


@receiver(pre_save, sender=Screen, dispatch_uid="staff-screen-moving")
def _remember_school(instance: Screen, raw: bool = False, **_: Any) -> None:
    # A screen moved to another school leaves the old school's dashboard.
    if raw or instance._state.adding:
        return
    before = Screen.objects.filter(pk=instance.pk).values_list("school_id", flat=True).first()
    instance._staff_school_before = before  # type: ignore[attr-defined]


@receiver(post_save, sender=Screen, dispatch_uid="staff-screen-saved")
def _screen_saved(instance: Screen, raw: bool = False, **_: Any) -> None:
    if raw:
        return
    before = getattr(instance, "_staff_school_before", None)
    if before is not None and before != instance.school_id:
        frames.screen_event(before, instance.pk, "deleted")
    frames.screen_event(instance.school_id, instance.pk, "changed")


@receiver(post_delete, sender=Screen, dispatch_uid="staff-screen-deleted")
def _screen_deleted(instance: Screen, **_: Any) -> None:
    frames.screen_event(instance.school_id, instance.pk, "deleted")


@receiver(credentials_changed, dispatch_uid="staff-credentials")
def _credentials_changed(screen_id: int, **_: Any) -> None:
    # Sent after the commit that rotated or revoked the token.
    school_id = _school_of(screen_id)
    if school_id is not None:
        frames.screen_event(school_id, screen_id, "token")


@receiver(post_save, sender=PairingCode, dispatch_uid="staff-pairing")
def _pairing(instance: PairingCode, raw: bool = False, **_: Any) -> None:
    # Claimed by an admin, then picked up by the display (which binds it).
    if raw or instance.screen_id is None:
        return
    school_id = _school_of(instance.screen_id)
    if school_id is not None:
        frames.screen_event(school_id, instance.screen_id, "binding")
