"""The back office's own URLconf: mounted at /bo/ by the customer site, or served alone
(WANGYIN_ROOT_URLCONF=wangyin.backoffice.root_urls) on an internal port."""

from django.urls import path

from wangyin.backoffice import views

app_name = "bo"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.staff_login, name="login"),
    path("login/otp/", views.staff_otp, name="otp"),
    path("logout/", views.staff_logout, name="logout"),
    path("customers/", views.customer_search, name="search"),
    path("customers/<int:person_id>/", views.customer_detail, name="customer"),
    path("customers/<int:person_id>/banking/open/", views.banking_open, name="banking_open"),
    path("customers/<int:person_id>/banking/unlock/", views.login_unlock, name="unlock"),
    path("customers/<int:person_id>/banking/reset/", views.password_reset, name="reset"),
    path("customers/<int:person_id>/banking/close/", views.banking_close, name="close"),
    path("sms/", views.sms_sandbox, name="sms"),
]
