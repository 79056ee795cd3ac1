"""The staff nav's links to the task pages the user may open (emergency, announcements)."""

from __future__ import annotations

from typing import Any

from django import template

from hallboard.staff.pages.tasks import task_links

register = template.Library()


@register.inclusion_tag("staff/task_links.html", takes_context=True)
def staff_task_links(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    links = task_links(user) if user is not None and user.is_authenticated else []
    return {"links": links, "current": context.get("task")}
