from django.apps import AppConfig


class AuthnConfig(AppConfig):
    name = "wangyin.authn"
    label = "authn"
