"""Today's changes (staff/pages/day.py): rights, the day's data, one action per change,
conflicts, pasted rows in one revision bump, absences and what the screens show."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from hallboard.observability.metrics import metric_names
from hallboard.schools.models import School
from hallboard.staff import daychanges
from hallboard.timetable.models import Room, Substitution, Teacher, TeacherAbsence
from tests.conftest import Tenant, make_lesson, make_screen, revision_of, sample, signed_in
from tests.conftest import make_user as _make_user

MONDAY = dt.date(2026, 11, 30)
BASE = f"/staff/schools/alpha/day/{MONDAY.isoformat()}/"


@pytest.fixture
def day(tenant: Tenant) -> dict[str, Any]:
    """Alpha on a Monday: 7a has MA with MUE in period 1 (R1), 8b DE with SCH in period 1 (R2)
    and MA with SCH in period 2; KLE teaches nothing; rooms R1-R3."""
    school = tenant.school
    first = make_lesson(school, "7a", 1, 1, "MA", "MUE", "R1")
    other = make_lesson(school, "8b", 1, 1, "DE", "SCH", "R2")
    second = make_lesson(school, "8b", 1, 2, "MA", "SCH", "R2")
    Teacher.objects.create(school=school, code="KLE", name="Herr Klein")
    Room.objects.create(school=school, name="R3")
    return {"school": school, "first": first, "other": other, "second": second}


def make_user(name: str, role: str, school: School) -> Any:
    return _make_user(name, role, school=school)


def post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def slot_of(data: dict[str, Any], lesson_id: int) -> dict[str, Any]:
    return next(s for s in data["slots"] if s["lesson"] == lesson_id)


def timetabler(tenant: Tenant) -> Client:
    return signed_in(make_user("alpha-tt", "timetabler", tenant.school))


# --- who may use it ---------------------------------------------------------------------


ENDPOINTS = [("get", "data"), ("post", "change"), ("post", "absences"), ("post", "paste")]


@pytest.mark.parametrize("role", ["timetabler", "admin"])
def test_timetablers_and_school_admins_open_the_page(tenant: Tenant, day: Any, role: str) -> None:
    """The timetable right (timetabler, school admin) opens the page and reads the day."""
    client = signed_in(make_user(f"alpha-{role}", role, tenant.school))
    response = client.get(BASE)
    assert response.status_code == 200
    assert 'id="day-config"' in response.content.decode()
    assert client.get(BASE + "data").status_code == 200


@pytest.mark.parametrize("role", ["office", "safety", "viewer"])
def test_other_roles_are_refused(tenant: Tenant, day: Any, role: str) -> None:
    """Office, safety and viewer members get 403 for the page and every endpoint, and
    nothing changes."""
    client = signed_in(make_user(f"alpha-{role}", role, tenant.school))
    before = revision_of(tenant.school)
    assert client.get(BASE).status_code == 403
    assert client.get("/staff/day/").status_code == 403
    for method, name in ENDPOINTS:
        body = {"lesson": day["first"].pk, "action": "cancel", "expect": "none", "text": "7a\t1\tx"}
        response = client.get(BASE + name) if method == "get" else post(client, BASE + name, body)
        assert response.status_code == 403, name
        assert response.json()["error"] == "forbidden"
    assert client.get("/staff/schools/alpha/screens-shown").status_code == 403
    assert revision_of(tenant.school) == before


def test_another_schools_data_is_never_reachable(tenant: Tenant, south: Tenant, day: Any) -> None:
    """A timetabler of alpha gets 404 for beta and gamma, and cannot reach beta's lessons,
    absences or screens through alpha's URLs."""
    client = timetabler(tenant)
    beta_lesson = make_lesson(tenant.other_school, "7a", 1, 1, "MA", "MUE")
    beta_screen, _ = make_screen(tenant.other_school, "Beta hall")
    for slug in ("beta", "gamma", "nowhere"):
        url = f"/staff/schools/{slug}/day/{MONDAY.isoformat()}/"
        assert client.get(url).status_code == 404
        response = client.get(url + "data")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
    response = post(
        client, BASE + "change", {"lesson": beta_lesson.pk, "action": "cancel", "expect": "none"}
    )
    assert response.status_code == 404
    assert not Substitution.objects.filter(lesson=beta_lesson).exists()
    response = post(client, BASE + "absences", {"teacher": "NOPE"})
    assert response.status_code == 422
    beta_absence = TeacherAbsence.objects.create(
        school=tenant.other_school,
        teacher=Teacher.objects.get(school=tenant.other_school, code="MUE"),
        starts_on=MONDAY,
        ends_on=MONDAY,
    )
    assert post(client, BASE + "absences", {"remove": beta_absence.pk}).status_code == 404
    assert TeacherAbsence.objects.filter(pk=beta_absence.pk).exists()
    response = client.get(f"/staff/schools/alpha/screens-shown?preview={beta_screen.pk}")
    assert response.status_code == 404


