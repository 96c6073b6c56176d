"""Customer certificates: USB-Keys (FA-05, ON-09, ON-10) and browser soft certificates
(FA-06), issued by the bank's CA (``authn.ca``) for keys generated on the customer's side.

USB-Key: the teller binds the key's serial to the customer (``usb_key_bind``), which opens
an enrolment: a reference code printed for the customer at the counter and an
authorisation code sent to the reserved phone, both valid two days, both needed, five
wrong tries close the enrolment, and it works once. The customer then lets the key make
its signing request (SM2, carrying the key's serial) and submits it with the two codes
(``usb_key_enrol``): the request must be signed by its own key and come from the bound
serial; the certificate is issued and handed over once.

Soft certificate: the browser makes a non-extractable P-256 key and a signing request;
the customer confirms with a step-up (SMS and a held device, bound to this device) and the
certificate is bound one-to-one to the device (``soft_certificate_enrol``).

Signing: a challenge that asks for a certificate carries a payload (``sign_payload``:
the key data, challenge serial, time and server random; TX-04) that the key signs.
``signature_accept`` checks chain, validity, revocation and the signature, and keeps the
signature for non-repudiation."""

from __future__ import annotations

import hmac
import json
import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from wangyin.audit import services as audit
from wangyin.authn import ca
from wangyin.authn.errors import EnrolmentFailed, NoCertificate, NoUsbKey, UsbKeyUnusable
from wangyin.authn.keydata import KeyData, new_nonce
from wangyin.authn.models import (
    AuthChallenge,
    Certificate,
    CertStatus,
    Enrolment,
    Factor,
    Signature,
    UsbKey,
    UsbKeyStatus,
)
from wangyin.core import pki
from wangyin.core.crypto import blind_index
from wangyin.customers.errors import PartyNotFound
from wangyin.customers.models import Person
from wangyin.notify import services as notify

_SERIAL = re.compile(r"^[A-Z0-9]{8,32}$")
CODE_LIFETIME = timedelta(days=2)
MAX_CODE_TRIES = 5
USB_KEY_SUITE = "sm2"  # the national algorithms (FA-05)
SOFT_CERT_SUITE = "p256"  # what every browser's WebCrypto has


def _code_hash(enrolment_id: int, kind: str, code: str) -> str:
    return blind_index(f"{enrolment_id}:{kind}:{code}", purpose="authn.cert_code")


def _digits(n: int) -> str:
    return f"{secrets.randbelow(10 ** n):0{n}d}"


# USB-Key at the counter (ON-10)

@transaction.atomic
def usb_key_bind(*, person_id: int, serial: str, staff: str, at: datetime,
                 reason: str = "", company_id: int | None = None) -> tuple[UsbKey, str]:
    """Bind a USB-Key's serial to the customer (with ``company_id``: to them as an operator
    of that company) and open its certificate download. Returns the key and the reference
    code to print for the customer (the authorisation code goes to the reserved phone)."""
    serial = (serial or "").strip().upper()
    if not _SERIAL.fullmatch(serial):
        raise UsbKeyUnusable(extra={"why": "serial format"})
    person = Person.objects.select_for_update().filter(pk=person_id).first()
    if person is None:
        raise PartyNotFound(extra={"person_id": person_id})
    try:
        with transaction.atomic():
            key = UsbKey.objects.create(person=person, company_id=company_id, serial=serial,
                                        bound_at=at, bound_by=staff)
    except IntegrityError as exc:
        raise UsbKeyUnusable(extra={"why": "serial or customer already bound"}) from exc
    audit.record(actor=staff, action="authn.usb_key.bound", target=f"person:{person_id}",
                 occurred_at=at, details={"serial": serial, "reason": reason,
                                          "company": company_id})
    return key, _open_usb_key_enrolment(key, staff=staff, at=at)


@transaction.atomic
def usb_key_codes_renew(*, person_id: int, staff: str, at: datetime, reason: str = "",
                        company_id: int | None = None) -> str:
    """New codes for the customer's bound key (the old ones expired or were lost); the
    old enrolment stops working. Returns the new reference code."""
    key = _active_usb_key(person_id, company_id)
    return _open_usb_key_enrolment(key, staff=staff, at=at, reason=reason)


