"""X.509 pieces shared by the bank's CA (``authn.ca``) and the client side (the software
USB-Key in ``wangyin_sdk``): two signature suites, PKCS#10 signing requests and
certificates. No Django here, so the SDK can use it on a customer's machine.

Suites:

- ``sm2``: SM2 on the curve sm2p256v1 with SM3 (GB/T 32918, GM/T 0015 certificates) through
  ``tongsuopy`` (OpenSSL-backed; the SM2 signer-ID is the standard default
  ``1234567812345678``). USB-Keys use it: the national algorithms (FA-05).
- ``p256``: ECDSA on P-256 with SHA-256 through ``cryptography``. Browsers' WebCrypto has
  no SM2, so soft certificates in the browser use it.

Structures are built and parsed with ``asn1crypto`` (it knows X.509 and PKCS#10 whatever
the algorithm); signing and verifying are left to the two crypto libraries."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType

from asn1crypto import csr, keys, x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tongsuopy.crypto import exceptions as sm_exceptions
from tongsuopy.crypto import hashes as sm_hashes
from tongsuopy.crypto import serialization as sm_serialization
from tongsuopy.crypto.asymciphers import ec as sm_ec

SM2_CURVE = "1.2.156.10197.1.301"
keys.NamedCurve.register("sm2p256v1", SM2_CURVE, 32)


class PkiError(ValueError):
    """A request or certificate that is malformed, wrongly signed or of the wrong suite."""


@dataclass(frozen=True)
class Suite:
    name: str
    curve_oid: str
    signature_oid: str
    _ec: ModuleType = field(repr=False)
    _serialization: ModuleType = field(repr=False)
    _curve: type = field(repr=False)
    _hash: type = field(repr=False)
    _invalid: type[Exception] = field(repr=False)
    # What the library raises for bytes that are no signature at all (Tongsuo's SM2:
    # InternalError); such a "signature" is refused like a wrong one.
    _malformed: tuple[type[Exception], ...] = field(default=(), repr=False)

    def generate(self):
        return self._ec.generate_private_key(self._curve())

    def sign(self, private_key, data: bytes) -> bytes:
        """A DER ``ECDSA-Sig-Value`` (r, s) over ``data``."""
        return private_key.sign(data, self._ec.ECDSA(self._hash()))

    def public_der(self, private_key) -> bytes:
        return private_key.public_key().public_bytes(
            self._serialization.Encoding.DER,
            self._serialization.PublicFormat.SubjectPublicKeyInfo)

    def verify(self, public_der: bytes, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is this suite's signature over ``data`` by the key in
        ``public_der`` (a SubjectPublicKeyInfo); anything malformed is simply False."""
        try:
            info = keys.PublicKeyInfo.load(public_der)
            if info["algorithm"]["parameters"].chosen.dotted != self.curve_oid:
                return False
            public_key = self._serialization.load_der_public_key(public_der)
            public_key.verify(signature, data, self._ec.ECDSA(self._hash()))
        except (self._invalid, *self._malformed, ValueError, TypeError, AttributeError):
            return False
        return True

    def key_pem(self, private_key, password: bytes | None = None) -> bytes:
        encryption = (self._serialization.BestAvailableEncryption(password) if password
                      else self._serialization.NoEncryption())
        return private_key.private_bytes(self._serialization.Encoding.PEM,
                                         self._serialization.PrivateFormat.PKCS8, encryption)

    def key_load(self, pem: bytes, password: bytes | None = None):
        return self._serialization.load_pem_private_key(pem, password)


SUITES = {
    "sm2": Suite("sm2", SM2_CURVE, "1.2.156.10197.1.501", sm_ec, sm_serialization,
                 sm_ec.SM2, sm_hashes.SM3, sm_exceptions.InvalidSignature,
                  (sm_exceptions.InternalError,)),
    "p256": Suite("p256", "1.2.840.10045.3.1.7", "1.2.840.10045.4.3.2", ec, serialization,
                  ec.SECP256R1, hashes.SHA256, InvalidSignature),
}


def suite_of_oid(signature_oid: str) -> Suite:
    for suite in SUITES.values():
        if suite.signature_oid == signature_oid:
            return suite
    raise PkiError(f"unsupported signature algorithm {signature_oid}")


def _algorithm(suite: Suite) -> dict:
    return {"algorithm": suite.signature_oid}  # parameters absent, as for every ECDSA


