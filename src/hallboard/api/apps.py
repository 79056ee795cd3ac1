from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "hallboard.api"
    verbose_name = "Management API"

    def ready(self) -> None:
        from hallboard import dbhealth

        # Migrations run without the request bounds on statement time
        # (hallboard.dbhealth): `hallboard migrate` may build a big index.
        dbhealth.connect_signals()
