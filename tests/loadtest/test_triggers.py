"""The db trigger finds the server's broker as every publisher does (``configured_url``)."""

from __future__ import annotations

from typing import Any

import pytest

from hallboard.loadtest.fleet import Fleet
from hallboard.loadtest.triggers import DbTrigger, TriggerError

FLEET = Fleet("lt", 1, {}, {}, [], "key")


async def start(**flags: Any) -> None:
    trigger = DbTrigger(**flags)
    try:
        await trigger.start(FLEET)
    finally:
        await trigger.close()


@pytest.mark.parametrize(
    ("broker_url", "redis_url"),
    [
        ("redis+cluster://127.0.0.1:7000,127.0.0.1:7001", ""),  # a cluster, no REDIS_URL
        ("", "redis://127.0.0.1:6390/0"),
    ],
)
async def test_a_broker_that_reaches_the_server_is_enough(
    settings: Any, broker_url: str, redis_url: str
) -> None:
    """HALLBOARD_BROKER_URL (a Redis Cluster) or REDIS_URL: either reaches the server's
    process, and the trigger starts."""
    settings.BROKER_URL, settings.REDIS_URL = broker_url, redis_url
    await start()


@pytest.mark.parametrize("broker_url", ["", "memory://"])
async def test_the_in_process_broker_cannot_reach_another_process(
    settings: Any, broker_url: str
) -> None:
    """With the default settings (or memory://) an edit here never reaches a server in
    another process: refused at the start, naming both settings."""
    settings.BROKER_URL, settings.REDIS_URL = broker_url, ""
    with pytest.raises(TriggerError, match="HALLBOARD_BROKER_URL or REDIS_URL"):
        await start()


async def test_a_gateway_in_this_process_needs_no_broker(settings: Any) -> None:
    """The default settings work when the gateway runs in this process (the in-process bus)."""
    settings.BROKER_URL, settings.REDIS_URL = "", ""
    await start(same_process=True)
