from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "wangyin.ledger"
    label = "ledger"
