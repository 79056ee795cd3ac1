"""JSON from clients, parsed to what the database and the code can hold: the one parse helper.

``loads`` refuses, with ``Rejected`` (a ``ValueError``) naming what and where:

- malformed JSON or bytes that are not UTF-8;
- nesting deeper than ``max_depth`` (default ``MAX_DEPTH``) — never a
  ``RecursionError`` however deep;
- ``NaN``, ``Infinity`` and ``-Infinity`` (Python accepts them, JSON and
  PostgreSQL do not);
- integers outside PostgreSQL's ``bigint`` (-2⁶³ … 2⁶³-1);
- a NUL character in any string or object key (PostgreSQL text cannot hold one).

Used by the management API's body parser and the display's pairing endpoint
(``hallboard.display.pairing_views``). (The display's heartbeats and acks,
over HTTP and on the socket, are read by ``hallboard.realtime.core.validation``,
which holds them to the columns they are stored in.)
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1


class Rejected(ValueError):
    """Why a client's JSON is refused; ``loc`` is the path to the bad value, if any."""

    def __init__(self, detail: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.loc = loc
        #: A problem with one value (422 in the API) rather than with the document (400).
        self.in_value = bool(loc)


def _no_constants(name: str) -> Any:
    raise Rejected(f"{name} is not a number JSON allows.")


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data``; raise ``Rejected`` unless it is within the limits above."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    except UnicodeDecodeError:
        raise Rejected("The body is not UTF-8.") from None
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except Rejected:
        raise
    except RecursionError:
        raise Rejected(f"JSON nested deeper than {max_depth} levels.") from None
    except ValueError as exc:
        raise Rejected(f"The body is not valid JSON ({exc}).") from None
    check(value, max_depth=max_depth)
    return value


def check(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise ``Rejected`` if the parsed ``value`` breaks a limit (see the module docstring)."""
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(value, 1, ())]
    while stack:
        item, depth, loc = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise Rejected("Text may not contain NUL characters.", loc or ("",))
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not INT_MIN <= item <= INT_MAX:
                raise Rejected("Integer out of range (64-bit).", loc or ("",))
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise Rejected(f"JSON nested deeper than {max_depth} levels.")
            if isinstance(item, dict):
                for key, child in item.items():
                    if "\x00" in key:
                        raise Rejected("Names may not contain NUL characters.", (*loc, key))
                    stack.append((child, depth + 1, (*loc, key)))
            else:
                stack.extend((child, depth + 1, (*loc, i)) for i, child in enumerate(item))
