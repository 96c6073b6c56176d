"""Customer-facing URLconf."""

from django.urls import path

from wangyin.ops import views as ops_views
from wangyin.web import views as web_views

urlpatterns = [
    path("", web_views.landing, name="landing"),
    path("healthz", ops_views.healthz, name="healthz"),
]

handler404 = "wangyin.web.views.not_found"
handler500 = "wangyin.web.views.server_error"
