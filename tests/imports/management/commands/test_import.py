"""`hallboard import` as an IT admin runs it: the summary, the dry run, re-imports that change
nothing, and problems that name the file, line and field."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from hallboard.schools.models import School
from tests.conftest import Tenant, revision_of
from tests.imports.test_service import UNTIS, prepare

pytestmark = pytest.mark.django_db


@pytest.fixture
def school(tenant: Tenant) -> School:
    return prepare(tenant.school)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("import", *args, "--no-progress", stdout=out)
    return out.getvalue()


def test_dry_run_then_import_then_the_same_files_again(school: School, fixtures_dir: Path) -> None:
    """--dry-run shows the counts and changes nothing; the import bumps the revision once;
    the same files again say "Nothing changed" and leave the revision alone."""
    files = [str(fixtures_dir / name) for name in UNTIS.values()]
    before = revision_of(school)
    dry = run(*files, "--school", school.slug, "--dry-run")
    assert "Dry run: nothing was changed." in dry
    assert revision_of(school) == before
    applied = run(*files, "--school", school.slug)
    assert f"Imported: revision {before} → {before + 1}." in applied
    again = run(*files, "--school", school.slug)
    assert f"Nothing changed (revision {before + 1})." in again
    assert revision_of(school) == before + 1


def test_json_says_how_each_file_was_read(school: School, fixtures_dir: Path) -> None:
    """--json: each file with the encoding and separator found."""
    out = run(str(fixtures_dir / "gpu014_semicolon_cp1252.txt"), "--school", school.slug, "--json")
    files = json.loads(out)["summary"]["files"]
    assert files[0]["read_as"]["separator"] == "semicolon"
    assert files[0]["read_as"]["encoding"] == "Windows-1252"


def test_a_problem_names_the_whole_file_name_line_and_field(
    school: School, fixtures_dir: Path, tmp_path: Path
) -> None:
    """A bad file in a deep folder: the problem table (in an 80-column terminal) shows its
    whole path, the line and the field; the command fails and nothing is imported."""
    deep = tmp_path / "untis-exports" / "2026-2027" / "vertretungsplan-montag"
    deep.mkdir(parents=True)
    bad = deep / "gpu014_bad_values.txt"
    shutil.copy(fixtures_dir / "bad" / "gpu014_bad_values.txt", bad)
    before = revision_of(school)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import", str(bad), "--school", school.slug, "--no-progress", stdout=out)
    text = out.getvalue()
    assert f"\n{bad}\n" in text, text  # the whole path, on a line of its own
    assert "period (column 3)" in text
    assert "│ 3 " in text  # the line
    assert text.index("Nothing was imported") < text.index("period (column 3)")  # "(below)"
    assert revision_of(school) == before
