"""The company administrator manages operators online (FC-02, SE-09, AD-02, ON-05, ON-10):
every change is signed with the administrator's USB-Key for the company, the signature
binds exactly that change, nothing changes without it, the administrator never acts on
their own login nor holds a payment role, scopes reach only linked accounts, and another
company's operators are never reached."""

import base64
import itertools
import re
from datetime import date, timedelta

import pytest
from django.contrib.auth.hashers import check_password, make_password
from django.urls import get_resolver

from tests.conftest import _check, _uscc
from tests.corporate.conftest import PASSWORD, PIN, signed_challenge
from wangyin.audit.models import AuditEvent
from wangyin.authn import certificates
from wangyin.authn.errors import ChallengeFailed, DigestMismatch, NotAuthorised
from wangyin.authn.models import Certificate, Signature, UsbKey
from wangyin.core import pki
from wangyin.corporate import counter, operators, signin
from wangyin.corporate.errors import (
    AdministratorHoldsNoRoles,
    BirthDateRequired,
    ChangePasswordFirst,
    InvalidRole,
    InvalidScope,
    NotAdministrator,
    NotOnYourself,
    OperatorCodeTaken,
    OperatorExists,
    OperatorMobileMismatch,
    OperatorNameMismatch,
    OperatorNotFound,
    OperatorStateRefused,
    QueryEditionNoPayments,
    ScopeNotLinked,
)
from wangyin.corporate.models import (
    CorporateService,
    Operator,
    OperatorScope,
    OperatorSession,
)
from wangyin.corporate.operators import Change, Scope
from wangyin.customers import services as customers
from wangyin.customers.models import Person
from wangyin.notify.models import SmsMessage
from wangyin_sdk.usbkey import SoftUsbKey

pytestmark = pytest.mark.django_db

NEW_ID = _check("36070219920315402")
_sids = itertools.count(1)


def authorise(admin, change, sign, now):
    """The administrator's key signs the challenge for ``change``; returns its id (the
    verified authorisation the change is applied with)."""
    sign.key_of(admin)
    challenge = operators.change_challenge(admin=admin, change=change, at=now)
    operators.change_verify(admin=admin, change=change, challenge_id=challenge.pk,
                            signature=sign(admin, challenge)["USBKEY"], at=now)
    return challenge.pk


def _state(*operators_):
    return [Operator.objects.filter(pk=o.pk).values(
        "status", "roles", "password", "must_change_password").get() for o in operators_]


def _session(operator, now):
    return OperatorSession.objects.create(sid=f"sid-{next(_sids)}",
                                          operator=operator, factor="USBKEY", device="d",
                                          started_at=now, last_seen_at=now)


def _create_kwargs(**overrides):
    return {"name": "王芳", "id_type": "RESIDENT_ID", "id_number": NEW_ID,
            "mobile": "13607970123", "code": "wangfang", **overrides}


@pytest.mark.req("FC-02", "AD-02")
def test_the_administrator_creates_an_operator_for_a_new_person(service, admin, sign, now):
    change = Change.create(**_create_kwargs())
    authorisation = authorise(admin, change, sign, now)
    operator, password = operators.operator_create(admin=admin, **_create_kwargs(),
                                                   authorisation=authorisation, at=now)
    person = Person.objects.get(pk=operator.person_id)
    assert (person.name, person.id_number, person.phone) == ("王芳", NEW_ID, "13607970123")
    assert person.birth_date == date(1992, 3, 15)  # from the resident ID
    assert (operator.code, operator.is_admin, operator.roles, operator.status) == (
        "wangfang", False, [], "ACTIVE")
    assert operator.must_change_password and check_password(password, operator.password)
    assert operator.created_by == admin.actor
    signature = Signature.objects.get(challenge_id=authorisation)
    assert "新增操作员wangfang" in signature.payload and NEW_ID not in signature.payload
    event = AuditEvent.objects.get(action="corporate.operator.created")
    assert (event.actor, event.target) == (admin.actor, f"operator:{operator.pk}")
    assert event.details["signature"] == signature.pk and password not in str(event.details)
    text = SmsMessage.objects.filter(purpose="corporate.operator_created").get()
    assert text.phone == "13607970123" and "wangfang" in text.body and password not in text.body


