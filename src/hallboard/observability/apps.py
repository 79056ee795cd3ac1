from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "hallboard.observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from hallboard.observability import gcpause

        gcpause.install()  # once per process, whatever the process runs
