"""How an audit row is hashed: SM3 over the previous hash and the row's canonical JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes

GENESIS = "0" * 64


def canonical(fields: dict[str, Any]) -> bytes:
    occurred_at: datetime = fields["occurred_at"]
    body = [
        fields["chain"],
        fields["seq"],
        occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        fields["actor"],
        fields["action"],
        fields["target"],
        fields["result"],
        fields["ip"] or "",
        fields["device"],
        fields["details"],
    ]
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def event_hash(fields: dict[str, Any], prev_hash: str) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(prev_hash.encode())
    digest.update(canonical(fields))
    return digest.finalize().hex()
