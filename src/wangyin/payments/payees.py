"""Who a payment goes to: resolving a payee (an account here, an account at another bank, or
a mobile number registered for receiving), the payee book (收款人名册) and receiving
transfers by mobile number (手机号收款).

``resolve`` is the one place that turns what the customer typed into a payee: the
transfer checks (``payments.services``) and the payee book both use it, so an entry is
checked exactly as a payment to it would be (the account exists and is open, the name is
the holder's; for another bank, a directory bank and a plausible number).

Adding a payee is an information change (TX-01, TX-10): ``payee_add_quote`` returns the key
data to confirm (account, name, bank) and the factors; ``payee_add`` checks again, spends
the step-up authorisation over the same key data and stores the entry with it. Changing
the alias and deleting need no step-up (they cannot send money anywhere new); all three
are audited. "Last used" is read from the customer's transfers: nothing is written on the
payment path.

Mobile receiving: a customer registers their reserved mobile number to one of their open
accounts, confirmed with the SMS code to that number (proof that it is theirs now). A payer
who enters the number sees only the holder's masked name and account on the confirmation
page; the payment is a transfer to that account whose key data (account and full name) the
step-up binds, so a registration that changes between confirming and paying is refused
(TX-06). Lookups are limited per payer so numbers cannot be harvested for names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.db.models import Max, Q

from wangyin.audit import services as audit
from wangyin.authn import policy
from wangyin.authn import services as authn
from wangyin.authn.keydata import KeyData, new_nonce
from wangyin.core import ratelimit
from wangyin.core.masking import mask_account, mask_name
from wangyin.customers import selectors as customers
from wangyin.customers.errors import CustomerError
from wangyin.customers.identifiers import clean_phone, phone_index
from wangyin.customers.models import CustomerAccount
from wangyin.customers.validation import normalise_identifier
from wangyin.identity.models import ChannelUser
from wangyin.ledger.models import AccountStatus
from wangyin.notify import services as notify
from wangyin.payments import directory
from wangyin.payments.errors import (
    MobileAccountUnusable,
    MobileLookupsExceeded,
    MobileNotRegistered,
    MobileTaken,
    PayeeAccountClosed,
    PayeeAccountInvalid,
    PayeeBlocked,
    PayeeBookFull,
    PayeeExists,
    PayeeIsOwnAccount,
    PayeeNameMismatch,
    PayeeNameRequired,
    PayeeNotFound,
    PayeeUnknown,
    UnknownBank,
)
from wangyin.payments.models import Bank, MobileReceiving, Payee, Transfer, TransferKind
from wangyin.risk import services as risk

MAX_PAYEES = 200
TO_OTHERS = (TransferKind.SAME_BANK, TransferKind.INTERBANK)
MOBILE_LOOKUPS_PER_HOUR = 20
ADD = "payee.add"
REGISTER = "mobile.register"


@dataclass(frozen=True)
class Resolved:
    """A payee as the bank knows it."""

    kind: str  # TransferKind: OWN, SAME_BANK, INTERBANK or MOBILE
    account: str  # the account number, normalised
    name: str  # the holder's name (as typed, for another bank)
    credit: CustomerAccount | None = None  # the account here; None for another bank
    bank: Bank | None = None  # the other bank


def _payers_own(credit: CustomerAccount, person, company_id: int | None) -> bool:
    if person is not None:
        return credit.person_id == person.pk
    return credit.company_id is not None and credit.company_id == company_id


def resolve(*, person=None, company_id: int | None = None, account: str, name: str,
            bank_code: str = "", mobile: str = "",
            accounts: dict[str, CustomerAccount] | None = None,
            banks: dict[str, Bank] | None = None) -> Resolved:
    """The payee of ``account``/``name`` at ``bank_code`` (empty or ours: this bank), or of
    a registered ``mobile`` number, for a payer who is a ``person`` or the company
    ``company_id`` (exactly one): an account of the payer's own is OWN. Raises the
    ``PaymentError`` the customer sees. ``accounts`` (by normalised number, with ledger
    account, person and company) and ``banks`` (the active ones, by code): looked up
    beforehand for many payees at once (a batch file); what they lack does not exist."""
    if (person is None) == (company_id is None):
        raise ValueError("the payer is a person or a company")
    if mobile:
        credit = mobile_account(mobile)
        return Resolved(TransferKind.OWN if _payers_own(credit, person, company_id) else
                        TransferKind.MOBILE, credit.number, credit.person.name, credit)
    if directory.is_this_bank(bank_code):
        credit = (customers.account_by_number(number=account) if accounts is None
                  else accounts.get(normalise_identifier(account)))
        if credit is None:
            raise PayeeNotFound()
        if credit.ledger_account.status == AccountStatus.CLOSED:
            raise PayeeAccountClosed()
        holder = credit.person.name if credit.person_id else credit.company.name
        if _payers_own(credit, person, company_id):
            return Resolved(TransferKind.OWN, credit.number, holder, credit)
        if name.strip() != holder:
            raise PayeeNameMismatch(extra={"account": credit.number})
        return Resolved(TransferKind.SAME_BANK, credit.number, holder, credit)
    # Another bank's account: its bank checks number and name when the payment arrives;
    # a mismatch comes back as a rejection or a return.
    bank = directory.bank_by_code(bank_code) if banks is None else banks.get(bank_code)
    if bank is None:
        raise UnknownBank(extra={"bank": bank_code[:12]})
    number = normalise_identifier(account)
    if not number.isdigit() or not 8 <= len(number) <= 32:
        raise PayeeAccountInvalid()
    holder = " ".join(name.split())
    if not holder:
        raise PayeeNameRequired()
    return Resolved(TransferKind.INTERBANK, number, holder, bank=bank)


# -- the payee book ---------------------------------------------------------------------


@dataclass(frozen=True)
class PayeeQuote:
    key: KeyData
    factors: tuple[str, ...]
    payee: Resolved


def _book_entry(user: ChannelUser, *, account: str, name: str, bank_code: str) -> Resolved:
    payee = resolve(person=user.person, account=account, name=name, bank_code=bank_code)
    if payee.kind == TransferKind.OWN:
        raise PayeeIsOwnAccount()
    if Payee.objects.filter(person_id=user.person_id, account=payee.account,
                            bank=payee.bank).exists():
        raise PayeeExists()
    if Payee.objects.filter(person_id=user.person_id).count() >= MAX_PAYEES:
        raise PayeeBookFull()
    return payee


def _payee_key(payee: Resolved, *, device_id: str, nonce: str) -> KeyData:
    return KeyData(operation=ADD, device=device_id, nonce=nonce, payee_account=payee.account,
                   payee_name=payee.name, payee_bank=payee.bank.code if payee.bank else "")


def payee_add_quote(*, user: ChannelUser, account: str, name: str, bank_code: str,
                    device_id: str, ip: str | None = None,
                    at: datetime | None = None) -> PayeeQuote:
    """Check a new entry and say what confirming it takes (the key data and factors).
    Risk control sees it first: an entry it holds or blocks is refused (a payee on the
    black list, a listed device or IP), its decision kept."""
    payee = _book_entry(user, account=account, name=name, bank_code=bank_code)
    person = user.person
    decision = risk.evaluate(risk.Event(
        kind="payee.add", person_id=person.pk, channel="web", device=device_id, ip=ip,
        at=at or datetime.now(UTC), counterparty=payee.account,
        id_number_index=person.id_number_index, phone_index=person.phone_index))
    if decision.action in (risk.BLOCK, risk.REVIEW):
        raise PayeeBlocked(extra={"reasons": list(decision.reasons)})
    return PayeeQuote(key=_payee_key(payee, device_id=device_id, nonce=new_nonce()),
                      factors=policy.required_factors(person=user.person, purpose=ADD,
                                                      device_id=device_id),
                      payee=payee)


def payee_add(*, user: ChannelUser, account: str, name: str, bank_code: str, nonce: str,
              alias: str, challenge_id: int, device_id: str, ip: str | None,
              at: datetime) -> Payee:
    """Store an entry after the step-up over exactly its key data (TX-10)."""
    payee = _book_entry(user, account=account, name=name, bank_code=bank_code)
    key = _payee_key(payee, device_id=device_id, nonce=nonce)
    challenge = authn.authorisation_use(
        challenge_id=challenge_id, person=user.person, purpose=ADD, digest=key.digest(),
        at=at, requires=policy.required_factors(person=user.person, purpose=ADD,
                                                device_id=device_id))
    try:
        with transaction.atomic():
            entry = Payee.objects.create(person_id=user.person_id, name=payee.name,
                                         account=payee.account, bank=payee.bank,
                                         alias=" ".join(alias.split())[:30],
                                         authorisation=challenge, created_at=at)
            audit.record(actor=user.actor, action="payments.payee.added", ip=ip,
                         device=device_id, target=f"payee:{entry.pk}", occurred_at=at,
                         details={"account": mask_account(payee.account),
                                  "bank": payee.bank.code if payee.bank else "",
                                  "authorisation": challenge.pk})
            notify.notice_send(person=user.person, kind="security.payee_added", at=at,
                               params={"payee": mask_name(payee.name),
                                       "tail": payee.account[-4:]})
    except IntegrityError as exc:  # the same entry added twice at once
        raise PayeeExists() from exc
    return entry


def _own_entry(user: ChannelUser, payee_id: int) -> Payee:
    entry = (Payee.objects.select_for_update(of=("self",)).select_related("bank")
             .filter(pk=payee_id, person_id=user.person_id).first())
    if entry is None:
        raise PayeeUnknown(extra={"payee": payee_id})
    return entry


@transaction.atomic
def payee_rename(*, user: ChannelUser, payee_id: int, alias: str, ip: str | None,
                 at: datetime) -> Payee:
    entry = _own_entry(user, payee_id)
    entry.alias = " ".join(alias.split())[:30]
    entry.save(update_fields=["alias"])
    audit.record(actor=user.actor, action="payments.payee.renamed", ip=ip,
                 target=f"payee:{entry.pk}", occurred_at=at)
    return entry


@transaction.atomic
def payee_delete(*, user: ChannelUser, payee_id: int, ip: str | None, at: datetime) -> None:
    entry = _own_entry(user, payee_id)
    audit.record(actor=user.actor, action="payments.payee.deleted", ip=ip,
                 target=f"payee:{entry.pk}", occurred_at=at,
                 details={"account": mask_account(entry.account),
                          "bank": entry.bank.code if entry.bank_id else ""})
    entry.delete()


def payees_of(user: ChannelUser, *, search: str = "") -> list[Payee]:
    """The customer's payees, the most recently paid first, then by name; ``search``
    matches the name, the alias or the end of the account number. Each has ``last_used``
    (the time of the latest transfer to it, or None)."""
    entries = Payee.objects.filter(person_id=user.person_id).select_related("bank")
    words = " ".join(search.split())[:30]
    if words:
        entries = entries.filter(Q(name__icontains=words) | Q(alias__icontains=words)
                                 | Q(account__endswith=words))
    last = {(row["payee_account"], row["payee_bank"]): row["last"] for row in
            Transfer.objects.filter(person_id=user.person_id, kind__in=TO_OTHERS)
            .values("payee_account", "payee_bank").annotate(last=Max("created_at"))}
    found = list(entries[:MAX_PAYEES])
    for entry in found:
        entry.last_used = last.get((entry.account, entry.bank_id))
    never = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda e: (-(e.last_used or never).timestamp(), e.display_name,
                                        e.pk))


def payee_of(user: ChannelUser, payee_id: int) -> Payee | None:
    return (Payee.objects.select_related("bank")
            .filter(pk=payee_id, person_id=user.person_id).first())


def recent_payees(user: ChannelUser, *, limit: int = 5) -> list[Transfer]:
    """The latest transfer to each of the last ``limit`` different payees (own accounts and
    mobile-number payments left out: the form lists the former, and the latter's account
    number is not the payer's to see)."""
    recent = (Transfer.objects.filter(person_id=user.person_id,
                                      kind__in=(TransferKind.SAME_BANK, TransferKind.INTERBANK))
              .select_related("payee_bank").order_by("-created_at", "-pk")[:200])
    seen, found = set(), []
    for transfer in recent:
        key = (transfer.payee_account, transfer.payee_bank_id)
        if key not in seen:
            seen.add(key)
            found.append(transfer)
            if len(found) == limit:
                break
    return found


# -- receiving by mobile number ---------------------------------------------------------


def mobile_lookup_allow(person, at: datetime) -> None:
    """Count one look-up of a mobile number by this payer; refuse over the hourly budget."""
    if not ratelimit.allow(f"payments:mobile:{person.pk}", limit=MOBILE_LOOKUPS_PER_HOUR,
                           per=3600, now=at):
        raise MobileLookupsExceeded()


def mobile_account(mobile: str) -> CustomerAccount:
    """The open account registered to receive for ``mobile`` (its holder's current reserved
    number), or ``MobileNotRegistered``."""
    try:
        digits = clean_phone(mobile)
    except CustomerError as exc:
        raise MobileNotRegistered() from exc
    index = phone_index(digits)
    found = (MobileReceiving.objects
             .select_related("account__ledger_account", "account__person")
             .filter(phone_index=index, person__phone_index=index).first())
    if found is None or found.account.ledger_account.status != AccountStatus.ACTIVE:
        raise MobileNotRegistered()
    return found.account


def mobile_registration_of(user: ChannelUser) -> MobileReceiving | None:
    """The customer's registration, if it is for their current reserved number."""
    return (MobileReceiving.objects.select_related("account")
            .filter(person_id=user.person_id, phone_index=user.person.phone_index).first())


def mobile_register_digest(user: ChannelUser, account: CustomerAccount, device_id: str) -> str:
    return authn.digest_of(REGISTER, str(user.pk), account.number, user.person.phone_index,
                           device_id)


def _receiving_account(user: ChannelUser, account_id: int) -> CustomerAccount:
    account = customers.account_of_person(person_id=user.person_id, account_id=account_id)
    if account is None or account.ledger_account.status != AccountStatus.ACTIVE:
        raise MobileAccountUnusable(extra={"account_id": account_id})
    return account


def mobile_register_start(*, user: ChannelUser, account_id: int, device_id: str,
                          at: datetime):
    """Open the step-up for registering the reserved number to ``account_id``: the SMS
    code goes to that number."""
    account = _receiving_account(user, account_id)
    taken = MobileReceiving.objects.filter(phone_index=user.person.phone_index).exclude(
        person_id=user.person_id).exists()
    if taken:
        raise MobileTaken()
    return authn.challenge_issue(
        person=user.person, purpose=REGISTER, at=at, device_id=device_id,
        factors=policy.required_factors(person=user.person, purpose=REGISTER,
                                        device_id=device_id),
        digest=mobile_register_digest(user, account, device_id),
        summary=f"开通手机号收款，收款账户{mask_account(account.number)}")


def mobile_register(*, user: ChannelUser, account_id: int, challenge_id: int, device_id: str,
                    ip: str | None, at: datetime) -> MobileReceiving:
    """Register (or move) the customer's reserved number to one of their open accounts."""
    account = _receiving_account(user, account_id)
    challenge = authn.authorisation_use(
        challenge_id=challenge_id, person=user.person, purpose=REGISTER, at=at,
        digest=mobile_register_digest(user, account, device_id),
        requires=policy.required_factors(person=user.person, purpose=REGISTER,
                                         device_id=device_id))
    fields = {"account": account, "phone_index": user.person.phone_index,
              "authorisation": challenge, "created_at": at}
    try:
        with transaction.atomic():
            registration, _created = MobileReceiving.objects.update_or_create(
                person_id=user.person_id, defaults=fields)
            audit.record(actor=user.actor, action="payments.mobile.registered", ip=ip,
                         device=device_id, target=f"person:{user.person_id}", occurred_at=at,
                         details={"account": mask_account(account.number),
                                  "authorisation": challenge.pk})
            notify.notice_send(person=user.person, kind="security.mobile_receiving", at=at,
                               params={"tail": account.number[-4:]})
    except IntegrityError as exc:  # another customer took the number meanwhile
        raise MobileTaken() from exc
    return registration


@transaction.atomic
def mobile_unregister(*, user: ChannelUser, ip: str | None, at: datetime) -> bool:
    """Stop receiving by mobile number (no step-up: it only closes a way in)."""
    deleted, _rows = MobileReceiving.objects.filter(person_id=user.person_id).delete()
    if deleted:
        audit.record(actor=user.actor, action="payments.mobile.unregistered", ip=ip,
                     target=f"person:{user.person_id}", occurred_at=at)
        notify.notice_send(person=user.person, kind="security.mobile_receiving_stopped",
                           at=at, params={})
    return bool(deleted)
