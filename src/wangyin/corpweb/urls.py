"""The corporate web channel under /corp/ (namespace ``corpweb``)."""

from django.urls import path

from wangyin.corpweb import views

app_name = "corpweb"

urlpatterns = [
    path("", views.entry, name="entry"),
    path("login/", views.login_start, name="login"),
    path("login/password/", views.login_password, name="login_password"),
    path("login/verify/", views.login_verify, name="login_verify"),
    path("captcha/<str:token>.png", views.captcha_image, name="captcha_image"),
    path("logout/", views.logout, name="logout"),
    path("signed-out/", views.signed_out, name="signed_out"),
    path("password/change/", views.password_change, name="password_change"),
    path("key/", views.certificate, name="certificate"),
    path("home/", views.home, name="home"),
    path("accounts/<int:account_id>/", views.account_detail, name="account"),
    path("payments/", views.payments, name="payments"),
    path("approvals/", views.approvals, name="approvals"),
    path("operators/", views.operators, name="operators"),
    path("session/status/", views.session_status, name="session_status"),
    path("session/keepalive/", views.session_keepalive, name="session_keepalive"),
]
