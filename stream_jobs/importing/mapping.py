"""How the columns of an orders CSV map onto orders: the one place that knows a file's layout.

The default is the layout of the UCI "Online Retail" file (``InvoiceNo, StockCode, Description,
Quantity, InvoiceDate, UnitPrice, CustomerID, Country``); another shop's export needs a small
TOML file naming its columns (docs/dashboard.md#importing-order-history).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the key."""


@dataclass(frozen=True)
class OrderMapping:
    """Column names (``None`` = the file has no such column) and how to read their values."""

    invoice: str = "InvoiceNo"
    sku: str = "StockCode"
    quantity: str = "Quantity"
    date: str = "InvoiceDate"
    price: str = "UnitPrice"
    description: str | None = "Description"
    customer: str | None = "CustomerID"
    country: str | None = "Country"
    category: str | None = None
    date_format: str = "%Y-%m-%d %H:%M:%S"
    timezone: str = "Europe/London"  # the zone the dates are written in
    currency: str = "GBP"
    cancellation_prefix: str = "C"  # an invoice starting with it is a cancellation (refund)
    delimiter: str = ","

    def columns(self) -> dict[str, str]:
        """Mapped role -> column name, for the columns the file must have."""
        roles = ("invoice", "sku", "quantity", "date", "price", "description", "customer",
                 "country", "category")
        return {r: getattr(self, r) for r in roles if getattr(self, r) is not None}

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def fingerprint(self) -> str:
        """A stable text of every setting: the same file read another way is another import."""
        return repr(sorted(dataclasses.asdict(self).items()))


ONLINE_RETAIL = OrderMapping()


def load_mapping(path: Path | None) -> OrderMapping:
    """The mapping in TOML file ``path`` (keys as :class:`OrderMapping`'s fields; missing keys
    keep the Online Retail defaults; ``""`` means the file has no such column)."""
    if path is None:
        return ONLINE_RETAIL
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"{path}: cannot read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not TOML ({exc})") from exc
    known = {f.name for f in dataclasses.fields(OrderMapping)}
    optional = {"description", "customer", "country", "category"}
    values: dict[str, str | None] = {}
    for key, value in raw.items():
        if key not in known:
            raise MappingError(f"{path}: unknown key {key!r}; known: {', '.join(sorted(known))}")
        if not isinstance(value, str):
            raise MappingError(f"{path}: {key} must be a string")
        if value == "" and key not in optional:
            raise MappingError(f"{path}: {key} names a required column; it cannot be empty")
        values[key] = value or None
    mapping = dataclasses.replace(ONLINE_RETAIL, **values)
    try:
        mapping.zone()
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MappingError(f"{path}: timezone {mapping.timezone!r} is not an IANA zone") from exc
    if len(mapping.delimiter) != 1:
        raise MappingError(f"{path}: delimiter must be one character")
    return mapping
