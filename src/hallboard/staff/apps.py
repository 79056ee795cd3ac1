from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "hallboard.staff"
    verbose_name = "Live screens dashboard"

    def ready(self) -> None:
        from hallboard.staff import signals  # noqa: F401 - connects the staff frame publishers
