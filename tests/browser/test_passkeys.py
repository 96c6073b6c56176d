"""Passkeys in Chromium with a virtual authenticator (CDP WebAuthn domain): registered
after a step-up with SMS + token, then used to confirm a security change (FA-07, AU-18)."""

import pyotp
import pytest

from tests.browser.test_login import (
    NEW_PASSWORD,
    _click_password,
    _first_step,
    _shot,
    _sign_in_submit,
    enrolled,  # noqa: F401 -- the fixture
)
from tests.web.conftest import sms_code
from wangyin.authn import tokens
from wangyin.authn.models import Passkey
from wangyin.identity import services as identity
from wangyin.identity.models import ChannelUser

pytestmark = pytest.mark.django_db(transaction=True)

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.mark.req("FA-07", "AU-18", "AU-11")
def test_register_a_passkey_and_confirm_a_change_with_it(page, live_server, settings,
                                                         enrolled):  # noqa: F811
    settings.WEBAUTHN_RP_ID = "localhost"
    settings.WEBAUTHN_ORIGINS = [live_server.url]
    assert "://localhost:" in live_server.url
    user, initial = enrolled
    identity.password_change(user_id=user.pk, current_password=initial,
                             new_password=NEW_PASSWORD, ip=None, at=user.created_at)
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True}})
    _first_step(page, live_server.url)
    _click_password(page, NEW_PASSWORD)
    _sign_in_submit(page)
    page.wait_for_url("**/home/")
    tokens.token_issue(person_id=user.person_id, serial="WY00012345", seed=SEED,
                       staff="staff:teller1", reason="counter", at=user.created_at)

    page.goto(live_server.url + "/security/")
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