def _open_usb_key_enrolment(key: UsbKey, *, staff: str, at: datetime, reason: str = "") -> str:
    Enrolment.objects.filter(usb_key=key, used_at__isnull=True, expires_at__gt=at).update(
        expires_at=at)
    reference, code = _digits(10), _digits(8)
    enrolment = Enrolment.objects.create(
        person=key.person, medium=Factor.USBKEY, usb_key=key, created_at=at,
        created_by=staff, expires_at=at + CODE_LIFETIME, reference_hash="", code_hash="")
    enrolment.reference_hash = _code_hash(enrolment.pk, "reference", reference)
    enrolment.code_hash = _code_hash(enrolment.pk, "authorisation", code)
    enrolment.save(update_fields=["reference_hash", "code_hash"])
    notify.sms_send(phone=key.person.phone, purpose="authn.cert_code", actor=staff, at=at,
                    body=f"{settings.SMS_SIGNATURE}您的USB-Key（尾号{key.serial[-4:]}）证书"
                    f"授权码 {code}，与柜台提供的参考号一起使用，2天内有效。请勿告诉任何人。")
    audit.record(actor=staff, action="authn.enrolment.opened", target=f"person:{key.person_id}",
                 occurred_at=at, details={"medium": Factor.USBKEY, "serial": key.serial,
                                          "enrolment": enrolment.pk, "reason": reason})
    return reference


def _active_usb_key(person_id: int, company_id: int | None) -> UsbKey:
    key = (UsbKey.objects.select_for_update().select_related("person")
           .filter(person_id=person_id, company_id=company_id, status=UsbKeyStatus.ACTIVE)
           .first())
    if key is None:
        raise NoUsbKey(extra={"person_id": person_id})
    return key


@transaction.atomic
def usb_key_end(*, person_id: int, lost: bool, actor: str, reason: str,
                at: datetime, company_id: int | None = None) -> UsbKey:
    """The key is returned, replaced or reported lost: unbind it and revoke its
    certificate at once (a lost key signs nothing more). A replacement is bound anew."""
    key = _active_usb_key(person_id, company_id)
    key.status = UsbKeyStatus.LOST if lost else UsbKeyStatus.REVOKED
    key.ended_at = at
    key.save(update_fields=["status", "ended_at"])
    Enrolment.objects.filter(usb_key=key, used_at__isnull=True, expires_at__gt=at).update(
        expires_at=at)
    for certificate in Certificate.objects.filter(usb_key=key, status=CertStatus.ACTIVE):
        _revoke(certificate, reason="key lost" if lost else "key returned", at=at)
    audit.record(actor=actor, action="authn.usb_key.lost" if lost else "authn.usb_key.ended",
                 target=f"person:{person_id}", occurred_at=at,
                 details={"serial": key.serial, "reason": reason, "company": company_id})
    if actor != f"customer:{person_id}":  # online, identity.certificate_withdraw tells it
        notify.notice_send(person=key.person, kind="security.factor_removed",
                           params={"factor": "usb_key"}, at=at)
    return key


def usb_key_of(person, company_id: int | None = None) -> UsbKey | None:
    """The person's active key: their personal one, or the one for ``company_id``."""
    return UsbKey.objects.filter(person=person, company_id=company_id,
                                 status=UsbKeyStatus.ACTIVE).first()


def usb_key_enrol(*, person, reference_code: str, authorisation_code: str,
                  request_der: bytes, at: datetime,
                  company_id: int | None = None) -> Certificate:
    """The USB-Key's signing request, with the counter's reference code and the SMS
    authorisation code (ON-09). Raises ``EnrolmentFailed``; a wrong try is committed."""
    outcome = _usb_key_enrol(person=person, reference_code=reference_code,
                             authorisation_code=authorisation_code,
                             request_der=request_der, at=at, company_id=company_id)
    if isinstance(outcome, str):
        raise EnrolmentFailed(extra={"why": outcome})
    return outcome


