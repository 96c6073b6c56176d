"""The demo bank: GL accounts, three personal customers (one per account class), one company
with two accounts, opening balances and about 10 000 historical transactions.

Everything goes through the domain services (so it is audited and verified like real
business), and loading twice changes nothing: parties are found by their ID number or
credit code, journals carry deterministic idempotency keys, and the history's start date
is read back from the first opening journal.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from wangyin.core.keys import key_dir, key_file
from wangyin.core.money import Money, format_money
from wangyin.customers import selectors as customer_selectors
from wangyin.customers import services as customer_services
from wangyin.customers.models import Product
from wangyin.customers.validation import resident_id_check_digit, uscc_check_digit
from wangyin.ledger import services as ledger
from wangyin.ledger.errors import InsufficientFunds
from wangyin.ledger.models import Account, AccountKind, Journal, JournalType, NormalSide

ACTOR = "system:demo"
HISTORY_DAYS = 180
HISTORY_SIZE = 10_000
SEED = 20261122

# (number, name, normal side); NULL overdraft limit: the bank's own books may go negative.
GL_ACCOUNTS = [
    ("GL10010001", "库存现金 Cash in vault", NormalSide.DEBIT),
    ("GL30010001", "清算往来 Interbank clearing suspense", NormalSide.DEBIT),
    ("GL10030001", "存放中央银行款项 Deposits with the central bank", NormalSide.DEBIT),
    ("GL60210001", "手续费收入 Fee income", NormalSide.CREDIT),
    ("GL64110001", "利息支出 Interest expense", NormalSide.DEBIT),
]


@dataclass(frozen=True)
class DemoPerson:
    name: str
    id17: str  # the first 17 characters of a resident ID number; the check digit is computed
    birth_date: date
    phone: str
    product: str
    opening_yuan: str


PEOPLE = [
    DemoPerson("张伟", "36070219850312201", date(1985, 3, 12), "13807970001",
               Product.PERSONAL_I, "86000.00"),
    DemoPerson("李娜", "36070219920708402", date(1992, 7, 8), "13907970002",
               Product.PERSONAL_II, "8000.00"),
    DemoPerson("王芳", "36070220010125302", date(2001, 1, 25), "15007970003",
               Product.PERSONAL_III, "800.00"),
]

COMPANY = {
    "name": "赣州示范科技有限公司",
    "uscc17": "91360702MA35R8LX1",
    "legal_rep_name": "刘强",
    "legal_rep_id17": "36070219780921101",
    "contact_name": "陈静",
    "contact_phone": "18907970009",
}


@dataclass
class DemoResult:
    created: list[str] = field(default_factory=list)
    customers: list[dict] = field(default_factory=list)
    logins: list[dict] = field(default_factory=list)
    totp_base32: str = ""
    tokens: list[dict] = field(default_factory=list)
    card_pdf: str = ""
    usb_key: dict = field(default_factory=dict)
    corporate: dict = field(default_factory=dict)
    face_camera: str = ""
    journals_posted: int = 0
    other_banks: list[dict] = field(default_factory=list)


def load_demo(*, now: datetime | None = None, history_size: int = HISTORY_SIZE) -> DemoResult:
    now = now or timezone.now()
    result = DemoResult()
    gl = _gl_accounts(now, result)
    people = [_person(p, now, result) for p in PEOPLE]
    company_accounts = _company(now, result)
    start = _history_start(now)
    opening = [(acc, Money.from_yuan(p.opening_yuan)) for acc, p in zip(people, PEOPLE,
                                                                       strict=True)]
    opening += [(company_accounts[0], Money.from_yuan("2000000.00")),
                (company_accounts[1], Money.from_yuan("300000.00"))]
    for account, amount in opening:
        journal = ledger.journal_post(
            idempotency_key=f"demo:opening:{account.number}", type=JournalType.OPENING,
            memo="开户存入 Opening deposit", actor=ACTOR, posted_at=start,
            lines=[ledger.debit(gl["GL10010001"].pk, amount),
                   ledger.credit(account.ledger_account_id, amount)],
        )
        result.journals_posted += 0 if journal.replayed else 1
    result.journals_posted += _history(start=start, gl=gl, people=people,
                                       company=company_accounts, size=history_size)
    for person, spec in zip(people, PEOPLE, strict=True):
        result.customers.append({"name": spec.name, "product": spec.product,
                                 "account": person.number})
    result.customers.append({"name": COMPANY["name"], "product": "CORPORATE",
                             "account": ", ".join(a.number for a in company_accounts)})
    _logins(now, people, result)
    _corporate(now, company_accounts, result)
    _payroll(now, people[0], result)
    _face(now, people[1], result)
    _other_banks(result)
    _calendar(result)
    _mobile_receiving(now, people[1], result)
    _reconciliation(now, result)
    _group(now, gl["GL10010001"], start, result)
    return result


# Accounts at other banks the sandbox clearing system knows: pay them from the demo to see
# a payment settle (赵六), come back (陈七's account is closed) or be refused (any other
# number at these banks).
OTHER_BANK_ACCOUNTS = [
    ("102428000013", "6222020000000001234", "赵六", False),
    ("105428000016", "6217000000000005678", "孙红", False),
    ("308428000019", "6214830000000009012", "陈七", True),
]


def _other_banks(result: DemoResult) -> None:
    """The bank directory (data, ``wangyin banks load``) and the sandbox's accounts at
    other banks."""
    from django.conf import settings

    from wangyin.payments import directory, sandbox
    from wangyin.payments.models import Bank

    if not Bank.objects.exists():
        counts = directory.banks_load()
        result.created.append(f"bank directory ({counts['added']} entries)")
    if settings.CLEARING_ADAPTER != "sandbox":
        return
    for code, number, name, closed in OTHER_BANK_ACCOUNTS:
        sandbox.account_add(bank_code=code, number=number, name=name, closed=closed)
        bank = directory.bank_by_code(code)
        result.other_banks.append({"bank": bank.name if bank else code, "account": number,
                                   "name": name, "closed": closed})


def _calendar(result: DemoResult) -> None:
    """The business calendar shipped with the code (data, ``wangyin calendar load``)."""
    from wangyin.core import calendar

    counts = calendar.calendar_load()
    if counts["added"] or counts["updated"] or counts["removed"]:
        result.created.append(f"business calendar ({counts['added']} days added, "
                              f"{counts['updated']} updated, {counts['removed']} removed)")


def _reconciliation(now: datetime, result: DemoResult) -> None:
    """Last month's balance statements (银企对账) of the demo company's accounts, as the
    job issues them on the 1st: auth01 answers them under Reconciliation (idempotent)."""
    from wangyin.corporate import reconciliation

    issued = reconciliation.statements_issue(reconciliation.previous_month(now), now)
    if issued:
        result.created.append(f"{issued} balance statement(s) for reconciliation")


# The group view (FC-08): a subsidiary whose basic account the demo company sees (Group
# accounts), granted at the counter on the subsidiary's written authorisation.
SUBSIDIARY = {"name": "赣州示范贸易有限公司", "uscc17": "91360702MA35R8LX5",
              "legal_rep_name": "周敏", "legal_rep_id17": "36070219800203102",
              "contact_name": "周敏", "contact_phone": "18907970019"}


def _group(now: datetime, cash: Account, start: datetime, result: DemoResult) -> None:
    """The subsidiary, its basic account with two deposits, and the grant (idempotent)."""
    from wangyin.corporate import counter, groups
    from wangyin.corporate.models.groups import GroupGrant

    spec = SUBSIDIARY
    uscc = spec["uscc17"] + uscc_check_digit(spec["uscc17"])
    company = customer_selectors.company_by_uscc(uscc=uscc)
    if company is None:
        company = customer_services.company_create(
            name=spec["name"], uscc=uscc, legal_rep_name=spec["legal_rep_name"],
            legal_rep_id_type="RESIDENT_ID", legal_rep_id_number=spec["legal_rep_id17"]
            + resident_id_check_digit(spec["legal_rep_id17"]), contact_name=spec["contact_name"],
            contact_phone=spec["contact_phone"], actor=ACTOR, created_at=now)
        result.created.append(f"company {spec['name']} (subsidiary)")
    account = next(iter(customer_selectors.accounts_of_company(company_id=company.pk)), None)
    if account is None:
        account = customer_services.corporate_account_open(
            company_id=company.pk, product=Product.CORPORATE_BASIC, actor=ACTOR, opened_at=now)
    for n, (yuan, days) in enumerate((("500000.00", 0), ("36800.00", 3))):
        ledger.journal_post(
            idempotency_key=f"demo:group:{account.number}:{n}", type=JournalType.DEPOSIT,
            memo="存入 Deposit", actor=ACTOR, posted_at=start + timedelta(days=days),
            lines=[ledger.debit(cash.pk, Money.from_yuan(yuan)),
                   ledger.credit(account.ledger_account_id, Money.from_yuan(yuan))])
    parent = customer_selectors.company_by_uscc(
        uscc=COMPANY["uscc17"] + uscc_check_digit(COMPANY["uscc17"]))
    service = counter.active_service_of(parent.pk)
    if service is not None and not GroupGrant.objects.filter(
            service=service, account=account, ended_at__isnull=True).exists():
        groups.group_grant(service_id=service.pk, account_number=account.number,
                           authorisation_ref="示范贸易授权〔2026〕1号", staff=ACTOR, at=now,
                           reason="demo: the group view")
        result.created.append(f"group view: {spec['name']} {account.masked_number}")


def demo_credentials() -> dict:
    """Passwords and the TOTP key of the demo logins: random per installation, kept in
    ``var/keys/demo_logins`` (0600) so every ``make run`` can print them again."""
    import base64
    import json
    import secrets

    from wangyin.identity.passwords import password_problems
    from wangyin.identity.services import generate_initial_password

    def login_password(suffix: str) -> str:
        """An initial password with a fixed tail; the whole must still pass the policy
        (the tail can make a run such as "abc" with the random part)."""
        while True:
            candidate = generate_initial_password() + suffix
            if not password_problems(candidate):
                return candidate

    def generate() -> str:
        return json.dumps({
            "zhangwei": login_password("a1"),
            "linademo": login_password("b2"),
            "teller01": "Teller-" + secrets.token_urlsafe(9),
            "auditor01": "Audit-" + secrets.token_urlsafe(9),
            "secadmin01": "Secure-" + secrets.token_urlsafe(9),
            "risk01": "Risk-" + secrets.token_urlsafe(9),
            "riskhq01": "RiskHQ-" + secrets.token_urlsafe(9),
            "totp_hex": secrets.token_hex(20),
            "usbkey_pin": f"{secrets.randbelow(10**6):06d}",
            **{f"corp_{o.code}": login_password("c3") for o in CORPORATE_OPERATORS},
            **{f"corp_{o.code}_pin": f"{secrets.randbelow(10**6):06d}"
               for o in CORPORATE_OPERATORS},
        })

    text = key_file("demo_logins", env="(demo only)", generate=generate)
    data = json.loads(text)
    missing = {k: v for k, v in json.loads(generate()).items() if k not in data}
    if missing:  # a login added to the demo after this installation's file was written
        data.update(missing)
        (key_dir() / "demo_logins").write_text(json.dumps(data) + "\n")
    data["totp_base32"] = base64.b32encode(bytes.fromhex(data["totp_hex"])).decode()
    return data


def _logins(now: datetime, people, result: DemoResult) -> None:
    """Internet banking for 张伟 (zhangwei, professional edition) and 李娜 (linademo, public
    edition), with
    their first password change already done; a teller and an auditor for the back office
    sharing one TOTP key (add it to any authenticator app)."""
    from django.contrib.auth import get_user_model

    from wangyin.backoffice import staff
    from wangyin.identity import services as identity
    from wangyin.identity.models import ChannelUser

    creds = demo_credentials()
    for login_name, edition, account in (("zhangwei", "PRO", people[0]),
                                         ("linademo", "PUBLIC", people[1])):
        if not ChannelUser.objects.filter(login_name=login_name).exists():
            user, initial = identity.internet_banking_open(
                person_id=account.person_id, login_name=login_name, edition=edition,
                risk_acknowledged=True, staff=ACTOR, reason="demo bank", at=now)
            identity.password_change(user_id=user.pk, current_password=initial,
                                     new_password=creds[login_name], ip=None, at=now)
            result.created.append(f"internet banking {login_name}")
        result.logins.append({"who": "customer", "login": login_name,
                              "password": creds[login_name], "where": "/login/"})
    for username, role in (("teller01", staff.TELLER), ("auditor01", staff.AUDITOR),
                           ("secadmin01", staff.SECURITY_ADMIN),
                           ("risk01", staff.RISK_OFFICER), ("riskhq01", staff.RISK_MANAGER)):
        if not get_user_model().objects.filter(username=username).exists():
            staff.staff_create(username=username, password=creds[username], role=role,
                               created_by=ACTOR, totp_key=creds["totp_hex"])
            result.created.append(f"staff {username}")
        result.logins.append({"who": f"staff ({role})", "login": username,
                              "password": creds[username], "where": "/bo/"})
    result.totp_base32 = creds["totp_base32"]
    _token(now, people[0], result)


DEMO_TOKENS = (("TOTP", "WYDEMO0001", "demo_token"),  # noqa: S105 -- serials, not secrets
               ("OCRA", "WYDEMO0002", "demo_ocra"))


def demo_token_seed(name: str) -> str:
    """The Base32 seed of a demo token: random per installation, in var/keys/<name>."""
    import base64
    import secrets

    return base64.b32encode(bytes.fromhex(key_file(
        name, env="(demo only)", generate=lambda: secrets.token_hex(20)))).decode()


def _token(now: datetime, account, result: DemoResult) -> None:
    """张伟 holds an OTP token and a challenge-response token; ``wangyin token code`` and
    ``wangyin token answer QUESTION`` play them (or an authenticator app with the OTP
    token's seed)."""
    from wangyin.authn import tokens
    from wangyin.authn.models import OtpToken

    for kind, serial, key_name in DEMO_TOKENS:
        seed = demo_token_seed(key_name)
        if not OtpToken.objects.filter(serial=serial).exists():
            tokens.token_issue(person_id=account.person_id, kind=kind, serial=serial,
                               seed=seed, staff=ACTOR, reason="demo bank", at=now)
            result.created.append(f"{kind} token {serial} for zhangwei")
        result.tokens.append({"kind": kind, "serial": serial, "seed": seed})
    _card(now, account, result)


def _card(now: datetime, account, result: DemoResult) -> None:
    """张伟's password card, printed to var/demo/password-card.pdf (the only print)."""
    from wangyin.authn import cards
    from wangyin.core.paths import var_dir

    path = var_dir() / "demo" / "password-card.pdf"
    if cards.card_of(account.person) is None:
        card, pdf = cards.card_issue(person_id=account.person_id, staff=ACTOR,
                                     reason="demo bank", at=now)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(pdf)
        path.chmod(0o600)
        result.created.append(f"password card {card.serial} for zhangwei")
    result.card_pdf = str(path)
    _usb_key(now, account, result)


DEMO_USB_KEY = "WYDEMO0003"


def sandbox_code(purpose: str) -> str:
    """The step-up code the bank last texted for ``purpose``, read from the SMS sandbox (the
    demo plays the customer reading their phone)."""
    import re

    from wangyin.notify.models import SmsMessage

    sms = SmsMessage.objects.filter(purpose=f"authn.{purpose}").latest("id")
    return re.search(r"验证码 (\d{6})", sms.body)[1]


def _mobile_receiving(now: datetime, account, result: DemoResult) -> None:
    """李娜 receives transfers by her mobile number 13907970002 (pay her from zhangwei with
    the number instead of the account). Registered the way she would do it: the step-up
    code from the SMS sandbox confirms the number and the account."""
    from wangyin.authn import services as authn
    from wangyin.identity.models import ChannelUser
    from wangyin.payments import payees

    user = ChannelUser.objects.select_related("person").get(login_name="linademo")
    if payees.mobile_registration_of(user) is not None:
        return
    challenge = payees.mobile_register_start(user=user, account_id=account.pk,
                                             device_id="demo", at=now)
    authn.challenge_verify(challenge_id=challenge.pk, person=user.person,
                           purpose=payees.REGISTER, at=now,
                           digest=payees.mobile_register_digest(user, account, "demo"),
                           codes={"SMS": sandbox_code(payees.REGISTER)})
    payees.mobile_register(user=user, account_id=account.pk, challenge_id=challenge.pk,
                           device_id="demo", ip=None, at=now)
    result.created.append("mobile-number receiving for linademo (13907970002)")


def demo_usb_key_path():
    from wangyin.core.paths import var_dir

    return var_dir() / "demo" / f"usbkey-{DEMO_USB_KEY}.json"


def _usb_key(now: datetime, account, result: DemoResult) -> None:
    """张伟's USB-Key: a software USB-Key whose device file is var/demo/usbkey-*.json
    (the PIN is in var/keys/demo_logins). It is bound and enrolled the way a customer's
    is — the counter binds the serial, the key makes its key pair and request, the codes
    (reference from the counter, authorisation code from the SMS sandbox) get the
    certificate — and ``wangyin run`` starts the U盾 agent for it."""
    import re

    from wangyin.authn import certificates
    from wangyin.authn.models import Factor
    from wangyin.notify.models import SmsMessage
    from wangyin_sdk.usbkey import SoftUsbKey

    pin, path = demo_credentials()["usbkey_pin"], demo_usb_key_path()
    result.usb_key = {"serial": DEMO_USB_KEY, "pin": pin, "device": str(path)}
    if certificates.certificate_for(account.person, Factor.USBKEY) is not None:
        return
    if not path.exists():
        SoftUsbKey(DEMO_USB_KEY, pin, confirm=lambda _text: False, path=path)
    key = SoftUsbKey.open(path, confirm=lambda _text: False)
    if certificates.usb_key_of(account.person) is None:
        _bound, reference = certificates.usb_key_bind(
            person_id=account.person_id, serial=DEMO_USB_KEY, staff=ACTOR, at=now,
            reason="demo bank")
    else:
        reference = certificates.usb_key_codes_renew(person_id=account.person_id, staff=ACTOR,
                                                     at=now, reason="demo bank")
    sms = SmsMessage.objects.filter(purpose="authn.cert_code").latest("id")  # just sent
    code = re.search(r"授权码 (\d{8})", sms.body).group(1)
    certificate = certificates.usb_key_enrol(
        person=account.person, reference_code=reference, authorisation_code=code,
        request_der=key.signing_request(pin), at=now)
    key.install(bytes(certificate.der))
    result.created.append(f"USB-Key {DEMO_USB_KEY} for zhangwei")


def demo_face_camera_path():
    from wangyin.core.paths import var_dir

    return var_dir() / "demo" / "face-camera-linademo.mjpeg"


def _face(now: datetime, account, result: DemoResult) -> None:
    """李娜 (linademo) holds no security device, so her forgotten-password page asks for
    her face (FA-08). Her "ID photo" in the face-verification sandbox is a drawn portrait,
    and var/demo/face-camera-linademo.mjpeg plays the same face to Chromium's fake camera
    (``wangyin face register`` puts your own picture there instead)."""
    from django.conf import settings

    from wangyin.authn import face
    from wangyin.ops import faces

    if settings.FACE_VERIFIER != "sandbox":
        return
    name = account.person.name
    face.sandbox_register(id_type=account.person.id_type, id_number=account.person.id_number,
                          name=name, picture=faces.portrait(name), at=now)
    result.face_camera = str(faces.camera_file(name, demo_face_camera_path()))


def _gl_accounts(now: datetime, result: DemoResult) -> dict[str, Account]:
    accounts = {}
    for number, name, side in GL_ACCOUNTS:
        account = Account.objects.filter(number=number).first()
        if account is None:
            account = ledger.account_open(number=number, name=name, kind=AccountKind.GL,
                                          normal_side=side, overdraft_limit=None, actor=ACTOR,
                                          opened_at=now)
            result.created.append(f"GL account {number}")
        accounts[number] = account
    return accounts


def _person(spec: DemoPerson, now: datetime, result: DemoResult):
    id_number = spec.id17 + resident_id_check_digit(spec.id17)
    person = customer_selectors.person_by_id_number(id_type="RESIDENT_ID", id_number=id_number)
    if person is None:
        person = customer_services.person_create(
            name=spec.name, id_type="RESIDENT_ID", id_number=id_number,
            birth_date=spec.birth_date, phone=spec.phone, actor=ACTOR, created_at=now)
        result.created.append(f"person {spec.name}")
    accounts = customer_selectors.accounts_of_person(person_id=person.pk)
    account = next((a for a in accounts if a.product == spec.product), None)
    if account is None:
        account = customer_services.personal_account_open(
            person_id=person.pk, product=spec.product, face_to_face=True, actor=ACTOR,
            opened_at=now)
        result.created.append(f"{spec.product} account of {spec.name}")
    return account


def _company(now: datetime, result: DemoResult):
    uscc = COMPANY["uscc17"] + uscc_check_digit(COMPANY["uscc17"])
    company = customer_selectors.company_by_uscc(uscc=uscc)
    if company is None:
        legal_id = COMPANY["legal_rep_id17"] + resident_id_check_digit(COMPANY["legal_rep_id17"])
        company = customer_services.company_create(
            name=COMPANY["name"], uscc=uscc, legal_rep_name=COMPANY["legal_rep_name"],
            legal_rep_id_type="RESIDENT_ID", legal_rep_id_number=legal_id,
            contact_name=COMPANY["contact_name"], contact_phone=COMPANY["contact_phone"],
            actor=ACTOR, created_at=now)
        result.created.append(f"company {COMPANY['name']}")
    accounts = {a.product: a for a in customer_selectors.accounts_of_company(company_id=company.pk)}
    opened = []
    for product in (Product.CORPORATE_BASIC, Product.CORPORATE_GENERAL):
        if product not in accounts:
            accounts[product] = customer_services.corporate_account_open(
                company_id=company.pk, product=product, actor=ACTOR, opened_at=now)
            result.created.append(f"{product} account of {COMPANY['name']}")
        opened.append(accounts[product])
    return opened


# --- corporate internet banking -------------------------------------------------------------


@dataclass(frozen=True)
class DemoOperator:
    code: str
    name: str
    id17: str
    phone: str
    roles: tuple[str, ...]  # empty for the administrator
    serial: str  # the software USB-Key's serial

    @property
    def is_admin(self) -> bool:
        return not self.roles


# The administrator (the company's contact 陈静) and three operators, one per step.
CORPORATE_OPERATORS = (
    DemoOperator("admin", "陈静", "36070219880615202", "18907970009", (), "WYDEMO0011"),
    DemoOperator("pay01", "周磊", "36070219900303101", "13607970011", ("ENTER",),
                 "WYDEMO0012"),
    DemoOperator("chk01", "吴敏", "36070219870911202", "13607970012", ("CHECK",),
                 "WYDEMO0013"),
    DemoOperator("auth01", "郑浩", "36070219750520101", "13607970013", ("AUTHORISE",),
                 "WYDEMO0014"),
)
CORPORATE_EDITION = "STANDARD"
# The approval policy the demo shows: up to ¥100,000 one authorisation; above it one check
# and one authorisation.
CORPORATE_POLICY = ((10_000_000, 0, 1), (None, 1, 1))  # (up to fen, checkers, authorisers)
CORPORATE_ROLE_WORDS = {"ENTER": "entering 录入", "CHECK": "checking 复核",
                        "AUTHORISE": "authorising 授权"}


def demo_corporate_key_path(serial: str):
    from wangyin.core.paths import var_dir

    return var_dir() / "demo" / f"usbkey-{serial}.json"


def demo_usb_key_paths() -> list:
    """Every demo software USB-Key that exists (zhangwei's and the company's operators'),
    for the one U盾 agent ``wangyin run`` starts."""
    paths = [demo_usb_key_path()] + [demo_corporate_key_path(o.serial)
                                      for o in CORPORATE_OPERATORS]
    return [path for path in paths if path.exists()]


def _corporate(now: datetime, accounts, result: DemoResult) -> None:
    """Corporate internet banking for the demo company, set up the way the company would:
    the counter opens the standard edition with both accounts and the administrator
    (``admin``) and binds the administrator's USB-Key; the administrator downloads the
    certificate, then — each change signed with that key — creates the operators ``pay01``
    (entering), ``chk01`` (checking) and ``auth01`` (authorising) with both accounts in
    scope, binds their keys and puts the demo's approval policy in force; every operator
    downloads their key's certificate. First passwords are changed to the demo ones in
    var/keys/demo_logins, like the personal logins.

    Signatures chain to the bank's CA root, made at real time: the setup runs at real
    time when ``now`` is in the past (a demo loaded "yesterday" in a test)."""
    from wangyin.corporate import counter, signin
    from wangyin.corporate.models import Operator, OperatorStatus
    from wangyin.corporate.operators import Change

    at = max(now, timezone.now().replace(microsecond=0))
    creds = demo_credentials()
    company_id = accounts[0].company_id
    account_ids = sorted(a.pk for a in accounts)
    admin_spec, *operator_specs = CORPORATE_OPERATORS
    service = counter.active_service_of(company_id)
    if service is None:
        person = _operator_person(admin_spec, at, result)
        with transaction.atomic():
            service, admin, initial = counter.service_open(
                company_id=company_id, edition=CORPORATE_EDITION, account_ids=account_ids,
                admin_person_id=person.pk, admin_code=admin_spec.code, staff=ACTOR, at=at,
                reason="demo bank")
            signin.password_change(operator_id=admin.pk, current_password=initial,
                                   new_password=creds["corp_admin"], ip=None, at=at)
        result.created.append(f"corporate internet banking {service.number} "
                              f"for {COMPANY['name']}")
    admin = Operator.objects.select_related("person", "service").get(
        service=service, is_admin=True, status=OperatorStatus.ACTIVE)
    if admin.must_change_password:  # left half-way: the counter resets it
        _admin, initial = counter.admin_password_reset(service_id=service.pk, staff=ACTOR,
                                                       reason="demo bank", at=at)
        signin.password_change(operator_id=admin.pk, current_password=initial,
                               new_password=creds["corp_admin"], ip=None, at=at)
    admin_key = _corporate_key(admin, admin_spec, at, result, bind=lambda: (
        counter.admin_usb_key_bind(service_id=service.pk, serial=admin_spec.serial,
                                   staff=ACTOR, at=at, reason="demo bank")[1]))
    admin_pin = creds["corp_admin_pin"]

    def signed(change: Change) -> int:
        """The administrator's key signs ``change`` (the demo plays the administrator
        checking the key's screen and pressing confirm); returns the authorisation."""
        from wangyin.corporate import operators

        challenge = operators.change_challenge(admin=admin, change=change, at=at)
        signature = base64.b64encode(admin_key.sign(challenge.sign_payload, admin_pin))
        operators.change_verify(admin=admin, change=change, challenge_id=challenge.pk,
                                signature=signature.decode(), at=at)
        return challenge.pk

    rows = [admin]
    for spec in operator_specs:
        rows.append(_corporate_operator(service, spec, signed, account_ids, at, creds,
                                        result))
    _corporate_policy(admin, admin_key, admin_pin, at, result)
    result.corporate = {
        "company": COMPANY["name"], "service": service.number, "where": "/corp/login/",
        "operators": [{"code": spec.code, "name": spec.name,
                       "role": "administrator 管理员" if spec.is_admin else
                       CORPORATE_ROLE_WORDS[spec.roles[0]],
                       "password": creds[f"corp_{spec.code}"], "usb_key": spec.serial,
                       "pin": creds[f"corp_{spec.code}_pin"],
                       "device": str(demo_corporate_key_path(spec.serial)),
                       "operator_id": row.pk}
                      for spec, row in zip(CORPORATE_OPERATORS, rows, strict=True)]}


def _operator_person(spec: DemoOperator, at: datetime, result: DemoResult):
    id_number = spec.id17 + resident_id_check_digit(spec.id17)
    person = customer_selectors.person_by_id_number(id_type="RESIDENT_ID", id_number=id_number)
    if person is None:
        person = customer_services.person_create(
            name=spec.name, id_type="RESIDENT_ID", id_number=id_number,
            birth_date=date(int(spec.id17[6:10]), int(spec.id17[10:12]), int(spec.id17[12:14])),
            phone=spec.phone, actor=ACTOR, created_at=at)
        result.created.append(f"person {spec.name}")
    return person


def _corporate_operator(service, spec: DemoOperator, signed, account_ids: list[int],
                        at: datetime, creds: dict, result: DemoResult):
    """One operator, created and set up by the administrator's signed changes; each step
    only if it is not done yet."""
    from wangyin.corporate import operators, signin
    from wangyin.corporate.models import Operator, OperatorStatus
    from wangyin.corporate.operators import Change, Scope

    operator = (Operator.objects.select_related("person", "service")
                .filter(service=service, code=spec.code)
                .exclude(status=OperatorStatus.REMOVED).first())
    admin = Operator.objects.select_related("person", "service").get(
        service=service, is_admin=True, status=OperatorStatus.ACTIVE)
    initial = None
    if operator is None:
        id_number = spec.id17 + resident_id_check_digit(spec.id17)
        change = Change.create(name=spec.name, id_type="RESIDENT_ID", id_number=id_number,
                               mobile=spec.phone, code=spec.code)
        operator, initial = operators.operator_create(
            admin=admin, name=spec.name, id_type="RESIDENT_ID", id_number=id_number,
            mobile=spec.phone, code=spec.code, authorisation=signed(change), at=at)
        result.created.append(f"corporate operator {spec.code}")
    elif operator.must_change_password:  # left half-way: the administrator resets it
        change = Change.password_reset(operator_id=operator.pk)
        _operator, initial = operators.operator_password_reset(
            admin=admin, operator_id=operator.pk, authorisation=signed(change), at=at)
    if initial is not None:
        signin.password_change(operator_id=operator.pk, current_password=initial,
                               new_password=creds[f"corp_{spec.code}"], ip=None, at=at)
    if operator.status == OperatorStatus.DISABLED:
        operators.operator_enable(admin=admin, operator_id=operator.pk, at=at,
                                  authorisation=signed(Change.enable(operator_id=operator.pk)))
        result.created.append(f"corporate operator {spec.code} enabled")
    if list(operator.roles) != list(spec.roles):
        change = Change.roles_set(operator_id=operator.pk, roles=spec.roles)
        operators.operator_roles_set(admin=admin, operator_id=operator.pk, roles=spec.roles,
                                     authorisation=signed(change), at=at)
        result.created.append(f"roles of {spec.code}")
    scopes = [Scope(account_id=pk) for pk in account_ids]
    have = sorted(operator.scopes.values_list("account_id", "per_payment_fen", "per_day_fen"))
    if have != [(pk, None, None) for pk in account_ids]:
        change = Change.scope_set(operator_id=operator.pk, scopes=scopes)
        operators.operator_scope_set(admin=admin, operator_id=operator.pk, scopes=scopes,
                                     authorisation=signed(change), at=at)
        result.created.append(f"accounts of {spec.code}")

    def bind() -> str:
        change = Change.usb_key_bind(operator_id=operator.pk, serial=spec.serial)
        return operators.operator_usb_key_bind(admin=admin, operator_id=operator.pk,
                                               serial=spec.serial, at=at,
                                               authorisation=signed(change))[1]

    _corporate_key(operator, spec, at, result, bind=bind)
    return operator


def _corporate_key(operator, spec: DemoOperator, at: datetime, result: DemoResult, *, bind):
    """The operator's software USB-Key for the company (var/demo/usbkey-<serial>.json):
    bound (``bind()`` returns the reference code; the counter renews the codes of a key
    bound already), then the operator downloads its certificate with the reference code
    and the authorisation code from the SMS sandbox. Returns the key, ready to sign."""
    import re

    from wangyin.authn import certificates
    from wangyin.authn.models import Factor
    from wangyin.corporate import counter, signin
    from wangyin.notify.models import SmsMessage
    from wangyin_sdk.usbkey import SoftUsbKey

    pin, path = demo_credentials()[f"corp_{spec.code}_pin"], demo_corporate_key_path(spec.serial)
    company_id = operator.service.company_id
    certificate = certificates.certificate_for(operator.person, Factor.USBKEY,
                                               company_id=company_id)
    if certificate is not None and path.exists():
        key = SoftUsbKey.open(path, confirm=lambda _text: True)
        if key.certificate == bytes(certificate.der):
            return key
    if not path.exists():
        SoftUsbKey(spec.serial, pin, confirm=lambda _text: False, path=path)
    key = SoftUsbKey.open(path, confirm=lambda _text: True)
    if certificates.usb_key_of(operator.person, company_id=company_id) is None:
        reference = bind()
    else:
        reference = counter.usb_key_codes_renew(service_id=operator.service_id,
                                                operator_id=operator.pk, staff=ACTOR, at=at,
                                                reason="demo bank")
    sms = SmsMessage.objects.filter(purpose="authn.cert_code").latest("id")  # just sent
    code = re.search(r"授权码 (\d{8})", sms.body).group(1)
    certificate = signin.certificate_download(
        operator_id=operator.pk, reference_code=reference, authorisation_code=code,
        request_der=key.signing_request(pin), ip=None, at=at)
    key.install(bytes(certificate.der))
    result.created.append(f"USB-Key {spec.serial} for {spec.code}")
    return key


def _corporate_policy(admin, admin_key, pin: str, at: datetime, result: DemoResult) -> None:
    """The demo's approval policy, signed by the administrator, if it is not in force."""
    from wangyin.corporate import approvals
    from wangyin.corporate.approvals import TierSpec

    live = approvals.live_policy(admin.service)
    have = sorted(((t.account_id, t.up_to_fen, t.checkers, t.authorisers)
                   for t in live.tiers.all()), key=repr)
    tiers = [TierSpec(up_to_fen=up_to, checkers=checkers, authorisers=authorisers)
             for up_to, checkers, authorisers in CORPORATE_POLICY]
    want = sorted(((None, t.up_to_fen, t.checkers, t.authorisers) for t in tiers), key=repr)
    if have == want:
        return
    challenge = approvals.policy_change_challenge(admin, tiers, at)
    signature = base64.b64encode(admin_key.sign(challenge.sign_payload, pin)).decode()
    approvals.policy_change_verify(admin, tiers, challenge.pk, signature, at)
    approvals.policy_change(admin, tiers, challenge.pk, at)
    result.created.append("corporate approval policy")


# --- the demo company's payroll file (a batch payment, FC-04) ---------------------------------

# The company's staff paid by the payroll file: 张伟 (a demo customer already) and these, each
# with a Class I account opened at the counter. (name, birth date, monthly net pay in yuan)
EMPLOYEES = (
    ("刘洋", date(1988, 4, 2), "6850.00"), ("陈晨", date(1991, 9, 14), "5320.50"),
    ("杨帆", date(1986, 1, 23), "7480.00"), ("黄丽", date(1993, 6, 8), "4960.00"),
    ("赵磊", date(1984, 11, 30), "8120.00"), ("周婷", date(1995, 2, 17), "4580.00"),
    ("吴刚", date(1982, 7, 5), "6230.00"), ("徐静", date(1990, 12, 12), "5140.80"),
    ("孙浩", date(1989, 3, 27), "5890.00"), ("马丽娟", date(1987, 8, 19), "6040.00"),
    ("朱军", date(1983, 5, 9), "7010.00"), ("胡敏", date(1994, 10, 3), "4720.00"),
    ("郭涛", date(1985, 12, 25), "6660.00"), ("何雪", date(1996, 4, 28), "4380.00"),
    ("高峰", date(1981, 9, 1), "7830.00"), ("林燕", date(1992, 1, 16), "5210.00"),
    ("罗斌", date(1987, 6, 21), "6090.00"), ("梁红", date(1990, 3, 11), "5470.00"),
    ("宋杰", date(1993, 11, 7), "4990.00"),
)
PAYROLL_ZHANGWEI = "9120.00"
# 赵六 at another bank (the sandbox clearing knows the account): a row with a bank code.
PAYROLL_OTHER_BANK = ("赵六", "6222020000000001234", "102428000013", "5600.00")
PAYROLL_PURPOSE = "工资"
PAYROLL_MISTYPED = "黄丽"  # her account number has a typing slip in the file


def demo_payroll_path():
    from wangyin.core.paths import var_dir

    return var_dir() / "demo" / "payroll.csv"


def _swapped(number: str) -> str:
    """The account number with two neighbouring different digits swapped (a typing slip
    the check digit catches)."""
    for i in range(len(number) - 3, 0, -1):
        if number[i] != number[i + 1]:
            return number[:i] + number[i + 1] + number[i] + number[i + 2:]
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def _payroll(now: datetime, zhangwei, result: DemoResult) -> None:
    """The demo company's employees (found by ID number, else created with a Class I account
    each) and var/demo/payroll.csv, the month's payroll in the template's columns as the
    company's payroll software writes it: a row per employee and one to another bank, with
    two mistakes for the upload to find — 黄丽's account number with two digits swapped
    and a bonus row whose amount has the letter O for a zero. Written again on every load
    (the account numbers are this installation's)."""
    import csv
    import io

    from wangyin.corporate import batches

    rows = [[zhangwei.person.name, zhangwei.number, "", PAYROLL_ZHANGWEI, PAYROLL_PURPOSE]]
    for n, (name, born, pay) in enumerate(EMPLOYEES):
        spec = DemoPerson(name, f"360702{born:%Y%m%d}{700 + n:03d}", born,
                          f"1370797{n + 200:04d}", Product.PERSONAL_I, "0.00")
        account = _person(spec, now, result)
        number = _swapped(account.number) if name == PAYROLL_MISTYPED else account.number
        rows.append([name, number, "", pay, PAYROLL_PURPOSE])
        if n == 0:  # the payroll software's bonus row, typed by hand
            rows.append([name, account.number, "", "85O.00", "奖金"])
    name, number, bank, pay = PAYROLL_OTHER_BANK
    rows.append([name, number, bank, pay, PAYROLL_PURPOSE])
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(batches.TEMPLATE_HEADER)
    writer.writerows(rows)
    path = demo_payroll_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode())  # UTF-8 as Excel opens it
    paid = [Money.from_yuan(r[3]).fen for r in rows
            if "O" not in r[3] and r[0] != PAYROLL_MISTYPED]
    result.corporate["payroll"] = {"file": str(path), "rows": len(rows), "errors": 2,
                                   "paid_rows": len(paid),
                                   "total": format_money(Money(sum(paid)))}


