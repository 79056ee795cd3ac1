"""``hallboard.alerts.builtins``: the five built-in alert templates and what a panel offers."""

from __future__ import annotations

from django.utils import translation

from hallboard.alerts import builtins
from hallboard.alerts.models import Alert, AlertTemplate
from hallboard.schools.models import School
from tests.conftest import Tenant

KEYS = ["lockdown", "evacuation", "fire", "shelter", "weather"]


def _district(tenant: Tenant, label: str, **fields: object) -> AlertTemplate:
    return AlertTemplate.objects.create(
        organisation=tenant.organisation,
        label=label,
        kind=Alert.Kind.EVACUATION,
        headline=label,
        **fields,
    )


def _builtin(school: School, key: str) -> AlertTemplate:
    return AlertTemplate.objects.get(school=school, builtin=key)


def test_the_built_ins_are_the_five_documented_ones_with_a_valid_kind_and_severity() -> None:
    """Lockdown, evacuation, fire, shelter in place and severe weather, each with a kind and
    severity an alert can have; the three that clear the building are extreme."""
    assert [b.key for b in builtins.BUILTINS] == KEYS
    for builtin in builtins.BUILTINS:
        assert builtin.kind in Alert.Kind.values
        assert builtin.severity in Alert.Severity.values
    extreme = {b.key for b in builtins.BUILTINS if b.severity == Alert.Severity.EXTREME}
    assert extreme == {"lockdown", "evacuation", "fire"}


def test_every_built_in_word_is_translated_into_german() -> None:
    """Each label, headline and instruction of a built-in has a German translation."""
    for builtin in builtins.BUILTINS:
        for text in (builtin.label, builtin.headline, builtin.instructions):
            with translation.override("en"):
                english = str(text)
            with translation.override("de"):
                german = str(text)
            assert german != english, english


def test_seeding_creates_the_built_ins_in_order_for_that_school_only(tenant: Tenant) -> None:
    """``seed`` makes the five built-ins of one school, positioned 10, 20, …, in English for an
    English school; no other school gets any."""
    assert builtins.seed(tenant.school) == 5
    made = AlertTemplate.objects.filter(school=tenant.school).order_by("position")
    assert [(t.builtin, t.position) for t in made] == [
        (key, 10 * n) for n, key in enumerate(KEYS, start=1)
    ]
    assert _builtin(tenant.school, "fire").headline == "Fire alarm"
    assert all(t.organisation_id == tenant.organisation.pk for t in made)
    assert not AlertTemplate.objects.filter(school=tenant.other_school).exists()


def test_a_german_school_gets_german_words(tenant: Tenant) -> None:
    """A school whose language is German gets its built-ins in German."""
    tenant.school.language = "de"
    tenant.school.save()
    builtins.seed(tenant.school)
    assert _builtin(tenant.school, "evacuation").headline == "Gebäude räumen"


def test_seeding_again_only_makes_what_is_missing_and_keeps_rewordings(tenant: Tenant) -> None:
    """A reworded built-in is kept; a deleted one is made again; nothing is duplicated."""
    builtins.seed(tenant.school)
    AlertTemplate.objects.filter(school=tenant.school, builtin="fire").update(headline="FIRE!")
    _builtin(tenant.school, "weather").delete()
    assert builtins.seed(tenant.school) == 1
    assert _builtin(tenant.school, "fire").headline == "FIRE!"
    assert _builtin(tenant.school, "weather").position == 50
    assert AlertTemplate.objects.filter(school=tenant.school).count() == 5


def test_the_panel_offers_the_schools_own_then_the_districts_by_position(
    tenant: Tenant, south: Tenant
) -> None:
    """``templates_for`` seeds the built-ins, then lists the school's templates by position,
    then its district's (its organisation only) by position."""
    late = _district(tenant, "Gas leak", position=5)
    early = _district(tenant, "Bomb threat", position=1)
    _district(south, "Elsewhere")
    own = AlertTemplate.objects.create(
        organisation=tenant.organisation,
        school=tenant.school,
        label="Flood",
        kind=Alert.Kind.WEATHER,
        headline="Flood",
        position=15,
    )
    offered = list(builtins.templates_for(tenant.school))
    assert [t.pk for t in offered[-2:]] == [early.pk, late.pk]
    assert [t.builtin or t.label for t in offered[:-2]] == [
        "lockdown",
        "Flood",
        "evacuation",
        "fire",
        "shelter",
        "weather",
    ]
    assert own in offered


def test_hidden_templates_are_offered_only_when_asked_for(tenant: Tenant) -> None:
    """Hidden templates (built-in or district) are left off the panel, kept for the admin."""
    builtins.seed(tenant.school)
    AlertTemplate.objects.filter(school=tenant.school, builtin="shelter").update(hidden=True)
    hidden_district = _district(tenant, "Drill", hidden=True)
    offered = set(builtins.templates_for(tenant.school).values_list("pk", flat=True))
    everything = set(
        builtins.templates_for(tenant.school, include_hidden=True).values_list("pk", flat=True)
    )
    assert everything - offered == {_builtin(tenant.school, "shelter").pk, hidden_district.pk}
