"""Push flags through the API: operators switch push install-wide; school admins per school."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import Client

from hallboard.schools.models import School
from hallboard.screens.models import PushSettings
from tests.conftest import KeyFactory, Tenant


def test_operator_switches_push_off_and_sets_the_rollout(tenant: Tenant) -> None:
    """A superuser session changes the install-wide switch and percentage; it is stored."""
    root = get_user_model().objects.create_superuser("root", "r@example.org", "a-long-password")
    client = Client()
    client.force_login(root)
    assert client.get("/api/v1/push").json() == {"enabled": True, "rollout_percent": 100}
    changed = client.patch("/api/v1/push", {"rollout_percent": 25}, content_type="application/json")
    assert changed.json() == {"enabled": True, "rollout_percent": 25}
    client.patch("/api/v1/push", {"enabled": False}, content_type="application/json")
    flags = PushSettings.current()
    assert (flags.enabled, flags.rollout_percent) == (False, 25)
    bad = client.patch("/api/v1/push", {"rollout_percent": 101}, content_type="application/json")
    assert bad.status_code == 422


def test_api_keys_cannot_change_install_wide_push(tenant: Tenant, api_as: KeyFactory) -> None:
    """An organisation admin key may read but not change the install-wide switch."""
    client = api_as("admin", school=None)
    assert client.get("push").status_code == 200
    assert client.patch("push", {"enabled": False}).status_code == 403
    assert PushSettings.current().enabled is True


def test_school_admin_sets_the_school_override(tenant: Tenant, api_as: KeyFactory) -> None:
    """A school admin turns push off for the school; other roles may not."""
    assert api_as("office").put("schools/alpha/push", {"push": "off"}).status_code == 403
    assert api_as("admin").put("schools/alpha/push", {"push": "off"}).json() == {"push": "off"}
    assert School.objects.get(pk=tenant.school.pk).push == "off"
    assert api_as("admin").put("schools/beta/push", {"push": "off"}).status_code == 404
