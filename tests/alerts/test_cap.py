"""CAP 1.2 messages posted to the API: real samples, Update and Cancel chains, duplicates,
errors, and who may post them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hallboard.alerts import cap
from hallboard.alerts.models import Alert, AlertAuditEntry, CapMessage
from tests.alerts.conftest import sample
from tests.conftest import ApiClient, KeyFactory, Tenant, make_screen

pytestmark = pytest.mark.django_db

PDT = dt.timezone(dt.timedelta(hours=-7))
#: During the OASIS A.2 thunderstorm warning (sent 14:57, expires 16:00 PDT).
DURING_THE_STORM = dt.datetime(2003, 6, 17, 15, 0, tzinfo=PDT)


def post_cap(client: ApiClient, body: bytes, slug: str = "alpha", **params: str) -> Any:
    query = "".join(f"&{k}={v}" for k, v in params.items()).replace("&", "?", 1)
    return client.client.post(
        f"/api/v1/schools/{slug}/alerts/cap{query}",
        data=body,
        content_type="application/cap+xml",
        headers=client.headers,
    )


@pytest.fixture
def safety(api_as: KeyFactory) -> ApiClient:
    return api_as("safety")


# --- the real samples ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "oasis_a1_homeland_security.xml",
            {
                "kind": "other",
                "severity": "severe",
                "headline": "Homeland Security Sets Code ORANGE",
                "starts_at": dt.datetime(
                    2003, 4, 2, 14, 39, 1, tzinfo=dt.timezone(-dt.timedelta(hours=5))
                ),
                "expires_at": None,
            },
        ),
        (
            "oasis_a4_amber_alert.xml",
            {
                "kind": "other",
                "severity": "severe",
                "headline": "Amber Alert in Los Angeles County",  # the English <info>
                "expires_at": None,
            },
        ),
        (
            "hallboard_school_lockdown.xml",
            {
                "kind": "lockdown",
                "severity": "extreme",
                "headline": "Lockdown: stay in your room",
                "instructions": "Lock the doors, stay away from windows, keep quiet and wait "
                "for the all-clear.\n\nPolice activity near the school grounds.",
            },
        ),
        (
            "hallboard_earthquake_original.xml",
            {
                "kind": "other",
                "severity": "minor",
                "headline": "EQ 3.3 Imperial County CA (preliminary)",
            },
        ),
    ],
)
def test_a_cap_alert_triggers_an_alert(
    tenant: Tenant, safety: ApiClient, name: str, expected: dict[str, Any]
) -> None:
    """Each real CAP Alert becomes an active alert of the school with the mapped fields,
    recorded in the audit log as coming from CAP and its sender."""
    make_screen(tenant.school)
    response = post_cap(safety, sample(name))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["action"] == "triggered"
    assert body["msg_type"] == "Alert"
    [out] = body["alerts"]
    assert out["active"] is True
    assert out["scope"] == "school"
    assert out["reach"]["in_scope"] == 1
    alert = Alert.objects.get(pk=out["id"])
    assert alert.school == tenant.school
    for field, value in expected.items():
        assert getattr(alert, field) == value, field
    message = CapMessage.objects.get()
    assert (message.sender, message.identifier, message.msg_type) == (
        body["sender"],
        body["identifier"],
        "Alert",
    )
    assert message.xml.startswith("<?xml")
    entry = AlertAuditEntry.objects.get()
    assert entry.source == "cap"
    assert entry.actor == f"CAP sender {body['sender']} via API key test safety"
    assert entry.note == f"CAP Alert {body['identifier']}"


def test_pretty_printed_text_is_unwrapped(tenant: Tenant, safety: ApiClient) -> None:
    """Instructions come first, then the description, without the XML's line wrapping."""
    body = post_cap(safety, sample("oasis_a1_homeland_security.xml")).json()
    instructions = body["alerts"][0]["instructions"]
    assert instructions.startswith("A High Condition is declared when there is a high risk")
    assert "In addition to the Protective Measures" in instructions
    assert "\n\nThe Department of Homeland Security has elevated" in instructions
    assert "  " not in instructions