@pytest.mark.req("FC-02", "SE-09")
def test_an_existing_person_is_found_by_their_document_and_must_match(service, admin,
                                                                     enterer, sign, now,
                                                                     make_person):
    known = make_person(name="赵敏", id_number=NEW_ID, birth_date=date(1992, 3, 15),
                        phone="13607970123")
    for wrong, error in (({"name": "赵明"}, OperatorNameMismatch),
                         ({"mobile": "13607970999"}, OperatorMobileMismatch),
                         ({"code": enterer.code.upper()}, OperatorCodeTaken)):
        with pytest.raises(error):
            operators.change_challenge(admin=admin, at=now, change=Change.create(
                **_create_kwargs(**{"name": "赵敏", **wrong})))
    already = Person.objects.get(pk=enterer.person_id)
    with pytest.raises(OperatorExists):
        operators.change_challenge(admin=admin, at=now, change=Change.create(
            **_create_kwargs(name=already.name, id_number=already.id_number,
                             mobile=already.phone)))
    with pytest.raises(BirthDateRequired):  # a new person with a passport
        operators.change_challenge(admin=admin, at=now, change=Change.create(
            **_create_kwargs(id_type="PASSPORT", id_number="E12345678")))
    kwargs = _create_kwargs(name="赵敏")
    operator, _password = operators.operator_create(
        admin=admin, **kwargs, at=now,
        authorisation=authorise(admin, Change.create(**kwargs), sign, now))
    assert operator.person == known and Person.objects.filter(id_number_index=known
                                                              .id_number_index).count() == 1


@pytest.mark.req("SE-09", "FC-02")
def test_a_signature_for_one_change_cannot_apply_another(service, admin, enterer, checker,
                                                         sign, now):
    before = _state(enterer, checker)
    disable_enterer = authorise(admin, Change.disable(operator_id=enterer.pk), sign, now)
    with pytest.raises(DigestMismatch):  # another operator
        operators.operator_disable(admin=admin, operator_id=checker.pk,
                                   authorisation=disable_enterer, at=now)
    with pytest.raises(NotAuthorised):  # spent by the refused attempt
        operators.operator_disable(admin=admin, operator_id=enterer.pk,
                                   authorisation=disable_enterer, at=now)
    roles = authorise(admin, Change.roles_set(operator_id=enterer.pk, roles=["ENTER"]), sign,
                      now)
    with pytest.raises(DigestMismatch):  # other values
        operators.operator_roles_set(admin=admin, operator_id=enterer.pk,
                                     roles=["ENTER", "AUTHORISE"], authorisation=roles, at=now)
    reset = authorise(admin, Change.password_reset(operator_id=checker.pk), sign, now)
    with pytest.raises(NotAuthorised):  # another kind of change is another purpose
        operators.operator_remove(admin=admin, operator_id=checker.pk, authorisation=reset,
                                  at=now)
    assert _state(enterer, checker) == before
    assert AuditEvent.objects.filter(action="authn.digest_mismatch").count() == 2
    # Signing the challenge of one change does not verify it for another.
    challenge = operators.change_challenge(admin=admin, at=now,
                                           change=Change.disable(operator_id=checker.pk))
    with pytest.raises(ChallengeFailed):
        operators.change_verify(admin=admin, change=Change.disable(operator_id=enterer.pk),
                                challenge_id=challenge.pk, at=now,
                                signature=sign(admin, challenge)["USBKEY"])


@pytest.mark.req("SE-09", "FC-02")
def test_without_a_good_signature_nothing_changes(service, admin, enterer, sign, now):
    before = _state(enterer)
    change = Change.disable(operator_id=enterer.pk)
    for authorisation in (None, 0, 987654321):
        with pytest.raises(NotAuthorised):
            operators.operator_disable(admin=admin, operator_id=enterer.pk,
                                       authorisation=authorisation, at=now)
    sign.key_of(admin)
    unsigned = operators.change_challenge(admin=admin, change=change, at=now)
    with pytest.raises(NotAuthorised):
        operators.operator_disable(admin=admin, operator_id=enterer.pk,
                                   authorisation=unsigned.pk, at=now)
    suite = pki.SUITES["sm2"]  # a signature by a key that is not the administrator's
    forged = base64.b64encode(suite.sign(suite.generate(), unsigned.sign_payload.encode()))
    with pytest.raises(ChallengeFailed):
        operators.change_verify(admin=admin, change=change, challenge_id=unsigned.pk,
                                signature=forged.decode(), at=now)
    with pytest.raises(NotAuthorised):
        operators.operator_disable(admin=admin, operator_id=enterer.pk,
                                   authorisation=unsigned.pk, at=now)
    late = authorise(admin, change, sign, now)
    with pytest.raises(NotAuthorised):  # a verified signature is used within minutes
        operators.operator_disable(admin=admin, operator_id=enterer.pk, authorisation=late,
                                   at=now + timedelta(minutes=6))
    assert _state(enterer) == before
    assert not AuditEvent.objects.filter(action__startswith="corporate.operator.").exists()


