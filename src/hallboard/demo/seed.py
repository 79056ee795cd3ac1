"""Demo data: one district, two schools in different time zones, a realistic week.

Everything is deterministic (a seeded ``random.Random``) except the secrets:
screen tokens, API keys and the admin password are only stored hashed, so each
run that needs to print them issues fresh ones (``Credentials``) — for the
demo's own rows only: the ``admin`` user, the API keys named ``demo …`` and
the screens the demo created (``SeededScreen``). Screens, users, keys and
content people added are left alone, tokens and bindings included.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from hallboard.api.models import ApiKey
from hallboard.demo.models import SeededScreen
from hallboard.schools import revision
from hallboard.schools.models import Membership, Organisation, Role, School
from hallboard.screens.models import Screen
from hallboard.timetable.calendar import SchoolCalendarView
from hallboard.timetable.models import (
    Announcement,
    Closure,
    Lesson,
    Period,
    Room,
    SchoolCalendar,
    SchoolClass,
    Subject,
    Substitution,
    Teacher,
    monday_of,
)

ORG_SLUG = "north"
ADMIN_USERNAME = "admin"
DEMO_KEY_NAME = "demo"


@dataclass(frozen=True)
class SchoolPlan:
    slug: str
    name: str
    timezone: str
    language: str
    #: Week rotation ("A,B") with this week as A, and a week of holidays next week.
    rotation: str
    periods: list[tuple[str, str]]
    classes: list[tuple[str, int]]
    subjects: list[tuple[str, str, int]]  # code, name, lessons a week
    teachers: list[tuple[str, str, list[str]]]  # code, name, subjects taught
    rooms: list[str]
    #: Loaded from Untis GPU files by the import (hallboard.demo.untis), not row by row.
    from_untis: bool = False


LINDENHOF = SchoolPlan(
    slug="lindenhof",
    name="Lindenhof Gymnasium",
    timezone="Europe/Berlin",
    language="de",
    rotation="A,B",
    periods=[
        ("07:55", "08:40"),
        ("08:45", "09:30"),
        ("09:50", "10:35"),
        ("10:40", "11:25"),
        ("11:45", "12:30"),
        ("12:35", "13:20"),
        ("14:00", "14:45"),
        ("14:50", "15:35"),
    ],
    classes=[
        ("5a", 5),
        ("5b", 5),
        ("6a", 6),
        ("6b", 6),
        ("7a", 7),
        ("7b", 7),
        ("8a", 8),
        ("8b", 8),
        ("9a", 9),
        ("10a", 10),
    ],
    subjects=[
        ("D", "Deutsch", 5),
        ("M", "Mathematik", 5),
        ("E", "Englisch", 4),
        ("F", "Französisch", 3),
        ("BIO", "Biologie", 2),
        ("PH", "Physik", 2),
        ("CH", "Chemie", 2),
        ("GE", "Geschichte", 2),
        ("EK", "Erdkunde", 2),
        ("KU", "Kunst", 2),
        ("MU", "Musik", 2),
        ("SP", "Sport", 3),
        ("REL", "Religion", 2),
        ("INF", "Informatik", 1),
    ],
    teachers=[
        ("MUE", "Frau Müller", ["D", "GE"]),
        ("SCH", "Herr Schneider", ["M", "PH"]),
        ("WEB", "Frau Weber", ["E", "F"]),
        ("FIS", "Herr Fischer", ["BIO", "CH"]),
        ("WAG", "Frau Wagner", ["D", "EK"]),
        ("BEC", "Herr Becker", ["M", "INF"]),
        ("HOF", "Frau Hoffmann", ["KU", "MU"]),
        ("KOC", "Herr Koch", ["SP", "GE"]),
        ("RIC", "Frau Richter", ["E", "REL"]),
        ("KLE", "Herr Klein", ["PH", "CH"]),
        ("WOL", "Frau Wolf", ["F", "D"]),
        ("SCR", "Herr Schröder", ["SP", "BIO"]),
        ("NEU", "Frau Neumann", ["M", "EK"]),
        ("SWA", "Herr Schwarz", ["MU", "REL"]),
        ("ZIM", "Frau Zimmermann", ["E", "KU"]),
    ],
    rooms=[f"A{n:03d}" for n in range(101, 111)] + ["Turnhalle", "Bio-Labor", "Musiksaal"],
    from_untis=True,
)

RIVERSIDE = SchoolPlan(
    slug="riverside",
    name="Riverside Academy",
    timezone="Europe/London",
    language="en",
    rotation="",
    periods=[
        ("08:50", "09:50"),
        ("09:50", "10:50"),
        ("11:10", "12:10"),
        ("12:10", "13:10"),
        ("14:00", "15:00"),
        ("15:00", "16:00"),
    ],
    classes=[
        ("7R", 7),
        ("7S", 7),
        ("8R", 8),
        ("8S", 8),
        ("9R", 9),
        ("9S", 9),
        ("10R", 10),
        ("11R", 11),
    ],
    subjects=[
        ("EN", "English", 4),
        ("MA", "Maths", 4),
        ("SC", "Science", 4),
        ("HI", "History", 2),
        ("GG", "Geography", 2),
        ("FR", "French", 2),
        ("ART", "Art", 2),
        ("MU", "Music", 1),
        ("PE", "PE", 2),
        ("CO", "Computing", 1),
        ("RE", "RE", 1),
    ],
    teachers=[
        ("JPA", "Ms Patel", ["EN"]),
        ("DSM", "Mr Smith", ["MA"]),
        ("AJO", "Mrs Jones", ["SC"]),
        ("RWI", "Mr Williams", ["HI", "RE"]),
        ("LBR", "Ms Brown", ["GG", "EN"]),
        ("KTA", "Mr Taylor", ["FR"]),
        ("SDA", "Ms Davies", ["ART"]),
        ("MEV", "Mr Evans", ["MU"]),
        ("HTH", "Ms Thomas", ["PE"]),
        ("PRO", "Mr Roberts", ["CO", "MA"]),
        ("CJO", "Ms Johnson", ["SC", "MA"]),
        ("BWA", "Mr Walker", ["PE", "HI"]),
        ("NWR", "Ms Wright", ["EN", "FR"]),
        ("TGR", "Mr Green", ["SC"]),
        ("EHA", "Ms Hall", ["MA", "GG"]),
    ],
    rooms=[f"R{n}" for n in range(1, 11)] + ["Sports Hall", "Lab 1", "Art Studio"],
)

PLANS = [LINDENHOF, RIVERSIDE]


@dataclass
class Credentials:
    """What a person needs to try the demo; printed once, never stored in clear."""

    admin_username: str
    admin_password: str
    api_key: str
    #: Per school: slug, name, api_key, screens (the demo's, with fresh tokens) and
    #: kept_screens (the others, id and name: their tokens were not touched).
    schools: list[dict[str, Any]] = field(default_factory=list)
    #: False when the demo data was there already and only these secrets were reset.
    created: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "admin": {"username": self.admin_username, "password": self.admin_password},
            "api_key": self.api_key,
            "schools": self.schools,
            "created": self.created,
        }

    @property
    def reset_screens(self) -> int:
        return sum(len(school["screens"]) for school in self.schools)

    @property
    def kept_screens(self) -> int:
        return sum(len(school["kept_screens"]) for school in self.schools)


def display_url(token: str) -> str:
    return f"{settings.PUBLIC_URL}/display/?token={token}"


def is_seeded() -> bool:
    return Organisation.objects.filter(slug=ORG_SLUG).exists()


def seed(today: dt.date | None = None) -> Credentials:
    """Seed the demo if it is not there, then issue fresh credentials to print."""
    with transaction.atomic(), revision.batch():
        organisation = Organisation.objects.filter(slug=ORG_SLUG).first()
        created = organisation is None
        if organisation is None:
            organisation = Organisation.objects.create(slug=ORG_SLUG, name="Northfield District")
            for n, plan in enumerate(PLANS):
                _seed_school(organisation, plan, random.Random(2026 + n), today)  # noqa: S311
            # Every screen there now is the demo's own (a new organisation has no others).
            SeededScreen.objects.bulk_create(
                SeededScreen(screen=screen)
                for screen in Screen.objects.filter(school__organisation=organisation)
            )
        credentials = _credentials(organisation)
        credentials.created = created
        return credentials


def _times(start: str, end: str) -> tuple[dt.time, dt.time]:
    return dt.time.fromisoformat(start), dt.time.fromisoformat(end)


HOLIDAY_NAMES = {  # month of the holiday → its name at a German school
    **dict.fromkeys((12, 1, 2), "Winterferien"),
    **dict.fromkeys((3, 4, 5), "Osterferien"),
    **dict.fromkeys((6, 7, 8), "Sommerferien"),
    **dict.fromkeys((9, 10, 11), "Herbstferien"),
}


def _seed_school(
    organisation: Organisation, plan: SchoolPlan, rng: random.Random, today: dt.date | None
) -> School:
    school = School.objects.create(
        organisation=organisation, slug=plan.slug, name=plan.name, timezone=plan.timezone
    )
    if any(f.name == "language" for f in School._meta.concrete_fields):
        School.objects.filter(pk=school.pk).update(**{"language": plan.language})
        school.refresh_from_db()
    periods = Period.objects.bulk_create(
        Period(school=school, number=n, starts_at=s, ends_at=e)
        for n, (s, e) in ((n, _times(*p)) for n, p in enumerate(plan.periods, start=1))
    )
    if plan.from_untis:
        _seed_from_untis(school, plan, rng, today)
        _seed_announcements(school)
        _seed_screens(school, list(SchoolClass.objects.filter(school=school)))
        return school
    classes = SchoolClass.objects.bulk_create(
        SchoolClass(school=school, name=name, grade=grade) for name, grade in plan.classes
    )
    subjects = {
        s.code: s
        for s in Subject.objects.bulk_create(
            Subject(school=school, code=code, name=name) for code, name, _ in plan.subjects
        )
    }
    teachers = Teacher.objects.bulk_create(
        Teacher(school=school, code=code, name=name) for code, name, _ in plan.teachers
    )
    rooms = Room.objects.bulk_create(Room(school=school, name=name) for name in plan.rooms)
    home_rooms = {cls.pk: rooms[i % 10] for i, cls in enumerate(classes)}
    teaches = {code: subjects_taught for code, _, subjects_taught in plan.teachers}
    by_subject = {
        code: [t for t in teachers if code in teaches[t.code]] for code in subjects
    }  # each subject has at least one teacher in the plans above

    local_today = today or timezone.now().astimezone(school.tz).date()
    this_monday = monday_of(local_today)
    if plan.rotation:
        # This week is week A; next week is a holiday, so the week after is B.
        SchoolCalendar.objects.create(school=school, week_cycle=plan.rotation, anchor=this_monday)
        start = this_monday + dt.timedelta(days=7)
        Closure.objects.create(
            school=school,
            kind=Closure.Kind.HOLIDAY,
            name=HOLIDAY_NAMES[start.month],
            starts_on=start,
            ends_on=start + dt.timedelta(days=4),
        )

    # A week: each class gets its subjects' weekly hours spread over Mon-Fri;
    # younger classes finish earlier. At weekends the demo also gets today's
    # weekday, so a demo started on a Saturday still shows a school day. In a
    # rotating school one slot a day alternates between two subjects (A/B weeks).
    weekdays = [1, 2, 3, 4, 5]
    if local_today.isoweekday() > 5:
        weekdays.append(local_today.isoweekday())
    special = {"SP": -3, "PE": -3, "BIO": -2, "SC": -2, "MU": -1, "ART": -1}
    rows: list[tuple[Lesson, list[SchoolClass], Teacher, Room]] = []
    for cls in classes:
        grade = cls.grade or 0
        per_day = len(periods) - (2 if grade <= 6 else 0)
        pool = [code for code, _, hours in plan.subjects for _ in range(hours)]
        rng.shuffle(pool)
        class_teacher = {code: rng.choice(by_subject[code]) for code in subjects}
        for weekday in weekdays:
            for period in periods[:per_day]:
                code = pool[(weekday * per_day + period.number) % len(pool)]
                rotating = plan.rotation and period.number == 1 + (weekday + grade) % per_day
                variants = [(code, "")]
                if rotating:
                    other = pool[(weekday * per_day + period.number + 7) % len(pool)]
                    if other != code:
                        variants = [(code, "A"), (other, "B")]
                for variant, weeks in variants:
                    room = rooms[special[variant]] if variant in special else home_rooms[cls.pk]
                    lesson = Lesson(
                        school=school,
                        weekday=weekday,
                        period=period,
                        subject=subjects[variant],
                        weeks=weeks,
                    )
                    rows.append((lesson, [cls], class_teacher[variant], room))
    # Religion and ethics: the two classes of a grade together, in two parallel groups.
    if plan.rotation:
        for grade in sorted({c.grade for c in classes if c.grade})[:3]:
            pair = [c for c in classes if c.grade == grade][:2]
            period = periods[min(4, len(periods) - 1)]
            for code, group in (("REL", "ev"), ("REL", "kath")):
                lesson = Lesson(
                    school=school, weekday=3, period=period, subject=subjects[code], group=group
                )
                rows.append((lesson, pair, by_subject[code][len(group) % 2], rooms[len(group)]))
    _create_lessons(rows)
    lessons = [lesson for lesson, *_ in rows]

    view = SchoolCalendarView.load(school.pk)
    for day in (local_today, view.next_school_day(local_today)):
        if day is None or not view.school_day(day):
            continue
        label = view.week_label(day)
        todays = [
            x
            for x in lessons
            if x.weekday == day.isoweekday() and (not x.weeks or x.weeks == label)
        ]
        count = 14 if day == local_today else 5
        _seed_substitutions(school, day, rng.sample(todays, min(count, len(todays))), rows, rng)
    _seed_announcements(school)
    _seed_screens(school, classes)
    return school


def _seed_from_untis(
    school: School, plan: SchoolPlan, rng: random.Random, today: dt.date | None
) -> None:
    """The bell schedule and rotation directly; everything else from Untis files, imported."""
    from hallboard.demo import untis

    local_today = today or timezone.now().astimezone(school.tz).date()
    this_monday = monday_of(local_today)
    # This week is week A; next week is a holiday (GPU018), so the week after is B.
    SchoolCalendar.objects.create(school=school, week_cycle=plan.rotation, anchor=this_monday)
    start = this_monday + dt.timedelta(days=7)
    holiday = (HOLIDAY_NAMES[start.month], start, start + dt.timedelta(days=4))
    weekdays = [1, 2, 3, 4, 5]
    if local_today.isoweekday() > 5:  # a demo started at the weekend still shows a school day
        weekdays.append(local_today.isoweekday())
    texts = {
        "substitute": "Arbeitsblätter im Klassenordner",
        "cancelled": "Selbststudium in der Bibliothek",
        "exam": "Klassenarbeit",
        "supervision": "Stillarbeit",
    }
    untis.seed_from_untis(school, plan, rng, weekdays, holiday, local_today, texts)


def _create_lessons(rows: list[tuple[Lesson, list[SchoolClass], Teacher, Room]]) -> None:
    """Lessons and their classes, teacher and room, in a few queries."""
    Lesson.objects.bulk_create([lesson for lesson, *_ in rows])
    Lesson.classes.through.objects.bulk_create(
        Lesson.classes.through(lesson_id=lesson.pk, schoolclass_id=c.pk)
        for lesson, classes, _, _ in rows
        for c in classes
    )
    Lesson.teachers.through.objects.bulk_create(
        Lesson.teachers.through(lesson_id=lesson.pk, teacher_id=teacher.pk)
        for lesson, _, teacher, _ in rows
    )
    Lesson.rooms.through.objects.bulk_create(
        Lesson.rooms.through(lesson_id=lesson.pk, room_id=room.pk) for lesson, _, _, room in rows
    )


def _seed_substitutions(
    school: School,
    day: dt.date,
    lessons: list[Lesson],
    rows: list[tuple[Lesson, list[SchoolClass], Teacher, Room]],
    rng: random.Random,
) -> None:
    """A day's changes of every kind, on the sampled lessons (one change per lesson)."""
    Kind = Substitution.Kind
    kinds = [
        Kind.SUBSTITUTE,
        Kind.CANCELLED,
        Kind.ROOM_CHANGE,
        Kind.MOVED,
        Kind.SUBSTITUTE,
        Kind.NOTE,
        Kind.EXAM,
        Kind.SUPERVISION,
        Kind.ROOM_CHANGE,
        Kind.CANCELLED,
    ]
    german = school.slug == "lindenhof"
    notes = {
        Kind.SUBSTITUTE: "Arbeitsblätter im Klassenordner"
        if german
        else "Worksheets in the folder",
        Kind.CANCELLED: "Selbststudium in der Bibliothek"
        if german
        else "Self-study in the library",
        Kind.NOTE: "Sportsachen mitbringen" if german else "Bring your PE kit",
        Kind.EXAM: "Klassenarbeit" if german else "Class test",
    }
    info = {lesson.pk: (classes, teacher) for lesson, classes, teacher, _ in rows}
    teachers = sorted({t for _, _, t, _ in rows}, key=lambda t: t.code)
    rooms = sorted({r for _, _, _, r in rows}, key=lambda r: r.name)
    periods = list(Period.objects.filter(school=school).order_by("number"))
    busy = {(c.pk, lesson.period_id) for lesson in lessons for c in info[lesson.pk][0]}
    busy |= {
        (c.pk, lesson.period_id)
        for lesson, classes, _, _ in rows
        if lesson.weekday == day.isoweekday()
        for c in classes
    }
    made = []
    for i, lesson in enumerate(lessons):
        kind = kinds[i % len(kinds)]
        classes, regular = info[lesson.pk]
        change = Substitution(school=school, date=day, lesson=lesson, kind=kind)
        change.note = notes.get(kind, "")
        if kind in (Kind.SUBSTITUTE, Kind.SUPERVISION):
            change.teacher = regular
            change.substitute_teacher = rng.choice([t for t in teachers if t != regular])
        elif kind == Kind.ROOM_CHANGE:
            change.room = rng.choice(rooms)
        elif kind == Kind.MOVED:
            free = [
                p
                for p in periods
                if p.pk != lesson.period_id and all((c.pk, p.pk) not in busy for c in classes)
            ]
            if not free:
                change.kind = Kind.CANCELLED
            else:
                change.target_period = free[-1]
                busy |= {(c.pk, free[-1].pk) for c in classes}
        made.append(change)
    Substitution.objects.bulk_create(made)
    # An extra lesson where a class has none (the first class with a free period).
    for cls in sorted({c for classes, _ in info.values() for c in classes}, key=lambda c: c.pk):
        free = [p for p in periods if (cls.pk, p.pk) not in busy]
        if free:
            extra = Substitution.objects.create(
                school=school,
                date=day,
                kind=Kind.EXTRA,
                period=free[0],
                subject=lessons[0].subject,
                substitute_teacher=teachers[0],
                room=rooms[0],
                note="Förderunterricht" if german else "Catch-up session",
            )
            extra.classes.set([cls])
            break


