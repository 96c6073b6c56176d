"""Authentication challenges: one mechanism for every step-up (see docs/architecture.md).

A challenge is bound to a person, a purpose and the digest of the data it authorises
(for device binding: the device id; for payments, later: payee, amount, nonce …). Only
the SMS factor exists so far."""

from django.db import models


class Factor(models.TextChoices):
    SMS = "SMS", "SMS one-time code"


class AuthChallenge(models.Model):
    # The customer the code goes to (their reserved phone). A challenge may come before the
    # customer has a login at all (self-registration), so it names the person.
    person = models.ForeignKey("customers.Person", on_delete=models.PROTECT,
                               related_name="challenges")
    purpose = models.CharField(max_length=40)
    digest = models.CharField(max_length=64)
    factor = models.CharField(max_length=8, choices=Factor.choices)
    code_hash = models.CharField(max_length=64)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["person", "-created_at"], name="authn_challenge_recent")]