def _history_start(now: datetime) -> datetime:
    """The first load fixes the start HISTORY_DAYS ago; later loads read it back."""
    first = Journal.objects.filter(idempotency_key__startswith="demo:opening:").order_by("pk")
    existing = first.values_list("posted_at", flat=True).first()
    if existing is not None:
        return existing
    day = (now - timedelta(days=HISTORY_DAYS)).astimezone(timezone.get_current_timezone())
    return timezone.make_aware(datetime.combine(day.date(), time(9, 0)))


# The demo history's mix: (draw below, type, memo, debit, credit, yuan from, yuan to); the
# last row takes whatever is left.
HISTORY_MIX = (
    (0.18, "TRANSFER", "转账 Transfer to 李娜", "zhang", "li", 10, 300),
    (0.26, "TRANSFER", "充值 Top-up", "zhang", "wang", 5, 100),
    (0.40, "TRANSFER", "消费 Purchase", "li", "clearing", 1, 120),
    (0.52, "TRANSFER", "消费 Purchase", "wang", "clearing", 1, 40),
    (0.60, "WITHDRAWAL", "取现 Cash withdrawal", "zhang", "cash", 100, 1000),
    (0.66, "DEPOSIT", "存现 Cash deposit", "cash", "zhang", 100, 2000),
    (0.80, "TRANSFER", "货款 Supplier payment", "basic", "clearing", 500, 20000),
    (0.92, "TRANSFER", "回款 Customer receipt", "clearing", "basic", 800, 25000),
    (0.96, "TRANSFER", "调拨 Internal transfer", "basic", "general", 100, 5000),
    (1.00, "FEE", "手续费 Fee", "basic", "fees", 1, 50),
)
PAYROLL = (None, "TRANSFER", "工资 Salary", "basic", "zhang", 12000, 16000)
INTEREST = (None, "INTEREST", "结息 Interest", "interest", "zhang", 20, 60)


