"""Where an IP address is, coarsely, from a local table shipped as data (no call leaves the
bank): ``network,region,latitude,longitude`` rows, the file named by
``settings.RISK_IP_REGIONS`` (default: ``risk/data/ip-regions.csv``). Used for "far-apart
places in a short time" (RK-03) — the distance and speed since the customer's last event."""

from __future__ import annotations

import bisect
import csv
import ipaddress
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings

SHIPPED = Path(__file__).with_name("data") / "ip-regions.csv"
EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Place:
    region: str
    latitude: float | None
    longitude: float | None

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None


UNKNOWN = Place("", None, None)


@dataclass(frozen=True)
class _Table:
    starts: tuple[tuple[int, int], ...]  # (IP version, first address) sorted
    ranges: tuple[tuple[int, int, Place], ...]  # (version, last address, place), same order


def _rows(path: Path):
    lines = (line for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    for number, row in enumerate(csv.DictReader(lines), start=2):
        try:
            network = ipaddress.ip_network(row["network"].strip(), strict=False)
            lat, lon = row["latitude"].strip(), row["longitude"].strip()
            place = Place(row["region"].strip(), float(lat) if lat else None,
                          float(lon) if lon else None)
        except (KeyError, ValueError, AttributeError) as exc:
            raise ValueError(f"{path.name}: row {number}: {exc}") from exc
        yield network, place


@lru_cache(maxsize=4)
def _table(path: str) -> _Table:
    entries = sorted(((n.version, int(n.network_address), int(n.broadcast_address), p)
                      for n, p in _rows(Path(path))), key=lambda e: (e[0], e[1]))
    return _Table(tuple((v, first) for v, first, _last, _p in entries),
                  tuple((v, last, p) for v, _first, last, p in entries))


def table_check(path: Path) -> int:
    """The number of networks in a table file; ``ValueError`` naming the bad row."""
    return sum(1 for _row in _rows(path))


def place_of(ip: str | None) -> Place:
    """The region of ``ip`` (the most specific of the networks starting at or before it that
    contain it), or ``UNKNOWN``."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return UNKNOWN
    table = _table(str(settings.RISK_IP_REGIONS or SHIPPED))
    key, value = (address.version, int(address)), int(address)
    start = bisect.bisect_right(table.starts, key) - 1
    for index in range(start, max(start - 64, -1), -1):  # nested networks are few
        version, last, place = table.ranges[index]
        if version != address.version:
            break
        if value <= last:
            return place
    return UNKNOWN


def distance_km(a: Place, b: Place) -> float:
    """Great-circle distance between two located places."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude,
                                                b.latitude, b.longitude))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))
