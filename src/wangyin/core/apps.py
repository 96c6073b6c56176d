from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "wangyin.core"
    label = "core"
