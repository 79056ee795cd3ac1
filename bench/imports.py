"""The import's speed on a realistic school: time and revision bumps, generated, not asserted.

    python bench/imports.py                       # SQLite in a temporary folder
    python bench/imports.py --database postgres://postgres@127.0.0.1:5432/hb_bench
    python bench/imports.py --markdown docs/import-benchmark.md --json var/import-bench.json

A school of 40 classes, 80 teachers, 60 rooms and 15 subjects gets an Untis
export (GPU001-006, written by ``hallboard.imports.untis_write``) of 1,500
lessons, some of two classes, some in A/B weeks, and a GPU014 of 200
substitutions. Four imports are timed, each as ``hallboard import`` does it
(read, compare, write, record the history), in a fresh database:

1. the whole export into the empty school;
2. the same files again (must change nothing and bump nothing);
3. a re-export of GPU014 with 20 changes altered and 10 gone;
4. a dry run of that re-export again.

The goal (issue 13) is under 2 seconds for the first import, with one
revision bump. The figures depend on the machine; the report says which.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

LESSONS = 1500
TEACHERS = 80
ROOMS = 60
CLASSES = 40
SUBSTITUTIONS = 200
SUBJECTS = ["D", "M", "E", "F", "L", "BIO", "PH", "CH", "GE", "EK", "KU", "MU", "SP", "REL", "INF"]
MONDAY = dt.date(2026, 9, 14)
GOAL_SECONDS = 2.0


def export(rng: random.Random) -> tuple[list[tuple[str, bytes]], list[Any]]:
    """The school's Untis files and the substitution records of its GPU014."""
    from hallboard.imports.records import ChangeKind, SubstitutionRecord
    from hallboard.imports.untis_write import (
        gpu001_row,
        gpu002_row,
        gpu004_row,
        master_row,
        write_rows,
    )

    classes = [f"{5 + n // 5}{'abcde'[n % 5]}" for n in range(CLASSES)]
    teachers = [f"T{n:02d}" for n in range(TEACHERS)]
    rooms = [f"R{n:03d}" for n in range(ROOMS)]
    lessons: list[tuple[int, list[str], str, str, str, int, int, str]] = []
    number = 1000
    while len(lessons) < LESSONS:
        for index, cls in enumerate(classes):
            for weekday in range(1, 6):
                for period in range(1, 10):
                    if len(lessons) >= LESSONS:
                        break
                    if (index + weekday + period) % 11 == 0:
                        continue  # a free period
                    number += 1
                    week = "A" if number % 17 == 0 else "B" if number % 17 == 1 else ""
                    pair = [cls]
                    if period == 6 and weekday == 3 and index % 5 == 0 and index + 1 < CLASSES:
                        pair = [cls, classes[index + 1]]  # two classes together
                    lessons.append(
                        (
                            number,
                            pair,
                            rng.choice(teachers),
                            rng.choice(SUBJECTS),
                            rng.choice(rooms),
                            weekday,
                            period,
                            week,
                        )
                    )
        break
    gpu001 = [
        gpu001_row(no, cls, t, s, r, wd, p)
        for no, pair, t, s, r, wd, p, _ in lessons
        for cls in pair
    ]
    gpu002 = [
        gpu002_row(no, cls, t, s, [r], week_group=w)
        for no, pair, t, s, r, _, _, w in lessons
        for cls in pair
    ]
    records = []
    chosen = rng.sample([x for x in lessons if x[5] in (1, 2) and not x[7]], SUBSTITUTIONS)
    kinds = [ChangeKind.SUBSTITUTE, ChangeKind.CANCELLED, ChangeKind.ROOM_CHANGE, ChangeKind.EXAM]
    for n, (no, pair, t, s, r, wd, p, _) in enumerate(chosen):
        kind = kinds[n % len(kinds)]
        records.append(
            (
                SubstitutionRecord(
                    key=str(n + 1),
                    date=MONDAY + dt.timedelta(days=wd - 1),
                    period_from=p,
                    period_to=p,
                    kind=kind,
                    classes=tuple(pair),
                    subject=s,
                    substitute_subject=s,
                    teacher=t,
                    substitute_teacher=rng.choice(teachers) if kind == ChangeKind.SUBSTITUTE else t,
                    rooms=(r,),
                    substitute_rooms=(rng.choice(rooms),)
                    if kind == ChangeKind.ROOM_CHANGE
                    else (r,),
                ),
                no,
            )
        )
    files = [
        ("GPU001.TXT", write_rows(gpu001)),
        ("GPU002.TXT", write_rows(gpu002)),
        ("GPU003.TXT", write_rows([master_row(c, f"Klasse {c}") for c in classes])),
        ("GPU004.TXT", write_rows([gpu004_row(t, f"Name {t}") for t in teachers])),
        ("GPU005.TXT", write_rows([master_row(r, r) for r in rooms])),
        ("GPU006.TXT", write_rows([master_row(s, s) for s in SUBJECTS])),
        ("GPU014.TXT", gpu014(records)),
    ]
    return files, records


def gpu014(records: list[Any]) -> bytes:
    from hallboard.imports.untis_write import gpu014_row, write_rows

    return write_rows(gpu014_row(r, int(r.key), no) for r, no in records)


