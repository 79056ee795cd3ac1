from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "hallboard.demo"
    verbose_name = "Demo data"
