"""Soft certificate in Chromium (FA-06): after a step-up with SMS + token, the browser
makes a non-extractable P-256 key in IndexedDB and a signing request; the bank's CA issues
a certificate bound to this device; the key then signs a security change."""

import pyotp
import pytest

from tests.browser.test_login import (
    _shot,
    enrolled,  # noqa: F401 -- the fixture
    signed_in,
)
from tests.web.conftest import sms_code
from wangyin.authn import tokens
from wangyin.authn.models import Certificate, Signature
from wangyin.core import pki
from wangyin.identity.models import ChannelUser

pytestmark = pytest.mark.django_db(transaction=True)

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
EXPORT_PRIVATE_KEY = """async () => {
  const db = await new Promise((ok, ko) => { const r = indexedDB.open("wangyin-softcert", 1);
    r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
  const pair = await new Promise((ok) => { const r = db.transaction("keys").objectStore("keys")
    .get("current"); r.onsuccess = () => ok(r.result); });
  try { await crypto.subtle.exportKey("pkcs8", pair.privateKey); return "exported"; }
  catch (e) { return pair.privateKey.extractable ? "extractable" : "refused"; }
}"""


@pytest.mark.req("FA-06", "AU-11", "TX-04")
def test_install_a_soft_certificate_and_sign_a_change_with_it(page, live_server, enrolled,  # noqa: F811
                                                              ):
    user = signed_in(page, live_server.url, enrolled)
    tokens.token_issue(person_id=user.person_id, serial="WY00012345", seed=SEED,
                       staff="staff:teller1", reason="counter", at=user.created_at)

    page.goto(live_server.url + "/security/")
    page.click("#softcert-add")
    page.wait_for_url("**/security/confirm/")
    page.fill("#code", sms_code("authn.softcert.add"))
    page.fill("#token_code", pyotp.TOTP(SEED).now())
    page.click("button.primary")
    page.wait_for_url("**/security/softcert/new/")
    _shot(page, "softcert-new")
    page.click("#softcert-create")
    page.wait_for_url("**/security/")
    certificate = Certificate.objects.get(person_id=user.person_id)
    assert certificate.medium == "SOFTCERT" and certificate.suite == "p256"
    assert pki.certificate_load(bytes(certificate.der)).public_key.algorithm == "ec"
    assert page.evaluate(EXPORT_PRIVATE_KEY) == "refused"
    _shot(page, "softcert-security-centre")

    # Without the token, the soft certificate of this device is the second factor.
    tokens.token_revoke(person_id=user.person_id, staff="staff:teller1", reason="lost",
                        at=user.created_at)
    page.fill("#id_reserved_message", "窗外的梧桐")
    page.click("#main section form button.primary >> nth=0")
    page.wait_for_url("**/security/confirm/")
    assert "修改安全设置" in page.inner_text("#softcert-payload")
    page.click("#softcert-sign")
    page.wait_for_selector("#softcert-state:has-text('✓')")
    page.fill("#code", sms_code("authn.security.change"))
    _shot(page, "softcert-confirm")
    page.click("button.primary")
    page.wait_for_url("**/security/")
    assert ChannelUser.objects.get(pk=user.pk).reserved_message == "窗外的梧桐"
    signature = Signature.objects.get()
    assert signature.certificate_id == certificate.pk and '"nonce":' in signature.payload
    assert page.console_problems == []
