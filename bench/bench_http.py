"""The transfer benchmark's load generator: one asyncio process, N concurrent connections.

    python bench/bench_http.py SPEC.json RESULT.json

Run by ``transfers_bench.py`` (not by hand): it prints ``READY`` once connected, waits for
a ``GO`` line on stdin, drives transfers until the deadline, writes RESULT.json (counts,
errors by kind, latencies, its own CPU time) and prints ``DONE``.

Each of the N virtual users holds one keep-alive connection and, for every transfer, takes
an idle signed-in customer from a shared pool (a customer is never used by two users at
once: one browser, one session), pays a random other bench customer a small amount and
puts the customer back:

1. POST /transfers/new/ (the form) -> 302 to the confirmation;
2. the SMS code: every payment to another customer needs one (FA-09), so the generator
   reads the newest code for that customer's phone from the SMS sandbox's outbox (one
   indexed read and an AES-GCM decryption, timed apart: it is the phone, not the bank);
3. POST /transfers/confirm/ with the code -> 302 to the result;
4. GET /transfers/<id>/: the transfer counts as complete only if the page's heading says
   "Transfer completed" (in the bank's default language, Chinese).

With ``pages`` the user also loads the form and the confirmation page (GET) as a browser
does.

Timing: users join at ``ramp_rate`` per second (all at once, they would queue in step —
every form, then every confirmation, then every result — and transfers would complete
in waves); the measurement window opens when as many transfers have completed as there
are users (each user has, on average, been through once: the queues are full) or after
``warmup_max`` seconds, and lasts ``duration`` seconds or twice the median time of the
latest transfers, whichever is longer (so it spans whole cycles of every user).
Transfers, requests and errors count when they end inside the window; at its end users
start nothing new and the transfers in flight finish (drain) uncounted.

A customer may receive 5 SMS codes in 10 minutes (SE-11): the generator uses each customer
at most ``sms_budget`` times per phase (the parent clears the counters between phases) and
reports how long users waited for a customer if the pool ran dry.
"""

from __future__ import annotations

import asyncio
import html
import json
import random
import re
import resource
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import psycopg

from wangyin.core.crypto import decrypt

SMS_PURPOSE = "authn.transfer.same_bank"
_CODE = re.compile(r"验证码 (\d{6})")
_RESULT = re.compile(r'id="transfer-result">([^<]*)<')
_FORM_ERROR = re.compile(r'id="transfer-error">([^<]*)<')
_ALERT = re.compile(r'role="alert"[^>]*>([^<]*)<')


