"""Black and grey lists (RK-08, RK-10): account and card numbers, ID numbers, mobile numbers,
devices and IP addresses. A black-listed value is refused; a grey-listed one gets a stronger
check or a review — the rules decide (``list_hits`` in the features, e.g. "BLACK:ACCOUNT").

Values are normalised and found by a keyed blind index (ID and mobile numbers by the same
index the customer records use, so a customer is checked without decrypting anything); the
value itself is kept encrypted only for exporting the list to share it (RK-04). Entries
expire or are removed; neither deletes the row, so what was listed when stays known."""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wangyin.audit import services as audit
from wangyin.core.crypto import blind_index
from wangyin.core.masking import mask_account, mask_id_number, mask_phone
from wangyin.customers.errors import InvalidPhone
from wangyin.customers.identifiers import clean_phone, id_number_index, phone_index
from wangyin.risk.models import ListColour, ListEntry, ListSubject

CSV_FIELDS = ["colour", "subject", "value", "reason", "expires_at"]
_ACCOUNT = re.compile(r"^[0-9]{8,32}$")
_ID_NUMBER = re.compile(r"^[0-9A-Z()-]{5,32}$")


class ListValueInvalid(ValueError):
    """A value that cannot be on a list as the subject it claims to be."""


def normalised(subject: str, value: str) -> tuple[str, str, str]:
    """(the value as stored, its blind index, its masked form) or ``ListValueInvalid``."""
    value = (value or "").strip()
    if subject in (ListSubject.ACCOUNT, ListSubject.CARD):
        digits = re.sub(r"[\s-]+", "", value)
        if not _ACCOUNT.match(digits):
            raise ListValueInvalid(_("an account or card number has 8 to 32 digits"))
        return digits, blind_index(digits, purpose=f"risk.{subject}"), mask_account(digits)
    if subject == ListSubject.ID_NUMBER:
        upper = value.upper()
        if not _ID_NUMBER.match(upper):
            raise ListValueInvalid(_("not an ID document number"))
        return upper, id_number_index(upper), mask_id_number(upper)
    if subject == ListSubject.PHONE:
        try:
            phone = clean_phone(value)
        except InvalidPhone as exc:
            raise ListValueInvalid(_("not a mobile number")) from exc
        return phone, phone_index(phone), mask_phone(phone)
    if subject == ListSubject.IP:
        try:
            address = str(ipaddress.ip_address(value))
        except ValueError as exc:
            raise ListValueInvalid(_("not an IP address")) from exc
        return address, blind_index(address, purpose="risk.IP"), address
    if subject == ListSubject.DEVICE:
        if not 1 <= len(value) <= 64:
            raise ListValueInvalid(_("a device identifier of 1 to 64 characters"))
        return value, blind_index(value, purpose="risk.DEVICE"), f"{value[:6]}…"
    raise ListValueInvalid(_("unknown subject"))


def _active(at: datetime) -> Q:
    return Q(removed_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=at))


@transaction.atomic
def entry_add(*, colour: str, subject: str, value: str, reason: str, staff: str,
              at: datetime, expires_at: datetime | None = None, source: str = "") -> ListEntry:
    """List a value (an active entry of the same colour is returned unchanged; an expired
    one is closed first)."""
    if colour not in ListColour.values:
        raise ListValueInvalid(_("unknown colour"))
    if not reason.strip():
        raise ListValueInvalid(_("a reason is required"))
    if expires_at is not None and expires_at <= at:
        raise ListValueInvalid(_("the expiry must be in the future"))
    stored, index, shown = normalised(subject, value)
    same = ListEntry.objects.select_for_update().filter(
        colour=colour, subject=subject, value_index=index, removed_at__isnull=True).first()
    if same is not None:
        if same.expires_at is None or same.expires_at > at:
            return same
        same.removed_at, same.removed_by = at, "system:expired"
        same.save(update_fields=["removed_at", "removed_by"])
    entry = ListEntry.objects.create(
        colour=colour, subject=subject, value_index=index, value=stored, shown=shown,
        reason=reason.strip()[:200], source=source[:60], added_by=staff, added_at=at,
        expires_at=expires_at)
    audit.record(actor=staff, action="risk.list.added", target=f"list:{entry.pk}",
                 occurred_at=at, details={"colour": colour, "subject": subject,
                                          "shown": shown, "source": source[:60]})
    return entry


@transaction.atomic
def entry_remove(*, entry_id: int, staff: str, reason: str, at: datetime) -> ListEntry:
    entry = ListEntry.objects.select_for_update().get(pk=entry_id)
    if entry.removed_at is None:
        entry.removed_at, entry.removed_by = at, staff
        entry.save(update_fields=["removed_at", "removed_by"])
        audit.record(actor=staff, action="risk.list.removed", target=f"list:{entry.pk}",
                     occurred_at=at, details={"reason": reason[:200]})
    return entry


