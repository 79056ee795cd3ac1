from django.urls import path

from hallboard.display import views

app_name = "display"

urlpatterns = [
    path("snapshot/", views.snapshot_view, name="snapshot"),
    path("status/", views.status_view, name="status"),
    path("heartbeat/", views.heartbeat_view, name="heartbeat"),
]
