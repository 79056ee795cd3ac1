"""Admin pages for emergency alerts (trigger, update, all-clear, cancel) and their audit log.

Every change goes through ``hallboard.alerts.service``, which checks the alert
right and writes the audit log; the alert page shows, read-only, the alert's
reach (which screens showed it, and its end) and its audit trail. Alerts are
never deleted here: they end by an all-clear or a cancel, and stay on record.

Who may do what is the service's rule (``service.may_act``): a school's alert
needs the alert right in its school; an organisation-wide alert (school empty)
the right over the organisation as a whole (an organisation role). A user whose
alert right is only in schools is not offered the organisation-wide scope (no
empty school, no organisation field; sent anyway, it is a form error), sees the
organisation-wide alerts that reach their schools read-only, and their all-clear
or cancel of one is refused with a message.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from hallboard.alerts import delivery, service
from hallboard.alerts.models import Alert, AlertAuditEntry, AlertTemplate
from hallboard.schools import zones
from hallboard.schools.access import Principal, Right
from hallboard.schools.admin_scoping import SchoolScopedAdmin, principal
from hallboard.schools.models import Organisation, School


class OrganisationFromSchoolForm(forms.ModelForm):
    """A row for one school takes that school's organisation: the form asks for an
    organisation only when no school is chosen (a row for every school of it)."""

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        school = data.get("school")
        if "organisation" not in self.fields:  # read-only on an existing row, or not offered
            if school is not None and self.instance.pk is None:
                self.instance.organisation = school.organisation
            return data
        if school is not None:
            data["organisation"] = school.organisation
        elif data.get("organisation") is None:
            self.add_error(
                "organisation",
                _(
                    "Choose a school, or leave it empty and choose the organisation for all its "
                    "schools."
                ),
            )
        return data


class AlertForm(OrganisationFromSchoolForm):
    """A new alert's kind is chosen, never preselected: the model's default ("Other")
    would label a lockdown as "Other" whenever nobody looked at the field.

    A new alert without a school (every school of an organisation) is refused as a form
    error unless ``principal`` (set by ``AlertAdmin.get_form``) may alert that whole
    organisation (``service.organisation_scope_allowed``)."""

    #: Who fills in the form; the admin sets it on the form class it makes per request.
    principal: Principal | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = self.fields.get("kind")
        if kind is None or self.instance.pk is not None:
            return
        assert isinstance(kind, forms.ChoiceField)
        kind.choices = [("", _("Choose the kind of emergency")), *Alert.Kind.choices]
        kind.required = True
        kind.initial = None
        if self.initial.get("kind") == Alert.Kind.OTHER:  # the model's default, not a choice
            del self.initial["kind"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.instance.pk is not None or self.principal is None or data.get("school"):
            return data
        organisation = data.get("organisation")
        if organisation is None and "organisation" in self.fields:
            return data  # the organisation is asked for (OrganisationFromSchoolForm)
        if organisation is None or not service.organisation_scope_allowed(
            self.principal, organisation
        ):
            self.add_error(
                "school",
                _(
                    "Choose a school: only an organisation role (safety or admin for the whole "
                    "organisation) may alert every school of the organisation."
                ),
            )
        return data


def school_before_organisation(fields: list[Any]) -> list[Any]:
    """``fields`` with ``school`` first and ``organisation`` right after it (optional)."""
    if "school" not in fields or "organisation" not in fields:
        return fields
    rest = [f for f in fields if f not in ("school", "organisation")]
    return ["school", "organisation", *rest]


def _actor(request: HttpRequest) -> service.Actor:
    return service.Actor(principal(request), AlertAuditEntry.Source.ADMIN)


class AlertScopedAdmin(SchoolScopedAdmin):
    """Rows scoped like alerts: one school, or (school empty) a whole organisation.

    An organisation-wide row is visible to members of any of its schools.
    """

    def school_ids_of(self, obj: Any) -> set[int]:
        return {obj.school_id} if obj.school_id else set()

    def _allowed(self, request: HttpRequest, right: Right, obj: Any) -> bool:
        if principal(request).is_superuser:
            return True
        schools = principal(request).schools(right)
        if obj.school_id:
            return schools.filter(pk=obj.school_id).exists()
        return schools.filter(organisation_id=obj.organisation_id).exists()

    def scope_filter(self, request: HttpRequest, right: Right) -> Q:
        schools = principal(request).schools(right)
        organisations = School.objects.filter(pk__in=schools).values("organisation_id")
        return Q(school__in=schools) | Q(school__isnull=True, organisation_id__in=organisations)


@admin.register(Alert)
class AlertAdmin(AlertScopedAdmin):
    """Alerts of a school, or of a whole organisation (school left empty).

    An organisation-wide alert is seen by members of any of its schools, but
    triggered, changed or ended only by organisation roles (``service.may_act``).
    """

    right = Right.ALERT
    form = AlertForm
    list_display = [
        "headline",
        "kind",
        "severity",
        "scope",
        "starts_at",
        "expires_at",
        "cleared_at",
        "cancelled",
    ]
    list_filter = ["kind", "severity", "cancelled", "organisation"]
    readonly_fields = ["created_at", "created_by", "cleared_at", "cleared_by", "cancelled"]
    actions = ["all_clear", "cancel_alerts"]

    @admin.display(description=gettext_lazy("Scope"))
    def scope(self, obj: Alert) -> str:
        return obj.scope_label

    def _organisation_scope(self, request: HttpRequest) -> bool:
        """Whether the user may alert every school of at least one organisation."""
        return service.organisations_to_alert(principal(request)).exists()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = school_before_organisation(list(super().get_fields(request, obj)))
        if obj is None and not self._organisation_scope(request):
            # Only school alerts for this user: the organisation comes from the school.
            fields = [f for f in fields if f != "organisation"]
        return fields

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        form.principal = principal(request)  # a new class per request: AlertForm.clean asks
        return form

    def _allowed(self, request: HttpRequest, right: Right, obj: Any) -> bool:
        if right is Right.VIEW:  # an organisation-wide alert: seen from any of its schools
            return super()._allowed(request, right, obj)
        return service.may_act(principal(request), obj)

    def _choices(self, model: Any, request: HttpRequest, queryset: Any) -> Any:
        if model is Organisation and not self._is_superuser(request):
            queryset = queryset if queryset is not None else model._default_manager.all()
            return queryset.filter(pk__in=service.organisations_to_alert(principal(request)))
        return super()._choices(model, request, queryset)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is None:
            return field
        if db_field.name == "organisation":
            field.required = False  # taken from the school; asked only for every school
            field.help_text = _("Only for an alert to every school of an organisation.")
        elif db_field.name == "school" and not self._organisation_scope(request):
            field.empty_label = None  # no "every school" choice: one of the user's schools
            field.help_text = _(
                "An alert for every school of the organisation needs an organisation role."
            )
        return field

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.cleared_at is not None:
            return False  # ended: on record, read-only
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # alerts end by an all-clear or a cancel, and stay on record

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        try:
            if not change:
                service.trigger(_actor(request), obj)
                return
            changes = {f: getattr(obj, f) for f in service.UPDATABLE}
            service.update(_actor(request), obj.pk, changes)
        except service.NotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        except service.AlertEnded as exc:
            raise PermissionDenied(str(exc)) from exc

    # --- read-only panels on the alert page ------------------------------------------
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is None:
            return fields
        # Another scope is another alert: organisation and school stay as they are.
        return ["organisation", "school", *fields, "reach", "audit_trail"]

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:  # whose screens the reach panel may name (read by ``reach``)
            user = principal(request)
            obj.reach_schools = (
                None
                if user.is_superuser
                else set(user.schools(Right.ALERT).values_list("slug", flat=True))
            )
        return obj

    @admin.display(description=gettext_lazy("Reach"))
    def reach(self, obj: Alert) -> SafeString:
        return _reach_html(obj, getattr(obj, "reach_schools", set()))

    @admin.display(description=gettext_lazy("Audit trail"))
    def audit_trail(self, obj: Alert) -> SafeString | str:
        entries = obj.audit_entries.order_by("at", "pk")
        if not entries:
            return "-"
        zone = zones.of_school(obj.school)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    zones.label(e.at, zone),
                    e.get_action_display(),
                    e.actor,
                    e.get_source_display(),
                    _reach_text(e),
                    _changes_text(e),
                )
                for e in entries
            ),
        )
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>"
            "{}</table>",
            _("When"),
            _("What"),
            _("Who"),
            _("Via"),
            _("Screens"),
            _("Details"),
            rows,
        )

    # --- actions ----------------------------------------------------------------------
    def _end(self, request: HttpRequest, queryset: QuerySet[Alert], how: Any) -> tuple[int, int]:
        ended = refused = refused_organisation_wide = 0
        for alert in queryset.filter(cleared_at__isnull=True):
            try:
                how(_actor(request), alert)
            except service.NotAllowed:
                if alert.school_id is None:
                    refused_organisation_wide += 1
                else:
                    refused += 1
                continue
            ended += 1
        if refused_organisation_wide:
            messages.error(
                request,
                ngettext(
                    "%(count)d alert reaches every school of the organisation: only an "
                    "organisation role may end it.",
                    "%(count)d alerts reach every school of the organisation: only an "
                    "organisation role may end them.",
                    refused_organisation_wide,
                )
                % {"count": refused_organisation_wide},
            )
        if refused:
            messages.error(
                request,
                ngettext(
                    "%(count)d alert is outside your alert right.",
                    "%(count)d alerts are outside your alert right.",
                    refused,
                )
                % {"count": refused},
            )
        return ended, refused + refused_organisation_wide

    @admin.action(
        description=gettext_lazy("All-clear: end the selected alerts on every screen"),
        permissions=["change"],
    )
    def all_clear(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        ended, refused = self._end(request, queryset, service.clear)
        if refused and not ended:
            return
        messages.success(
            request,
            ngettext(
                "All-clear sent for %(count)d alert.", "All-clear sent for %(count)d alerts.", ended
            )
            % {"count": ended},
        )

    @admin.action(
        description=gettext_lazy("Cancel: the selected alerts were raised in error"),
        permissions=["change"],
    )
    def cancel_alerts(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        ended, refused = self._end(request, queryset, service.cancel)
        if refused and not ended:
            return
        messages.success(
            request,
            ngettext("Cancelled %(count)d alert.", "Cancelled %(count)d alerts.", ended)
            % {"count": ended},
        )


def _reach_html(alert: Alert, school_slugs: set[str] | None) -> SafeString:
    """Shown on how many screens, and which did not show it (in ``school_slugs``)."""
    summary = delivery.restrict(delivery.reach(alert), school_slugs)
    lines = [
        format_html(
            _("Shown on <b>{shown}</b> of {in_scope} screens in scope ({online} online now)."),
            shown=summary["shown"],
            in_scope=summary["in_scope"],
            online=summary["online"],
        )
    ]
    if alert.cleared_at is not None:
        lines.append(
            format_html(
                _("End acknowledged by <b>{cleared}</b> screens."), cleared=summary["cleared"]
            )
        )
    for key, title in (
        ("not_shown", _("Not shown on")),
        ("not_cleared", _("Showed it, end not acknowledged")),
    ):
        rows = summary[key]
        if rows:
            items = format_html_join(
                "",
                "<li>{} ({}): {}, {}</li>",
                ((r["name"], r["school"], r["status"], r["status_reason"]) for r in rows),
            )
            lines.append(format_html("{}:<ul>{}</ul>", title, items))
        if summary[f"elsewhere_{key}"]:
            lines.append(
                format_html(
                    _("{count} more in schools where you lack the alert right."),
                    count=summary[f"elsewhere_{key}"],
                )
            )
    return format_html_join("", "<div>{}</div>", ((line,) for line in lines))


def _reach_text(entry: AlertAuditEntry) -> str:
    figures = {
        "in_scope": entry.screens_in_scope,
        "online": entry.screens_online,
        "shown": entry.screens_shown,
    }
    if entry.screens_shown is None:
        return _("%(in_scope)s in scope, %(online)s online") % figures
    return _("%(in_scope)s in scope, %(online)s online, %(shown)s had shown it") % figures


def _changes_text(entry: AlertAuditEntry) -> str:
    parts = [entry.note] if entry.note else []
    if entry.action == AlertAuditEntry.Action.UPDATE:
        parts += [f"{field}: {old!r} → {new!r}" for field, (old, new) in entry.changes.items()]
    return "; ".join(parts)


@admin.register(AlertAuditEntry)
class AlertAuditEntryAdmin(AlertScopedAdmin):
    """The alert audit log: read-only, scoped like alerts (school, or organisation-wide)."""

    right = Right.ALERT
    list_display = [
        "at",
        "action",
        "headline",
        "severity",
        "scope",
        "actor",
        "source",
        "screens_in_scope",
        "screens_online",
        "screens_shown",
    ]
    list_filter = ["action", "source", "severity"]
    search_fields = ["headline", "actor", "note"]
    date_hierarchy = "at"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in AlertAuditEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AlertTemplate)
class AlertTemplateAdmin(AlertScopedAdmin):
    """The emergency panel's buttons: a school's (its admins edit them) and a district's
    (``school`` empty: offered to every school; its organisation admins edit them).

    The five built-ins are created for a school the first time its panel or this
    list is opened; reword, reorder or hide them like any other.
    """

    right = Right.MANAGE
    form = OrganisationFromSchoolForm
    list_display = ["label", "kind", "severity", "headline", "template_scope", "position", "hidden"]
    list_filter = ["kind", "hidden"]
    search_fields = ["label", "headline"]
    readonly_fields = ["builtin"]

    @admin.display(description=gettext_lazy("For"))
    def template_scope(self, obj: AlertTemplate) -> str:
        if obj.school_id is not None:
            return str(obj.school)
        return _("All schools of %(organisation)s") % {"organisation": obj.organisation}

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        from hallboard.alerts import builtins

        for school in principal(request).schools(Right.VIEW)[:50]:
            builtins.seed(school)  # the built-ins are there to edit from the start
        return super().changelist_view(request, extra_context)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return school_before_organisation(list(super().get_fields(request, obj)))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            return ["organisation", "school", *fields]
        return fields

    def _allowed(self, request: HttpRequest, right: Right, obj: Any) -> bool:
        who = principal(request)
        if who.is_superuser:
            return True
        if obj.school_id is None and right != Right.VIEW:
            # A district's template: only who administers the whole organisation.
            return who.organisations(right).filter(pk=obj.organisation_id).exists()
        return super()._allowed(request, right, obj)

    def _choices(self, model: Any, request: HttpRequest, queryset: Any) -> Any:
        if model is Organisation and not self._is_superuser(request):
            queryset = queryset if queryset is not None else model._default_manager.all()
            return queryset.filter(pk__in=principal(request).organisations(self.right))
        return super()._choices(model, request, queryset)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "organisation" and field is not None:
            field.required = False
            field.help_text = _("Only for a template offered to every school of an organisation.")
        return field

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not self._allowed(request, self.right, obj):
            raise PermissionDenied(_("Your role does not include this template's schools."))
        super().save_model(request, obj, form, change)
