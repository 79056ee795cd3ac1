"""The 50,000-screen figures in the docs are generated, never typed: docs/scale.md and the
block of docs/scaling.md ("Held on one machine") are what bench/scale.py makes of
docs/scale.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import scale  # noqa: E402 - the repository's bench/


def results() -> dict[str, Any]:
    return dict(json.loads((ROOT / "docs/scale.json").read_text()))


def test_the_report_is_the_rendering_of_the_json() -> None:
    """docs/scale.md is bench/scale.py's rendering of docs/scale.json."""
    assert (ROOT / "docs/scale.md").read_text() == scale.render(results()) + "\n"


def test_scaling_quotes_the_generated_block() -> None:
    """docs/scaling.md "Held on one machine" holds exactly the generated block, between its
    markers."""
    text = (ROOT / "docs/scaling.md").read_text()
    start = text.index(scale.SCALING_START) + len(scale.SCALING_START)
    end = text.index(scale.SCALING_END)
    assert text[start:end].strip() == scale.scaling_block(results()).strip()


def test_the_figures_are_derived_from_the_raw_result() -> None:
    """The stored figures are what `figures()` derives from the stored raw result now."""
    r = results()
    assert r["figures"] == scale.figures(r)


def test_the_kernel_figure_is_half_the_socket_caches_growth_per_screen() -> None:
    """Both ends of every loopback connection grow the slab: one socket end (what a gateway's
    host holds per screen) is half the growth per connection; the RSS figure is separate."""
    raw: dict[str, Any] = {
        "settings": {
            "screens": 1000,
            "gateway_processes": 2,
            "server_cpus": [0],
            "push_all_repeat": 1,
        },
        "run": {
            "scenarios": {
                "connect": {
                    "connected": 990,
                    "warmup": 10,
                    "elapsed_s": 1.0,
                    "kib_per_connection": 3.0,
                    "slab": {
                        "readable": True,
                        "total_bytes": 9_000_000,
                        "socket_caches_bytes": 8_192_000,
                        "socket_caches": {"TCP": 8_192_000},
                        "kmalloc_bytes": 0,
                    },
                }
            }
        },
    }
    f = scale.figures(raw)
    assert f["held"] == 1000
    assert f["per_process"] == 500
    assert f["kib_per_socket_end_kernel"] == 4.0  # 8,192,000 B / 1,000 / 2 / 1,024
    assert f["mib_per_10k_kernel"] == 39.1
    assert f["mib_per_10k_process"] == 29.3


def test_the_method_states_how_the_screens_of_the_run_reconnected() -> None:
    """A run whose load generator recorded its storm reconnects (the core's policy) is
    described by them: the backoff's range and the handshake's give-up, and a storm not
    recovered is put down to the backoff, not to retries at once; a run that recorded none
    (an older load generator) keeps its own description."""
    old = results()
    old["run"]["scenarios"]["storm"].pop("reconnect", None)
    assert "capped at 1 s" in scale.render(old)
    new = json.loads(json.dumps(old))
    storm = new["run"]["scenarios"]["storm"]
    storm["reconnect"] = {"policy": "core", "backoff_s": [1.0, 60.0], "handshake_timeout_s": 30}
    new["figures"]["storm_after_ready_s"] = None  # not recovered within the storm's bound
    text = scale.render(new)
    assert "capped at 1 s" not in text
    assert "after a random 1\N{EN DASH}60 s backoff (full jitter" in text
    assert "gives a handshake up after 30 s and backs off too" in text
    assert "each timeout was retried" not in text
    assert "each screen's reconnect after its backoff" in text


def test_a_storm_whose_reconnects_were_queued_says_none_was_refused() -> None:
    """When no reconnect was refused while the gateways were down (the supervisor kept their
    listening sockets), the storm's limit says the connections waited in those queues; when
    some were refused, it says the backoff grew with them."""
    raw = results()
    raw["run"]["scenarios"]["storm"]["reconnect"] = {
        "policy": "core",
        "backoff_s": [1.0, 60.0],
        "handshake_timeout_s": 30,
    }
    raw["figures"]["storm_after_ready_s"] = 6.0
    raw["figures"]["storm_refused_while_down"] = 0
    assert "none was refused" in scale.limits(raw)["storm"]
    raw["figures"]["storm_refused_while_down"] = 12
    text = scale.limits(raw)["storm"]
    assert "none was refused" not in text
    assert "grew with every attempt refused" in text