def test_thunderstorm_alert_update_and_cancel(
    tenant: Tenant, safety: ApiClient, freeze: Any
) -> None:
    """The OASIS thunderstorm warning shows as severe weather until 16:00; its Update makes it
    extreme until 16:30; a Cancel that names only the Update ends it (through the chain)."""
    freeze(DURING_THE_STORM)
    triggered = post_cap(safety, sample("oasis_a2_severe_thunderstorm.xml"))
    assert triggered.status_code == 201
    [out] = triggered.json()["alerts"]
    assert (out["kind"], out["severity"], out["active"]) == ("weather", "severe", True)
    alert = Alert.objects.get(pk=out["id"])
    assert alert.expires_at == dt.datetime(2003, 6, 17, 16, 0, tzinfo=PDT)
    assert alert.starts_at == dt.datetime(2003, 6, 17, 14, 57, tzinfo=PDT)  # <sent>
    assert alert.instructions.startswith("TAKE COVER IN A SUBSTANTIAL SHELTER")

    updated = post_cap(safety, sample("hallboard_thunderstorm_update.xml"))
    assert updated.status_code == 200
    assert updated.json()["action"] == "updated"
    alert.refresh_from_db()
    assert alert.severity == "extreme"
    assert alert.headline == "SEVERE THUNDERSTORM WARNING EXTENDED UNTIL 430 PM PDT"
    assert alert.expires_at == dt.datetime(2003, 6, 17, 16, 30, tzinfo=PDT)
    assert alert.starts_at == dt.datetime(2003, 6, 17, 14, 57, tzinfo=PDT)  # kept
    update = AlertAuditEntry.objects.get(action="update")
    assert update.changes["severity"] == ["severe", "extreme"]
    assert update.note == "CAP Update KSTO1055888103"

    cancelled = post_cap(safety, sample("hallboard_thunderstorm_cancel.xml"))
    assert cancelled.status_code == 200
    assert cancelled.json()["action"] == "cleared"
    alert.refresh_from_db()
    assert alert.cleared_at == DURING_THE_STORM
    assert alert.cancelled is False  # a CAP Cancel is the all-clear
    assert list(AlertAuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        "trigger",
        "update",
        "clear",
    ]
    assert CapMessage.objects.filter(alert=alert).count() == 3


def test_the_oasis_earthquake_update_needs_its_original(tenant: Tenant, safety: ApiClient) -> None:
    """The OASIS A.3 Update alone names an unknown message (404); after its Alert it updates it."""
    unknown = post_cap(safety, sample("oasis_a3_earthquake_update.xml"))
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "cap_unknown_reference"
    assert "TRI13970876.1" in unknown.json()["detail"]
    original = post_cap(safety, sample("hallboard_earthquake_original.xml")).json()["alerts"][0]
    updated = post_cap(safety, sample("oasis_a3_earthquake_update.xml"))
    assert updated.status_code == 200
    [out] = updated.json()["alerts"]
    assert out["id"] == original["id"]
    assert out["headline"] == "EQ 3.4 Imperial County CA"


def test_repeated_messages_change_nothing(tenant: Tenant, safety: ApiClient, freeze: Any) -> None:
    """Alert, Update and Cancel received twice: the second answer is "duplicate" and nothing
    (alert, audit, stored messages) changes."""
    freeze(DURING_THE_STORM)
    first = post_cap(safety, sample("oasis_a2_severe_thunderstorm.xml")).json()
    again = post_cap(safety, sample("oasis_a2_severe_thunderstorm.xml"))
    assert again.status_code == 200
    assert again.json()["action"] == "duplicate"
    assert again.json()["alerts"][0]["id"] == first["alerts"][0]["id"]
    for name in ("hallboard_thunderstorm_update.xml", "hallboard_thunderstorm_cancel.xml"):
        assert post_cap(safety, sample(name)).json()["action"] != "duplicate"
        assert post_cap(safety, sample(name)).json()["action"] == "duplicate"
    # Even after the all-clear, the Alert repeated does not raise the alarm again.
    assert (
        post_cap(safety, sample("oasis_a2_severe_thunderstorm.xml")).json()["action"] == "duplicate"
    )
    assert Alert.objects.count() == 1
    assert AlertAuditEntry.objects.count() == 3
    assert CapMessage.objects.count() == 3


