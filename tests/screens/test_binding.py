"""Device binding: the first device key binds a screen; others are refused unless the
screen allows several devices. (The race between devices: tests/display/test_binding_race.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from hallboard.screens.binding import Binding, bind_device
from hallboard.screens.models import Screen
from tests.conftest import Tenant, make_screen

pytestmark = pytest.mark.django_db


def test_the_first_device_binds_and_keeps_the_screen(tenant: Tenant) -> None:
    """Unbound: the device binds it (stored with a time); then the same device is
    recognised, another is refused."""
    screen, _ = make_screen(tenant.school)
    assert bind_device(screen, "device-0001") is Binding.BOUND_NOW
    stored = Screen.objects.get(pk=screen.pk)
    assert stored.device_key == "device-0001"
    assert stored.bound_at is not None
    assert bind_device(stored, "device-0001") is Binding.SAME_DEVICE
    assert bind_device(stored, "device-0002") is Binding.REFUSED
    assert not Binding.REFUSED.allowed
    assert Binding.SAME_DEVICE.allowed


def test_a_multi_device_screen_lets_others_in_without_rebinding(
    tenant: Tenant, settings: Any
) -> None:
    """A screen that allows several devices keeps its first binding and lets others use it;
    the install's default applies unless the screen says otherwise."""
    screen, _ = make_screen(tenant.school, allow_multi_device=True)
    bind_device(screen, "device-0001")
    assert bind_device(screen, "device-0002") is Binding.MULTI_DEVICE
    assert Screen.objects.get(pk=screen.pk).device_key == "device-0001"
    settings.DISPLAY_ALLOW_MULTI_DEVICE = True
    default, _ = make_screen(tenant.school, name="Default")
    bind_device(default, "device-0001")
    assert bind_device(default, "device-0002") is Binding.MULTI_DEVICE


def test_a_screen_bound_meanwhile_is_seen(tenant: Tenant) -> None:
    """A stale copy that still looks unbound: the conditional UPDATE loses, the binding
    is read back, and the device is judged against it."""
    screen, _ = make_screen(tenant.school)
    stale = Screen.objects.get(pk=screen.pk)
    bind_device(Screen.objects.get(pk=screen.pk), "device-0001")  # another request won
    assert bind_device(stale, "device-0002") is Binding.REFUSED
    stale_again = Screen.objects.get(pk=screen.pk)
    stale_again.device_key = None
    assert bind_device(stale_again, "device-0001") is Binding.SAME_DEVICE


def test_a_reset_binding_lets_the_next_device_bind(
    tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    """After a reset the next device binds the screen; the reset is announced after the
    commit (binding_reset: the status fast path forgets the screen)."""
    from hallboard.screens.models import binding_reset

    screen, _ = make_screen(tenant.school)
    bind_device(screen, "device-0001")
    heard: list[int] = []

    def listener(screen_id: int, **_: Any) -> None:
        heard.append(screen_id)

    binding_reset.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            screen.reset_binding()
            assert heard == []  # not before the commit
    finally:
        binding_reset.disconnect(listener)
    assert heard == [screen.pk]
    assert bind_device(Screen.objects.get(pk=screen.pk), "device-0002") is Binding.BOUND_NOW
