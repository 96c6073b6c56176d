from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "wangyin.customers"
    label = "customers"
