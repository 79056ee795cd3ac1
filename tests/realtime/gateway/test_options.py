"""The gateway's options and the part of them the node gets (realtime.gateway.options)."""

from __future__ import annotations

import dataclasses

import pytest

from hallboard.realtime.core import node
from hallboard.realtime.gateway import staff
from hallboard.realtime.gateway.options import GatewayOptions


def test_the_node_gets_every_one_of_its_options_from_the_gateways() -> None:
    """Each node option the gateway also has is handed over with the gateway's value."""
    options = GatewayOptions(
        coalesce_window=0.5,
        heartbeat_s=11,
        ping_interval=7.0,
        slow_after=3.0,
        max_connections=42,
        staff_max_age=60.0,
    )
    given = options.node()
    assert isinstance(given, node.Options)
    assert (
        given.coalesce_window,
        given.heartbeat_s,
        given.ping_interval,
        given.slow_after,
        given.max_connections,
        given.staff_max_age,
    ) == (0.5, 11, 7.0, 3.0, 42, 60.0)


def test_no_node_option_the_gateway_has_is_left_behind() -> None:
    """Every field the two share is passed on (a new shared option cannot be forgotten)."""
    gateway_fields = {f.name for f in dataclasses.fields(GatewayOptions)}
    node_fields = {f.name for f in dataclasses.fields(node.Options)}
    shared = gateway_fields & node_fields
    options = GatewayOptions()
    changed = GatewayOptions(
        **{name: getattr(options, name) * 2 for name in shared}  # all numeric
    ).node()
    for name in shared:
        assert getattr(changed, name) == getattr(options, name) * 2, name


def test_the_defaults_agree_with_the_node_and_the_staff_sockets() -> None:
    """Without settings the gateway behaves like the node's defaults, on the staff path."""
    options = GatewayOptions()
    assert options.node() == node.Options()
    assert options.staff_path == staff.PATH
    assert options.staff_max_age == staff.MAX_AGE
    assert options.host == "127.0.0.1"
    assert not options.reuse_port


def test_options_are_immutable() -> None:
    """Options are fixed once the gateway starts."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        GatewayOptions().port = 9  # type: ignore[misc]
