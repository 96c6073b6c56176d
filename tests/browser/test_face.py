"""Face verification in Chromium (FA-08): a customer without a security device resets the
forgotten password with the SMS code and their face. Chromium's fake camera plays the
drawn portrait the face-verification sandbox holds as the customer's ID photo."""

import pytest

from tests.browser.test_login import _captcha_answer, _shot, enrolled  # noqa: F401
from tests.conftest import ID_NUMBER
from tests.web.conftest import sms_code
from wangyin.audit.models import AuditEvent
from wangyin.authn import face
from wangyin.customers.models import CustomerAccount
from wangyin.identity import services as identity
from wangyin.ops import faces

pytestmark = pytest.mark.django_db(transaction=True)

RESET_PASSWORD = "Hb4nW8rLz"


def _reset_with_face(page, url, account_number):
    """The forgotten-password pages up to the face pictures taken (not yet submitted)."""
    page.goto(url + "/password/forgot/")
    page.fill("#id_account_number", account_number)
    page.fill("#id_id_number", ID_NUMBER)
    page.fill("#id_captcha", _captcha_answer(page))
    page.click("button.primary")
    page.wait_for_url("**/password/forgot/confirm/")
    page.fill("#code", sms_code("authn.password.reset"))
    page.click("#pw-new")
    page.keyboard.type(RESET_PASSWORD)
    page.click("#pw-confirm")
    page.keyboard.type(RESET_PASSWORD)
    page.click("#face-start")
    page.wait_for_selector("#face-state:has-text('已拍好')", timeout=10_000)


@pytest.mark.req("FA-08", "ON-08", "FP-01")
def test_forgotten_password_with_sms_and_face(camera_page, live_server, enrolled):  # noqa: F811
    page = camera_page
    user, _initial = enrolled
    person = user.person
    face.sandbox_register(id_type=person.id_type, id_number=person.id_number, name=person.name,
                          picture=faces.portrait(person.name), at=user.created_at)
    faces.camera_file(person.name, page.camera)  # the customer in front of the camera
    account = CustomerAccount.objects.get(person_id=user.person_id)

    _reset_with_face(page, live_server.url, account.number)
    assert page.locator("#face_frames").input_value().startswith('["data:image/jpeg;base64,')
    _shot(page, "password-forgot-face")
    page.click("button.primary")
    page.wait_for_url("**/login/")
    assert page.get_by_text("登录密码已重置").is_visible()
    assert page.console_problems == []
    check = AuditEvent.objects.get(action="authn.face.checked")
    assert check.result == "SUCCESS" and check.details["live"] is True
    assert identity.password_login(login_name=user.login_name, password=RESET_PASSWORD,
                                   ip=None, device="d", user_agent="",
                                   at=user.created_at).pk == user.pk


@pytest.mark.req("FA-08")
def test_someone_else_in_front_of_the_camera_is_refused(camera_page, live_server,
                                                        enrolled):  # noqa: F811
    page = camera_page
    user, _initial = enrolled
    person = user.person
    face.sandbox_register(id_type=person.id_type, id_number=person.id_number, name=person.name,
                          picture=faces.portrait(person.name), at=user.created_at)
    faces.camera_file("somebody else", page.camera)
    account = CustomerAccount.objects.get(person_id=user.person_id)
    before = type(user).objects.get(pk=user.pk).password

    _reset_with_face(page, live_server.url, account.number)
    page.click("button.primary")
    page.wait_for_url("**/password/forgot/confirm/")
    assert "身份证照片" in page.locator(".error").first.inner_text()  # says what failed
    _shot(page, "password-forgot-face-refused")
    assert type(user).objects.get(pk=user.pk).password == before
    assert AuditEvent.objects.get(action="authn.face.checked").result == "FAILURE"
