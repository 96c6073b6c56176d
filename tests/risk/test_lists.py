"""Black and grey lists: values normalised and found by blind index, entries that expire or
are removed, list hits changing payments through the shipped rules, sharing by CSV."""

from datetime import timedelta

import pytest

from tests.payments.conftest import instruction, pay
from wangyin.ledger.models import Account
from wangyin.payments.errors import PaymentBlocked
from wangyin.payments.models import Transfer, TransferStatus
from wangyin.risk import lists
from wangyin.risk.models import Decision, ListEntry

pytestmark = pytest.mark.django_db


def _add(at, subject, value, colour="BLACK", **kwargs):
    return lists.entry_add(colour=colour, subject=subject, value=value, reason="电信诈骗涉案",
                           staff="staff:risk1", at=at, **kwargs)


@pytest.mark.req("RK-10")
def test_values_are_normalised_masked_and_not_stored_in_the_clear(at):
    entry = _add(at, "ACCOUNT", "6222 0200 0000 0001 234")
    assert entry.shown == "6222***********1234"
    assert "62220200000000012" not in entry.value_index
    assert _add(at, "ACCOUNT", "6222020000000001234").pk == entry.pk  # the same entry
    assert _add(at, "PHONE", "139 0000 0001").shown == "139****0001"
    assert _add(at, "ID_NUMBER", "11010119900307123x").shown == "110101199003******"
    for subject, value in (("ACCOUNT", "12AB"), ("IP", "999.1.1.1"), ("PHONE", "123"),
                           ("DEVICE", "")):
        with pytest.raises(lists.ListValueInvalid):
            _add(at, subject, value)


@pytest.mark.req("RK-10")
def test_an_entry_counts_until_it_expires_or_is_removed(at):
    subjects = lists.Subjects(ip="203.0.113.9", device="dev-x")
    _add(at, "IP", "203.0.113.9", colour="GREY", expires_at=at + timedelta(days=1))
    device = _add(at, "DEVICE", "dev-x")
    assert lists.hits(subjects, at) == ["BLACK:DEVICE", "GREY:IP"]
    assert lists.hits(subjects, at + timedelta(days=2)) == ["BLACK:DEVICE"]
    lists.entry_remove(entry_id=device.pk, staff="staff:risk2", reason="cleared", at=at)
    assert lists.hits(subjects, at) == ["GREY:IP"]
    # listed again after its expiry: a new entry; the old one stays, closed
    later = at + timedelta(days=3)
    _add(at + timedelta(days=3), "IP", "203.0.113.9", colour="GREY")
    assert lists.hits(subjects, later) == ["GREY:IP"]
    assert ListEntry.objects.filter(subject="IP").count() == 2


@pytest.mark.req("RK-08", "RK-18")
def test_a_payment_to_a_black_listed_account_is_refused(payer, payee, at):
    _add(at, "ACCOUNT", payee.number)
    user, account = payer
    with pytest.raises(PaymentBlocked):
        pay(user, instruction(account, payee), at)
    assert not Transfer.objects.exists()
    assert Account.objects.get(pk=account.ledger_account_id).balance == 10_000_000
    assert Decision.objects.latest("id").reasons == ["black_list"]


@pytest.mark.req("RK-08")
def test_a_black_listed_customer_cannot_pay(payer, payee, at):
    user, account = payer
    _add(at, "ID_NUMBER", user.person.id_number)
    with pytest.raises(PaymentBlocked):
        pay(user, instruction(account, payee), at)


@pytest.mark.req("RK-10", "RK-02")
def test_a_grey_listed_device_holds_the_payment_for_review(payer, payee, at):
    _add(at, "DEVICE", "dev-1", colour="GREY")
    user, account = payer
    transfer = pay(user, instruction(account, payee), at, device="dev-1")
    assert transfer.status == TransferStatus.HELD
    assert transfer.risk_reasons == ["grey_list_payment"]


@pytest.mark.req("RK-04")
def test_lists_are_shared_by_csv_all_or_nothing(at):
    _add(at, "PHONE", "13900000001", expires_at=at + timedelta(days=30))
    _add(at, "IP", "198.51.100.7", colour="GREY")
    shared = lists.export_csv(at)
    assert "13900000001" in shared and "198.51.100.7" in shared
    ListEntry.objects.all().delete()
    assert lists.import_csv(shared, source="同业共享 2026-11", staff="staff:risk1", at=at) == 2
    assert lists.hits(lists.Subjects(ip="198.51.100.7"), at) == ["GREY:IP"]
    assert ListEntry.objects.get(subject="PHONE").expires_at == at + timedelta(days=30)
    bad = shared + "BLACK,ACCOUNT,12AB,x,\n"
    ListEntry.objects.all().delete()
    with pytest.raises(lists.ListValueInvalid, match="^line 4:"):
        lists.import_csv(bad, source="x", staff="staff:risk1", at=at)
    assert not ListEntry.objects.exists()
