"""The import vocabulary: file kinds, kinds of change, sources and summaries (imports.records)."""

from __future__ import annotations

import datetime as dt

import pytest

from hallboard.imports.records import (
    ChangeKind,
    DayMessage,
    FileKind,
    LessonRecord,
    ParsedFile,
    Skipped,
    Source,
    TeacherRecord,
    TextFormat,
    kind_from_word,
)


@pytest.mark.parametrize(
    ("kind", "family"),
    [
        (FileKind.GPU001, "untis-gpu"),
        (FileKind.GPU014, "untis-gpu"),
        (FileKind.GPU018, "untis-gpu"),
        (FileKind.UNTIS_HTML, "untis-html"),
        (FileKind.CSV_LESSONS, "csv"),
        (FileKind.CSV_SUBSTITUTIONS, "csv"),
    ],
)
def test_each_file_kind_belongs_to_its_format_family(kind: FileKind, family: str) -> None:
    """A kind's family is the --format value that selects it."""
    assert kind.family == family


@pytest.mark.parametrize(
    ("word", "kind"),
    [
        ("Vertretung", ChangeKind.SUBSTITUTE),
        ("  ENTFALL ", ChangeKind.CANCELLED),
        ("fällt   aus", ChangeKind.CANCELLED),
        ("Raum-Vtr.", ChangeKind.ROOM_CHANGE),
        ("Verlegung", ChangeKind.MOVED),
        ("Tausch", ChangeKind.SWAPPED),
        ("Klausur", ChangeKind.EXAM),
        ("Pausenaufsicht", ChangeKind.SUPERVISION),
        ("Zusatzunterricht", ChangeKind.EXTRA),
        ("Veranst.", ChangeKind.NOTE),
        ("room change", ChangeKind.ROOM_CHANGE),
        ("cancelled", ChangeKind.CANCELLED),
    ],
)
def test_words_schools_use_name_hallboards_kinds(word: str, kind: ChangeKind) -> None:
    """German Untis labels and English words map to a kind, ignoring case and extra spaces."""
    assert kind_from_word(word) is kind


def test_every_kind_is_named_by_its_own_value() -> None:
    """hallboard's own value of each kind is one of its words."""
    for kind in ChangeKind:
        assert kind_from_word(kind.value) is kind


def test_an_unknown_word_names_no_kind() -> None:
    """A word no format uses gives None, not a guess."""
    assert kind_from_word("Mittagessen") is None
    assert kind_from_word("") is None


def test_a_source_reads_as_file_and_line() -> None:
    """A source prints as 'file:line', or the file alone for rows without lines (HTML)."""
    assert str(Source("GPU014.TXT", 12)) == "GPU014.TXT:12"
    assert str(Source("subst_001.htm")) == "subst_001.htm"


def test_a_day_message_reads_with_its_label() -> None:
    """A message with a label reads 'label: text'; without one, the text alone."""
    assert str(DayMessage("Aula closed", "Note")) == "Note: Aula closed"
    assert str(DayMessage("Aula closed")) == "Aula closed"


def test_text_format_describes_itself_in_words_people_know() -> None:
    """Codecs and separators are described by their common names; HTML has no separator."""
    text = TextFormat("cp1252", ";", quoted=True, line_ending="CRLF")
    assert text.describe() == {
        "encoding": "Windows-1252",
        "separator": "semicolon",
        "quoted": True,
        "line_endings": "CRLF",
    }
    assert TextFormat("utf-8-sig").describe() == {"encoding": "UTF-8 with BOM"}
    assert TextFormat("koi8-r", "|").describe()["separator"] == "|"
    assert TextFormat("koi8-r").describe() == {"encoding": "koi8-r"}


def test_records_are_immutable() -> None:
    """Parsed records cannot be changed after parsing (frozen dataclasses)."""
    record = TeacherRecord("MUE", "Anna Müller")
    with pytest.raises(AttributeError):
        record.code = "SCH"  # type: ignore[misc]


def test_a_parsed_file_summary_counts_only_what_it_holds() -> None:
    """The summary names file, kind, how it was read, rows, and the non-empty record lists."""
    parsed = ParsedFile("lessons.csv", FileKind.CSV_LESSONS, TextFormat("utf-8", ","), rows=2)
    source = Source("lessons.csv", 2)
    parsed.lessons.append(LessonRecord("L1", 1, 1, ("7a",), "M", source=source))
    parsed.lessons.append(LessonRecord("L2", 1, 2, ("7a",), "D", source=source))
    parsed.skipped.append(Skipped(source, "do_not_print"))
    summary = parsed.summary()
    assert summary == {
        "file": "lessons.csv",
        "kind": "csv-lessons",
        "read_as": {
            "encoding": "UTF-8",
            "separator": "comma",
            "quoted": False,
            "line_endings": "LF",
        },
        "rows": 2,
        "records": {"lessons": 2, "skipped": 1},
    }


def test_a_parsed_file_summary_lists_ignored_columns() -> None:
    """Columns the parser did not use are named in the summary, so a user sees them."""
    parsed = ParsedFile("x.csv", FileKind.CSV_LESSONS, TextFormat("utf-8", ","))
    assert "ignored_columns" not in parsed.summary()
    parsed.ignored_columns.append("colour")
    assert parsed.summary()["ignored_columns"] == ["colour"]


def test_a_lesson_record_defaults_to_every_week_and_no_validity() -> None:
    """A lesson without week label or dates takes place every week, always."""
    lesson = LessonRecord("L1", 1, 1, ("7a",), "M")
    assert (lesson.week_label, lesson.valid_from, lesson.valid_to) == ("", None, None)
    assert lesson == LessonRecord("L1", 1, 1, ("7a",), "M")
    assert lesson != LessonRecord("L1", 1, 1, ("7a",), "M", valid_from=dt.date(2026, 9, 1))
