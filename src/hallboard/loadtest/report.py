"""The human side of a run: a progress bar while it runs, a summary at the end (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


class ProgressBar:
    """One bar per phase, replaced when the phase changes. Silent when not on a terminal."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self.task: Any = None
        self.phase = ""

    def __enter__(self) -> ProgressBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, phase: str, done: float, total: float, detail: str) -> None:
        if phase != self.phase:
            if self.task is not None:
                self.progress.update(self.task, visible=True)
            self.phase = phase
            self.task = self.progress.add_task(phase, total=max(total, 1))
        self.progress.update(self.task, completed=done, total=max(total, 1))


def _ms(summary: dict[str, Any] | None) -> str:
    if not summary or not summary.get("count"):
        return "—"
    s = summary
    return f"p50 {s['p50']} · p95 {s['p95']} · p99 {s['p99']} · max {s['max']} ms"


def _deliveries(r: dict[str, Any]) -> str:
    text = f"{r.get('delivered', 0)}/{r.get('expected', 0)}"
    if r.get("missing"):
        text += f" [red]({r['missing']} MISSING)[/red]"
    return text


def render(result: dict[str, Any], console: Console) -> None:
    table = Table(
        title=f"hallboard load test: {result['screens']} screens "
        f"({result['push_screens']} push, {result['poll_screens']} polling) in "
        f"{result['schools']} schools, trigger {result['trigger']}, "
        f"{result['duration_s']} s"
    )
    table.add_column("scenario", style="bold")
    table.add_column("deliveries")
    table.add_column("figures")
    s = result["scenarios"]
    if "connect" in s:
        c = s["connect"]
        figures = f"{c['connects_per_s']} connects/s · handshake {_ms(c['handshake_ms'])}"
        if "kib_per_connection" in c:
            figures += f" · {c['kib_per_connection']} KiB/connection"
        table.add_row(
            "connect",
            f"{c['connected']}/{c['attempted']} connected",
            figures + _failures(c.get("failures")),
        )
    for name in ("sync", "latency", "push-all", "churn"):
        if name not in s:
            continue
        r = s[name]
        if "skipped" in r:
            table.add_row(name, "skipped", r["skipped"])
            continue
        figures = _ms(r["latency_ms"])
        if name == "sync":
            figures += f" · spread {_ms(r['spread_ms'])}"
        if name == "push-all":
            figures = f"last screen {_ms(r['last_ms'])} · " + figures
        if name == "churn":
            figures += (
                f" · {r['sockets_churned']} sockets churned, by reconnect "
                f"{r['delivered_by']['hello_after_reconnect']}"
                f" · at the end {r['current_at_end']['stale']} stale"
            )
        table.add_row(name, _deliveries(r), figures + _failures(r.get("failures")))
    if "poll" in s:
        r = s["poll"]
        if "skipped" in r:
            table.add_row("poll", "skipped", r["skipped"])
        else:
            off = r["push_off"]
            table.add_row(
                "poll",
                _deliveries(r),
                f"push off: {off['close_codes']} closed, {off['converged_by_polling']}/"
                f"{off['screens']} converged by polling ({_ms(off['convergence_ms'])}); "
                f"refused {r['refused']}; edits by polling {_ms(r['latency_ms'])}",
            )
    if "storm" in s:
        r = s["storm"]
        if "skipped" in r:
            table.add_row("storm", "skipped", r["skipped"])
        else:
            table.add_row(
                "storm",
                f"{r['current']}/{r['screens']} current"
                + (f" [red]({r['missing']} MISSING)[/red]" if r["missing"] else ""),
                f"{r['mode']}: all back {r['all_back_s']} s, all current {r['all_current_s']} s"
                + (f" (server restart {r['server_restart_s']} s)" if r["server_restart_s"] else "")
                + _failures(r.get("errors")),
            )
    console.print(table)
    console.print(
        f"client processes: {result['client_processes']}, client CPU {result['client_cpu_s']} s"
    )
    if result["problems"]:
        console.print("[bold red]Problems:[/bold red]")
        for problem in result["problems"]:
            console.print(f"  • {problem}")
    else:
        console.print("[bold green]Every expected delivery arrived; no failures.[/bold green]")


def _failures(failures: dict[str, int] | None) -> str:
    if not failures:
        return ""
    return f" · [red]failures {failures}[/red]"
