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
    key = {"serial": SERIAL, "certificate": False, "locked": False}
    assert json.loads(body) == {**key, "keys": [key]}


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


# --- several keys plugged in ---------------------------------------------------------------

OTHER = "WY2026000888"
OTHER_PIN = "975310"


@pytest.fixture
def two_keys(tmp_path):
    """An agent holding two keys (the demo's operators on one machine)."""
    devices = [tmp_path / "a.json", tmp_path / "b.json"]
    SoftUsbKey(SERIAL, PIN, confirm=lambda text: False, path=devices[0])
    SoftUsbKey(OTHER, OTHER_PIN, confirm=lambda text: False, path=devices[1])
    server = serve(Agent(devices, {BANK}), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", devices
    server.shutdown()


def _enrol_key(base, serial, pin, *, name_it: bool):
    """Enrol one of several keys: named by the request, or chosen on the agent's page."""
    data = {"kind": "csr", **({"serial": serial} if name_it else {})}
    answer = json.loads(_call(base + "/requests", data=data)[2])
    page = _call(answer["confirm_url"], origin=None)[2]
    token = re.search(r"name='token' value='([^']+)'", page).group(1)
    press = {"token": token, "pin": pin, "action": "confirm"}
    if not name_it:
        assert f"value='{SERIAL}'" in page and f"value='{OTHER}'" in page
        press["key"] = serial
    else:
        assert "name='key'" not in page and serial in page
    assert _call(f"{base}/confirm/{answer['id']}", origin=base, form=True, data=press)[0] == 200
    request = pki.request_parse(base64.b64decode(_state(base, answer["id"])["result"]))
    assert request.subject["serial_number"] == serial
    _s, der, _nb, _na = ca.issue(request=request, common_name="x", serial_number=serial,
                                 at=datetime.now(UTC))
    status, _, body = _call(base + "/certificate",
                            data={"certificate": base64.b64encode(der).decode()})
    assert status == 200 and json.loads(body)["serial"] == serial  # written to that key
    return pki.certificate_load(der)


@pytest.mark.req("FA-05")
def test_several_keys_the_request_names_one_or_the_holder_chooses(two_keys):
    base, devices = two_keys
    status = json.loads(_call(base + "/status")[2])
    assert [k["serial"] for k in status["keys"]] == [SERIAL, OTHER]
    first = _enrol_key(base, SERIAL, PIN, name_it=True)
    other = _enrol_key(base, OTHER, OTHER_PIN, name_it=False)
    assert SoftUsbKey.open(devices[1], confirm=lambda t: True).certificate == other.dump()
    assert SoftUsbKey.open(devices[0], confirm=lambda t: True).certificate == first.dump()
    # A signature with no key named: the page asks which key; without a choice nothing is
    # signed and the request waits; the chosen key signs with its own PIN.
    request_id, token, page = _ask(base, "sign", PAYLOAD)
    assert "name='key'" in page and "李娜" in page
    _status, _, page = _press(base, request_id, token, OTHER_PIN)
    assert "请选择U盾" in page and _state(base, request_id)["state"] == "pending"
    status, _, _ = _call(f"{base}/confirm/{request_id}", origin=base, form=True,
                         data={"token": token, "pin": OTHER_PIN, "action": "confirm",
                               "key": OTHER})
    signature = base64.b64decode(_state(base, request_id)["result"])
    assert pki.SUITES["sm2"].verify(pki.public_der_of(other), signature, PAYLOAD.encode())
    assert not pki.SUITES["sm2"].verify(pki.public_der_of(first), signature,
                                        PAYLOAD.encode())
    # A request that names a key signs with it, its PIN only; an unknown serial is refused.
    answer = json.loads(_call(base + "/requests", data={"kind": "sign", "payload": PAYLOAD,
                                                         "serial": SERIAL})[2])
    page = _call(answer["confirm_url"], origin=None)[2]
    token = re.search(r"name='token' value='([^']+)'", page).group(1)
    assert "name='key'" not in page
    _status, _, page = _press(base, answer["id"], token, OTHER_PIN)
    assert "还可尝试 5 次" in page
    _press(base, answer["id"], token, PIN)
    signature = base64.b64decode(_state(base, answer["id"])["result"])
    assert pki.SUITES["sm2"].verify(pki.public_der_of(first), signature, PAYLOAD.encode())
    assert _call(base + "/requests", data={"kind": "sign", "payload": PAYLOAD,
                                           "serial": "WY-NOT-HERE"})[0] == 400


@pytest.mark.req("FA-05")
def test_the_command_serves_several_devices(tmp_path, monkeypatch):
    """``wangyin-usbkey serve --device A --device B`` holds both keys."""
    from wangyin_sdk import agent as module

    devices = [tmp_path / "a.json", tmp_path / "b.json"]
    SoftUsbKey(SERIAL, PIN, confirm=lambda text: False, path=devices[0])
    SoftUsbKey(OTHER, OTHER_PIN, confirm=lambda text: False, path=devices[1])
    seen = {}

    class Server:
        server_address = ("127.0.0.1", 1)

        def serve_forever(self):
            raise KeyboardInterrupt

    def fake_serve(agent, *, port):
        seen["serials"], seen["port"] = list(agent.keys), port
        return Server()

    monkeypatch.setattr(module, "serve", fake_serve)
    assert module.main(["serve", "--device", str(devices[0]), "--device", str(devices[1]),
                        "--origin", BANK, "--port", "9999"]) == 0
    assert seen == {"serials": [SERIAL, OTHER], "port": 9999}
