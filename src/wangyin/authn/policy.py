"""Which factors an operation needs (FA-09). Funds operations and their amount tiers arrive
with the payments work; this table covers the identity operations so far.

- ``register``: the SMS code to the reserved phone (the public edition cannot pay anyone).
- ``device.bind``, ``security.change``, ``payee.add`` (a payee book entry),
  ``mobile.register`` (receiving transfers by mobile number): the SMS code, plus the
  customer's security device when they hold one — holding a stronger factor is never a
  reason to ask for less, and a locked token does not fall back to SMS alone.
- ``password.reset`` online: the SMS code and a security device (ON-08); a customer
  without one verifies their face against their ID card's photo instead (FA-08, where the
  bank has a face-verification provider and the document is a resident ID card), else is
  sent to the counter.
- ``passkey.add``, ``softcert.add``: the SMS code and a security device — a passkey or a
  soft certificate is added only with an existing strong factor (FA-07, FA-06).
- ``security.change`` by a customer with a passkey: the SMS code and the passkey (changes
  are made on a bound device, where the passkey lives).
- ``phone.change`` online (only where the bank enables it, ON-11): the SMS code to the
  **old** number and a security device.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from wangyin.audit import services as audit
from wangyin.authn import cards, certificates, face, passkeys, tokens
from wangyin.authn.errors import NoSecondFactor
from wangyin.authn.models import Factor, FactorPreference
from wangyin.customers.models import IdType

SMS_ONLY = ("register",)
SMS_PLUS_HELD = ("device.bind", "security.change", "payee.add", "mobile.register")
SMS_PLUS_REQUIRED = ("password.reset", "phone.change", "passkey.add", "softcert.add")
PURPOSES = SMS_ONLY + SMS_PLUS_HELD + SMS_PLUS_REQUIRED
# Where the customer's face may stand in for a security device they do not hold.
FACE_INSTEAD = ("password.reset",)


# For operations without a payee or amount an OCRA question is random digits, no stronger
# than a time-based code and slower to use: the OTP token comes first when both are held.
# Then this device's soft certificate and the USB-Key (each a signature over the change),
# and last the password card, the weakest device factor (a printed grid).
IDENTITY_TOKEN_ORDER = (Factor.TOTP, Factor.OCRA, Factor.SOFTCERT, Factor.USBKEY, Factor.CARD)


def held_factors(person, device_id: str = "") -> list[str]:
    """The device factors the customer can confirm with here, in ``IDENTITY_TOKEN_ORDER``
    (locked tokens included: a locked token blocks rather than falling back to something
    weaker)."""
    held = {token.kind for token in tokens.tokens_of(person)}
    if cards.card_of(person) is not None:
        held.add(Factor.CARD)
    for factor in (Factor.SOFTCERT, Factor.USBKEY):
        if certificates.certificate_for(person, factor, device_id=device_id):
            held.add(factor)
    return [factor for factor in IDENTITY_TOKEN_ORDER if factor in held]


def preferred_factor_of(person) -> str:
    preference = FactorPreference.objects.filter(person=person).first()
    return preference.factor if preference else ""


@transaction.atomic
def preferred_factor_set(*, person, factor: str, actor: str, device_id: str,
                         at: datetime) -> None:
    """The customer picks which of their devices confirms operations. Only a device they
    hold and can use here; every device they hold satisfies the same policy rows, so the
    choice weakens nothing and needs no step-up (it is audited)."""
    if factor not in held_factors(person, device_id):
        raise NoSecondFactor(extra={"factor": factor})
    FactorPreference.objects.update_or_create(person=person,
                                              defaults={"factor": factor, "updated_at": at})
    audit.record(actor=actor, action="authn.factor.preferred", target=f"person:{person.pk}",
                 device=device_id, occurred_at=at, details={"factor": factor})


def second_factor_of(person, device_id: str = "") -> str | None:
    """The device factor to ask for: the customer's choice if they hold it, else the
    first in ``IDENTITY_TOKEN_ORDER``."""
    held = held_factors(person, device_id)
    preferred = preferred_factor_of(person)
    return preferred if preferred in held else next(iter(held), None)


def required_factors(*, person, purpose: str, device_id: str = "") -> tuple[str, ...]:
    """``device_id``: the device asking (a soft certificate signs only on its own)."""
    if purpose not in PURPOSES:
        raise ValueError(f"no factor policy for {purpose!r}")
    if purpose == "security.change" and passkeys.passkeys_of(person):
        return (Factor.SMS, Factor.PASSKEY)
    second = None if purpose in SMS_ONLY else second_factor_of(person, device_id)
    if (second is None and purpose in FACE_INSTEAD and face.enabled()
            and person.id_type == IdType.RESIDENT_ID):
        second = Factor.FACE
    if purpose in SMS_PLUS_REQUIRED and second is None:
        raise NoSecondFactor()
    return (Factor.SMS, second) if second else (Factor.SMS,)
