from django.apps import AppConfig


class CorporateConfig(AppConfig):
    name = "wangyin.corporate"
    label = "corporate"
