"""Admin pages for screens (tokens shown once, binding reset) and their commands.

A screen's page takes the code a display shows, so adding a screen and pairing
its display is one form; grades are ticked, not typed as JSON. Push settings
are one settings page (a single row), not a list.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from hallboard.display.ratelimit import limiter
from hallboard.schools.access import Right
from hallboard.schools.admin_scoping import SchoolScopedAdmin, principal
from hallboard.screens import pairing
from hallboard.screens.models import Command, PairingCode, PushSettings, Screen
from hallboard.staff import frames
from hallboard.timetable.models import SchoolClass


def _show_token_once(request: HttpRequest, screen: Screen, token: str) -> None:
    url = f"{settings.PUBLIC_URL}/display/?token={token}"
    messages.success(
        request,
        format_html(
            _(
                "Screen “{screen}”: copy its display URL now, it is shown only once: "
                '<a href="{url}"><code>{url}</code></a>'
            ),
            screen=screen.name,
            url=url,
        ),
    )


#: Why a code could not be claimed, in the user's language (the API's details stay English).
CLAIM_ERRORS = {
    "pairing_unknown": gettext_lazy("No such pairing code, or it has expired."),
    "pairing_claimed": gettext_lazy("This code has already been claimed."),
}


class PairForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=12,
        help_text=gettext_lazy("The code shown on the display."),
    )
    screen = forms.ModelChoiceField(label=gettext_lazy("Screen"), queryset=Screen.objects.none())


GRADES = range(1, 14)  # offered always; grades of the user's classes and screens besides


class ScreenForm(forms.ModelForm):
    """The screen, plus the pairing code of the display that is to show it (optional)."""

    pairing_code = forms.CharField(
        label=gettext_lazy("Pairing code"),
        max_length=12,
        required=False,
        help_text=gettext_lazy(
            "The code a display shows: saving pairs that display with this screen (no URL to copy)."
        ),
    )
    request: HttpRequest | None = None  # set by ScreenAdmin.get_form

    def clean_pairing_code(self) -> str:
        code = pairing.normalise(self.cleaned_data.get("pairing_code") or "")
        if not code:
            return ""
        user = getattr(self.request, "user", None)
        retry_after = limiter(pairing.CLAIM_LIMIT).hit(
            "pair-claim", f"user:{getattr(user, 'pk', '')}"
        )
        if retry_after is not None:
            raise forms.ValidationError(
                _("Too many attempts; try again in %(seconds)s s.") % {"seconds": retry_after}
            )
        found = PairingCode.objects.filter(code=code).first()
        if found is None or found.expired:
            raise forms.ValidationError(str(CLAIM_ERRORS["pairing_unknown"]))
        if found.claimed_at is not None:
            raise forms.ValidationError(str(CLAIM_ERRORS["pairing_claimed"]))
        return code


def grade_choices(request: HttpRequest) -> list[tuple[int, str]]:
    """Grades to tick: 1 to 13, and every grade of the user's classes and screens."""
    schools = principal(request).schools(Right.VIEW)
    grades = set(GRADES)
    grades |= {
        g
        for g in SchoolClass.objects.filter(school__in=schools).values_list("grade", flat=True)
        if g is not None
    }
    for chosen in Screen.objects.filter(school__in=schools).values_list("grades", flat=True):
        grades |= {g for g in chosen or [] if isinstance(g, int)}
    return [(g, str(g)) for g in sorted(grades)]