@pytest.mark.req("SE-09", "FC-02")
def test_only_the_administrator_manages_operators(service, admin, enterer, checker, sign,
                                                  now):
    sign.key_of(enterer)
    with pytest.raises(NotAdministrator):
        operators.change_challenge(admin=enterer, at=now,
                                   change=Change.disable(operator_id=checker.pk))
    authorisation = authorise(admin, Change.disable(operator_id=checker.pk), sign, now)
    with pytest.raises(NotAdministrator):  # the administrator's signature, another caller
        operators.operator_disable(admin=enterer, operator_id=checker.pk,
                                   authorisation=authorisation, at=now)
    Operator.objects.filter(pk=admin.pk).update(must_change_password=True)
    with pytest.raises(ChangePasswordFirst):
        operators.operator_disable(admin=admin, operator_id=checker.pk,
                                   authorisation=authorisation, at=now)
    Operator.objects.filter(pk=admin.pk).update(must_change_password=False, status="DISABLED")
    with pytest.raises(NotAdministrator):
        operators.operator_disable(admin=admin, operator_id=checker.pk,
                                   authorisation=authorisation, at=now)
    assert Operator.objects.get(pk=checker.pk).status == "ACTIVE"


@pytest.mark.req("FC-02", "ON-05", "ON-10", "SE-09")
def test_the_administrator_never_acts_on_their_own_login(service, admin, sign, now):
    sign.key_of(admin)
    with pytest.raises(AdministratorHoldsNoRoles):
        operators.change_challenge(admin=admin, at=now, change=Change.roles_set(
            operator_id=admin.pk, roles=["AUTHORISE"]))
    for change in (Change.password_reset(operator_id=admin.pk),
                   Change.disable(operator_id=admin.pk), Change.remove(operator_id=admin.pk),
                   Change.usb_key_bind(operator_id=admin.pk, serial="UK40000001"),
                   Change.scope_set(operator_id=admin.pk, scopes=[])):
        with pytest.raises(NotOnYourself):
            operators.change_challenge(admin=admin, change=change, at=now)
    assert Operator.objects.get(pk=admin.pk).roles == []
    assert UsbKey.objects.filter(person=admin.person).count() == 1


@pytest.mark.req("FC-02", "AD-02")
def test_roles_are_set_all_at_once_and_never_in_the_query_edition(service, admin, enterer,
                                                                  sign, now):
    with pytest.raises(InvalidRole):
        Change.roles_set(operator_id=enterer.pk, roles=["ENTER", "PAY"])
    roles = ["AUTHORISE", "ENTER", "ENTER"]
    operators.operator_roles_set(
        admin=admin, operator_id=enterer.pk, roles=roles, at=now,
        authorisation=authorise(admin, Change.roles_set(operator_id=enterer.pk, roles=roles),
                                sign, now))
    assert Operator.objects.get(pk=enterer.pk).roles == ["ENTER", "AUTHORISE"]
    event = AuditEvent.objects.get(action="corporate.operator.roles_set")
    assert event.details["before"] == ["ENTER"] and event.details["roles"] == [
        "ENTER", "AUTHORISE"]
    CorporateService.objects.filter(pk=service.pk).update(edition="QUERY")
    with pytest.raises(QueryEditionNoPayments):
        operators.change_challenge(admin=admin, at=now, change=Change.roles_set(
            operator_id=enterer.pk, roles=["ENTER"]))
    with pytest.raises(QueryEditionNoPayments):
        operators.change_challenge(admin=admin, at=now, change=Change.create(
            **_create_kwargs()))