class TransferError(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def _text(raw: str) -> str:
    return " ".join(html.unescape(raw).split())[:80]


class Generator:
    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.base = spec["base_url"].rstrip("/")
        self.customers = spec["customers"]
        self.rng = random.Random(spec["seed"])
        self.latency: dict[str, list[float]] = {}
        self.ok = 0
        self.held = 0
        self.errors: Counter[str] = Counter()
        self.per_second: Counter[int] = Counter()
        self.uses: Counter[int] = Counter()
        self.last_sms: dict[int, int] = {}
        self.pool: asyncio.Queue[int] = asyncio.Queue()
        self.pool_wait_s = 0.0
        self.sms_s: list[float] = []
        self.t0 = 0.0
        self.measuring = False
        self.window: list[float] = []  # start, end (monotonic)
        self.completed_total = 0
        self.warmup_transfer_ms: list[float] = []
        self.errors_outside = 0
        self.spent: dict[int, float] = {}  # HTTP time of each customer's current transfer

    # -- one transfer ----------------------------------------------------------------------

    def _headers(self, c: dict) -> dict[str, str]:
        return {
            "Cookie": f"sessionid={c['session_cookie']}; wy_dev={c['device_cookie']}; "
            f"csrftoken={c['csrf_token']}",
            "User-Agent": self.spec["user_agent"],
            "Accept-Language": "zh-CN,zh;q=0.9",
        }

    async def _request(
        self,
        http: aiohttp.ClientSession,
        kind: str,
        method: str,
        path: str,
        c: dict,
        data: dict | None = None,
    ) -> tuple[int, str, str]:
        t = time.perf_counter()
        try:
            async with http.request(
                method, self.base + path, data=data, headers=self._headers(c), allow_redirects=False
            ) as resp:
                body = await resp.text()
                status, location = resp.status, resp.headers.get("Location", "")
                cookie = resp.cookies.get("sessionid")
                if cookie is not None and cookie.value:
                    c["session_cookie"] = cookie.value
        except TimeoutError as exc:
            raise TransferError(f"{kind}: timeout") from exc
        except aiohttp.ClientError as exc:
            raise TransferError(f"{kind}: {type(exc).__name__}") from exc
        ms = (time.perf_counter() - t) * 1000.0
        if self.measuring:
            self.latency.setdefault(kind, []).append(ms)
        self.spent[id(c)] = self.spent.get(id(c), 0.0) + ms
        return status, location, body

    def _refused(self, step: str, status: int, location: str, body: str) -> TransferError:
        if status == 302 and "/login/" in location:
            return TransferError(f"{step}: signed out")
        for pattern in (_FORM_ERROR, _ALERT):
            m = pattern.search(body)
            if m:
                return TransferError(f"{step}: {_text(m.group(1))}")
        return TransferError(f"{step}: HTTP {status} {location}")

    async def _sms_code(self, db: psycopg.AsyncConnection, c: dict) -> str:
        t = time.perf_counter()
        after = self.last_sms.get(c["index"], 0)
        for attempt in range(20):
            cur = await db.execute(
                "SELECT id, body FROM notify_smsmessage WHERE phone_index = %s AND purpose = %s "
                "AND id > %s ORDER BY id DESC LIMIT 1",
                [c["phone_index"], SMS_PURPOSE, after],
            )
            row = await cur.fetchone()
            if row is not None:
                self.last_sms[c["index"]] = row[0]
                m = _CODE.search(decrypt(row[1], purpose="notify.sms.body"))
                self.sms_s.append(time.perf_counter() - t)
                if m is None:
                    raise TransferError("sms: no code in the message")
                return m.group(1)
            await asyncio.sleep(0.05 * (attempt + 1))
        raise TransferError("sms: no code arrived")

    async def transfer(self, http, db, c: dict) -> None:
        payee = c
        while payee is c:
            payee = self.customers[self.rng.randrange(len(self.customers))]
        fen = self.rng.randint(self.spec["min_fen"], self.spec["max_fen"])
        csrf = c["csrf_token"]
        self.spent[id(c)] = 0.0
        if self.spec["pages"]:
            status, location, body = await self._request(
                http, "GET form", "GET", "/transfers/new/", c
            )
            if status != 200:
                raise self._refused("form page", status, location, body)
        status, location, body = await self._request(
            http,
            "POST form",
            "POST",
            "/transfers/new/",
            c,
            {
                "csrfmiddlewaretoken": csrf,
                "debit_account": str(c["account_id"]),
                "payee_account": payee["account_number"],
                "payee_name": payee["name"],
                "amount": f"{fen // 100}.{fen % 100:02d}",
                "memo": "bench",
                # the form's other fields as a browser sends them: this bank, now
                "payee_bank": "",
                "when": "NOW",
                "first_date": "",
                "end_date": "",
            },
        )
        if status != 302 or not location.endswith("/transfers/confirm/"):
            raise self._refused("form", status, location, body)
        code = await self._sms_code(db, c)
        if self.spec["pages"]:
            status, location, body = await self._request(
                http, "GET confirm", "GET", "/transfers/confirm/", c
            )
            if status != 200:
                raise self._refused("confirm page", status, location, body)
        status, location, body = await self._request(
            http,
            "POST confirm",
            "POST",
            "/transfers/confirm/",
            c,
            {"csrfmiddlewaretoken": csrf, "code": code},
        )
        if status == 302 and location.endswith("/transfers/new/"):
            # The refusal's message waits on the form page.
            status2, location2, body2 = await self._request(
                http, "GET form (error)", "GET", "/transfers/new/", c
            )
            raise self._refused("confirm", status2, location2, body2)
        if status != 302 or not re.search(r"/transfers/\d+/$", location):
            raise self._refused("confirm", status, location, body)
        status, location, body = await self._request(http, "GET result", "GET", location, c)
        m = _RESULT.search(body)
        heading = _text(m.group(1)) if m else ""
        spent = self.spent.pop(id(c))
        if heading == self.spec["texts"]["done"]:
            self.completed_total += 1
            self.per_second[int(time.monotonic() - self.t0)] += 1
            if self.measuring:
                self.ok += 1
                self.latency.setdefault("transfer", []).append(spent)
            elif not self.window:
                self.warmup_transfer_ms.append(spent)
                if self.completed_total >= self.spec["connections"]:
                    self.open_window()
        elif heading == self.spec["texts"]["held"]:
            self.held += self.measuring
            raise TransferError("result: held for review")
        else:
            raise TransferError(f"result: HTTP {status}, heading {heading!r}")

    # -- the users -------------------------------------------------------------------------

    def open_window(self) -> None:
        now = time.monotonic()
        # The recent transfers tell the cycle time with full queues (the first ones did not
        # wait behind everybody).
        recent = sorted(self.warmup_transfer_ms[-max(1, self.spec["connections"] // 2) :])
        cycle = recent[len(recent) // 2] / 1000.0 if self.warmup_transfer_ms else 0.0
        self.window = [now, now + max(self.spec["duration"], 2 * cycle)]
        self.measuring = True

    async def clock(self) -> None:
        """Open the window at the latest after ``warmup_max``; close it after ``duration``."""
        limit = self.t0 + self.spec["warmup_max"]
        while not self.window and time.monotonic() < limit:
            await asyncio.sleep(0.1)
        if not self.window:
            self.open_window()
        await asyncio.sleep(max(0.0, self.window[1] - time.monotonic()))
        self.measuring = False

    def running(self) -> bool:
        return not self.window or time.monotonic() < self.window[1]

    async def user(self, http, db, delay: float) -> None:
        await asyncio.sleep(delay)
        while self.running():
            t = time.monotonic()
            index = await self.pool.get()
            self.pool_wait_s += time.monotonic() - t
            if not self.running():
                self.pool.put_nowait(index)
                return
            c = self.by_index[index]
            try:
                await self.transfer(http, db, c)
            except TransferError as exc:
                self._error(exc.kind)
            except Exception as exc:  # noqa: BLE001 - counted, the run goes on
                self._error(f"bench: {type(exc).__name__}: {exc}"[:100])
            self.uses[index] += 1
            if self.uses[index] < self.spec["sms_budget"]:
                self.pool.put_nowait(index)

    def _error(self, kind: str) -> None:
        if self.measuring:
            self.errors[kind] += 1
        else:
            self.errors_outside += 1

    async def run(self) -> dict:
        spec = self.spec
        self.by_index = {c["index"]: c for c in self.customers}
        order = [c["index"] for c in self.customers]
        self.rng.shuffle(order)
        for index in order:
            self.pool.put_nowait(index)
        n = spec["connections"]
        connector = aiohttp.TCPConnector(limit=n, limit_per_host=n, keepalive_timeout=300)
        timeout = aiohttp.ClientTimeout(total=spec["request_timeout"])
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
        ) as http:
            db = await psycopg.AsyncConnection.connect(**spec["sms_db"], autocommit=True)
            async with db:
                print("READY", flush=True)
                await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
                r0 = resource.getrusage(resource.RUSAGE_SELF)
                self.t0 = time.monotonic()
                clock = asyncio.create_task(self.clock())
                users = [
                    asyncio.create_task(self.user(http, db, i / spec["ramp_rate"]))
                    for i in range(n)
                ]
                await clock
                # Users waiting for a customer with SMS budget left would wait forever.
                done, waiting = await asyncio.wait(users, timeout=spec["request_timeout"] * 4)
                for task in waiting:
                    task.cancel()
                elapsed = time.monotonic() - self.t0
                r1 = resource.getrusage(resource.RUSAGE_SELF)
        exhausted = sum(1 for c in self.customers if self.uses[c["index"]] >= spec["sms_budget"])
        window = self.window[1] - self.window[0]
        return {
            "connections": n,
            "window_s": round(window, 2),
            "warmup_s": round(self.window[0] - self.t0, 1),
            "elapsed_s": round(elapsed, 1),
            "ramp_s": round((n - 1) / spec["ramp_rate"], 1),
            "completed": self.ok,
            "completed_total": self.completed_total,
            "held": self.held,
            "errors": dict(self.errors.most_common()),
            "errors_outside_window": self.errors_outside,
            "latency_ms": {k: [round(x, 2) for x in v] for k, v in self.latency.items()},
            "sms_lookup_ms_mean": round(1000 * sum(self.sms_s) / len(self.sms_s), 2)
            if self.sms_s
            else None,
            "pool_wait_s": round(self.pool_wait_s, 1),
            "customers_used": sum(1 for c in self.customers if self.uses[c["index"]]),
            "customers_exhausted": exhausted,
            "per_second": [self.per_second.get(s, 0) for s in range(int(elapsed) + 1)],
            "client_cpu_s": round((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), 2),
        }


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    result = asyncio.run(Generator(spec).run())
    Path(sys.argv[2]).write_text(json.dumps(result))
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