@transaction.atomic
def _usb_key_enrol(*, person, reference_code, authorisation_code, request_der, at,
                   company_id):
    enrolment = (Enrolment.objects.select_for_update(of=("self",)).select_related("usb_key")
                 .filter(person=person, medium=Factor.USBKEY, used_at__isnull=True,
                         usb_key__company_id=company_id, expires_at__gt=at)
                 .order_by("-created_at").first())
    if enrolment is None or enrolment.usb_key.status != UsbKeyStatus.ACTIVE:
        return "no open enrolment"
    good = (hmac.compare_digest(enrolment.reference_hash, _code_hash(
                enrolment.pk, "reference", (reference_code or "").strip()))
            & hmac.compare_digest(enrolment.code_hash, _code_hash(
                enrolment.pk, "authorisation", (authorisation_code or "").strip())))
    if not good:
        enrolment.attempts += 1
        if enrolment.attempts >= MAX_CODE_TRIES:
            enrolment.expires_at = at
        enrolment.save(update_fields=["attempts", "expires_at"])
        audit.record(actor=f"customer:{person.pk}", action="authn.enrolment.failed",
                     result="FAILURE", target=f"enrolment:{enrolment.pk}", occurred_at=at,
                     details={"why": "codes", "attempts": enrolment.attempts})
        return "codes"
    try:
        request = pki.request_parse(request_der)
    except pki.PkiError as exc:
        return f"request: {exc}"
    if request.suite.name != USB_KEY_SUITE:
        return "request: not an SM2 key"
    if request.subject.get("serial_number") != enrolment.usb_key.serial:
        audit.record(actor=f"customer:{person.pk}", action="authn.enrolment.failed",
                     result="FAILURE", target=f"enrolment:{enrolment.pk}", occurred_at=at,
                     details={"why": "device serial differs"})
        return "device serial differs"
    enrolment.used_at = at
    enrolment.save(update_fields=["used_at"])
    for old in Certificate.objects.filter(usb_key=enrolment.usb_key, status=CertStatus.ACTIVE):
        _revoke(old, reason="superseded", at=at)
    certificate = _issue(person=person, medium=Factor.USBKEY, request=request, at=at,
                         usb_key=enrolment.usb_key, device_id="")
    notify.notice_send(person=person, kind="security.factor_added",
                       params={"factor": "usb_key"}, at=at)
    return certificate


# Soft certificate in the browser (FA-06)

@transaction.atomic
def soft_certificate_enrol(*, person, device_id: str, request_der: bytes,
                           at: datetime) -> Certificate:
    """Issue a soft certificate bound to ``device_id``; the caller has spent a step-up
    authorisation for it on this device. A previous soft certificate on this device is
    revoked."""
    try:
        request = pki.request_parse(request_der)
    except pki.PkiError as exc:
        raise EnrolmentFailed(extra={"why": f"request: {exc}"}) from None
    if request.suite.name != SOFT_CERT_SUITE or not device_id:
        raise EnrolmentFailed(extra={"why": "suite or device"})
    for old in Certificate.objects.select_for_update().filter(
            person=person, medium=Factor.SOFTCERT, device_id=device_id,
            status=CertStatus.ACTIVE):
        _revoke(old, reason="superseded", at=at)
    certificate = _issue(person=person, medium=Factor.SOFTCERT, request=request, at=at,
                         usb_key=None, device_id=device_id)
    # A new way to sign is told on a second channel (FA-06).
    notify.notice_send(person=person, kind="security.factor_added",
                       params={"factor": "soft_certificate"}, at=at,
                       sms_purpose="authn.softcert_enrolled",
                       sms=f"{settings.SMS_SIGNATURE}您已在一台设备上安装网银软证书。"
                       "如非本人操作，请立即致电本行客服。")
    return certificate


def _issue(*, person, medium, request, at, usb_key, device_id) -> Certificate:
    operator_of = usb_key.company_id if usb_key else None
    serial, der, not_before, not_after = ca.issue(
        request=request, common_name=f"wangyin-operator-{person.pk}-{operator_of}"
        if operator_of else f"wangyin-customer-{person.pk}",
        serial_number=usb_key.serial if usb_key else f"device-{device_id[:16]}", at=at)
    certificate = Certificate.objects.create(
        person=person, medium=medium, suite=request.suite.name, serial=serial, der=der,
        usb_key=usb_key, device_id=device_id, not_before=not_before, not_after=not_after,
        issued_at=at)
    audit.record(actor=f"customer:{person.pk}", action="authn.certificate.issued",
                 target=f"certificate:{serial}", occurred_at=at,
                 details={"medium": medium, "suite": request.suite.name})
    return certificate


