"""Topic names. Always built by the server from ids it derived itself, never from client input."""

from __future__ import annotations

#: Every gateway listens here for events about all its connections (flags changed).
CONTROL = "control"


def school(school_id: int) -> str:
    return f"school:{school_id}"


def screen(screen_id: int) -> str:
    return f"screen:{screen_id}"


def user(user_id: int) -> str:
    """One staff user's sockets (feedback on what that user sent)."""
    return f"user:{user_id}"


def dashboard(school_id: int) -> str:
    """Staff sockets watching a school's live screens dashboard."""
    return f"dash:{school_id}"
