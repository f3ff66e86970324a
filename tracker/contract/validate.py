"""Validation of events against the contract, with one precise message per problem.

Errors name the field by its JSON path (``order.items[2].price``) so a developer can fix the
sender without reading our code. The validator is a walk over :mod:`tracker.contract.spec`; the
JSON Schema is generated from the same spec and a shared fixture set keeps the two in agreement.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from tracker.contract.spec import (
    EVENT,
    LIMITS,
    REQUIRED_BY_TYPE,
    Arr,
    Bool,
    Const,
    Int,
    Limits,
    Num,
    Obj,
    Props,
    Str,
    Timestamp,
)

# RFC 3339 with mandatory zone; up to microseconds (browsers send ms, Python sends µs).
TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$"
)


@dataclass(frozen=True)
class ContractError:
    """One problem with one field. ``field`` is a JSON path; empty for the whole document."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass(frozen=True)
class OversizeInteger:
    """An integer literal too long to be a 64-bit number, kept as a marker by the decoder.

    Python refuses to convert integer literals of more than 4,300 digits (and a client has no
    business sending more than 19), so the decoder never builds the number: the validator
    names the field holding this marker instead.
    """

    digits: int

    def __str__(self) -> str:
        return f"<integer of {self.digits} digits>"


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_INT_LITERAL = 20  # characters of a 64-bit integer literal with its sign


