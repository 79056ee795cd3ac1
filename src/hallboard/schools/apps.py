from django.apps import AppConfig


class SchoolsConfig(AppConfig):
    name = "hallboard.schools"
    verbose_name = "Schools"
