"""How hallboard runs under uvicorn (hallboard.server.uvicorn_config)."""

from __future__ import annotations

from hallboard.server.uvicorn_config import ServeOptions, uvicorn_kwargs


def test_uvicorn_configuration() -> None:
    """serve runs the one ASGI app with no access log, no deflate, a large backlog, our logging."""
    kwargs = uvicorn_kwargs(ServeOptions(host="0.0.0.0", port=9000, workers=2))  # noqa: S104
    assert kwargs["app"] == "hallboard.asgi:application"
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("0.0.0.0", 9000, 2)  # noqa: S104
    assert kwargs["access_log"] is False  # display URLs carry tokens
    assert kwargs["ws_per_message_deflate"] is False
    assert kwargs["backlog"] >= 1024
    assert kwargs["log_config"] is None  # uvicorn's records use settings.LOGGING's format
