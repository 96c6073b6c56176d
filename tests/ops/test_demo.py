"""The demo bank loads through the services, verifies clean and loads idempotently."""

from datetime import date

import pytest
from django.core.management import call_command

from wangyin.audit.selectors import audit_verify
from wangyin.customers.models import Company, CustomerAccount, Person
from wangyin.ledger.models import Account, Journal
from wangyin.ledger.selectors import ledger_verify
from wangyin.ops.demo import load_demo

pytestmark = pytest.mark.req("DT-05", "AD-04")


@pytest.fixture(autouse=True)
def own_var_dir(tmp_path, monkeypatch):
    """The demo writes files (the password card's PDF, demo logins): not into ./var. The
    bank's CA and the receipt signer are read once per process: forget them on the way in
    and out, so neither this test nor the next ones use keys of another var directory."""
    from wangyin.authn import ca
    from wangyin.receipts import signing

    caches = (ca.authority, signing.signer)
    for cached in caches:
        cached.cache_clear()
    monkeypatch.setenv("WANGYIN_VAR_DIR", str(tmp_path))
    yield tmp_path
    for cached in caches:
        cached.cache_clear()


@pytest.mark.django_db
def test_demo_loads_once_and_verifies(at, own_var_dir):
    first = load_demo(now=at, history_size=600)
    counts = (Person.objects.count(), Company.objects.count(),
              CustomerAccount.objects.count(), Account.objects.count(),
              Journal.objects.count())
    # 5 GL accounts; the company's 4 operators; its 19 employees with a Class I account each;
    # the subsidiary (group view) with its basic account and two deposits
    assert counts == (26, 2, 25, 30, 607)
    assert {login["login"] for login in first.logins} == {"zhangwei", "linademo", "teller01",
                                                         "auditor01", "secadmin01", "risk01",
                                                         "riskhq01"}
    assert first.journals_posted == 605
    assert first.corporate["service"] and len(first.corporate["operators"]) == 4
    # Other banks: the directory is loaded, the sandbox knows their accounts, and the
    # clearing suspense holds nothing (the history settled through the reserve).
    from wangyin.payments import directory, settlement
    assert directory.bank_by_code("102428000013") is not None
    assert {o["name"] for o in first.other_banks} == {"赵六", "孙红", "陈七"}
    assert settlement.suspense_difference() == 0
    from wangyin.core import calendar
    assert calendar.year_loaded(2026) and not calendar.is_working_day(date(2026, 10, 1))
    from wangyin.authn.tokens import tokens_of
    zhangwei = Person.objects.get(channel_users__login_name="zhangwei")
    assert {t.kind for t in tokens_of(zhangwei)} == {"TOTP", "OCRA"}
    assert {t["serial"] for t in first.tokens} == {t.serial for t in tokens_of(zhangwei)}
    assert (own_var_dir / "demo" / "password-card.pdf").read_bytes().startswith(b"%PDF")
    # The USB-Key: bound, enrolled through the codes, its certificate on the device file.
    from wangyin.authn import certificates
    from wangyin_sdk.usbkey import SoftUsbKey
    certificate = certificates.certificate_for(zhangwei, "USBKEY")
    device = SoftUsbKey.open(first.usb_key["device"], confirm=lambda text: True)
    assert device.serial == "WYDEMO0003" and device.certificate == bytes(certificate.der)
    assert first.usb_key["device"].startswith(str(own_var_dir))
    # 李娜 holds no device: her face stands in, and the demo camera file shows that face.
    from wangyin.authn import face, policy
    lina = Person.objects.get(channel_users__login_name="linademo")
    assert policy.required_factors(person=lina, purpose="password.reset") == ("SMS", "FACE")
    camera = (own_var_dir / "demo" / "face-camera-linademo.mjpeg").read_bytes()
    frames = [b"\xff\xd8" + part for part in camera.split(b"\xff\xd8")[1:4]]
    seen = face.SandboxFaceVerifier().compare(id_type=lina.id_type, id_number=lina.id_number,
                                              name=lina.name, frames=frames, reference="t")
    assert seen.on_record and seen.live and seen.similarity >= 0.85
    assert first.face_camera.startswith(str(own_var_dir))
    # 李娜 receives by mobile number: zhangwei can pay 13907970002.
    from wangyin.payments import payees
    assert payees.mobile_account("13907970002").person_id == lina.pk
    products = sorted(set(CustomerAccount.objects.values_list("product", flat=True)))
    assert products == ["CORPORATE_BASIC", "CORPORATE_GENERAL", "PERSONAL_I", "PERSONAL_II",
                        "PERSONAL_III"]

    from wangyin.corporate.models.groups import GroupGrant

    grant = GroupGrant.objects.select_related("account__company", "service__company").get()
    assert grant.account.company.name == "赣州示范贸易有限公司"
    assert grant.service.company.name == "赣州示范科技有限公司"
    again = load_demo(now=at, history_size=600)
    assert again.created == [] and again.journals_posted == 0
    assert (Person.objects.count(), Company.objects.count(), CustomerAccount.objects.count(),
            Account.objects.count(), Journal.objects.count()) == counts

    assert ledger_verify().ok
    assert audit_verify().ok
    customer_total = sum(Account.objects.filter(kind="CUSTOMER").values_list("balance",
                                                                               flat=True))
    assert customer_total > 0
    assert not Account.objects.filter(kind="CUSTOMER", balance__lt=0).exists()


