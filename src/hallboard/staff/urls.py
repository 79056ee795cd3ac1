from django.urls import path

from hallboard.staff import views
from hallboard.staff.pages import day

app_name = "staff"

urlpatterns = [
    path("", views.index, name="index"),
    path("schools/<slug:slug>/", views.school_dashboard, name="school"),
    path("organisations/<slug:slug>/", views.organisation_dashboard, name="organisation"),
    path("ws-ticket/", views.ws_ticket, name="ws-ticket"),
    # Today's changes (hallboard.staff.pages.day)
    path("day/", day.choose, name="day-choose"),
    path("schools/<slug:slug>/day/", day.page, name="day"),
    path("schools/<slug:slug>/day/<str:date>/", day.page, name="day-date"),
    path("schools/<slug:slug>/day/<str:date>/data", day.data, name="day-data"),
    path("schools/<slug:slug>/day/<str:date>/change", day.change, name="day-change"),
    path("schools/<slug:slug>/day/<str:date>/absences", day.absences, name="day-absences"),
    path("schools/<slug:slug>/day/<str:date>/paste", day.paste, name="day-paste"),
    path("schools/<slug:slug>/screens-shown", day.screens, name="day-screens"),
]
