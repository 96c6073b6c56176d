from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "wangyin.identity"
    label = "identity"