@pytest.mark.django_db
def test_demo_command_prints_masked_accounts(capsys):
    call_command("demo", history_size=250)
    out = capsys.readouterr().out
    assert "posted 255 journals" in out
    numbers = CustomerAccount.objects.values_list("number", flat=True)
    for number in numbers:
        assert number not in out and f"{number[:4]}" in out
    assert "teller01" in out and "TOTP secret" in out
    from wangyin.corporate.models import CorporateService
    from wangyin.ops.demo import demo_credentials
    creds = demo_credentials()
    assert f"service number {CorporateService.objects.get().number}" in out
    for code, serial in (("admin", "WYDEMO0011"), ("pay01", "WYDEMO0012"),
                         ("chk01", "WYDEMO0013"), ("auth01", "WYDEMO0014")):
        assert f"{code:<7} password {creds['corp_' + code]}  USB-Key {serial} PIN " \
               f"{creds['corp_' + code + '_pin']}" in out
    call_command("demo", history_size=250)
    assert "already loaded" in capsys.readouterr().out


@pytest.mark.django_db
def test_demo_logins_work(at):
    from wangyin.identity import services as identity
    from wangyin.ops.demo import demo_credentials

    load_demo(now=at, history_size=250)
    creds = demo_credentials()
    user = identity.password_login(login_name="zhangwei", password=creds["zhangwei"], ip=None,
                                   device="d", user_agent="", at=at)
    assert not user.must_change_password and user.edition == "PRO"
    from django.contrib.auth import authenticate

    assert authenticate(username="teller01", password=creds["teller01"]) is not None


@pytest.mark.django_db
@pytest.mark.req("RK-03", "RK-16", "RK-18")
def test_demo_fraud_raises_cases_the_risk_desk_can_work(at):
    from datetime import timedelta

    from wangyin.ops.fraud import SPRAY_IP, play_fraud
    from wangyin.payments.models import Transfer
    from wangyin.risk import services as risk
    from wangyin.risk.models import Case

    load_demo(now=at - timedelta(days=1), history_size=250)
    lines = play_fraud(now=at)
    assert len(lines) == 5, lines
    night, device, spray, travel, mule = lines
    assert night.endswith("HELD") and device.endswith("HELD"), lines
    assert "refused" in spray and risk.ip_blocked(SPRAY_IP, at)
    assert travel.endswith("asked for the SMS code again") and "refused" in mule
    held = Transfer.objects.filter(status="HELD")
    assert held.count() == 2 and {t.risk_reasons[0] for t in held} == {
        "new_payee_night_large", "new_device_large"}
    zhang = Case.objects.get(subject=f"person:{held[0].person_id}")
    assert {"new_payee_night_large", "new_device_large", "impossible_travel",
            "black_list"} <= set(zhang.reasons)
    assert Case.objects.filter(subject=f"ip:{SPRAY_IP}").exists()


