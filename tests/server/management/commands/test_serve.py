"""`hallboard serve`: a real server process (its uvicorn settings: test_uvicorn_config.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
        return int(response.status)


@pytest.mark.skipif("DATABASE_URL" in os.environ, reason="uses its own SQLite data directory")
def test_serve_answers_admin_and_static_files(tmp_path: Path) -> None:
    """A real `hallboard serve` process serves the admin login and its static CSS."""
    env = {**os.environ, "HALLBOARD_DATA_DIR": str(tmp_path)}
    hallboard = [sys.executable, "-m", "hallboard"]
    subprocess.run([*hallboard, "migrate", "-v0"], env=env, check=True, timeout=120)  # noqa: S603
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our own command on loopback
        [*hallboard, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90  # start-up on a loaded 2-core machine, not a timing
        while time.monotonic() < deadline:
            try:
                status = _get(f"{base}/admin/login/")
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(server.stderr.read().decode() if server.stderr else "exited")
                time.sleep(0.05)
        else:
            pytest.fail("hallboard serve did not answer")
        assert status == 200
        assert _get(f"{base}/static/admin/css/base.css") == 200
    finally:
        server.terminate()
        server.wait(timeout=15)
        if server.stderr:
            server.stderr.close()


def test_deploy_check_warns_about_the_development_key(settings: object) -> None:
    """`hallboard check --deploy` warns while the default secret key is in use."""
    from hallboard.server.checks import secret_key_is_set

    settings.SECRET_KEY = settings.DEVELOPMENT_SECRET_KEY  # type: ignore[attr-defined]
    assert [w.id for w in secret_key_is_set(None)] == ["hallboard.W001"]
    settings.SECRET_KEY = "x" * 60  # type: ignore[attr-defined]
    assert secret_key_is_set(None) == []
