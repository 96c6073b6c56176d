"""Changes of security settings re-authenticate the customer (AU-11) with a step-up bound
to exactly the change confirmed (TX-06, TX-10)."""

import pyotp
import pytest

from wangyin.audit.models import AuditEvent
from wangyin.authn import services as authn
from wangyin.authn import tokens
from wangyin.authn.errors import DigestMismatch
from wangyin.core import clock
from wangyin.identity import services as identity
from wangyin.identity.models import ChannelUser

from .conftest import PASSWORD, sign_in, sms_code

pytestmark = [pytest.mark.django_db, pytest.mark.req("AU-11")]

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_a_wrong_code_changes_nothing(client, ready_customer):
    sign_in(client, "zhangwei_01", PASSWORD)
    client.post("/security/", {"reserved_message": "窗外的梧桐"})
    wrong = f"{(int(sms_code('authn.security.change')) + 1) % 1_000_000:06d}"
    assert client.post("/security/confirm/", {"code": wrong}).status_code == 400
    assert ChannelUser.objects.get().reserved_message != "窗外的梧桐"


def test_a_token_holder_confirms_with_the_token_too(client, ready_customer, at):
    sign_in(client, "zhangwei_01", PASSWORD)
    tokens.token_issue(person_id=ready_customer.person_id, serial="WY00012345", seed=SEED,
                       staff="staff:7", reason="counter", at=at)
    client.post("/security/", {"reserved_message": "窗外的梧桐"})
    page = client.get("/security/confirm/").content.decode()
    assert 'name="token_code"' in page
    only_sms = client.post("/security/confirm/", {"code": sms_code("authn.security.change")})
    assert only_sms.status_code == 400
    client.post("/security/", {"reserved_message": "窗外的梧桐"})
    done = client.post("/security/confirm/", {"code": sms_code("authn.security.change"),
                                              "token_code": pyotp.TOTP(SEED).now()})
    assert done.url == "/security/"
    assert ChannelUser.objects.get().reserved_message == "窗外的梧桐"


@pytest.mark.req("TX-06", "TX-10")
def test_a_different_message_than_confirmed_is_refused_and_audited(ready_customer):
    now = clock.now()
    digest = identity.change_digest(user=ready_customer, change="reserved_message",
                                    value="窗外的梧桐", device="dev-1")
    challenge = authn.challenge_issue(person=ready_customer.person, purpose="security.change",
                                      digest=digest, factors=["SMS"], at=now)
    authn.challenge_verify(challenge_id=challenge.pk, person=ready_customer.person,
                           purpose="security.change", digest=digest, at=now,
                           codes={"SMS": sms_code("authn.security.change")})
    with pytest.raises(DigestMismatch):
        identity.reserved_message_set(user_id=ready_customer.pk, message="攻击者的短语",
                                      authorisation=challenge.pk, device="dev-1", at=now)
    assert ChannelUser.objects.get().reserved_message != "攻击者的短语"
    assert AuditEvent.objects.filter(action="authn.digest_mismatch").exists()


@pytest.mark.req("ON-03")
def test_the_customer_closes_payments_online_and_cannot_reopen_them_online(client,
                                                                           ready_customer):
    sign_in(client, "zhangwei_01", PASSWORD)
    assert "/security/funds/close/" in client.get("/security/").content.decode()
    client.post("/security/funds/close/")
    assert "柜台" in client.get("/security/confirm/").content.decode()
    client.post("/security/confirm/", {"code": sms_code("authn.security.change")})
    assert ChannelUser.objects.get().edition == "PUBLIC"
    page = client.get("/security/").content.decode()
    assert "/security/funds/close/" not in page
    client.post("/security/funds/close/")  # nothing online turns them back on
    assert ChannelUser.objects.get().edition == "PUBLIC"


@pytest.mark.req("TX-11", "AU-11")
def test_the_customer_sets_own_limits_with_a_step_up(client, ready_customer):
    from wangyin.authn.limits import own_limits_of

    sign_in(client, "zhangwei_01", PASSWORD)
    page = client.get("/security/").content.decode()
    assert "¥50,000.00" in page and "¥1,000,000.00" in page
    client.post("/security/limits/", {"per_transaction": "9999999999", "per_day": "1"})
    assert own_limits_of(ready_customer.person) is None
    assert client.post("/security/limits/", {"per_transaction": "2000", "per_day": "5000.50"}
                       ).url == "/security/confirm/"
    assert "¥2,000.00" in client.get("/security/confirm/").content.decode()
    assert own_limits_of(ready_customer.person) is None  # not before the code
    client.post("/security/confirm/", {"code": sms_code("authn.security.change")})
    own = own_limits_of(ready_customer.person)
    assert (own.per_transaction_fen, own.per_day_fen) == (2_000_00, 5_000_50)
    assert 'id="own-limits"' in client.get("/security/").content.decode()


