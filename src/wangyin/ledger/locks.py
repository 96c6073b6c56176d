"""Row locks of the ledger, always taken in one order (by primary key) to avoid deadlocks."""

from __future__ import annotations

from collections.abc import Iterable

from wangyin.ledger.errors import AccountNotFound
from wangyin.ledger.models import Account, Hold


def lock_accounts(ids: Iterable[int]) -> dict[int, Account]:
    wanted = sorted(set(ids))
    rows = Account.objects.filter(pk__in=wanted).order_by("pk").select_for_update(of=("self",))
    accounts = {a.pk: a for a in rows}
    missing = [pk for pk in wanted if pk not in accounts]
    if missing:
        raise AccountNotFound(extra={"account_ids": missing})
    return accounts


def lock_hold(hold_id: int) -> Hold:
    return Hold.objects.select_for_update(of=("self",)).get(pk=hold_id)