def name(**attributes: str) -> x509.Name:
    return x509.Name.build(attributes, use_printable=False)


# PKCS#10 signing requests

def request_build(suite: Suite, private_key, **subject: str) -> bytes:
    """A DER PKCS#10 request for ``private_key``'s public key, signed with it."""
    info = csr.CertificationRequestInfo({
        "version": "v1", "subject": name(**subject),
        "subject_pk_info": keys.PublicKeyInfo.load(suite.public_der(private_key)),
        "attributes": [],
    })
    return csr.CertificationRequest({
        "certification_request_info": info,
        "signature_algorithm": _algorithm(suite),
        "signature": suite.sign(private_key, info.dump()),
    }).dump()


@dataclass(frozen=True)
class SigningRequest:
    suite: Suite
    public_der: bytes
    subject: dict


def request_parse(der: bytes) -> SigningRequest:
    """Parse a request and check that it is signed by the key it carries (the requester
    holds the private key, ON-09). Raises ``PkiError``."""
    try:
        request = csr.CertificationRequest.load(der, strict=True)
        info = request["certification_request_info"]
        suite = suite_of_oid(request["signature_algorithm"]["algorithm"].dotted)
        public_der = info["subject_pk_info"].dump()
        subject = dict(info["subject"].native)
        signature = request["signature"].native
        signed = info.dump()
    except (ValueError, TypeError, KeyError) as exc:
        raise PkiError(f"not a PKCS#10 request: {exc}") from None
    if not suite.verify(public_der, signature, signed):
        raise PkiError("the request is not signed by the key it carries")
    return SigningRequest(suite, public_der, subject)


# Certificates

def _time(moment: datetime) -> x509.Time:
    return x509.Time({"utc_time" if moment.year < 2050 else "general_time": moment})


def certificate_build(*, suite: Suite, issuer_key, issuer: x509.Name, subject: x509.Name,
                      public_der: bytes, not_before: datetime, not_after: datetime,
                      authority: bool = False, issuer_key_id: bytes | None = None
                      ) -> tuple[int, bytes]:
    """Sign a v3 certificate; returns its serial number and DER."""
    public = keys.PublicKeyInfo.load(public_der)
    serial = secrets.randbits(127) | 1 << 126  # positive, 16 bytes, unpredictable
    usage = {"key_cert_sign", "crl_sign"} if authority else {"digital_signature",
                                                             "non_repudiation"}
    extensions = [
        {"extn_id": "basic_constraints", "critical": True,
         "extn_value": {"ca": authority}},
        {"extn_id": "key_usage", "critical": True, "extn_value": usage},
        {"extn_id": "key_identifier", "critical": False, "extn_value": public.sha1},
        {"extn_id": "authority_key_identifier", "critical": False,
         "extn_value": {"key_identifier": issuer_key_id or public.sha1}},
    ]
    tbs = x509.TbsCertificate({
        "version": "v3", "serial_number": serial, "signature": _algorithm(suite),
        "issuer": issuer, "validity": {"not_before": _time(not_before),
                                       "not_after": _time(not_after)},
        "subject": subject, "subject_public_key_info": public, "extensions": extensions,
    })
    certificate = x509.Certificate({
        "tbs_certificate": tbs, "signature_algorithm": _algorithm(suite),
        "signature_value": suite.sign(issuer_key, tbs.dump()),
    })
    return serial, certificate.dump()


def certificate_load(der: bytes) -> x509.Certificate:
    try:
        certificate = x509.Certificate.load(der, strict=True)
        _fields = certificate.native  # parse every field now, not later
    except (ValueError, TypeError) as exc:
        raise PkiError(f"not an X.509 certificate: {exc}") from None
    return certificate


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` (a CA certificate) signed ``certificate``."""
    try:
        suite = suite_of_oid(certificate["signature_algorithm"]["algorithm"].dotted)
    except PkiError:
        return False
    return (certificate.issuer == issuer.subject and issuer.ca
            and suite.verify(issuer["tbs_certificate"]["subject_public_key_info"].dump(),
                             certificate["signature_value"].native,
                             certificate["tbs_certificate"].dump()))


def public_der_of(certificate: x509.Certificate) -> bytes:
    return certificate["tbs_certificate"]["subject_public_key_info"].dump()
