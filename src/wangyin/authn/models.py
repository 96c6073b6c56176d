"""Authentication factors and challenges: one mechanism for every step-up (see
docs/architecture.md).

A challenge is bound to a person, a purpose, the factors it asks for and the digest of the
data it authorises (device id, new reserved message, later payee and amount …). Verified,
it is a single-use authorisation: the service that executes recomputes the digest from
what it is about to do and uses the authorisation once (TX-06)."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wangyin.core.fields import EncryptedTextField


class Factor(models.TextChoices):
    SMS = "SMS", _("SMS code to the reserved phone")
    TOTP = "TOTP", _("OTP token")
    OCRA = "OCRA", _("Challenge-response token")
    CARD = "CARD", _("Password card")
    PASSKEY = "PASSKEY", _("Passkey (fingerprint or face on this device)")
    USBKEY = "USBKEY", _("USB-Key")
    SOFTCERT = "SOFTCERT", _("Soft certificate on this device")
    FACE = "FACE", _("Face verification against the ID photo")


# The factors that are a token the customer holds, strongest first: a challenge-response
# token binds its answer to the payee and amount, a time-based one does not.
TOKEN_FACTORS = (Factor.OCRA, Factor.TOTP)
# The factors that are a signature with a certificate of the bank's CA.
CERT_FACTORS = (Factor.USBKEY, Factor.SOFTCERT)


class AuthChallenge(models.Model):
    # The customer the code goes to (their reserved phone). A challenge may come before the
    # customer has a login at all (self-registration), so it names the person.
    person = models.ForeignKey("customers.Person", on_delete=models.PROTECT,
                               related_name="challenges")
    purpose = models.CharField(max_length=40)
    digest = models.CharField(max_length=64)
    factors = ArrayField(models.CharField(max_length=8, choices=Factor.choices))
    code_hash = models.CharField(max_length=64, blank=True)  # the SMS code, keyed hash
    question = models.CharField(max_length=16, blank=True)  # typed into an OCRA token
    card_cells = models.CharField(max_length=12, blank=True)  # e.g. "B3 F7 J1"
    webauthn_challenge = models.CharField(max_length=64, blank=True)  # base64url
    # What a certificate signs (TX-04): the key data, the challenge serial, the time and
    # the server random, as canonical JSON; and the certificate that must sign it.
    sign_payload = models.TextField(blank=True)
    certificate = models.ForeignKey("Certificate", on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="+")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["person", "-created_at"], name="authn_challenge_recent")]
        constraints = [
            models.CheckConstraint(condition=Q(used_at__isnull=True)
                                   | Q(verified_at__isnull=False),
                                   name="authn_used_only_when_verified"),
            models.CheckConstraint(condition=Q(factors__len__gt=0),
                                   name="authn_challenge_has_factors"),
        ]


class TokenStatus(models.TextChoices):
    ACTIVE = "ACTIVE", _("In use")
    LOCKED = "LOCKED", _("Locked after wrong codes")
    REVOKED = "REVOKED", _("Revoked")


class OtpToken(models.Model):
    """A hardware token issued at the counter: time-based (RFC 6238, FA-02) or
    challenge-response (RFC 6287 OCRA with a time step, FA-03). The seed is encrypted at
    rest; ``last_step`` is the last accepted time step, so a code is accepted once."""

    person = models.ForeignKey("customers.Person", on_delete=models.PROTECT,
                               related_name="otp_tokens")
    kind = models.CharField(max_length=4, choices=[(Factor.TOTP, _("OTP token")),
                                                   (Factor.OCRA, _("Challenge-response token"))],
                            default=Factor.TOTP)
    serial = models.CharField(max_length=20, unique=True)
    seed = EncryptedTextField(purpose="authn.totp.seed")
    digits = models.PositiveSmallIntegerField(default=6)
    period = models.PositiveSmallIntegerField(default=30)
    last_step = models.BigIntegerField(default=0)
    failures = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=8, choices=TokenStatus.choices,
                              default=TokenStatus.ACTIVE)
    issued_at = models.DateTimeField()
    issued_by = models.CharField(max_length=40)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "kind"], condition=~Q(status="REVOKED"),
                                    name="authn_one_token_per_person_and_kind"),
            models.CheckConstraint(condition=Q(digits__gte=6) & Q(period__in=[30, 60]),
                                   name="authn_token_digits_period"),
        ]

    def __str__(self) -> str:
        return f"otp_token:{self.serial}"


class Medium(models.TextChoices):
    """What a funds operation was confirmed with, for limits (TX-11)."""

    SMS = "SMS", _("SMS code")
    TOKEN = "TOKEN", _("Security token")
    SOFT_CERT = "SOFTCERT", _("Soft certificate")
    USB_KEY = "USBKEY", _("USB-Key")


class MediumLimit(models.Model):
    """The bank's caps for payments confirmed with one medium: per payment, per day
    (cumulative) and payments per day. Staff edit them in the back office (audited)."""

    medium = models.CharField(max_length=8, choices=Medium.choices, unique=True)
    per_transaction_fen = models.BigIntegerField()
    per_day_fen = models.BigIntegerField()
    per_day_count = models.PositiveIntegerField()
    updated_at = models.DateTimeField()
    updated_by = models.CharField(max_length=40)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(per_transaction_fen__gt=0)
                                   & Q(per_day_fen__gte=models.F("per_transaction_fen"))
                                   & Q(per_day_count__gt=0),
                                   name="authn_medium_limit_sane"),
        ]


class CustomerLimit(models.Model):
    """Lower limits a customer chose for themselves (never above the bank's)."""

    person = models.OneToOneField("customers.Person", on_delete=models.PROTECT,
                                  related_name="own_limits")
    per_transaction_fen = models.BigIntegerField()
    per_day_fen = models.BigIntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(per_transaction_fen__gt=0)
                                   & Q(per_day_fen__gte=models.F("per_transaction_fen")),
                                   name="authn_customer_limit_sane"),
        ]


