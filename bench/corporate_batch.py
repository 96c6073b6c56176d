"""Batch payments at scale (issue #7, FC-04: "10 000 rows must import and execute without
timeouts"): a payroll file of ``--rows`` rows uploaded, submitted, authorised and paid by
the execution code path, in-process against a fresh test-style database, with the
database's own costs measured in the same run as the baseline.

    make bench-batch              # or: .venv/bin/python bench/corporate_batch.py --help

1. a fresh database (``--db``) on the embedded PostgreSQL of ``WANGYIN_PGDATA`` (default
   var/pgdata-test-batch) or ``DATABASE_URL``'s server, migrated; a company with internet
   banking (standard edition, one authorisation for any amount), an entering and an
   authorising operator (a software USB-Key), ``--payees`` customers of this bank with a
   Class I account each, the bank directory loaded;
2. the file: ``--rows`` rows, a payee at this bank (``--interbank`` of them another
   bank's account), amounts of 3,000-20,000 yuan;
3. baselines: ``--rows`` plain single-row INSERTs of a row's columns into a temporary
   table in one transaction (what storing the rows costs the database at least), and
   ``--single`` payments made one by one through ``payments.company_transfer_execute``,
   each in its own transaction (what one row's payment costs without the batch);
4. timed, ``--repeat`` times, each a new batch: upload (parse, check, store), submit,
   approval (challenge, the key's signature, verify, approve — each recomputes the
   canonical data over the rows), and execution as the worker runs it: runs of
   ``corporate.batches.CHUNK`` rows (``batch_execute``) until the batch is EXECUTED;
5. it prints the medians, the longest run (a job's length: what must stay under any
   timeout) and the ratios to the baselines; ``var/bench-batch.json``. The database is
   dropped at the end (``--keep`` keeps it). Not a test: pytest never collects it.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time a 10,000-row corporate batch payment end to end.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--payees", type=int, default=200, help="payee customers at this bank")
    p.add_argument("--interbank", type=float, default=0.1, help="share of other-bank rows")
    p.add_argument("--single", type=int, default=300, help="single payments (baseline)")
    p.add_argument("--repeat", type=int, default=2, help="batches timed end to end")
    p.add_argument("--db", default="wangyin_bench_batch")
    p.add_argument("--keep", action="store_true", help="keep the database")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--output", type=Path, default=REPO / "var" / "bench-batch.json")
    return p.parse_args(argv)


def log(msg: str) -> None:
    print(msg, flush=True)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3) if values else float("nan")


def django_setup(db: str) -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangyin.settings")
    os.environ.setdefault("WANGYIN_PGDATA", str(REPO / "var" / "pgdata-test-batch"))
    import django
    from django.conf import settings

    django.setup()
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = db
    from django.db import connection

    original = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    return original


# --- the world --------------------------------------------------------------------------------


def _check(first17: str) -> str:
    from wangyin.customers.validation import resident_id_check_digit

    return first17 + resident_id_check_digit(first17)


def _uscc(first17: str) -> str:
    from wangyin.customers.validation import uscc_check_digit

    return first17 + uscc_check_digit(first17)


class World:
    """The company, its operators and the payees, made through the domain services."""

    PIN = "135790"

    def __init__(self, args: argparse.Namespace, now: datetime) -> None:
        from django.contrib.auth.hashers import make_password

        from wangyin.core.money import Money
        from wangyin.corporate.models import (
            ApprovalPolicy,
            ApprovalTier,
            CorporateService,
            Operator,
            OperatorScope,
            ServiceAccount,
        )
        from wangyin.customers import services as customers
        from wangyin.ledger import services as ledger
        from wangyin.payments import directory

        self.now = now
        directory.banks_load()
        vault = ledger.account_open(
            number="BENCHVAULT01",
            name="cash",
            kind="GL",
            normal_side="DEBIT",
            overdraft_limit=None,
            currency="CNY",
            actor="staff:bench",
            opened_at=now,
        )
        self.company = customers.company_create(
            name="赣州批量代发示范有限公司",
            uscc=_uscc("91360702MA35R8LX1"),
            legal_rep_name="刘强",
            legal_rep_id_type="RESIDENT_ID",
            legal_rep_id_number=_check("36070219850312201"),
            contact_name="陈静",
            contact_phone="18907970009",
            actor="staff:bench",
            created_at=now,
        )
        self.basic = customers.corporate_account_open(
            company_id=self.company.pk,
            product="CORPORATE_BASIC",
            actor="staff:bench",
            opened_at=now,
        )
        ledger.journal_post(
            idempotency_key="bench-fund",
            type="DEPOSIT",
            actor="staff:bench",
            posted_at=now,
            lines=[
                ledger.debit(vault.pk, Money(10**13)),
                ledger.credit(self.basic.ledger_account_id, Money(10**13)),
            ],
        )
        self.service = CorporateService.objects.create(
            company=self.company,
            number="1000000001",
            edition="STANDARD",
            opened_at=now,
            opened_by="staff:bench",
        )
        ServiceAccount.objects.create(
            service=self.service, account=self.basic, linked_at=now, linked_by="staff:bench"
        )
        policy = ApprovalPolicy.objects.create(
            service=self.service, version=1, status="LIVE", created_at=now, created_by="staff:bench"
        )
        ApprovalTier.objects.create(policy=policy, checkers=0, authorisers=1)

        def operator(n: int, code: str, role: str) -> Operator:
            person = customers.person_create(
                name=f"操作员{n}",
                id_type="RESIDENT_ID",
                id_number=_check(f"36070219900101{n:03d}"),
                birth_date=date(1990, 1, 1),
                phone=f"1390797{n:04d}",
                actor="staff:bench",
                created_at=now,
            )
            found = Operator.objects.create(
                service=self.service,
                person=person,
                code=code,
                roles=[role],
                password=make_password("Bench!pass1"),
                must_change_password=False,
                password_changed_at=now,
                created_at=now,
                created_by="staff:bench",
            )
            OperatorScope.objects.create(operator=found, account=self.basic)
            return found

        self.enterer = operator(2, "enter01", "ENTER")
        self.authoriser = operator(4, "auth01", "AUTHORISE")
        self.key = self._key(self.authoriser)
        self.payees = []
        for n in range(args.payees):
            person = customers.person_create(
                name=f"员工{n:04d}",
                id_type="PASSPORT",
                id_number=f"E{n:08d}",
                birth_date=date(1985, 3, 12),
                phone=f"1360797{n:04d}",
                actor="staff:bench",
                created_at=now,
            )
            account = customers.personal_account_open(
                person_id=person.pk,
                product="PERSONAL_I",
                face_to_face=True,
                actor="staff:bench",
                opened_at=now,
            )
            self.payees.append((person.name, account.number))
        from django.conf import settings

        from wangyin.payments.models import Bank

        self.other_bank = (
            Bank.objects.exclude(code=settings.BANK_CNAPS_CODE).order_by("code").first().code
        )

    def _key(self, operator):
        import re

        from wangyin.authn import certificates
        from wangyin.notify.models import SmsMessage
        from wangyin_sdk.usbkey import SoftUsbKey

        device = SoftUsbKey("UK70000001", self.PIN, confirm=lambda text: True)
        company_id = operator.service.company_id
        _key, reference = certificates.usb_key_bind(
            person_id=operator.person_id,
            serial="UK70000001",
            staff="staff:bench",
            at=self.now,
            company_id=company_id,
        )
        body = SmsMessage.objects.filter(purpose="authn.cert_code").latest("id").body
        code = re.search(r"授权码 (\d{8})", body).group(1)
        certificate = certificates.usb_key_enrol(
            person=operator.person,
            reference_code=reference,
            authorisation_code=code,
            request_der=device.signing_request(self.PIN),
            at=self.now,
            company_id=company_id,
        )
        device.install(bytes(certificate.der))
        return device

    def file(self, rows: int, interbank: float, rng: random.Random) -> tuple[bytes, list]:
        lines, parsed = ["收款人户名,收款账号,收款行行号,金额,用途"], []
        for n in range(rows):
            yuan = f"{rng.randint(3000, 20000)}.{rng.randint(0, 99):02d}"
            if rng.random() < interbank:
                account, name, bank = f"62280000{n:08d}", f"外行员工{n:05d}", self.other_bank
            else:
                name, account = rng.choice(self.payees)
                bank = ""
            lines.append(f"{name},{account},{bank},{yuan},工资")
            parsed.append((n + 2, account, name, bank, yuan))
        return ("\r\n".join(lines) + "\r\n").encode(), parsed


# --- the baselines ----------------------------------------------------------------------------


def insert_baseline(parsed: list) -> float:
    """Seconds for one single-row INSERT per row into a temporary table, one transaction."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_rows (line int, account text, name text, "
            "bank text, amount_fen bigint, status text) ON COMMIT DROP"
        )
        started = time.perf_counter()
        for line, account, name, bank, yuan in parsed:
            cursor.execute(
                "INSERT INTO bench_rows VALUES (%s, %s, %s, %s, %s, %s)",
                [line, account, name, bank, int(float(yuan) * 100), "VALID"],
            )
        return time.perf_counter() - started


