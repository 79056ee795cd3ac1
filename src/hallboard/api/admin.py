"""Admin page for management API keys: the key is shown once, at creation."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from hallboard.api.models import KEY_PREFIX, ApiKey, hash_key
from hallboard.schools.access import Right
from hallboard.schools.admin_scoping import SchoolScopedAdmin, principal


@admin.register(ApiKey)
class ApiKeyAdmin(SchoolScopedAdmin):
    """School admins create keys for their school; organisation-wide keys are for operators."""

    right = Right.MANAGE
    list_display = [
        "name",
        "prefix",
        "organisation",
        "school",
        "role",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["role", "organisation"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    actions = ["revoke"]

    def _allowed(self, request: HttpRequest, right: Right, obj: Any) -> bool:
        if obj.school_id is None:  # organisation-wide keys
            return principal(request).is_superuser
        return super()._allowed(request, right, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        secret = None
        if not change:
            secret = KEY_PREFIX + secrets.token_urlsafe(32)
            obj.key_hash, obj.prefix = hash_key(secret), secret[:10]
        super().save_model(request, obj, form, change)
        if secret:
            messages.success(
                request,
                _("API key “%(name)s” (shown only once): %(secret)s")
                % {"name": obj.name, "secret": secret},
            )

    @admin.action(description=gettext_lazy("Revoke the selected keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        allowed = [k.pk for k in queryset if self._allowed(request, Right.MANAGE, k)]
        ApiKey.objects.filter(pk__in=allowed, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        messages.success(
            request,
            ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", len(allowed))
            % {"count": len(allowed)},
        )
