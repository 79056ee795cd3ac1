"""Seed a fresh hallboard database for a reliability run; prints what the clients need as JSON.

Run in the same environment as the replicas (``DATABASE_URL``,
``HALLBOARD_DATA_DIR``)::

    python -m reliability.seed --schools 2 --screens 8 > seed.json

One organisation ``rel``, schools ``rel-1`` …, ``--screens`` screens per school
(each with a token and its own device key), and an organisation-wide admin API
key for the writer and the HTTP fuzzer.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys


def seed(schools: int, screens: int) -> dict[str, object]:
    import datetime as dt

    from hallboard.api.models import ApiKey
    from hallboard.schools.models import Organisation, School
    from hallboard.screens.models import Screen
    from hallboard.timetable.models import Period, SchoolClass, Subject, Teacher

    org = Organisation.objects.create(slug="rel", name="Reliability")
    out_schools: list[dict[str, object]] = []
    for n in range(1, schools + 1):
        school = School.objects.create(
            organisation=org, slug=f"rel-{n}", name=f"Reliability {n}", timezone="Europe/Berlin"
        )
        for number, (start, end) in enumerate([("08:00", "08:45"), ("08:50", "09:35")], 1):
            Period.objects.create(
                school=school,
                number=number,
                starts_at=dt.time.fromisoformat(start),
                ends_at=dt.time.fromisoformat(end),
            )
        SchoolClass.objects.create(school=school, name="7a", grade=7)
        Subject.objects.create(school=school, code="MA", name="Maths")
        Teacher.objects.create(school=school, code="MUE", name="Ms Müller")
        listed: list[dict[str, object]] = []
        for i in range(screens):
            screen = Screen.objects.create(school=school, name=f"Screen {n}-{i}")
            listed.append(
                {
                    "id": screen.pk,
                    "token": screen.issue_token(),
                    "dk": f"rel-{n}-{i}-{secrets.token_hex(4)}",
                }
            )
        out_schools.append({"slug": school.slug, "screens": listed})
    _, secret = ApiKey.create(name="reliability", organisation=org, role="admin")
    return {"api_key": secret, "schools": out_schools}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=2)
    parser.add_argument("--screens", type=int, default=8, help="screens per school")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hallboard.settings")
    import django

    django.setup()
    json.dump(seed(args.schools, args.screens), sys.stdout)


if __name__ == "__main__":
    main()