# --- corporate internet banking (#7) -----------------------------------------------------


def _real_now():
    """Real time: the operators' certificates chain to a CA root made at real time."""
    from django.utils import timezone

    return timezone.now().replace(microsecond=0)


def _key(entry):
    from wangyin_sdk.usbkey import SoftUsbKey

    return SoftUsbKey.open(entry["device"], confirm=lambda text: True)


def _signin(entry, service_number, now):
    """An operator signs in as on the page: service number, code, password, then their
    USB-Key signs the sign-in challenge."""
    import base64

    from wangyin.corporate import signin

    ticket = signin.password_check(service_number=service_number, operator_code=entry["code"],
                                   password=entry["password"], ip="127.0.0.1", device="demo",
                                   user_agent="test", at=now)
    assert ticket.factor == "USBKEY"
    challenge = signin.signin_challenge(login_id=ticket.pk, ip="127.0.0.1", device="demo",
                                        at=now)
    signature = _key(entry).sign(challenge.sign_payload, entry["pin"])
    session = signin.signin_complete(login_id=ticket.pk, ip="127.0.0.1", device="demo",
                                     user_agent="test", at=now,
                                     codes={"USBKEY": base64.b64encode(signature).decode()})
    return session.operator


def _approve(entry, operator, instruction, now):
    import base64

    from wangyin.corporate import approvals

    challenge = approvals.approval_challenge(operator, instruction.pk, now)
    signature = base64.b64encode(_key(entry).sign(challenge.sign_payload, entry["pin"]))
    approvals.approval_verify(operator, instruction.pk, challenge.pk, signature.decode(), now)
    return approvals.approve(operator, instruction.pk, challenge.pk, now)


@pytest.mark.django_db
@pytest.mark.req("FC-02", "ON-04", "ON-10")
def test_demo_company_has_an_administrator_and_three_operators(own_var_dir):
    from wangyin.authn import certificates
    from wangyin.authn.models import Certificate, Signature
    from wangyin.corporate import approvals, signin
    from wangyin.corporate.models import ApprovalPolicy, CorporateService, Operator

    now = _real_now()
    first = load_demo(now=now, history_size=250)
    service = CorporateService.objects.get()
    assert service.edition == "STANDARD" and service.status == "ACTIVE"
    company_accounts = set(CustomerAccount.objects.filter(company=service.company)
                           .values_list("pk", flat=True))
    assert set(service.accounts.values_list("account_id", flat=True)) == company_accounts
    assert first.corporate["service"] == service.number
    operators = {o.code: o for o in Operator.objects.filter(service=service)}
    assert set(operators) == {"admin", "pay01", "chk01", "auth01"}
    assert operators["admin"].is_admin and operators["admin"].roles == []
    assert {code: operators[code].roles for code in ("pay01", "chk01", "auth01")} == {
        "pay01": ["ENTER"], "chk01": ["CHECK"], "auth01": ["AUTHORISE"]}
    entries = {e["code"]: e for e in first.corporate["operators"]}
    for code, operator in operators.items():
        assert operator.status == "ACTIVE" and not operator.must_change_password
        if not operator.is_admin:
            assert set(operator.scopes.values_list("account_id", flat=True)) == \
                company_accounts
        # The printed password works (a ticket for the USB-Key's step), the key on its
        # device file holds this operator's certificate for the company.
        ticket = signin.password_check(service_number=service.number, operator_code=code,
                                       password=entries[code]["password"], ip=None,
                                       device="t", user_agent="", at=now)
        assert ticket.factor == "USBKEY"
        certificate = certificates.certificate_for(operator.person, "USBKEY",
                                                   company_id=service.company_id)
        key = _key(entries[code])
        assert key.serial == entries[code]["usb_key"] == certificate.usb_key.serial
        assert key.certificate == bytes(certificate.der)
        assert entries[code]["device"].startswith(str(own_var_dir / "demo"))
    # The policy the demo shows, signed by the administrator's key.
    policy = approvals.live_policy(service)
    assert policy.version == 2 and policy.signature.certificate.person == \
        operators["admin"].person
    assert sorted((t.up_to_fen or 0, t.checkers, t.authorisers) for t in policy.tiers.all()) \
        == [(0, 1, 1), (10_000_000, 0, 1)]
    # Printed by the demo command, with zhangwei's key, for the one agent.
    from wangyin.ops.demo import demo_usb_key_paths
    assert len(demo_usb_key_paths()) == 5

    counts = (Operator.objects.count(), Certificate.objects.count(),
              Signature.objects.count(), ApprovalPolicy.objects.count(),
              CorporateService.objects.count(), Person.objects.count())
    devices = {e["device"]: open(e["device"]).read() for e in first.corporate["operators"]}
    again = load_demo(now=now, history_size=250)
    assert again.created == []
    assert again.corporate == first.corporate
    assert (Operator.objects.count(), Certificate.objects.count(), Signature.objects.count(),
            ApprovalPolicy.objects.count(), CorporateService.objects.count(),
            Person.objects.count()) == counts
    assert {path: open(path).read() for path in devices} == devices
    assert audit_verify().ok


