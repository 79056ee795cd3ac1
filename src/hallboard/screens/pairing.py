"""Pairing a display with a screen by a short code shown on the display.

1. An unpaired display asks for a code (``start``): it gets the code to show
   and a secret to keep. The code expires after ``PAIRING_TTL``.
2. An admin claims the code for a screen (admin page or API; ``claim``),
   rate limited per person so codes cannot be guessed.
3. The display, polling with its secret, picks the token up (``pick_up``):
   the screen's token is issued (rotated) at that moment, handed over exactly
   once, and the screen is bound to that display's device key.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from hallboard.screens.models import (
    PAIRING_ALPHABET,
    PAIRING_CODE_LENGTH,
    PairingCode,
    Screen,
)
from hallboard.screens.tokens import hash_token, token_matches

PAIRING_TTL = dt.timedelta(minutes=15)
#: Claims per person (user or API key): codes must not be guessable by trying.
CLAIM_LIMIT = "10/minute"


class PairingError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def normalise(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def start(device_key: str) -> tuple[PairingCode, str]:
    """A new code for the display with ``device_key``, and the secret it keeps."""
    secret = secrets.token_urlsafe(24)
    for _ in range(10):
        code = "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(PAIRING_CODE_LENGTH))
        try:
            with transaction.atomic():
                pairing = PairingCode.objects.create(
                    code=code,
                    secret_hash=hash_token(secret),
                    device_key=device_key,
                    expires_at=timezone.now() + PAIRING_TTL,
                )
        except IntegrityError:  # the code is taken: draw again
            continue
        return pairing, secret
    raise PairingError("pairing_unavailable", "Could not allocate a pairing code; try again.")


def claim(code: str, screen: Screen, user: object | None = None) -> PairingCode:
    """Attach the display showing ``code`` to ``screen``."""
    with transaction.atomic():
        pairing = PairingCode.objects.select_for_update().filter(code=normalise(code)).first()
        if pairing is None or pairing.expired:
            raise PairingError("pairing_unknown", "No such pairing code, or it has expired.")
        if pairing.claimed_at is not None:
            raise PairingError("pairing_claimed", "This code has already been claimed.")
        pairing.screen = screen
        pairing.claimed_at = timezone.now()
        pairing.claimed_by = user if getattr(user, "is_authenticated", False) else None  # type: ignore[assignment]
        pairing.save()
    return pairing


@dataclass(frozen=True)
class Pickup:
    status: str  # "waiting" or "paired"
    expires_at: dt.datetime
    token: str | None = None
    screen: Screen | None = None


def pick_up(code: str, secret: str) -> Pickup:
    """What the display polling with ``secret`` gets: wait, or the token (exactly once)."""
    with transaction.atomic():
        pairing = (
            # of=("self",): PostgreSQL cannot lock the nullable side of the outer join.
            PairingCode.objects.select_for_update(of=("self",))
            .select_related("screen")
            .filter(code=normalise(code))
            .first()
        )
        if pairing is None or not token_matches(secret, pairing.secret_hash):
            raise PairingError("pairing_unknown", "No such pairing code.")
        if pairing.delivered_at is not None:
            raise PairingError("pairing_gone", "The token for this code was already delivered.")
        if pairing.screen is None:
            if pairing.expired:
                raise PairingError("pairing_expired", "The code expired; ask for a new one.")
            return Pickup("waiting", pairing.expires_at)
        screen = pairing.screen
        token = screen.issue_token()
        Screen.objects.filter(pk=screen.pk).update(
            device_key=pairing.device_key, bound_at=timezone.now()
        )
        pairing.delivered_at = timezone.now()
        pairing.save(update_fields=["delivered_at"])
        return Pickup("paired", pairing.expires_at, token, screen)
