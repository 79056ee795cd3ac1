"""``python -m hallboard.server.probe [URL]``: the container health check, without Django.

Exits 0 when ``URL`` (default ``http://127.0.0.1:8000/healthz``, the web
role's liveness probe; the gateway answers ``/healthz`` on its own port)
answers 200 within two seconds, else 1 with the reason on stderr. It imports
only the standard library: a health check runs every few seconds and must not
cost a Django start-up each time.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz"
TIMEOUT_SECONDS = 2.0


def probe(url: str = DEFAULT_URL, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """None when ``url`` answers 200, else why not."""
    if not url.startswith(("http://", "https://")):
        return f"not an http(s) URL: {url}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - checked above
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (OSError, ValueError) as exc:
        return f"{url}: {exc}"
    return None if status == 200 else f"{url} answered {status}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    failure = probe(args[0] if args else DEFAULT_URL)
    if failure is not None:
        sys.stderr.write(f"unhealthy: {failure}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
