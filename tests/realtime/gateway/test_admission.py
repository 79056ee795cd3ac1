"""Who gets in (realtime.gateway.admission), without a gateway.

``Admission`` is driven as the gateway drives it: ``upgrade`` with a parsed request and a
socket. The socket is a fake that records how it ended (opened with which frames, refused
with which code); the host records what it is asked to do; the node is real, and so are
the token lookups, the staff tickets and the re-read after subscribing (a real database,
in the admission's worker thread). ``subscribe`` stands for the subscriber's: it takes
the topics the node wants, as ``Subscriber.subscribe_wanted`` does.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import OperationalError
from django.db.models import F

from hallboard.alerts.models import Alert
from hallboard.realtime.brokers.memory import MemoryBroker
from hallboard.realtime.core import node
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.node import Kind, Node
from hallboard.realtime.gateway import db, staff
from hallboard.realtime.gateway.admission import Admission
from hallboard.realtime.gateway.connection import Phase
from hallboard.realtime.gateway.handshake import Request, RequestReader
from hallboard.realtime.gateway.meters import Meters
from hallboard.schools.models import School
from hallboard.screens.models import Command
from tests.conftest import Tenant, make_screen, make_user, revision_of, sample
from tests.realtime.conftest import FakeClock, options
from tests.realtime.gateway.test_batches import Tasks
from tests.realtime.gateway.test_server import in_thread
from tests.realtime.gateway.test_staff import ORIGIN, ticket_for

pytestmark = pytest.mark.django_db(transaction=True)

KEY = base64.b64encode(b"0123456789abcdef").decode()
ADDRESS = "198.51.100.7"
DISPLAY = "/ws/display"
STAFF = "/ws/staff"


def upgrade_request(target: str, *, origin: str | None = None, version: str = "13") -> Request:
    """An upgrade request for ``target`` (path and query), parsed as the socket parses it."""
    lines = [
        f"GET {target} HTTP/1.1",
        "Host: gw.example.org",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {KEY}",
        f"Sec-WebSocket-Version: {version}",
        *([f"Origin: {origin}"] if origin else []),
    ]
    request = RequestReader().feed(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert request is not None
    return request


class FakeSocket:
    """What admission uses of a socket (its phase, kind and peer) and how it ended."""

    def __init__(self, address: str = ADDRESS) -> None:
        self.phase = Phase.PENDING
        self.kind = Kind.DISPLAY
        self.address = address
        self.refused: tuple[int, str] | None = None
        self.answered: int | None = None

    def peer(self) -> tuple[str, int]:
        return (self.address, 40000)

    def respond(self, status: int, body: bytes, **kwargs: Any) -> None:
        self.answered = status
        self.phase = Phase.CLOSING

    def refuse(self, handshake: bytes, code: int, reason: str) -> None:
        assert handshake.startswith(b"HTTP/1.1 101 ")
        self.refused = (code, reason)
        self.phase = Phase.CLOSING


class FakeHost:
    """The gateway as admission knows it (``admission.Host``), recording what it is asked."""

    def __init__(self, hub_node: Node[Any], log: list[str]) -> None:
        self.node, self.log = hub_node, log
        self.tasks = Tasks()
        self.frames: dict[FakeSocket, list[dict[str, Any]]] = {}
        self.actions: list[node.Action[Any]] = []
        self.rejections: list[tuple[str, str, str]] = []

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self.tasks.spawn(coro)

    def carry_out(self) -> int:
        self.actions += self.node.actions()
        return 0

    def opened(self, sock: FakeSocket, handshake: bytes, frames: list[str]) -> None:
        assert handshake.startswith(b"HTTP/1.1 101 ")
        sock.phase = Phase.OPEN
        self.frames[sock] = [json.loads(f) for f in frames]
        self.log.append("opened")

    def rejected(self, kind: str, what: str, error: str) -> None:
        self.rejections.append((kind, what, error))


class Marks:
    """The write batch as admission uses it: screens to mark connected."""

    def __init__(self) -> None:
        self.screens: list[int] = []

    def connected(self, screen: int) -> None:
        self.screens.append(screen)


@dataclass
class Admitting:
    """An ``Admission`` with its fakes; ``log`` orders subscriptions, re-reads and opens."""

    admission: Admission
    host: FakeHost
    node: Node[Any]
    marks: Marks
    log: list[str]
    subscribed: set[str] = field(default_factory=set)

    def display(self, token: str, dk: str = "device-0001", sock: FakeSocket | None = None) -> Any:
        sock = sock or FakeSocket()
        request = upgrade_request(f"{DISPLAY}/?token={token}&dk={dk}")
        self.admission.upgrade(sock, request, DISPLAY)  # type: ignore[arg-type]
        return sock

    def staff(self, ticket: str, sock: FakeSocket | None = None) -> Any:
        sock = sock or FakeSocket()
        request = upgrade_request(f"{STAFF}/?ticket={ticket}", origin=ORIGIN)
        self.admission.upgrade(sock, request, STAFF)  # type: ignore[arg-type]
        return sock

    async def settle(self) -> None:
        """Until every lookup, claim, subscription and re-read spawned has ended."""
        await self.host.tasks.settle()

    def dashboards(self) -> list[dict[str, Any]]:
        return [a.frame for a in self.host.actions if isinstance(a, node.Dash)]


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(2)
    yield pool
    pool.shutdown()


@pytest.fixture
def make(executor: ThreadPoolExecutor) -> Any:
    """make(**gateway options) → an ``Admitting``."""

    def build(**overrides: Any) -> Admitting:
        o = options(**overrides)
        hub_node: Node[Any] = Node(o.node())
        log: list[str] = []
        host, marks = FakeHost(hub_node, log), Marks()
        made: list[Admitting] = []

        async def subscribe() -> None:
            made[0].subscribed |= hub_node.take_subscribe()
            log.append("subscribe")

        admission = Admission(
            host,  # type: ignore[arg-type]
            hub_node,
            o,
            executor,
            Meters(MemoryBroker()),
            marks,  # type: ignore[arg-type]
            subscribe,
            FakeClock(),
        )
        made.append(Admitting(admission, host, hub_node, marks, log))
        return made[0]

    return build


@pytest.fixture
def admitting(make: Any) -> Admitting:
    admitting: Admitting = make()
    return admitting


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[str, str]]]:
    """The token lookups made (each a batch of (token, device key)), made for real."""
    made: list[list[tuple[str, str]]] = []
    lookup = db.authenticate_many

    def recording(requests: list[tuple[str, str]]) -> Any:
        made.append(requests)
        return lookup(requests)

    monkeypatch.setattr(db, "authenticate_many", recording)
    return made


# --- display sockets: admitted -------------------------------------------------------------
async def test_a_screen_is_opened_with_its_hello_and_its_pending_command_once(
    admitting: Admitting, tenant: Tenant
) -> None:
    """A known token: the screen is put on its school's and its own topic, opened with hello
    (its school's revision) and the command pending for it, once although both its lookup
    and the re-read found it, in the shape a pushed command has (its payload's fields
    beside its id and name: what the display reads); counted as accepted and marked
    connected; no longer pending."""
    screen, token = await in_thread(make_screen, tenant.school)
    command = await in_thread(
        Command.objects.create, screen=screen, name="message", payload={"text": "Hi", "seconds": 5}
    )
    sock = admitting.display(token)
    assert admitting.node.pending == 1
    await admitting.settle()
    rev = await in_thread(revision_of, tenant.school)
    assert admitting.host.frames[sock] == [
        {"type": "hello", "rev": rev, "screen": screen.pk, "heartbeat_s": 30, "alert": None},
        {"type": "command", "id": command.pk, "name": "message", "text": "Hi", "seconds": 5},
    ]
    assert admitting.subscribed == {f"school:{tenant.school.pk}", f"screen:{screen.pk}"}
    assert admitting.node.peers[sock].open
    assert admitting.node.pending == 0
    assert admitting.admission.accepted == 1
    assert admitting.marks.screens == [screen.pk]


# --- display sockets: refused ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("token", "dk", "code"),
    [
        ("", "device-0001", CloseCode.MISSING_PARAMETERS),
        ("hbs_x", "", CloseCode.MISSING_PARAMETERS),
        ("hbs_x", "short", CloseCode.MISSING_PARAMETERS),  # not a device key
        ("x" * 257, "device-0001", CloseCode.INVALID_TOKEN),  # longer than any token
        ("hbs_%00x", "device-0001", CloseCode.INVALID_TOKEN),  # a NUL: no token has one
    ],
)
async def test_parameters_no_screen_could_have_are_refused_without_a_lookup(
    admitting: Admitting, lookups: list[Any], token: str, dk: str, code: CloseCode
) -> None:
    """A missing or malformed device key or token closes with 4400, a token no screen could
    have with 4401, at once: nothing is looked up, nothing is pending, the refusal counted."""
    sock = admitting.display(token, dk)
    assert sock.refused == (code, code.reason)
    await admitting.settle()
    assert lookups == []
    assert admitting.node.pending == 0
    assert admitting.admission.refused == {int(code): 1}


async def test_an_unknown_token_is_refused_4401_and_counted_against_its_address(
    admitting: Admitting, tenant: Tenant, settings: Any
) -> None:
    """A token no screen has closes with 4401 after its lookup and counts as a failed
    attempt of its address: over the rate, that address's next socket is refused 1013
    before its lookup, even with a right token; another address is admitted."""
    settings.AUTH_FAILURE_RATE = "1/minute"
    _, token = await in_thread(make_screen, tenant.school)
    guess = admitting.display("hbs_unknown")
    await admitting.settle()
    assert guess.refused == (CloseCode.INVALID_TOKEN, CloseCode.INVALID_TOKEN.reason)
    right = admitting.display(token)
    assert right.refused == (CloseCode.TRY_AGAIN_LATER, staff.THROTTLED_REASON)
    elsewhere = admitting.display(token, sock=FakeSocket("203.0.113.9"))
    await admitting.settle()
    assert elsewhere.phase == Phase.OPEN


async def test_draining_refuses_every_new_socket_with_1001(
    admitting: Admitting, tenant: Tenant, lookups: list[Any]
) -> None:
    """While the gateway drains, a display with a right token and a staff page with a
    right ticket are both refused with 1001 (going away), nothing looked up or claimed."""
    _, token = await in_thread(make_screen, tenant.school)
    user = await in_thread(make_user, "alpha-admin", "admin", school=tenant.school)
    ticket = await ticket_for(user)
    admitting.admission.draining = True
    display, page = admitting.display(token), admitting.staff(ticket)
    await admitting.settle()
    assert display.refused == page.refused == (1001, CloseCode.GOING_AWAY.reason)
    assert lookups == []
    assert admitting.subscribed == set()


async def test_sockets_awaiting_their_lookup_count_against_capacity(
    make: Any, tenant: Tenant
) -> None:
    """With room for two: two displays arrive together and wait for their lookup; a third
    display and a staff page arriving meanwhile are refused with 1013 at once; the two are
    then admitted."""
    admitting = make(max_connections=2)
    screens = [await in_thread(make_screen, tenant.school, f"S{n}") for n in range(3)]
    user = await in_thread(make_user, "alpha-admin", "admin", school=tenant.school)
    ticket = await ticket_for(user)
    first, second = (admitting.display(token) for _, token in screens[:2])
    third, page = admitting.display(screens[2][1]), admitting.staff(ticket)
    for refused in (third, page):
        assert refused.refused == (1013, CloseCode.TRY_AGAIN_LATER.reason)
    await admitting.settle()
    assert (first.phase, second.phase) == (Phase.OPEN, Phase.OPEN)
    assert admitting.admission.refused == {1013: 2}


async def test_a_request_that_is_no_websocket_upgrade_gets_an_http_answer(
    admitting: Admitting,
) -> None:
    """An upgrade of another WebSocket version is answered with HTTP 426, not refused with
    a close code (there is no WebSocket to close)."""
    sock = FakeSocket()
    request = upgrade_request(f"{DISPLAY}/?token=hbs_x&dk=device-0001", version="8")
    admitting.admission.upgrade(sock, request, DISPLAY)  # type: ignore[arg-type]
    assert (sock.answered, sock.refused) == (426, None)


async def test_a_batchs_refusals_are_logged_one_line_per_code_and_told_to_dashboards(
    admitting: Admitting, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    """Three unknown tokens and a screen whose school has push off, looked up together: one
    log line for the three 4401s and one for the 4409; the dashboards of the known screen's
    school are told it was refused, with its code."""
    caplog.set_level(logging.INFO, logger="hallboard.realtime.gateway")
    screen, token = await in_thread(make_screen, tenant.school)
    await in_thread(School.objects.filter(pk=tenant.school.pk).update, push="off")
    guesses = [admitting.display(f"hbs_unknown{n}") for n in range(3)]
    off = admitting.display(token)
    await admitting.settle()
    assert [g.refused for g in guesses] == [(4401, CloseCode.INVALID_TOKEN.reason)] * 3
    assert off.refused == (4409, CloseCode.PUSH_DISABLED.reason)
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert sorted(lines) == [
        f"1 display socket(s) refused: {CloseCode.PUSH_DISABLED.reason} (4409)",
        f"3 display socket(s) refused: {CloseCode.INVALID_TOKEN.reason} (4401)",
    ]
    assert admitting.dashboards() == [
        {
            "type": "screen",
            "school": tenant.school.pk,
            "screen": screen.pk,
            "event": "refused",
            "code": 4409,
        }
    ]


async def test_a_lookup_row_the_database_rejects_refuses_that_socket_alone(
    admitting: Admitting, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database refused one request's rows (its batch was served row by row): that
    socket is refused with 1013 and the rejection reported once, naming its address; the
    other socket of the batch is admitted."""
    _, bad_token = await in_thread(make_screen, tenant.school, "Bad")
    _, token = await in_thread(make_screen, tenant.school, "Good")
    lookup = db.authenticate_many

    def one_rejected(requests: list[tuple[str, str]]) -> Any:
        results = lookup(requests)
        results[0] = db.Refused(CloseCode.TRY_AGAIN_LATER, rejected="DataError: out of range")
        return results

    monkeypatch.setattr(db, "authenticate_many", one_rejected)
    failures = sample("hallboard_auth_failures_total", kind="socket")
    bad, good = admitting.display(bad_token), admitting.display(token)
    await admitting.settle()
    assert bad.refused == (1013, CloseCode.TRY_AGAIN_LATER.reason)
    assert admitting.host.rejections == [
        ("auth", f"a display socket ({ADDRESS})", "DataError: out of range")
    ]
    assert sample("hallboard_auth_failures_total", kind="socket") == failures
    assert good.phase == Phase.OPEN


async def test_a_socket_gone_while_its_lookup_ran_is_left_out_of_its_batch(
    admitting: Admitting, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two displays looked up together; one closes while the lookup runs. It is neither
    opened nor refused, takes no place in the node and gets no topic subscribed; the other
    is opened; neither is pending any more."""
    _, gone_token = await in_thread(make_screen, tenant.school, "Gone")
    kept_screen, kept_token = await in_thread(make_screen, tenant.other_school, "Kept")
    gone = FakeSocket()
    lookup = db.authenticate_many

    def lookup_then_close(requests: list[tuple[str, str]]) -> Any:
        results = lookup(requests)
        gone.phase = Phase.CLOSED  # its peer went away meanwhile
        return results

    monkeypatch.setattr(db, "authenticate_many", lookup_then_close)
    admitting.display(gone_token, sock=gone)
    kept = admitting.display(kept_token)
    await admitting.settle()
    assert gone.refused is None
    assert gone not in admitting.host.frames
    assert gone not in admitting.node.peers
    assert admitting.subscribed == {f"school:{tenant.other_school.pk}", f"screen:{kept_screen.pk}"}
    assert kept.phase == Phase.OPEN
    assert admitting.node.pending == 0
    assert admitting.marks.screens == [kept_screen.pk]


# --- the re-read after subscribing -----------------------------------------------------------
async def test_a_revision_and_an_alert_committed_before_the_subscription_reach_the_hello(
    admitting: Admitting, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit and an alert committed after the token lookup, before the gateway listens to
    the school (their events reached no one here): the school is re-read once subscribed,
    and the screen opens with the new revision and the alert."""
    _, token = await in_thread(make_screen, tenant.school)
    lookup, reread = db.authenticate_many, db.after_subscribe
    raised: list[Alert] = []

    def lookup_then_change(requests: list[tuple[str, str]]) -> Any:
        results = lookup(requests)
        School.objects.filter(pk=tenant.school.pk).update(revision=F("revision") + 2)
        raised.append(
            Alert.objects.create(organisation=tenant.organisation, school=None, headline="Storm")
        )
        return results

    def logged_reread(*args: Any) -> Any:
        admitting.log.append("re-read")
        return reread(*args)

    monkeypatch.setattr(db, "authenticate_many", lookup_then_change)
    monkeypatch.setattr(db, "after_subscribe", logged_reread)
    sock = admitting.display(token)
    await admitting.settle()
    hello = admitting.host.frames[sock][0]
    assert hello["rev"] == await in_thread(revision_of, tenant.school)
    assert hello["alert"]["id"] == raised[0].pk
    assert admitting.log == ["subscribe", "re-read", "opened"]


async def test_the_database_failing_during_the_re_read_still_opens_the_screen(
    admitting: Admitting,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database goes away between the lookup and the re-read: the screen opens all the
    same with what its lookup found (its revision); its pending command, read only by the
    re-read, is not sent and stays pending (for its next connection), and one warning says
    the re-read failed."""
    caplog.set_level(logging.WARNING, logger="hallboard.realtime.gateway")
    screen, token = await in_thread(make_screen, tenant.school)
    command = await in_thread(Command.objects.create, screen=screen, name="identify")
    rev = await in_thread(revision_of, tenant.school)

    def unavailable(*args: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(db, "after_subscribe", unavailable)
    sock = admitting.display(token)
    await admitting.settle()
    assert [(f["type"], f.get("rev"), f.get("id")) for f in admitting.host.frames[sock]] == [
        ("hello", rev, None),
    ]
    assert [r.getMessage() for r in caplog.records] == ["database unavailable re-reading 1 screens"]
    assert admitting.marks.screens == [screen.pk]
    await in_thread(command.refresh_from_db)
    assert command.status == Command.Status.PENDING


async def test_a_socket_gone_during_the_re_read_is_not_opened(
    admitting: Admitting, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A display that closes while the batch is re-read (admitted, not yet open) is not
    opened nor counted; the other display of the batch is."""
    _, gone_token = await in_thread(make_screen, tenant.school, "Gone")
    _, kept_token = await in_thread(make_screen, tenant.school, "Kept")
    gone = FakeSocket()
    reread = db.after_subscribe

    def reread_while_closing(*args: Any) -> Any:
        gone.phase = Phase.CLOSED
        return reread(*args)

    monkeypatch.setattr(db, "after_subscribe", reread_while_closing)
    admitting.display(gone_token, sock=gone)
    kept = admitting.display(kept_token)
    await admitting.settle()
    assert list(admitting.host.frames) == [kept]
    assert admitting.admission.accepted == 1


# --- staff sockets --------------------------------------------------------------------------
async def test_a_staff_page_is_subscribed_before_its_hello(
    admitting: Admitting, tenant: Tenant
) -> None:
    """A valid ticket: the socket becomes a staff socket, listens to its user's topic and its
    schools' dashboards once subscribed, and then gets hello naming the user and schools."""
    user = await in_thread(make_user, "alpha-admin", "admin", school=tenant.school)
    sock = admitting.staff(await ticket_for(user))
    await admitting.settle()
    assert sock.kind == Kind.STAFF
    assert admitting.subscribed == {f"user:{user.pk}", f"dash:{tenant.school.pk}"}
    assert admitting.log == ["subscribe", "opened"]
    assert admitting.host.frames[sock] == [
        {"type": "hello", "user": user.pk, "schools": [tenant.school.pk]}
    ]
    assert admitting.node.peers[sock].open


async def test_a_staff_ticket_opens_one_socket(admitting: Admitting, tenant: Tenant) -> None:
    """The same ticket presented twice: the first socket opens, the second is refused with
    4401 when its claim fails, and counts as a failed attempt of its address."""
    user = await in_thread(make_user, "alpha-admin", "admin", school=tenant.school)
    ticket = await ticket_for(user)
    first = admitting.staff(ticket)
    await admitting.settle()
    failures = sample("hallboard_auth_failures_total", kind="socket")
    second = admitting.staff(ticket)
    await admitting.settle()
    assert first.phase == Phase.OPEN
    assert second.refused == (4401, staff.BAD_TICKET_REASON)
    assert second not in admitting.host.frames
    assert sample("hallboard_auth_failures_total", kind="socket") == failures + 1


async def test_a_bad_staff_ticket_is_refused_4401_at_once(
    admitting: Admitting, tenant: Tenant, settings: Any
) -> None:
    """A ticket that does not verify closes with 4401 before anything is subscribed, and
    counts against its address: over the rate, its next socket gets 1013, even with a
    valid ticket."""
    settings.AUTH_FAILURE_RATE = "1/minute"
    user = await in_thread(make_user, "alpha-admin", "admin", school=tenant.school)
    bad = admitting.staff("garbage")
    assert bad.refused == (4401, staff.BAD_TICKET_REASON)
    good = admitting.staff(await ticket_for(user))
    assert good.refused == (1013, staff.THROTTLED_REASON)
    await admitting.settle()
    assert admitting.subscribed == set()


async def test_a_staff_socket_gone_before_its_subscription_ended_is_not_opened(
    admitting: Admitting, tenant: Tenant
) -> None:
    """A staff page that closes while its ticket is claimed and its topics subscribed gets
    no hello."""
    user = await in_thread(make_user, "alpha-admin", "admin", school=tenant.school)
    sock = admitting.staff(await ticket_for(user))
    sock.phase = Phase.CLOSED
    await admitting.settle()
    assert admitting.log == ["subscribe"]
    assert sock not in admitting.host.frames


async def test_sockets_of_one_batch_are_looked_up_together(
    admitting: Admitting, tenant: Tenant, lookups: list[Any]
) -> None:
    """Displays whose handshakes complete in one loop iteration share one token lookup and
    one subscription, and all open."""
    tokens = [(await in_thread(make_screen, tenant.school, f"S{n}"))[1] for n in range(3)]
    socks = [admitting.display(token, f"device-000{n}") for n, token in enumerate(tokens)]
    await admitting.settle()
    assert lookups == [[(token, f"device-000{n}") for n, token in enumerate(tokens)]]
    assert admitting.log == ["subscribe", "opened", "opened", "opened"]
    assert all(s.phase == Phase.OPEN for s in socks)
