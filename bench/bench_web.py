"""The bank side of the transfer benchmark: bench customers, and their signed-in sessions.

Customers are made once per customer count in a *template* database through the domain
services, as a branch would: ``person_create``, ``personal_account_open`` (Class I, face to
face), ``internet_banking_open`` (professional edition), ``password_change`` (the first
login's forced change), ``device_bind`` (the browser the bench plays), and a DEPOSIT journal
that funds the accounts. Every run then clones the template (``CREATE DATABASE ...
TEMPLATE``), so each run starts from the same state and pays the preparation only once.

The one shortcut: while preparing, passwords are hashed with Argon2 at a low cost
(``CheapArgon2``; the server verifies such hashes like any other Argon2 hash). Nothing in
the timed run checks a password — sessions are started the way the login view starts them
after the password and device checks (``sessions.session_start`` and a Django session
holding its ``sid``), before timing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

import bench_server
from django.contrib.auth.hashers import Argon2PasswordHasher

DATA_VERSION = 1  # bump when what a template holds changes
STAFF = "staff:bench"
PASSWORD = "Bn7qX4vK"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) WangyinBench/1.0"
IP = "127.0.0.1"
TEMPLATE_MAX_AGE = timedelta(days=30)  # well inside the 90-day password age


class CheapArgon2(Argon2PasswordHasher):
    """Argon2id at a preparation-time cost (same algorithm name: the server verifies it)."""

    time_cost = 1
    memory_cost = 1024
    parallelism = 1


@dataclass
class Customer:
    """What the load generator needs to act as one signed-in customer."""

    index: int
    name: str
    phone_index: str  # the SMS outbox's blind index of the reserved phone
    account_id: int  # CustomerAccount pk (the form's "Pay from" value)
    account_number: str
    device_cookie: str
    session_cookie: str = ""
    csrf_token: str = ""


def device_cookie(index: int) -> str:
    """A stable 43-character device cookie per bench customer (like ``token_urlsafe(32)``)."""
    digest = hashlib.sha256(f"wangyin-bench-device:{index}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _id_number(index: int) -> tuple[str, date]:
    from wangyin.customers.validation import resident_id_check_digit

    born = date(1970, 1, 1) + timedelta(days=index // 900)
    first17 = f"110101{born:%Y%m%d}{100 + index % 900:03d}"
    return first17 + resident_id_check_digit(first17), born


def _make_customer(index: int, now: datetime) -> int:
    from wangyin.customers import services as customers
    from wangyin.identity import devices
    from wangyin.identity import services as identity
    from wangyin.web.customer import _device_id

    id_number, born = _id_number(index)
    person = customers.person_create(
        name=f"压测客户{index:05d}",
        id_type="RESIDENT_ID",
        id_number=id_number,
        birth_date=born,
        phone=f"139{index:08d}",
        actor=STAFF,
        created_at=now,
    )
    account = customers.personal_account_open(
        person_id=person.pk, product="PERSONAL_I", face_to_face=True, actor=STAFF, opened_at=now
    )
    user, initial = identity.internet_banking_open(
        person_id=person.pk,
        login_name=f"bench{index:05d}",
        edition="PRO",
        risk_acknowledged=True,
        staff=STAFF,
        reason="benchmark customer",
        at=now,
    )
    user = identity.password_change(
        user_id=user.pk, current_password=initial, new_password=PASSWORD, ip=IP, at=now
    )
    devices.device_bind(
        user=user,
        device_id=_device_id(device_cookie(index), USER_AGENT),
        label=devices.device_label(USER_AGENT),
        ip=IP,
        at=now,
    )
    return account.ledger_account_id


def build_template(
    target: bench_server.Target, name: str, *, customers: int, initial_yuan: int, log
) -> None:
    """Create database ``name`` with ``customers`` ready bench customers (Django must be set
    up with DATABASE_URL pointing at it)."""
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings

    from wangyin.authn import limits
    from wangyin.authn.models import Medium
    from wangyin.core.money import Money
    from wangyin.ledger import services as ledger
    from wangyin.ledger.models import AccountKind, JournalType, NormalSide

    t0 = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    now = datetime.now(UTC)
    cash = ledger.account_open(
        number="BENCH-CASH",
        name="Bench cash",
        kind=AccountKind.GL,
        normal_side=NormalSide.DEBIT,
        overdraft_limit=None,
        actor=STAFF,
        opened_at=now,
    )
    # A bank parameter, changed the audited way: the SMS medium's daily count (20 by
    # default) would otherwise stop each bench customer after 20 payments a day.
    limits.medium_limit_set(
        medium=Medium.SMS,
        per_transaction_fen=limits.DEFAULTS[Medium.SMS][0],
        per_day_fen=10**12,
        per_day_count=1_000_000,
        staff=STAFF,
        reason="benchmark bank: unlimited SMS payments per day",
        at=now,
    )
    ledger_ids = []
    hashers = ["bench_web.CheapArgon2", "django.contrib.auth.hashers.Argon2PasswordHasher"]
    with override_settings(PASSWORD_HASHERS=hashers):
        for i in range(customers):
            ledger_ids.append(_make_customer(i, now))
            if (i + 1) % 200 == 0:
                log(f"[prepare] {i + 1}/{customers} customers ({time.monotonic() - t0:.0f} s)")
    initial_fen = initial_yuan * 100
    for start in range(0, customers, 500):
        chunk = ledger_ids[start : start + 500]
        ledger.journal_post(
            idempotency_key=f"bench:fund:{start}",
            type=JournalType.DEPOSIT,
            lines=[ledger.debit(cash.pk, Money(initial_fen * len(chunk)))]
            + [ledger.credit(pk, Money(initial_fen)) for pk in chunk],
            actor=STAFF,
            posted_at=now,
            memo="bench funding",
        )
    connection.close()
    stamp = {
        "version": DATA_VERSION,
        "customers": customers,
        "initial_yuan": initial_yuan,
        "made": now.isoformat(timespec="seconds"),
    }
    with target.connect("postgres", admin=True) as conn:
        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{json.dumps(stamp)}'")
    log(f"[prepare] template {name}: {customers} customers in {time.monotonic() - t0:.0f} s")


def template_stamp(target: bench_server.Target, name: str) -> dict | None:
    with target.connect("postgres") as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
    if row is None or not row[0]:
        return None
    try:
        return json.loads(row[0])
    except ValueError:
        return None


def template_usable(stamp: dict | None, *, customers: int, initial_yuan: int) -> bool:
    if not stamp or stamp.get("version") != DATA_VERSION:
        return False
    made = datetime.fromisoformat(stamp["made"])
    return (
        stamp.get("customers", 0) >= customers
        and stamp.get("initial_yuan") == initial_yuan
        and datetime.now(UTC) - made < TEMPLATE_MAX_AGE
    )


def clone(target: bench_server.Target, template: str, name: str) -> None:
    with target.connect("postgres", admin=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" OWNER "{target.user}"')


# --- at run time, in the clone --------------------------------------------------------------


def load_customers(count: int) -> list[Customer]:
    from wangyin.customers.models import CustomerAccount
    from wangyin.notify.services import phone_index

    rows = (
        CustomerAccount.objects.select_related("person")
        .filter(person__channel_users__login_name__startswith="bench")
        .order_by("person__channel_users__login_name")
    )
    out = []
    for account in rows[:count]:
        person = account.person
        index = int(person.name[-5:])
        out.append(
            Customer(
                index=index,
                name=person.name,
                phone_index=phone_index(person.phone),
                account_id=account.pk,
                account_number=account.number,
                device_cookie=device_cookie(index),
            )
        )
    if len(out) < count:
        raise RuntimeError(f"the bench database holds {len(out)} customers, not {count}")
    return out


def sign_in(customers: list[Customer]) -> None:
    """A live session for each customer, as ``web.login._start_session`` makes one after the
    password and device checks; and a CSRF cookie as the browser would hold."""
    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils.crypto import get_random_string

    from wangyin.identity import sessions
    from wangyin.identity.models import ChannelUser
    from wangyin.web.customer import _device_id

    users = {u.login_name: u for u in ChannelUser.objects.filter(login_name__startswith="bench")}
    now = datetime.now(UTC)
    for c in customers:
        user = users[f"bench{c.index:05d}"]
        session = sessions.session_start(
            user=user, ip=IP, device=_device_id(c.device_cookie, USER_AGENT), at=now
        )
        store = SessionStore()
        store["sid"] = session.sid
        store.create()
        c.session_cookie = store.session_key
        c.csrf_token = get_random_string(32)  # the format of Django's CSRF secret
    assert settings.SESSION_COOKIE_NAME == "sessionid"


def reset_sms_budgets() -> int:
    """Forget the SMS-code rate counters (5 codes per customer and per phone number in 10
    minutes): between phases, as if ten minutes had passed. Returns the rows removed."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_ratecounter WHERE key LIKE 'sms:%%'")
        return cursor.rowcount


def result_texts() -> dict[str, str]:
    """The result page's heading for a completed and a held transfer, in Chinese (the
    bank's default language, which the generator's browser asks for)."""
    from django.utils import translation

    with translation.override("zh-hans"):
        return {
            "done": str(translation.gettext("Transfer completed")),
            "held": str(translation.gettext("Transfer held for review")),
        }


def as_dicts(customers: list[Customer]) -> list[dict]:
    return [asdict(c) for c in customers]