def _history(*, start: datetime, gl: dict[str, Account], people, company, size: int) -> int:
    """Deterministic business: salaries, transfers, cash, card-like spending, fees, interest,
    interbank payments. Amounts keep Class II/III accounts small, as their rules require."""
    if Journal.objects.filter(idempotency_key=f"demo:hist:{size - 1:05d}").exists():
        return 0
    rng = random.Random(SEED)
    # Past interbank business has settled: it went through the central-bank reserve. The
    # suspense account holds only payments still in clearing (see payments.settlement).
    cash, clearing = gl["GL10010001"].pk, gl["GL10030001"].pk
    fees, interest = gl["GL60210001"].pk, gl["GL64110001"].pk
    zhang, li, wang = (p.ledger_account_id for p in people)
    basic, general = (a.ledger_account_id for a in company)
    step = timedelta(days=HISTORY_DAYS) / size

    accounts = {"cash": cash, "clearing": clearing, "fees": fees, "interest": interest,
                "zhang": zhang, "li": li, "wang": wang, "basic": basic, "general": general}

    def pick(n: int):
        kind = rng.random()
        if n % 1000 == 0:  # roughly monthly payroll
            row = PAYROLL
        elif n % 1000 == 500:
            row = INTEREST
        else:
            row = next(r for r in HISTORY_MIX if kind < r[0] or r is HISTORY_MIX[-1])
        _share, type_, memo, debit, credit, lo, hi = row
        return (type_, memo, accounts[debit], accounts[credit],
                Money(rng.randint(lo * 100, hi * 100)))

    posted = 0
    for chunk in range(0, size, 250):
        with transaction.atomic():
            for n in range(chunk, min(chunk + 250, size)):
                type_, memo, debit_id, credit_id, amount = pick(n)
                try:
                    journal = ledger.transfer(
                        debit_account_id=debit_id, credit_account_id=credit_id, amount=amount,
                        idempotency_key=f"demo:hist:{n:05d}", type=type_, memo=memo,
                        actor=ACTOR, posted_at=start + timedelta(hours=1) + step * n)
                except InsufficientFunds:
                    # Real customers get refused too; keep the key sequence by posting a
                    # tiny deposit instead so the history always has ``size`` journals.
                    journal = ledger.transfer(
                        debit_account_id=cash, credit_account_id=debit_id, amount=Money(10000),
                        idempotency_key=f"demo:hist:{n:05d}", type=JournalType.DEPOSIT,
                        memo="存现 Cash deposit", actor=ACTOR,
                        posted_at=start + timedelta(hours=1) + step * n)
                posted += 0 if journal.replayed else 1
    return posted
