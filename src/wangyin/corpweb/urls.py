"""The corporate web channel under /corp/ (namespace ``corpweb``)."""

from django.urls import path

from wangyin.corpweb import admin_views, instructions, views

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
    path("payments/", instructions.payment_new, name="payments"),
    path("payments/mine/", instructions.payments_mine, name="payments_mine"),
    path("payments/<int:instruction_id>/edit/", instructions.draft_edit, name="draft_edit"),
    path("payments/<int:instruction_id>/submit/", instructions.draft_submit,
         name="draft_submit"),
    path("payments/<int:instruction_id>/cancel/", instructions.instruction_cancel,
         name="instruction_cancel"),
    path("approvals/", instructions.approval_queue, name="approvals"),
    path("approvals/<int:instruction_id>/", instructions.approval, name="approval"),
    path("instructions/", instructions.instruction_list, name="instructions"),
    path("instructions/<int:instruction_id>/", instructions.instruction_detail,
         name="instruction"),
    path("operators/", admin_views.operator_list, name="operators"),
    path("operators/new/", admin_views.operator_new, name="admin_operator_new"),
    path("operators/<int:operator_id>/", admin_views.operator_detail, name="admin_operator"),
    path("operators/<int:operator_id>/roles/", admin_views.operator_roles,
         name="admin_operator_roles"),
    path("operators/<int:operator_id>/accounts/", admin_views.operator_scopes,
         name="admin_operator_scopes"),
    path("operators/<int:operator_id>/key/", admin_views.operator_key,
         name="admin_operator_key"),
    path("operators/<int:operator_id>/<str:action>/", admin_views.operator_status,
         name="admin_operator_status"),
    path("admin/confirm/", admin_views.confirm, name="admin_confirm"),
    path("policy/", admin_views.policy, name="admin_policy"),
    path("policy/edit/", admin_views.policy_edit, name="admin_policy_edit"),
    path("session/status/", views.session_status, name="session_status"),
    path("session/keepalive/", views.session_keepalive, name="session_keepalive"),
]
