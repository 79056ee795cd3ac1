"""The display consumer of the seeds' design: a group per school, invalidations from the layer."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from hallboard.screens.binding import Binding, bind_device
from hallboard.screens.models import Screen
from hallboard.screens.tokens import hash_token


@database_sync_to_async
def authenticate(token: str, device_key: str) -> tuple[int, int, int] | int:
    """(screen, school, revision), or the close code to refuse with."""
    screen = (
        Screen.objects.select_related("school")
        .only("id", "device_key", "allow_multi_device", "school__id", "school__revision")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if screen is None:
        return 4401
    if bind_device(screen, device_key) is Binding.REFUSED:
        return 4403
    return screen.pk, screen.school_id, screen.school.revision


class DisplayConsumer(AsyncWebsocketConsumer):
    group = ""

    async def connect(self) -> None:
        query = urllib.parse.parse_qs(self.scope["query_string"].decode())
        token, device_key = query.get("token", [""])[0], query.get("dk", [""])[0]
        if not token or not device_key:
            await self.close(code=4400)
            return
        found = await authenticate(token, device_key)
        if isinstance(found, int):
            await self.close(code=found)
            return
        screen_id, school_id, rev = found
        self.group = f"school_{school_id}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        hello = {"type": "hello", "rev": rev, "screen": screen_id, "heartbeat_s": 30}
        await self.send(text_data=json.dumps(hello))

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = json.loads(text_data or "")
        except ValueError:
            await self.close(code=1008)
            return
        if isinstance(message, dict) and message.get("type") == "ping":
            await self.send(text_data='{"type":"pong"}')

    async def push_invalidate(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "invalidate", "rev": event["rev"]}))