def test_signed_out_visitors(tenant: Tenant, day: Any) -> None:
    """The page sends to sign-in; the endpoints answer 401 in JSON."""
    client = Client()
    assert client.get(BASE).status_code == 302
    response = client.get(BASE + "data")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


# --- school and date remembered -------------------------------------------------------------


def test_one_school_is_never_asked_for(tenant: Tenant, day: Any) -> None:
    """/staff/day/ goes straight to the only school, and its day opens on today in the
    school's zone."""
    client = timetabler(tenant)
    response = client.get("/staff/day/")
    assert response.status_code == 302
    assert response["Location"] == "/staff/schools/alpha/day/"
    response = client.get("/staff/schools/alpha/day/")
    today = timezone.now().astimezone(tenant.school.tz).date()
    assert response["Location"] == f"/staff/schools/alpha/day/{today.isoformat()}/"


def test_school_and_date_are_remembered(tenant: Tenant, day: Any) -> None:
    """With two schools the user chooses once; the school and the date opened last are
    where /staff/day/ leads again (the date only on the day it was opened)."""
    user = make_user("both-tt", "timetabler", tenant.school)
    from hallboard.schools.models import Membership

    Membership.objects.create(user=user, school=tenant.other_school, role="timetabler")
    client = signed_in(user)
    response = client.get("/staff/day/")
    assert response.status_code == 200
    assert "/staff/schools/alpha/day/" in response.content.decode()
    assert "/staff/schools/beta/day/" in response.content.decode()
    tomorrow = timezone.now().astimezone(tenant.other_school.tz).date() + dt.timedelta(days=1)
    assert client.get(f"/staff/schools/beta/day/{tomorrow.isoformat()}/").status_code == 200
    assert client.get("/staff/day/")["Location"] == "/staff/schools/beta/day/"
    response = client.get("/staff/schools/beta/day/")
    assert response["Location"] == f"/staff/schools/beta/day/{tomorrow.isoformat()}/"


def test_a_bad_date_is_a_json_error(tenant: Tenant, day: Any) -> None:
    """A date that is no date answers 400 bad_date, counted as every staff page's refusals
    (hallboard_staff_refusals_total{page="day"}; the page's own counter is gone)."""
    client = timetabler(tenant)
    before = sample("hallboard_staff_refusals_total", page="day", error="bad_date")
    response = client.get("/staff/schools/alpha/day/2026-13-01/data")
    assert response.status_code == 400
    assert response.json()["error"] == "bad_date"
    assert sample("hallboard_staff_refusals_total", page="day", error="bad_date") == before + 1
    assert "hallboard_staff_day_refused_total" not in metric_names()


# --- the day and who is free ----------------------------------------------------------------


