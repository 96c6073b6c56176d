"""Signing in with a passkey on the web (AU-18): no login name, a single-use challenge in
the server session, then the same device check and session start as the password."""

from datetime import timedelta

import pytest
from django.test import Client

from tests.authn.authenticator import SoftAuthenticator
from wangyin.audit.models import AuditEvent
from wangyin.authn import passkeys
from wangyin.core import clock
from wangyin.identity import services as identity
from wangyin.identity.errors import PasskeyLoginFailed
from wangyin.identity.models import ChannelUser, CustomerSession, Device, LoginEvent
from wangyin.web.customer import DEVICE_COOKIE

from .conftest import PASSWORD, bind_device, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def authenticator(ready_customer):
    """A passkey the customer registered (the step-up is tested elsewhere)."""
    authenticator = SoftAuthenticator(person_id=ready_customer.person_id)
    challenge = passkeys.new_challenge()
    passkeys.passkey_register(person=ready_customer.person, label="phone", at=clock.now(),
                              credential=authenticator.registration(challenge),
                              challenge=challenge)
    return authenticator


def passkey_options(client) -> dict:
    client.get("/login/")
    return client.post("/login/passkey/options/").json()


def passkey_sign_in(client, authenticator):
    challenge = passkey_options(client)["challenge"]
    return client.post("/login/passkey/", {"assertion": authenticator.assertion(challenge)})


def _vague(client) -> bool:
    return str(PasskeyLoginFailed.message) in client.get("/login/").content.decode()


@pytest.mark.req("AU-18", "AU-09")
def test_the_login_page_offers_a_passkey_without_naming_anybody(client, authenticator):
    page = client.get("/login/").content.decode()
    assert 'id="passkey-login"' in page and "web/passkey.js" in page
    options = client.post("/login/passkey/options/").json()
    assert options["allowCredentials"] == [] and options["userVerification"] == "required"
    assert client.session["login_passkey"]["challenge"] == options["challenge"]
    assert client.get("/login/passkey/options/").status_code == 405


@pytest.mark.req("AU-18", "FA-07", "AU-14")
def test_a_passkey_signs_in_on_a_bound_device_and_home_shows_how(client, authenticator):
    response = passkey_sign_in(client, authenticator)
    assert response.url == "/home/"
    assert client.get("/home/").status_code == 200
    assert LoginEvent.objects.latest("id").method == "PASSKEY"
    assert AuditEvent.objects.filter(action="identity.login.passkey", result="SUCCESS").exists()
    client.post("/logout/")
    sign_in(client, "zhangwei_01", PASSWORD)
    assert "通行密钥" in client.get("/home/").content.decode()  # the previous sign-in's method


@pytest.mark.req("AU-18", "AU-16")
def test_a_new_device_still_needs_the_sms_code(client, authenticator):
    Device.objects.all().delete()
    assert passkey_sign_in(client, authenticator).url == "/login/device/"
    assert client.get("/home/").url == "/login/"  # no session yet
    assert bind_device(client).url == "/home/"
    assert client.get("/home/").status_code == 200


@pytest.mark.req("AU-18", "ON-07", "AU-12")
@pytest.mark.parametrize("why", ["reset at the counter", "expired"])
def test_a_password_that_must_change_still_must_change(client, ready_customer, authenticator,
                                                       settings, why):
    if why == "expired":
        ChannelUser.objects.filter(pk=ready_customer.pk).update(
            password_changed_at=clock.now() - timedelta(days=settings.PASSWORD_MAX_AGE_DAYS + 1))
    else:
        identity.password_reset_at_counter(person_id=ready_customer.person_id,
                                           staff="staff:1", reason="forgotten", at=clock.now())
    assert passkey_sign_in(client, authenticator).url == "/home/"
    assert client.get("/home/").url == "/password/change/"
    assert client.get("/security/").url == "/password/change/"


@pytest.mark.req("AU-18", "SE-05")
def test_a_passkey_sign_in_ends_the_other_session(client, authenticator):
    sign_in(client, "zhangwei_01", PASSWORD)
    first = CustomerSession.objects.get(ended_at__isnull=True)
    other = Client()
    other.cookies[DEVICE_COOKIE] = client.cookies[DEVICE_COOKIE].value  # the same device
    assert passkey_sign_in(other, authenticator).url == "/home/"
    first.refresh_from_db()
    assert first.end_reason == "REPLACED"
    assert CustomerSession.objects.filter(ended_at__isnull=True).count() == 1


@pytest.mark.req("AU-18", "AU-09", "FA-07")
def test_the_challenge_is_used_once(client, authenticator):
    challenge = passkey_options(client)["challenge"]
    assertion = authenticator.assertion(challenge)
    assert client.post("/login/passkey/", {"assertion": assertion}).url == "/home/"
    client.post("/logout/")
    assert client.post("/login/passkey/", {"assertion": assertion}).url == "/login/"
    assert _vague(client)
    again = authenticator.assertion(challenge)  # a fresh signature over the spent challenge
    assert client.post("/login/passkey/", {"assertion": again}).url == "/login/"
    assert client.get("/home/").url == "/login/"


@pytest.mark.req("AU-18", "AU-09")
def test_failures_say_one_vague_thing(client, ready_customer, authenticator):
    stranger = SoftAuthenticator(person_id=ready_customer.person_id)
    assert passkey_sign_in(client, stranger).url == "/login/"
    assert _vague(client)
    passkeys.passkey_remove(person=ready_customer.person, device="d", at=clock.now(),
                            passkey_pk=ready_customer.person.passkeys.get().pk)
    assert passkey_sign_in(client, authenticator).url == "/login/"
    assert _vague(client)
    assert client.post("/login/passkey/", {"assertion": "{}"}).url == "/login/"
    assert _vague(client)
    assert client.get("/home/").url == "/login/"
