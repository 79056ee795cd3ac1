"""Several files in one import: detection, combination, all problems at once."""

from __future__ import annotations

import pytest

from hallboard.imports.bundle import read_files
from hallboard.imports.detect import detect
from hallboard.imports.errors import ImportFileError
from hallboard.imports.records import FileKind

from .conftest import fixture_bytes

UNTIS = {
    "GPU001.TXT": "gpu001.txt",
    "GPU002.TXT": "gpu002.txt",
    "GPU003.TXT": "gpu003.txt",
    "GPU004.TXT": "gpu004.txt",
    "GPU005.TXT": "gpu005.txt",
    "GPU006.TXT": "gpu006.txt",
    "GPU014.TXT": "gpu014_comma_utf8.txt",
    "GPU018.TXT": "gpu018.txt",
}


@pytest.mark.parametrize(
    ("name", "fixture", "kind"),
    [
        ("GPU014.TXT", "gpu014_comma_utf8.txt", FileKind.GPU014),
        ("gpu001.txt", "gpu001.txt", FileKind.GPU001),
        ("export/Gpu018.csv", "gpu018.txt", FileKind.GPU018),
        ("vertretungen.txt", "gpu014_semicolon_cp1252.txt", FileKind.GPU014),
        ("stundenplan.txt", "gpu001.txt", FileKind.GPU001),
        ("subst_001.htm", "html/subst_001.htm", FileKind.UNTIS_HTML),
        ("plan.txt", "html/subst_002.htm", FileKind.UNTIS_HTML),
        ("export.csv", "lessons.csv", FileKind.CSV_LESSONS),
        ("export.csv", "substitutions.csv", FileKind.CSV_SUBSTITUTIONS),
    ],
)
def test_detect_by_name_then_content(name: str, fixture: str, kind: FileKind) -> None:
    """GPU names decide; HTML, CSV headers and GPU-shaped rows are recognised by content."""
    assert detect(name, fixture_bytes(fixture)) is kind


def test_gpu_files_hallboard_does_not_read_are_left_out() -> None:
    """A full Untis export folder can be given as it is: GPU009 is listed as ignored."""
    bundle = read_files(
        [("GPU009.TXT", b'"A",1,2\n'), ("GPU014.TXT", fixture_bytes("gpu014_comma_utf8.txt"))]
    )
    assert bundle.ignored_files == ["GPU009.TXT"]
    assert len(bundle.substitutions) == 6


def test_a_format_family_refuses_other_files() -> None:
    """--format untis-gpu refuses a monitor page with a clear reason."""
    with pytest.raises(ImportFileError) as caught:
        detect("subst_001.htm", fixture_bytes("html/subst_001.htm"), "untis-gpu")
    assert caught.value.problems[0].code == "wrong_format"
    with pytest.raises(ImportFileError) as caught:
        detect("notes.txt", b"just some words\n")
    assert caught.value.problems[0].code == "unknown_format"


def test_a_whole_untis_export_combines() -> None:
    """Master data, lessons with week groups, substitutions and holidays in one bundle."""
    bundle = read_files([(name, fixture_bytes(f)) for name, f in UNTIS.items()])
    assert len(bundle.classes) == 7
    assert len(bundle.teachers) == 6
    assert len(bundle.lessons) == 11
    assert len(bundle.substitutions) == 6
    assert len(bundle.holidays) == 3
    assert bundle.summary()["skipped"] == {"do_not_print": 1}
    assert {s.date for s in bundle.substitutions} <= bundle.substitution_dates


def test_problems_of_every_file_are_raised_together() -> None:
    """Two bad files: both are named in the one error, and nothing is returned."""
    with pytest.raises(ImportFileError) as caught:
        read_files(
            [
                ("GPU014.TXT", fixture_bytes("bad/gpu014_bad_values.txt")),
                ("GPU001.TXT", fixture_bytes("bad/gpu001_truncated.txt")),
                ("GPU018.TXT", fixture_bytes("gpu018.txt")),
            ]
        )
    assert [(p.file, p.code) for p in caught.value.problems] == [
        ("GPU014.TXT", "bad_date"),
        ("GPU014.TXT", "not_integer"),
        ("GPU001.TXT", "too_few_fields"),
    ]


def test_gpu002_needs_gpu001() -> None:
    """Week groups without the timetable they belong to are refused, not dropped."""
    with pytest.raises(ImportFileError) as caught:
        read_files([("GPU002.TXT", fixture_bytes("gpu002.txt"))])
    assert caught.value.problems[0].code == "needs_gpu001"


def test_two_pages_of_one_day_are_one_day() -> None:
    """Pages 1 and 2 of 14.9. merge: one day with its messages, seven changes."""
    bundle = read_files(
        [
            ("subst_001.htm", fixture_bytes("html/subst_001.htm")),
            ("subst_002.htm", fixture_bytes("html/subst_002.htm")),
        ]
    )
    assert len(bundle.days) == 1
    assert len(bundle.days[0].messages) == 2
    assert len(bundle.substitutions) == 7
    assert bundle.notes == []


def test_a_missing_page_is_noted() -> None:
    """Page 1 alone: the import goes on, and says that page 2 was not given."""
    bundle = read_files([("subst_001.htm", fixture_bytes("html/subst_001.htm"))])
    assert [n.code for n in bundle.notes] == ["page_not_given"]


def test_gpu014_wins_over_monitor_pages_for_substitutions() -> None:
    """Given both, substitutions come from GPU014, the day's messages from the pages."""
    bundle = read_files(
        [
            ("GPU014.TXT", fixture_bytes("gpu014_comma_utf8.txt")),
            ("subst_001.htm", fixture_bytes("html/subst_001.htm")),
            ("subst_002.htm", fixture_bytes("html/subst_002.htm")),
        ]
    )
    assert len(bundle.substitutions) == 6
    assert bundle.days[0].week_label == "A"
    assert [n.code for n in bundle.notes] == ["substitutions_from_gpu014"]
