"""Which kind of file an import holds: by name first, then by content (imports.detect)."""

from __future__ import annotations

import pytest

from hallboard.imports.detect import detect, is_html
from hallboard.imports.errors import ImportFileError
from hallboard.imports.records import FileKind
from tests.imports.conftest import fixture_bytes

GPU014_ROW = fixture_bytes("gpu014_comma_utf8.txt")
GPU001_ROWS = fixture_bytes("gpu001.txt")
LESSONS_CSV = fixture_bytes("lessons.csv")


def _codes(error: pytest.ExceptionInfo[ImportFileError]) -> list[str]:
    return [p.code for p in error.value.problems]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("GPU001.TXT", FileKind.GPU001),
        ("gpu002.txt", FileKind.GPU002),
        ("Gpu003.csv", FileKind.GPU003),
        ("export/GPU004.TXT", FileKind.GPU004),
        ("GPU005", FileKind.GPU005),
        ("GPU006.TXT", FileKind.GPU006),
        ("GPU014.TXT", FileKind.GPU014),
        ("GPU18.TXT", FileKind.GPU018),
    ],
)
def test_gpu_files_are_known_by_their_name_in_any_case(name: str, kind: FileKind) -> None:
    """A name containing GPUnnn (any case, with or without leading zeros) is that export,
    whatever its content."""
    assert detect(name, b"whatever,the,content") is kind


def test_gpu_files_hallboard_does_not_read_are_left_out_not_refused() -> None:
    """GPU009 (break supervisions) and GPU013 (absences) are recognised and give None, so
    that a whole Untis export folder can be imported as it is."""
    assert detect("GPU009.TXT", b"1,2,3") is None
    assert detect("gpu013.txt", b"1,2,3") is None


def test_html_content_is_a_monitor_page_whatever_the_name() -> None:
    """A document starting with an HTML tag is an Untis monitor page, even named GPU014."""
    page = b"\n  <!DOCTYPE html><html><body>...</body></html>"
    assert detect("subst_001.htm", page) is FileKind.UNTIS_HTML
    assert detect("GPU014.TXT", page) is FileKind.UNTIS_HTML
    assert detect("page.txt", b"<TABLE class=mon_list>") is FileKind.UNTIS_HTML


def test_is_html_only_looks_at_the_start_of_the_file() -> None:
    """A tag mentioned after the first 4 KiB does not make a text export HTML."""
    assert is_html(b"<html>")
    assert is_html(b"  <meta charset=utf-8>")
    assert not is_html(b"a,b,c\n" + b"x" * 5000 + b"<html>")
    assert not is_html(b"1,2,<b>bold</b>")


def test_hallboard_csv_is_known_by_its_header() -> None:
    """A first row naming hallboard's CSV columns is that CSV, under any file name."""
    assert detect("lessons-export.csv", LESSONS_CSV) is FileKind.CSV_LESSONS
    assert detect("upload.txt", fixture_bytes("substitutions.csv")) is FileKind.CSV_SUBSTITUTIONS


def test_untis_rows_are_known_by_their_shape_without_the_name() -> None:
    """A renamed GPU014 (≥ 21 fields, yyyyMMdd second) or GPU001 (weekday sixth, period
    seventh) is still recognised by its first row."""
    assert detect("changes.txt", GPU014_ROW) is FileKind.GPU014
    assert detect("timetable.txt", GPU001_ROWS) is FileKind.GPU001


def test_a_file_of_unknown_shape_is_refused_with_unknown_format() -> None:
    """Content that matches no format ends in ImportFileError(unknown_format) naming the file."""
    with pytest.raises(ImportFileError) as error:
        detect("notes.txt", b"hello,world\nfoo,bar\n")
    assert _codes(error) == ["unknown_format"]
    assert error.value.problems[0].file == "notes.txt"


def test_an_empty_file_is_refused_as_empty() -> None:
    """A file holding only whitespace is refused as empty_file, not crashed on."""
    with pytest.raises(ImportFileError) as error:
        detect("blank.txt", b"   \n")
    assert _codes(error) == ["empty_file"]


def test_a_chosen_family_refuses_a_file_of_another_family() -> None:
    """With --format csv, a monitor page is refused as wrong_format naming what was expected."""
    with pytest.raises(ImportFileError) as error:
        detect("subst_001.htm", b"<html></html>", family="csv")
    assert _codes(error) == ["wrong_format"]
    assert "hallboard CSV" in error.value.problems[0].message


def test_a_chosen_family_stops_guessing_by_name() -> None:
    """With --format csv a file named GPU014 is read by content: a CSV header is a CSV."""
    assert detect("GPU014.csv", LESSONS_CSV, family="csv") is FileKind.CSV_LESSONS


def test_the_gpu_family_does_not_take_a_hallboard_csv() -> None:
    """With --format untis-gpu, a hallboard CSV header is not taken as a CSV (nor as GPU)."""
    with pytest.raises(ImportFileError) as error:
        detect("lessons.csv", LESSONS_CSV, family="untis-gpu")
    assert _codes(error) == ["unknown_format"]


def test_an_unknown_family_is_a_programming_error() -> None:
    """A family outside FAMILIES is a ValueError, not an import problem."""
    with pytest.raises(ValueError, match="unknown format family"):
        detect("GPU001.TXT", b"", family="excel")