def reexport(records: list[Any], rng: random.Random) -> bytes:
    """20 changes get another substitute, 10 are gone."""
    from dataclasses import replace

    from hallboard.imports.records import ChangeKind

    kept = records[10:]
    out = []
    altered = 0
    for record, no in kept:
        if altered < 20 and record.kind == ChangeKind.SUBSTITUTE:
            record = replace(
                record, substitute_teacher="T79" if record.substitute_teacher != "T79" else "T78"
            )
            altered += 1
        out.append((record, no))
    del rng
    return gpu014(out)


def setup_django(database: str | None, folder: Path) -> None:
    os.environ["HALLBOARD_DATA_DIR"] = str(folder)
    if database:
        os.environ["DATABASE_URL"] = database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hallboard.settings")
    os.environ.setdefault("HALLBOARD_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def make_school(n: int) -> Any:
    from hallboard.schools.models import Organisation, School
    from hallboard.timetable.models import Period, SchoolCalendar

    organisation, _ = Organisation.objects.get_or_create(slug="bench", name="Bench")
    school = School.objects.create(
        organisation=organisation, slug=f"bench-{n}", name=f"Bench School {n}"
    )
    for number in range(1, 10):
        Period.objects.create(
            school=school,
            number=number,
            starts_at=dt.time(7 + number),
            ends_at=dt.time(7 + number, 45),
        )
    SchoolCalendar.objects.create(school=school, week_cycle="A,B", anchor=MONDAY)
    return School.objects.get(pk=school.pk)


def timed(school: Any, files: list[tuple[str, bytes]], *, dry_run: bool = False) -> dict[str, Any]:
    from hallboard.imports.service import run_import
    from hallboard.schools.models import School

    start = time.perf_counter()
    outcome = run_import(school, files, origin="cli", dry_run=dry_run)
    seconds = time.perf_counter() - start
    run = outcome.run
    if not outcome.ok:
        raise SystemExit(f"import failed: {run.problems[:3]}")
    after = School.objects.values_list("revision", flat=True).get(pk=school.pk)
    counts = run.summary["counts"]
    return {
        "seconds": round(seconds, 3),
        "status": run.status,
        "revision_bumps": after - (run.revision_before or after),
        "lessons": counts["lessons"],
        "substitutions": counts["substitutions"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="DATABASE_URL (default: SQLite in a temporary folder)")
    parser.add_argument("--markdown", type=Path, help="Write the report here.")
    parser.add_argument("--json", type=Path, help="Write the figures here.")
    parser.add_argument("--repeat", type=int, default=3, help="Schools imported (median).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hb-import-bench-") as tmp:
        setup_django(args.database, Path(tmp))
        from django.db import connection

        rng = random.Random(13)  # noqa: S311 - reproducible data, not secrets
        files, records = export(rng)
        changed = [("GPU014.TXT", reexport(records, rng))]
        rounds = []
        for n in range(args.repeat):  # each round a fresh school: the first import is cold
            school = make_school(n)
            rounds.append(
                {
                    "first import": timed(school, files),
                    "same files again": timed(school, files),
                    "re-exported GPU014": timed(school, changed),
                    "dry run of it": timed(school, changed, dry_run=True),
                }
            )
        runs = {}
        for name in rounds[0]:
            times = sorted(r[name]["seconds"] for r in rounds)
            runs[name] = {**rounds[0][name], "seconds": times[len(times) // 2], "all": times}
        vendor = connection.vendor
    result = {
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "database": vendor,
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "school": {
            "lessons": LESSONS,
            "teachers": TEACHERS,
            "rooms": ROOMS,
            "classes": CLASSES,
            "substitutions": SUBSTITUTIONS,
        },
        "goal_seconds": GOAL_SECONDS,
        "runs": runs,
    }
    report = markdown(result)
    print(report)
    if args.markdown:
        args.markdown.write_text(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


def markdown(result: dict[str, Any]) -> str:
    machine = result["machine"]
    school = result["school"]
    first = result["runs"]["first import"]
    met = first["seconds"] < result["goal_seconds"] and first["revision_bumps"] == 1
    lines = [
        "# Import benchmark",
        "",
        "Generated by `python bench/imports.py --markdown docs/import-benchmark.md` "
        "(do not edit by hand).",
        "",
        f"A school of {school['lessons']:,} lessons, {school['classes']} classes, "
        f"{school['teachers']} teachers, {school['rooms']} rooms and "
        f"{school['substitutions']} substitutions, as Untis GPU files; "
        f"{machine['database']}, Python {machine['python']}, {machine['cpus']} CPUs "
        f"(load average {', '.join(str(x) for x in machine['load_average'])} at the end; "
        "the machine is shared, so the figures move with its load). Median of "
        f"{len(first['all'])} rounds, each into a fresh school; every time in the JSON.",
        "",
        "| import | seconds | status | revision bumps | lessons +/~/- | substitutions +/~/- |",
        "|---|---:|---|---:|---|---|",
    ]
    for name, run in result["runs"].items():
        lessons, subs = run["lessons"], run["substitutions"]
        lines.append(
            f"| {name} | {run['seconds']:.2f} | {run['status']} | {run['revision_bumps']} | "
            f"{lessons['added']}/{lessons['changed']}/{lessons['removed']} | "
            f"{subs['added']}/{subs['changed']}/{subs['removed']} |"
        )
    lines += [
        "",
        f"Goal: the first import under {result['goal_seconds']:g} s with one revision bump: "
        + ("**met**." if met else "**not met**."),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
