"""The corporate web bank through the Django test client: the sign-in steps end to end with
the operator's software USB-Key signing the challenge the page shows, the forced password
change, an operator without a key (SMS code, certificate download only), the home page
with only the accounts of the operator's scope, navigation by role, sign-out, and the
personal and corporate sessions kept apart."""

import base64
import re

import pytest

from tests.corporate.conftest import PIN
from tests.web.conftest import PASSWORD as PERSONAL_PASSWORD
from tests.web.conftest import customer, ready_customer  # noqa: F401 -- fixtures
from tests.web.conftest import sign_in as personal_sign_in
from wangyin.authn import certificates
from wangyin.authn.models import Certificate, Signature
from wangyin.corporate.models import Operator, OperatorLogin, OperatorScope, OperatorSession
from wangyin.identity.transport import encrypt_payload
from wangyin.notify.models import SmsMessage
from wangyin_sdk.usbkey import SoftUsbKey

from .conftest import PASSWORD, keys_for, pass_captcha, payload_on, sign_in, submit_password

pytestmark = pytest.mark.django_db


@pytest.mark.req("CH-02", "AU-04", "AU-05", "AU-06", "FA-05", "SE-01")
def test_an_operator_signs_in_with_the_usb_key_and_sees_the_company(client, service, company,
                                                                    enterer, key_of):
    key = key_of(enterer)
    page = client.get("/corp/login/")
    assert page.status_code == 200 and 'id="captcha"' in page.content.decode()
    assert pass_captcha(client, enterer).url == "/corp/login/password/"
    page = client.get("/corp/login/password/").content.decode()
    assert page.count('class="sk-key"') == 50 and "1000000001" in page
    assert submit_password(client).url == "/corp/login/verify/"
    assert not OperatorSession.objects.exists()

    page = client.get("/corp/login/verify/").content.decode()
    assert 'id="usbkey-sign"' in page and 'name="code"' not in page
    assert company.name in page and "enter01" in page  # what the key will sign, shown
    signature = base64.b64encode(key.sign(payload_on(page), PIN)).decode()
    done = client.post("/corp/login/verify/", {"usbkey_signature": signature})
    assert done.url == "/corp/home/"
    assert Signature.objects.filter(person=enterer.person).count() == 1

    home = client.get("/corp/home/")
    text = home.content.decode()
    assert home.status_code == 200 and home["Cache-Control"] == "no-store"
    assert company.name in text and company.basic.masked_number in text
    assert company.general.masked_number in text and "1,000,000.00" in text
    assert 'id="operator-roles"' in text and 'id="nav-payments"' in text
    assert OperatorSession.objects.get().operator == enterer


@pytest.mark.req("AU-04", "AU-09", "SE-09")
def test_a_wrong_captcha_or_password_starts_again_and_no_step_is_skipped(client, service,
                                                                         enterer, key_of):
    key_of(enterer)
    assert client.get("/corp/login/password/").url == "/corp/login/"
    assert client.get("/corp/login/verify/").url == "/corp/login/"
    wrong = pass_captcha(client, enterer, answer="XXXXX")
    assert wrong.status_code == 400 and 'role="alert"' in wrong.content.decode()
    assert client.get("/corp/login/password/").url == "/corp/login/"

    pass_captcha(client, enterer)
    assert submit_password(client, "Wrong0pass").url == "/corp/login/"
    unknown = sign_in(client, Operator(service=enterer.service, code="nobody"),
                      password="Wrong0pass")
    assert unknown.url == "/corp/login/"
    page = client.get("/corp/login/")
    assert page.content.decode().count('role="alert"') == 1
    assert client.get("/corp/login/verify/").url == "/corp/login/"
    enterer.refresh_from_db()
    assert enterer.failed_attempts == 1
    assert list(OperatorLogin.objects.values_list("outcome", flat=True)) == ["BAD_PASSWORD"]


@pytest.mark.req("ON-07", "AU-03", "SE-09")
def test_the_initial_password_is_changed_before_anything_else(client, service, enterer,
                                                              key_of):
    key = key_of(enterer)
    Operator.objects.filter(pk=enterer.pk).update(must_change_password=True)
    sign_in(client, enterer, key)
    assert client.get("/corp/home/").url == "/corp/password/change/"
    assert client.get("/corp/payments/").url == "/corp/password/change/"
    page = client.get("/corp/password/change/").content.decode()
    assert 'data-field="current"' in page and 'data-field="new"' in page

    def change(current, new):
        client.get("/corp/password/change/")
        pad = client.session["corp_password_pad"]
        return client.post("/corp/password/change/", {"payload": encrypt_payload({
            "nonce": pad["nonce"], "fields": {"current": keys_for(current, pad["layout"]),
                                              "new": keys_for(new, pad["layout"]),
                                              "confirm": keys_for(new, pad["layout"])}})})

    assert change(PASSWORD, "enter01Zx").status_code == 400  # the operator's own code
    assert change(PASSWORD, "Hx7kP2mQ").url == "/corp/home/"
    assert client.get("/corp/home/").status_code == 200


