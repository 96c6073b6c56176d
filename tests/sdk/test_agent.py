"""The U盾 agent (FA-05, ON-09): the bank's page reaches the key through it, the holder sees
the data and types the PIN on the agent's own page, and nothing else can press confirm."""

import base64
import json
import re
import stat
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from wangyin.authn import ca
from wangyin.core import pki
from wangyin_sdk.agent import Agent, serve
from wangyin_sdk.usbkey import SoftUsbKey

BANK = "http://localhost:8000"
SERIAL = "WY2026000777"
PIN = "246810"
PAYLOAD = json.dumps({"bank": "网银银行", "purpose": "transfer", "what": "转账",
                      "payee_account": "6222020200001234567", "payee_name": "李娜",
                      "amount_fen": "123456", "time": "2026-11-23T10:00:00+08:00",
                      "digest": "ab" * 32, "nonce": "n1"}, ensure_ascii=False)


@pytest.fixture
def agent(tmp_path):
    device = tmp_path / "key.json"
    SoftUsbKey(SERIAL, PIN, confirm=lambda text: False, path=device)
    server = serve(Agent(device, {BANK}), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", device
    server.shutdown()


def _call(url, *, origin=BANK, data=None, method=None, form=False):
    headers = {"Origin": origin} if origin else {}
    body = None
    if data is not None:
        if form:
            body = "&".join(f"{k}={v}" for k, v in data.items()).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 -- http to the local agent
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def _ask(base, kind, payload=""):
    status, _, body = _call(base + "/requests", data={"kind": kind, "payload": payload})
    assert status == 201
    answer = json.loads(body)
    status, headers, page = _call(answer["confirm_url"], origin=None)
    assert status == 200 and headers["X-Frame-Options"] == "DENY"
    token = re.search(r"name='token' value='([^']+)'", page).group(1)
    return answer["id"], token, page


def _press(base, request_id, token, pin, action="confirm", origin=None):
    return _call(f"{base}/confirm/{request_id}", origin=origin or base, form=True,
                 data={"token": token, "pin": pin, "action": action})


def _state(base, request_id):
    return json.loads(_call(f"{base}/requests/{request_id}")[2])


def _enrol(base):
    request_id, token, page = _ask(base, "csr")
    assert SERIAL in page
    assert _press(base, request_id, token, PIN)[0] == 200
    state = _state(base, request_id)
    request = pki.request_parse(base64.b64decode(state["result"]))
    assert request.suite.name == "sm2" and request.subject["serial_number"] == SERIAL
    _serial, der, _nb, _na = ca.issue(request=request, common_name="张伟",
                                      serial_number=SERIAL, at=datetime.now(UTC))
    status, _, _ = _call(base + "/certificate",
                         data={"certificate": base64.b64encode(der).decode()})
    assert status == 200
    return pki.certificate_load(der)


@pytest.mark.req("FA-05", "SE-14")
def test_only_the_bank_origin_reaches_the_key(agent):
    base, _device = agent
    assert _call(base + "/status", origin="https://phish.example")[0] == 403
    assert _call(base + "/requests", origin="https://phish.example",
                 data={"kind": "csr"})[0] == 403
    assert _call(base + "/status", origin="https://phish.example", method="OPTIONS")[0] == 403
    status, headers, _ = _call(base + "/status", method="OPTIONS")
    assert status == 204 and headers["Access-Control-Allow-Origin"] == BANK
    assert headers["Access-Control-Allow-Private-Network"] == "true"
    status, headers, body = _call(base + "/status")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == BANK
    assert json.loads(body) == {"serial": SERIAL, "certificate": False, "locked": False}


@pytest.mark.req("FA-05", "ON-09", "TX-04", "TX-03")
def test_enrol_then_sign_what_the_key_shows(agent):
    base, device = agent
    certificate = _enrol(base)
    request_id, token, page = _ask(base, "sign", PAYLOAD)
    # The key's screen shows the payee, the amount and the time before the PIN is asked.
    assert "6222020200001234567" in page and "李娜" in page and "1,234.56" in page
    assert _press(base, request_id, token, PIN)[0] == 200
    state = _state(base, request_id)
    assert state["state"] == "done"
    signature = base64.b64decode(state["result"])
    assert pki.SUITES["sm2"].verify(pki.public_der_of(certificate), signature,
                                    PAYLOAD.encode())
    # The device file: owner-only, the private key only encrypted under the PIN.
    assert stat.S_IMODE(device.stat().st_mode) == 0o600
    stored = json.loads(device.read_text())
    assert "ENCRYPTED PRIVATE KEY" in stored["key_pem"] and stored["certificate"]


@pytest.mark.req("FA-05")
def test_the_bank_page_cannot_press_confirm_or_learn_the_pin(agent):
    base, _device = agent
    _enrol(base)
    request_id, token, _page = _ask(base, "sign", PAYLOAD)
    # A post from the bank's page (or any other origin) to the confirm form is refused.
    assert _press(base, request_id, token, PIN, origin=BANK)[0] == 403
    # Without the one-time token from the key's own page nothing is signed.
    _press(base, request_id, "guess", PIN)
    assert _state(base, request_id)["state"] == "pending"
    # The request's state never carries the PIN or the token.
    assert PIN not in json.dumps(_state(base, request_id))
    assert _press(base, request_id, token, PIN, action="cancel")[0] == 200
    assert _state(base, request_id) == {"state": "refused", "result": "", "error": "cancelled"}


@pytest.mark.req("FA-05")
def test_wrong_pins_are_counted_on_the_device_and_lock_it(agent, tmp_path):
    base, device = agent
    _enrol(base)
    request_id, token, _page = _ask(base, "sign", PAYLOAD)
    status, _, page = _press(base, request_id, token, "000000")
    assert status == 200 and "还可尝试 5 次" in page
    assert _state(base, request_id)["state"] == "pending"
    # The count survives the agent: it lives on the device.
    assert SoftUsbKey.open(device, confirm=lambda t: True)._tries_left == 5
    for _ in range(5):
        _press(base, request_id, token, "000000")
    assert _state(base, request_id)["error"] == "locked"
    assert json.loads(_call(base + "/status")[2])["locked"] is True
    request_id, token, _page = _ask(base, "sign", PAYLOAD)
    _press(base, request_id, token, PIN)
    assert _state(base, request_id)["error"] == "locked"


@pytest.mark.req("FA-05")
def test_a_certificate_for_another_key_is_not_installed(agent):
    base, _device = agent
    _enrol(base)
    other = pki.SUITES["sm2"].generate()
    request = pki.request_parse(pki.request_build(pki.SUITES["sm2"], other, common_name="x",
                                                  serial_number=SERIAL))
    _s, der, _nb, _na = ca.issue(request=request, common_name="x", serial_number=SERIAL,
                                 at=datetime.now(UTC))
    status, _, body = _call(base + "/certificate",
                            data={"certificate": base64.b64encode(der).decode()})
    assert status == 400 and "not for this key" in body
    assert _call(base + "/certificate", data={"certificate": "%%%"})[0] == 400
