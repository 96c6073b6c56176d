from django.apps import AppConfig


class AmlConfig(AppConfig):
    name = "wangyin.aml"
    label = "aml"
