"""Untis "Info-Stundenplan" monitor pages (``subst_001.htm``, ``subst_002.htm``, …).

What a page holds (docs/import.md has the whole mapping):

* ``table.mon_head``: "Stand: 14.09.2026 07:12", the time of the export;
* ``div.mon_title``: "14.9.2026 Montag, Woche A (Seite 1 / 2)": date, week label, page;
* ``table.info``: "Nachrichten zum Tag", the day's messages;
* ``table.mon_list``: the substitutions. Its header names differ per school, so
  columns are found by name through a configurable table (``HtmlOptions``),
  never by position. Cells use ``---`` for none, ``<s>old</s>?new`` for a
  replaced value, ``x`` in "Entfall" for a cancellation, ``1 - 2`` for a range
  of periods and ``0/1`` for a break. In the "class in an extra line" layout
  a ``td.inline_header`` row names the class of the rows below it;
* ``meta http-equiv=refresh``: the next page. ``collect_pages`` follows these
  (and frames) with loop detection.

The page is parsed with BeautifulSoup (Python's own HTML parser underneath, which
accepts the unclosed ``<p>`` tags Untis writes). Encoding: the page's declared
charset (Untis writes iso-8859-1, decoded as Windows-1252 as browsers do), else
the cascade of ``hallboard.imports.text.decode``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag
from bs4.exceptions import ParserRejectedMarkup

from hallboard.imports.errors import ProblemCollector
from hallboard.imports.fields import EMPTY_VALUES, MAX_VALUE_CHARS, split_list
from hallboard.imports.records import (
    ChangeKind,
    DayMessage,
    DayRecord,
    FileKind,
    ParsedFile,
    Skipped,
    Source,
    SubstitutionRecord,
    TextFormat,
    kind_from_word,
)
from hallboard.imports.text import decode

#: Most pages ``collect_pages`` follows (Untis pages a long plan in pages of ~30 rows).
MAX_PAGES = 30

# The fields a column can feed. Bracketed header names hold the *regular* value.
ID = "id"
DATE = "date"
PERIOD = "period"
CLASSES = "classes"
ORIGINAL_CLASSES = "original_classes"
TEACHER = "teacher"
SUBSTITUTE_TEACHER = "substitute_teacher"
SUBJECT = "subject"
SUBSTITUTE_SUBJECT = "substitute_subject"
ROOM = "room"
SUBSTITUTE_ROOM = "substitute_room"
TYPE = "type"
TEXT = "text"
CANCELLED = "cancelled"
IGNORE = "ignore"
FIELDS = (
    ID,
    DATE,
    PERIOD,
    CLASSES,
    ORIGINAL_CLASSES,
    TEACHER,
    SUBSTITUTE_TEACHER,
    SUBJECT,
    SUBSTITUTE_SUBJECT,
    ROOM,
    SUBSTITUTE_ROOM,
    TYPE,
    TEXT,
    CANCELLED,
    IGNORE,
)

#: Header name → field. SchulIT's untisexporter defaults first, then common variants.
DEFAULT_COLUMNS: Mapping[str, str] = {
    "Vtr-Nr.": ID,
    "Datum": DATE,
    "Stunde": PERIOD,
    "(Klasse(n))": ORIGINAL_CLASSES,
    "Klasse(n)": CLASSES,
    "(Lehrer)": TEACHER,
    "Vertreter": SUBSTITUTE_TEACHER,
    "(Fach)": SUBJECT,
    "Fach": SUBSTITUTE_SUBJECT,
    "(Raum)": ROOM,
    "Raum": SUBSTITUTE_ROOM,
    "Art": TYPE,
    "Vertretungs-Text": TEXT,
    "Entfall": CANCELLED,
    # variants seen in schools' layouts
    "Vtr-Nr": ID,
    "Std.": PERIOD,
    "Std": PERIOD,
    "Klasse": CLASSES,
    "Klassen": CLASSES,
    "Lehrer": SUBSTITUTE_TEACHER,
    "Vertretung": SUBSTITUTE_TEACHER,
    "Vertretungstext": TEXT,
    "Text": TEXT,
    "Bemerkung": TEXT,
    "Tag": IGNORE,
    # English Untis
    "Date": DATE,
    "Period": PERIOD,
    "Class(es)": CLASSES,
    "(Class(es))": ORIGINAL_CLASSES,
    "Substitute": SUBSTITUTE_TEACHER,
    "(Teacher)": TEACHER,
    "Subject": SUBSTITUTE_SUBJECT,
    "(Subject)": SUBJECT,
    "Room": SUBSTITUTE_ROOM,
    "(Room)": ROOM,
    "Type": TYPE,
    "Text of substitution": TEXT,
    "Cancelled": CANCELLED,
}


def _norm_header(value: str) -> str:
    return " ".join(value.split()).casefold()


@dataclass(frozen=True)
class HtmlOptions:
    """What varies between schools' monitor pages; defaults suit Untis' German layout."""

    columns: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_COLUMNS))
    empty_values: frozenset[str] = EMPTY_VALUES
    #: A value in brackets, "(7a)", marks an absent class or teacher. SchulIT drops
    #: such values; hallboard keeps them (without brackets), since dropping a class
    #: loses the row for that class's screens.
    include_bracketed: bool = True

    def column_map(self) -> dict[str, str]:
        return {_norm_header(name): target for name, target in self.columns.items()}


_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_SHORT_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.?(\d{4})?")
_STAND = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4}),?\s+(\d{1,2}):(\d{2})")
_WEEK = re.compile(r"\b(?:Woche|Week)\s+([A-Za-z0-9]{1,8})\b")
_PAGE = re.compile(r"\((?:Seite|Page)\s*(\d+)\s*/\s*(\d+)\)")
_CHARSET = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)
_REFRESH_URL = re.compile(r"url\s*=\s*['\"]?([^'\"\s>]+)", re.IGNORECASE)
_CLOSED = re.compile(r"</\s*html\s*>", re.IGNORECASE)
_SINGLE = re.compile(r"(\d{1,2})\.?")
_RANGE = re.compile(r"(\d{1,2})\s*-\s*(\d{1,2})")
_BREAK = re.compile(r"(\d{1,2})\s*/\s*(\d{1,2})")
_ARROW = "?→>\u2192 "  # what stands between <s>old</s> and new: '?' is an arrow iso-8859-1 lost


def _text(node: Tag | str) -> str:
    raw = node.get_text(" ") if isinstance(node, Tag) else node
    return " ".join(raw.replace("\xa0", " ").split())


def _classes(tag: Tag) -> list[str]:
    value = tag.get("class")
    if value is None:
        return []
    return value.split() if isinstance(value, str) else list(value)


def parse_monitor_page(name: str, data: bytes, options: HtmlOptions | None = None) -> ParsedFile:
    """Read one monitor page: its days, messages, substitutions and the page it leads to."""
    options = options or HtmlOptions()
    problems = ProblemCollector(name)
    declared = _CHARSET.search(data[:4096])
    text, encoding = decode(name, data, declared=declared[1].decode("ascii") if declared else None)
    try:
        soup = BeautifulSoup(text, "html.parser")
    except (ParserRejectedMarkup, AssertionError, ValueError, IndexError) as exc:
        # html.parser gives up on a few malformed declarations (e.g. "<![" at the end)
        raise problems.fail("not_monitor_html", detail=str(exc)[:80]) from None
    result = ParsedFile(name=name, kind=FileKind.UNTIS_HTML, text_format=TextFormat(encoding))
    result.next_page = _refresh_target(soup)
    frames = [src for f in soup.find_all(["frame", "iframe"]) if (src := _attr(f, "src"))]
    result.follow = [*frames, *([result.next_page] if result.next_page else [])]
    as_of = _stand(soup)

    current: _Day | None = None
    days: list[_Day] = []
    for element in soup.find_all(["div", "table", "span", "p"]):
        classes = _classes(element)
        if "mon_title" in classes:
            title = _text(element)
            found = _DATE.search(title)
            day_date = _date(found) if found else None
            if day_date is None:
                problems.add(
                    "no_date", line=element.sourceline, field="mon_title", value=title[:80]
                )
                current = None
                continue
            week = _WEEK.search(title)
            current = _Day(day_date, week[1] if week else "")
            days.append(current)
        elif element.name == "table" and current is not None:
            if "info" in classes:
                current.messages.extend(_messages(element))
            elif "mon_list" in classes:
                _substitutions(name, element, current, options, problems, result)
    if days and not _CLOSED.search(text[-2048:]):
        # Untis ends every page with </html>: a page without it was cut off (or is
        # still being written), and importing it would drop the rows it lost.
        problems.add("truncated_html")
    problems.check()
    if not days:
        if frames or result.next_page:
            return result  # a frameset or a redirect: the content is on the pages it names
        raise problems.fail("not_monitor_html")
    for day in days:
        result.days.append(
            DayRecord(
                date=day.date,
                week_label=day.week,
                as_of=as_of,
                messages=tuple(day.messages),
                source=Source(name),
            )
        )
        result.substitutions.extend(day.substitutions)
        result.rows += day.rows
    result.substitutions = _unique_keys(result.substitutions)
    return result


@dataclass
class _Day:
    date: date
    week: str
    messages: list[DayMessage] = field(default_factory=list)
    substitutions: list[SubstitutionRecord] = field(default_factory=list)
    rows: int = 0


def _attr(tag: Tag, name: str) -> str:
    value = tag.get(name)
    if isinstance(value, list):
        value = " ".join(value)
    return (value or "").strip()


def _refresh_target(soup: BeautifulSoup) -> str | None:
    for meta in soup.find_all("meta"):
        if _attr(meta, "http-equiv").lower() == "refresh":
            found = _REFRESH_URL.search(_attr(meta, "content"))
            if found:
                return found[1]
    return None


def _date(found: re.Match[str]) -> date | None:
    try:
        return date(int(found[3]), int(found[2]), int(found[1]))
    except ValueError:
        return None


def _stand(soup: BeautifulSoup) -> datetime | None:
    """The "Stand" time: in ``table.mon_head`` if there is one, else after "Stand" anywhere."""
    heads = [_text(t) for t in soup.find_all("table") if "mon_head" in _classes(t)]
    whole = _text(soup)
    candidates = [*heads, whole[whole.find("Stand") :] if "Stand" in whole else ""]
    for text in candidates:
        found = _STAND.search(text)
        if found:
            try:
                return datetime(
                    int(found[3]), int(found[2]), int(found[1]), int(found[4]), int(found[5])
                )
            except ValueError:
                return None
    return None


def _messages(table: Tag) -> list[DayMessage]:
    messages: list[DayMessage] = []
    for tr in table.find_all("tr"):
        if tr.find("th") is not None:
            continue  # the header row "Nachrichten zum Tag"
        cells = [_text(td)[:MAX_VALUE_CHARS] for td in tr.find_all("td")]
        cells = [c for c in cells if c]
        if not cells or (len(cells) == 1 and _norm_header(cells[0]) == "nachrichten zum tag"):
            continue
        if len(cells) == 1:
            messages.append(DayMessage(cells[0]))
        else:
            messages.append(DayMessage(" ".join(cells[1:]), label=cells[0]))
    return messages


def _cell(td: Tag) -> tuple[str, str]:
    """(old, new) of a cell: ``<s>old</s>?new`` → ("old", "new"); plain → ("", text)."""
    struck = td.find_all(["s", "strike", "del"])
    if not struck:
        return "", _text(td)
    old = " ".join(t for s in struck if (t := _text(s)))
    for s in struck:
        s.extract()
    new = _text(td).lstrip(_ARROW).strip()
    return old, new


def _substitutions(
    name: str,
    table: Tag,
    day: _Day,
    options: HtmlOptions,
    problems: ProblemCollector,
    result: ParsedFile,
) -> None:
    rows = [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]
    header_index = next((i for i, tr in enumerate(rows) if tr.find("th") is not None), None)
    if header_index is None:
        if not rows:
            return
        header_index = 0
    header_cells = rows[header_index].find_all(["th", "td"])
    headers = [_text(c) for c in header_cells]
    known = options.column_map()
    columns: dict[int, str] = {}
    taken: set[str] = set()
    for i, header in enumerate(headers):
        target = known.get(_norm_header(header))
        if target is None or target == IGNORE or target in taken:
            if header and header not in result.ignored_columns:
                result.ignored_columns.append(header)
            continue
        columns[i] = target
        taken.add(target)
    if PERIOD not in taken:
        problems.add(
            "missing_column",
            line=table.sourceline,
            field="mon_list",
            column="Stunde",
            found=", ".join(headers)[:300],
        )
        return

    current_class = ""
    for tr in rows[header_index + 1 :]:
        cells = tr.find_all("td")
        if not cells:
            continue
        if any("inline_header" in _classes(td) for td in cells):
            current_class = _text(tr)
            continue
        values: dict[str, tuple[str, str]] = {}
        for i, td in enumerate(cells):
            target = columns.get(i)
            if target is not None:
                old, new = _cell(td)
                values[target] = (_clean(old, options), _clean(new, options))
        if not any(old or new for old, new in values.values()):
            continue
        day.rows += 1
        line = tr.sourceline
        record = _record(Source(name, line), values, day, current_class, problems)
        if record is None:
            continue
        if not record.classes and not record.substitute_classes and not record.is_break:
            result.skipped.append(Skipped(Source(name, line), "no_class"))
            continue
        day.substitutions.append(record)


def _clean(value: str, options: HtmlOptions) -> str:
    value = value.strip()[:MAX_VALUE_CHARS]
    if value.startswith("(") and value.endswith(")") and len(value) > 2:
        value = value[1:-1].strip() if options.include_bracketed else ""
    return "" if value in options.empty_values else value


def _record(
    source: Source,
    values: dict[str, tuple[str, str]],
    day: _Day,
    current_class: str,
    problems: ProblemCollector,
) -> SubstitutionRecord | None:
    def new(field_name: str) -> str:
        return values.get(field_name, ("", ""))[1]

    def old(field_name: str) -> str:
        return values.get(field_name, ("", ""))[0]

    period_text = new(PERIOD)
    parsed = parse_period(period_text)
    if parsed is None:
        problems.add("bad_period", line=source.line, field="Stunde", value=period_text[:40])
        return None
    period_from, period_to, is_break = parsed

    row_date = day.date
    if new(DATE):
        row_date = _row_date(new(DATE), day.date) or day.date

    classes = split_list(new(ORIGINAL_CLASSES) or old(CLASSES) or new(CLASSES), ",~")
    substitute_classes = split_list(new(CLASSES), ",~") if new(ORIGINAL_CLASSES) else ()
    if not classes and current_class:
        classes = split_list(current_class, ",~")

    teacher = new(TEACHER) or old(SUBSTITUTE_TEACHER)
    substitute_teacher = new(SUBSTITUTE_TEACHER)
    subject = new(SUBJECT) or old(SUBSTITUTE_SUBJECT)
    substitute_subject = new(SUBSTITUTE_SUBJECT)
    rooms = split_list(new(ROOM) or old(SUBSTITUTE_ROOM), ",~")
    substitute_rooms = split_list(new(SUBSTITUTE_ROOM), ",~")
    raw_type = new(TYPE)
    cancelled = new(CANCELLED).casefold() == "x"

    kind: ChangeKind | None = ChangeKind.CANCELLED if cancelled else None
    if kind is None and raw_type:
        kind = kind_from_word(raw_type)
    if kind is None:
        teacher_changed = bool(substitute_teacher) and substitute_teacher != teacher
        room_changed = bool(rooms) and bool(substitute_rooms) and rooms != substitute_rooms
        kind = ChangeKind.ROOM_CHANGE if room_changed and not teacher_changed else None
        kind = kind or ChangeKind.SUBSTITUTE
    if is_break and not raw_type:
        kind = ChangeKind.SUPERVISION

    key_id = new(ID)
    key = (
        key_id
        if key_id
        else "/".join(
            [
                f"{row_date:%Y%m%d}",
                f"{period_from}-{period_to}",
                "~".join(classes),
                teacher or substitute_teacher,
                subject or substitute_subject,
            ]
        )
    )
    return SubstitutionRecord(
        key=key,
        date=row_date,
        period_from=period_from,
        period_to=period_to,
        kind=kind,
        classes=classes,
        substitute_classes=substitute_classes,
        subject=subject,
        substitute_subject=substitute_subject,
        teacher=teacher,
        substitute_teacher=substitute_teacher,
        rooms=rooms,
        substitute_rooms=substitute_rooms,
        text=new(TEXT),
        is_break=is_break,
        raw_type=raw_type,
        source=source,
    )


def parse_period(value: str) -> tuple[int, int, bool] | None:
    """``"3"`` → (3, 3, False); ``"1 - 2"`` → (1, 2, False); ``"0/1"`` → (0, 1, True)."""
    value = value.strip()
    if m := _SINGLE.fullmatch(value):
        return int(m[1]), int(m[1]), False
    if m := _RANGE.fullmatch(value):
        first, last = int(m[1]), int(m[2])
        return (first, last, False) if first <= last else None
    if m := _BREAK.fullmatch(value):
        return int(m[1]), int(m[2]), True
    return None


def _row_date(value: str, page_date: date) -> date | None:
    m = _SHORT_DATE.match(value)
    if not m:
        return None
    year = int(m[3]) if m[3] else page_date.year
    try:
        found = date(year, int(m[2]), int(m[1]))
    except ValueError:
        return None
    if not m[3] and (found - page_date).days < -180:  # "2.1." on a page of 30.12.
        try:
            found = found.replace(year=year + 1)
        except ValueError:  # 29.2.
            return None
    return found


def _unique_keys(records: list[SubstitutionRecord]) -> list[SubstitutionRecord]:
    seen: dict[str, int] = {}
    out: list[SubstitutionRecord] = []
    for record in records:
        n = seen.get(record.key, 0) + 1
        seen[record.key] = n
        out.append(record if n == 1 else replace(record, key=f"{record.key}#{n}"))
    return out


# --- following pages -------------------------------------------------------------------


def collect_pages(
    first: str,
    fetch: Callable[[str], bytes],
    options: HtmlOptions | None = None,
    *,
    max_pages: int = MAX_PAGES,
) -> list[ParsedFile]:
    """Read ``first`` and every page its refresh links and frames lead to, each once.

    ``fetch(name)`` returns a page's bytes (raising ``ImportFileError`` if it cannot);
    names are resolved relative to the page that links them. A link back to a page
    already read ends the walk: Untis' last page refreshes to the first.
    """
    pages: list[ParsedFile] = []
    queue = [first]
    seen: set[str] = set()
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        if len(seen) >= max_pages:
            break
        seen.add(name)
        page = parse_monitor_page(name, fetch(name), options)
        if page.days:
            pages.append(page)
        for link in page.follow:
            target = urljoin(name, link)
            if target not in seen:
                queue.append(target)
    if not pages:  # only framesets and redirects
        raise ProblemCollector(first).fail("not_monitor_html")
    return pages