class ContractViolation(ValueError):
    """Raised by the strict helpers; carries every error found."""

    def __init__(self, errors: list[ContractError]):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def parse_timestamp(value: str) -> datetime | None:
    """Parse a contract timestamp to an aware UTC datetime, or None if it is not one.

    None too for a moment outside years 1-9999 once converted to UTC
    (``0001-01-01T00:00:00+01:00``), which Python's datetime cannot hold.
    """
    if not isinstance(value, str) or len(value) > 40 or not TIMESTAMP_RE.match(value):
        return None
    text = value.upper().replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def format_timestamp(moment: datetime) -> str:
    """The contract's canonical text for a moment: UTC, millisecond precision, ``Z``."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def validate_event(
    event: Any,
    *,
    now: datetime | None = None,
    limits: Limits = LIMITS,
    allow_enrichment: bool = False,
    wire_bytes: int | None = None,
) -> list[ContractError]:
    """Every contract violation in ``event``; an empty list means valid.

    ``now`` turns on the time-window check of ``client_ts`` and ``sent_ts`` (the collector passes
    its clock; replayed old logs do not). ``allow_enrichment`` accepts the collector-written block
    (for records read back from Kafka or the lake); clients never get it. ``wire_bytes`` is the
    event's size as sent (the collector knows it); without it the size is that of the event
    serialised compactly, as the Python tracker sends it.
    """
    errors: list[ContractError] = []
    if not isinstance(event, dict):
        return [ContractError("", f"an event must be a JSON object, got {_json_type(event)}")]
    fields = EVENT.fields
    for name in event:
        if name not in fields:
            errors.append(ContractError(name, "unknown field"))
        elif not fields[name].client and not allow_enrichment:
            errors.append(ContractError(name, "is written by the collector; do not send it"))
    for name in EVENT.required:
        if event.get(name) is None:
            errors.append(ContractError(name, "is required"))
    for name, spec in fields.items():
        if name in event and event[name] is not None and (spec.client or allow_enrichment):
            _check(spec.kind, event[name], name, errors)
    if not errors:
        size = wire_bytes if wire_bytes is not None else len(json.dumps(
            event, ensure_ascii=False, separators=(",", ":"), default=str
        ).encode("utf-8", "replace"))
        if size > limits.max_event_bytes:
            errors.append(ContractError(
                "", f"event is {size} bytes serialised; the limit is {limits.max_event_bytes}"
            ))
    event_type = event.get("event_type")
    if isinstance(event_type, str) and event_type in REQUIRED_BY_TYPE:
        for name in REQUIRED_BY_TYPE[event_type]:
            if event.get(name) is None:
                errors.append(ContractError(name, f"is required for event_type {event_type}"))
    if now is not None:
        for name in WINDOWED:
            if not any(e.field == name for e in errors):
                moment = parse_timestamp(event.get(name, ""))
                if moment is not None:
                    errors.extend(check_window(name, moment, now, limits))
    return errors


def check_event(event: Any, **kwargs: Any) -> dict[str, Any]:
    """Return ``event`` if valid, else raise :class:`ContractViolation` with every error."""
    errors = validate_event(event, **kwargs)
    if errors:
        raise ContractViolation(errors)
    return event


# Client clock readings checked against the collector's clock. Both come from the same clock,
# so a sent_ts years off is as wrong as such a client_ts (and would push derived_ts out of range).
WINDOWED = ("client_ts", "sent_ts")


def check_window(name: str, moment: datetime, now: datetime,
                 limits: Limits = LIMITS) -> list[ContractError]:
    """The error for client clock reading ``name`` outside the window around ``now``, if any."""
    if moment > now + timedelta(minutes=limits.max_future_minutes):
        return [ContractError(
            name,
            f"is more than {limits.max_future_minutes} minutes in the future of the "
            f"collector's clock ({format_timestamp(now)})",
        )]
    if moment < now - timedelta(days=limits.max_past_days):
        return [ContractError(
            name,
            f"is more than {limits.max_past_days} days in the past of the collector's clock "
            f"({format_timestamp(now)})",
        )]
    return []


def _check(kind: Any, value: Any, path: str, errors: list[ContractError]) -> None:
    checker = _CHECKERS[type(kind)]
    checker(kind, value, path, errors)


def _check_str(kind: Str, value: Any, path: str, errors: list[ContractError]) -> None:
    if not isinstance(value, str):
        errors.append(ContractError(path, f"must be a string, got {_json_type(value)}"))
        return
    if not _is_unicode(value):
        errors.append(ContractError(path, "is not valid Unicode (lone surrogate)"))
        return
    if "\x00" in value:
        errors.append(ContractError(path, NUL_MESSAGE))
        return
    if len(value) > kind.max_len:
        errors.append(ContractError(
            path, f"is {len(value)} characters long; the limit is {kind.max_len}"
        ))
        return
    if kind.enum is not None and value not in kind.enum:
        errors.append(ContractError(path, f"must be one of {', '.join(kind.enum)}; got {value!r}"
                                    if len(value) <= 64 else
                                    f"must be one of {', '.join(kind.enum)}"))
        return
    if kind.pattern is not None and not _compiled(kind.pattern).search(value):
        errors.append(ContractError(path, f"must be {kind.hint or 'in the documented format'}"))


def _check_int(kind: Int, value: Any, path: str, errors: list[ContractError]) -> None:
    if isinstance(value, OversizeInteger):
        errors.append(ContractError(path, _oversize(value)))
        return
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            errors.append(ContractError(path, f"must be an integer, got {_json_type(value)}"))
            return
    _check_range(kind.minimum, kind.maximum, value, path, errors)


def _check_num(kind: Num, value: Any, path: str, errors: list[ContractError]) -> None:
    if isinstance(value, OversizeInteger):
        errors.append(ContractError(path, _oversize(value)))
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors.append(ContractError(path, f"must be a number, got {_json_type(value)}"))
        return
    if isinstance(value, float) and not math.isfinite(value):
        errors.append(ContractError(path, "must be a finite number"))
        return
    _check_range(kind.minimum, kind.maximum, value, path, errors)


def _check_range(lo: float | None, hi: float | None, value: float, path: str,
                 errors: list[ContractError]) -> None:
    if lo is not None and value < lo:
        errors.append(ContractError(path, f"must be >= {_num(lo)}, got {_num(value)}"))
    elif hi is not None and value > hi:
        errors.append(ContractError(path, f"must be <= {_num(hi)}, got {_num(value)}"))


def _check_bool(kind: Bool, value: Any, path: str, errors: list[ContractError]) -> None:
    if not isinstance(value, bool):
        errors.append(ContractError(path, f"must be true or false, got {_json_type(value)}"))


def _check_const(kind: Const, value: Any, path: str, errors: list[ContractError]) -> None:
    # the JSON integer only: 1.0 or true are not 1 (Spark's LongType refuses them too)
    if type(value) is not int or value != kind.value:
        errors.append(ContractError(path, f"must be the integer {kind.value}, got "
                                          f"{_short(value)}"))


def _check_timestamp(kind: Timestamp, value: Any, path: str, errors: list[ContractError]) -> None:
    if not isinstance(value, str):
        errors.append(ContractError(path, f"must be an RFC 3339 timestamp string, got "
                                          f"{_json_type(value)}"))
    elif parse_timestamp(value) is None:
        if TIMESTAMP_RE.match(value) and _is_real_date(value):
            errors.append(ContractError(path, f"is outside years 0001-9999 once converted to "
                                              f"UTC, got {_short(value)}"))
            return
        errors.append(ContractError(
            path, f"must be an RFC 3339 timestamp with a time zone such as "
                  f"2026-11-23T10:00:00.000Z, got {_short(value)}"
        ))


def _check_obj(kind: Obj, value: Any, path: str, errors: list[ContractError]) -> None:
    if not isinstance(value, dict):
        errors.append(ContractError(path, f"must be an object, got {_json_type(value)}"))
        return
    for name in value:
        if name not in kind.fields:
            errors.append(ContractError(f"{path}.{_key(name)}", "unknown field"))
    for name in kind.required:
        if value.get(name) is None:
            errors.append(ContractError(f"{path}.{name}", "is required"))
    for name, spec in kind.fields.items():
        if value.get(name) is not None:
            _check(spec.kind, value[name], f"{path}.{name}", errors)


def _check_arr(kind: Arr, value: Any, path: str, errors: list[ContractError]) -> None:
    if not isinstance(value, list):
        errors.append(ContractError(path, f"must be an array, got {_json_type(value)}"))
        return
    if len(value) > kind.max_items:
        errors.append(ContractError(
            path, f"has {len(value)} items; the limit is {kind.max_items}"
        ))
        return
    for index, item in enumerate(value):
        _check(kind.item, item, f"{path}[{index}]", errors)


def _check_props(kind: Props, value: Any, path: str, errors: list[ContractError]) -> None:
    if not isinstance(value, dict):
        errors.append(ContractError(path, f"must be an object, got {_json_type(value)}"))
        return
    if len(value) > kind.max_keys:
        errors.append(ContractError(
            path, f"has {len(value)} properties; the limit is {kind.max_keys}"
        ))
        return
    for key, item in value.items():
        where = f"{path}.{_key(key)}" if key else f'{path}[""]'
        if not key:
            errors.append(ContractError(where, "property name is empty"))
        elif "\x00" in key:
            errors.append(ContractError(where, f"property name {NUL_MESSAGE}"))
        elif len(key) > kind.key_max_len:
            errors.append(ContractError(where, f"property name is {len(key)} characters long; "
                                               f"the limit is {kind.key_max_len}"))
        elif not _is_unicode(key):
            errors.append(ContractError(where, "property name is not valid Unicode"))
        elif isinstance(item, str):
            if not _is_unicode(item):
                errors.append(ContractError(where, "is not valid Unicode (lone surrogate)"))
            elif "\x00" in item:
                errors.append(ContractError(where, NUL_MESSAGE))
            elif len(item) > kind.value_max_len:
                errors.append(ContractError(where, f"is {len(item)} characters long; the limit "
                                                   f"is {kind.value_max_len}"))
        elif isinstance(item, float) and not math.isfinite(item):
            errors.append(ContractError(where, "must be a finite number"))
        elif isinstance(item, OversizeInteger):
            errors.append(ContractError(where, _oversize(item)))
        elif isinstance(item, int) and not isinstance(item, bool) and not (
                INT64_MIN <= item <= INT64_MAX):
            errors.append(ContractError(where, "is an integer outside the 64-bit range; "
                                               "send it as a string"))
        elif item is not None and not isinstance(item, bool | int | float):
            errors.append(ContractError(
                where, f"must be a string, number, boolean or null, got {_json_type(item)}"
            ))


_CHECKERS = {
    Str: _check_str,
    Int: _check_int,
    Num: _check_num,
    Bool: _check_bool,
    Const: _check_const,
    Timestamp: _check_timestamp,
    Obj: _check_obj,
    Arr: _check_arr,
    Props: _check_props,
}


NUL_MESSAGE = "must not contain NUL characters (\\u0000)"


def _oversize(value: OversizeInteger) -> str:
    return (f"is an integer literal of {value.digits} characters; numbers must fit in 64 bits "
            f"(send longer ones as a string)")


def _is_real_date(value: str) -> bool:
    """Whether a timestamp-shaped string names a real local date and time (2026-02-30 does not)."""
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | OversizeInteger):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= 48 else text[:45] + "..."


def _key(name: str) -> str:
    return name if len(name) <= 64 and _is_unicode(name) else _short(name)[:66]


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
