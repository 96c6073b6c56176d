"""Electronic receipts (电子回单): one row per business event, written once.

A ``Receipt`` keeps the receipt's fields as canonical data, the bank's signature over
them, and the exact PDF issued with its SHA-256 — the PDF is stored, not re-rendered, so
a receipt downloaded years later is byte for byte the one first issued, whatever
library upgrades happened since. Rows are append-only (a trigger refuses UPDATE and
DELETE, migration 0002). The certificate each receipt was signed under is kept in
``Signer`` for ever, so old receipts still verify after the signing key is rotated."""

from django.db import models
from django.db.models import Q

CODE_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{16}$"  # Crockford base32, 80 bits


class Signer(models.Model):
    """A document-signing certificate of the bank (issued by the bank's CA)."""

    fingerprint = models.CharField(max_length=64, unique=True)  # SHA-256 of the DER
    suite = models.CharField(max_length=8)  # core.pki suite of the key: sm2 / p256
    certificate = models.BinaryField()  # DER
    first_used_at = models.DateTimeField()


class Receipt(models.Model):
    # What the receipt is of, unique: "transfer:123", later "corporate.debit:45" ...
    reference = models.CharField(max_length=64, unique=True)
    number = models.CharField(max_length=24, unique=True)  # 回单编号, printed
    code = models.CharField(max_length=16, unique=True)  # verification code, printed
    data = models.JSONField()  # the canonical fields (everything the PDF says)
    digest = models.CharField(max_length=64)  # SM3 of the canonical bytes of ``data``
    signer = models.ForeignKey(Signer, on_delete=models.PROTECT, related_name="receipts")
    signature = models.BinaryField()  # over the canonical bytes of ``data``
    pdf = models.BinaryField()  # the exact bytes issued
    pdf_sha256 = models.CharField(max_length=64, unique=True)
    # Binds the PDF to the data: a signature over number, digest and pdf_sha256.
    pdf_signature = models.BinaryField()
    issued_at = models.DateTimeField()
    issued_by = models.CharField(max_length=80)  # the actor whose request issued it

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=CODE_PATTERN),
                                   name="receipts_receipt_code_format"),
            models.CheckConstraint(condition=Q(pdf_sha256__regex=r"^[0-9a-f]{64}$"),
                                   name="receipts_receipt_pdf_sha256_hex"),
        ]
