"""`hallboard loadtest setup|run|cleanup`: its arguments, its refusals and what it tells.

A few screens only; a run's scenarios are replaced by a fake here (a real run:
tests/loadtest/test_runner.py), and no server is started (a fake stands in for it).
"""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from hallboard.loadtest import fleet as fleets
from hallboard.loadtest import server as servers
from hallboard.loadtest.management.commands import loadtest
from hallboard.loadtest.runner import SCENARIOS, RunOptions
from hallboard.schools.models import Organisation, School
from hallboard.screens.models import Screen

FACTORY = f"{__name__}:FakeTrigger"
QUIET = ["--no-progress", "--trigger", FACTORY]


class FakeTrigger:
    """A trigger the command builds from ``module:factory``; it is never asked to edit."""

    name = "fake"
    last_publish_s = None


class FakeRun:
    """Stands in for ``LoadRun``: records what the command gave it, answers ``result``."""

    made: list[FakeRun] = []
    result: dict[str, Any] = {}

    def __init__(self, fleet: Any, trigger: Any, options: RunOptions, **kwargs: Any) -> None:
        self.fleet, self.trigger, self.options = fleet, trigger, options
        self.server = kwargs.get("server")
        FakeRun.made.append(self)

    async def run(self) -> dict[str, Any]:
        return FakeRun.result


class FakeServer:
    """Stands in for a spawned server: records its start and stop."""

    def __init__(self, *args: Any, fails: bool = False, **kwargs: Any) -> None:
        self.args, self.kwargs, self.fails = args, kwargs, fails
        self.events: list[str] = []

    def start(self) -> float:
        self.events.append("start")
        if self.fails:
            raise servers.ServerError("exited with 1")
        return 0.0

    def stop(self) -> None:
        self.events.append("stop")


def result(ok: bool = True) -> dict[str, Any]:
    return {
        "ok": ok,
        "problems": [] if ok else ["2 deliveries missing"],
        "screens": 4,
        "push_screens": 4,
        "poll_screens": 0,
        "schools": 2,
        "trigger": "fake",
        "duration_s": 1.0,
        "scenarios": {},
        "client_processes": 1,
        "client_cpu_s": 0.1,
    }


@pytest.fixture
def data_dir(settings: Any, tmp_path: Path) -> Path:
    """The data directory the command writes the load-test file under."""
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def fleet(db: None, data_dir: Path) -> fleets.Fleet:
    """A load-test organisation of 2 schools with 2 screens each, set up as the CLI does."""
    call_command(
        "loadtest", "setup", "--schools", "2", "--screens-per-school", "2", stdout=io.StringIO()
    )
    return fleets.load(fleets.fleet_path())


@pytest.fixture
def fake_run(monkeypatch: pytest.MonkeyPatch) -> type[FakeRun]:
    FakeRun.made = []
    FakeRun.result = result()
    monkeypatch.setattr(loadtest, "LoadRun", FakeRun)
    return FakeRun


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("loadtest", "run", *QUIET, *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("value", "cpus"), [("1", [1]), ("0,1", [0, 1]), ("2-3", [2, 3]), ("0,2-4", [0, 2, 3, 4])]
)
def test_cpu_lists_name_cpus_and_ranges(value: str, cpus: list[int]) -> None:
    """``--server-cpus``/``--client-cpus``: CPU numbers and ranges, comma-separated."""
    assert loadtest.cpu_list(value) == cpus


