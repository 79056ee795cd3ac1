"""Topic names: built from the server's own ids, one namespace per kind, never colliding."""

from __future__ import annotations

from hallboard.realtime.core import topics


def test_each_kind_has_its_own_namespace() -> None:
    """The same id names four different topics; the control topic is none of them."""
    names = [topics.school(7), topics.screen(7), topics.user(7), topics.dashboard(7)]
    assert names == ["school:7", "screen:7", "user:7", "dash:7"]
    assert len({*names, topics.CONTROL}) == 5


def test_different_ids_make_different_topics() -> None:
    """Topic names are the kind and the id: ids 1 and 11 never share a topic."""
    assert topics.school(1) != topics.school(11)
    assert topics.screen(12) != topics.school(12)
