"""The load test's trigger for the seeds' stack: bump the revision, then ``group_send``.

The revision is bumped through hallboard's own code in a transaction (as the
``db`` trigger does); after the commit, one ``group_send("school_<id>",
{"type": "push.invalidate", "rev": N})`` per school through the same
``RedisChannelLayer`` configuration the server uses: the seeds' publish path.
Use it as ``hallboard loadtest run --trigger bench.seeds_stack.trigger:ChannelsTrigger``
with ``BENCH_REDIS_URL`` set.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from channels_redis.core import RedisChannelLayer
from django.db import transaction

from hallboard.loadtest.deliveries import Edit
from hallboard.loadtest.fleet import Fleet
from hallboard.loadtest.triggers import Database, revisions


def _bump(school_ids: Sequence[int]) -> list[Edit]:
    from hallboard.schools import revision

    with transaction.atomic():
        revision.touch(school_ids)
        revs = revisions(school_ids)
        ts = time.time()
    return [Edit(sid, revs[sid], ts) for sid in school_ids]


class ChannelsTrigger:
    name = "channels"

    def __init__(self) -> None:
        self.db = Database()
        self.layer = RedisChannelLayer(
            hosts=[
                {
                    "address": os.environ["BENCH_REDIS_URL"],
                    "socket_timeout": None,
                    "max_connections": 2**31 - 1,
                }
            ]
        )
        self.last_publish_s: float | None = None

    async def start(self, fleet: Fleet) -> None:
        return None

    async def edit(self, school_ids: Sequence[int]) -> list[Edit]:
        edits: list[Edit] = await self.db.run(_bump, list(school_ids))
        for edit in edits:
            await self.layer.group_send(
                f"school_{edit.school}", {"type": "push.invalidate", "rev": edit.rev}
            )
        self.last_publish_s = time.time() - edits[0].ts if edits else None
        return edits

    async def set_push(self, school_ids: Sequence[int], on: bool) -> list[Edit]:
        raise NotImplementedError("the seeds' stack has no push flags")

    async def close(self) -> None:
        self.db.close()