@pytest.mark.req("FC-02", "AD-02", "ON-10")
def test_an_operators_life(service, admin, enterer, sign, key_of, now):
    key_of(enterer)

    def apply(call, change, **kwargs):
        return call(admin=admin, operator_id=enterer.pk, at=now,
                    authorisation=authorise(admin, change, sign, now), **kwargs)

    session = _session(enterer, now)
    apply(operators.operator_disable, Change.disable(operator_id=enterer.pk))
    assert Operator.objects.get(pk=enterer.pk).status == "DISABLED"
    assert OperatorSession.objects.get(pk=session.pk).end_reason == "CLOSED"  # signed out
    with pytest.raises(OperatorStateRefused):
        operators.change_challenge(admin=admin, at=now,
                                   change=Change.disable(operator_id=enterer.pk))
    apply(operators.operator_enable, Change.enable(operator_id=enterer.pk))
    Operator.objects.filter(pk=enterer.pk).update(failed_attempts=5, locked_until=now)
    session = _session(enterer, now)
    _operator, password = apply(operators.operator_password_reset,
                                Change.password_reset(operator_id=enterer.pk))
    assert OperatorSession.objects.get(pk=session.pk).end_reason == "PWRESET"
    enterer.refresh_from_db()
    assert check_password(password, enterer.password)
    assert not check_password(PASSWORD, enterer.password)
    assert enterer.must_change_password and enterer.failed_attempts == 0
    assert enterer.locked_until is None
    assert enterer.person.phone in [m.phone for m in SmsMessage.objects.filter(
        purpose="corporate.password_reset")]
    apply(operators.operator_remove, Change.remove(operator_id=enterer.pk))
    enterer.refresh_from_db()
    assert enterer.status == "REMOVED" and enterer.ended_at == now
    assert not UsbKey.objects.filter(person=enterer.person, status="ACTIVE").exists()
    assert not Certificate.objects.filter(person=enterer.person, status="ACTIVE").exists()
    with pytest.raises(OperatorNotFound):  # removed for good
        operators.change_challenge(admin=admin, at=now,
                                   change=Change.enable(operator_id=enterer.pk))
    actions = list(AuditEvent.objects.filter(actor=admin.actor,
                                             action__startswith="corporate.operator.")
                   .order_by("pk").values_list("action", flat=True))
    assert actions == ["corporate.operator.disabled", "corporate.operator.enabled",
                       "corporate.operator.password_reset", "corporate.operator.removed"]


@pytest.mark.req("FC-01", "FC-02", "SE-09")
def test_scopes_reach_only_linked_accounts(service, admin, enterer, company, sign, now,
                                           make_company):
    other = make_company(name="另一家公司", uscc=_uscc("91360702MA35R8LX2"))
    theirs = customers.corporate_account_open(company_id=other.pk, product="CORPORATE_BASIC",
                                              actor="staff:1", opened_at=now)
    unlinked = customers.corporate_account_open(company_id=company.pk,
                                                product="CORPORATE_SPECIAL", actor="staff:1",
                                                opened_at=now)
    for account in (theirs, unlinked):
        with pytest.raises(ScopeNotLinked):
            operators.change_challenge(admin=admin, at=now, change=Change.scope_set(
                operator_id=enterer.pk, scopes=[Scope(company.basic.pk), Scope(account.pk)]))
    for bad in ([Scope(company.basic.pk), Scope(company.basic.pk)],
                [Scope(company.basic.pk, per_payment_fen=0)],
                [Scope(company.basic.pk, per_payment_fen=500, per_day_fen=400)]):
        with pytest.raises(InvalidScope):
            Change.scope_set(operator_id=enterer.pk, scopes=bad)
    scopes = [Scope(company.general.pk, per_payment_fen=1_000_000, per_day_fen=5_000_000)]
    operators.operator_scope_set(
        admin=admin, operator_id=enterer.pk, scopes=scopes, at=now,
        authorisation=authorise(admin, Change.scope_set(operator_id=enterer.pk,
                                                        scopes=scopes), sign, now))
    assert list(OperatorScope.objects.filter(operator=enterer).values_list(
        "account_id", "per_payment_fen", "per_day_fen")) == [
        (company.general.pk, 1_000_000, 5_000_000)]
    assert signin.operator_accounts(enterer) == [company.general]
    assert signin.operator_accounts(admin) == [company.basic, company.general]
    signed = Signature.objects.latest("pk").payload
    assert f"账户尾号{company.general.number[-4:]}" in signed and "¥10,000.00" in signed


