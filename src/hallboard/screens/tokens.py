"""Screen tokens: opaque secrets, shown once, stored only as a hash.

A token carries 192 random bits (``secrets.token_urlsafe(24)``), prefixed with
``hbs_`` so that a leaked one is recognisable in logs and secret scanners. The
server stores SHA-256 of it: the token's entropy makes a slow password hash
unnecessary, and a plain digest lets the lookup use an index. Lookups compare
digests in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "hbs_"  # noqa: S105 - a recognisable prefix, not a secret
TOKEN_BYTES = 24  # 192 bits, above the 128-bit floor of the protocol


def new_token() -> tuple[str, str]:
    """A fresh token and the hash to store. Show the token once; keep only the hash."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str | None) -> bool:
    """Whether ``token`` hashes to ``stored_hash``, compared in constant time."""
    if not stored_hash:
        return False
    return hmac.compare_digest(hash_token(token), stored_hash)
