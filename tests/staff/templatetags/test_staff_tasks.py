"""The staff nav's task links: only the pages the signed-in user may open, the current one
marked (staff.templatetags.staff_tasks)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.test import RequestFactory

from tests.conftest import Tenant, make_user

NAV = Template("{% load staff_tasks %}{% staff_task_links %}")


def render(user: Any, **context: Any) -> str:
    request = RequestFactory().get("/staff/")
    request.user = user
    return NAV.render(Context({"request": request, **context}))


def test_the_nav_links_the_pages_the_role_may_open(tenant: Tenant) -> None:
    """A safety officer's nav links the emergency panel only."""
    html = render(make_user("sam", "safety", school=tenant.school))
    assert 'class="task-link task-emergency"' in html
    assert 'href="/staff/emergency/"' in html
    assert "task-announcements" not in html
    assert "task-day" not in html


def test_the_current_task_is_marked_for_assistive_technology(tenant: Tenant) -> None:
    """The link of the page shown (context 'task') is 'current' with aria-current=page."""
    html = render(make_user("boss", "admin", school=tenant.school), task="announcements")
    assert html.count('aria-current="page"') == 1
    assert (
        '<a class="task-link task-announcements current" href="/staff/announcements/" '
        'aria-current="page">Announcements</a>'
    ) in html
    assert 'class="task-link task-emergency"' in html


def test_no_links_for_anonymous_visitors_or_without_a_request(db: None) -> None:
    """Nobody signed in, or no request in the context: the nav renders nothing."""
    assert render(AnonymousUser()).strip() == ""
    assert NAV.render(Context({})).strip() == ""


def test_no_links_for_a_role_without_task_pages(tenant: Tenant) -> None:
    """A viewer may open no task page: nothing is linked."""
    assert render(make_user("vic", "viewer", school=tenant.school)).strip() == ""
