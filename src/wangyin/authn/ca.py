"""The bank's certificate authority (FA-05, FA-06, ON-09): one self-signed root per suite
(``sm2`` for USB-Keys, ``p256`` for browser soft certificates; see ``core.pki``) that
signs customer certificates for keys generated on the customer's side.

A root's private key and certificate come from ``WANGYIN_CA_SM2`` / ``WANGYIN_CA_P256``
(the PEM key followed by the PEM certificate) or, on a development machine, from
``var/keys/ca_sm2`` / ``var/keys/ca_p256``, created on first use. Revocation status is the
``Certificate`` table: a certificate is trusted only while its row is active."""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from asn1crypto import pem as asn1_pem
from asn1crypto import x509

from wangyin.core import pki
from wangyin.core.keys import key_file

ROOT_NAME = {"organization_name": "网银银行", "common_name": "网银银行客户证书根CA"}
ROOT_YEARS = 20
CUSTOMER_YEARS = 3


@dataclass(frozen=True)
class Authority:
    suite: pki.Suite
    key: object
    certificate: x509.Certificate

    @property
    def key_id(self) -> bytes:
        return self.certificate.key_identifier


def _create_root(suite: pki.Suite) -> str:
    key = suite.generate()
    now = datetime.now(UTC).replace(microsecond=0)
    root = pki.name(**ROOT_NAME, organizational_unit_name=suite.name.upper())
    _serial, der = pki.certificate_build(
        suite=suite, issuer_key=key, issuer=root, subject=root,
        public_der=suite.public_der(key), not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(days=365 * ROOT_YEARS), authority=True)
    return suite.key_pem(key).decode() + asn1_pem.armor("CERTIFICATE", der).decode()


@cache
def authority(suite_name: str) -> Authority:
    suite = pki.SUITES[suite_name]
    env = f"WANGYIN_CA_{suite_name.upper()}"
    text = os.environ.get(env) or key_file(f"ca_{suite_name}", env=env,
                                           generate=lambda: _create_root(suite))
    blocks = dict(_pem_blocks(text))
    if "PRIVATE KEY" not in blocks or "CERTIFICATE" not in blocks:
        raise ValueError(f"{env}: expected a PEM private key and a PEM certificate")
    key = suite.key_load(asn1_pem.armor("PRIVATE KEY", blocks["PRIVATE KEY"]))
    certificate = pki.certificate_load(blocks["CERTIFICATE"])
    if certificate.public_key.dump() != suite.public_der(key) or not certificate.ca:
        raise ValueError(f"{env}: the certificate is not the CA certificate of this key")
    return Authority(suite, key, certificate)


def _pem_blocks(text: str):
    for match in re.finditer(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", text, re.S):
        yield match.group(1), base64.b64decode("".join(match.group(2).split()))


def root_pem(suite_name: str) -> str:
    return asn1_pem.armor("CERTIFICATE", authority(suite_name).certificate.dump()).decode()


def issue(*, request: pki.SigningRequest, common_name: str, serial_number: str,
          at: datetime) -> tuple[str, bytes, datetime, datetime]:
    """Sign a certificate for the request's key; returns (serial hex, DER, not before,
    not after). The subject is the bank's choice, not the request's."""
    ca = authority(request.suite.name)
    not_before = at.replace(microsecond=0) - timedelta(minutes=5)
    not_after = min(not_before + timedelta(days=365 * CUSTOMER_YEARS),
                    ca.certificate.not_valid_after)
    serial, der = pki.certificate_build(
        suite=request.suite, issuer_key=ca.key, issuer=ca.certificate.subject,
        subject=pki.name(country_name="CN", organization_name=ROOT_NAME["organization_name"],
                         common_name=common_name, serial_number=serial_number),
        public_der=request.public_der, not_before=not_before, not_after=not_after,
        issuer_key_id=ca.key_id)
    return f"{serial:x}", der, not_before, not_after


def chain_problem(der: bytes, at: datetime) -> str:
    """Why the certificate is not to be trusted at ``at`` by the chain and the validity
    period ("" when it is); revocation is the caller's ``Certificate`` row."""
    try:
        certificate = pki.certificate_load(der)
        suite = pki.suite_of_oid(certificate["signature_algorithm"]["algorithm"].dotted)
    except pki.PkiError:
        return "malformed"
    root = authority(suite.name).certificate
    if not pki.issued_by(certificate, root):
        return "not issued by this bank"
    if not all(c.not_valid_before <= at < c.not_valid_after for c in (certificate, root)):
        return "expired or not yet valid"
    return ""
