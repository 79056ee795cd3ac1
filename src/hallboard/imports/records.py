"""Typed records the parsers produce: one vocabulary for every format.

Nothing here knows about Django models. A record says what a file said, in
hallboard's words (``ChangeKind``), and keeps the raw values a format carries
(``raw_type``, ``raw_flags``) so that the mapping and the docs can explain
every decision. ``Source`` names the file and line a record came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any


class FileKind(StrEnum):
    """What a file is; decided by ``hallboard.imports.detect``."""

    GPU001 = "gpu001"  # timetable: when each lesson number takes place
    GPU002 = "gpu002"  # lessons: week groups and validity
    GPU003 = "gpu003"  # classes
    GPU004 = "gpu004"  # teachers
    GPU005 = "gpu005"  # rooms
    GPU006 = "gpu006"  # subjects
    GPU014 = "gpu014"  # substitutions
    GPU018 = "gpu018"  # holidays
    UNTIS_HTML = "untis-html"  # monitor page subst_NNN.htm
    CSV_LESSONS = "csv-lessons"
    CSV_SUBSTITUTIONS = "csv-substitutions"

    @property
    def family(self) -> str:
        """The ``--format`` family: untis-gpu, untis-html or csv."""
        if self.value.startswith("gpu"):
            return "untis-gpu"
        if self is FileKind.UNTIS_HTML:
            return "untis-html"
        return "csv"


class ChangeKind(StrEnum):
    """The kinds of dated change hallboard knows, whatever the source called them."""

    SUBSTITUTE = "substitute"  # another teacher (and/or subject)
    CANCELLED = "cancelled"
    ROOM_CHANGE = "room_change"
    MOVED = "moved"  # the lesson takes place at another time
    SWAPPED = "swapped"  # two lessons (or two teachers) change places
    EXTRA = "extra"  # an additional lesson
    EXAM = "exam"
    SUPERVISION = "supervision"  # the class is supervised instead of taught
    NOTE = "note"  # only a remark


# Words schools and formats use for a kind of change (compared case-insensitively):
# hallboard's own values, Untis' German labels (monitor HTML "Art" column, and
# the labels other tools give GPU014's letters), and their English versions.
KIND_WORDS: dict[str, ChangeKind] = {
    **{kind.value: kind for kind in ChangeKind},
    **dict.fromkeys(
        [
            "vertretung",
            "vertr.",
            "vtr",
            "vtr.",
            "v",
            "statt-vertretung",
            "sondereinsatz",
            "sondereins.",
            "teilvertretung",
            "unterricht geändert",
            "geändert",
            "statt",
            "substitution",
            "substitute teacher",
        ],
        ChangeKind.SUBSTITUTE,
    ),
    **dict.fromkeys(
        [
            "entfall",
            "entf.",
            "entf",
            "fällt aus",
            "fällt aus!",
            "ausfall",
            "entfällt",
            "freisetzung",
            "klasse frei",
            "frei",
            "eva",
            "selbstlernen",
            "stillarbeit",
            "cancellation",
            "canceled",
            "cancelled lesson",
        ],
        ChangeKind.CANCELLED,
    ),
    **dict.fromkeys(
        [
            "raum-vtr.",
            "raumvertretung",
            "raumänderung",
            "raumtausch",
            "raumverlegung",
            "r. änd.",
            "raum",
            "room change",
            "room substitution",
        ],
        ChangeKind.ROOM_CHANGE,
    ),
    **dict.fromkeys(
        ["verlegung", "verlegt", "verlegt von", "moved", "shifted", "rescheduled"],
        ChangeKind.MOVED,
    ),
    **dict.fromkeys(
        ["tausch", "unterrichtstausch", "lehrertausch", "swap", "exchange", "swapped"],
        ChangeKind.SWAPPED,
    ),
    **dict.fromkeys(
        [
            "betreuung",
            "pausenaufsicht",
            "pausenaufsichtsvertretung",
            "aufsicht",
            "supervision",
            "break supervision",
        ],
        ChangeKind.SUPERVISION,
    ),
    **dict.fromkeys(["klausur", "prüfung", "exam", "test"], ChangeKind.EXAM),
    **dict.fromkeys(
        ["zusatzunterricht", "zusatzstunde", "zusätzlich", "extra lesson", "additional lesson"],
        ChangeKind.EXTRA,
    ),
    **dict.fromkeys(
        ["veranst.", "veranstaltung", "hinweis", "info", "event", "remark"], ChangeKind.NOTE
    ),
}


def kind_from_word(word: str) -> ChangeKind | None:
    """The kind a word names (case and surrounding space ignored), or None."""
    return KIND_WORDS.get(" ".join(word.split()).casefold())


@dataclass(frozen=True)
class Source:
    """Where a record came from: file name and 1-based line (None for HTML rows)."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"


ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
    "latin-1": "ISO-8859-1",
}
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


