"""Template context every customer page gets."""

from django.conf import settings


def bank(request):
    return {"bank_hotline": settings.BANK_HOTLINE}
