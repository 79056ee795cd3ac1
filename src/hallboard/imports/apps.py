from django.apps import AppConfig


class ImportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "hallboard.imports"
    label = "imports"
    verbose_name = "Imports"
