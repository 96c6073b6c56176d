"""What the rules see: the event itself, black/grey list hits, sliding-window counters, the
customer's baseline and their peers', the device and where the IP is (RK-01, RK-05, RK-11).

``features_of`` reads (a few indexed queries; the hot ones as plain SQL — see
bench/risk_evaluate.py); ``record_*`` write, in the caller's business
transaction, so a payment that rolls back is neither counted nor learnt from. Counters are
minute buckets (a day bucket for "paid this account before", kept 400 days), summed over
the window at read time."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from wangyin.risk import geo, lists
from wangyin.risk.models import Counter, ListSubject, PeerBaseline, Profile

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


def _keys(event) -> dict[str, str]:
    payee = payee_index(event.counterparty)
    return {"person": f"p:{event.person_id}" if event.person_id else "",
            "device": f"d:{event.device}" if event.device else "",
            "ip": f"ip:{event.ip}" if event.ip else "",
            "payee": f"cp:{payee}" if payee else "",
            "pair": f"pp:{event.person_id}:{payee}" if payee and event.person_id else "",
            "near": f"nt:{event.person_id}" if event.person_id else "",
            "inflow": f"in:{event.person_id}" if event.person_id else "",
            "failed": f"lf:{event.ip}" if event.ip else ""}


# Each window's count and sum per key, added up by PostgreSQL (one row per key): the rows
# of a busy key (an IP, a payee) never travel, and no ORM query is built on the hot path.
_WINDOW_SUMS = ", ".join(
    "coalesce(sum(count) FILTER (WHERE span = %s AND bucket > %s), 0), "
    "coalesce(sum(sum_fen) FILTER (WHERE span = %s AND bucket > %s), 0)" for _name in WINDOWS)
_WINDOWS_SQL = (
    f"SELECT key, {_WINDOW_SUMS}, "  # noqa: S608 - placeholders only
    "coalesce(sum(count) FILTER (WHERE span = %s), 0), "
    "coalesce(sum(sum_fen) FILTER (WHERE span = %s), 0) FROM risk_counter "
    "WHERE key = ANY(%s) AND bucket <= %s "
    "AND ((span = %s AND bucket > %s) OR (span = %s AND bucket > %s)) GROUP BY key")


def _windows(keys: list[str], at: datetime) -> dict[str, dict[str, list[int]]]:
    """{key: {window: [count, sum]}} over the minute buckets; "ever" over the day buckets."""
    keys = [k for k in keys if k]
    names = (*WINDOWS, "ever")
    found: dict[str, dict[str, list[int]]] = defaultdict(
        lambda: {name: [0, 0] for name in names})
    if not keys:
        return found
    args = [v for window in WINDOWS.values() for v in (MINUTE, at - window, MINUTE, at - window)]
    args += [DAY, DAY, keys, at, MINUTE, at - WINDOWS["24h"], DAY, at - PAYEE_MEMORY]
    with connection.cursor() as cursor:
        cursor.execute(_WINDOWS_SQL, args)
        for key, *sums in cursor.fetchall():
            found[key] = {name: [int(sums[2 * i]), int(sums[2 * i + 1])]
                          for i, name in enumerate(names)}
    return found


def _bump(rows: list[tuple[str, int, datetime, int, int]], shard: int) -> None:
    """Add (key, span, bucket, count, sum) to the counters in one statement, in key order
    (concurrent transactions lock the same rows in the same order)."""
    rows = sorted(r for r in rows if r[0])
    if not rows:
        return
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
    params = [v for key, span, bucket, count, total in rows
              for v in (key, span, bucket, shard, count, total)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO risk_counter (key, span, bucket, shard, count, sum_fen) "  # noqa: S608
            f"VALUES {values} ON CONFLICT (key, span, bucket, shard) DO UPDATE SET "
            "count = risk_counter.count + EXCLUDED.count, "
            "sum_fen = risk_counter.sum_fen + EXCLUDED.sum_fen", params)


def _device(event) -> tuple[int, int]:
    """(hours since this device was bound for the customer or -1, customers bound on it)."""
    if not event.device:
        return -1, 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT u.person_id, d.bound_at FROM identity_device d JOIN identity_channeluser u "
            "ON u.id = d.user_id WHERE d.device_id = %s AND d.removed_at IS NULL",
            [event.device])
        bound = cursor.fetchall()
    mine = [at for person, at in bound if person == event.person_id]
    age = max(int((event.at - min(mine)).total_seconds() // 3600), 0) if mine else -1
    return age, len({person for person, _at in bound})


def _peer(segment: str) -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT amount_mean_fen, amount_p95_fen FROM risk_peerbaseline "
                       "WHERE segment = %s", [segment])  # unique
        peer = cursor.fetchone()
    return peer or (0, 0)


def features_of(event) -> dict:
    """The feature set of ``event`` (``risk.expressions.FEATURES``)."""
    local = timezone.localtime(event.at)
    keys = _keys(event)
    counts = _windows(list(keys.values()), event.at)
    person, device, ip = counts[keys["person"]], counts[keys["device"]], counts[keys["ip"]]
    profile = (Profile.objects.filter(person_id=event.person_id).first()
               if event.person_id else None) or Profile()
    device_age, on_device = _device(event)
    peer_mean, peer_p95 = _peer(event.segment)
    place = geo.place_of(event.ip)
    distance = minutes = speed = -1
    if place.located and profile.last_located_at is not None:
        distance = int(geo.distance_km(place, geo.Place(profile.last_region,
                                                        profile.last_latitude,
                                                        profile.last_longitude)))
        minutes = max(int((event.at - profile.last_located_at).total_seconds() // 60), 0)
        speed = distance * 60 // max(minutes, 1)
    hours = profile.hours or [0] * 24
    return {
        "kind": event.kind, "channel": event.channel, "segment": event.segment,
        "is_funds": event.kind.startswith("transfer."),
        "to_others": event.kind.startswith("transfer.") and event.kind != "transfer.own",
        "amount_fen": event.amount_fen,
        "hour": local.hour, "is_night": local.hour < 6,
        "list_hits": lists.hits(lists.Subjects(
            id_number_index=event.id_number_index, phone_index=event.phone_index,
            account=event.counterparty, device=event.device, ip=event.ip or ""), event.at),
        "params": params(),
        "device_age_hours": device_age, "customers_on_device": on_device,
        "new_payee": bool(keys["pair"]) and counts[keys["pair"]]["ever"][0] == 0,
        "count_10m": person["10m"][0], "count_1h": person["1h"][0],
        "count_24h": person["24h"][0], "sum_24h_fen": person["24h"][1],
        "device_count_1h": device["1h"][0], "ip_count_1h": ip["1h"][0],
        "payee_count_24h": counts[keys["payee"]]["24h"][0],
        "near_threshold_24h": counts[keys["near"]]["24h"][0],
        "inflow_24h_fen": counts[keys["inflow"]]["24h"][1],
        "ip_failed_logins_1h": counts[keys["failed"]]["1h"][0],
        "payments_before": profile.payments, "usual_max_fen": profile.amount_max_fen,
        "usual_mean_fen": profile.amount_sum_fen // profile.payments if profile.payments else 0,
        "hour_share_pct": hours[local.hour] * 100 // profile.payments if profile.payments else 0,
        "peer_mean_fen": peer_mean, "peer_p95_fen": peer_p95,
        "dormant_days": (event.at - profile.last_payment_at).days
        if profile.last_payment_at else 0,
        "region": place.region, "distance_km": distance, "minutes_since_last": minutes,
        "speed_kmh": speed}


def _profile(event) -> Profile:
    profile, _created = Profile.objects.select_for_update().get_or_create(
        person_id=event.person_id, defaults={"segment": event.segment, "hours": [0] * 24,
                                             "first_seen_at": event.at})
    return profile


def _seen(profile: Profile, event) -> list[str]:
    profile.last_active_at = max(filter(None, (profile.last_active_at, event.at)))
    place = geo.place_of(event.ip)
    if place.located:
        profile.last_region, profile.last_located_at = place.region, event.at
        profile.last_latitude, profile.last_longitude = place.latitude, place.longitude
    return ["last_active_at", "last_region", "last_latitude", "last_longitude",
            "last_located_at"]


def record_payment(event) -> None:
    """Count a payment that was made (posted, sent or held) and learn from it."""
    at, amount, shard = event.at, event.amount_fen, event.person_id % SHARDS
    keys = _keys(event)
    minute, day = _bucket(at, MINUTE), _bucket(at, DAY)
    bank = params()
    near = bank["structuring_floor_fen"] <= amount < bank["review_fen"]
    _bump([(keys["person"], MINUTE, minute, 1, amount),
           (keys["device"], MINUTE, minute, 1, amount),
           (keys["ip"], MINUTE, minute, 1, amount),
           (keys["payee"], MINUTE, minute, 1, amount),
           (keys["pair"], DAY, day, 1, amount),
           *([(keys["near"], MINUTE, minute, 1, amount)] if near else [])], shard)
    profile = _profile(event)
    profile.payments += 1
    profile.amount_sum_fen += amount
    profile.amount_max_fen = max(profile.amount_max_fen, amount)
    hours = profile.hours or [0] * 24
    hours[timezone.localtime(at).hour] += 1
    profile.hours, profile.last_payment_at = hours, at
    profile.save(update_fields=["payments", "amount_sum_fen", "amount_max_fen", "hours",
                                "last_payment_at", *_seen(profile, event)])


def record_activity(event) -> None:
    """Remember where and when the customer was last seen (a sign-in)."""
    profile = _profile(event)
    profile.save(update_fields=_seen(profile, event))


def record_credit(*, person_id: int, amount_fen: int, at: datetime) -> None:
    """Money the customer received (for "rapid in-and-out")."""
    _bump([(f"in:{person_id}", MINUTE, _bucket(at, MINUTE), 1, amount_fen)],
          person_id % SHARDS)


def record_failed_login(*, ip: str | None, at: datetime) -> None:
    if ip:
        _bump([(f"lf:{ip}", MINUTE, _bucket(at, MINUTE), 1, 0)], 0)


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
