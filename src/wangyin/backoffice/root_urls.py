"""URLconf for a process that serves only the back office (and the health check)."""

from django.urls import include, path

from wangyin.ops import views as ops_views

urlpatterns = [
    path("bo/", include("wangyin.backoffice.urls")),
    path("healthz", ops_views.healthz, name="healthz"),
]

handler403 = "wangyin.web.views.not_found"
handler404 = "wangyin.web.views.not_found"
handler500 = "wangyin.web.views.server_error"
