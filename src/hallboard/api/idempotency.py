"""``Idempotency-Key``: a retried create is answered, not carried out twice.

A client that sends a management API create (``POST``) and gets no answer —
the network dropped, the server answered ``503``, its own timeout fired — cannot
know whether it happened. Sent with an ``Idempotency-Key`` header (any 1 to 255
printable ASCII characters, e.g. a UUID), the write and a record of its answer
commit in one transaction; a retry with the same key from the same caller to
the same method and path gets the recorded answer (same status and body)
instead of a second object. The same key with a different body is refused
with ``422 idempotency_key_reused``; a malformed key with ``400
invalid_idempotency_key``. Two requests with one key at once: the second waits
for the first (the key is unique in the database) and then gets its answer.
Only answers that succeeded are recorded (a refused create can be retried with
the same key after fixing it). Records expire after ``TTL``.

Stored: SHA-256 hashes of the key, the caller and the body, and the answer. A
screen's token is never stored: a replayed screen create issues the screen a
fresh token (``on_replay``), the token of the first answer stops working.
"""

# No `from __future__ import annotations`: ninja reads the wrapped views' annotations.

import datetime as dt
import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from ninja import Status

from hallboard.api.errors import ApiError
from hallboard.api.models import IdempotencyRecord
from hallboard.api.rendering import SchoolTimeEncoder
from hallboard.api.scoping import principal
from hallboard.observability import metrics

logger = logging.getLogger("hallboard.api")

HEADER = "Idempotency-Key"
#: How long a recorded answer is replayed.
TTL = dt.timedelta(hours=24)
KEY = re.compile(r"[\x21-\x7e]{1,255}")


def _sha256(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def _caller(request: HttpRequest) -> str:
    who = principal(request)
    if who.api_key is not None:
        return f"key:{who.api_key.pk}"
    return f"user:{getattr(who.user, 'pk', '')}"


def idempotent(
    view: Callable[..., Any] | None = None,
    *,
    secret: tuple[str, ...] = (),
    on_replay: Callable[[HttpRequest, dict[str, Any]], dict[str, Any]] | None = None,
) -> Any:
    """Make a create view honour ``Idempotency-Key``.

    ``secret`` names fields of the answer that are not stored; ``on_replay``
    then puts fresh values back into a replayed answer.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            key = request.headers.get(HEADER)
            if key is None:
                return view(request, *args, **kwargs)
            if not KEY.fullmatch(key):
                raise ApiError(
                    400,
                    "invalid_idempotency_key",
                    f"{HEADER} must be 1 to 255 printable ASCII characters without spaces.",
                )
            scope = _sha256(f"{_caller(request)} {request.method} {request.path}")
            key_hash, body_hash = _sha256(key), _sha256(request.body)
            now = timezone.now()
            with transaction.atomic():
                IdempotencyRecord.objects.filter(created_at__lt=now - TTL).delete()
                try:
                    with transaction.atomic():
                        record = IdempotencyRecord.objects.create(
                            scope=scope, key_hash=key_hash, request_hash=body_hash, created_at=now
                        )
                except IntegrityError:  # done before (or just now, by a concurrent request)
                    earlier = IdempotencyRecord.objects.get(scope=scope, key_hash=key_hash)
                    return _replay(request, earlier, body_hash, on_replay)
                result = view(request, *args, **kwargs)  # an exception rolls the record back
                status, value = (
                    (result.status_code, result.value)
                    if isinstance(result, Status)
                    else (200, result)
                )
                # Stored as it was answered: times with the school's offset (api.rendering).
                stored = json.loads(json.dumps(value, cls=SchoolTimeEncoder))
                if isinstance(stored, dict):
                    stored = {k: v for k, v in stored.items() if k not in secret}
                record.status, record.response = status, stored
                record.save(update_fields=["status", "response"])
            return result

        return wrapper

    return decorate(view) if view is not None else decorate


def _replay(
    request: HttpRequest,
    record: IdempotencyRecord,
    body_hash: str,
    on_replay: Callable[[HttpRequest, dict[str, Any]], dict[str, Any]] | None,
) -> Any:
    if record.request_hash != body_hash:
        raise ApiError(
            422,
            "idempotency_key_reused",
            f"This {HEADER} was used for another request; use a new key for a new request.",
        )
    metrics.idempotent_replays_total.inc()
    logger.info("api %s %s answered from its %s", request.method, request.path, HEADER)
    response = record.response
    if on_replay is not None and isinstance(response, dict):
        response = on_replay(request, response)
    # Answered as stored, not rendered again: its times keep the offset they were
    # first answered with (the school's zone is not active before the view runs).
    return JsonResponse(response, status=record.status, safe=False)
