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

# The row and the head's new hash in one statement (one round trip after the head's).
_COLUMNS = ("chain", "seq", "occurred_at", "actor", "action", "target", "result", "ip",
            "device", "details", "prev_hash", "hash")
_APPEND_SQL = (
    "WITH event AS (INSERT INTO audit_auditevent (chain, seq, occurred_at, actor, action, "
    "target, result, ip, device, details, prev_hash, hash) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id), "
    "head AS (UPDATE audit_auditchainhead SET hash = %s WHERE chain = %s) "
    "SELECT id FROM event"
)


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
        event = AuditEvent(**fields, prev_hash=prev_hash, hash=event_hash(fields, prev_hash))
        # The row and the head's new hash together: the head always names the last row.
        cursor.execute(_APPEND_SQL, [
            *(AuditEvent._meta.get_field(name).get_db_prep_save(getattr(event, name),
                                                                connection)
              for name in _COLUMNS), event.hash, chain])
        event.pk = cursor.fetchone()[0]
    event._state.adding, event._state.db = False, connection.alias
    return event

