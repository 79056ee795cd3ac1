from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "hallboard.realtime"
    verbose_name = "Realtime push"

    def ready(self) -> None:
        from hallboard.realtime import signals  # noqa: F401 - connects the publishers