@dataclass(frozen=True)
class Subjects:
    """What an event offers to check, already as blind indexes where the bank has them."""

    id_number_index: str = ""
    phone_index: str = ""
    account: str = ""
    device: str = ""
    ip: str = ""


def wanted(subjects: Subjects) -> dict[str, str]:
    """{subject: blind index} of what ``subjects`` offers that could be listed."""
    found = {}
    if subjects.id_number_index:
        found[ListSubject.ID_NUMBER] = subjects.id_number_index
    if subjects.phone_index:
        found[ListSubject.PHONE] = subjects.phone_index
    for subject, value in ((ListSubject.ACCOUNT, subjects.account),
                           (ListSubject.DEVICE, subjects.device), (ListSubject.IP, subjects.ip)):
        if value:
            try:
                found[subject] = normalised(subject, value)[1]
            except ListValueInvalid:
                continue  # e.g. an account number of another format: cannot be listed
    return found


# The active entries among (subject, blind index) pairs, one "COLOUR:SUBJECT" a row (the
# same hit may come twice). Named parameters: ``list_subjects`` and ``list_indexes``
# (arrays, pairwise) and ``at``. The two ``ANY`` keep the look-up on the index
# ``risk_list_lookup`` however few entries there are; the join keeps only the pairs.
# ``risk.features`` reads it inside its one statement.
HITS_SQL = (
    "SELECT e.colour || ':' || e.subject FROM risk_listentry e "
    "JOIN unnest(%(list_subjects)s::text[], %(list_indexes)s::text[]) AS w(subject, idx) "
    "ON e.subject = w.subject AND e.value_index = w.idx "
    "WHERE e.subject = ANY(%(list_subjects)s::text[]) "
    "AND e.value_index = ANY(%(list_indexes)s::text[]) "
    "AND e.removed_at IS NULL AND (e.expires_at IS NULL OR e.expires_at > %(at)s)")


def hits_params(found: dict[str, str], at: datetime) -> dict:
    """The parameters of ``HITS_SQL`` for ``wanted``'s answer."""
    return {"list_subjects": list(found), "list_indexes": list(found.values()), "at": at}


def hits(subjects: Subjects, at: datetime) -> list[str]:
    """The list hits of an event, as "COLOUR:SUBJECT" (one query), sorted."""
    found = wanted(subjects)
    if not found:
        return []
    with connection.cursor() as cursor:
        cursor.execute(HITS_SQL, hits_params(found, at))
        return sorted({hit for (hit,) in cursor.fetchall()})


def entries(*, at: datetime, colour: str = "", subject: str = "", active: bool = True,
            limit: int = 500) -> list[ListEntry]:
    """Entries for the staff screens, newest first: the active ones, or the expired and
    removed ones when ``active`` is false. Values only as ``shown`` (masked)."""
    found = ListEntry.objects.filter(_active(at) if active else ~_active(at))
    if colour:
        found = found.filter(colour=colour)
    if subject:
        found = found.filter(subject=subject)
    return list(found.defer("value").order_by("-added_at", "-pk")[:limit])


def export_csv(at: datetime, *, staff: str = "", reason: str = "") -> str:
    """The active entries, values in the clear, to share with another institution (a staff
    export is audited: the values leave the bank)."""
    if staff:
        audit.record(actor=staff, action="risk.list.exported", occurred_at=at,
                     details={"reason": reason[:200],
                              "entries": ListEntry.objects.filter(_active(at)).count()})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for entry in ListEntry.objects.filter(_active(at)).order_by("pk"):
        writer.writerow({"colour": entry.colour, "subject": entry.subject, "value": entry.value,
                         "reason": entry.reason, "expires_at": entry.expires_at.isoformat()
                         if entry.expires_at else ""})
    return out.getvalue()


@transaction.atomic
def import_csv(text: str, *, source: str, staff: str, at: datetime) -> int:
    """Add every line of a shared list (``CSV_FIELDS``), all or nothing: a bad line is
    reported by its number and nothing is added. Returns how many lines were read."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not set(CSV_FIELDS) <= set(reader.fieldnames):
        raise ListValueInvalid(_("the header must name the columns %(columns)s")
                               % {"columns": ",".join(CSV_FIELDS)})
    count = 0
    for row in reader:
        try:
            expires = (datetime.fromisoformat(row["expires_at"]) if row["expires_at"]
                       else None)
            if expires is not None and expires.tzinfo is None:
                raise ListValueInvalid(_("the expiry needs a time zone"))
            entry_add(colour=row["colour"], subject=row["subject"], value=row["value"],
                      reason=row["reason"], staff=staff, at=at, expires_at=expires,
                      source=source)
        except (ListValueInvalid, ValueError) as exc:
            raise ListValueInvalid(f"line {reader.line_num}: {exc}") from exc
        count += 1
    return count
