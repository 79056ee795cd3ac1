"""``hallboard.safejson``: client JSON parsed only when the database and the code can hold it."""

from __future__ import annotations

import pytest

from hallboard import safejson
from hallboard.safejson import Rejected


def test_plain_json_parses_to_python_values() -> None:
    """Ordinary JSON, as bytes or text, parses to the same Python values as ``json.loads``."""
    text = '{"a": [1, 2.5, "x", true, null], "b": {"c": -3}}'
    expected = {"a": [1, 2.5, "x", True, None], "b": {"c": -3}}
    assert safejson.loads(text) == expected
    assert safejson.loads(text.encode()) == expected
    assert safejson.loads(bytearray(text.encode())) == expected


def test_bytes_that_are_not_utf8_are_refused_as_a_document_problem() -> None:
    """Bytes that are not UTF-8 are refused, as a problem of the document (no ``loc``)."""
    with pytest.raises(Rejected, match="not UTF-8") as caught:
        safejson.loads(b'{"a": "\xff"}')
    assert caught.value.loc == ()
    assert caught.value.in_value is False


@pytest.mark.parametrize("body", ["{", "[1,]", "", "nul", "{'a': 1}"])
def test_malformed_json_is_refused(body: str) -> None:
    """Malformed JSON raises ``Rejected`` (a ``ValueError``), not ``json.JSONDecodeError``."""
    with pytest.raises(Rejected, match="not valid JSON") as caught:
        safejson.loads(body)
    assert isinstance(caught.value, ValueError)
    assert caught.value.in_value is False


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused(constant: str) -> None:
    """``NaN``, ``Infinity`` and ``-Infinity``, which Python's json accepts, are refused."""
    with pytest.raises(Rejected, match="not a number JSON allows"):
        safejson.loads(f'{{"x": [{constant}]}}')


def test_integers_at_the_bigint_limits_are_accepted() -> None:
    """The smallest and largest PostgreSQL ``bigint`` values parse."""
    assert safejson.loads(f"[{safejson.INT_MIN}, {safejson.INT_MAX}]") == [
        -(2**63),
        2**63 - 1,
    ]


@pytest.mark.parametrize("number", [2**63, -(2**63) - 1, 10**40])
def test_integers_beyond_64_bits_are_refused_with_their_path(number: int) -> None:
    """An integer outside ``bigint`` is refused as a value problem, naming where it is."""
    with pytest.raises(Rejected, match="out of range") as caught:
        safejson.loads(f'{{"items": [0, {{"n": {number}}}]}}')
    assert caught.value.loc == ("items", 1, "n")
    assert caught.value.in_value is True


def test_an_out_of_range_integer_at_the_top_is_still_a_value_problem() -> None:
    """A bare out-of-range integer has the placeholder path ``("",)``, so it is a 422 too."""
    with pytest.raises(Rejected) as caught:
        safejson.loads(str(2**64))
    assert caught.value.loc == ("",)
    assert caught.value.in_value is True


def test_big_floats_are_not_integers_and_are_accepted() -> None:
    """Only integers have the 64-bit limit: a large finite float parses."""
    assert safejson.loads("1e300") == 1e300


def test_a_nul_in_a_string_is_refused_with_its_path() -> None:
    """A NUL character in any string is refused, with the path to the string."""
    with pytest.raises(Rejected, match="NUL") as caught:
        safejson.loads('{"a": {"b": ["ok", "x\\u0000y"]}}')
    assert caught.value.loc == ("a", "b", 1)


def test_a_nul_in_an_object_key_is_refused_with_its_path() -> None:
    """A NUL character in an object key is refused, the path ending at that key."""
    with pytest.raises(Rejected, match="Names may not contain NUL") as caught:
        safejson.loads('{"outer": {"k\\u0000": 1}}')
    assert caught.value.loc == ("outer", "k\x00")


def test_nesting_up_to_the_limit_is_accepted_one_more_is_refused() -> None:
    """``max_depth`` levels of arrays parse; one more level is refused."""
    assert safejson.loads("[" * 3 + "]" * 3, max_depth=3) == [[[]]]
    with pytest.raises(Rejected, match="deeper than 3 levels") as caught:
        safejson.loads("[" * 4 + "]" * 4, max_depth=3)
    assert caught.value.in_value is False


def test_the_default_depth_limit_is_max_depth() -> None:
    """Without ``max_depth``, ``MAX_DEPTH`` levels parse and ``MAX_DEPTH + 1`` do not."""
    depth = safejson.MAX_DEPTH
    safejson.loads('{"a":' * (depth - 1) + "[]" + "}" * (depth - 1))
    with pytest.raises(Rejected, match="nested deeper"):
        safejson.loads("[" * (depth + 1) + "]" * (depth + 1))


def test_absurdly_deep_nesting_is_rejected_never_a_recursion_error() -> None:
    """Nesting far beyond Python's recursion limit is a ``Rejected``, not a ``RecursionError``."""
    with pytest.raises(Rejected, match="nested deeper"):
        safejson.loads("[" * 200_000 + "]" * 200_000)


def test_check_applies_the_same_limits_to_parsed_values() -> None:
    """``check`` accepts values within the limits and refuses the same problems as ``loads``."""
    safejson.check({"a": [1, "b", None, True, 2.5]})
    with pytest.raises(Rejected):
        safejson.check({"a": "\x00"})
    with pytest.raises(Rejected):
        safejson.check([2**63])
    with pytest.raises(Rejected):
        safejson.check([[[]]], max_depth=2)


def test_booleans_are_not_mistaken_for_out_of_range_integers() -> None:
    """``True``/``False`` (Python ints) and ``None`` pass ``check`` untouched."""
    safejson.check([True, False, None])