@pytest.mark.django_db
@pytest.mark.req("FC-02", "TX-02", "TX-06")
def test_demo_operators_enter_check_and_authorise_payments(own_var_dir):
    """What a person clicks after ``make run``: pay01 signs in with the key and enters
    ¥5,000 to zhangwei, auth01 authorises it alone; ¥150,000 needs chk01 first. Both are
    paid."""
    from wangyin.corporate import approvals, execution
    from wangyin.corporate.errors import CorporateError

    now = _real_now()
    result = load_demo(now=now, history_size=250)
    entries = {e["code"]: e for e in result.corporate["operators"]}
    number = result.corporate["service"]
    pay01, chk01, auth01 = (_signin(entries[c], number, now)
                            for c in ("pay01", "chk01", "auth01"))
    basic = CustomerAccount.objects.get(product="CORPORATE_BASIC",
                                        company__name="赣州示范科技有限公司")
    zhang = CustomerAccount.objects.get(person__channel_users__login_name="zhangwei")

    def enter(yuan: int, key: str):
        return approvals.instruction_enter(
            pay01, debit_account_id=basic.pk, payee_account=zhang.number, payee_name="张伟",
            amount_fen=yuan * 100, purpose="货款", idempotency_key=key, at=now)

    small = enter(5_000, "demo-small")
    assert small.status == "ENTERED"
    with pytest.raises(CorporateError):  # the entering operator cannot authorise
        approvals.approval_challenge(pay01, small.pk, now)
    _approve(entries["auth01"], auth01, small, now)
    small.refresh_from_db()
    assert small.status == "AUTHORISED"

    large = enter(150_000, "demo-large")
    with pytest.raises(CorporateError):  # above ¥100,000 the check comes first
        approvals.approval_challenge(auth01, large.pk, now)
    _approve(entries["chk01"], chk01, large, now)
    large.refresh_from_db()
    assert large.status == "CHECKED"
    _approve(entries["auth01"], auth01, large, now)

    before = zhang.ledger_account.balance
    for instruction in (small, large):
        assert execution.instruction_execute(instruction.pk, now).status == "EXECUTED"
    zhang.ledger_account.refresh_from_db()
    assert zhang.ledger_account.balance - before == 15_500_000
    assert ledger_verify().ok
