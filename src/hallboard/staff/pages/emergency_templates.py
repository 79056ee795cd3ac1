"""The emergency panel's templates, edited from the panel: ``/staff/emergency/<school>/templates/``.

For a school's admins (the ``manage`` right): reword, reorder or hide the
school's buttons (the built-ins and its own) and add new ones. A district's
templates (``school`` empty: offered to every school of the organisation) are
listed read-only to them and edited only by who administers the whole
organisation (an organisation admin), who may also add one. Safety officers
send alerts from the panel but do not edit its templates. Plain forms, no
script: a rare job, done on any device.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from hallboard.alerts import builtins
from hallboard.alerts.models import Alert, AlertTemplate
from hallboard.schools.access import Principal, Right, for_user
from hallboard.schools.models import School
from hallboard.staff.pages.tasks import noted, school_with
from hallboard.staff.refused import Refused
from hallboard.staff.views import CONTENT_SECURITY_POLICY


class TemplateForm(forms.ModelForm):
    """One template's words and place on the panel."""

    district = forms.BooleanField(
        label=gettext_lazy("For every school of the organisation"),
        required=False,
        help_text=gettext_lazy("A district template, offered on the panel of each of its schools."),
    )

    class Meta:
        model = AlertTemplate
        fields = ["label", "kind", "severity", "headline", "instructions", "position", "hidden"]

    def __init__(self, *args: Any, may_add_district: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = self.fields["kind"]
        assert isinstance(kind, forms.ChoiceField)
        kind.choices = [("", _("Choose the kind of emergency")), *Alert.Kind.choices]
        if self.instance.pk is not None or not may_add_district:
            del self.fields["district"]


def _district_admin(who: Principal, school: School) -> bool:
    """Whether ``who`` administers every school of ``school``'s organisation."""
    return (
        who.is_superuser
        or who.organisations(Right.MANAGE).filter(pk=school.organisation_id).exists()
    )


PAGE = "emergency-templates"


def _refused(request: HttpRequest, refused: Refused) -> HttpResponse:
    """A refusal (``tasks.noted``: one log line and ``hallboard_staff_refusals_total{page,
    error}``), then the refused page (404: Django's not-found page, like every other staff
    page)."""
    noted(request, PAGE, refused)
    if refused.status == 404:
        raise Http404(refused.detail)
    response = render(
        request, "staff/refused.html", {"detail": refused.detail}, status=refused.status
    )
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def _page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    response = render(request, template, context)
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@login_required
def listing(request: HttpRequest, slug: str) -> HttpResponse:
    """The school's templates (hidden ones too), then its district's, with edit links."""
    if request.method != "GET":
        return _refused(request, Refused(405, "method_not_allowed", _("Use GET.")))
    who = for_user(request.user)
    try:
        school = school_with(who, slug, Right.MANAGE)
    except Refused as refused:
        return _refused(request, refused)
    district_ok = _district_admin(who, school)
    rows = [
        {"template": t, "district": t.school_id is None, "editable": t.school_id or district_ok}
        for t in builtins.templates_for(school, include_hidden=True)
    ]
    return _page(
        request,
        "staff/emergency_templates.html",
        {"school": school, "rows": rows, "district_ok": district_ok},
    )


@never_cache
@login_required
def edit(request: HttpRequest, slug: str, pk: int | None = None) -> HttpResponse:
    """Change one template (``pk``) or add one: the school's, or for an organisation admin
    (ticked *For every school*) the district's."""
    if request.method not in ("GET", "POST"):
        return _refused(request, Refused(405, "method_not_allowed", _("Use GET or POST.")))
    who = for_user(request.user)
    try:
        school = school_with(who, slug, Right.MANAGE)
        district_ok = _district_admin(who, school)
        if pk is None:
            template = AlertTemplate(organisation_id=school.organisation_id, school=school)
        else:
            found = builtins.templates_for(school, include_hidden=True).filter(pk=pk).first()
            if found is None:
                raise Refused(404, "not_found", _("No such template for this school."))
            if found.school_id is None and not district_ok:
                raise Refused(
                    403,
                    "forbidden",
                    _("Only an admin of the whole organisation may change a district template."),
                )
            template = found
    except Refused as refused:
        return _refused(request, refused)
    form = TemplateForm(request.POST or None, instance=template, may_add_district=district_ok)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        if pk is None and form.cleaned_data.get("district"):
            saved.school = None  # offered to every school of the organisation
        saved.save()
        return redirect("staff:emergency-templates", school.slug)
    return _page(
        request,
        "staff/emergency_template_form.html",
        {"school": school, "form": form, "template": template, "adding": pk is None},
    )