def test_the_day_is_the_effective_timetable_with_free_teachers_and_rooms(
    tenant: Tenant, day: Any
) -> None:
    """Slots come from effective_day; period 1's free teachers exclude those teaching and
    those absent; free rooms exclude those in use."""
    client = timetabler(tenant)
    Teacher.objects.create(school=tenant.school, code="ABS")
    TeacherAbsence.objects.create(
        school=tenant.school,
        teacher=Teacher.objects.get(school=tenant.school, code="ABS"),
        starts_on=MONDAY,
        ends_on=MONDAY,
    )
    data = client.get(BASE + "data").json()
    assert [c["name"] for c in data["classes"]] == ["7a", "8b"]
    first = slot_of(data, day["first"].pk)
    assert first["now"] == {"subject": "MA", "teachers": ["MUE"], "rooms": ["R1"]}
    assert first["tag"] == "none"
    period1 = next(p for p in data["periods"] if p["number"] == 1)
    assert period1["free_teachers"] == ["KLE"]
    assert period1["free_rooms"] == ["R3"]
    period2 = next(p for p in data["periods"] if p["number"] == 2)
    assert set(period2["free_teachers"]) == {"KLE", "MUE"}


def test_an_unchanged_day_answers_304(tenant: Tenant, day: Any) -> None:
    """Polling with the ETag costs nothing until the school's revision moves."""
    client = timetabler(tenant)
    etag = client.get(BASE + "data")["ETag"]
    assert client.get(BASE + "data", HTTP_IF_NONE_MATCH=etag).status_code == 304
    Substitution.objects.create(
        school=tenant.school, date=MONDAY, lesson=day["first"], kind="cancelled"
    )
    assert client.get(BASE + "data", HTTP_IF_NONE_MATCH=etag).status_code == 200


# --- one action per change -------------------------------------------------------------------


