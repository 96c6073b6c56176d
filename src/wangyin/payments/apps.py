from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "wangyin.payments"
    label = "payments"
