"""The soak, small: churning screens leave no descriptors behind."""

from __future__ import annotations

import asyncio

from reliability import soak
from reliability.stack import Stack

#: Descriptors a replica may hold more after the churn than before it (pooled connections,
#: a socket of Redis reconnected): a bound far below one per connection made.
FD_BOUND = 15


def test_churn_leaves_no_descriptor_behind(small_stack: Stack) -> None:
    """Screens connect, get their hello and leave (cleanly or abruptly) or poll, while a writer
    commits: afterwards the replica holds about as many descriptors as before, far fewer than
    the connections made, and logged no traceback."""
    result = asyncio.run(soak.churn(small_stack, seconds=8, workers=8, warmup=2, settle=3, seed=5))
    assert result["connections"] > 3 * FD_BOUND  # enough churn that a leak would show
    assert result["outcomes"].get("abrupt", 0) > 0
    replica = result["processes"]["replica-0"]["fds"]
    assert replica["settled"] - replica["start"] <= FD_BOUND, replica
    assert small_stack.tracebacks() == 0
