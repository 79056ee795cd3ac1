from django.urls import path

from hallboard.staff import views
from hallboard.staff.pages import announcements, day, emergency, emergency_templates

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
    # The emergency panel and announcements (docs/staff.md).
    path("emergency/", emergency.choose, name="emergency"),
    path("emergency/<slug:slug>/", emergency.panel, name="emergency-panel"),
    path("emergency/<slug:slug>/state", emergency.state, name="emergency-state"),
    path("emergency/<slug:slug>/trigger", emergency.trigger, name="emergency-trigger"),
    path("emergency/<slug:slug>/alerts/<int:pk>/clear", emergency.clear, name="emergency-clear"),
    path(
        "emergency/<slug:slug>/templates/",
        emergency_templates.listing,
        name="emergency-templates",
    ),
    path(
        "emergency/<slug:slug>/templates/new",
        emergency_templates.edit,
        name="emergency-template-add",
    ),
    path(
        "emergency/<slug:slug>/templates/<int:pk>",
        emergency_templates.edit,
        name="emergency-template",
    ),
    path("announcements/", announcements.choose, name="announcements"),
    path("announcements/<slug:slug>/", announcements.page, name="announcements-page"),
    path("announcements/<slug:slug>/list", announcements.listing, name="announcements-list"),
    path("announcements/<slug:slug>/save", announcements.save, name="announcements-save"),
    path("announcements/<slug:slug>/<int:pk>/end", announcements.end_now, name="announcements-end"),
]
