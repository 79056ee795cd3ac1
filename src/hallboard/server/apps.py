from django.apps import AppConfig


class ServerConfig(AppConfig):
    name = "hallboard.server"
    verbose_name = "Server"

    def ready(self) -> None:
        from hallboard.server import checks  # noqa: F401 - registers the deploy checks