def test_a_substitution_is_one_request_and_one_revision(tenant: Tenant, day: Any) -> None:
    """Substitute with a code: the change is saved, the revision moves by exactly one, and
    the day shows the substitute."""
    client = timetabler(tenant)
    before = revision_of(tenant.school)
    response = post(
        client,
        BASE + "change",
        {"lesson": day["first"].pk, "action": "substitute", "value": "kle", "expect": "none"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["revision"] == before + 1
    change = Substitution.objects.get(lesson=day["first"], date=MONDAY)
    assert change.kind == "substitute"
    assert change.substitute_teacher is not None
    assert change.substitute_teacher.code == "KLE"
    slot = slot_of(client.get(BASE + "data").json(), day["first"].pk)
    assert slot["now"]["teachers"] == ["KLE"]
    assert slot["tag"] == response.json()["tag"]


def test_room_note_cancel_and_back_to_plan(tenant: Tenant, day: Any) -> None:
    """Room on a substituted lesson keeps the substitute; a note keeps the kind; cancel
    drops substitute and room; clear removes the change."""
    client = timetabler(tenant)
    lesson = day["first"].pk

    def act(action: str, value: str = "") -> dict[str, Any]:
        tag = slot_of(client.get(BASE + "data").json(), lesson)["tag"]
        response = post(
            client,
            BASE + "change",
            {"lesson": lesson, "action": action, "value": value, "expect": tag},
        )
        assert response.status_code == 200, response.content
        return dict(response.json())

    act("substitute", "KLE")
    act("room", "R3")
    change = Substitution.objects.get(lesson=lesson, date=MONDAY)
    assert (change.kind, change.substitute_teacher.code, change.room.name) == (  # type: ignore[union-attr]
        "substitute",
        "KLE",
        "R3",
    )
    act("note", "Bring books")
    change.refresh_from_db()
    assert (change.kind, change.note) == ("substitute", "Bring books")
    act("cancel")
    change.refresh_from_db()
    assert (change.kind, change.substitute_teacher, change.room) == ("cancelled", None, None)
    assert act("clear")["change"] is None
    assert not Substitution.objects.filter(lesson=lesson, date=MONDAY).exists()


def test_a_conflicting_edit_is_refused_and_nothing_is_lost(tenant: Tenant, day: Any) -> None:
    """Two people start from the same day; the second write, made against the state before
    the first, is 409 with a message naming the change there now, which stays."""
    first, second = (
        timetabler(tenant),
        signed_in(make_user("alpha-tt2", "timetabler", tenant.school)),
    )
    tag = slot_of(second.get(BASE + "data").json(), day["first"].pk)["tag"]
    ok = post(
        first,
        BASE + "change",
        {"lesson": day["first"].pk, "action": "substitute", "value": "KLE", "expect": tag},
    )
    assert ok.status_code == 200
    before = revision_of(tenant.school)
    refused = post(
        second, BASE + "change", {"lesson": day["first"].pk, "action": "cancel", "expect": tag}
    )
    assert refused.status_code == 409
    body = refused.json()
    assert body["error"] == "conflict"
    assert "Substitute teacher: KLE" in body["detail"]
    assert body["tag"] == ok.json()["tag"]
    change = Substitution.objects.get(lesson=day["first"], date=MONDAY)
    assert change.kind == "substitute"
    assert revision_of(tenant.school) == before
    # Sent again against what is there now, it is taken.
    again = post(
        second,
        BASE + "change",
        {"lesson": day["first"].pk, "action": "cancel", "expect": body["tag"]},
    )
    assert again.status_code == 200


def test_a_conflict_is_one_counted_refusal_that_keeps_its_extra_fields(
    tenant: Tenant, day: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A 409 conflict answers error, detail and the lesson's state now (its tag and id),
    not cached; it is one log line and one count of
    hallboard_staff_refusals_total{page="day", error="conflict"}."""
    client = timetabler(tenant)
    change = Substitution.objects.create(
        school=tenant.school, date=MONDAY, lesson=day["first"], kind="cancelled"
    )
    before = sample("hallboard_staff_refusals_total", page="day", error="conflict")
    with caplog.at_level(logging.INFO, logger="hallboard.staff"):
        response = post(
            client,
            BASE + "change",
            {"lesson": day["first"].pk, "action": "note", "value": "Aula", "expect": "none"},
        )
    assert response.status_code == 409
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"error", "detail", "tag", "lesson"}
    assert (body["error"], body["lesson"]) == ("conflict", day["first"].pk)
    assert body["tag"] == daychanges.tag_of(change)
    assert daychanges.describe(change) in body["detail"]
    assert sample("hallboard_staff_refusals_total", page="day", error="conflict") == before + 1
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1
    assert "staff day refused POST" in lines[0]
    assert "conflict" in lines[0]


def test_the_conflict_message_is_in_the_users_language(tenant: Tenant, day: Any) -> None:
    """A German user reads the refusal in German."""
    client = timetabler(tenant)
    client.cookies["django_language"] = "de"
    Substitution.objects.create(
        school=tenant.school, date=MONDAY, lesson=day["first"], kind="cancelled"
    )
    response = post(
        client, BASE + "change", {"lesson": day["first"].pk, "action": "cancel", "expect": "none"}
    )
    assert response.status_code == 409
    assert "Jemand anderes" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"lesson": "x", "action": "cancel", "expect": "none"}, 400, "bad_field"),
        ({"action": "cancel", "expect": "none"}, 400, "bad_field"),
        ({"lesson": 1, "action": "explode", "expect": "none"}, 400, "bad_action"),
        ({"lesson": 2**61, "action": "cancel", "expect": "none"}, 404, "not_found"),
    ],
)
def test_bad_requests_are_json_errors(
    tenant: Tenant, day: Any, body: dict[str, Any], status: int, code: str
) -> None:
    """Malformed fields, unknown actions and lessons answer JSON errors, never 500."""
    client = timetabler(tenant)
    if body.get("lesson") == 1:
        body["lesson"] = day["first"].pk
    response = post(client, BASE + "change", body)
    assert response.status_code == status
    assert response.json()["error"] == code


def test_unknown_substitute_and_invalid_json(tenant: Tenant, day: Any) -> None:
    """An unknown teacher code is 422 naming it; a body that is not JSON is 400."""
    client = timetabler(tenant)
    response = post(
        client,
        BASE + "change",
        {"lesson": day["first"].pk, "action": "substitute", "value": "ZZZ", "expect": "none"},
    )
    assert response.status_code == 422
    assert "ZZZ" in response.json()["detail"]
    response = client.post(BASE + "change", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "bad_json"


# --- absences --------------------------------------------------------------------------------


def test_an_absent_teachers_lessons_need_cover_until_covered(tenant: Tenant, day: Any) -> None:
    """Marking SCH away from period 2 lists only the period-2 lesson as needing cover; one
    substitution covers it and names SCH as the teacher replaced."""
    client = timetabler(tenant)
    response = post(client, BASE + "absences", {"teacher": "sch", "first_period": 2})
    assert response.status_code == 200, response.content
    data = client.get(BASE + "data").json()
    assert [s["lesson"] for s in data["slots"] if s["needs_cover"]] == [day["second"].pk]
    assert data["absences"][0]["teacher"] == "SCH"
    assert data["absences"][0]["first_period"] == 2
    period2 = next(p for p in data["periods"] if p["number"] == 2)
    assert "SCH" not in period2["free_teachers"]
    response = post(
        client,
        BASE + "change",
        {
            "lesson": day["second"].pk,
            "action": "substitute",
            "value": "KLE",
            "expect": "none",
            "replaces": "SCH",
        },
    )
    assert response.status_code == 200
    data = client.get(BASE + "data").json()
    assert not [s for s in data["slots"] if s["needs_cover"]]
    # Not absent after all: the absence goes.
    absence = data["absences"][0]["id"]
    assert post(client, BASE + "absences", {"remove": absence}).status_code == 200
    assert not TeacherAbsence.objects.filter(pk=absence).exists()


def test_removing_one_day_of_a_longer_absence_keeps_the_others(tenant: Tenant, day: Any) -> None:
    """An absence over three days loses only the day the page shows."""
    client = timetabler(tenant)
    absence = TeacherAbsence.objects.create(
        school=tenant.school,
        teacher=Teacher.objects.get(school=tenant.school, code="MUE"),
        starts_on=MONDAY - dt.timedelta(days=1),
        ends_on=MONDAY + dt.timedelta(days=1),
    )
    assert post(client, BASE + "absences", {"remove": absence.pk}).status_code == 200
    spans = sorted(
        TeacherAbsence.objects.filter(school=tenant.school).values_list("starts_on", "ends_on")
    )
    assert spans == [
        (MONDAY - dt.timedelta(days=1), MONDAY - dt.timedelta(days=1)),
        (MONDAY + dt.timedelta(days=1), MONDAY + dt.timedelta(days=1)),
    ]


def test_a_bad_absence_is_refused(tenant: Tenant, day: Any) -> None:
    """Unknown teacher or period, or a last period before the first: 422."""
    client = timetabler(tenant)
    assert post(client, BASE + "absences", {"teacher": "ZZZ"}).status_code == 422
    response = post(client, BASE + "absences", {"teacher": "MUE", "first_period": 9})
    assert response.json()["error"] == "unknown_period"
    response = post(
        client, BASE + "absences", {"teacher": "MUE", "first_period": 2, "last_period": 1}
    )
    assert response.status_code == 422
    assert not TeacherAbsence.objects.exists()


# --- pasted rows ------------------------------------------------------------------------------


def test_pasted_rows_preview_with_errors_per_row(tenant: Tenant, day: Any) -> None:
    """Tab-separated rows with a header: each row resolved to its lesson, errors named per
    row, nothing written."""
    client = timetabler(tenant)
    text = (
        "Class\tPeriod\tKind\tTeacher\tRoom\tNote\n"
        "7a\t1\tVertretung\tKLE\t\t\n"
        "8b\t2\tcancelled\t\t\tAusflug\n"
        "9z\t1\tcancelled\t\t\t\n"
        "8b\t1\tteleport\t\t\t\n"
        "7a\t2\tcancelled\t\t\t\n"
    )
    before = revision_of(tenant.school)
    response = post(client, BASE + "paste", {"text": text})
    assert response.status_code == 200
    rows = response.json()["rows"]
    assert [r["line"] for r in rows] == [2, 3, 4, 5, 6]
    assert rows[0]["errors"] == []
    assert rows[0]["kind"] == "substitute"
    assert rows[0]["lesson"] == day["first"].pk
    assert rows[1]["errors"] == []
    assert rows[1]["lesson"] == day["second"].pk
    assert "9z" in rows[2]["errors"][0]
    assert "teleport" in rows[3]["errors"][0]
    assert "no lesson in period 2" in rows[4]["errors"][0]
    assert response.json()["errors"] == 3
    assert revision_of(tenant.school) == before


def test_applying_pasted_rows_is_one_revision_bump(tenant: Tenant, day: Any) -> None:
    """Semicolon-separated rows (a CSV file) apply together, with one revision bump."""
    client = timetabler(tenant)
    text = "7a;1;substitute;KLE;R3;\n8b;2;room change;;R3;\n8b;1;note;;;Bring atlases\n"
    before = revision_of(tenant.school)
    response = post(client, BASE + "paste", {"text": text, "apply": True})
    assert response.status_code == 200, response.content
    assert response.json()["applied"] == 3
    assert revision_of(tenant.school) == before + 1
    kinds = dict(
        Substitution.objects.filter(school=tenant.school, date=MONDAY).values_list(
            "lesson_id", "kind"
        )
    )
    assert kinds == {
        day["first"].pk: "substitute",
        day["second"].pk: "room_change",
        day["other"].pk: "note",
    }


def test_a_paste_with_any_error_applies_nothing(tenant: Tenant, day: Any) -> None:
    """All or nothing: one bad row (here a lesson that already has a change) and no row is
    written, 422 with the rows."""
    client = timetabler(tenant)
    Substitution.objects.create(
        school=tenant.school, date=MONDAY, lesson=day["second"], kind="cancelled"
    )
    before = revision_of(tenant.school)
    text = "7a\t1\tcancelled\t\t\t\n8b\t2\tcancelled\t\t\t\n7a\t1\tnote\t\t\tagain\n"
    response = post(client, BASE + "paste", {"text": text, "apply": True})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "paste_invalid"
    assert "already has a change" in body["rows"][1]["errors"][0]
    assert "Line 1 already changes" in body["rows"][2]["errors"][0]
    assert revision_of(tenant.school) == before
    assert Substitution.objects.filter(school=tenant.school).count() == 1


# --- what the screens show ----------------------------------------------------------------------


def test_the_screens_panel_shows_revision_and_a_screens_view(tenant: Tenant, day: Any) -> None:
    """Each screen with the revision it shows and when it said so (school time); a chosen
    screen's preview is its snapshot's day for its view."""
    client = timetabler(tenant)
    screen, _ = make_screen(tenant.school, "Hall")
    School.objects.filter(pk=tenant.school.pk).update(revision=7)
    heard = dt.datetime(2026, 11, 30, 6, 40, 5, tzinfo=dt.UTC)
    type(screen).objects.filter(pk=screen.pk).update(revision_shown=7, last_heartbeat_at=heard)
    body = client.get(f"/staff/schools/alpha/screens-shown?preview={screen.pk}").json()
    row = body["screens"][0]
    assert (row["name"], row["revision_shown"], row["current"]) == ("Hall", 7, True)
    assert row["heard_at"] == "07:40:05"  # Berlin
    assert body["preview"]["screen"]["name"] == "Hall"
    preview = body["preview"]
    assert preview["rev"] == 7
    today = timezone.now().astimezone(tenant.school.tz).date()
    assert preview["day"]["date"] == today.isoformat()  # a screen shows today
    assert client.get("/staff/schools/alpha/screens-shown?preview=abc").status_code == 400


def test_the_staff_area_leads_a_timetabler_to_the_page(tenant: Tenant, day: Any) -> None:
    """/staff/ sends a timetabler (no screens right) to Today's changes; the top bar links
    to it for everyone with the timetable right, and not for others."""
    client = timetabler(tenant)
    assert client.get("/staff/")["Location"] == "/staff/day/"
    assert 'href="/staff/day/"' in client.get(BASE).content.decode()
    admin = signed_in(make_user("alpha-adm", "admin", tenant.school))
    assert 'href="/staff/day/"' in admin.get("/staff/schools/alpha/").content.decode()
    office = signed_in(make_user("alpha-off", "office", tenant.school))
    assert 'href="/staff/day/"' not in office.get("/staff/").content.decode()


def test_csrf_and_methods_are_json_refusals(tenant: Tenant, day: Any) -> None:
    """A POST without the page's CSRF token is 403 csrf_failed, a wrong method 405, both
    JSON; nothing changes."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("alpha-csrf", "timetabler", tenant.school))
    before = revision_of(tenant.school)
    response = post(
        client, BASE + "change", {"lesson": day["first"].pk, "action": "cancel", "expect": "none"}
    )
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"
    response = client.put(BASE + "change", "{}", content_type="application/json")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert client.post(BASE + "data").json()["error"] == "method_not_allowed"
    assert revision_of(tenant.school) == before


def test_endpoint_checks_come_in_order_and_are_counted(tenant: Tenant, day: Any) -> None:
    """Without the CSRF token, a wrong method is still 405 and a signed-out visitor 401
    (method, then sign-in, then CSRF); the CSRF refusal says to reload the page and is
    counted for the page "day"."""
    anonymous = Client(enforce_csrf_checks=True)
    assert anonymous.post(BASE + "data").status_code == 405
    response = post(anonymous, BASE + "change", {})
    assert (response.status_code, response.json()["error"]) == (401, "unauthorized")
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("alpha-csrf", "timetabler", tenant.school))
    before = sample("hallboard_staff_refusals_total", page="day", error="csrf_failed")
    response = post(client, BASE + "paste", {"text": "7a\t1\tx"})
    assert (response.status_code, response.json()["error"]) == (403, "csrf_failed")
    assert "reload the page" in response.json()["detail"]
    assert response["Cache-Control"] == "no-store"
    assert sample("hallboard_staff_refusals_total", page="day", error="csrf_failed") == before + 1


def test_moved_lessons_are_left_to_the_admin(tenant: Tenant, day: Any) -> None:
    """A lesson moved elsewhere shows, but the page does not edit it (422 edit_in_admin)."""
    client = timetabler(tenant)
    from hallboard.timetable.models import Period

    moved = Substitution.objects.create(
        school=tenant.school,
        date=MONDAY,
        lesson=day["first"],
        kind="moved",
        target_period=Period.objects.get(school=tenant.school, number=2),
    )
    data = client.get(BASE + "data").json()
    assert slot_of(data, day["first"].pk)["editable"] is False
    tag = daychanges.tag_of(moved)
    response = post(
        client, BASE + "change", {"lesson": day["first"].pk, "action": "cancel", "expect": tag}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "edit_in_admin"


def test_a_nul_in_a_body_is_refused_before_the_database(tenant: Tenant, day: Any) -> None:
    """A NUL character (which PostgreSQL text cannot hold) in a pasted text is 400 bad_json."""
    client = timetabler(tenant)
    response = post(client, BASE + "paste", {"text": "7a\t1\tnote\t\t\tx\u0000y"})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_json"


@pytest.mark.parametrize("date", ["9999-12-31", "0001-01-01", "2026-02-30", "today"])
def test_dates_at_the_ends_of_the_calendar_are_refused(tenant: Tenant, day: Any, date: str) -> None:
    """The page and its data refuse dates without a day either side (400, never 500)."""
    client = timetabler(tenant)
    assert client.get(f"/staff/schools/alpha/day/{date}/").status_code == 400
    assert client.get(f"/staff/schools/alpha/day/{date}/data").json()["error"] == "bad_date"


def test_the_preview_is_the_screens_own_view(tenant: Tenant) -> None:
    """A screen showing only 7a previews only 7a's lessons of today (its snapshot)."""
    from hallboard.screens.models import Screen
    from hallboard.timetable.models import SchoolClass

    weekday = timezone.now().astimezone(tenant.school.tz).isoweekday()
    make_lesson(tenant.school, "7a", weekday, 1, "MA", "MUE")
    make_lesson(tenant.school, "8b", weekday, 1, "DE", "MUE")
    screen, _ = make_screen(tenant.school, "7a door", view=Screen.View.CLASSES)
    screen.classes.set([SchoolClass.objects.get(school=tenant.school, name="7a")])
    client = timetabler(tenant)
    preview = client.get(f"/staff/schools/alpha/screens-shown?preview={screen.pk}").json()
    classes = [slot["classes"] for slot in preview["preview"]["day"]["slots"]]
    assert classes == [["7a"]]
