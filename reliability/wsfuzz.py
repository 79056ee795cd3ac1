"""WebSocket fuzzing of the push gateway: seeded random handshakes, frames and messages.

    python reliability/wsfuzz.py --port 8301 --token hbs_… --dk dev-0001 --cases 2000

Every case opens a raw TCP connection to the gateway, sends one generated
opening handshake (usually a valid one, sometimes a broken or hostile one) and,
once accepted, a generated sequence of frames: valid and invalid messages
(wrong types, out-of-range numbers, ``NaN``, NUL characters, deep nesting,
oversize), fragmented messages, binary, control frames (also oversize or
fragmented), reserved bits, unmasked frames, unknown opcodes, broken close
frames and garbage. It then reads what the gateway answers until the
connection ends or ``--case-timeout`` passes.

A case passes when the gateway answered its handshake with a 1xx or 4xx status
(never 5xx, and always an answer when the request was complete and small), and
a socket it accepted ended with a documented close code (``DOCUMENTED``) or was
still open. The generator is deterministic for a ``--seed``; a failing case
prints its seed and index, so it can be replayed with ``--only``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import struct
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from hallboard.loadtest import wsframes  # noqa: E402
from hallboard.realtime.core.close_codes import CloseCode  # noqa: E402

#: Close codes a fuzzed socket may end with: the protocol's own (close_codes.py), the
#: RFC 6455 codes the frame layer answers framing errors with (docs/realtime.md), and
#: the echo of the client's own close frame (1005: it had no code).
DOCUMENTED = {int(c) for c in CloseCode} | {1000, 1002, 1005, 1007}
#: Statuses a refused handshake may get.
HTTP_OK = set(range(100, 200)) | set(range(400, 500))
#: Seconds of silence after the frames after which an accepted socket counts as open.
QUIET = 1.0


@dataclass
class Case:
    index: int
    label: str
    request: bytes
    frames: list[bytes] = field(default_factory=list)
    expect_answer: bool = True  # a complete, small request: the gateway must answer it
    dribble: bool = False  # send the request in small pieces


@dataclass
class Outcome:
    kind: str  # "http", "close", "open", "dropped"
    code: int | None = None

    def ok(self, case: Case) -> bool:
        if self.kind == "http":
            return self.code in HTTP_OK
        if self.kind == "close":
            return self.code in DOCUMENTED
        if self.kind == "dropped":
            return not case.expect_answer or bool(case.frames)
        return True

    def key(self) -> str:
        return f"{self.kind} {self.code}" if self.code is not None else self.kind


# --- generation ---
JSON_VALUES: list[Any] = [
    0,
    -1,
    1,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    10**30,
    1.5,
    1e308,
    "",
    "x",
    "\u0000",
    "a\u0000b",
    "ü" * 50,
    None,
    True,
    [],
    {},
    [1, 2, 3],
    {"a": 1},
]
RAW_NUMBERS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-0",
    "1E400",
    "123456789012345678901234567890",
]
TYPES = ["ping", "heartbeat", "ack", "hello", "invalidate", "command", "", "PING", None, 1]


def _value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.6 or depth > 3:
        return rng.choice(JSON_VALUES)
    if roll < 0.8:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(["rev", "mode", "health", "x", "\u0000"]): _value(rng, depth + 1)}


def _message(rng: random.Random) -> str:
    """A JSON text: a known or unknown type with random fields, or broken JSON."""
    roll = rng.random()
    if roll < 0.08:
        return "[" * rng.randint(10, 3000) + "]" * rng.randint(0, 10)  # deep nesting
    if roll < 0.16:
        body = json.dumps({"type": "heartbeat", "rev": 1, "uptime_s": 1})
        return body.replace("1", rng.choice(RAW_NUMBERS), 1)
    if roll < 0.22:
        return "".join(chr(rng.randint(0, 0x2FF)) for _ in range(rng.randint(0, 40)))
    if roll < 0.28:
        return json.dumps({"type": "heartbeat", "health": {"x": "y" * rng.randint(1000, 6000)}})
    message: dict[str, Any] = {"type": rng.choice(TYPES)}
    for name in rng.sample(
        ["rev", "mode", "uptime_s", "health", "id", "alert", "state"], rng.randint(0, 4)
    ):
        message[name] = _value(rng)
    if rng.random() < 0.3:
        message = {"type": "heartbeat", "rev": rng.randint(0, 100), "mode": "ws"}
    return json.dumps(message, allow_nan=True)


def _frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, masked: bool = True
) -> bytes:
    """A frame with every bit chosen (wsframes.encode_frame only makes well-formed ones)."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    b1 = 0x80 if masked else 0
    if n < 126:
        head = struct.pack("!BB", b0, b1 | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, b1 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, b1 | 127, n)
    if not masked:
        return head + payload
    key = b"\x01\x02\x03\x04"
    return head + key + wsframes.mask(payload, key)


