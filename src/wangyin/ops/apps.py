from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "wangyin.ops"
    label = "ops"