def test_loopback_is_an_address_or_a_name_resolving_only_to_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Loopback addresses are; a name is only when every address it resolves to is; a name
    that does not resolve is not."""
    assert loadtest.is_loopback("127.0.0.1")
    assert loadtest.is_loopback("::1")
    assert not loadtest.is_loopback("192.0.2.10")
    answers: dict[str, list[str]] = {
        "box": ["127.0.0.1", "::1"],
        "mixed": ["127.0.0.1", "192.0.2.1"],
    }

    def getaddrinfo(host: str, port: Any) -> list[tuple[Any, ...]]:
        if host not in answers:
            raise socket.gaierror("not known")
        return [(0, 0, 0, "", (address, 0)) for address in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert loadtest.is_loopback("box")
    assert not loadtest.is_loopback("mixed")
    assert not loadtest.is_loopback("nowhere")


@pytest.mark.parametrize(
    "sizes", [["--schools", "0"], ["--schools", "2", "--screens-per-school", "0"]]
)
def test_setup_refuses_sizes_below_one(db: None, data_dir: Path, sizes: list[str]) -> None:
    """A setup of no schools or no screens per school is refused, and creates nothing."""
    with pytest.raises(CommandError, match="must be at least 1"):
        call_command("loadtest", "setup", *sizes)
    assert not Organisation.objects.filter(slug=fleets.DEFAULT_ORG).exists()


def test_setup_needs_the_number_of_schools(db: None) -> None:
    """``--schools`` is required."""
    with pytest.raises(CommandError, match="--schools"):
        call_command("loadtest", "setup")


def test_an_action_is_required() -> None:
    """``loadtest`` alone is refused: setup, run or cleanup."""
    with pytest.raises(CommandError, match="action"):
        call_command("loadtest")


def test_setup_tells_what_it_made_and_cleanup_removes_it(db: None, data_dir: Path) -> None:
    """Setup writes the load-test file under the data directory and says how many schools
    and screens it created; cleanup deletes them and the file and says how many."""
    out = io.StringIO()
    call_command("loadtest", "setup", "--schools", "2", "--screens-per-school", "3", stdout=out)
    path = data_dir / "loadtest" / "loadtest.json"
    assert "Created 2 schools with 6 screens in organisation 'loadtest'" in out.getvalue()
    assert str(path) in out.getvalue()
    assert len(fleets.load(path).screens) == 6
    assert Screen.objects.filter(school__organisation__slug="loadtest").count() == 6
    out = io.StringIO()
    call_command("loadtest", "cleanup", stdout=out)
    assert "Deleted 2 schools and 6 screens of 'loadtest'." in out.getvalue()
    assert not path.exists()
    assert not Organisation.objects.filter(slug="loadtest").exists()


def test_setup_of_another_organisation_leaves_the_default_one(
    fleet: fleets.Fleet, data_dir: Path
) -> None:
    """``--org`` names the organisation and its file; cleanup of it touches no other."""
    call_command("loadtest", "setup", "--schools", "1", "--org", "lt2", stdout=io.StringIO())
    assert (data_dir / "loadtest" / "lt2.json").exists()
    call_command("loadtest", "cleanup", "--org", "lt2", stdout=io.StringIO())
    assert not (data_dir / "loadtest" / "lt2.json").exists()
    assert School.objects.filter(organisation__slug="loadtest").count() == 2
    assert fleets.fleet_path().exists()


def test_a_second_setup_is_refused_unless_replacing(fleet: fleets.Fleet) -> None:
    """Setting up an organisation that exists says to clean up first or replace it;
    ``--replace`` starts over with the new size; ``--unbound`` leaves the screens unbound."""
    with pytest.raises(CommandError, match="loadtest cleanup --org loadtest"):
        call_command("loadtest", "setup", "--schools", "1")
    call_command(
        "loadtest", "setup", "--schools", "1", "--replace", "--unbound", stdout=io.StringIO()
    )
    screens = Screen.objects.filter(school__organisation__slug="loadtest")
    assert screens.count() == 5
    assert not screens.filter(device_key__isnull=False).exists()


def test_cleanup_of_nothing_says_so(db: None, data_dir: Path) -> None:
    """Cleaning up an organisation that does not exist deletes nothing and says so."""
    out = io.StringIO()
    call_command("loadtest", "cleanup", "--org", "none", stdout=out)
    assert "Deleted 0 schools and 0 screens of 'none'." in out.getvalue()


def test_run_without_setup_says_to_set_up(db: None, data_dir: Path) -> None:
    """A run before any setup names the command to run first."""
    with pytest.raises(CommandError, match="run `hallboard loadtest setup` first"):
        run()


def test_run_refuses_a_target_that_is_not_loopback(db: None, data_dir: Path) -> None:
    """Without --allow-remote only loopback addresses are loaded; with it, the run goes on
    (here to the missing load-test file)."""
    with pytest.raises(CommandError, match="not a loopback address"):
        run("--host", "192.0.2.10")
    with pytest.raises(CommandError, match="loadtest setup"):
        run("--host", "192.0.2.10", "--allow-remote")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "flood"], "invalid choice: 'flood'"),
        (["--storm", "reboot"], "invalid choice: 'reboot'"),
        (["--server-cpus", "one"], "invalid cpu_list value"),
        (["--screens", "many"], "invalid int value"),
    ],
)
def test_run_refuses_arguments_it_does_not_know(args: list[str], message: str) -> None:
    """Unknown scenarios, storm modes, CPU lists or sizes are refused by the parser."""
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_run_refuses_an_unknown_trigger(fleet: fleets.Fleet, fake_run: type[FakeRun]) -> None:
    """A trigger that is neither db, api nor module:factory is refused with the choices."""
    out = io.StringIO()
    with pytest.raises(CommandError, match="use db, api or module:factory"):
        call_command("loadtest", "run", "--no-progress", "--trigger", "carrier-pigeon", stdout=out)
    assert fake_run.made == []


def test_run_refuses_more_screens_than_were_set_up(fleet: fleets.Fleet) -> None:
    """``--screens`` above what setup made is refused with both numbers."""
    with pytest.raises(CommandError, match="5 screens asked, the load-test file has 4"):
        run("--screens", "5")


def test_run_hands_its_options_to_the_load_run(
    fleet: fleets.Fleet, fake_run: type[FakeRun], data_dir: Path
) -> None:
    """The run gets the set-up screens, the target (the first gateway port, the others as
    replicas, the web port), every scenario in the documented order when none or ``all``
    is named, and the numbers given; the result is shown and written as JSON."""
    out = data_dir / "result.json"
    text = run(
        "--port", "8100", "--gateway-port", "8101", "--gateway-port", "8102",
        "--scenario", "sync", "--scenario", "all", "--screens", "3", "--push-share", "0.5",
        "--rate", "20", "--inflight", "7", "--workers", "2", "--client-cpus", "0-1",
        "--server-pid", "11", "--server-pid", "12", "--storm", "kill", "--json", str(out),
    )  # fmt: skip
    (made,) = fake_run.made
    assert made.fleet.screens == fleet.screens
    assert isinstance(made.trigger, FakeTrigger)
    assert made.server is None
    options = made.options
    assert (options.target.host, options.target.ws_port, options.target.http_port) == (
        "127.0.0.1",
        8101,
        8100,
    )
    assert options.target.more_ws_ports == (8102,)
    assert options.scenarios == list(SCENARIOS)
    assert (options.screens, options.push_share, options.rate, options.inflight) == (3, 0.5, 20, 7)
    assert (options.workers, options.client_cpus, options.server_pids) == (2, [0, 1], [11, 12])
    assert options.storm == "kill"
    assert json.loads(out.read_text()) == fake_run.result
    assert "Every expected delivery arrived" in text
    assert f"JSON result: {out}" in text


def test_run_names_its_scenarios_in_the_order_given(
    fleet: fleets.Fleet, fake_run: type[FakeRun], settings: Any
) -> None:
    """Named scenarios are run as named; the gateway port defaults to GATEWAY_PORT."""
    run("--scenario", "latency", "--scenario", "connect")
    options = fake_run.made[0].options
    assert options.scenarios == ["latency", "connect"]
    assert options.target.ws_port == settings.GATEWAY_PORT
    assert options.target.more_ws_ports == ()


def test_a_run_that_found_problems_fails(fleet: fleets.Fleet, fake_run: type[FakeRun]) -> None:
    """A result that is not ok is listed and the command fails (exit status 1)."""
    fake_run.result = result(ok=False)
    out = io.StringIO()
    with pytest.raises(CommandError, match="found problems"):
        call_command("loadtest", "run", *QUIET, stdout=out)
    assert "2 deliveries missing" in out.getvalue()


def test_spawn_starts_a_server_on_free_ports_and_stops_it_even_after_a_failure(
    fleet: fleets.Fleet,
    fake_run: type[FakeRun],
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
) -> None:
    """``--spawn`` starts ``hallboard serve`` on free ports (the run's target), logging to
    the data directory, gives it to the run and stops it after, also when the run failed."""
    spawned: list[FakeServer] = []

    def hallboard_serve(*args: Any, **kwargs: Any) -> FakeServer:
        spawned.append(FakeServer(*args, **kwargs))
        return spawned[-1]

    monkeypatch.setattr(loadtest, "hallboard_serve", hallboard_serve)
    fake_run.result = result(ok=False)
    with pytest.raises(CommandError, match="found problems"):
        run("--spawn", "--server-cpus", "0")
    (server,) = spawned
    assert server.events == ["start", "stop"]
    assert fake_run.made[0].server is server
    port, gateway_port = server.args
    target = fake_run.made[0].options.target
    assert (target.http_port, target.ws_port) == (port, gateway_port)
    assert port != gateway_port
    assert server.kwargs["cpus"] == [0]
    assert server.kwargs["log_path"] == data_dir / "loadtest" / "server.log"


def test_a_server_that_does_not_start_fails_the_run(
    fleet: fleets.Fleet, fake_run: type[FakeRun], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spawned server that fails to start fails the command with why; no run is made."""
    monkeypatch.setattr(loadtest, "hallboard_serve", lambda *a, **k: FakeServer(fails=True))
    with pytest.raises(CommandError, match="exited with 1"):
        run("--spawn")
    assert fake_run.made == []


@pytest.mark.parametrize(("given", "drain"), [([], None), (["--drain-timeout", "42"], 42.0)])
def test_spawned_gateway_processes_drain_for_as_long_as_their_screens_need(
    fleet: fleets.Fleet,
    fake_run: type[FakeRun],
    monkeypatch: pytest.MonkeyPatch,
    given: list[str],
    drain: float | None,
) -> None:
    """``--spawn --gateway-processes N`` starts N supervised gateways on one free port and
    lets them drain the time the screens held need (``drain_timeout_for``), or
    ``--drain-timeout``; they are stopped after the run."""
    spawned: list[FakeServer] = []

    def gateway_processes(*args: Any, **kwargs: Any) -> FakeServer:
        spawned.append(FakeServer(*args, **kwargs))
        return spawned[-1]

    monkeypatch.setattr(loadtest, "gateway_processes", gateway_processes)
    run("--spawn", "--gateway-processes", "3", "--screens", "2", *given)
    (server,) = spawned
    gateway_port, processes = server.args
    assert processes == 3
    expected = drain if drain is not None else servers.drain_timeout_for(2, 3)
    assert server.kwargs["drain_timeout"] == expected
    assert fake_run.made[0].options.target.ws_port == gateway_port
    assert server.events == ["start", "stop"]
