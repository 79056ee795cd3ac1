"""Links to the live screens dashboard in the admin, for users who look after screens."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django import template

from hallboard.schools.access import Right, for_user

register = template.Library()


@register.inclusion_tag("staff/admin_links.html", takes_context=True)
def staff_dashboard_links(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    schools = list(
        for_user(user)
        .schools(Right.SCREENS)
        .select_related("organisation")
        .order_by("organisation__name", "name")[:21]
    )
    per_organisation = Counter(s.organisation_id for s in schools)
    organisations = {
        s.organisation_id: s.organisation
        for s in schools
        if per_organisation[s.organisation_id] > 1
    }
    return {
        "schools": schools[:20],
        "more": len(schools) > 20,
        "organisations": list(organisations.values()),
    }
