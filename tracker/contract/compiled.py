"""The contract compiled to msgspec types: the collector's fast path for a batch.

:func:`check_batch` is what the collector calls on a ``POST /v1/events`` body. It splits the batch
into each event's raw bytes (so an event's size is the bytes it was sent as, without encoding it
again) and decodes each event against a msgspec ``Struct`` generated from
:mod:`tracker.contract.spec` at import: field types, string lengths, patterns, enums, ranges,
unknown fields and array and property counts are checked in C while decoding, and since every
container is typed the nesting depth is bounded in the same pass.

The fast path only ever *accepts*. Any event it does not accept -- and any body it cannot split --
is handed to the reference validator (:func:`tracker.contract.decode_batch`,
:func:`tracker.contract.validate_event`), which names every problem with its field. So messages
come from one place, and a test checks on generated events that the fast path never accepts what
the reference validator rejects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
import orjson

from tracker.contract.batch import BatchError, decode_batch
from tracker.contract.integers import integers_as_integers
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
from tracker.contract.validate import (
    INT64_MAX,
    INT64_MIN,
    ContractError,
    validate_event,
)

# what the reference validator may say differently about an event the fast path declines
_DECLINED = (msgspec.MsgspecError, orjson.JSONDecodeError, ValueError, RecursionError)
_NUL_ESCAPE = b"\\u0000"  # the only way JSON can carry a NUL character


@dataclass(frozen=True, slots=True)
class CheckedEvent:
    """One event of a batch: the decoded value and its contract errors (empty when valid).

    A valid event's integral floats in integer fields are ints (:mod:`tracker.contract.integers`).
    """

    index: int
    event: Any
    errors: tuple[ContractError, ...] = ()


def _field_type(kind: Any, name: str, top_level: bool) -> Any:
    """The msgspec type that accepts exactly what the reference validator accepts for ``kind``
    (or less: anything declined is re-checked by the reference validator)."""
    if isinstance(kind, Str):
        if kind.enum is not None:
            return Literal[kind.enum]  # type: ignore[valid-type]
        return Annotated[str, msgspec.Meta(max_length=kind.max_len, pattern=kind.pattern)]
    if isinstance(kind, Int):
        return Annotated[int, msgspec.Meta(ge=kind.minimum, le=kind.maximum)]
    if isinstance(kind, Num):  # msgspec's float also takes JSON integers; values are not kept
        return Annotated[float, msgspec.Meta(ge=kind.minimum, le=kind.maximum)]
    if isinstance(kind, Bool):
        return bool
    if isinstance(kind, Const):
        return Literal[kind.value]  # type: ignore[valid-type]
    if isinstance(kind, Timestamp):
        if not top_level:  # the shape and window checks below look at top-level fields only
            raise TypeError(f"{name}: timestamps are only supported as top-level event fields")
        # parsed in C; msgspec also takes a few shapes the contract does not (see _rfc3339)
        return Annotated[datetime, msgspec.Meta(tz=True)]
    if isinstance(kind, Obj):
        return _struct(kind, name.title().replace("_", ""), top_level=False)
    if isinstance(kind, Arr):
        return Annotated[list[_field_type(kind.item, name, False)],  # type: ignore[misc]
                         msgspec.Meta(max_length=kind.max_items)]
    if isinstance(kind, Props):
        key = Annotated[str, msgspec.Meta(min_length=1, max_length=kind.key_max_len)]
        value = (Annotated[str, msgspec.Meta(max_length=kind.value_max_len)]
                 | Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)] | float | bool | None)
        return Annotated[dict[key, value],  # type: ignore[valid-type]
                         msgspec.Meta(max_length=kind.max_keys)]
    raise TypeError(f"{name}: unknown field kind {kind!r}")


def _struct(kind: Obj, name: str, *, top_level: bool) -> type[msgspec.Struct]:
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for field_name, spec in kind.fields.items():
        if not spec.client:
            continue  # written by the collector: unknown to clients, so declined
        annotation = _field_type(spec.kind, field_name, top_level)
        if field_name in kind.required:
            fields.append((field_name, annotation))
        else:
            fields.append((field_name, annotation | None, None))
    return msgspec.defstruct(name, fields, kw_only=True, forbid_unknown_fields=True)


EventStruct = _struct(EVENT, "Event", top_level=True)
TIMESTAMP_FIELDS = tuple(name for name, spec in EVENT.fields.items()
                         if spec.client and isinstance(spec.kind, Timestamp))
BatchStruct = msgspec.defstruct("Batch", [(
    "events",
    Annotated[list[msgspec.Raw], msgspec.Meta(min_length=1, max_length=LIMITS.max_batch_events)],
)], forbid_unknown_fields=True)

_batch_decoder = msgspec.json.Decoder(BatchStruct)
_event_decoder = msgspec.json.Decoder(EventStruct)


def check_batch(body: bytes, *, now: datetime | None = None,
                limits: Limits = LIMITS) -> list[CheckedEvent]:
    """Every event of ``body`` with its errors, or :class:`BatchError` for the body as a whole.

    ``now`` is the collector's clock for the time-window checks (see
    :func:`tracker.contract.validate_event`).
    """
    raws = _split(body, limits)
    if raws is None:
        return [_checked(i, event, validate_event(event, now=now, limits=limits))
                for i, event in enumerate(decode_batch(body, limits))]
    window = None if now is None else (now - timedelta(days=limits.max_past_days),
                                       now + timedelta(minutes=limits.max_future_minutes))
    checked: list[CheckedEvent | None] = []
    declined: list[int] = []
    for index, raw in enumerate(raws):
        event = _accept(raw, window)
        if event is None:
            declined.append(index)
            checked.append(None)
        else:
            checked.append(CheckedEvent(index, event))
    if declined:
        values = decode_batch(body, limits)  # body-level problems (depth, ...) are named here
        for index in declined:
            errors = validate_event(values[index], now=now, limits=limits,
                                    wire_bytes=len(raws[index]))
            checked[index] = _checked(index, values[index], errors)
    return checked  # type: ignore[return-value]


def _checked(index: int, event: Any, errors: list[ContractError]) -> CheckedEvent:
    """A reference-validated event; a valid one with integral floats written as integers
    (only the reference validator takes ``10.0`` for an integer: the fast path declines it)."""
    return CheckedEvent(index, event if errors else integers_as_integers(event), tuple(errors))


def _split(body: bytes, limits: Limits) -> list[bytes] | None:
    """Each event's raw JSON, or None when only the reference decoder can say what is wrong."""
    if (limits is not LIMITS or len(body) > limits.max_body_bytes
            or body.count(b'"events"') != 1):  # a repeated "events" key: JSON keeps the last
        return None
    try:
        batch = _batch_decoder.decode(body)
    except _DECLINED:
        return None
    return [bytes(raw) for raw in batch.events]


