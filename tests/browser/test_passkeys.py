"""Passkeys in Chromium with a virtual authenticator (CDP WebAuthn domain): registered
after a step-up with SMS + token, then used to confirm a security change and to sign in
without the login name and password (FA-07, AU-18)."""

import pyotp
import pytest

from tests.browser.test_login import (
    _shot,
    enrolled,  # noqa: F401 -- the fixture
    signed_in,
)
from tests.web.conftest import sms_code
from wangyin.authn import tokens
from wangyin.authn.models import Passkey
from wangyin.identity.models import ChannelUser, CustomerSession, LoginEvent

pytestmark = pytest.mark.django_db(transaction=True)

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _virtual_authenticator(page, live_server, settings):
    """A platform authenticator that holds discoverable credentials and always verifies
    the user (as if the fingerprint matched)."""
    settings.WEBAUTHN_RP_ID = "localhost"
    settings.WEBAUTHN_ORIGINS = [live_server.url]
    assert "://localhost:" in live_server.url
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True}})
    return cdp


def _add_passkey(page, url, user):
    """From the security centre: the step-up with SMS + token, then the browser ceremony."""
    tokens.token_issue(person_id=user.person_id, serial="WY00012345", seed=SEED,
                       staff="staff:teller1", reason="counter", at=user.created_at)
    page.goto(url + "/security/")
    page.click("#passkey-add")
    page.wait_for_url("**/security/confirm/")
    page.fill("#code", sms_code("authn.passkey.add"))
    page.fill("#token_code", pyotp.TOTP(SEED).now())
    page.click("button.primary")
    page.wait_for_url("**/security/passkeys/new/")
    _shot(page, "passkey-new")
    page.click("#passkey-create")
    page.wait_for_url("**/security/")
    assert Passkey.objects.filter(person_id=user.person_id).count() == 1


@pytest.mark.req("FA-07", "AU-18", "AU-11")
def test_register_a_passkey_and_confirm_a_change_with_it(page, live_server, settings,
                                                         enrolled):  # noqa: F811
    _virtual_authenticator(page, live_server, settings)
    user = signed_in(page, live_server.url, enrolled)
    _add_passkey(page, live_server.url, user)

    page.fill("#id_reserved_message", "窗外的梧桐")
    page.click("#main section form button.primary >> nth=0")
    page.wait_for_url("**/security/confirm/")
    page.click("#passkey-get")
    page.wait_for_selector("#passkey-state:has-text('✓')")
    page.fill("#code", sms_code("authn.security.change"))
    _shot(page, "passkey-confirm")
    page.click("button.primary")
    page.wait_for_url("**/security/")
    assert ChannelUser.objects.get(pk=user.pk).reserved_message == "窗外的梧桐"
    assert Passkey.objects.get().sign_count >= 0 and Passkey.objects.get().last_used_at
    assert page.console_problems == []


@pytest.mark.req("AU-18", "FA-07", "AU-09", "AU-14")
def test_sign_in_with_a_passkey_instead_of_the_password(page, live_server, settings,
                                                         enrolled):  # noqa: F811
    _virtual_authenticator(page, live_server, settings)
    user = signed_in(page, live_server.url, enrolled)
    _add_passkey(page, live_server.url, user)
    page.click("text=安全退出")
    page.wait_for_url("**/signed-out/")

    for time in ("first", "second"):
        page.goto(live_server.url + "/login/")
        assert page.locator("#passkey-login").is_visible()
        if time == "first":
            _shot(page, "login-passkey")
        page.click("#passkey-login")  # the authenticator offers its passkey: no name typed
        page.wait_for_url("**/home/")
        assert LoginEvent.objects.latest("id").method == "PASSKEY"
        assert CustomerSession.objects.filter(ended_at__isnull=True).count() == 1
        if time == "first":
            page.click("text=安全退出")
            page.wait_for_url("**/signed-out/")
    # Home names how the previous sign-in (the first passkey one) was made.
    assert "通行密钥" in page.locator("#last-login").inner_text()
    _shot(page, "home-after-passkey")
    assert Passkey.objects.get().last_used_at is not None
    assert page.console_problems == []
