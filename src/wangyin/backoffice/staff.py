"""Staff accounts of the back office: Django users with a TOTP second factor (RFC 6238,
django-otp) and one role each. Roles are groups; separation of duties (ORG-01) means a
person holds one of them."""

from __future__ import annotations

import base64
import re
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from wangyin.audit import services as audit
from wangyin.core.errors import DomainError

TELLER = "teller"
SECURITY_ADMIN = "security_admin"
AUDITOR = "auditor"
# Risk control (RK-15: only these see rules, features, lists, cases and AML reports). A
# branch risk officer works the branch queue; the head-office risk manager sees every case,
# takes escalations (RK-14) and approves rule sets made by someone else (maker–checker).
RISK_OFFICER = "risk_officer"
RISK_MANAGER = "risk_manager"
RISK_ROLES = (RISK_OFFICER, RISK_MANAGER)
ROLES = (TELLER, SECURITY_ADMIN, AUDITOR, *RISK_ROLES)
_STAFF_ID = re.compile(r"^[A-Za-z0-9_]{3,30}$")


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


class StaffError(DomainError):
    code = "staff_error"


class StaffNameTaken(StaffError):
    code = "staff_name_taken"
    message = _("This staff ID is already in use.")


class NotOnYourself(StaffError):
    code = "staff_not_on_yourself"
    message = _("You cannot change your own account; ask another security administrator.")


def staff_list() -> list[dict]:
    users = get_user_model().objects.prefetch_related("groups").order_by("username")
    return [{"username": u.username, "role": role_of(u), "active": u.is_active,
             "last_login": u.last_login} for u in users]


def _staff_password() -> str:
    return "Wy-" + secrets.token_urlsafe(12)


@transaction.atomic
def staff_enrol(*, username: str, role: str, by: str, reason: str) -> tuple[str, str]:
    """A security administrator adds a staff member: a random password and TOTP key, shown
    once for a sealed hand-over. Returns (password, TOTP key in Base32)."""
    username = (username or "").strip()
    if not _STAFF_ID.fullmatch(username):
        raise StaffError(_("Staff IDs are 3 to 30 letters, digits or underscores."))
    if get_user_model().objects.filter(username__iexact=username).exists():
        raise StaffNameTaken()
    password = _staff_password()
    user, device = staff_create(username=username, password=password, role=role,
                                created_by=by)
    audit.record(actor=by, action="backoffice.staff.enrolled", target=f"staff:{username}",
                 details={"role": role, "reason": reason})
    return password, base64.b32encode(device.bin_key).decode()


def _other_staff(username: str, by: str):
    user = get_user_model().objects.select_for_update().filter(username=username).first()
    if user is None:
        raise StaffError(_("No such staff member."))
    if by == actor(user):
        raise NotOnYourself()
    return user


@transaction.atomic
def staff_set_active(*, username: str, active: bool, by: str, reason: str) -> None:
    """Disable or re-enable a staff login (a leaver, a suspected compromise)."""
    user = _other_staff(username, by)
    user.is_active = active
    user.save(update_fields=["is_active"])
    audit.record(actor=by, action="backoffice.staff.enabled" if active
                 else "backoffice.staff.disabled", target=f"staff:{username}",
                 details={"reason": reason})


@transaction.atomic
def staff_role_change(*, username: str, role: str, by: str, reason: str) -> None:
    """Move a staff member to another role; one role per person (ORG-01)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    user = _other_staff(username, by)
    before = role_of(user)
    user.groups.set([Group.objects.get_or_create(name=role)[0]])
    audit.record(actor=by, action="backoffice.staff.role_changed", target=f"staff:{username}",
                 details={"from": before, "to": role, "reason": reason})
