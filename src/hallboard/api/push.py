"""Push flags through the API: the install-wide switch (operators) and a school's override.

No `from __future__ import annotations`: ninja's PatchDict needs evaluated annotations.
"""

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router

from hallboard.api.errors import ApiError
from hallboard.api.schema import PatchDict, Schema
from hallboard.api.scoping import principal, save_validated, school_for
from hallboard.schools.access import Right
from hallboard.schools.models import School
from hallboard.screens.models import PushSettings

router = Router(tags=["push"])


class PushSettingsIO(Schema):
    enabled: bool = Field(description="Off: push off for every screen (instant rollback).")
    rollout_percent: int = Field(ge=0, le=100, description="Share of screens using push.")


class SchoolPushIO(Schema):
    push: School.Push = Field(description="default: follow the rollout; on; off.")


def _operator(request: HttpRequest) -> None:
    if not principal(request).is_superuser:
        raise ApiError(403, "forbidden", "Only operators (superusers) change install-wide push.")


@router.get("/push", response=PushSettingsIO, summary="Install-wide push settings")
def get_push(request: HttpRequest) -> PushSettings:
    return PushSettings.current()


@router.patch("/push", response=PushSettingsIO, summary="Change install-wide push settings")
def patch_push(request: HttpRequest, payload: PatchDict[PushSettingsIO]) -> PushSettings:
    """Takes effect at once: sockets of screens now off are closed with 4409."""
    _operator(request)
    with transaction.atomic():
        flags = PushSettings.current()
        for field, value in dict(payload).items():
            setattr(flags, field, value)
        save_validated(flags)  # the model's validators: PatchDict drops field constraints
    return flags


@router.put("/schools/{slug}/push", response=SchoolPushIO, summary="A school's push override")
def put_school_push(request: HttpRequest, slug: str, payload: SchoolPushIO) -> School:
    school = school_for(request, slug, Right.MANAGE)
    school.push = payload.push
    school.save(update_fields=["push"])
    return school