#: The demo's announcements in each school's own language (content, not the page's words:
#: a German school writes German notices).
ANNOUNCEMENTS = {
    "de": (
        ("Elternsprechtag am Donnerstag", "Ab 18 Uhr in der Aula. Listen liegen im Sekretariat."),
        ("Bibliothek wegen Inventur geschlossen", "Die Bibliothek ist ab Montag wieder offen."),
        ("Chorprobe in der Aula", "Heute nach der letzten Stunde."),
    ),
    "en": (
        (
            "Parents' evening on Thursday",
            "From 18:00 in the main hall. Sign-up sheets are at the office.",
        ),
        ("Library closed for stocktaking", "The library reopens on Monday."),
        ("Choir rehearsal moves to the hall", "Today after the last period."),
    ),
}


def _seed_announcements(school: School) -> None:
    now = timezone.now()
    texts = ANNOUNCEMENTS.get(school.language, ANNOUNCEMENTS["en"])
    Announcement.objects.bulk_create(
        [
            Announcement(
                school=school,
                title=texts[0][0],
                body=texts[0][1],
                priority=Announcement.Priority.NORMAL,
                starts_at=now - dt.timedelta(hours=1),
                ends_at=now + dt.timedelta(days=3),
            ),
            Announcement(
                school=school,
                title=texts[1][0],
                body=texts[1][1],
                priority=Announcement.Priority.LOW,
                starts_at=now - dt.timedelta(hours=2),
            ),
            Announcement(
                school=school,
                title=texts[2][0],
                body=texts[2][1],
                priority=Announcement.Priority.HIGH,
                starts_at=now + dt.timedelta(hours=2),
                ends_at=now + dt.timedelta(hours=8),
            ),
        ]
    )


