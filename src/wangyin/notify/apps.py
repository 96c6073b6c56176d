from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "wangyin.notify"
    label = "notify"