def _frames(rng: random.Random) -> tuple[str, list[bytes]]:
    roll = rng.randint(0, 15)
    text = _message(rng).encode("utf-8", "surrogatepass")
    if roll <= 4:
        return "message", [_frame(wsframes.OP_TEXT, text) for _ in range(rng.randint(1, 3))]
    if roll == 5:
        cut = rng.randint(0, len(text))
        return "fragmented", [
            _frame(wsframes.OP_TEXT, text[:cut], fin=False),
            _frame(wsframes.OP_CONTINUATION, text[cut:]),
        ]
    if roll == 6:
        return "continuation-alone", [_frame(wsframes.OP_CONTINUATION, text)]
    if roll == 7:
        return "binary", [_frame(wsframes.OP_BINARY, text)]
    if roll == 8:
        size = rng.choice([0, 1, 125, 126, 200])
        return "control", [_frame(rng.choice([0x9, 0xA]), b"p" * size, fin=rng.random() < 0.7)]
    if roll == 9:
        return "reserved-bits", [_frame(wsframes.OP_TEXT, text, rsv=rng.randint(1, 7))]
    if roll == 10:
        return "unmasked", [_frame(wsframes.OP_TEXT, text, masked=False)]
    if roll == 11:
        return "unknown-opcode", [_frame(rng.choice([3, 4, 5, 6, 7, 0xB, 0xF]), text)]
    if roll == 12:
        payload = rng.choice(
            [
                b"",
                b"\x03",
                struct.pack("!H", rng.choice([0, 999, 1005, 1015, 3000, 4999, 5000])) + b"\xff\xfe",
            ]
        )
        return "close", [_frame(wsframes.OP_CLOSE, payload)]
    if roll == 13:
        return "invalid-utf8", [_frame(wsframes.OP_TEXT, b'{"type": "ping\xff\xfe"}')]
    if roll == 14:
        return "oversize", [_frame(wsframes.OP_TEXT, b" " * rng.choice([4097, 70000]) + b"{}")]
    return "garbage", [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))]


def _handshake(
    rng: random.Random, host: str, port: int, token: str, dk: str
) -> tuple[str, bytes, bool]:
    """(label, request bytes, whether a socket with frames follows)."""
    key = wsframes.new_key()
    roll = rng.random()
    good = f"/ws/display/?token={token}&dk={dk}"
    if roll < 0.6:
        return "valid", wsframes.handshake_request(host, port, good, key), True
    targets = [
        "/ws/display/",
        f"/ws/display/?token={token}",
        f"/ws/display/?dk={dk}",
        f"/ws/display/?token=hbs_{rng.getrandbits(64):x}&dk={dk}",
        f"/ws/display/?token={token}%00&dk={dk}",
        f"/ws/display/?token={token}&dk=%00%01",
        f"/ws/display/?token={'t' * 300}&dk={dk}",
        "/ws/staff/?ticket=nonsense",
        "/nowhere",
        "/ws/display/?" + "a=b&" * rng.randint(2000, 20000),
    ]
    target = rng.choice(targets)
    if roll < 0.8:
        return "bad-target", wsframes.handshake_request(host, port, target, key), False
    request = wsframes.handshake_request(host, port, good, key)
    mutations = [
        lambda r: r.replace(b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Version: 8"),
        lambda r: r.replace(b"Upgrade: websocket\r\n", b""),
        lambda r: r.replace(b"GET ", b"POST "),
        lambda r: r.replace(b"HTTP/1.1", b"HTTP/1.0"),
        lambda r: r.replace(b"\r\n\r\n", b"\r\nX-Junk: " + b"j" * 9000 + b"\r\n\r\n"),
        lambda r: r.replace(b"\r\n\r\n", b"\r\nBad Header\r\n\r\n"),
        lambda r: r.replace(b"Sec-WebSocket-Key: ", b"Sec-WebSocket-Key: x"),
        lambda r: r[: rng.randint(1, len(r) - 1)],  # incomplete: may be dropped after a while
        lambda r: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))) + b"\r\n\r\n",
    ]
    return "bad-request", rng.choice(mutations)(request), False


