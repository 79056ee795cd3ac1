from django.apps import AppConfig


class DisplayConfig(AppConfig):
    name = "hallboard.display"
    verbose_name = "Display protocol"

    def ready(self) -> None:
        from hallboard.display import fast_status

        fast_status.connect_signals()
