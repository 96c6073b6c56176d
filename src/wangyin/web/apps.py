from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "wangyin.web"
    label = "web"
