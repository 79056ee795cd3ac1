from django.urls import path

from hallboard.staff import views

app_name = "staff"

urlpatterns = [
    path("", views.index, name="index"),
    path("schools/<slug:slug>/", views.school_dashboard, name="school"),
    path("organisations/<slug:slug>/", views.organisation_dashboard, name="organisation"),
    path("ws-ticket/", views.ws_ticket, name="ws-ticket"),
]
