"""An operator's security settings in the corporate web bank: their own sign-in history and
the administrator's view of each operator's (AU-15), the reserved message shown before the
password and changed with the operator's USB-Key (AU-13), and the bank's pages naming the
operator's key to the U盾 agent (TX-02)."""

import base64
import html
import re

import pytest

from tests.corporate.conftest import PIN
from tests.corpweb.conftest import pass_captcha, payload_on, sign_in, submit_password
from wangyin.audit.models import AuditEvent
from wangyin.authn.models import UsbKey
from wangyin.corporate import security
from wangyin.corporate.models import Operator, OperatorLogin

pytestmark = pytest.mark.django_db


def _reserved_on(page: str) -> str:
    return html.unescape(re.search(r'id="reserved-message">([^<]*)<', page).group(1))


def _serial_on(page: str) -> str:
    found = re.search(r'<meta name="wangyin-usbkey-serial" content="([^"]*)">', page)
    return found.group(1) if found else ""


@pytest.mark.req("AU-15")
def test_the_operator_sees_their_own_sign_ins_with_outcome_factor_ip_and_device(
    client, service, enterer, key_of
):
    key = key_of(enterer)
    pass_captcha(client, enterer)
    submit_password(client, "Wrong!pass1")  # a failed attempt first
    client.defaults["HTTP_USER_AGENT"] = "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0"
    sign_in(client, enterer, key)
    page = client.get("/corp/security/").content.decode()
    start = page.index('id="signin-history"')
    table = page[start : page.index("</table>", start)]
    assert "登录成功" in table  # the success, newest first
    assert "U盾" in table and "127.0.0.1" in table and "Chrome Windows" in table
    rows = security.signin_history(enterer)
    assert [r.outcome for r in rows][:2] == ["SUCCESS", "BAD_PASSWORD"]
    assert rows[0].device_short and rows[0].device_short in table
    assert 'id="nav-security"' in client.get("/corp/home/").content.decode()


@pytest.mark.req("AU-15", "SE-09")
def test_the_administrator_sees_each_operators_history_and_only_theirs(
    client, service, admin, enterer, checker, key_of, now
):
    OperatorLogin.objects.create(
        operator=enterer, outcome="BAD_PASSWORD", ip="198.51.100.7", device="dev-enterer", at=now
    )
    OperatorLogin.objects.create(
        operator=checker, outcome="BAD_PASSWORD", ip="203.0.113.9", device="dev-checker", at=now
    )
    sign_in(client, admin, key_of(admin))
    page = client.get(f"/corp/operators/{enterer.pk}/").content.decode()
    assert 'id="signin-history"' in page and "198.51.100.7" in page
    assert "203.0.113.9" not in page
    # The operator's own page is theirs only: another operator's history is not on it.
    client.post("/corp/logout/")
    sign_in(client, enterer, key_of(enterer))
    assert "203.0.113.9" not in client.get("/corp/security/").content.decode()
    assert client.get(f"/corp/operators/{checker.pk}/").status_code == 404


@pytest.mark.req("AU-13", "AU-09")
def test_the_reserved_message_is_shown_before_the_password_and_a_stranger_gets_a_decoy(
    client, service, enterer
):
    Operator.objects.filter(pk=enterer.pk).update(reserved_message="青松白云")
    pass_captcha(client, enterer)
    page = client.get("/corp/login/password/").content.decode()
    assert _reserved_on(page) == "青松白云"
    assert page.index('id="reserved-message"') < page.index('name="payload"')
    # An unknown code gets a stable phrase, the same each time, as a real one would.
    client.get("/corp/login/?fresh=1")
    pass_captcha(client, enterer, code="nobody9")
    first = _reserved_on(client.get("/corp/login/password/").content.decode())
    assert first and first != "青松白云"
    assert security.reserved_message_for(service.number, "nobody9") == first


@pytest.mark.req("AU-13", "TX-02")
def test_the_operator_changes_the_reserved_message_with_the_usb_key(
    client, service, enterer, key_of
):
    key = key_of(enterer)
    sign_in(client, enterer, key)
    page = client.get("/corp/security/").content.decode()
    assert "由银行设定" in page or "chosen by the bank" in page
    bank_phrase = _reserved_on(page)
    assert security.reserved_message_for(service.number, enterer.code) == bank_phrase
    other = payload_on(
        client.post(
            "/corp/security/", {"action": "ask", "reserved_message": "别的短语"}
        ).content.decode()
    )
    asked = client.post("/corp/security/", {"action": "ask", "reserved_message": "青松 白云"})
    page = asked.content.decode()
    assert "青松 白云" in payload_on(page)  # the key shows exactly the new phrase
    # A signature over something else (an earlier phrase's challenge) changes nothing.
    wrong = base64.b64encode(key.sign(other, PIN)).decode()
    refused = client.post("/corp/security/", {"action": "sign", "usbkey_signature": wrong})
    assert refused.status_code == 400
    assert Operator.objects.get(pk=enterer.pk).reserved_message == ""
    asked = client.post("/corp/security/", {"action": "ask", "reserved_message": "青松 白云"})
    signature = base64.b64encode(key.sign(payload_on(asked.content.decode()), PIN)).decode()
    done = client.post("/corp/security/", {"action": "sign", "usbkey_signature": signature})
    assert done.status_code == 302
    assert Operator.objects.get(pk=enterer.pk).reserved_message == "青松 白云"
    assert AuditEvent.objects.filter(
        action="corporate.reserved_message.changed", target=f"operator:{enterer.pk}"
    ).exists()
    client.post("/corp/logout/")
    pass_captcha(client, enterer)
    assert _reserved_on(client.get("/corp/login/password/").content.decode()) == "青松 白云"


@pytest.mark.req("AU-13")
def test_a_reserved_message_too_short_or_too_long_is_refused(client, service, enterer, key_of):
    sign_in(client, enterer, key_of(enterer))
    for message in ("青", "青" * 21):
        response = client.post("/corp/security/", {"action": "ask", "reserved_message": message})
        assert response.status_code == 400 and 'id="security-error"' in response.content.decode()
    assert Operator.objects.get(pk=enterer.pk).reserved_message == ""


@pytest.mark.req("TX-02")
def test_the_pages_name_the_operators_key_to_the_agent(
    client, service, enterer, authoriser, key_of
):
    key_of(authoriser)
    serial = UsbKey.objects.get(person=authoriser.person, company=service.company).serial
    pass_captcha(client, authoriser)
    submit_password(client)
    verify = client.get("/corp/login/verify/").content.decode()
    assert _serial_on(verify) == serial  # before the session: the sign-in's operator
    sign_in(client, authoriser, key_of(authoriser))
    assert _serial_on(client.get("/corp/approvals/").content.decode()) == serial
    client.post("/corp/logout/")
    assert _serial_on(client.get("/corp/login/").content.decode()) == ""  # nobody yet
