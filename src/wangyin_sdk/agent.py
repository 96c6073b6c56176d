"""The U盾 agent: the small program a customer runs next to the browser so that web pages
of the bank can reach the USB-Key (what Chinese banks ship as a "security control" or
U盾 driver). It listens on 127.0.0.1 only and answers only the bank's web origin.

The bank's page asks for a signing request (enrolment) or a signature (step-up); the agent
shows what will be signed on its **own** page — the key's screen — where the holder types
the PIN and presses confirm — the key's button. The bank's page never sees the PIN and
cannot press the button: the confirm page is another origin, carries a one-time token, and
its form accepts posts from itself only. The bank's page then collects the result.

    wangyin-usbkey new --device var/usbkey/mykey.json --serial WY2026000123
    wangyin-usbkey serve --device var/usbkey/mykey.json --origin https://ebank.example.cn

Several keys (``--device`` again for each, like several USB-Keys plugged in — one person's
personal and company keys, or the keys of several operators on one test machine): a
request may name the key by its ``serial``; otherwise the agent's own page asks the holder
which key to use, next to the PIN. The bank's page never chooses for the holder, and a
certificate is written to the key whose key pair it certifies.

HTTP interface (JSON; CORS for the bank origin):
``GET /status`` → ``{"serial", "certificate", "locked", "keys": [{"serial",
"certificate", "locked"}, ...]}`` (the top-level fields: the first key); ``POST /requests``
``{"kind": "csr"}`` or ``{"kind": "sign", "payload"}``, optionally with ``"serial"``
→ ``{"id", "confirm_url"}``; ``GET /requests/<id>`` → ``{"state": "pending" | "done" |
"refused", "result", "error"}``; ``POST /certificate`` ``{"certificate"}`` (base64 DER).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import getpass
import html
import json
import secrets
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from wangyin_sdk.usbkey import (
    NotConfirmed,
    SoftUsbKey,
    UsbKeyError,
    UsbKeyLocked,
    WrongPin,
    display_text,
)

DEFAULT_PORT = 8765
REQUEST_LIFETIME = 120  # seconds, like the bank's challenge
MAX_BODY = 16_000
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")


@dataclass
class Pending:
    kind: str  # "csr" or "sign"
    payload: str
    shown: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    created: float = field(default_factory=time.monotonic)
    state: str = "pending"
    result: str = ""
    error: str = ""
    message: str = ""
    serial: str = ""  # the key the request names; "" to ask the holder (several keys)
    chosen: str = ""  # the key the holder chose last on the agent's page


class Agent:
    """The USB-Keys plugged in (one or several device files) and the requests waiting for
    their holder. Thread-safe."""

    def __init__(self, key_paths: Path | str | Iterable[Path | str], origins: set[str]) -> None:
        self._lock = threading.Lock()
        self._pressed: str | None = None
        paths = [key_paths] if isinstance(key_paths, Path | str) else list(key_paths)
        if not paths:
            raise UsbKeyError("no USB-Key")
        self.keys: dict[str, SoftUsbKey] = {}
        for path in paths:
            key = SoftUsbKey.open(Path(path), confirm=lambda text: text == self._pressed)
            if key.serial in self.keys:
                raise UsbKeyError(f"two keys with serial {key.serial}")
            self.keys[key.serial] = key
        self.origins = origins
        self.requests: dict[str, Pending] = {}

    @property
    def key(self) -> SoftUsbKey:
        """The first key (the only one, when one is plugged in)."""
        return next(iter(self.keys.values()))

    def status(self) -> dict:
        keys = [{"serial": k.serial, "certificate": k.certificate is not None,
                 "locked": k.locked} for k in self.keys.values()]
        return {**keys[0], "keys": keys}

    def open_request(self, kind: str, payload: str, serial: str = "") -> str:
        if serial and serial not in self.keys:
            raise UsbKeyError("no such USB-Key")
        if not serial and len(self.keys) == 1:
            serial = self.key.serial
        if kind == "csr":
            shown = "申请U盾证书 Certificate request\n" + (
                f"序列号 {serial}\n" if serial else "") + \
                "将在U盾内生成新的密钥对 A new key pair is made inside the key"
        elif kind == "sign":
            try:
                shown = display_text(payload)
            except (ValueError, TypeError, AttributeError) as exc:
                raise UsbKeyError("the data to sign is not readable") from exc
        else:
            raise UsbKeyError("unknown request")
        with self._lock:
            self.requests = {rid: r for rid, r in self.requests.items()
                             if r.state == "pending" and not self._expired(r)}
            request_id = secrets.token_urlsafe(12)
            self.requests[request_id] = Pending(kind=kind, payload=payload, shown=shown,
                                                serial=serial)
        return request_id

    @staticmethod
    def _expired(request: Pending) -> bool:
        return time.monotonic() - request.created > REQUEST_LIFETIME

    def request(self, request_id: str) -> Pending | None:
        request = self.requests.get(request_id)
        if request is not None and request.state == "pending" and self._expired(request):
            request.state, request.error = "refused", "expired"
        return request

    def confirm(self, request_id: str, token: str, pin: str, pressed: bool,
                serial: str = "") -> Pending | None:
        """The holder answered on the key's screen: the PIN and confirm, or cancel; with
        several keys and none named by the request, the key they chose (``serial``)."""
        with self._lock:
            request = self.request(request_id)
            if (request is None or request.state != "pending"
                    or not secrets.compare_digest(request.token, token)):
                return None
            if not pressed:
                request.state, request.error = "refused", "cancelled"
                return request
            key = self.keys.get(request.serial or serial)
            if key is None:
                request.message = "请选择U盾 Choose the USB-Key"
                return request
            request.chosen = key.serial
            try:
                if request.kind == "csr":
                    result = key.signing_request(pin)
                else:
                    self._pressed = request.shown
                    result = key.sign(request.payload, pin)
            except WrongPin as exc:
                request.message = f"PIN错误，还可尝试 {exc.tries_left} 次 " \
                                  f"Wrong PIN, {exc.tries_left} tries left"
                return request
            except UsbKeyLocked:
                request.state, request.error = "refused", "locked"
            except NotConfirmed:
                request.state, request.error = "refused", "cancelled"
            except UsbKeyError as exc:
                request.state, request.error = "refused", str(exc)
            else:
                request.state, request.result = "done", base64.b64encode(result).decode()
            finally:
                self._pressed = None
            return request

    def install(self, certificate_b64: str) -> str:
        """Write the certificate to the key whose key pair it certifies; returns its
        serial."""
        try:
            der = base64.b64decode(certificate_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UsbKeyError("not a certificate") from exc
        with self._lock:
            refused = None
            for key in self.keys.values():
                try:
                    key.install(der)
                except UsbKeyError as exc:
                    refused = exc
                else:
                    return key.serial
            raise refused


def _page(title: str, body: str) -> bytes:
    return (f"<!doctype html><html lang='zh-CN'><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width'><title>{title}</title>"
            "<style>body{font:18px/1.6 sans-serif;max-width:28rem;margin:1.5rem auto;"
            "padding:0 1rem;color:#1a1a1a}pre{background:#f3f1ea;border:2px solid #333;"
            "padding:1rem;white-space:pre-wrap;font-size:1.1rem}input{font-size:1.3rem;"
            "width:12rem;padding:.3rem}button{font-size:1.1rem;padding:.5rem 1.2rem;"
            "margin:.6rem .6rem 0 0}.error{color:#a40000;font-weight:bold}</style>"
            f"<h1>{title}</h1>{body}</html>").encode()


def handler_for(agent: Agent, own_origin: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "WangyinUsbKeyAgent/1"

        def log_message(self, *_args) -> None:  # nothing the key does goes to a log
            return

        # -- plumbing -----------------------------------------------------------------
        def _cors(self) -> str | None:
            origin = self.headers.get("Origin", "")
            return origin if origin in agent.origins else None

        def _send(self, status: int, body: bytes, content_type: str,
                  origin: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            if origin:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Vary", "Origin")
            else:
                self.send_header("Content-Security-Policy", PAGE_CSP)
                self.send_header("X-Frame-Options", "DENY")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: dict, origin: str | None) -> None:
            self._send(status, json.dumps(data).encode(), "application/json", origin)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise UsbKeyError("too large")
            return self.rfile.read(length)

        # -- the bank's page ---------------------------------------------------------
        def do_OPTIONS(self) -> None:
            origin = self._cors()
            if origin is None:
                self._send(403, b"", "text/plain")
                return
            self.send_response(204)
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Access-Control-Allow-Methods", "GET, POST")
            self.send_header("Access-Control-Allow-Headers", "Content-Type")
            self.send_header("Access-Control-Allow-Private-Network", "true")
            self.send_header("Vary", "Origin")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts[0] == "confirm" and len(parts) == 2:
                self._confirm_page(parts[1])
                return
            origin = self._cors()
            if origin is None:
                self._send(403, b"", "text/plain")
            elif parts == ["status"]:
                self._json(200, agent.status(), origin)
            elif parts[0] == "requests" and len(parts) == 2 and \
                    (request := agent.request(parts[1])) is not None:
                self._json(200, {"state": request.state, "result": request.result,
                                 "error": request.error}, origin)
            else:
                self._json(404, {"error": "not found"}, origin)

        def do_POST(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts[0] == "confirm" and len(parts) == 2:
                self._confirm_post(parts[1])
                return
            origin = self._cors()
            if origin is None:
                self._send(403, b"", "text/plain")
                return
            try:
                data = json.loads(self._body() or b"{}")
                if parts == ["requests"]:
                    request_id = agent.open_request(str(data.get("kind", "")),
                                                    str(data.get("payload", "")),
                                                    str(data.get("serial") or ""))
                    self._json(201, {"id": request_id,
                                     "confirm_url": f"{own_origin}/confirm/{request_id}"},
                               origin)
                elif parts == ["certificate"]:
                    serial = agent.install(str(data.get("certificate", "")))
                    self._json(200, {"installed": True, "serial": serial}, origin)
                else:
                    self._json(404, {"error": "not found"}, origin)
            except (UsbKeyError, ValueError, AttributeError) as exc:
                self._json(400, {"error": str(exc)}, origin)

        # -- the key's screen and button -----------------------------------------------
        def _confirm_page(self, request_id: str, message: str = "") -> None:
            request = agent.request(request_id)
            if request is None or request.state != "pending":
                self._send(410, _page("U盾", "<p>这个请求已经结束。This request has ended.</p>"),
                           "text/html; charset=utf-8")
                return
            if request.serial:
                head, choice = f"U盾 {html.escape(request.serial)} 将签署 will sign:", ""
            else:  # several keys plugged in: the holder picks theirs here, not the page
                head = "U盾将签署 The USB-Key will sign:"
                choice = ("<fieldset id='keys'><legend>使用哪个U盾 Which USB-Key</legend>"
                          + "".join(
                              f"<label><input type='radio' name='key' "
                              f"value='{html.escape(key.serial)}'"
                              f"{' checked' if key.serial == request.chosen else ''}> "
                              f"{html.escape(key.serial)}"
                              f"{'' if key.certificate else '（无证书 no certificate）'}"
                              "</label><br>"
                              for key in agent.keys.values())
                          + "</fieldset>")
            body = (f"<p>{head}</p>"
                    f"<pre id='shown'>{html.escape(request.shown)}</pre>"
                    + (f"<p class='error' id='message'>{html.escape(message)}</p>"
                       if message else "")
                    + f"<form method='post' action='/confirm/{html.escape(request_id)}'>"
                    f"<input type='hidden' name='token' value='{request.token}'>" + choice +
                    "<label for='pin'>U盾密码 PIN</label><br>"
                    "<input id='pin' name='pin' type='password' inputmode='numeric' "
                    "autocomplete='off' maxlength='12' autofocus><br>"
                    "<button name='action' value='confirm' id='confirm'>确认 Confirm</button>"
                    "<button name='action' value='cancel' id='cancel'>取消 Cancel</button>"
                    "</form><p>核对无误再确认。Check every line before you confirm.</p>")
            self._send(200, _page("U盾确认 Confirm on the USB-Key", body),
                       "text/html; charset=utf-8")

        def _confirm_post(self, request_id: str) -> None:
            if self.headers.get("Origin") != own_origin:  # only the agent's own form
                self._send(403, b"", "text/plain")
                return
            try:
                form = parse_qs(self._body().decode(), max_num_fields=5)
            except (UsbKeyError, UnicodeDecodeError, ValueError):
                self._send(400, b"", "text/plain")
                return
            request = agent.confirm(request_id, form.get("token", [""])[0],
                                    form.get("pin", [""])[0],
                                    form.get("action", [""])[0] == "confirm",
                                    form.get("key", [""])[0])
            if request is not None and request.state == "pending":
                self._confirm_page(request_id, request.message)
                return
            done = request is not None and request.state == "done"
            text = ("已完成，请回到网银页面。Done — go back to the bank's page." if done else
                    "没有签署。Nothing was signed." + (
                        " U盾已锁定，请到柜台办理。The key is locked; visit a branch."
                        if request is not None and request.error == "locked" else ""))
            self._send(200, _page("U盾", f"<p id='outcome'>{html.escape(text)}</p>"),
                       "text/html; charset=utf-8")

    return Handler


def serve(agent: Agent, *, port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """A server bound to 127.0.0.1 (``port`` 0 picks a free one); call
    ``serve_forever``."""
    server = ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
    own_origin = f"http://127.0.0.1:{server.server_address[1]}"
    server.RequestHandlerClass = handler_for(agent, own_origin)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wangyin-usbkey", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="make a new, empty software USB-Key")
    new.add_argument("--device", type=Path, required=True)
    new.add_argument("--serial", required=True)
    run = commands.add_parser("serve", help="let the bank's web pages reach the key")
    run.add_argument("--device", type=Path, action="append", required=True,
                     help="a key's device file; again for each key plugged in")
    run.add_argument("--origin", action="append", required=True,
                     help="the bank's web origin, e.g. https://ebank.example.cn")
    run.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    if args.command == "new":
        if args.device.exists():
            parser.error(f"{args.device} exists")
        pin = getpass.getpass("PIN (6-12 digits): ")
        if getpass.getpass("PIN again: ") != pin:
            parser.error("the PINs differ")
        try:
            SoftUsbKey(args.serial, pin, confirm=lambda _text: False, path=args.device)
        except UsbKeyError as exc:
            parser.error(str(exc))
        print(f"USB-Key {args.serial} made in {args.device}")
        return 0
    server = serve(Agent(args.device, set(args.origin)), port=args.port)
    print(f"U盾 agent for {', '.join(args.origin)} at "
          f"http://127.0.0.1:{server.server_address[1]}", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