def test_the_same_message_for_another_scope_is_another_alert(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """A district forwarding one warning to two schools gets an alert in each."""
    district = api_as("safety", school=None)
    alpha = post_cap(district, sample("oasis_a1_homeland_security.xml"), slug="alpha")
    beta = post_cap(district, sample("oasis_a1_homeland_security.xml"), slug="beta")
    assert (alpha.json()["action"], beta.json()["action"]) == ("triggered", "triggered")
    assert set(Alert.objects.values_list("school__slug", flat=True)) == {"alpha", "beta"}


def test_organisation_scope(tenant: Tenant, api_as: KeyFactory) -> None:
    """?scope=organisation from an organisation-wide key puts the CAP alert on every school of
    the organisation; a Cancel through any school URL of it finds it."""
    make_screen(tenant.school)
    make_screen(tenant.other_school)
    district = api_as("safety", school=None)
    body = post_cap(district, sample("hallboard_school_lockdown.xml"), scope="organisation").json()
    [out] = body["alerts"]
    assert (out["scope"], out["reach"]["in_scope"]) == ("organisation", 2)
    cancel = (
        sample("hallboard_school_lockdown.xml")
        .replace(
            b"<msgType>Alert</msgType>",
            b"<msgType>Cancel</msgType><references>safety@north-district.example,NORTH-2026-0042,"
            b"2026-11-23T09:41:00+01:00</references>",
        )
        .replace(b"NORTH-2026-0042</identifier>", b"NORTH-2026-0043</identifier>")
    )
    assert post_cap(district, cancel, slug="beta").json()["action"] == "cleared"
    assert not Alert.objects.get(pk=out["id"]).active


def test_a_school_key_cannot_alert_or_end_for_every_school(
    tenant: Tenant, api_as: KeyFactory, safety: ApiClient
) -> None:
    """?scope=organisation from a school's safety key is 403 forbidden and stores nothing, also
    when the same message came before from the district's key; that key's alert of every
    school is not ended by the school key's Cancel (403)."""
    lockdown = sample("hallboard_school_lockdown.xml")
    refused = post_cap(safety, lockdown, scope="organisation")
    assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
    assert "whole organisation" in refused.json()["detail"]
    assert not Alert.objects.exists()
    assert not CapMessage.objects.exists()
    assert not AlertAuditEntry.objects.exists()

    district = api_as("safety", school=None)
    made = post_cap(district, lockdown, scope="organisation")
    assert made.status_code == 201
    assert post_cap(safety, lockdown, scope="organisation").status_code == 403  # the repeat too
    cancel = lockdown.replace(
        b"<msgType>Alert</msgType>",
        b"<msgType>Cancel</msgType><references>safety@north-district.example,NORTH-2026-0042,"
        b"2026-11-23T09:41:00+01:00</references>",
    ).replace(b"NORTH-2026-0042</identifier>", b"NORTH-2026-0043</identifier>")
    ended = post_cap(safety, cancel)
    assert (ended.status_code, ended.json()["error"]) == (403, "forbidden")
    assert Alert.objects.get().active
    assert post_cap(district, cancel).json()["action"] == "cleared"
    assert post_cap(safety, cancel).status_code == 403  # its repeat: refused, not "duplicate"
    assert list(AlertAuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        "trigger",
        "clear",
    ]


# --- errors -----------------------------------------------------------------------------
LOCKDOWN = sample("hallboard_school_lockdown.xml")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"<alert", 422, "cap_malformed"),
        (b"", 422, "cap_malformed"),
        (b'{"headline": "not XML"}', 422, "cap_malformed"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'/>", 422, "cap_malformed"),
        (sample("nws_blizzard_warning_cap11.xml"), 422, "cap_wrong_namespace"),
        (
            LOCKDOWN.replace(b' xmlns="urn:oasis:names:tc:emergency:cap:1.2"', b""),
            422,
            "cap_wrong_namespace",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
            b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
            b"<identifier>&lol2;</identifier></alert>",
            422,
            "cap_unsafe_xml",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE alert SYSTEM "http://example.org/cap.dtd">'
            b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>',
            422,
            "cap_unsafe_xml",
        ),
        (
            LOCKDOWN.replace(b"<sender>safety@north-district.example</sender>", b""),
            422,
            "cap_missing_element",
        ),
        (LOCKDOWN.replace(b"<event>Lockdown</event>", b""), 422, "cap_missing_element"),
        (
            LOCKDOWN.replace(b"<status>Actual</status>", b"<status>Exercise</status>"),
            422,
            "cap_status_not_actual",
        ),
        (
            LOCKDOWN.replace(b"<status>Actual</status>", b"<status>Test</status>"),
            422,
            "cap_status_not_actual",
        ),
        (
            LOCKDOWN.replace(b"<status>Actual</status>", b"<status>Real</status>"),
            422,
            "cap_invalid_value",
        ),
        (
            LOCKDOWN.replace(b"<msgType>Alert</msgType>", b"<msgType>Ack</msgType>"),
            422,
            "cap_unsupported_msg_type",
        ),
        (
            LOCKDOWN.replace(b"<msgType>Alert</msgType>", b"<msgType>Update</msgType>"),
            422,
            "cap_missing_element",
        ),
        (LOCKDOWN.replace(b"2026-11-23T09:41:00+01:00", b"yesterday"), 422, "cap_invalid_value"),
        (
            LOCKDOWN.replace(b"2026-11-23T09:41:00+01:00", b"2026-11-23T09:41:00"),
            422,
            "cap_invalid_value",
        ),
        (
            LOCKDOWN.replace(b"<severity>Extreme</severity>", b"<severity>Bad</severity>"),
            422,
            "cap_invalid_value",
        ),
        (
            LOCKDOWN.replace(
                b"<msgType>Alert</msgType>",
                b"<msgType>Cancel</msgType><references>nonsense</references>",
            ),
            422,
            "cap_invalid_value",
        ),
        (
            LOCKDOWN.replace(
                b"<msgType>Alert</msgType>",
                b"<msgType>Cancel</msgType><references>x@example.org,NEVER-SEEN,2026-01-01T00:00:00+00:00</references>",
            ),
            404,
            "cap_unknown_reference",
        ),
        (LOCKDOWN.replace(b"NORTH-2026-0042", b"N" * 256), 422, "cap_invalid_value"),
        (sample("oasis_a2_severe_thunderstorm.xml"), 422, "cap_expired"),  # expired in 2003
    ],
)
def test_bad_messages_are_refused_with_a_clear_code(
    tenant: Tenant, safety: ApiClient, body: bytes, status: int, code: str
) -> None:
    """Malformed, unsafe, wrong-namespace, incomplete, non-Actual, unsupported, badly valued,
    unknown-reference and expired messages change nothing and say why."""
    response = post_cap(safety, body)
    assert response.status_code == status, response.content
    assert response.json()["error"] == code
    assert response.json()["detail"]
    assert not Alert.objects.exists()
    assert not CapMessage.objects.exists()


