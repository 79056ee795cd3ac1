"""URL map: admin, display protocol, management API, staff pages, operations endpoints."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from hallboard.api.router import api
from hallboard.display.page import display_page, service_worker
from hallboard.observability import views as ops
from hallboard.throttle import AdminLoginForm

# Sign-in failures are counted per address (hallboard.throttle).
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("display/", display_page, name="display"),
    path("display/sw.js", service_worker, name="display-sw"),
    path("api/display/ws-metrics/", ops.ws_metrics_view, name="ws-metrics"),
    path("api/display/", include("hallboard.display.urls")),
    path("api/v1/", api.urls),
    path("staff/", include("hallboard.staff.urls")),
    # POST language=<code>: the staff pages' and the admin's language switch (a cookie).
    path("i18n/", include("django.conf.urls.i18n")),
    path("metrics", ops.metrics_view, name="metrics"),
    path("healthz", ops.healthz_view, name="healthz"),
    path("readyz", ops.readyz_view, name="readyz"),
]

# An exception no view answered: 503 for a database outage, JSON on APIs (hallboard.dbhealth).
handler500 = "hallboard.dbhealth.server_error"
# Django's own 400 and 404 as JSON under /api/ (hallboard.httperrors).
handler400 = "hallboard.httperrors.bad_request"
handler404 = "hallboard.httperrors.not_found"
