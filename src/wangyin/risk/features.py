"""What the rules see: the event itself, black/grey list hits, sliding-window counters, the
customer's baseline and their peers', the device and where the IP is (RK-01, RK-05, RK-11).

``features_of`` reads all of it in one SQL statement (``_READ_SQL``: one round trip, no ORM on
the hot path — see bench/risk_evaluate.py); ``record_*`` write, in the caller's business
transaction, so a payment that rolls back is neither counted nor learnt from. Counters are
minute buckets (a day bucket for "paid this account before", kept 400 days), summed over
the window at read time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from psycopg.types.json import Jsonb

from wangyin.risk import geo, lists
from wangyin.risk.models import Counter, ListSubject, PeerBaseline

MINUTE, DAY = 60, 86_400
SHARDS = 8
PAYEE_MEMORY = timedelta(days=400)
WINDOWS = {"10m": timedelta(minutes=10), "1h": timedelta(hours=1), "24h": timedelta(hours=24)}


def params() -> dict[str, int]:
    """The bank's thresholds the rules read as ``params``."""
    return {**settings.RISK_PARAMS, "review_fen": settings.RISK_REVIEW_FEN}


def _bucket(at: datetime, span: int) -> datetime:
    seconds = int(at.timestamp())
    return datetime.fromtimestamp(seconds - seconds % span, tz=at.tzinfo or timezone.utc)


def payee_index(account: str) -> str:
    """The counterparty's key: a blind index of the account number ("" if it has none)."""
    if not account:
        return ""
    try:
        return lists.normalised(ListSubject.ACCOUNT, account)[1][:32]
    except lists.ListValueInvalid:
        return ""


def _keys(event, payee: str | None = None) -> dict[str, str]:
    """The counter keys of ``event`` ("" where it has none); ``payee``: the payee's index
    when the caller has it already."""
    payee = payee_index(event.counterparty) if payee is None else payee
    return {"person": f"p:{event.person_id}" if event.person_id else "",
            "device": f"d:{event.device}" if event.device else "",
            "ip": f"ip:{event.ip}" if event.ip else "",
            "payee": f"cp:{payee}" if payee else "",
            "pair": f"pp:{event.person_id}:{payee}" if payee and event.person_id else "",
            "near": f"nt:{event.person_id}" if event.person_id else "",
            "inflow": f"in:{event.person_id}" if event.person_id else "",
            "failed": f"lf:{event.ip}" if event.ip else ""}


# The counted features, (name, key, window, column): the sum of the column over the key's
# minute buckets after the window's start up to the event ("ever": its day buckets of the
# last PAYEE_MEMORY). ``paid_before`` becomes ``new_payee``.
COUNTED = (
    ("count_10m", "person", "10m", "count"), ("count_1h", "person", "1h", "count"),
    ("count_24h", "person", "24h", "count"), ("sum_24h_fen", "person", "24h", "sum_fen"),
    ("device_count_1h", "device", "1h", "count"), ("ip_count_1h", "ip", "1h", "count"),
    ("payee_count_24h", "payee", "24h", "count"),
    ("near_threshold_24h", "near", "24h", "count"),
    ("inflow_24h_fen", "inflow", "24h", "sum_fen"),
    ("ip_failed_logins_1h", "failed", "1h", "count"),
    ("paid_before", "pair", "ever", "count"))
_SPAN = {**dict.fromkeys(WINDOWS, MINUTE), "ever": DAY}


def _counted_sql(name: str, key: str, window: str, column: str) -> str:
    return (f"coalesce(sum({column}) FILTER (WHERE key = %(key_{key})s AND span = "
            f"{_SPAN[window]} AND bucket > %(since_{window})s), 0) AS {name}")


