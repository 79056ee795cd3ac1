from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StaffConfig(AppConfig):
    name = "hallboard.staff"
    verbose_name = _("Live screens dashboard")

    def ready(self) -> None:
        from hallboard.staff import signals  # noqa: F401 - connects the staff frame publishers
