"""``{% import_source_status school_id %}``: a school's failing watched source (dashboard)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import dateformat

from hallboard.imports.models import WatchedSource
from hallboard.schools.models import School

register = template.Library()


@register.inclusion_tag("imports/source_status.html")
def import_source_status(school_id: int) -> dict[str, Any]:
    """The notice (hidden while the source is well); ``source_status.js`` keeps it current."""
    school = School.objects.filter(pk=school_id).first()
    source = WatchedSource.objects.filter(school_id=school_id).first()
    tz = school.tz if school is not None else None
    since = checked = "-"
    if source is not None and tz is not None:  # in the school's zone, whatever the page's
        if source.failing_since:
            since = dateformat.format(source.failing_since.astimezone(tz), "d.m. H:i")
        if source.last_checked_at:
            checked = dateformat.format(source.last_checked_at.astimezone(tz), "H:i")
    return {
        "school": school,
        "source": source,
        "since": since,
        "checked": checked,
    }