CardStatus = TokenStatus  # a password card has a token's life cycle


class PasswordCard(models.Model):
    """A dynamic password card (动态密码卡, FA-04): a printed grid bound to one customer, with
    an expiry date and a maximum number of uses. The grid is encrypted at rest and printed
    once, at issue."""

    person = models.ForeignKey("customers.Person", on_delete=models.PROTECT,
                               related_name="password_cards")
    serial = models.CharField(max_length=20, unique=True)
    grid = EncryptedTextField(purpose="authn.card.grid")
    expires_at = models.DateTimeField()
    max_uses = models.PositiveIntegerField()
    uses = models.PositiveIntegerField(default=0)
    failures = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=8, choices=CardStatus.choices,
                              default=CardStatus.ACTIVE)
    issued_at = models.DateTimeField()
    issued_by = models.CharField(max_length=40)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person"], condition=~Q(status="REVOKED"),
                                    name="authn_one_card_per_person"),
            models.CheckConstraint(condition=Q(uses__lte=models.F("max_uses")),
                                   name="authn_card_uses_within_max"),
        ]


class Passkey(models.Model):
    """A WebAuthn credential (FA-07, AU-18): the private key stays in the customer's
    authenticator, which checks their fingerprint or face (user verification) before it
    signs; the bank keeps the public key and the signature counter."""

    person = models.ForeignKey("customers.Person", on_delete=models.PROTECT,
                               related_name="passkeys")
    credential_id = models.CharField(max_length=400, unique=True)  # base64url
    public_key = models.BinaryField()
    sign_count = models.BigIntegerField(default=0)
    label = models.CharField(max_length=120)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)


class FactorPreference(models.Model):
    """The security device a customer confirms with when the policy allows several they
    hold (chosen in the security centre; the policy still decides what is enough)."""

    person = models.OneToOneField("customers.Person", on_delete=models.PROTECT,
                                  primary_key=True, related_name="factor_preference")
    factor = models.CharField(max_length=8, choices=Factor.choices)
    updated_at = models.DateTimeField()


class UsbKeyStatus(models.TextChoices):
    ACTIVE = "ACTIVE", _("In use")
    LOST = "LOST", _("Reported lost")
    REVOKED = "REVOKED", _("Returned or replaced")


