"""``hallboard.screens.pairing``: a display paired with a screen by a short code."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from hallboard.screens import pairing
from hallboard.screens.models import PAIRING_ALPHABET, PAIRING_CODE_LENGTH, PairingCode, Screen
from hallboard.screens.tokens import token_matches
from tests.conftest import Tenant, make_screen, make_user


def _expire(code: PairingCode) -> None:
    PairingCode.objects.filter(pk=code.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )


@pytest.mark.parametrize("typed", ["ab-c2 3d", " ABC23D ", "abc23d", "ABC-23D"])
def test_codes_are_normalised_as_people_type_them(typed: str) -> None:
    """Case, dashes and spaces do not matter in a typed code."""
    assert pairing.normalise(typed) == "ABC23D"


def test_start_gives_a_readable_code_and_a_secret_kept_only_as_a_hash(db: None) -> None:
    """A new code is in the unambiguous alphabet, expires after ``PAIRING_TTL``, and
    stores the display's device key and only a hash of its secret."""
    before = timezone.now()
    code, secret = pairing.start("device-key-1")
    assert len(code.code) == PAIRING_CODE_LENGTH
    assert set(code.code) <= set(PAIRING_ALPHABET)
    assert code.device_key == "device-key-1"
    assert secret not in code.secret_hash
    assert token_matches(secret, code.secret_hash)
    assert before + pairing.PAIRING_TTL <= code.expires_at <= timezone.now() + pairing.PAIRING_TTL


def test_start_draws_again_when_a_code_is_taken(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A code already in use is never handed out twice: the next draw is used."""
    taken, _ = pairing.start("device-a")
    draws = iter(list(taken.code) + list("XYZ234"))
    monkeypatch.setattr(pairing.secrets, "choice", lambda alphabet: next(draws))
    fresh, _ = pairing.start("device-b")
    assert fresh.code == "XYZ234"


def test_start_gives_up_after_ten_taken_codes(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """If every draw is taken, ``start`` refuses with ``pairing_unavailable``."""
    taken, _ = pairing.start("device-a")
    draws = iter(list(taken.code) * 10)
    monkeypatch.setattr(pairing.secrets, "choice", lambda alphabet: next(draws))
    with pytest.raises(pairing.PairingError) as caught:
        pairing.start("device-b")
    assert caught.value.code == "pairing_unavailable"


def test_claim_attaches_the_screen_and_records_who(tenant: Tenant) -> None:
    """Claiming a code (as typed) attaches the screen, with the signed-in claimer."""
    screen, _ = make_screen(tenant.school)
    code, _ = pairing.start("device-1")
    admin = make_user("a", "admin", school=tenant.school)
    typed = f"{code.code[:3].lower()}-{code.code[3:]}"
    claimed = pairing.claim(typed, screen, admin)
    assert claimed.screen == screen
    assert claimed.claimed_by == admin
    assert claimed.claimed_at is not None


def test_claim_by_an_api_key_records_no_user(tenant: Tenant) -> None:
    """A claim without a signed-in user (an API key, anonymous) records no claimer."""
    screen, _ = make_screen(tenant.school)
    code, _ = pairing.start("device-1")
    assert pairing.claim(code.code, screen, AnonymousUser()).claimed_by is None


def test_a_code_is_claimed_once_and_never_when_unknown_or_expired(tenant: Tenant) -> None:
    """A second claim is ``pairing_claimed``; an unknown or expired code ``pairing_unknown``."""
    screen, _ = make_screen(tenant.school)
    code, _ = pairing.start("device-1")
    pairing.claim(code.code, screen)
    with pytest.raises(pairing.PairingError) as caught:
        pairing.claim(code.code, screen)
    assert caught.value.code == "pairing_claimed"
    with pytest.raises(pairing.PairingError) as caught:
        pairing.claim("ZZZZZZ", screen)
    assert caught.value.code == "pairing_unknown"
    late, _ = pairing.start("device-2")
    _expire(late)
    with pytest.raises(pairing.PairingError) as caught:
        pairing.claim(late.code, screen)
    assert caught.value.code == "pairing_unknown"


def test_before_the_claim_the_display_waits(db: None) -> None:
    """Polling an unclaimed code with its secret says ``waiting``, with the expiry."""
    code, secret = pairing.start("device-1")
    result = pairing.pick_up(code.code, secret)
    assert (result.status, result.expires_at, result.token) == ("waiting", code.expires_at, None)


def test_the_token_is_issued_bound_and_handed_over_exactly_once(tenant: Tenant) -> None:
    """After the claim the display gets a fresh token for the screen, which is bound to its
    device key; the old token stops working; a second pick-up is ``pairing_gone``."""
    screen, old_token = make_screen(tenant.school)
    code, secret = pairing.start("device-1")
    pairing.claim(code.code, screen)
    result = pairing.pick_up(code.code.lower(), secret)
    assert result.status == "paired"
    assert result.screen == screen
    assert result.token is not None
    assert result.token != old_token
    screen = Screen.objects.get(pk=screen.pk)
    assert screen.device_key == "device-1"
    assert screen.bound_at is not None
    assert token_matches(result.token, screen.token_hash)
    assert not token_matches(old_token, screen.token_hash)
    with pytest.raises(pairing.PairingError) as caught:
        pairing.pick_up(code.code, secret)
    assert caught.value.code == "pairing_gone"


def test_a_wrong_secret_learns_nothing(tenant: Tenant) -> None:
    """A wrong secret, or an unknown code, is ``pairing_unknown`` whatever the state."""
    screen, _ = make_screen(tenant.school)
    code, _ = pairing.start("device-1")
    pairing.claim(code.code, screen)
    for args in ((code.code, "wrong"), ("ZZZZZZ", "wrong")):
        with pytest.raises(pairing.PairingError) as caught:
            pairing.pick_up(*args)
        assert caught.value.code == "pairing_unknown"
    assert PairingCode.objects.get(pk=code.pk).delivered_at is None


def test_an_unclaimed_code_expires(db: None) -> None:
    """Polling an unclaimed code after its expiry is ``pairing_expired``."""
    code, secret = pairing.start("device-1")
    _expire(code)
    with pytest.raises(pairing.PairingError) as caught:
        pairing.pick_up(code.code, secret)
    assert caught.value.code == "pairing_expired"
