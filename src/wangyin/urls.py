"""Customer-facing URLconf."""

from django.urls import include, path
from django.views.i18n import set_language

from wangyin.ops import views as ops_views
from wangyin.web import banking, clearing, login, payees, payments, receipts, selfservice
from wangyin.web import views as web_views

urlpatterns = [
    path("", web_views.landing, name="landing"),
    path("healthz", ops_views.healthz, name="healthz"),
    path("clearing/events/", clearing.clearing_events, name="clearing_events"),
    path("i18n/language/", set_language, name="set_language"),
    path("login/", login.login_start, name="login"),
    path("login/password/", login.login_password, name="login_password"),
    path("login/device/", login.login_device, name="login_device"),
    path("login/passkey/", login.login_passkey, name="login_passkey"),
    path("login/passkey/options/", login.login_passkey_options, name="login_passkey_options"),
    path("register/", selfservice.register_start, name="register"),
    path("register/confirm/", selfservice.register_confirm, name="register_confirm"),
    path("password/forgot/", selfservice.password_forgot, name="password_forgot"),
    path("password/forgot/confirm/", selfservice.password_forgot_confirm,
         name="password_forgot_confirm"),
    path("self-service/<str:flow>/captcha/<str:token>.png", selfservice.selfservice_captcha,
         name="selfservice_captcha"),
    path("captcha/<str:token>.png", login.captcha_image, name="captcha_image"),
    path("logout/", login.logout, name="logout"),
    path("signed-out/", login.signed_out, name="signed_out"),
    path("home/", banking.home, name="home"),
    path("accounts/<int:account_id>/", banking.account_detail, name="account"),
    path("accounts/<int:account_id>/statement.csv", banking.account_statement_csv,
         name="account_statement_csv"),
    path("accounts/<int:account_id>/statement.pdf", banking.account_statement_pdf,
         name="account_statement_pdf"),
    path("transfers/new/", payments.transfer_new, name="transfer_new"),
    path("transfers/confirm/", payments.transfer_confirm, name="transfer_confirm"),
    path("transfers/<int:transfer_id>/", payments.transfer_done, name="transfer_done"),
    path("transfers/scheduled/", payments.transfer_orders, name="transfer_orders"),
    path("transfers/scheduled/<int:order_id>/cancel/", payments.transfer_order_cancel,
         name="transfer_order_cancel"),
    path("payees/", payees.payee_list, name="payees"),
    path("payees/new/", payees.payee_new, name="payee_new"),
    path("payees/confirm/", payees.payee_confirm, name="payee_confirm"),
    path("payees/<int:payee_id>/rename/", payees.payee_rename, name="payee_rename"),
    path("payees/<int:payee_id>/delete/", payees.payee_delete, name="payee_delete"),
    path("transfers/mobile/", payees.mobile_receiving, name="mobile_receiving"),
    path("transfers/mobile/confirm/", payees.mobile_receiving_confirm,
         name="mobile_receiving_confirm"),
    path("transfers/mobile/stop/", payees.mobile_receiving_stop, name="mobile_receiving_stop"),
    path("transfers/<int:transfer_id>/receipt.pdf", receipts.transfer_receipt_pdf,
         name="transfer_receipt_pdf"),
    path("receipts/verify/", receipts.receipt_verify, name="receipt_verify"),
    path("security/", banking.security_centre, name="security"),
    path("security/confirm/", banking.security_confirm, name="security_confirm"),
    path("security/funds/close/", banking.funds_close, name="funds_close"),
    path("security/limits/", banking.own_limits, name="own_limits"),
    path("security/phone/", banking.phone_change, name="phone_change"),
    path("security/passkeys/add/", banking.passkey_add, name="passkey_add"),
    path("security/softcert/add/", banking.softcert_add, name="softcert_add"),
    path("security/softcert/new/", banking.softcert_new, name="softcert_new"),
    path("security/usbkey/enrol/", banking.usbkey_enrol, name="usbkey_enrol"),
    path("security/factor/", banking.factor_prefer, name="factor_prefer"),
    path("security/certificates/<str:serial>/withdraw/", banking.certificate_withdraw,
         name="certificate_withdraw"),
    path("security/passkeys/new/", banking.passkey_new, name="passkey_new"),
    path("security/passkeys/<int:passkey_pk>/remove/", banking.passkey_remove,
         name="passkey_remove"),
    path("security/devices/<int:device_pk>/remove/", banking.device_remove,
         name="device_remove"),
    path("password/change/", banking.password_change, name="password_change"),
    path("session/status/", banking.session_status, name="session_status"),
    path("session/keepalive/", banking.session_keepalive, name="session_keepalive"),
    path("bo/", include("wangyin.backoffice.urls")),
]

handler403 = "wangyin.web.views.not_found"  # forbidden looks exactly like missing (SE-08)
handler404 = "wangyin.web.views.not_found"
handler500 = "wangyin.web.views.server_error"
