"""The back office's own URLconf: mounted at /bo/ by the customer site, or served alone
(WANGYIN_ROOT_URLCONF=wangyin.backoffice.root_urls) on an internal port."""

from django.urls import path

from wangyin.backoffice import risk, views

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
    path("customers/<int:person_id>/banking/edition/", views.edition_change, name="edition"),
    path("customers/<int:person_id>/token/issue/", views.token_issue, name="token_issue"),
    path("customers/<int:person_id>/token/unlock/", views.token_unlock, name="token_unlock"),
    path("customers/<int:person_id>/token/revoke/", views.token_revoke, name="token_revoke"),
    path("customers/<int:person_id>/phone/", views.phone_change, name="phone_change"),
    path("customers/<int:person_id>/card/issue/", views.card_issue, name="card_issue"),
    path("customers/<int:person_id>/card/revoke/", views.card_revoke, name="card_revoke"),
    path("customers/<int:person_id>/usbkey/bind/", views.usb_key_bind, name="usb_key_bind"),
    path("customers/<int:person_id>/usbkey/codes/", views.usb_key_codes, name="usb_key_codes"),
    path("customers/<int:person_id>/usbkey/end/", views.usb_key_end, name="usb_key_end"),
    path("staff/", views.staff_admin, name="staff"),
    path("staff/<str:username>/disable/", views.staff_disable, name="staff_disable"),
    path("staff/<str:username>/enable/", views.staff_enable, name="staff_enable"),
    path("staff/<str:username>/role/", views.staff_role, name="staff_role"),
    path("limits/", views.bank_limits, name="limits"),
    path("audit/", views.audit_log, name="audit"),
    path("audit/verify/", views.audit_check, name="audit_verify"),
    path("sms/", views.sms_sandbox, name="sms"),
    path("risk/", risk.home, name="risk"),
]
