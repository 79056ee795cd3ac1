"""A display's credentials and its If-None-Match, read one way for every door.

The Django display views (``hallboard.display.auth``), the status fast path in
front of Django (``hallboard.display.fast_status``) and the push gateway's
handshake (``hallboard.realtime.gateway.handshake``) all read a request with
these functions, so a request means the same thing whichever of them answers it:

- **Query parameters**: ``query_values`` parses the query string as Django's
  ``QueryDict`` does (blank values kept) and, for a parameter given more than
  once, keeps the **last** value, as ``QueryDict.get`` does:
  ``?token=a&token=b`` means token ``b``. A query with more parameters than
  ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` is not read here (Django refuses it).
- **Headers**: a header sent more than once counts as its values joined by
  ``,``, as Django's ASGI handler joins them (two ``X-Device-Key`` headers make
  one malformed key); header names holding ``_`` are ignored, as Django does.
- **Token**: ``?token=``, else ``Authorization: Bearer <token>``. **Device key**:
  ``?dk=``, else ``X-Device-Key``; surrounding spaces stripped.
- ``problem`` says what is wrong with their shape (checked before anything is
  looked up): no token or one over ``MAX_TOKEN_LENGTH`` (401), no device key
  (400), a device key that is not 8 to 128 of ``A-Z a-z 0-9 - _`` (400).
- ``etag_matches``: ``If-None-Match`` names the current ETag, or ``*`` (a
  comma-separated list; weak comparison is not used, the ETags are strong).

Pure: no Django (the callers hand over what they read).
"""

from __future__ import annotations

import enum
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

DEVICE_KEY = re.compile(r"[A-Za-z0-9_-]{8,128}")
MAX_TOKEN_LENGTH = 256


class Problem(enum.Enum):
    """What is wrong with a request's credentials before any lookup."""

    NO_TOKEN = enum.auto()  # 401 invalid_token
    NO_DEVICE_KEY = enum.auto()  # 400 missing_device_key
    BAD_DEVICE_KEY = enum.auto()  # 400 invalid_device_key


@dataclass(frozen=True, slots=True)
class Credentials:
    token: str
    device_key: str

    @property
    def problem(self) -> Problem | None:
        if not self.token or len(self.token) > MAX_TOKEN_LENGTH:
            return Problem.NO_TOKEN
        if not self.device_key:
            return Problem.NO_DEVICE_KEY
        if not DEVICE_KEY.fullmatch(self.device_key):
            return Problem.BAD_DEVICE_KEY
        return None


def query_values(query: str, max_fields: int | None = None) -> dict[str, str]:
    """Each parameter's last value (``QueryDict.get``); ``ValueError`` over ``max_fields``.

    A query with nothing to unquote (no ``%``, no ``+``: a display's own) is split here,
    as ``parse_qsl`` splits it (fields on ``&``, blank ones skipped, a name without ``=``
    a blank value), at a fraction of its cost; any other goes to ``parse_qsl``."""
    if "%" in query or "+" in query:
        return dict(
            urllib.parse.parse_qsl(query, keep_blank_values=True, max_num_fields=max_fields)
        )
    if max_fields is not None and query and max_fields < 1 + query.count("&"):
        raise ValueError("Max number of fields exceeded")  # parse_qsl's words
    values: dict[str, str] = {}
    for field in query.split("&"):
        if field:
            name, _, value = field.partition("=")
            values[name] = value
    return values


def read(query: dict[str, str], authorization: str, device_key_header: str) -> Credentials:
    """The credentials of a request: its query's values and the two headers (``""``: absent)."""
    token = query.get("token", "")
    if not token:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            token = value.strip()
    device_key = query.get("dk", "") or device_key_header
    return Credentials(token, device_key.strip())


def joined_headers(headers: Iterable[tuple[bytes, bytes]], *wanted: bytes) -> dict[bytes, str]:
    """The ``wanted`` headers (lower-case names) of an ASGI scope, repeated ones joined by
    ``,`` as Django's ASGI handler joins them."""
    found: dict[bytes, list[str]] = {}
    for name, value in headers:
        if name in wanted:
            found.setdefault(name, []).append(value.decode("latin-1"))
    return {name: ",".join(values) for name, values in found.items()}


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` header value names ``etag`` (or ``*``)."""
    return any(
        candidate.strip() in (etag, "*") for candidate in if_none_match.split(",") if candidate
    )
