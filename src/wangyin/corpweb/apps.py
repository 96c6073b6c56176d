from django.apps import AppConfig


class CorpwebConfig(AppConfig):
    name = "wangyin.corpweb"
    label = "corpweb"
