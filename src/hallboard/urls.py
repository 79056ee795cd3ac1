"""URL map: admin, display protocol, management API, staff pages (live dashboard)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from hallboard.api.router import api
from hallboard.display.page import display_page

urlpatterns = [
    path("admin/", admin.site.urls),
    path("display/", display_page, name="display"),
    path("api/display/", include("hallboard.display.urls")),
    path("api/v1/", api.urls),
    path("staff/", include("hallboard.staff.urls")),
]