def _accept(raw: bytes, window: tuple[datetime, datetime] | None) -> dict[str, Any] | None:
    """The decoded event if the compiled contract accepts it, else None (not an error yet).

    ``window``: the earliest and latest client clock readings the collector takes, or None.
    """
    if len(raw) > LIMITS.max_event_bytes or _NUL_ESCAPE in raw:
        return None
    try:
        struct = _event_decoder.decode(raw)
        event = orjson.loads(raw)  # the values as sent (1 stays 1, not 1.0); 2x msgspec's
    except _DECLINED:
        return None
    for name in REQUIRED_BY_TYPE[struct.event_type]:
        if getattr(struct, name) is None:
            return None
    for name in TIMESTAMP_FIELDS:
        moment = getattr(struct, name)
        if moment is None:
            continue
        if not _rfc3339(event[name]):
            return None
        if moment.year in (1, 9999):  # may leave years 1-9999 once in UTC
            try:
                moment.astimezone(UTC)
            except OverflowError:
                return None
        if window is not None and not window[0] <= moment <= window[1]:  # aware: zone-safe
            return None
    return event


def _rfc3339(text: str) -> bool:
    """The contract's stricter shape on a timestamp msgspec parsed: a ``T``, at most 6 decimals,
    a zone written ``Z`` or ``+HH:MM`` (msgspec also takes a space, nanoseconds, ``+HHMM``)."""
    if text[10] not in "Tt":
        return False
    zone = 1 if text[-1] in "Zz" else 6
    if zone == 6 and text[-3] != ":":
        return False
    decimals = len(text) - 20 - zone  # text[19] is the "." of the fraction, when there is one
    return len(text) == 19 + zone or 1 <= decimals <= 6


def check_event(event: Any, *, now: datetime | None = None) -> CheckedEvent:
    """One already decoded event (the pixel's), checked by the reference validator."""
    return _checked(0, event, validate_event(event, now=now))


__all__ = ["BatchError", "CheckedEvent", "check_batch", "check_event"]
