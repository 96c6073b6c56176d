from django.apps import AppConfig


class ReceiptsConfig(AppConfig):
    name = "wangyin.receipts"
    label = "receipts"
