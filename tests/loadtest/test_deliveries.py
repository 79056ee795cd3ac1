"""Delivery bookkeeping: what counts as a screen hearing of an edit, and what is missing."""

from __future__ import annotations

import pytest

from hallboard.loadtest.deliveries import POLL, PUSH, Edit, Tracker


def test_a_push_with_the_revision_after_the_edit_is_a_delivery() -> None:
    """An invalidate with rev >= the edit's, received after it, counts; latency = receive - ts."""
    tracker = Tracker()
    edit = tracker.add_edit(Edit(school=1, rev=5, ts=100.0))
    tracker.expect(edit, [10, 11])
    tracker.observe(10, "i", 5, 100.004)
    tracker.observe(11, "i", 6, 100.010)  # a later revision implies this one
    assert tracker.outstanding == 0
    assert tracker.latency[(edit, 10)] == pytest.approx(0.004)
    assert sorted(tracker.latencies([edit])) == pytest.approx([0.004, 0.010])
    assert tracker.delivered([edit]) == 2


def test_older_revisions_earlier_messages_and_other_kinds_do_not_count() -> None:
    """A lower rev, a message before the edit, or a poll where push is expected stays missing."""
    tracker = Tracker()
    tracker.observe(10, "i", 9, 99.0)  # before the edit, even with a newer rev
    edit = tracker.add_edit(Edit(school=1, rev=7, ts=100.0))
    tracker.expect(edit, [10])
    tracker.observe(10, "i", 6, 100.1)
    tracker.observe(10, "p", 7, 100.2)
    assert tracker.missing() == [(edit, 10)]
    tracker.observe(10, "a", 7, 100.3)
    assert tracker.missing() == []
    assert tracker.via[(edit, 10)] == "a"


def test_what_arrived_before_expect_is_matched_from_history() -> None:
    """Rows may arrive before the trigger returns its revision: they still count."""
    tracker = Tracker()
    edit = tracker.add_edit(Edit(school=1, rev=3, ts=50.0))
    tracker.observe(10, "p", 3, 50.5)
    tracker.expect(edit, [10], POLL)
    assert tracker.outstanding == 0
    assert tracker.via[(edit, 10)] == "p"


def test_missing_stays_counted_after_the_scenario_gives_up() -> None:
    """Forgetting what is pending keeps it in the expected total, never in the delivered one."""
    tracker = Tracker()
    edit = tracker.add_edit(Edit(school=1, rev=3, ts=50.0))
    tracker.expect(edit, [10, 11, 12], PUSH)
    tracker.observe(11, "i", 3, 50.1)
    assert tracker.missing() == [(edit, 10), (edit, 12)]
    tracker.forget_pending()
    assert tracker.expected == 3
    assert tracker.delivered([edit]) == 1
