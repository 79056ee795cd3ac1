from django.apps import AppConfig


class ServerConfig(AppConfig):
    name = "hallboard.server"
    verbose_name = "Server"
