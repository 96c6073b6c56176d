"""Certificates of the bank's CA (FA-05, FA-06, ON-09, ON-10, TX-02, TX-04): the USB-Key
bound at the counter and enrolled with two codes that expire and work once, the soft
certificate bound to a device, signatures over the key data checked against chain,
validity and revocation, and kept."""

import base64
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509 as crypto_x509
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from wangyin.audit.models import AuditEvent
from wangyin.authn import ca, certificates, limits
from wangyin.authn import services as authn
from wangyin.authn.errors import (
    ChallengeFailed,
    EnrolmentFailed,
    NoCertificate,
    UsbKeyUnusable,
)
from wangyin.authn.keydata import KeyData, new_nonce
from wangyin.authn.models import Certificate, Signature, UsbKey
from wangyin.core import pki
from wangyin.notify.models import SmsMessage
from wangyin_sdk.usbkey import NotConfirmed, SoftUsbKey, UsbKeyLocked, WrongPin

pytestmark = pytest.mark.django_db

PIN = "246810"
SERIAL = "UK20260001"


@pytest.fixture
def now():
    # Certificates chain to a root created when the CA first ran: real time, not the
    # suite's fixed date.
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def device():
    return SoftUsbKey(SERIAL, PIN, confirm=lambda text: True)


def _bind(user, now, serial=SERIAL):
    _key, reference = certificates.usb_key_bind(person_id=user.person_id, serial=serial,
                                                staff="staff:7", at=now)
    body = SmsMessage.objects.filter(purpose="authn.cert_code").latest("id").body
    return reference, re.search(r"授权码 (\d{8})", body).group(1)


def _enrol(user, device, now, codes=None):
    reference, code = codes or _bind(user, now)
    certificate = certificates.usb_key_enrol(
        person=user.person, reference_code=reference, authorisation_code=code,
        request_der=device.signing_request(PIN), at=now)
    device.install(bytes(certificate.der))
    return certificate


def _payment_key():
    return KeyData(operation="transfer.same_bank", device="dev-1", nonce=new_nonce(),
                   payee_account="6222020200001234567", payee_name="李娜",
                   amount_fen=2_000_000_00)


def _sign_and_verify(user, device, now, key=None, tamper=None):
    key = key or _payment_key()
    challenge = authn.challenge_issue(person=user.person, purpose="transfer", key=key,
                                      factors=["SMS", "USBKEY"], at=now)
    body = SmsMessage.objects.filter(purpose="authn.transfer").latest("id").body
    sms = re.search(r"验证码 (\d{6})", body).group(1)
    payload = tamper(challenge.sign_payload) if tamper else challenge.sign_payload
    signature = base64.b64encode(device.sign(payload, PIN)).decode()
    return challenge, authn.challenge_verify(
        challenge_id=challenge.pk, person=user.person, purpose="transfer",
        digest=key.digest(), codes={"SMS": sms, "USBKEY": signature}, at=now)


@pytest.mark.req("FA-05")
@pytest.mark.parametrize("suite", ["sm2", "p256"])
def test_the_ca_issues_standard_certificates_for_requests_signed_by_their_key(suite, now):
    key = pki.SUITES[suite].generate()
    request = pki.request_parse(pki.request_build(pki.SUITES[suite], key, common_name="x"))
    serial, der, not_before, not_after = ca.issue(request=request, common_name="c",
                                                  serial_number="s", at=now)
    assert ca.chain_problem(der, now) == ""
    assert ca.chain_problem(der, not_after + timedelta(seconds=1)) == "expired or not yet valid"
    assert pki.certificate_load(der).serial_number == int(serial, 16)
    if suite == "p256":  # an independent implementation agrees
        crypto_x509.load_der_x509_certificate(der).verify_directly_issued_by(
            crypto_x509.load_pem_x509_certificate(ca.root_pem("p256").encode()))