# Every input of the features in one statement that returns one row: the counted windows
# (added up by PostgreSQL: the rows of a busy key, an IP or a payee, never travel), the
# device's bindings, the customer's profile, the segment's peer baseline and the list hits
# (``lists.HITS_SQL``), and the server's own time on it (for the engine's time budget).
# Aggregates without GROUP BY always give their one row; the joins are on unique keys. A
# constant text with named parameters (``_read``): prepared once per connection (settings:
# server-side binding).
_READ_SQL = (
    "SELECT c.*, d.mine, d.customers, p.payments, p.amount_sum_fen, "  # noqa: S608 - constant
    "p.amount_max_fen, p.hours, p.last_payment_at, p.last_region, p.last_latitude, "
    "p.last_longitude, p.last_located_at, b.amount_mean_fen, b.amount_p95_fen, "
    f"ARRAY({lists.HITS_SQL}), "
    # last, once the rest is computed: how long the server has executed this statement
    "clock_timestamp() - statement_timestamp() "
    f"FROM (SELECT {', '.join(_counted_sql(*counted) for counted in COUNTED)} "
    "FROM risk_counter WHERE key = ANY(%(keys)s::text[]) AND bucket <= %(at)s "
    f"AND ((span = {MINUTE} AND bucket > %(since_24h)s) "
    f"OR (span = {DAY} AND bucket > %(since_ever)s))) c "
    "CROSS JOIN (SELECT min(dv.bound_at) FILTER (WHERE u.person_id = %(person_id)s) AS mine, "
    "count(DISTINCT u.person_id) AS customers FROM identity_device dv "
    "JOIN identity_channeluser u ON u.id = dv.user_id "
    "WHERE dv.device_id = %(device)s AND dv.removed_at IS NULL) d "
    "LEFT JOIN risk_profile p ON p.person_id = %(person_id)s "
    "LEFT JOIN risk_peerbaseline b ON b.segment = %(segment)s")


def _read(event, keys: dict[str, str], listed: dict[str, str]) -> tuple:
    """The row of ``_READ_SQL`` for ``event`` (no key, device or person: NULL, never equal)."""
    at = event.at
    args = {"keys": [key for key in keys.values() if key], "at": at,
            "since_ever": at - PAYEE_MEMORY, "person_id": event.person_id or None,
            "device": event.device or None, "segment": event.segment,
            **{f"key_{name}": key or None for name, key in keys.items()},
            **{f"since_{name}": at - window for name, window in WINDOWS.items()},
            **lists.hits_params(listed, at)}
    with connection.cursor() as cursor:
        cursor.execute(_READ_SQL, args)
        return cursor.fetchone()


@dataclass(frozen=True)
class Observed:
    features: dict  # ``risk.expressions.FEATURES``
    database_s: float  # the database's time executing the read (its clock)


def features_of(event) -> dict:
    """The feature set of ``event`` (``risk.expressions.FEATURES``), read in one statement."""
    return observe(event).features