@pytest.mark.req("FC-01", "SE-09")
def test_home_shows_only_the_accounts_of_the_operators_scope(client, service, company,
                                                             checker, key_of, make_company,
                                                             now):
    from tests.conftest import _uscc
    from wangyin.customers import services as customers

    other = make_company(name="吉安另一贸易有限公司", uscc=_uscc("91360802MA35R8LX2"))
    theirs = customers.corporate_account_open(company_id=other.pk, product="CORPORATE_BASIC",
                                              actor="staff:1", opened_at=now)
    OperatorScope.objects.filter(operator=checker, account=company.general).delete()
    sign_in(client, checker, key_of(checker))

    home = client.get("/corp/home/").content.decode()
    assert company.basic.masked_number in home
    assert company.general.masked_number not in home and "200,000.00" not in home
    detail = client.get(f"/corp/accounts/{company.basic.pk}/")
    assert detail.status_code == 200 and "1,000,000.00" in detail.content.decode()
    assert client.get(f"/corp/accounts/{company.general.pk}/").status_code == 404
    assert client.get(f"/corp/accounts/{theirs.pk}/").status_code == 404
    assert client.get(f"/corp/accounts/{company.basic.pk}/?after=forged").status_code == 200


@pytest.mark.req("FC-02", "SE-09")
@pytest.mark.parametrize(("who", "shown", "hidden"), [
    ("enterer", ["payments"], ["approvals", "operators"]),
    ("checker", ["approvals"], ["payments", "operators"]),
    ("authoriser", ["approvals"], ["payments", "operators"]),
    ("admin", ["operators"], ["payments", "approvals"]),
])
def test_the_navigation_offers_only_what_the_roles_allow(client, request, key_of, who, shown,
                                                         hidden):
    operator = request.getfixturevalue(who)
    sign_in(client, operator, key_of(operator))
    home = client.get("/corp/home/").content.decode()
    for name in shown:
        assert f'id="nav-{name}"' in home
        assert client.get(f"/corp/{name}/").status_code == 200
    for name in hidden:
        assert f'id="nav-{name}"' not in home
        assert client.get(f"/corp/{name}/").status_code == 404  # forbidden looks missing


@pytest.mark.req("ON-09", "AU-16", "SE-09")
def test_an_operator_without_a_key_signs_in_by_sms_and_only_downloads_the_certificate(
        client, service, authoriser, now):
    pass_captcha(client, authoriser)
    submit_password(client)
    page = client.get("/corp/login/verify/").content.decode()
    assert 'name="code"' in page and 'id="usbkey-sign"' not in page
    body = SmsMessage.objects.filter(purpose="authn.corporate.signin").latest("id").body
    code = re.search(r"验证码 (\d{6})", body).group(1)
    assert client.post("/corp/login/verify/", {"code": code}).url == "/corp/home/"

    assert client.get("/corp/home/").url == "/corp/key/"
    assert client.get("/corp/approvals/").url == "/corp/key/"
    assert client.get(f"/corp/accounts/{service.company.basic.pk}/").url == "/corp/key/"
    page = client.get("/corp/key/").content.decode()
    assert 'id="no-key"' in page and 'id="nav-certificate"' in page
    assert 'id="nav-home"' not in page

    _key, reference = certificates.usb_key_bind(
        person_id=authoriser.person_id, serial="UK70000992", staff="staff:teller1", at=now,
        company_id=service.company_id)
    cert_code = re.search(r"授权码 (\d{8})", SmsMessage.objects.filter(
        purpose="authn.cert_code").latest("id").body).group(1)
    assert 'id="usbkey-request"' in client.get("/corp/key/").content.decode()
    device = SoftUsbKey("UK70000992", PIN, confirm=lambda text: True)
    request_b64 = base64.b64encode(device.signing_request(PIN)).decode()
    wrong = client.post("/corp/key/", {"reference_code": reference,
                                       "authorisation_code": "00000000",
                                       "request": request_b64})
    assert wrong.status_code == 400 and not Certificate.objects.exists()
    done = client.post("/corp/key/", {"reference_code": reference,
                                      "authorisation_code": cert_code, "request": request_b64})
    page = done.content.decode()
    issued = re.search(r'data-certificate="([^"]+)"', page).group(1)
    assert 'id="sign-in-again"' in page
    device.install(base64.b64decode(issued))
    assert Certificate.objects.get().usb_key.company_id == service.company_id
    # Still the SMS session: signing in again with the key opens the bank.
    assert client.get("/corp/home/").url == "/corp/key/"
    client.post("/corp/logout/")
    assert sign_in(client, authoriser, device).url == "/corp/home/"
    assert client.get("/corp/home/").status_code == 200


@pytest.mark.req("SE-03", "SE-04")
def test_sign_out_ends_the_session_on_the_server(client, service, enterer, key_of):
    sign_in(client, enterer, key_of(enterer))
    done = client.post("/corp/logout/")
    assert done.url == "/corp/signed-out/"
    assert "拔出U盾" in client.get("/corp/signed-out/").content.decode()
    assert OperatorSession.objects.get().end_reason == "LOGOUT"
    assert client.get("/corp/home/").url == "/corp/login/"


@pytest.mark.req("SE-01", "SE-09")
def test_the_personal_and_the_corporate_sessions_never_open_each_others_pages(
        client, ready_customer, service, enterer, key_of):  # noqa: F811
    from django.test import Client

    assert personal_sign_in(client, "zhangwei_01", PERSONAL_PASSWORD).url == "/home/"
    assert client.get("/home/").status_code == 200
    assert client.get("/corp/home/").url == "/corp/login/"
    assert client.get("/corp/session/status/").json() == {"signed_in": False}

    corporate = Client()
    assert sign_in(corporate, enterer, key_of(enterer)).url == "/corp/home/"
    assert corporate.get("/corp/home/").status_code == 200
    assert corporate.get("/home/").url == "/login/"
    assert corporate.get("/security/").url == "/login/"
    assert corporate.get("/session/status/").json() == {"signed_in": False}
    # The same browser may hold both: each channel sees only its own session.
    assert sign_in(client, enterer, key_of(enterer)).url == "/corp/home/"
    assert client.get("/corp/home/").status_code == 200
    assert client.get("/home/").status_code == 200
