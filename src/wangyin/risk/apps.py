from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "wangyin.risk"
    label = "risk"
