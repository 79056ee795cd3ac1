from django.apps import AppConfig


class TimetableConfig(AppConfig):
    name = "hallboard.timetable"
    verbose_name = "Timetable"
