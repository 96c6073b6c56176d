from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "wangyin.backoffice"
    label = "backoffice"
