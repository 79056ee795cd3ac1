from django.apps import AppConfig


class ScreensConfig(AppConfig):
    name = "hallboard.screens"
    verbose_name = "Screens"
