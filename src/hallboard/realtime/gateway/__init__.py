"""The WebSocket gateway: a lean asyncio server (the `websockets` library) around the pure hub.

Chosen by measurement (docs/realtime.md): the `websockets` library's own
server holds a connection in about half the memory of an ASGI stack and
connects several times faster, which the targets need; so the gateway has its
own listener, and ``hallboard serve`` runs it beside the web application.
"""
