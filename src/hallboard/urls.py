"""URL map: admin, display protocol, management API."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from hallboard.api.router import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/display/", include("hallboard.display.urls")),
    path("api/v1/", api.urls),
]
