"""docs/import.md stays true to the code it describes."""

from __future__ import annotations

from pathlib import Path

from hallboard.imports.errors import MESSAGES
from hallboard.imports.hallboard_csv import COLUMNS
from hallboard.imports.untis_gpu import LETTER_KINDS

DOC = (Path(__file__).parents[2] / "docs" / "import.md").read_text()


def test_every_csv_column_is_documented() -> None:
    """Each column of both CSV kinds has its row in the docs."""
    for columns in COLUMNS.values():
        for column in columns:
            assert f"`{column.name}`" in DOC, column.name


def test_every_gpu014_letter_is_documented_with_its_kind() -> None:
    """The letter table lists each letter the parser knows, with the kind it maps to."""
    for letter, kind in LETTER_KINDS.items():
        rows = [line for line in DOC.splitlines() if line.startswith(f"| `{letter}` |")]
        assert rows, letter
        assert kind.value.replace("_", " ") in rows[0], (letter, rows[0])


def test_error_codes_named_in_the_docs_exist() -> None:
    """Codes quoted in the Errors section are real codes."""
    section = DOC.split("## Errors", 1)[1].split("##", 1)[0]
    quoted = {part.split("`", 1)[0] for part in section.split("`")[1::2] if part.islower()}
    named = {q for q in quoted if "_" in q or q in MESSAGES}
    assert named <= set(MESSAGES), named - set(MESSAGES)