def generate(seed: int, count: int, host: str, port: int, token: str, dk: str) -> list[Case]:
    rng = random.Random(seed)
    cases = []
    for index in range(count):
        label, request, with_frames = _handshake(rng, host, port, token, dk)
        case = Case(index, label, request, dribble=rng.random() < 0.1)
        case.expect_answer = request.endswith(b"\r\n\r\n") and len(request) < 64 * 1024
        if with_frames:
            kind, frames = _frames(rng)
            case.label = f"{label}:{kind}"
            case.frames = frames
        cases.append(case)
    return cases


# --- running ---
async def run_case(host: str, port: int, case: Case, timeout: float) -> Outcome:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return Outcome("dropped")
    try:
        if case.dribble:
            for i in range(0, len(case.request), 7):
                writer.write(case.request[i : i + 7])
                await writer.drain()
        else:
            writer.write(case.request)
        buffer = bytearray()
        deadline = time.monotonic() + timeout
        parsed = None
        while parsed is None:
            chunk = await asyncio.wait_for(
                reader.read(65536), max(0.01, deadline - time.monotonic())
            )
            if not chunk:
                return Outcome("dropped")
            buffer += chunk
            parsed = wsframes.parse_handshake(buffer)
        response, used = parsed
        if response.status != 101:
            return Outcome("http", response.status)
        del buffer[:used]
        for frame in case.frames:
            writer.write(frame)
        await writer.drain()
        parser = wsframes.FrameParser()
        pending = bytes(buffer)
        while True:
            for opcode, payload in parser.feed(pending):
                if opcode == wsframes.OP_CLOSE:
                    code = wsframes.parse_close(payload)[0]
                    writer.write(wsframes.close_frame(code if code in DOCUMENTED else 1000))
                    return Outcome("close", code)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Outcome("open")
            try:  # a socket that stays silent this long after the frames stays open: a pass
                pending = await asyncio.wait_for(reader.read(65536), min(remaining, QUIET))
            except TimeoutError:
                return Outcome("open")
            if not pending:
                return Outcome("dropped")
    except TimeoutError:
        return Outcome("dropped" if case.expect_answer else "open")
    except ConnectionError:
        return Outcome("dropped")
    except wsframes.FrameError as error:
        return Outcome("close", -error.code)  # the gateway broke the framing: a failure
    finally:
        writer.close()


async def fuzz(
    host: str,
    port: int,
    token: str,
    dk: str,
    *,
    cases: int,
    seed: int,
    timeout: float = 6.0,
    concurrency: int = 8,
    only: int | None = None,
) -> dict[str, Any]:
    generated = generate(seed, cases, host, port, token, dk)
    if only is not None:
        generated = [generated[only]]
    outcomes: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    gate = asyncio.Semaphore(concurrency)
    started = time.monotonic()

    async def one(case: Case) -> None:
        async with gate:
            outcome = await run_case(host, port, case, timeout)
        outcomes[outcome.key()] += 1
        labels[case.label.split(":")[0]] += 1
        if not outcome.ok(case):
            failures.append(
                {"seed": seed, "index": case.index, "label": case.label, "outcome": outcome.key()}
            )

    await asyncio.gather(*(one(case) for case in generated))
    return {
        "cases": len(generated),
        "seed": seed,
        "elapsed_s": round(time.monotonic() - started, 1),
        "outcomes": dict(sorted(outcomes.items())),
        "handshakes": dict(sorted(labels.items())),
        "failures": failures[:50],
        "failed": len(failures),
    }


async def still_serves(host: str, port: int, token: str, dk: str, timeout: float = 10.0) -> bool:
    """A well-behaved screen still gets its hello."""
    from websockets.asyncio.client import connect

    try:
        async with connect(
            f"ws://{host}:{port}/ws/display/?token={token}&dk={dk}", open_timeout=timeout
        ) as ws:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            return bool(message.get("type") == "hello")
    except Exception:
        return False


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--dk", required=True)
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--only", type=int, help="replay one case by its index")
    args = p.parse_args()
    result = asyncio.run(
        fuzz(
            args.host,
            args.port,
            args.token,
            args.dk,
            cases=args.cases,
            seed=args.seed,
            only=args.only,
        )
    )
    print(json.dumps(result, indent=1))
    sys.exit(1 if result["failed"] else 0)


if __name__ == "__main__":
    main()
