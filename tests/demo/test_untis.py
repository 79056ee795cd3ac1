"""The demo's German school is loaded from Untis GPU files by the import itself."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest

from hallboard.demo import seed
from hallboard.imports.models import ImportRun, WatchedSource
from hallboard.imports.watch import check_source
from hallboard.schools.models import School
from hallboard.timetable.models import Closure, Lesson, Substitution


@pytest.mark.django_db
def test_lindenhof_comes_from_gpu_files_through_the_import(data_dir: Path) -> None:
    """The demo writes GPU001-006, 014 and 018 into Lindenhof's watched folder and imports
    them: every lesson, change and the holiday are Untis rows; the changes are dated today
    (school time); the first check of the folder finds nothing new."""
    seed.seed()
    school = School.objects.get(slug="lindenhof")
    folder = data_dir / "imports" / "lindenhof"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "GPU001.TXT",
        "GPU002.TXT",
        "GPU003.TXT",
        "GPU004.TXT",
        "GPU005.TXT",
        "GPU006.TXT",
        "GPU014.TXT",
        "GPU018.TXT",
    ]
    assert set(Lesson.objects.filter(school=school).values_list("source", flat=True)) == {"untis"}
    assert Lesson.objects.filter(school=school, weeks="A").exists()
    assert (
        Lesson.objects.filter(school=school, classes__name="5a").filter(classes__name="5b").exists()
    )  # religion of two classes together
    today = dt.datetime.now(dt.UTC).astimezone(school.tz).date()
    changes = Substitution.objects.filter(school=school, date=today)
    assert changes.count() >= 6
    assert {"substitute", "cancelled", "room_change", "moved"} <= set(
        changes.values_list("kind", flat=True)
    )
    assert all(c.source == "untis" and c.external_id for c in changes)
    assert Closure.objects.get(school=school).source == "untis"
    runs = ImportRun.objects.filter(school=school).order_by("pk")
    assert [r.status for r in runs] == ["applied", "applied"]
    source = WatchedSource.objects.get(school=school)
    assert source.location == str(folder)
    past = time.time() - 60  # the export finished a while ago
    for path in folder.iterdir():
        os.utime(path, (past, past))
    assert check_source(source).outcome == "not_modified"
    riverside = School.objects.get(slug="riverside")
    assert set(Lesson.objects.filter(school=riverside).values_list("source", flat=True)) == {
        "manual"
    }
