"""Electronic receipts (电子回单, FC-05, FP-03): issue once per business event, check.

``receipt_issue`` is generic: a domain (payments today, corporate debits and credits
later) names the event (``reference``, unique) and gives the fields; the receipt gets a
number, a verification code, canonical data signed with the bank's document-signing key
(SM2/SM3, ``signing``), a PDF whose SHA-256 is bound to the data by a second signature.
Asking again for the same reference returns the first receipt.

A receipt is **genuine** when the bank issued it and it is unaltered:

- by code: a receipt with that code exists and its signatures verify (the page then shows
  its key fields, masked, to compare with the paper or file in hand);
- by file: the uploaded bytes hash to an issued receipt's PDF and its signatures verify.
  Any other bytes are not genuine — one changed byte, a re-saved or re-printed file. If
  the file's metadata names a receipt, the verdict says that it claims to be that
  receipt but was altered.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from wangyin.audit import services as audit
from wangyin.audit.models import AuditResult
from wangyin.core.masking import mask_account, mask_name
from wangyin.receipts import codes, pdf, signing
from wangyin.receipts.models import Receipt, Signer

ISSUER = "网银银行"  # the bank, as its receipts name it
FORMAT = 1
MARKER = "wangyin-receipt/1"
_CLAIM = re.compile(r"wangyin-receipt/1 number=([0-9]{8,24}) code=([0-9A-Z]{16})")
# The Keywords entry of a PDF's document information, as a literal or a hex string.
_KEYWORDS = re.compile(rb"/Keywords\s*(?:\(((?:\\.|[^\\)])*)\)|<([0-9A-Fa-f\s]*)>)", re.S)
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)
_ESCAPED = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"\n": b""}

# How the public verify page shows a field (PI-03): as it is, masked, or not at all.
PLAIN, ACCOUNT, NAME, HIDDEN = "plain", "account", "name", "hidden"
_MASKS = {PLAIN: str, ACCOUNT: mask_account, NAME: mask_name}


@dataclass(frozen=True)
class Field:
    """One line of a receipt: printed as ``label`` (Chinese) and ``value``; the verify page
    uses ``label_en`` / ``value_en`` in English. ``wide`` fields take a row of their own."""

    key: str
    label: str
    label_en: str
    value: str
    show: str = PLAIN
    wide: bool = False
    value_en: str = ""

    def __post_init__(self) -> None:
        if self.show not in (*_MASKS, HIDDEN):
            raise ValueError(f"unknown show rule {self.show!r}")


def canonical(data: dict) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8. All values are strings,
    booleans or lists of them, so PostgreSQL's jsonb keeps them exactly."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode()


def sm3(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def _pdf_seal(number: str, digest: str, pdf_sha256: str) -> bytes:
    return f"{MARKER}/pdf\n{number}\n{digest}\n{pdf_sha256}".encode()


def _keywords(number: str, code: str, digest: str, signer: str, signature: bytes) -> str:
    return (f"{MARKER} number={number} code={code} digest={digest} signer={signer} "
            f"signature={base64.b64encode(signature).decode()}")


def _next_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('receipts_receipt', 'id'))")
        return cursor.fetchone()[0]


def _signer_row(document_signer: signing.DocumentSigner, at: datetime) -> Signer:
    row, _created = Signer.objects.get_or_create(
        fingerprint=document_signer.fingerprint,
        defaults={"suite": document_signer.suite.name,
                  "certificate": document_signer.certificate, "first_used_at": at})
    return row


def receipt_issue(*, reference: str, title: str, title_en: str, fields: Sequence[Field],
                  actor: str, at: datetime) -> Receipt:
    """The receipt of ``reference`` ("transfer:123"), issued now if it has none: signed,
    rendered, stored, audited, in one transaction. ``replayed`` on the result says whether
    it existed. The caller has decided that the event deserves a receipt."""
    if not 0 < len(reference) <= 64:
        raise ValueError("a reference of 1 to 64 characters")
    found = Receipt.objects.filter(reference=reference).first()
    if found is not None:
        found.replayed = True
        return found
    with transaction.atomic():
        document_signer = signing.signer_at(at)
        receipt_id = _next_id()
        issued_at = timezone.localtime(at).replace(microsecond=0)
        number = f"{issued_at:%Y%m%d}{receipt_id:010d}"
        code = codes.new_code()
        data = {"format": FORMAT, "issuer": ISSUER, "reference": reference, "number": number,
                "code": code, "issued_at": issued_at.isoformat(), "title": title,
                "title_en": title_en, "fields": [asdict(field) for field in fields]}
        payload = canonical(data)
        digest = sm3(payload)
        signature = document_signer.sign(payload)
        document = pdf.render(data, issuer=ISSUER, keywords=_keywords(
            number, code, digest, document_signer.fingerprint[:16], signature))
        pdf_sha256 = hashlib.sha256(document).hexdigest()
        try:
            with transaction.atomic():
                receipt = Receipt.objects.create(
                    id=receipt_id, reference=reference, number=number, code=code, data=data,
                    digest=digest, signer=_signer_row(document_signer, at),
                    signature=signature, pdf=document, pdf_sha256=pdf_sha256,
                    pdf_signature=document_signer.sign(_pdf_seal(number, digest, pdf_sha256)),
                    issued_at=at, issued_by=actor[:80])
        except IntegrityError:
            # A concurrent request issued it first (the insert waited for its commit).
            found = Receipt.objects.filter(reference=reference).first()
            if found is None:
                raise
            found.replayed = True
            return found
        audit.record(actor=actor, action="receipts.issued", target=f"receipt:{number}",
                     occurred_at=at, details={"reference": reference, "digest": digest,
                                              "pdf_sha256": pdf_sha256})
    receipt.replayed = False
    return receipt


def receipts_archive(entries: Sequence[tuple[str, Receipt]]):
    """The PDFs of ``entries`` (file name, receipt) as one zip, in a temporary file (kept in
    memory while small, on disk beyond 16 MB) opened at its start. The PDFs are stored
    as they were issued, not compressed again (they are compressed already), so each file
    in the archive is byte for byte the receipt that verifies."""
    archive = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as bundle:
        for name, receipt in entries:
            info = zipfile.ZipInfo(name, date_time=timezone.localtime(
                receipt.issued_at).timetuple()[:6])
            bundle.writestr(info, bytes(receipt.pdf))
    archive.seek(0)
    return archive


def receipt_intact(receipt: Receipt) -> bool:
    """Whether the stored receipt is as the bank signed it: the data's digest and
    signature, the PDF's hash and the signature binding it to the data, under a
    certificate of the bank's CA valid when it was issued."""
    payload = canonical(receipt.data)
    document = bytes(receipt.pdf)
    signer = receipt.signer
    check = {"suite": signer.suite, "certificate": bytes(signer.certificate),
             "signed_at": receipt.issued_at}
    return (sm3(payload) == receipt.digest
            and hashlib.sha256(document).hexdigest() == receipt.pdf_sha256
            and receipt.data.get("code") == receipt.code
            and receipt.data.get("number") == receipt.number
            and signing.verify(**check, signature=bytes(receipt.signature), data=payload)
            and signing.verify(**check, signature=bytes(receipt.pdf_signature),
                               data=_pdf_seal(receipt.number, receipt.digest,
                                              receipt.pdf_sha256)))


