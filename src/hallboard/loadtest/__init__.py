"""``hallboard loadtest``: simulated screens against a running hallboard (docs/loadtest.md).

The coordinator (a management command, with Django: it creates the screens,
makes the edits through hallboard's own code or API, and reads revisions)
drives client processes (``worker``, without Django) that speak the display
protocol over raw asyncio: a minimal RFC 6455 client (``wsframes``) and a lean
HTTP/1.1 keep-alive client (``http1``). Only the wire protocol is used, so the
same tool measures any server that speaks it.
"""
