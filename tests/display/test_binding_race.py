"""The binding race: many devices asking at once, exactly one wins."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from hallboard.screens.models import Screen
from tests.conftest import Tenant, make_screen
from tests.display.conftest import ScreenClient

DEVICES = 50


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_first_requests_bind_exactly_one_device(tenant: Tenant) -> None:
    """50 devices hit an unbound screen at once: one gets 200, 49 get 403 screen_bound."""
    screen, token = make_screen(tenant.school)
    barrier = threading.Barrier(DEVICES)

    def first_request(n: int) -> tuple[int, str | None]:
        try:
            client = ScreenClient(token, f"device-{n:04d}")
            barrier.wait(timeout=30)
            response = client.get("status")
            error = response.json().get("error") if response.status_code != 200 else None
            return response.status_code, error
        finally:
            connections.close_all()  # each thread has its own connection

    with ThreadPoolExecutor(max_workers=DEVICES) as pool:
        results = list(pool.map(first_request, range(DEVICES)))

    assert sorted(code for code, _ in results) == [200] + [403] * (DEVICES - 1)
    assert {error for code, error in results if code == 403} == {"screen_bound"}
    screen.refresh_from_db()
    winner = next(n for n, (code, _) in enumerate(results) if code == 200)
    assert screen.device_key == f"device-{winner:04d}"
    assert Screen.objects.filter(pk=screen.pk, device_key__isnull=False).count() == 1
