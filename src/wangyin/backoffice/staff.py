"""Staff accounts of the back office: Django users with a TOTP second factor (RFC 6238,
django-otp) and one role each. Roles are groups; separation of duties (ORG-01) means a
person holds one of them."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from wangyin.audit import services as audit

TELLER = "teller"
SECURITY_ADMIN = "security_admin"
AUDITOR = "auditor"
ROLES = (TELLER, SECURITY_ADMIN, AUDITOR)


def actor(user) -> str:
    return f"staff:{user.username}"


def role_of(user) -> str | None:
    names = set(user.groups.values_list("name", flat=True))
    return next((r for r in ROLES if r in names), None)


@transaction.atomic
def staff_create(*, username: str, password: str, role: str, created_by: str,
                 totp_key: str | None = None):
    """Create a staff member with one role and a confirmed TOTP device; returns
    (user, device) — the device's ``config_url`` is what the authenticator app scans."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    user_model = get_user_model()
    user = user_model(username=username, is_staff=False, is_superuser=False)
    validate_password(password, user)
    user.set_password(password)
    user.save()
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    device = TOTPDevice(user=user, name="authenticator", confirmed=True, tolerance=1)
    if totp_key:
        device.key = totp_key
    device.save()
    audit.record(actor=created_by, action="backoffice.staff.created",
                 target=f"staff:{username}", details={"role": role})
    return user, device
