"""Self-registration of the public edition (FP-01): account + ID + captcha, SMS code to the
reserved phone, new password on the soft keyboard."""

import pytest

from tests.conftest import ID_NUMBER
from wangyin.customers.services import personal_account_open
from wangyin.identity.models import Captcha, ChannelUser, Device
from wangyin.identity.transport import encrypt_payload

from .conftest import keys_for, sign_in, sms_code

pytestmark = pytest.mark.django_db

NEW = "Tq7mX9vK"


@pytest.fixture
def account(make_person, at):
    person = make_person()
    return personal_account_open(person_id=person.pk, product="PERSONAL_II",
                                 face_to_face=False, actor="staff:1", opened_at=at)


def _start(client, account_number, id_number=ID_NUMBER, login_name="zhangwei_web"):
    client.get("/register/")
    answer = Captcha.objects.get(token=client.session["register_captcha"]).answer
    return client.post("/register/", {"account_number": account_number, "id_number": id_number,
                                      "login_name": login_name, "captcha": answer})


def _confirm(client, code, new=NEW, confirm=None):
    client.get("/register/confirm/")
    pad = client.session["register_pad"]
    payload = encrypt_payload({"nonce": pad["nonce"], "fields": {
        "new": keys_for(new, pad["layout"]), "confirm": keys_for(confirm or new, pad["layout"])}})
    return client.post("/register/confirm/", {"payload": payload, "code": code})


@pytest.mark.req("FP-01", "CH-04")
def test_register_the_public_edition_and_sign_in(client, account):
    assert _start(client, account.number).url == "/register/confirm/"
    page = client.get("/register/confirm/").content.decode()
    assert "138****0001" in page
    weak = _confirm(client, sms_code("authn.register"), new="abcd1234")
    assert weak.status_code == 400 and not ChannelUser.objects.exists()
    done = _confirm(client, sms_code("authn.register"))
    assert done.url == "/login/"
    user = ChannelUser.objects.get()
    assert user.edition == "PUBLIC" and not user.must_change_password
    assert Device.objects.filter(user=user).count() == 1  # the SMS code proved this device
    assert "注册成功" in client.get("/login/").content.decode()
    assert sign_in(client, "zhangwei_web", NEW).url == "/home/"


@pytest.mark.req("AU-09")
def test_wrong_details_get_one_vague_answer(client, account, make_person):
    wrong_id = _start(client, account.number, id_number="11010519491231002X")
    wrong_account = _start(client, account.number[:-1] + str((int(account.number[-1]) + 1) % 10))
    assert wrong_id.status_code == wrong_account.status_code == 400
    message = "与本行记录不符"
    assert message in wrong_id.content.decode() and message in wrong_account.content.decode()


def test_already_enrolled_customers_cannot_register_again(client, account, at):
    from wangyin.identity import services as identity

    identity.internet_banking_open(person_id=account.person_id, login_name="zhangwei_01",
                                   edition="PRO", risk_acknowledged=True, staff="staff:1",
                                   reason="r", at=at)
    assert _start(client, account.number).status_code == 400


def test_a_wrong_sms_code_registers_nothing(client, account):
    _start(client, account.number)
    code = sms_code("authn.register")
    response = _confirm(client, "000000" if code != "000000" else "111111")
    assert response.status_code == 400 and not ChannelUser.objects.exists()


def test_a_wrong_captcha_stops_registration(client, account):
    client.get("/register/")
    response = client.post("/register/", {"account_number": account.number,
                                          "id_number": ID_NUMBER, "login_name": "zhangwei_web",
                                          "captcha": "WRONG"})
    assert response.status_code == 400 and client.get("/register/confirm/").url == "/register/"
