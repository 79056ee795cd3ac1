"""API keys for the management API: stored hashed, scoped to an organisation or a school."""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from hallboard.schools.models import Organisation, Role, School

KEY_PREFIX = "hbk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKey(models.Model):
    """A key for scripts and integrations. Its role applies to every school in its scope.

    Scope: ``school`` set → that school only; empty → every school of ``organisation``.
    The key itself is shown once, at creation; only its SHA-256 is stored.
    """

    name = models.CharField(_("name"), max_length=80)
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="api_keys",
        verbose_name=_("organisation"),
    )
    school = models.ForeignKey(
        School,
        verbose_name=_("school"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_keys",
        help_text=_("Empty: every school of the organisation."),
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        _("prefix"),
        max_length=12,
        editable=False,
        help_text=_("The key's first characters, to recognise it."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def clean(self) -> None:
        if (
            self.school is not None
            and self.organisation_id
            and self.school.organisation_id != self.organisation_id
        ):
            raise ValidationError(
                {"school": _("The school must belong to the key's organisation.")}
            )

    @classmethod
    def create(
        cls, *, name: str, organisation: Organisation, role: str, school: School | None = None
    ) -> tuple[ApiKey, str]:
        """Create a key; return it with the secret, which is never shown again."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(
            name=name,
            organisation=organisation,
            school=school,
            role=role,
            key_hash=hash_key(secret),
            prefix=secret[:10],
        )
        return key, secret


class IdempotencyRecord(models.Model):
    """The answer to a management API write sent with an ``Idempotency-Key`` header.

    A retry with the same key (same caller, same method and path) gets this
    answer again instead of being carried out twice (``hallboard.api.idempotency``).
    Only hashes of the key and the request are stored; records expire after
    ``hallboard.api.idempotency.TTL``.
    """

    scope = models.CharField(
        max_length=64, help_text="Who asked: API key or user, as SHA-256 with method and path."
    )
    key_hash = models.CharField(max_length=64, help_text="SHA-256 of the Idempotency-Key.")
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the request body.")
    status = models.PositiveSmallIntegerField(default=0)
    response = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key_hash"], name="idempotency_once_per_scope")
        ]

    def __str__(self) -> str:
        return f"{self.key_hash[:12]}… → {self.status}"
