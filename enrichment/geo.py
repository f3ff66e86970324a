"""GeoIP lookup of a client address in a MaxMind GeoIP2 / GeoLite2 database.

The reader is opened once per process (:func:`open_geo_reader`) and passed in; with no database
configured there is simply no geo block. Lookups use the full address in memory, before it is
anonymised, because a /24 can straddle cities.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import geoip2.database
import geoip2.errors
import maxminddb


class GeoReader(Protocol):
    """What we need of ``geoip2.database.Reader`` (tests may pass a stand-in)."""

    def city(self, ip_address: str) -> Any: ...

    def country(self, ip_address: str) -> Any: ...

    def metadata(self) -> Any: ...


def open_geo_reader(path: Path | str | None) -> geoip2.database.Reader | None:
    """A memory-mapped reader for ``path``; None when no database is configured.

    A configured path that cannot be opened is an operator error and raises (``OSError`` or
    ``maxminddb.InvalidDatabaseError``) at startup rather than silently dropping geo.
    """
    if path is None or str(path) == "":
        return None
    return geoip2.database.Reader(str(path), mode=maxminddb.MODE_MMAP)


def geo_block(ip: str | None, reader: GeoReader | None) -> dict[str, Any] | None:
    """The contract's ``enrichment.geo`` block for ``ip``; None if unknown or no database.

    City databases give country, region (most specific subdivision), city and location;
    Country databases give the country only.
    """
    if reader is None or not ip:
        return None
    block = _lookup(ip, reader)
    return dict(block) if block is not None else None


@lru_cache(maxsize=4096)  # every event of a request shares the IP: one lookup per request
def _lookup(ip: str, reader: GeoReader) -> tuple[tuple[str, Any], ...] | None:
    try:
        if "City" in reader.metadata().database_type:
            record = reader.city(ip)
        else:
            record = reader.country(ip)
    except (geoip2.errors.AddressNotFoundError, ValueError):
        return None
    block: dict[str, Any] = {
        "country_code": record.country.iso_code,
        "country": _text(record.country.name),
    }
    if hasattr(record, "city"):
        block["region"] = _text(record.subdivisions.most_specific.name)
        block["city"] = _text(record.city.name)
        block["latitude"] = record.location.latitude
        block["longitude"] = record.location.longitude
    items = tuple((key, value) for key, value in block.items() if value is not None)
    return items or None


def _text(value: str | None) -> str | None:
    return value[:64] if value else None
