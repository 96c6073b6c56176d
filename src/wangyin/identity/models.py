"""Customers' internet-banking identities. Not Django users: staff are ``auth.User`` on the
back office; a ``ChannelUser`` is a customer's login to the web and mobile channels."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from wangyin.core.fields import EncryptedTextField


class Edition(models.TextChoices):
    PUBLIC = "PUBLIC", _("Public edition (queries and own-account transfers)")
    PRO = "PRO", _("Professional edition (all services, with security devices)")


class UserStatus(models.TextChoices):
    ACTIVE = "ACTIVE", _("Active")
    CLOSED = "CLOSED", _("Closed")


class ChannelUser(models.Model):
    person = models.ForeignKey("customers.Person", on_delete=models.PROTECT,
                               related_name="channel_users")
    login_name = models.CharField(max_length=30)
    edition = models.CharField(max_length=6, choices=Edition.choices)
    status = models.CharField(max_length=6, choices=UserStatus.choices,
                              default=UserStatus.ACTIVE)
    password = models.CharField(max_length=200)  # a Django (Argon2) password hash
    must_change_password = models.BooleanField(default=True)
    password_changed_at = models.DateTimeField()
    reserved_message = models.CharField(max_length=40, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("login_name"), name="identity_login_name_unique"),
            models.UniqueConstraint(fields=["person"], condition=Q(status="ACTIVE"),
                                    name="identity_one_active_login_per_person"),
            models.CheckConstraint(condition=Q(status="ACTIVE") | Q(closed_at__isnull=False),
                                   name="identity_closed_has_time"),
        ]

    def __str__(self) -> str:
        return f"channel_user:{self.pk}"

    @property
    def actor(self) -> str:
        return f"customer:{self.person_id}"


class LoginOutcome(models.TextChoices):
    SUCCESS = "SUCCESS", _("Signed in")
    BAD_PASSWORD = "BAD_PASSWORD", _("Wrong password")
    LOCKED = "LOCKED", _("Login locked")
    CLOSED = "CLOSED", _("Internet banking closed")
    BAD_PASSKEY = "BAD_PASSKEY", _("Passkey refused")
    REFUSED = "REFUSED", _("Refused by risk control")


class LoginMethod(models.TextChoices):
    PASSWORD = "PASSWORD", _("Password")
    PASSKEY = "PASSKEY", _("Passkey")


class LoginEvent(models.Model):
    """One sign-in attempt of a known login, by password or passkey (unknown names and
    credentials are not stored: they would reveal what people type, and the customer
    cannot see them anyway)."""

    user = models.ForeignKey(ChannelUser, on_delete=models.PROTECT, related_name="logins")
    outcome = models.CharField(max_length=12, choices=LoginOutcome.choices)
    method = models.CharField(max_length=8, choices=LoginMethod.choices,
                              default=LoginMethod.PASSWORD)
    ip = models.GenericIPAddressField(null=True, blank=True)
    device = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "-at"], name="identity_login_recent")]


class Captcha(models.Model):
    """A graphical captcha (AU-04): random, single use, valid for two minutes. The answer
    is kept encrypted so the image can be drawn once it is requested; it is never sent
    to the browser as text."""

    token = models.CharField(max_length=43, unique=True)
    answer = EncryptedTextField(purpose="identity.captcha.answer")
    purpose = models.CharField(max_length=20)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)


class SessionEnd(models.TextChoices):
    LOGOUT = "LOGOUT", _("You signed out.")
    IDLE = "IDLE", _("You were signed out after a period without activity.")
    EXPIRED = "EXPIRED", _("Your session reached its maximum length. Please sign in again.")
    REPLACED = "REPLACED", _("You were signed out because your account signed in elsewhere.")
    NETWORK = "NETWORK", _("You were signed out because your network address changed.")
    DEVICE = "DEVICE", _("You were signed out because your device changed.")
    CLOSED = "CLOSED", _("Internet banking was closed.")
    PASSWORD_RESET = "PWRESET", _("You were signed out because your password was reset.")


class CustomerSession(models.Model):
    """One signed-in session of a customer, kept server-side (SE-01…SE-05, AU-17). The
    browser's Django session only carries ``sid``."""

    sid = models.CharField(max_length=43, unique=True)
    user = models.ForeignKey(ChannelUser, on_delete=models.PROTECT, related_name="sessions")
    ip = models.GenericIPAddressField(null=True, blank=True)
    device = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=8, choices=SessionEnd.choices, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(ended_at__isnull=True),
                                    name="identity_one_live_session_per_user"),
        ]


class Device(models.Model):
    """A browser or phone the customer has bound with an SMS code (AU-16). ``device_id``
    is the digest of the device cookie and user agent (see web.customer)."""

    user = models.ForeignKey(ChannelUser, on_delete=models.PROTECT, related_name="devices")
    device_id = models.CharField(max_length=64)
    label = models.CharField(max_length=120)
    bound_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "device_id"],
                                    condition=Q(removed_at__isnull=True),
                                    name="identity_device_bound_once"),
        ]
        indexes = [models.Index(fields=["device_id"], name="identity_device_lookup")]
