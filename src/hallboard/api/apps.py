from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "hallboard.api"
    verbose_name = "Management API"