@pytest.mark.req("FA-05")
@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_sm2_certificates_verify_with_openssl(now, tmp_path):
    key = pki.SUITES["sm2"].generate()
    request = pki.request_parse(pki.request_build(pki.SUITES["sm2"], key, common_name="x"))
    _serial, der, _nb, _na = ca.issue(request=request, common_name="c", serial_number="s",
                                      at=now)
    (tmp_path / "root.pem").write_text(ca.root_pem("sm2"))
    (tmp_path / "cert.der").write_bytes(der)
    openssl = shutil.which("openssl")
    subprocess.run([openssl, "x509", "-inform", "der", "-in",  # noqa: S603 - fixed argv
                    tmp_path / "cert.der", "-out", tmp_path / "cert.pem"], check=True)
    # OpenSSL 3.0 needs the standard signer ID spelled out (GM/T 0009 default).
    result = subprocess.run([openssl, "verify",  # noqa: S603 - fixed argv
                             "-vfyopt", "distid:1234567812345678",
                             "-CAfile", tmp_path / "root.pem", tmp_path / "cert.pem"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.req("FA-05", "TX-04")
@pytest.mark.parametrize("name", ["sm2", "p256"])
@pytest.mark.parametrize("signature", [b"x" * 64, b"", b"\x30\x02\x00\x00", b"\x00" * 72])
def test_bytes_that_are_no_signature_are_refused_not_an_error(name, signature):
    suite = pki.SUITES[name]
    key = suite.generate()
    public = suite.public_der(key)
    assert suite.verify(public, suite.sign(key, b"data"), b"data")
    assert suite.verify(public, signature, b"data") is False


def test_a_request_not_signed_by_its_own_key_is_refused():
    suite = pki.SUITES["p256"]
    der = bytearray(pki.request_build(suite, suite.generate(), common_name="x"))
    der[-5] ^= 0x01  # damage the signature
    with pytest.raises(pki.PkiError):
        pki.request_parse(bytes(der))
    with pytest.raises(pki.PkiError):
        pki.request_parse(b"not a request")


@pytest.mark.req("ON-09", "ON-10", "FA-05", "TX-04")
def test_usb_key_bound_at_the_counter_enrols_once_and_signs_the_key_data(user, device, now):
    certificate = _enrol(user, device, now)
    assert certificate.suite == "sm2" and certificate.usb_key.serial == SERIAL
    assert pki.certificate_load(bytes(certificate.der)).subject.native["serial_number"] == SERIAL
    key = _payment_key()
    challenge, verified = _sign_and_verify(user, device, now, key=key)
    assert verified.verified_at == now
    signed = Signature.objects.get(challenge=challenge)
    # TX-04: serial number, amount, payee account, date/time and a server random.
    for part in (f'"serial":"{challenge.pk}"', '"amount_fen":200000000',
                 '"payee_account":"6222020200001234567"', f'"nonce":"{key.nonce}"',
                 f'"time":"{timezone.localtime(now).isoformat()}"'):
        assert part in signed.payload
    assert pki.SUITES["sm2"].verify(
        pki.public_der_of(pki.certificate_load(bytes(certificate.der))),
        bytes(signed.signature), signed.payload.encode())
    assert limits.medium_of(verified.factors) == "USBKEY"


@pytest.mark.req("FA-05")
def test_kept_signatures_cannot_be_changed_or_removed(user, device, now):
    _enrol(user, device, now)
    _sign_and_verify(user, device, now)
    for statement in ("UPDATE authn_signature SET payload = 'x'", "DELETE FROM authn_signature"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert Signature.objects.count() == 1


@pytest.mark.req("ON-09")
def test_certificate_codes_work_once(user, device, now):
    codes = _bind(user, now)
    _enrol(user, device, now, codes=codes)
    with pytest.raises(EnrolmentFailed):
        _enrol(user, device, now, codes=codes)


@pytest.mark.req("ON-09")
def test_certificate_codes_expire_and_wrong_tries_close_the_enrolment(user, device, now):
    reference, code = _bind(user, now)
    with pytest.raises(EnrolmentFailed):
        _enrol(user, device, now + timedelta(days=2), codes=(reference, code))
    reference = certificates.usb_key_codes_renew(person_id=user.person_id, staff="staff:7",
                                                 at=now)
    code = re.search(r"授权码 (\d{8})", SmsMessage.objects.filter(
        purpose="authn.cert_code").latest("id").body).group(1)
    for _ in range(certificates.MAX_CODE_TRIES):
        with pytest.raises(EnrolmentFailed):
            _enrol(user, device, now, codes=(reference, f"{(int(code) + 1) % 10**8:08d}"))
    with pytest.raises(EnrolmentFailed):
        _enrol(user, device, now, codes=(reference, code))  # closed, even with the right codes
    assert AuditEvent.objects.filter(action="authn.enrolment.failed").count() == 5


@pytest.mark.req("ON-10")
def test_the_request_must_come_from_the_bound_key(user, now):
    codes = _bind(user, now)
    other = SoftUsbKey("UK99999999", PIN, confirm=lambda text: True)
    with pytest.raises(EnrolmentFailed):
        _enrol(user, other, now, codes=codes)
    browser_key = pki.SUITES["p256"].generate()
    with pytest.raises(EnrolmentFailed):
        certificates.usb_key_enrol(
            person=user.person, reference_code=codes[0], authorisation_code=codes[1],
            request_der=pki.request_build(pki.SUITES["p256"], browser_key,
                                          serial_number=SERIAL), at=now)


@pytest.mark.req("ON-10")
def test_one_usb_key_per_customer_and_serial(user, now, make_person):
    _bind(user, now)
    with pytest.raises(UsbKeyUnusable):
        _bind(user, now, serial="UK20260002")
    with pytest.raises(UsbKeyUnusable):
        certificates.usb_key_bind(person_id=user.person_id, serial="bad serial!",
                                  staff="staff:7", at=now)


@pytest.mark.req("ON-10", "FC-01")
def test_an_operators_key_signs_only_for_its_company(user, device, now, make_company):
    """A person with a personal key and a key as a company's operator: each signs only
    where it belongs; one active key per person per company."""
    company = make_company()
    personal = _enrol(user, device, now)
    operator_key = SoftUsbKey("UK20260077", PIN, confirm=lambda text: True)
    _key, reference = certificates.usb_key_bind(person_id=user.person_id, serial="UK20260077",
                                                staff="staff:7", at=now, company_id=company.pk)
    code = re.search(r"授权码 (\d{8})", SmsMessage.objects.filter(
        purpose="authn.cert_code").latest("id").body).group(1)
    with pytest.raises(EnrolmentFailed):  # the personal enrolment is used: not this one
        certificates.usb_key_enrol(person=user.person, reference_code=reference,
                                   authorisation_code=code,
                                   request_der=operator_key.signing_request(PIN), at=now)
    issued = certificates.usb_key_enrol(person=user.person, reference_code=reference,
                                        authorisation_code=code, company_id=company.pk,
                                        request_der=operator_key.signing_request(PIN), at=now)
    assert certificates.certificate_for(user.person, "USBKEY") == personal
    assert certificates.certificate_for(user.person, "USBKEY", company_id=company.pk) == issued
    assert certificates.usb_key_of(user.person).serial == SERIAL
    challenge = authn.challenge_issue(person=user.person, purpose="corporate.approve",
                                      factors=["USBKEY"], digest="d" * 64, at=now,
                                      summary="付款 ¥100.00", company_id=company.pk)
    assert challenge.certificate == issued
    with pytest.raises(UsbKeyUnusable):  # a second key for the same company
        certificates.usb_key_bind(person_id=user.person_id, serial="UK20260078",
                                  staff="staff:7", at=now, company_id=company.pk)
    certificates.usb_key_end(person_id=user.person_id, lost=True, actor="staff:7",
                             reason="lost", at=now, company_id=company.pk)
    assert certificates.certificate_for(user.person, "USBKEY", company_id=company.pk) is None
    assert certificates.certificate_for(user.person, "USBKEY") == personal


@pytest.mark.req("FA-05", "ON-10")
def test_revoked_lost_or_expired_certificates_sign_nothing(user, device, now):
    certificate = _enrol(user, device, now)
    with pytest.raises(ChallengeFailed):  # expired (the challenge is fresh, the cert is not)
        _sign_and_verify(user, device, certificate.not_after + timedelta(seconds=1))
    certificates.certificate_revoke(person=user.person, serial=certificate.serial,
                                    actor="staff:7", reason="test", at=now)
    with pytest.raises(NoCertificate):  # no valid certificate to ask for
        _sign_and_verify(user, device, now)
    # A certificate revoked after the challenge was issued is refused at verification.
    Certificate.objects.filter(pk=certificate.pk).update(status="ACTIVE")
    challenge = authn.challenge_issue(person=user.person, purpose="transfer",
                                      key=_payment_key(), factors=["USBKEY"], at=now)
    certificates.usb_key_end(person_id=user.person_id, lost=True, actor="customer",
                             reason="lost", at=now)
    assert UsbKey.objects.get().status == "LOST"
    assert Certificate.objects.get().status == "REVOKED"
    with pytest.raises(ChallengeFailed):
        authn.challenge_verify(
            challenge_id=challenge.pk, person=user.person, purpose="transfer",
            digest=challenge.digest, at=now,
            codes={"USBKEY": base64.b64encode(device.sign(challenge.sign_payload, PIN)).decode()})
    assert not Signature.objects.exists()


@pytest.mark.req("FA-05")
def test_a_certificate_from_another_ca_is_refused(user, device, now):
    certificate = _enrol(user, device, now)
    suite = pki.SUITES["sm2"]
    foreign_key = suite.generate()
    issuer = pki.name(common_name="Not the bank")
    _serial, der = pki.certificate_build(
        suite=suite, issuer_key=foreign_key, issuer=issuer, subject=pki.name(common_name="c"),
        public_der=pki.public_der_of(pki.certificate_load(bytes(certificate.der))),
        not_before=now - timedelta(days=1), not_after=now + timedelta(days=30))
    Certificate.objects.filter(pk=certificate.pk).update(der=der)
    assert ca.chain_problem(der, now) == "not issued by this bank"
    with pytest.raises(ChallengeFailed):
        _sign_and_verify(user, device, now)
    failed = AuditEvent.objects.filter(action="authn.challenge.failed").latest("id")
    assert failed.details["factors"]["USBKEY"] == "not issued by this bank"


@pytest.mark.req("TX-04", "TX-06")
def test_a_signature_over_other_data_is_refused(user, device, now):
    _enrol(user, device, now)
    with pytest.raises(ChallengeFailed):
        _sign_and_verify(user, device, now,
                         tamper=lambda payload: payload.replace("200000000", "100"))
    assert not Signature.objects.exists()


@pytest.mark.req("FA-05")
def test_the_software_usb_key_behaves_like_the_device(now):
    shown = []
    answers = iter([False, True])
    key = SoftUsbKey(SERIAL, PIN, confirm=lambda text: shown.append(text) or next(answers))
    key.signing_request(PIN)
    with pytest.raises(Exception, match="no certificate"):
        key.sign("{}", PIN)
    request = pki.request_parse(key.signing_request(PIN))
    _serial, der, _nb, _na = ca.issue(request=request, common_name="c", serial_number=SERIAL,
                                      at=now)
    key.install(der)
    payload = KeyData(operation="transfer.same_bank", device="d", nonce=new_nonce(),
                      payee_account="6222020200001234567", payee_name="李娜",
                      amount_fen=123456).canonical().decode()
    with pytest.raises(NotConfirmed):
        key.sign(payload, PIN)
    assert "6222020200001234567" in shown[0] and "李娜" in shown[0] and "1,234.56" in shown[0]
    assert pki.SUITES["sm2"].verify(request.public_der, key.sign(payload, PIN),
                                    payload.encode())
    for tries_left in range(5, 0, -1):  # 6 wrong PINs lock it, a right one in between resets
        with pytest.raises(WrongPin) as wrong:
            key.sign(payload, "000000")
        assert wrong.value.tries_left == tries_left
    with pytest.raises(UsbKeyLocked):
        key.sign(payload, "000000")
    with pytest.raises(UsbKeyLocked):
        key.sign(payload, PIN)
    assert not hasattr(key, "__dict__") and "key" not in repr(key).lower().replace("usbkey", "")


@pytest.mark.req("FA-06")
def test_soft_certificate_is_bound_to_its_device_and_told_by_sms(user, now):
    suite = pki.SUITES["p256"]
    browser_key = suite.generate()
    request = pki.request_build(suite, browser_key, common_name="browser")
    certificate = certificates.soft_certificate_enrol(person=user.person, device_id="dev-1",
                                                      request_der=request, at=now)
    assert certificate.medium == "SOFTCERT" and certificate.device_id == "dev-1"
    assert "软证书" in SmsMessage.objects.filter(
        purpose="authn.softcert_enrolled").latest("id").body
    key = KeyData(operation="transfer.same_bank", device="dev-2", nonce=new_nonce(),
                  payee_account="6222020200001234567", amount_fen=1)
    with pytest.raises(NoCertificate):
        authn.challenge_issue(person=user.person, purpose="transfer", key=key,
                              factors=["SOFTCERT"], at=now, device_id="dev-2")
    challenge = authn.challenge_issue(person=user.person, purpose="transfer", key=key,
                                      factors=["SOFTCERT"], at=now, device_id="dev-1")
    signature = base64.b64encode(suite.sign(browser_key, challenge.sign_payload.encode()))
    assert authn.challenge_verify(challenge_id=challenge.pk, person=user.person,
                                  purpose="transfer", digest=key.digest(), at=now,
                                  codes={"SOFTCERT": signature.decode()}).verified_at
    with pytest.raises(EnrolmentFailed):  # a soft certificate is P-256 (WebCrypto)
        certificates.soft_certificate_enrol(
            person=user.person, device_id="dev-3", at=now,
            request_der=pki.request_build(pki.SUITES["sm2"], pki.SUITES["sm2"].generate()))
    # A new soft certificate on the same device replaces the old one.
    certificates.soft_certificate_enrol(person=user.person, device_id="dev-1",
                                        request_der=request, at=now)
    assert Certificate.objects.filter(status="ACTIVE").count() == 1


@pytest.mark.req("FA-09", "TX-11", "TX-02")
def test_policy_table_with_certificates(user, device, now):
    def factors(amount, device_id="dev-1"):
        return limits.funds_factors(person=user.person, edition="PRO", device_id=device_id,
                                    operation="transfer.same_bank", amount_fen=amount)

    _enrol(user, device, now)
    assert factors(50_000_00) == ("SMS",)
    assert factors(50_000_01) == ("SMS", "USBKEY")  # the SMS code always comes too (TX-02)
    assert factors(5_000_000_00) == ("SMS", "USBKEY")
    with pytest.raises(limits.OverLimit):
        factors(5_000_000_01)
    suite = pki.SUITES["p256"]
    certificates.soft_certificate_enrol(
        person=user.person, device_id="dev-1", at=now,
        request_der=pki.request_build(suite, suite.generate(), common_name="b"))
    # The device with the lowest cap that covers the amount: this device's soft certificate
    # up to 1 000 000, the USB-Key above; on another device the soft certificate is absent.
    assert factors(1_000_000_00) == ("SMS", "SOFTCERT")
    assert factors(1_000_000_00, device_id="dev-9") == ("SMS", "USBKEY")
    assert factors(1_000_000_01) == ("SMS", "USBKEY")
    assert limits.medium_of(["SMS", "SOFTCERT"]) == "SOFTCERT"