@dataclass(frozen=True)
class TextFormat:
    """What was found when a file was read: say it back to the user."""

    encoding: str  # Python codec name, e.g. "utf-8", "utf-8-sig", "cp1252", "latin-1"
    delimiter: str | None = None  # None for HTML
    quoted: bool = False  # were text fields wrapped in quotes?
    line_ending: str = "LF"  # "LF", "CRLF", "CR", "mixed" or "none"

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary: encoding, separator, quoting, line endings."""
        out: dict[str, Any] = {"encoding": ENCODING_NAMES.get(self.encoding, self.encoding)}
        if self.delimiter is not None:
            out["separator"] = DELIMITER_NAMES.get(self.delimiter, self.delimiter)
            out["quoted"] = self.quoted
            out["line_endings"] = self.line_ending
        return out


# --- master data ----------------------------------------------------------------


@dataclass(frozen=True)
class ClassRecord:
    code: str
    name: str = ""
    source: Source | None = None


@dataclass(frozen=True)
class TeacherRecord:
    code: str
    name: str = ""  # "First Last" where both are known
    source: Source | None = None


@dataclass(frozen=True)
class RoomRecord:
    code: str
    name: str = ""
    source: Source | None = None


@dataclass(frozen=True)
class SubjectRecord:
    code: str
    name: str = ""
    source: Source | None = None


@dataclass(frozen=True)
class HolidayRecord:
    """A closure: first and last day inclusive."""

    code: str
    name: str
    first_day: date
    last_day: date
    public_holiday: bool = False
    source: Source | None = None


# --- Untis rows as they are in the files ----------------------------------------------


@dataclass(frozen=True)
class GpuTimetableRow:
    """One GPU001 row: a lesson number's class, teacher, subject and room at a time."""

    lesson_no: int
    class_code: str
    teacher: str
    subject: str
    room: str
    weekday: int  # 1 = Monday
    period: int
    duration_minutes: int | None
    source: Source


@dataclass(frozen=True)
class GpuLessonRow:
    """One GPU002 row (a line of a lesson: class, teacher, subject)."""

    lesson_no: int
    class_code: str
    teacher: str
    subject: str
    rooms: tuple[str, ...]
    week_group: str  # column 11, the week type in A/B models; "" = every week
    valid_from: date | None
    valid_to: date | None
    text: str
    source: Source


# --- what the mapping consumes --------------------------------------------------------


@dataclass(frozen=True)
class LessonRecord:
    """A regular lesson: several classes may share it."""

    key: str  # stable within its source (external id)
    weekday: int
    period: int
    classes: tuple[str, ...]
    subject: str
    teacher: str = ""
    rooms: tuple[str, ...] = ()
    week_label: str = ""  # "" = every week
    valid_from: date | None = None
    valid_to: date | None = None
    source: Source | None = None


@dataclass(frozen=True)
class SubstitutionRecord:
    """A dated change to one or more periods of one or more classes."""

    key: str  # stable within its source (external id)
    date: date
    period_from: int
    period_to: int
    kind: ChangeKind
    classes: tuple[str, ...] = ()  # the classes of the regular lesson
    substitute_classes: tuple[str, ...] = ()  # the classes taught instead, if the source says
    subject: str = ""  # the regular subject
    substitute_subject: str = ""
    teacher: str = ""  # the regular (absent) teacher
    substitute_teacher: str = ""
    rooms: tuple[str, ...] = ()  # the regular rooms
    substitute_rooms: tuple[str, ...] = ()  # where it takes place now
    text: str = ""
    lesson_key: str = ""  # the regular lesson's number (GPU), if the source links one
    is_new: bool = False  # Untis "new" flag (GPU014 bit 21): shown as a badge
    is_break: bool = False  # a break supervision ("0/1", GPU014 letter B)
    raw_type: str = ""  # the source's own word for the kind (letter, "Art" text)
    raw_flags: int | None = None  # GPU014 "Art" bit field, kept as exported
    last_change: datetime | None = None  # school-local, naive
    source: Source | None = None


@dataclass(frozen=True)
class DayMessage:
    """A line of "Nachrichten zum Tag": label (may be empty) and text."""

    text: str
    label: str = ""

    def __str__(self) -> str:
        return f"{self.label}: {self.text}" if self.label else self.text


@dataclass(frozen=True)
class DayRecord:
    """What a monitor page says about its day besides the substitutions."""

    date: date
    week_label: str = ""
    as_of: datetime | None = None  # "Stand", school-local, naive
    messages: tuple[DayMessage, ...] = ()
    source: Source | None = None


@dataclass(frozen=True)
class Skipped:
    """A row read but deliberately not imported, with the reason (a code)."""

    source: Source
    reason: str  # e.g. "do_not_print", "break_supervision"


@dataclass
class ParsedFile:
    """Everything one file gave: records of its kind, what was skipped, how it was read."""

    name: str
    kind: FileKind
    text_format: TextFormat
    rows: int = 0  # data rows read (after the header, without blank lines)
    classes: list[ClassRecord] = field(default_factory=list)
    teachers: list[TeacherRecord] = field(default_factory=list)
    rooms: list[RoomRecord] = field(default_factory=list)
    subjects: list[SubjectRecord] = field(default_factory=list)
    holidays: list[HolidayRecord] = field(default_factory=list)
    timetable_rows: list[GpuTimetableRow] = field(default_factory=list)
    lesson_rows: list[GpuLessonRow] = field(default_factory=list)
    lessons: list[LessonRecord] = field(default_factory=list)
    substitutions: list[SubstitutionRecord] = field(default_factory=list)
    days: list[DayRecord] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    next_page: str | None = None  # monitor HTML: the page its refresh leads to
    follow: list[str] = field(default_factory=list)  # monitor HTML: refresh target and frames

    def summary(self) -> dict[str, Any]:
        counts = {
            name: len(getattr(self, name))
            for name in (
                "classes",
                "teachers",
                "rooms",
                "subjects",
                "holidays",
                "timetable_rows",
                "lesson_rows",
                "lessons",
                "substitutions",
                "days",
                "skipped",
            )
            if getattr(self, name)
        }
        out: dict[str, Any] = {
            "file": self.name,
            "kind": self.kind.value,
            "read_as": self.text_format.describe(),
            "rows": self.rows,
            "records": counts,
        }
        if self.ignored_columns:
            out["ignored_columns"] = list(self.ignored_columns)
        return out