def single_baseline(world: World, count: int, rng: random.Random) -> list[float]:
    """Milliseconds of each payment made alone through ``company_transfer_execute``."""
    from django.db import transaction

    from wangyin.payments import services as payments
    from wangyin.risk import services as risk

    event = risk.Event(
        kind="transfer.same_bank",
        person_id=world.enterer.person_id,
        channel="web",
        device="",
        ip=None,
        at=world.now,
        segment="corporate",
    )
    times = []
    for n in range(count):
        name, account = rng.choice(world.payees)
        order = payments.CompanyOrder(
            company_id=world.company.pk,
            debit_account_id=world.basic.pk,
            payee_account=account,
            payee_name=name,
            amount_fen=rng.randint(300_000, 2_000_000),
            purpose="工资",
            idempotency_key=f"bench-single:{n}",
            digest="0" * 64,
            risk_event=event,
            risk_decision=risk.Decision(risk.ALLOW),
        )
        started = time.perf_counter()
        with transaction.atomic():
            payments.company_transfer_execute(order=order, at=world.now)
        times.append((time.perf_counter() - started) * 1000)
    return times


# --- one batch --------------------------------------------------------------------------------


def one_batch(world: World, data: bytes, n: int) -> dict:
    from wangyin.corporate import approvals, batches, holds
    from wangyin.corporate.models import InstructionStatus
    from wangyin.corporate.models.batches import Batch, RowStatus

    now = world.now
    started = time.perf_counter()
    instruction = batches.batch_upload(
        world.enterer,
        debit_account_id=world.basic.pk,
        purpose="代发工资",
        filename="payroll.csv",
        data=data,
        idempotency_key=f"bench-batch-{n}",
        at=now,
    )
    upload_s = time.perf_counter() - started

    started = time.perf_counter()
    batches.batch_submit(world.enterer, instruction.pk, now)
    submit_s = time.perf_counter() - started

    started = time.perf_counter()
    challenge = approvals.approval_challenge(world.authoriser, instruction.pk, now)
    signature = base64.b64encode(world.key.sign(challenge.sign_payload, World.PIN)).decode()
    approvals.approval_verify(world.authoriser, instruction.pk, challenge.pk, signature, now)
    approvals.approve(world.authoriser, instruction.pk, challenge.pk, now)
    approval_s = time.perf_counter() - started

    runs, held_s = [], 0.0
    started = time.perf_counter()
    while True:
        run_started = time.perf_counter()
        done = batches.batch_execute(instruction.pk, now, limit=batches.CHUNK)
        runs.append(time.perf_counter() - run_started)
        if done.status == InstructionStatus.HELD:
            # Risk control asked for a review of the payroll's total (a new company's
            # first batch of millions): the risk desk releases it, as it would (untimed).
            release_started = time.perf_counter()
            holds.held_release(
                instruction_id=instruction.pk, staff="staff:bench", reason="bench payroll", at=now
            )
            held_s += time.perf_counter() - release_started
            continue
        if done.status != InstructionStatus.AUTHORISED:
            break
    execute_s = time.perf_counter() - started - held_s
    batch = Batch.objects.get(instruction=instruction)
    assert done.status == InstructionStatus.EXECUTED, done.status
    assert batch.paid_count == batch.rows_count, (batch.paid_count, batch.rows_count)
    assert not batch.rows.exclude(status=RowStatus.PAID).exists()
    return {
        "rows": batch.rows_count,
        "upload_s": upload_s,
        "submit_s": submit_s,
        "approval_s": approval_s,
        "execute_s": execute_s,
        "runs": len(runs),
        "held_for_review": held_s > 0,
        "longest_run_s": max(runs),
        "run_median_s": statistics.median(runs),
        "per_row_ms": execute_s * 1000 / batch.rows_count,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    log(f"[setup] database {args.db}")
    original = django_setup(args.db)
    from django.db import connection

    from wangyin.corporate import batches
    from wangyin.ledger.selectors import ledger_verify

    try:
        now = datetime.now(UTC).replace(microsecond=0)  # the CA root is made at real time
        started = time.perf_counter()
        world = World(args, now)
        data, parsed = world.file(args.rows, args.interbank, rng)
        log(
            f"[setup] {args.payees} payees, file of {args.rows} rows ({len(data)} bytes) in "
            f"{time.perf_counter() - started:.1f} s"
        )

        insert_s = [insert_baseline(parsed) for _ in range(3)]
        log(f"[baseline] {args.rows} plain INSERTs: median {median(insert_s):.3f} s")
        single_ms = single_baseline(world, args.single, rng)
        log(
            f"[baseline] {args.single} single payments: median {median(single_ms):.2f} ms, "
            f"p90 {sorted(single_ms)[int(len(single_ms) * 0.9)]:.2f} ms"
        )

        results = []
        for n in range(args.repeat):
            result = one_batch(world, data, n)
            results.append(result)
            log(
                f"[batch {n + 1}] upload {result['upload_s']:.2f} s, submit "
                f"{result['submit_s']:.2f} s, approval {result['approval_s']:.2f} s, "
                f"execution {result['execute_s']:.1f} s in {result['runs']} runs of "
                f"{batches.CHUNK} (longest {result['longest_run_s']:.1f} s), "
                f"{result['per_row_ms']:.2f} ms a row"
            )
        ok = ledger_verify().ok
        summary = {
            "rows": args.rows,
            "payees": args.payees,
            "interbank": args.interbank,
            "chunk": batches.CHUNK,
            "repeat": args.repeat,
            "insert_baseline_s": median(insert_s),
            "single_payment_ms": median(single_ms),
            "upload_s": median([r["upload_s"] for r in results]),
            "submit_s": median([r["submit_s"] for r in results]),
            "approval_s": median([r["approval_s"] for r in results]),
            "execute_s": median([r["execute_s"] for r in results]),
            "longest_run_s": max(r["longest_run_s"] for r in results),
            "per_row_ms": median([r["per_row_ms"] for r in results]),
            "ledger_verify": ok,
            "server": connection.pg_version,
        }
        summary["upload_vs_inserts"] = round(summary["upload_s"] / summary["insert_baseline_s"], 2)
        summary["row_vs_single_payment"] = round(
            summary["per_row_ms"] / summary["single_payment_ms"], 2
        )
        log("[result] " + json.dumps(summary, ensure_ascii=False))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(
            json.dumps({"summary": summary, "batches": results}, indent=1, ensure_ascii=False)
        )
        return 0 if ok else 1
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(original, verbosity=0)


if __name__ == "__main__":
    raise SystemExit(main())
