"""Device binding: the first device key presented binds a screen, atomically.

One conditional UPDATE (``... WHERE id = ? AND device_key IS NULL``) decides the
race between devices: exactly one wins, however many ask at once, on SQLite and
PostgreSQL alike. A screen that allows several devices is never refused.
"""

from __future__ import annotations

import enum

from django.utils import timezone

from hallboard.screens.models import Screen


class Binding(enum.Enum):
    BOUND_NOW = "bound_now"  # this device just bound the unbound screen
    SAME_DEVICE = "same_device"  # already bound to this device
    MULTI_DEVICE = "multi_device"  # another device holds it, but the screen allows several
    REFUSED = "refused"  # bound to another device: 403 screen_bound / close 4403

    @property
    def allowed(self) -> bool:
        return self is not Binding.REFUSED


def bind_device(screen: Screen, device_key: str) -> Binding:
    """Bind ``screen`` to ``device_key`` if unbound, and say whether the device may use it."""
    if screen.device_key == device_key:
        return Binding.SAME_DEVICE
    if screen.device_key is None:
        now = timezone.now()
        won = Screen.objects.filter(pk=screen.pk, device_key__isnull=True).update(
            device_key=device_key, bound_at=now
        )
        if won:
            screen.device_key, screen.bound_at = device_key, now
            return Binding.BOUND_NOW
        # Lost the race: somebody bound it between our read and our update.
        screen.device_key = (
            Screen.objects.filter(pk=screen.pk).values_list("device_key", flat=True).first()
        )
        if screen.device_key == device_key:
            return Binding.SAME_DEVICE
    return Binding.MULTI_DEVICE if screen.multi_device_allowed else Binding.REFUSED