def test_an_oversized_message_is_refused(tenant: Tenant, safety: ApiClient) -> None:
    """A body over the limit answers 413 too_large."""
    body = LOCKDOWN.replace(b"<description>", b"<description>" + b"x" * cap.MAX_BYTES)
    response = post_cap(safety, body)
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_an_update_of_an_ended_alert_is_a_conflict(tenant: Tenant, safety: ApiClient) -> None:
    """After the all-clear, a CAP Update of the alert answers 409 alert_ended."""
    pk = post_cap(safety, LOCKDOWN).json()["alerts"][0]["id"]
    safety.post(f"schools/alpha/alerts/{pk}/clear")
    update = LOCKDOWN.replace(
        b"<msgType>Alert</msgType>",
        b"<msgType>Update</msgType><references>safety@north-district.example,NORTH-2026-0042,"
        b"2026-11-23T09:41:00+01:00</references>",
    ).replace(b"NORTH-2026-0042</identifier>", b"NORTH-2026-0044</identifier>")
    response = post_cap(safety, update)
    assert response.status_code == 409
    assert response.json()["error"] == "alert_ended"


def test_references_never_reach_another_schools_alert(tenant: Tenant, api_as: KeyFactory) -> None:
    """Beta's Cancel naming alpha's message finds nothing: 404, alpha's alert stays."""
    pk = post_cap(api_as("safety"), LOCKDOWN).json()["alerts"][0]["id"]
    cancel = LOCKDOWN.replace(
        b"<msgType>Alert</msgType>",
        b"<msgType>Cancel</msgType><references>safety@north-district.example,NORTH-2026-0042,"
        b"2026-11-23T09:41:00+01:00</references>",
    ).replace(b"NORTH-2026-0042</identifier>", b"NORTH-2026-0045</identifier>")
    response = post_cap(api_as("safety", school=tenant.other_school), cancel, slug="beta")
    assert response.status_code == 404
    assert response.json()["error"] == "cap_unknown_reference"
    assert Alert.objects.get(pk=pk).active


# --- who may post -----------------------------------------------------------------------
@pytest.mark.parametrize("role", ["office", "timetabler", "viewer"])
def test_roles_without_the_alert_right_cannot_post_cap(
    tenant: Tenant, api_as: KeyFactory, role: str
) -> None:
    """Office, timetabler and viewer get 403 before the message is even read."""
    response = post_cap(api_as(role), LOCKDOWN)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert post_cap(api_as(role), b"<not even xml").status_code == 403
    assert not Alert.objects.exists()


