from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class I18nConfig(AppConfig):
    name = "hallboard.i18n"
    label = "hallboard_i18n"
    verbose_name = _("Languages")
