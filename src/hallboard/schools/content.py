"""``SchoolContent``: the base of every model whose rows a school's screens show.

Saving, deleting, and the bulk QuerySet operations (``update``, ``bulk_create``,
``bulk_update``, ``delete``) all bump the affected schools' revisions inside
their own transaction (``hallboard.schools.revision``). Deletes, including
cascades, are caught by the ``post_delete`` signal, which Django sends inside
the deleting transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models, transaction
from django.db.models.signals import post_delete

from hallboard.schools import revision

#: Fields whose change moves a row to other schools' screens.
_SCOPE_FIELDS = frozenset({"school", "school_id", "organisation", "organisation_id"})


class SchoolContentQuerySet(models.QuerySet[Any]):
    def _school_ids(self) -> set[int]:
        return set(self.model.school_ids_of(self))

    def update(self, **kwargs: Any) -> int:
        with revision.batch(using=self.db):
            ids = self._school_ids()
            # An update may move rows to another school, where the filter no longer finds
            # them: then they are found again by key.
            moves = bool(_SCOPE_FIELDS & kwargs.keys())
            pks = list(self.values_list("pk", flat=True)) if moves else []
            count = super().update(**kwargs)
            if moves:
                moved = self.model._default_manager.filter(pk__in=pks)
                ids |= set(self.model.school_ids_of(moved))
            revision.touch(ids, using=self.db)
        return count

    def delete(self) -> tuple[int, dict[str, int]]:
        with revision.batch(using=self.db):  # post_delete touches; the batch bumps once
            return super().delete()

    def bulk_create(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> list[Any]:
        objs = list(objs)
        with revision.batch(using=self.db):
            created = super().bulk_create(objs, *args, **kwargs)
            revision.touch(
                {sid for obj in created for sid in obj.affected_school_ids()}, using=self.db
            )
        return created

    def bulk_update(self, objs: Iterable[Any], fields: Any, *args: Any, **kwargs: Any) -> int:
        objs = list(objs)
        with revision.batch(using=self.db):
            ids = self.model.school_ids_of(
                self.model._default_manager.filter(pk__in=[o.pk for o in objs])
            )
            count = super().bulk_update(objs, fields, *args, **kwargs)
            revision.touch(
                set(ids) | {sid for obj in objs for sid in obj.affected_school_ids()},
                using=self.db,
            )
        return count


class SchoolContent(models.Model):
    """Abstract base: a row that belongs to (at least) one school's screens."""

    objects = SchoolContentQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        using = kwargs.get("using") or self._state.db or "default"
        with transaction.atomic(using=using):
            before: set[int] = set()
            if self.pk is not None and not self._state.adding:
                before = set(self.school_ids_of(type(self)._default_manager.filter(pk=self.pk)))
            super().save(*args, **kwargs)
            revision.touch(before | self.affected_school_ids(), using=using)

    @classmethod
    def school_ids_of(cls, queryset: models.QuerySet[Any]) -> Iterable[int]:
        """The schools whose screens show any row of ``queryset``."""
        return queryset.order_by().values_list("school_id", flat=True).distinct()

    def affected_school_ids(self) -> set[int]:
        """The schools whose screens show this row."""
        return {self.school_id}  # type: ignore[attr-defined]  # every subclass has `school`


def _touch_on_delete(
    sender: type[models.Model], instance: models.Model, using: str, **_: Any
) -> None:
    if isinstance(instance, SchoolContent):
        revision.touch(instance.affected_school_ids(), using=using)


post_delete.connect(_touch_on_delete, dispatch_uid="hallboard.schools.content.delete")
