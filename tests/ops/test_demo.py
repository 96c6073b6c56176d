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
    assert counts == (3, 1, 5, 10, 605)  # 5 GL accounts
    assert {login["login"] for login in first.logins} == {"zhangwei", "linademo", "teller01",
                                                         "auditor01", "secadmin01", "risk01",
                                                         "riskhq01"}
    assert first.journals_posted == 605
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
    products = sorted(CustomerAccount.objects.values_list("product", flat=True))
    assert products == ["CORPORATE_BASIC", "CORPORATE_GENERAL", "PERSONAL_I", "PERSONAL_II",
                        "PERSONAL_III"]

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