@admin.register(Screen)
class ScreenAdmin(SchoolScopedAdmin):
    right = Right.SCREENS
    form = ScreenForm
    list_display = [
        "name",
        "school",
        "location",
        "view",
        "orientation",
        "device",
        "last_heartbeat_at",
        "revisions",
        "connection_mode",
    ]
    list_filter = ["school", "view", "orientation", "connection_mode"]
    search_fields = ["name", "location"]
    filter_horizontal = ["classes"]
    readonly_fields = [
        "device",
        "bound_at",
        "token_issued_at",
        "last_heartbeat_at",
        "revision_shown",
        "connection_mode",
        "client_info",
    ]
    actions = ["rotate_token", "revoke_token", "reset_binding"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"request": request})

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "grades":
            return forms.TypedMultipleChoiceField(
                label=db_field.verbose_name.capitalize(),
                choices=grade_choices(request),
                coerce=int,
                required=False,
                widget=forms.CheckboxSelectMultiple,
                help_text=_("With the view “Selected grades”: the grades this screen shows."),
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_urls(self) -> list[Any]:
        return [
            path("pair/", self.admin_site.admin_view(self.pair_view), name="screens_screen_pair"),
            *super().get_urls(),
        ]

    def pair_view(self, request: HttpRequest) -> HttpResponse:
        """Claim a pairing code shown on a display for one of the user's screens."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = PairForm(request.POST or None, initial={"code": request.GET.get("code", "")})
        screens = self.get_queryset(request)
        if not principal(request).is_superuser:
            screens = screens.filter(self.scope_filter(request, Right.SCREENS))
        screen_field = form.fields["screen"]
        assert isinstance(screen_field, forms.ModelChoiceField)
        screen_field.queryset = screens
        if request.method == "POST" and form.is_valid():
            retry_after = limiter(pairing.CLAIM_LIMIT).hit("pair-claim", f"user:{request.user.pk}")
            if retry_after is not None:
                form.add_error(
                    "code",
                    _("Too many attempts; try again in %(seconds)s s.") % {"seconds": retry_after},
                )
            else:
                try:
                    pairing.claim(
                        form.cleaned_data["code"], form.cleaned_data["screen"], request.user
                    )
                except pairing.PairingError as exc:
                    form.add_error("code", str(CLAIM_ERRORS.get(exc.code, exc.detail)))
                else:
                    screen = form.cleaned_data["screen"]
                    messages.success(
                        request,
                        _("Paired: the display now shows “%(screen)s”.") % {"screen": screen.name},
                    )
                    return redirect("admin:screens_screen_change", screen.pk)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": _("Pair a display"),
        }
        return TemplateResponse(request, "admin/screens/pair.html", context)

    @admin.display(description=gettext_lazy("Device"))
    def device(self, obj: Screen) -> str:
        return f"{obj.device_key[:8]}…" if obj.device_key else _("not bound")

    @admin.display(description=gettext_lazy("Shown / current revision"))
    def revisions(self, obj: Screen) -> str:
        shown = "-" if obj.revision_shown is None else obj.revision_shown
        return f"{shown} / {obj.school.revision}"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        code = form.cleaned_data.get("pairing_code")
        if code:
            # The display showing the code picks up this screen's token itself.
            try:
                pairing.claim(code, obj, request.user)
            except pairing.PairingError as exc:  # claimed by someone else meanwhile
                messages.error(request, str(CLAIM_ERRORS.get(exc.code, exc.detail)))
            else:
                messages.success(
                    request,
                    _("Paired: the display now shows “%(screen)s”.") % {"screen": obj.name},
                )
                return
        if not change:
            _show_token_once(request, obj, obj.issue_token())

    @admin.action(description=gettext_lazy("Rotate token (shows the new display URL once)"))
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[Screen]) -> None:
        for screen in queryset:
            if self._allowed(request, Right.SCREENS, screen):
                _show_token_once(request, screen, screen.issue_token())

    @admin.action(description=gettext_lazy("Revoke token (the screen stops showing data)"))
    def revoke_token(self, request: HttpRequest, queryset: QuerySet[Screen]) -> None:
        for screen in queryset:
            if self._allowed(request, Right.SCREENS, screen):
                screen.revoke_token()
        messages.success(request, _("Tokens revoked."))

    @admin.action(description=gettext_lazy("Reset device binding (next device to connect binds)"))
    def reset_binding(self, request: HttpRequest, queryset: QuerySet[Screen]) -> None:
        for screen in queryset:
            if self._allowed(request, Right.SCREENS, screen):
                screen.reset_binding()
                frames.screen_event(screen.school_id, screen.pk, "binding")
        messages.success(request, _("Bindings reset."))


@admin.register(Command)
class CommandAdmin(SchoolScopedAdmin):
    """Commands sent to screens, with delivery state (read-only)."""

    right = Right.SCREENS
    school_path = "screen__school"
    list_display = ["name", "screen", "status", "created_at", "delivered_at", "acknowledged_at"]
    list_filter = ["status", "name"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PushSettings)
class PushSettingsAdmin(admin.ModelAdmin):
    """The install-wide push switch and rollout: operators (superusers) only."""

    list_display = ["__str__", "enabled", "rollout_percent", "updated_at"]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """One settings page, not a list: straight to the row (or to the form that makes it)."""
        if not self._operator(request):
            raise PermissionDenied
        row = PushSettings.objects.first()
        if row is None:
            return redirect("admin:screens_pushsettings_add")
        return redirect("admin:screens_pushsettings_change", row.pk)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        # Until saved, push follows DISPLAY_WS_ENABLED with a full rollout: start from that.
        return {"enabled": bool(settings.DISPLAY_WS_ENABLED), "rollout_percent": 100}

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        messages.success(request, _("Push settings saved."))
        return redirect("admin:screens_pushsettings_change", obj.pk)

    def response_change(self, request: HttpRequest, obj: Any) -> Any:
        messages.success(request, _("Push settings saved."))
        return redirect("admin:screens_pushsettings_change", obj.pk)

    def _operator(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._operator(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._operator(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._operator(request) and not PushSettings.objects.exists()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._operator(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
