"""Writing to the audit log: ``record`` appends one event to its actor's hash chain."""

from __future__ import annotations

import ipaddress
import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from wangyin.audit.chain import GENESIS, event_hash
from wangyin.audit.models import AuditEvent, AuditResult
from wangyin.core import clock
from wangyin.core.masking import mask_details


def chain_for(actor: str) -> int:
    """Events of one actor stay in one chain, so one transaction locks one chain head."""
    return zlib.crc32(actor.encode()) % settings.AUDIT_CHAINS


def _normalise_ip(ip: str | None) -> str | None:
    if not ip:
        return None
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return None


@transaction.atomic(savepoint=False)  # nothing to undo on its own: callers roll back
def record(
    *,
    actor: str,
    action: str,
    target: str = "",
    result: str = AuditResult.SUCCESS,
    ip: str | None = None,
    device: str = "",
    details: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> AuditEvent:
    """Append an event. Details are masked and secrets dropped before anything is stored.

    Call it inside the business transaction, as late as possible: the chain head stays
    locked until that transaction commits.
    """
    if result not in AuditResult.values:
        raise ValueError(f"unknown audit result {result!r}")
    chain = chain_for(actor)
    fields = {
        "chain": chain,
        "occurred_at": (occurred_at or clock.now()),
        "actor": actor[:80],
        "action": action[:80],
        "target": target[:120],
        "result": result,
        "ip": _normalise_ip(ip),
        "device": device[:120],
        "details": mask_details(details or {}),
    }
    with connection.cursor() as cursor:
        # Take the next number of the chain and its head hash in one round trip; the row
        # lock this takes serialises writers of one chain until their transactions end.
        cursor.execute(
            "INSERT INTO audit_auditchainhead AS head (chain, seq, hash) VALUES (%s, 1, %s) "
            "ON CONFLICT (chain) DO UPDATE SET seq = head.seq + 1 RETURNING seq, hash",
            [chain, GENESIS],
        )
        seq, prev_hash = cursor.fetchone()
    fields["seq"] = seq
    digest = event_hash(fields, prev_hash)
    event = AuditEvent.objects.create(**fields, prev_hash=prev_hash, hash=digest)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditchainhead SET hash = %s WHERE chain = %s", [digest, chain]
        )
    return event