class Outcome:
    GENUINE = "GENUINE"  # issued by the bank and unaltered
    ALTERED = "ALTERED"  # a file that names a receipt of the bank but is not its bytes
    UNKNOWN = "UNKNOWN"  # no receipt with this code; a file that is no receipt of ours
    BROKEN = "BROKEN"  # the bank's own record fails its signature (never expected)


@dataclass(frozen=True)
class Verdict:
    outcome: str
    receipt: Receipt | None = None  # the genuine receipt, or the one a file claims to be

    @property
    def genuine(self) -> bool:
        return self.outcome == Outcome.GENUINE

    def shown_fields(self, *, english: bool = False) -> list[tuple[str, str]]:
        """(label, value) of a genuine receipt as the public may see them: account numbers
        and names masked, hidden fields left out (PI-03)."""
        if not self.genuine:
            return []
        shown = []
        for field in self.receipt.data["fields"]:
            if field["show"] == HIDDEN:
                continue
            value = (field.get("value_en") or field["value"]) if english else field["value"]
            shown.append((field["label_en"] if english else field["label"],
                          _MASKS[field["show"]](value)))
        return shown


def _judge(receipt: Receipt) -> Verdict:
    return Verdict(Outcome.GENUINE if receipt_intact(receipt) else Outcome.BROKEN, receipt)


def _record(verdict: Verdict, *, how: str, ip: str | None, at: datetime) -> None:
    audit.record(actor="public", action="receipts.verified", ip=ip, occurred_at=at,
                 target=f"receipt:{verdict.receipt.number}" if verdict.receipt else "",
                 result=AuditResult.SUCCESS if verdict.genuine else AuditResult.FAILURE,
                 details={"by": how, "outcome": verdict.outcome})


@transaction.atomic
def receipt_verify_code(*, code: str, ip: str | None, at: datetime) -> Verdict:
    """Check a verification code as someone typed it (look-alikes and separators are
    forgiven). The caller limits how often one client may ask."""
    normal = codes.normalise(code)
    receipt = (Receipt.objects.select_related("signer").filter(code=normal).first()
               if normal else None)
    verdict = _judge(receipt) if receipt is not None else Verdict(Outcome.UNKNOWN)
    _record(verdict, how="code", ip=ip, at=at)
    return verdict


def _unescape(match: re.Match) -> bytes:
    char = match.group(1)
    return bytes([int(char, 8) & 0xFF]) if char[:1].isdigit() else _ESCAPED.get(char, char)


def _text(raw: bytes) -> str:
    if raw.startswith(b"\xfe\xff"):
        return raw[2:].decode("utf-16-be", errors="replace")
    return raw.decode("latin-1")


def claimed(document: bytes) -> tuple[str, str] | None:
    """The (number, code) a PDF's metadata says it is, if it says so — also after another
    program saved it again (which may escape or hex-encode the text)."""
    for index, match in enumerate(_KEYWORDS.finditer(document)):
        literal, hexadecimal = match.groups()
        if literal is not None:
            raw = _ESCAPE.sub(_unescape, literal)
        else:
            digits = "".join(hexadecimal.decode().split())
            raw = bytes.fromhex(digits + "0" * (len(digits) % 2))  # a last digit may be left out
        found = _CLAIM.search(_text(raw))
        if found:
            return found.group(1), found.group(2)
        if index >= 8:
            break
    return None


@transaction.atomic
def receipt_verify_pdf(*, document: bytes, ip: str | None, at: datetime) -> Verdict:
    """Check an uploaded file: genuine only if its exact bytes are a PDF the bank issued."""
    receipt = (Receipt.objects.select_related("signer")
               .filter(pdf_sha256=hashlib.sha256(document).hexdigest()).first())
    if receipt is not None:
        verdict = _judge(receipt)
    else:
        claim = claimed(document)
        receipt = (Receipt.objects.filter(number=claim[0], code=claim[1]).first()
                   if claim else None)
        verdict = Verdict(Outcome.ALTERED if receipt else Outcome.UNKNOWN, receipt)
    _record(verdict, how="pdf", ip=ip, at=at)
    return verdict
