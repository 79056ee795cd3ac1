from django.urls import path

from hallboard.display import pairing_views, views

app_name = "display"

urlpatterns = [
    path("snapshot/", views.snapshot_view, name="snapshot"),
    path("status/", views.status_view, name="status"),
    path("heartbeat/", views.heartbeat_view, name="heartbeat"),
    path("ack/", views.ack_view, name="ack"),
    path("pair/", pairing_views.start_view, name="pair"),
    path("pair/<str:code>/", pairing_views.pickup_view, name="pair-pickup"),
]