class UsbKey(models.Model):
    """A USB-Key handed over at the counter, its serial bound to one customer (ON-10). The
    serial is checked again when the key asks for its certificate."""

    person = models.ForeignKey("customers.Person", on_delete=models.PROTECT,
                               related_name="usb_keys")
    # A corporate operator's key acts for one company only (``wangyin.corporate``); a
    # personal key has none. A person may hold one of each.
    company = models.ForeignKey("customers.Company", on_delete=models.PROTECT, null=True,
                                blank=True, related_name="+")
    serial = models.CharField(max_length=32, unique=True)
    status = models.CharField(max_length=8, choices=UsbKeyStatus.choices,
                              default=UsbKeyStatus.ACTIVE)
    bound_at = models.DateTimeField()
    bound_by = models.CharField(max_length=40)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person"],
                                    condition=Q(status="ACTIVE", company__isnull=True),
                                    name="authn_one_usb_key_per_person"),
            models.UniqueConstraint(fields=["person", "company"],
                                    condition=Q(status="ACTIVE", company__isnull=False),
                                    name="authn_one_usb_key_per_operator"),
        ]


class Enrolment(models.Model):
    """A certificate download, opened at the counter (USB-Key) or after a step-up (soft
    certificate): a reference code handed to the customer and an authorisation code sent
    to the reserved phone, both kept as keyed hashes, expiring, working once (ON-09)."""

    person = models.ForeignKey("customers.Person", on_delete=models.PROTECT,
                               related_name="enrolments")
    medium = models.CharField(max_length=8, choices=[(Factor.USBKEY, _("USB-Key")),
                                                     (Factor.SOFTCERT, _("Soft certificate"))])
    usb_key = models.ForeignKey(UsbKey, on_delete=models.PROTECT, null=True, blank=True)
    device_id = models.CharField(max_length=64, blank=True)  # soft certificate: its device
    reference_hash = models.CharField(max_length=64)
    code_hash = models.CharField(max_length=64)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=40)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(medium="USBKEY", usb_key__isnull=False)
                                   | Q(medium="SOFTCERT", usb_key__isnull=True)
                                   & ~Q(device_id=""),
                                   name="authn_enrolment_bound"),
        ]


class CertStatus(models.TextChoices):
    ACTIVE = "ACTIVE", _("Valid")
    REVOKED = "REVOKED", _("Revoked")


class Certificate(models.Model):
    """An X.509 certificate the bank's CA issued for a key generated on the customer's
    side (FA-05, FA-06). The bank keeps the certificate and its revocation status; the
    private key never leaves the USB-Key or the browser."""

    person = models.ForeignKey("customers.Person", on_delete=models.PROTECT,
                               related_name="certificates")
    medium = models.CharField(max_length=8, choices=Enrolment._meta.get_field("medium").choices)
    suite = models.CharField(max_length=8)  # "sm2" or "p256", see authn.ca
    serial = models.CharField(max_length=40, unique=True)  # hex
    der = models.BinaryField()
    usb_key = models.ForeignKey(UsbKey, on_delete=models.PROTECT, null=True, blank=True)
    device_id = models.CharField(max_length=64, blank=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    status = models.CharField(max_length=8, choices=CertStatus.choices,
                              default=CertStatus.ACTIVE)
    issued_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["usb_key"], condition=Q(status="ACTIVE"),
                                    name="authn_one_certificate_per_usb_key"),
            models.UniqueConstraint(fields=["person", "device_id"],
                                    condition=Q(status="ACTIVE", medium="SOFTCERT"),
                                    name="authn_one_soft_certificate_per_device"),
            models.CheckConstraint(condition=Q(not_after__gt=models.F("not_before")),
                                   name="authn_certificate_validity"),
        ]


class Signature(models.Model):
    """A verified signature kept for non-repudiation (FA-05, TX-04): exactly what was
    signed, the signature and the certificate. Rows are never changed or deleted (a
    trigger refuses it)."""

    person = models.ForeignKey("customers.Person", on_delete=models.PROTECT,
                               related_name="signatures")
    certificate = models.ForeignKey(Certificate, on_delete=models.PROTECT)
    challenge = models.OneToOneField(AuthChallenge, on_delete=models.PROTECT)
    payload = models.TextField()
    signature = models.BinaryField()
    signed_at = models.DateTimeField()


class SandboxFacePhoto(models.Model):
    """The face-verification sandbox's stand-in for the public-security photo register
    (``authn.face``): for each ID document, a perceptual hash of its picture — never the
    picture itself. Filled by ``wangyin face register`` and the demo data."""

    id_index = models.CharField(max_length=64, unique=True)  # blind index of type + number
    picture_hash = models.CharField(max_length=64)  # 256-bit difference hash, hex
    registered_at = models.DateTimeField()
