from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "hallboard.alerts"
    verbose_name = "Emergency alerts"
