from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TimetableConfig(AppConfig):
    name = "hallboard.timetable"
    verbose_name = _("Timetable")
