from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "hallboard.api"
    verbose_name = _("Management API")

    def ready(self) -> None:
        from hallboard import dbhealth

        # Migrations run without the request bounds on statement time
        # (hallboard.dbhealth): `hallboard migrate` may build a big index.
        dbhealth.connect_signals()