def observe(event) -> Observed:
    """The features of ``event`` and what reading them cost the database."""
    at, local = event.at, timezone.localtime(event.at)
    listed = lists.wanted(lists.Subjects(
        id_number_index=event.id_number_index, phone_index=event.phone_index,
        account=event.counterparty, device=event.device, ip=event.ip or ""))
    keys = _keys(event, payee=listed.get(ListSubject.ACCOUNT, "")[:32])
    row = _read(event, keys, listed)
    counted = {name: int(value) for (name, *_how), value in zip(COUNTED, row, strict=False)}
    (mine, on_device, payments, amount_sum, amount_max, hours, last_payment_at, last_region,
     last_latitude, last_longitude, last_located_at, peer_mean, peer_p95, hits,
     executing) = row[len(COUNTED):]
    payments = payments or 0  # no profile yet: what a new one holds
    if isinstance(hours, str):
        hours = json.loads(hours)
    hours = hours or [0] * 24
    place = geo.place_of(event.ip)
    distance = minutes = speed = -1
    if place.located and last_located_at is not None:
        distance = int(geo.distance_km(place, geo.Place(last_region, last_latitude,
                                                        last_longitude)))
        minutes = max(int((at - last_located_at).total_seconds() // 60), 0)
        speed = distance * 60 // max(minutes, 1)
    paid_before = counted.pop("paid_before")
    return Observed({
        "kind": event.kind, "channel": event.channel, "segment": event.segment,
        "is_funds": event.kind.startswith("transfer."),
        "to_others": event.kind.startswith("transfer.") and event.kind != "transfer.own",
        "amount_fen": event.amount_fen,
        "hour": local.hour, "is_night": local.hour < 6,
        "list_hits": sorted(set(hits)),
        "params": params(),
        "device_age_hours": max(int((at - mine).total_seconds() // 3600), 0)
        if mine is not None else -1,
        "customers_on_device": on_device,
        "new_payee": bool(keys["pair"]) and paid_before == 0,
        **counted,
        "payments_before": payments, "usual_max_fen": amount_max or 0,
        "usual_mean_fen": amount_sum // payments if payments else 0,
        "hour_share_pct": hours[local.hour] * 100 // payments if payments else 0,
        "peer_mean_fen": peer_mean or 0, "peer_p95_fen": peer_p95 or 0,
        "dormant_days": (at - last_payment_at).days if last_payment_at else 0,
        "region": place.region, "distance_km": distance, "minutes_since_last": minutes,
        "speed_kmh": speed}, executing.total_seconds())


def _bump(rows: list[tuple[str, int, datetime, int, int, int]]) -> None:
    """Add (key, span, bucket, shard, count, sum) to the counters in one statement, in key
    order (concurrent transactions lock the same rows in the same order)."""
    rows = sorted(r for r in rows if r[0])
    if not rows:
        return
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO risk_counter (key, span, bucket, shard, count, sum_fen) "  # noqa: S608
            f"VALUES {values} ON CONFLICT (key, span, bucket, shard) DO UPDATE SET "
            "count = risk_counter.count + EXCLUDED.count, "
            "sum_fen = risk_counter.sum_fen + EXCLUDED.sum_fen", [v for r in rows for v in r])


# The customer's profile learns from an event in one statement: created as ``Profile``
# makes a new one when they have none (the VALUES: what the event makes of a new profile),
# else updated under its row lock — seen at the later of the two times, at the event's place
# when the IP table places it, and, for a payment, one more payment at its amount and local
# hour (``hours`` counts them; an empty list counts as 24 zeros; ``EXCLUDED.amount_sum_fen``
# is the payment's amount).
_LEARN_SQL = (
    "INSERT INTO risk_profile AS p (person_id, segment, payments, amount_sum_fen, "
    "amount_max_fen, hours, first_seen_at, last_active_at, last_payment_at, last_region, "
    "last_latitude, last_longitude, last_located_at) VALUES (%(person_id)s, %(segment)s, "
    "%(payments)s, %(amount)s, %(amount_max)s, %(hours)s, %(at)s, %(at)s, %(paid_at)s, "
    "%(region)s, %(latitude)s, %(longitude)s, %(located_at)s) "
    "ON CONFLICT (person_id) DO UPDATE SET "
    "last_active_at = greatest(p.last_active_at, EXCLUDED.last_active_at), "
    "last_region = CASE WHEN %(located)s THEN EXCLUDED.last_region ELSE p.last_region END, "
    "last_latitude = CASE WHEN %(located)s THEN EXCLUDED.last_latitude "
    "ELSE p.last_latitude END, "
    "last_longitude = CASE WHEN %(located)s THEN EXCLUDED.last_longitude "
    "ELSE p.last_longitude END, "
    "last_located_at = CASE WHEN %(located)s THEN EXCLUDED.last_located_at "
    "ELSE p.last_located_at END{paid}")
_PAID_SQL = (
    ", payments = p.payments + 1, amount_sum_fen = p.amount_sum_fen + EXCLUDED.amount_sum_fen, "
    "amount_max_fen = greatest(p.amount_max_fen, EXCLUDED.amount_sum_fen), "
    "hours = CASE WHEN jsonb_array_length(p.hours) = 0 THEN EXCLUDED.hours "
    "ELSE jsonb_set(p.hours, ARRAY[%(hour)s::int::text], "
    "to_jsonb((p.hours ->> %(hour)s::int)::int + 1)) END, "
    "last_payment_at = EXCLUDED.last_payment_at")
_LEARN_SEEN_SQL, _LEARN_PAID_SQL = _LEARN_SQL.format(paid=""), _LEARN_SQL.format(paid=_PAID_SQL)


def _learn(event, *, paid: bool) -> None:
    place = geo.place_of(event.ip)
    hour, amount = timezone.localtime(event.at).hour, event.amount_fen if paid else 0
    hours = [0] * 24
    if paid:
        hours[hour] = 1
    located = place.located
    with connection.cursor() as cursor:
        cursor.execute(_LEARN_PAID_SQL if paid else _LEARN_SEEN_SQL, {
            "person_id": event.person_id, "segment": event.segment, "payments": int(paid),
            "amount": amount, "amount_max": max(0, amount), "hours": Jsonb(hours),
            "at": event.at, "paid_at": event.at if paid else None, "hour": hour,
            "located": located, "region": place.region if located else "",
            "latitude": place.latitude if located else None,
            "longitude": place.longitude if located else None,
            "located_at": event.at if located else None})


def record_payment(event, *, credited_person_id: int | None = None) -> None:
    """Count a payment that was made (posted, sent or held) — and the payee's inflow when
    they bank here — and learn from it."""
    at, amount, shard = event.at, event.amount_fen, event.person_id % SHARDS
    keys = _keys(event)
    minute, day = _bucket(at, MINUTE), _bucket(at, DAY)
    bank = params()
    near = bank["structuring_floor_fen"] <= amount < bank["review_fen"]
    _bump([(keys["person"], MINUTE, minute, shard, 1, amount),
           (keys["device"], MINUTE, minute, shard, 1, amount),
           (keys["ip"], MINUTE, minute, shard, 1, amount),
           (keys["payee"], MINUTE, minute, shard, 1, amount),
           (keys["pair"], DAY, day, shard, 1, amount),
           *([(keys["near"], MINUTE, minute, shard, 1, amount)] if near else []),
           *([(f"in:{credited_person_id}", MINUTE, minute, credited_person_id % SHARDS, 1,
               amount)] if credited_person_id else [])])
    _learn(event, paid=True)


def record_activity(event) -> None:
    """Remember where and when the customer was last seen (a sign-in)."""
    _learn(event, paid=False)


def record_credit(*, person_id: int, amount_fen: int, at: datetime) -> None:
    """Money the customer received (for "rapid in-and-out")."""
    _bump([(f"in:{person_id}", MINUTE, _bucket(at, MINUTE), person_id % SHARDS, 1,
            amount_fen)])


def record_failed_login(*, ip: str | None, at: datetime) -> None:
    if ip:
        _bump([(f"lf:{ip}", MINUTE, _bucket(at, MINUTE), 0, 1, 0)])


def counters_prune(*, now: datetime) -> int:
    """Forget buckets no window reads any more."""
    deleted, _ = Counter.objects.filter(
        Q(span=MINUTE, bucket__lt=now - WINDOWS["24h"] - timedelta(hours=1))
        | Q(span=DAY, bucket__lt=now - PAYEE_MEMORY - timedelta(days=1))).delete()
    return deleted


def peers_compute(*, now: datetime) -> int:
    """Each segment's peer baseline from the customers' profiles (nightly)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT segment, count(*), coalesce(sum(payments), 0), "
            "coalesce(sum(amount_sum_fen), 0), "
            "coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY amount_max_fen), 0) "
            "FROM risk_profile WHERE payments > 0 GROUP BY segment")
        rows = cursor.fetchall()
    for segment, customers, payments, total, p95 in rows:
        PeerBaseline.objects.update_or_create(segment=segment, defaults={
            "customers": customers, "payments": payments,
            "amount_mean_fen": int(total) // max(int(payments), 1),
            "amount_p95_fen": int(p95), "computed_at": now})
    return len(rows)
