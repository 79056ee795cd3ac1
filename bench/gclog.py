"""Run a Python server with its garbage-collector pauses logged (``gc.callbacks``).

    python bench/gclog.py OUT.json -m hallboard serve ...
    python bench/gclog.py OUT.json -m daphne ...

Every collection's duration is timed between the callback's "start" and
"stop"; pauses of 1 ms or more are kept with their time and generation, and
the file is rewritten every half second (the server may be killed). The same
launcher for both stacks, so their pauses are measured the same way.
"""

from __future__ import annotations

import gc
import json
import os
import runpy
import sys
import threading
import time
from typing import Any

KEEP_ABOVE = 0.001  # seconds


def main() -> None:
    out, flag, module, *args = sys.argv[1:]
    if flag != "-m":
        raise SystemExit("usage: gclog.py OUT.json -m MODULE [ARGS...]")
    pauses: list[tuple[float, int, float]] = []
    counts = [0, 0, 0]
    started = [0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        duration = time.perf_counter() - started[0]
        generation = int(info.get("generation", 0))
        counts[generation] += 1
        if duration >= KEEP_ABOVE:
            pauses.append((time.time(), generation, duration))

    def writer() -> None:
        written = -1
        while True:
            time.sleep(0.5)
            if sum(counts) == written:
                continue  # nothing new: do not spend the server's CPU
            written = sum(counts)
            tmp = out + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"pid": os.getpid(), "collections": counts, "pauses": pauses[-5000:]}, f)
            os.replace(tmp, out)

    gc.callbacks.append(callback)
    threading.Thread(target=writer, daemon=True, name="gclog").start()
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