def _seed_screens(school: School, classes: list[SchoolClass]) -> None:
    grades = sorted({c.grade for c in classes if c.grade is not None})[:2]
    Screen.objects.create(school=school, name="Main entrance", location="Foyer")
    Screen.objects.create(
        school=school,
        name=f"Year {grades[0]}-{grades[1]} corridor",
        location="First floor",
        view=Screen.View.GRADES,
        grades=grades,
        hide_teacher_names=True,
        orientation=Screen.Orientation.PORTRAIT,
        large_text=True,
    )
    Screen.objects.create(
        school=school,
        name="Staff room",
        location="Staff room",
        next_day=Screen.NextDay.ALWAYS,
        hide_past_periods=False,
    )


def _credentials(organisation: Organisation) -> Credentials:
    """Fresh secrets for the demo's own rows: admin password, demo API keys, demo screens."""
    password = secrets.token_urlsafe(9)
    user_model = get_user_model()
    admin = user_model.objects.filter(username=ADMIN_USERNAME).first()
    if admin is None:
        admin = user_model.objects.create_superuser(ADMIN_USERNAME, "admin@example.org", password)
    else:
        admin.set_password(password)
        admin.is_superuser = admin.is_staff = admin.is_active = True
        admin.save()

    # Only the demo's own keys (by their exact names): keys people made stay valid.
    schools = list(organisation.schools.order_by("name"))
    demo_keys = [f"{DEMO_KEY_NAME} organisation", *(f"{DEMO_KEY_NAME} {s.slug}" for s in schools)]
    ApiKey.objects.filter(
        organisation=organisation, name__in=demo_keys, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    _, org_key = ApiKey.create(
        name=f"{DEMO_KEY_NAME} organisation", organisation=organisation, role=Role.ADMIN
    )
    credentials = Credentials(ADMIN_USERNAME, password, org_key)
    for school in schools:
        Membership.objects.get_or_create(user=admin, school=school, role=Role.ADMIN)
        _, school_key = ApiKey.create(
            name=f"{DEMO_KEY_NAME} {school.slug}",
            organisation=organisation,
            school=school,
            role=Role.ADMIN,
        )
        seeded = set(
            SeededScreen.objects.filter(screen__school=school).values_list("screen_id", flat=True)
        )
        screens, kept = [], []
        for screen in school.screens.order_by("pk"):
            if screen.pk not in seeded:  # somebody added it: its token and binding stay
                kept.append({"id": screen.pk, "name": screen.name})
                continue
            token = screen.issue_token()
            screen.reset_binding()  # whichever browser opens the new URL may show it
            screens.append(
                {
                    "id": screen.pk,
                    "name": screen.name,
                    "token": token,
                    "display_url": display_url(token),
                }
            )
        credentials.schools.append(
            {
                "slug": school.slug,
                "name": school.name,
                "api_key": school_key,
                "screens": screens,
                "kept_screens": kept,
            }
        )
    return credentials