@pytest.mark.parametrize("role", ["safety", "admin"])
def test_safety_and_admin_may_post_cap(tenant: Tenant, api_as: KeyFactory, role: str) -> None:
    """Safety and admin keys trigger alerts by CAP."""
    assert post_cap(api_as(role), LOCKDOWN).status_code == 201


def test_cap_for_another_school_is_not_found(tenant: Tenant, api_as: KeyFactory) -> None:
    """A key of beta posting to alpha's URL gets 404; without a key, 401."""
    assert post_cap(api_as("safety", school=tenant.other_school), LOCKDOWN).status_code == 404
    assert post_cap(ApiClient(), LOCKDOWN).status_code == 401
    assert not Alert.objects.exists()


def test_cap_organisation_scope_needs_the_right_in_the_urls_school(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """A safety key of alpha cannot post an organisation-wide CAP alert through beta."""
    response = post_cap(api_as("safety"), LOCKDOWN, slug="beta", scope="organisation")
    assert response.status_code == 404
    assert post_cap(api_as("safety"), LOCKDOWN, scope="everywhere").status_code == 422


# --- parsing details ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("event", "categories", "kind"),
    [
        ("Fire", ["Fire"], "fire"),
        ("Forest fire evacuation order", ["Fire"], "evacuation"),
        ("Lock-down", ["Security"], "lockdown"),
        ("Shelter in place", ["Safety"], "shelter"),
        ("Blizzard Warning", ["Met"], "weather"),
        ("Child Abduction", ["Rescue"], "other"),
    ],
)
def test_kind_comes_from_event_words_then_category(
    event: str, categories: list[str], kind: str
) -> None:
    """Event words name what to do; otherwise the category; otherwise other."""
    assert cap.kind_of(event, categories) == kind


@pytest.mark.parametrize(
    ("severity", "mapped"),
    [
        ("Extreme", "extreme"),
        ("Severe", "severe"),
        ("Moderate", "moderate"),
        ("Minor", "minor"),
        ("Unknown", "severe"),
    ],
)
def test_severity_mapping(severity: str, mapped: str) -> None:
    """CAP severities map one to one; Unknown is treated as severe."""
    body = LOCKDOWN.replace(
        b"<severity>Extreme</severity>", f"<severity>{severity}</severity>".encode()
    )
    fields = cap.parse(body).fields
    assert fields is not None
    assert fields["severity"] == mapped


def test_effective_then_onset_give_the_start() -> None:
    """<effective> is the start; without it <onset>; a Cancel needs no <info>."""
    both = LOCKDOWN.replace(
        b"<senderName>",
        b"<effective>2026-11-23T09:45:00+01:00</effective><onset>2026-11-23T10:00:00+01:00</onset>"
        b"<expires>2026-11-23T12:00:00+01:00</expires><senderName>",
    )
    fields = cap.parse(both).fields
    assert fields is not None
    assert fields["starts_at"] == dt.datetime(2026, 11, 23, 8, 45, tzinfo=dt.UTC)
    assert fields["expires_at"] == dt.datetime(2026, 11, 23, 11, 0, tzinfo=dt.UTC)
    onset_only = cap.parse(both.replace(b"<effective>2026-11-23T09:45:00+01:00</effective>", b""))
    assert onset_only.fields is not None
    assert onset_only.fields["starts_at"] == dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    bare_cancel = (
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>C1</identifier>'
        b"<sender>s@example.org</sender><sent>2026-11-23T10:00:00-00:00</sent><status>Actual</status>"
        b"<msgType>Cancel</msgType><scope>Public</scope>"
        b"<references>s@example.org,A1,2026-11-23T09:00:00-00:00"
        b" s@example.org,U1,2026-11-23T09:30:00-00:00</references>"
        b"</alert>"
    )
    document = cap.parse(bare_cancel)
    assert document.fields is None
    assert [(r.identifier, r.sent) for r in document.references] == [
        ("A1", dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)),
        ("U1", dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)),
    ]


def test_long_texts_are_cut_to_fit() -> None:
    """A headline over 160 characters and instructions over 2000 end with an ellipsis."""
    body = LOCKDOWN.replace(b"Lockdown: stay in your room", b"H" * 300).replace(
        b"Police activity near the school grounds.", b"D" * 5000
    )
    fields = cap.parse(body).fields
    assert fields is not None
    assert len(fields["headline"]) == 160
    assert fields["headline"].endswith("…")
    assert len(fields["instructions"]) == 2000