# Revocation

def _revoke(certificate: Certificate, *, reason: str, at: datetime) -> None:
    certificate.status, certificate.revoked_at = CertStatus.REVOKED, at
    certificate.revoked_reason = reason
    certificate.save(update_fields=["status", "revoked_at", "revoked_reason"])


@transaction.atomic
def certificate_revoke(*, person, serial: str, actor: str, reason: str,
                       at: datetime) -> Certificate:
    certificate = (Certificate.objects.select_for_update()
                   .filter(person=person, serial=serial, status=CertStatus.ACTIVE).first())
    if certificate is None:
        raise NoCertificate(extra={"serial": serial})
    _revoke(certificate, reason=reason, at=at)
    audit.record(actor=actor, action="authn.certificate.revoked",
                 target=f"certificate:{serial}", occurred_at=at, details={"reason": reason})
    return certificate


def certificates_of(person, *, active_only: bool = True) -> list[Certificate]:
    rows = Certificate.objects.filter(person=person)
    if active_only:
        rows = rows.filter(status=CertStatus.ACTIVE)
    return list(rows.select_related("usb_key").order_by("-issued_at"))


def certificate_for(person, factor: str, *, device_id: str = "",
                    company_id: int | None = None) -> Certificate | None:
    """The certificate that signs for ``factor``: the USB-Key's (the personal key, or the
    one for ``company_id``), or this device's soft certificate (personal only)."""
    rows = Certificate.objects.filter(person=person, medium=factor, status=CertStatus.ACTIVE)
    if factor == Factor.SOFTCERT:
        rows = rows.filter(device_id=device_id) if device_id and company_id is None \
            else rows.none()
    else:
        rows = rows.filter(Q(usb_key__status=UsbKeyStatus.ACTIVE),
                           usb_key__company_id=company_id)
    return rows.order_by("-issued_at").first()


# Signing

def sign_payload(*, challenge: AuthChallenge, key: KeyData | None, at: datetime,
                 what: str, detail: str = "") -> str:
    """What the key signs (TX-04): what it is for in words, the challenge serial, the
    (Beijing) time, the operation's key data (payee account and name, amount, device,
    server random) or, without key data, the digest the challenge is bound to, what the
    change is in the customer's words (``detail``) and a fresh server random. Canonical
    JSON."""
    body = {"bank": ca.ROOT_NAME["organization_name"], "purpose": challenge.purpose,
            "what": what, "serial": str(challenge.pk),
            "time": timezone.localtime(at).isoformat(timespec="seconds"),
            "digest": challenge.digest}
    if key is not None:
        body.update(json.loads(key.canonical()))
    else:
        body["nonce"] = new_nonce()
    if detail:
        body["detail"] = detail
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def signature_accept(*, challenge: AuthChallenge, signature: bytes, at: datetime) -> str:
    """Check the signature over the challenge's payload; "" when good (and kept, FA-05),
    else why not."""
    certificate = (Certificate.objects.select_related("usb_key")
                   .filter(pk=challenge.certificate_id).first())
    if certificate is None or certificate.status != CertStatus.ACTIVE:
        return "revoked"
    if certificate.usb_key is not None and certificate.usb_key.status != UsbKeyStatus.ACTIVE:
        return "usb key ended"
    problem = ca.chain_problem(bytes(certificate.der), at)
    if problem:
        return problem
    suite = pki.SUITES[certificate.suite]
    public_der = pki.public_der_of(pki.certificate_load(bytes(certificate.der)))
    if not suite.verify(public_der, signature, challenge.sign_payload.encode()):
        return "bad signature"
    Signature.objects.create(person=challenge.person, certificate=certificate,
                             challenge=challenge, payload=challenge.sign_payload,
                             signature=signature, signed_at=at)
    return ""
