"""The gateway's push sockets: an address that keeps presenting wrong tokens gets 1013."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.asyncio.client import connect

from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.gateway.server import Gateway
from tests.conftest import Tenant, make_screen, sample
from tests.realtime.conftest import TIMEOUT, closed_with, receive_type, url
from tests.realtime.gateway.test_server import in_thread

pytestmark = pytest.mark.django_db(transaction=True)


async def test_wrong_tokens_from_one_address_get_1013_even_for_a_right_one(
    gateway: Gateway, tenant: Tenant, settings: Any
) -> None:
    """After AUTH_FAILURE_RATE wrong tokens (4401 each), the address's next socket is refused
    with 1013 before its token is looked up, whatever the token; counted per kind."""
    settings.AUTH_FAILURE_RATE = "3/minute"
    _, token = await in_thread(make_screen, tenant.school)
    failures = sample("hallboard_auth_failures_total", kind="socket")
    for n in range(3):
        ws = await connect(url(gateway, f"guess-{n}"), open_timeout=TIMEOUT)
        assert await closed_with(ws) == CloseCode.INVALID_TOKEN
    assert sample("hallboard_auth_failures_total", kind="socket") == failures + 3
    ws = await connect(url(gateway, token), open_timeout=TIMEOUT)
    assert await closed_with(ws) == CloseCode.TRY_AGAIN_LATER
    assert ws.close_reason == "too many failed attempts; try again later"


async def test_right_tokens_are_never_counted(
    gateway: Gateway, tenant: Tenant, settings: Any
) -> None:
    """Screens that connect and reconnect with their token are not throttled."""
    settings.AUTH_FAILURE_RATE = "2/minute"
    _, token = await in_thread(make_screen, tenant.school)
    for _ in range(4):
        ws = await connect(url(gateway, token), open_timeout=TIMEOUT)
        await receive_type(ws, "hello")
        await ws.close()
