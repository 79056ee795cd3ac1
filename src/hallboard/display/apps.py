from django.apps import AppConfig


class DisplayConfig(AppConfig):
    name = "hallboard.display"
    verbose_name = "Display protocol"
