"""``Refused`` (hallboard.staff.refused): a refused staff request and the JSON it answers with;
how the pages answer it (log, metric, status) is in tests/staff/pages/test_tasks.py."""

from __future__ import annotations

import pytest

from hallboard.staff.refused import Refused


def test_it_carries_status_code_and_detail_and_is_raised_as_an_exception() -> None:
    """The status, the stable code and the detail for people (also the exception's text)."""
    with pytest.raises(Refused) as caught:
        raise Refused(403, "forbidden", "Not your school.")
    assert (caught.value.status, caught.value.code, caught.value.detail) == (
        403,
        "forbidden",
        "Not your school.",
    )
    assert str(caught.value) == "Not your school."
    assert caught.value.as_json() == {"error": "forbidden", "detail": "Not your school."}


def test_extra_fields_are_part_of_the_answer() -> None:
    """Extra keyword fields (a conflict's state now) follow error and detail in the JSON."""
    refused = Refused(409, "conflict", "Changed meanwhile.", rev=12, change={"id": 3})
    assert refused.as_json() == {
        "error": "conflict",
        "detail": "Changed meanwhile.",
        "rev": 12,
        "change": {"id": 3},
    }
