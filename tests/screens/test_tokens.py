"""Screen tokens: recognisable, random, stored only as a hash, compared in constant time."""

from __future__ import annotations

import hashlib

from hallboard.screens import tokens


def test_a_new_token_is_prefixed_random_and_hashed() -> None:
    """hbs_ then 192 random bits (32 URL-safe characters); the hash is its SHA-256."""
    token, digest = tokens.new_token()
    assert token.startswith("hbs_")
    assert len(token) == len("hbs_") + 32
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert tokens.new_token()[0] != token


def test_a_token_matches_only_its_own_hash() -> None:
    """The right token matches; another token, or no stored hash (revoked), does not."""
    token, digest = tokens.new_token()
    assert tokens.token_matches(token, digest)
    assert not tokens.token_matches(token + "x", digest)
    assert not tokens.token_matches(token, None)
    assert not tokens.token_matches(token, "")