@pytest.mark.req("ON-11")
def test_online_phone_change_is_off_by_default(client, ready_customer):
    sign_in(client, "zhangwei_01", PASSWORD)
    assert "/security/phone/" not in client.get("/security/").content.decode()
    assert client.post("/security/phone/", {"phone": "13907970002"}).status_code == 404


@pytest.mark.req("ON-11")
def test_online_phone_change_needs_the_old_number_and_a_token(client, ready_customer, at,
                                                              settings):
    from wangyin.customers.models import Person

    settings.ONLINE_PHONE_CHANGE = True
    sign_in(client, "zhangwei_01", PASSWORD)
    client.post("/security/phone/", {"phone": "13907970002"})
    assert "柜台" in client.get("/security/").content.decode()  # no token: the counter
    tokens.token_issue(person_id=ready_customer.person_id, serial="WY00012345", seed=SEED,
                       staff="staff:7", reason="counter", at=at)
    assert client.post("/security/phone/", {"phone": "13907970002"}
                       ).url == "/security/confirm/"
    code = sms_code("authn.phone.change")
    from wangyin.notify.models import SmsMessage
    assert SmsMessage.objects.filter(purpose="authn.phone.change").latest("id").phone \
        == "13807970001"  # the code goes to the old number
    client.post("/security/confirm/", {"code": code, "token_code": pyotp.TOTP(SEED).now()})
    assert Person.objects.get().phone == "13907970002"


@pytest.mark.req("FA-07")
def test_a_passkey_needs_an_existing_strong_factor(client, ready_customer):
    sign_in(client, "zhangwei_01", PASSWORD)
    client.post("/security/passkeys/add/")
    page = client.get("/security/").content.decode()
    assert "柜台" in page  # no token: visit a counter
    assert client.get("/security/passkeys/new/").url == "/security/"


@pytest.mark.req("FA-07")
def test_a_forged_passkey_assertion_is_refused(client, ready_customer, at):
    from wangyin.authn.models import Passkey

    sign_in(client, "zhangwei_01", PASSWORD)
    Passkey.objects.create(person=ready_customer.person, credential_id="AAAA",
                           public_key=b"not a key", label="test", created_at=at)
    client.post("/security/", {"reserved_message": "窗外的梧桐"})
    assert "passkey-get" in client.get("/security/confirm/").content.decode()
    forged = '{"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}'
    response = client.post("/security/confirm/", {"code": sms_code("authn.security.change"),
                                                  "passkey_assertion": forged})
    assert response.status_code == 400
    assert ChannelUser.objects.get().reserved_message != "窗外的梧桐"


@pytest.mark.req("ON-10", "FA-06")
def test_customers_report_a_usb_key_lost_or_remove_a_soft_certificate_at_once(
        client, ready_customer, make_person):
    from wangyin.authn import certificates
    from wangyin.authn.models import Certificate, UsbKey
    from wangyin.core import pki
    from wangyin.notify.models import SmsMessage

    now = clock.now()
    person = ready_customer.person
    key, _reference = certificates.usb_key_bind(person_id=person.pk, serial="UK20260001",
                                                staff="staff:7", at=now)
    suite = pki.SUITES["sm2"]
    request = pki.request_build(suite, suite.generate(), serial_number="UK20260001")
    usb_cert = certificates._issue(person=person, medium="USBKEY", at=now, usb_key=key,
                                   device_id="", request=pki.request_parse(request))
    soft = pki.SUITES["p256"]
    soft_cert = certificates.soft_certificate_enrol(
        person=person, device_id="elsewhere", at=now,
        request_der=pki.request_build(soft, soft.generate(), common_name="b"))
    sign_in(client, "zhangwei_01", PASSWORD)
    page = client.get("/security/").content.decode()
    assert "…0001" in page and 'id="certificate-SOFTCERT"' in page
    # Someone else's certificate serial changes nothing.
    other = make_person(id_type="PASSPORT", id_number="E12345678", name="李四",
                        phone="13900000000")
    other_key, _ = certificates.usb_key_bind(person_id=other.pk, serial="UK20269999",
                                             staff="staff:7", at=now)
    other_cert = certificates._issue(
        person=other, medium="USBKEY", at=now, usb_key=other_key, device_id="",
        request=pki.request_parse(pki.request_build(suite, suite.generate())))
    client.post(f"/security/certificates/{other_cert.serial}/withdraw/")
    assert Certificate.objects.get(pk=other_cert.pk).status == "ACTIVE"
    client.post(f"/security/certificates/{usb_cert.serial}/withdraw/")
    assert UsbKey.objects.get(pk=key.pk).status == "LOST"
    assert Certificate.objects.get(pk=usb_cert.pk).status == "REVOKED"
    client.post(f"/security/certificates/{soft_cert.serial}/withdraw/")
    assert Certificate.objects.get(pk=soft_cert.pk).status == "REVOKED"
    texts = SmsMessage.objects.filter(purpose="identity.certificate_withdrawn")
    assert texts.count() == 2 and "挂失" in texts.order_by("id").first().body
