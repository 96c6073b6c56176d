from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "wangyin.audit"
    label = "audit"
