"""The bank directory (CNAPS bank codes, 行号): loaded from a CSV file, looked up when a
customer chooses the payee's bank. The directory is data: ``wangyin banks load FILE``
replaces entries by code and deactivates codes no longer in the file."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from django.conf import settings
from django.db import transaction

from wangyin.payments.models import Bank

DEMO_DIRECTORY = Path(__file__).with_name("data") / "banks-demo.csv"
CODE = re.compile(r"^[0-9]{12}$")


class DirectoryError(ValueError):
    """A line of the directory file that cannot be loaded (the whole load is refused)."""


def _rows(text: str):
    kept = [(number, line) for number, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(line for _n, line in kept)))
    if reader.fieldnames is None or not {"code", "name", "bank_name"} <= set(reader.fieldnames):
        raise DirectoryError("the header must name the columns code,name,bank_name[,city]")
    for index, row in enumerate(reader, start=1):
        number = kept[index][0]  # the line in the file, comments counted
        code = (row.get("code") or "").strip()
        name, bank_name = (row.get("name") or "").strip(), (row.get("bank_name") or "").strip()
        if not CODE.match(code):
            raise DirectoryError(f"line {number}: a bank code has 12 digits ({code!r})")
        if not name or not bank_name or len(name) > 120 or len(bank_name) > 60:
            raise DirectoryError(f"line {number}: name and bank name are required")
        yield code, name, bank_name, (row.get("city") or "").strip()[:30]


@transaction.atomic
def banks_load(path: Path | str = DEMO_DIRECTORY) -> dict[str, int]:
    """Load a directory file; all or nothing. Returns counts of added, updated and
    deactivated entries."""
    rows = {code: (name, bank, city) for code, name, bank, city in
            _rows(Path(path).read_text(encoding="utf-8-sig"))}
    counts = {"added": 0, "updated": 0, "deactivated": 0}
    existing = {b.code: b for b in Bank.objects.all()}
    for code, (name, bank_name, city) in rows.items():
        bank = existing.get(code)
        if bank is None:
            Bank.objects.create(code=code, name=name, bank_name=bank_name, city=city)
            counts["added"] += 1
        elif (bank.name, bank.bank_name, bank.city, bank.active) != (name, bank_name, city,
                                                                    True):
            bank.name, bank.bank_name, bank.city, bank.active = name, bank_name, city, True
            bank.save(update_fields=["name", "bank_name", "city", "active"])
            counts["updated"] += 1
    counts["deactivated"] = (Bank.objects.filter(active=True).exclude(code__in=list(rows))
                             .update(active=False))
    return counts


def bank_by_code(code: str) -> Bank | None:
    return Bank.objects.filter(code=code, active=True).first() if CODE.match(code) else None


def is_this_bank(code: str) -> bool:
    return not code or code == settings.BANK_CNAPS_CODE


def banks_for_choice(limit: int = 500) -> list[Bank]:
    """The other banks' active entries for the payee-bank list (this bank is the form's
    default choice)."""
    return list(Bank.objects.filter(active=True).exclude(code=settings.BANK_CNAPS_CODE)
                .order_by("bank_name", "name")[:limit])