@pytest.mark.req("SE-09")
def test_another_companys_operators_are_never_reached(service, admin, sign, now,
                                                      make_company, make_person):
    other = make_company(name="另一家公司", uscc=_uscc("91360702MA35R8LX2"))
    account = customers.corporate_account_open(company_id=other.pk, product="CORPORATE_BASIC",
                                               actor="staff:1", opened_at=now)
    person = make_person(name="钱七", id_number=_check("36070219800101501"),
                         birth_date=date(1980, 1, 1), phone="13707970555")
    theirs_service, their_admin, _password = counter.service_open(
        company_id=other.pk, edition="STANDARD", account_ids=[account.pk],
        admin_person_id=person.pk, admin_code="admin", staff="staff:1", at=now)
    theirs = their_admin
    victim = Operator.objects.create(
        service=theirs_service, person=admin.person, code="enter9", roles=["ENTER"],
        password=make_password(PASSWORD), must_change_password=False, password_changed_at=now,
        created_at=now, created_by="staff:1")
    for target in (theirs, victim):
        for change in (Change.disable(operator_id=target.pk),
                       Change.password_reset(operator_id=target.pk),
                       Change.roles_set(operator_id=target.pk, roles=["AUTHORISE"])):
            with pytest.raises(OperatorNotFound):
                operators.change_challenge(admin=admin, change=change, at=now)
    # Even with a good signature over such a change (made by hand), nothing is reached.
    change = Change.disable(operator_id=victim.pk)
    challenge = signed_challenge(admin, purpose=change.purpose, at=now, sign=sign,
                                 digest=operators.change_digest(admin=admin, change=change),
                                 summary="x")
    with pytest.raises(OperatorNotFound):
        operators.operator_disable(admin=admin, operator_id=victim.pk,
                                   authorisation=challenge.pk, at=now)
    assert Operator.objects.get(pk=victim.pk).status == "ACTIVE"


@pytest.mark.req("ON-10", "AD-02")
def test_the_administrator_binds_an_operators_key(service, admin, enterer, sign, now):
    change = Change.usb_key_bind(operator_id=enterer.pk, serial=" uk40000002 ")
    key, reference = operators.operator_usb_key_bind(
        admin=admin, operator_id=enterer.pk, serial="UK40000002", at=now,
        authorisation=authorise(admin, change, sign, now))
    assert (key.person_id, key.company_id, key.serial) == (
        enterer.person_id, service.company_id, "UK40000002")
    message = SmsMessage.objects.filter(purpose="authn.cert_code").latest("pk")
    assert message.phone == enterer.person.phone
    device = SoftUsbKey("UK40000002", PIN, confirm=lambda text: True)
    certificates.usb_key_enrol(person=enterer.person, reference_code=reference,
                               authorisation_code=re.search(r"授权码 (\d{8})",
                                                            message.body).group(1),
                               request_der=device.signing_request(PIN), at=now,
                               company_id=service.company_id)
    assert certificates.certificate_for(enterer.person, "USBKEY",
                                        company_id=service.company_id) is not None
    assert AuditEvent.objects.get(action="corporate.usb_key.bound").actor == admin.actor


@pytest.mark.req("ON-05", "SE-09")
def test_counter_only_operations_are_not_reachable_online():
    """Cancelling the service, resetting the administrator's password, linking accounts and
    ending keys exist only in ``corporate.counter``, whose only callers on the web are the
    back office's staff pages."""
    online = {name for name in dir(operators) if not name.startswith("_")}
    assert not online & {"service_cancel", "admin_password_reset", "account_link",
                         "account_unlink", "usb_key_end", "admin_usb_key_bind"}

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern.callback

    for route, view in walk(get_resolver().url_patterns):
        module = getattr(view, "__module__", "")
        if module == "wangyin.backoffice.corporate":
            assert route.startswith("bo/"), route


def test_change_values_are_normalised_before_signing():
    assert Change.usb_key_bind(operator_id=3, serial=" uk1 ") == Change.usb_key_bind(
        operator_id="3", serial="UK1")
    assert Change.roles_set(operator_id=3, roles=["AUTHORISE", "ENTER"]).canonical() == \
        Change.roles_set(operator_id=3, roles=["ENTER", "AUTHORISE"]).canonical()
    assert Change.disable(operator_id=3).canonical() != Change.enable(operator_id=3).canonical()
