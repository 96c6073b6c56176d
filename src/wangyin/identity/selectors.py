"""What the signed-in customer sees about their login and accounts."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from wangyin.core.money import Money
from wangyin.customers import selectors as customers
from wangyin.customers.models import Product
from wangyin.identity.models import ChannelUser, CustomerSession, LoginEvent, LoginOutcome


@dataclass(frozen=True)
class AccountLine:
    id: int
    number_masked: str
    product: str
    balance: Money
    available: Money
    status: str


@dataclass(frozen=True)
class HomeOverview:
    name_masked: str
    previous_login_at: datetime | None
    previous_login_ip: str | None
    previous_login_method: str  # "Password" / "Passkey", translated; "" without one
    failures_since: int
    unusual: bool
    accounts: list[AccountLine]


def _same_network(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return True
    try:
        net_a = ipaddress.ip_network(f"{a}/{24 if ':' not in a else 64}", strict=False)
        return ipaddress.ip_address(b) in net_a
    except ValueError:
        return False


def home_overview(*, user: ChannelUser, session: CustomerSession) -> HomeOverview:
    """AU-14: the previous sign-in (before this session) and whether it looks unusual:
    failed attempts since, or a different network from today's."""
    # The newest success before the session started is the sign-in that started it.
    logins = LoginEvent.objects.filter(user=user, at__lte=session.started_at).order_by("-at")
    successes = list(logins.filter(outcome=LoginOutcome.SUCCESS)[:2])
    current = successes[0].at if successes else session.started_at
    previous = successes[1] if len(successes) > 1 else None
    window = logins.filter(at__lt=current)
    if previous is not None:
        window = window.filter(at__gt=previous.at)
    failures = window.exclude(outcome=LoginOutcome.SUCCESS).count()
    unusual = failures > 0 or (previous is not None
                               and not _same_network(previous.ip, session.ip))
    accounts = [
        AccountLine(id=a.pk, number_masked=a.masked_number, product=Product(a.product).label,
                    balance=a.ledger_account.balance_money,
                    available=a.ledger_account.available_money,
                    status=a.ledger_account.get_status_display())
        for a in customers.accounts_of_person(person_id=user.person_id)
    ]
    return HomeOverview(name_masked=user.person.masked_name,
                        previous_login_at=previous.at if previous else None,
                        previous_login_ip=previous.ip if previous else None,
                        previous_login_method=previous.get_method_display() if previous else "",
                        failures_since=failures, unusual=unusual, accounts=accounts)


def login_history(*, user: ChannelUser, limit: int = 50) -> list[LoginEvent]:
    return list(LoginEvent.objects.filter(user=user).order_by("-at", "-id")[:limit])
