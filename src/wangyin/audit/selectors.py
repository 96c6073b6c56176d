"""Reading the audit log, including the integrity check behind ``wangyin audit verify``."""

from __future__ import annotations

from dataclasses import dataclass, field

from wangyin.audit.chain import GENESIS, event_hash
from wangyin.audit.models import AuditChainHead, AuditEvent

_FIELDS = ("chain", "seq", "occurred_at", "actor", "action", "target", "result", "ip",
           "device", "details")


@dataclass
class AuditReport:
    chains: int = 0
    events: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def audit_verify(*, batch_size: int = 5000) -> AuditReport:
    """Walk every chain in sequence order and name each row that was altered, removed or
    reordered, and every chain whose head does not match its last row."""
    report = AuditReport()
    heads = {h.chain: h for h in AuditChainHead.objects.all()}
    chains = set(heads) | set(AuditEvent.objects.values_list("chain", flat=True).distinct())
    for chain in sorted(chains):
        report.chains += 1
        expected_seq, prev_hash = 1, GENESIS
        rows = (
            AuditEvent.objects.filter(chain=chain)
            .order_by("seq")
            .values("id", "prev_hash", "hash", *_FIELDS)
            .iterator(chunk_size=batch_size)
        )
        for row in rows:
            report.events += 1
            where = f"chain {chain} row id={row['id']} seq={row['seq']}"
            if row["seq"] != expected_seq:
                report.problems.append(
                    f"{where}: expected seq {expected_seq} — rows removed or reordered"
                )
            if row["prev_hash"] != prev_hash:
                report.problems.append(
                    f"{where}: does not link to the previous row — a row before it was "
                    "removed, inserted or reordered"
                )
            if event_hash(row, row["prev_hash"]) != row["hash"]:
                report.problems.append(f"{where}: content was altered (hash mismatch)")
            expected_seq, prev_hash = row["seq"] + 1, row["hash"]
        head = heads.get(chain)
        last_seq = expected_seq - 1
        if head is None:
            report.problems.append(f"chain {chain}: head record missing")
        elif head.seq != last_seq or head.hash != prev_hash:
            report.problems.append(
                f"chain {chain}: head says seq {head.seq}, log ends at seq {last_seq} — "
                "rows at the end were removed or the head was altered"
            )
    return report


def audit_events(*, actor: str = "", action: str = "", target: str = "", since=None,
                 until=None, before_id: int | None = None, limit: int = 50):
    """The newest events first, filtered; keyset paging on the id (``before_id``). Returns
    (events, id to continue before or None)."""
    events = AuditEvent.objects.order_by("-id")
    if actor:
        events = events.filter(actor=actor)
    if action:
        events = events.filter(action__startswith=action)
    if target:
        events = events.filter(target=target)
    if since:
        events = events.filter(occurred_at__gte=since)
    if until:
        events = events.filter(occurred_at__lt=until)
    if before_id:
        events = events.filter(id__lt=before_id)
    page = list(events[:limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].id if more else None)
