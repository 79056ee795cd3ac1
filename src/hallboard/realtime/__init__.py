"""Realtime push: a pure hub core, brokers, and the WebSocket gateway (docs/realtime.md)."""
