"""``wangyin demo fraud``: realistic fraud scenarios played against the demo bank through
the real services (sign-in, device binding, payments with their SMS codes from the sandbox),
so the risk desk has cases to work: money held for review, an IP blocked after a password
spray, a sign-in from the far side of the country, a payment to a reported mule account.

The IP addresses are the shipped IP table's sandbox networks (192.0.2.0/24 Beijing,
203.0.113.0/24 Ürümqi). Each run plays the scenarios again at the current time."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils import timezone

from wangyin.core.errors import DomainError

BEIJING_IP, FAR_IP, SPRAY_IP = "192.0.2.20", "203.0.113.20", "203.0.113.66"
MULE_ACCOUNT = "6217000000000005678"  # 孙红 at another bank, reported by the police


def _pay(user, *, account, payee_account: str, payee_name: str, yuan: str, device: str,
         ip: str, at: datetime, key: str, bank: str = "") -> str:
    """Pay as the customer would: quote, the SMS code from the sandbox, execute."""
    from wangyin.authn import services as authn
    from wangyin.core.money import Money
    from wangyin.ops.demo import sandbox_code
    from wangyin.payments import services as payments

    order = payments.Instruction(debit_account_id=account.pk, payee_account=payee_account,
                                 payee_name=payee_name, payee_bank=bank,
                                 amount_fen=Money.from_yuan(yuan).fen, memo="demo fraud")
    try:
        quote = payments.transfer_quote(user=user, instruction=order, device_id=device,
                                        ip=ip, at=at)
        challenge = None
        if quote.factors:
            challenge = authn.challenge_issue(person=user.person, purpose=quote.operation,
                                              factors=quote.factors, key=quote.key, at=at,
                                              device_id=device)
            authn.challenge_verify(challenge_id=challenge.pk, person=user.person,
                                   purpose=quote.operation, digest=quote.key.digest(), at=at,
                                   codes={"SMS": sandbox_code(quote.operation)})
        transfer = payments.transfer_execute(
            user=user, instruction=order, nonce=quote.key.nonce,
            challenge_id=challenge.pk if challenge else None, idempotency_key=key,
            device_id=device, ip=ip, at=at)
    except DomainError as exc:
        return f"refused: {exc.message}"
    return f"transfer {transfer.pk}: {transfer.status}"


def _sign_in(login_name: str, password: str, *, ip: str, device: str, at: datetime) -> str:
    from wangyin.identity import services as identity

    try:
        user = identity.password_login(login_name=login_name, password=password, ip=ip,
                                       device=device, user_agent="demo", at=at)
    except DomainError as exc:
        return f"refused: {exc.message}"
    return "asked for the SMS code again" if user.risk_step_up else "signed in"


def play_fraud(*, now: datetime | None = None) -> list[str]:
    """Play every scenario; returns one line per scenario saying what the bank did."""
    from wangyin.customers.models import CustomerAccount
    from wangyin.identity import devices
    from wangyin.identity.models import ChannelUser
    from wangyin.ops.demo import demo_credentials
    from wangyin.risk import lists

    now = now or timezone.now()
    stamp = now.strftime("%Y%m%d%H%M%S")
    creds = demo_credentials()
    zhang = ChannelUser.objects.select_related("person").get(login_name="zhangwei")
    account = CustomerAccount.objects.filter(person=zhang.person).order_by("pk").first()
    lina, fang = (CustomerAccount.objects.filter(person__name=name).order_by("pk").first()
                  for name in ("李娜", "王芳"))
    # Last night (the day before: its payments do not count against today's limits).
    night = timezone.make_aware(datetime.combine(timezone.localdate(now) - timedelta(days=1),
                                                 time(2, 40)))
    lines = []

    # 1. A first large payment to a new payee in the middle of the night: held for review.
    result = _pay(zhang, account=account, payee_account=fang.number, payee_name="王芳",
                  yuan="20000.00", device="demo", ip=BEIJING_IP, at=night,
                  key=f"fraud-night-{stamp}")
    lines.append(f"¥20 000 to a new payee at 02:40 last night → {result}")

    # 2. A phone bound an hour ago sends ¥50 000: held for review.
    bound = now - timedelta(hours=1)
    phone = f"demo-new-phone-{stamp}"
    devices.device_bind(user=zhang, device_id=phone, label="Android 新手机", ip=BEIJING_IP,
                        at=bound)
    result = _pay(zhang, account=account, payee_account=lina.number, payee_name="李娜",
                  yuan="50000.00", device=phone, ip=BEIJING_IP, at=now,
                  key=f"fraud-device-{stamp}")
    lines.append(f"¥50 000 from a phone bound an hour ago → {result}")

    # 3. A password spray from one IP: after the limit the IP is blocked for a while.
    limit = _spray_limit()
    for n in range(limit):
        _sign_in(f"guess{n:03d}", "123456", ip=SPRAY_IP, device="spray", at=now)
    result = _sign_in("zhangwei", creds["zhangwei"], ip=SPRAY_IP, device="spray", at=now)
    lines.append(f"{limit} failed sign-ins from {SPRAY_IP}, then the right password → {result}")

    # 4. Signed in from Beijing, then 20 minutes later from Ürümqi (about 2 400 km).
    _sign_in("zhangwei", creds["zhangwei"], ip=BEIJING_IP, device="demo",
             at=now + timedelta(minutes=1))
    result = _sign_in("zhangwei", creds["zhangwei"], ip=FAR_IP, device="demo",
                      at=now + timedelta(minutes=21))
    lines.append(f"sign-in from Beijing, then from Ürümqi 20 minutes later → {result}")

    # 5. A payment to an account the police reported as a mule account: blocked.
    lists.entry_add(colour="BLACK", subject="ACCOUNT", value=MULE_ACCOUNT,
                    reason="reported by the police as a fraud account (demo)",
                    staff="system:demo", at=now)
    result = _pay(zhang, account=account, payee_account=MULE_ACCOUNT, payee_name="孙红",
                  bank="105428000016", yuan="3000.00", device="demo", ip=BEIJING_IP,
                  at=now + timedelta(minutes=22), key=f"fraud-mule-{stamp}")
    lines.append(f"¥3 000 to a reported mule account → {result}")
    return lines


def _spray_limit() -> int:
    from django.conf import settings

    return settings.RISK_PARAMS["ip_fail_limit"]
