"""The bank's document-signing key for receipts (电子回单签章): SM2 with SM3 (``core.pki``),
its certificate issued by the bank's CA (``authn.ca``, the SM2 root), so anyone holding
the bank's root certificate can check a receipt's signature.

Production sets ``WANGYIN_RECEIPT_SIGNER``: the PEM private key followed by the PEM
certificate (a CSR for the key, signed by the bank's CA). A development machine makes
``var/keys/receipt_signer_sm2`` on first use: a new key and a certificate from the local
CA. Certificates used are kept in ``receipts.Signer``, so after a rotation old receipts
still verify against the certificate they were signed under."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from asn1crypto import pem as asn1_pem

from wangyin.authn import ca
from wangyin.core import pki
from wangyin.core.keys import MissingKey, key_file

ENV = "WANGYIN_RECEIPT_SIGNER"
SUITE = "sm2"
COMMON_NAME = "网银银行电子回单签章"


@dataclass(frozen=True)
class DocumentSigner:
    suite: pki.Suite
    key: object
    certificate: bytes  # DER

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.certificate).hexdigest()

    def sign(self, data: bytes) -> bytes:
        return self.suite.sign(self.key, data)


def _create() -> str:
    suite = pki.SUITES[SUITE]
    key = suite.generate()
    request = pki.request_parse(pki.request_build(suite, key, common_name=COMMON_NAME))
    _serial, der, _start, _end = ca.issue(request=request, common_name=COMMON_NAME,
                                          serial_number="RECEIPTS", at=datetime.now(UTC))
    return suite.key_pem(key).decode() + asn1_pem.armor("CERTIFICATE", der).decode()


@cache
def signer() -> DocumentSigner:
    text = os.environ.get(ENV) or key_file(f"receipt_signer_{SUITE}", env=ENV,
                                           generate=_create)
    blocks = {kind: der for kind, _headers, der
              in asn1_pem.unarmor(text.encode(), multiple=True)}
    if "PRIVATE KEY" not in blocks or "CERTIFICATE" not in blocks:
        raise MissingKey(f"{ENV}: expected a PEM private key and a PEM certificate")
    certificate = pki.certificate_load(blocks["CERTIFICATE"])
    suite = pki.SUITES[SUITE]
    key = suite.key_load(asn1_pem.armor("PRIVATE KEY", blocks["PRIVATE KEY"]))
    if pki.public_der_of(certificate) != suite.public_der(key):
        raise MissingKey(f"{ENV}: the certificate is not the certificate of this key")
    return DocumentSigner(suite, key, blocks["CERTIFICATE"])


def signer_at(at: datetime) -> DocumentSigner:
    """The signer, refusing a certificate the bank's CA did not issue or that is not valid
    at ``at`` (a receipt must verify for as long as it is kept)."""
    current = signer()
    problem = ca.chain_problem(current.certificate, at)
    if problem:
        raise MissingKey(f"the receipt signing certificate is {problem}: renew {ENV}")
    return current


def verify(*, suite: str, certificate: bytes, signature: bytes, data: bytes,
           signed_at: datetime) -> bool:
    """Whether ``signature`` over ``data`` is by the key of ``certificate``, a certificate
    of the bank's CA valid when the receipt was signed."""
    if suite not in pki.SUITES or ca.chain_problem(certificate, signed_at):
        return False
    try:
        public_der = pki.public_der_of(pki.certificate_load(certificate))
    except pki.PkiError:
        return False
    return pki.SUITES[suite].verify(public_der, signature, data)
