"""The contract as a Spark schema and as Spark checks, derived from :mod:`tracker.contract.spec`.

Imported by the Spark jobs only (pyspark is imported lazily so the collector never loads it).
Timestamps become ``TimestampType`` (UTC), integers ``LongType``, numbers ``DoubleType``, free-form
properties ``map<string,string>`` (Spark keeps a number's JSON text, so nothing is lost).

:func:`contract_checks` turns the same declarations the collector validates with
(:mod:`tracker.contract.validate`, :mod:`tracker.contract.compiled`) into Spark built-in
expressions, so the lake job refuses what the collector refuses, field by field, and an event
the collector acknowledged is never rejected downstream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracker.contract.spec import (
    EVENT,
    Arr,
    Bool,
    Const,
    Int,
    Num,
    Obj,
    Props,
    Str,
    Timestamp,
)
from tracker.contract.validate import TIMESTAMP_RE

Check = tuple[Callable[[Any], Any], str]  # (column -> "this fails" condition, reason)


def event_struct(*, include_enrichment: bool = True) -> Any:
    """``StructType`` of an event as stored in Kafka and the lake (with enrichment by default)."""
    from pyspark.sql import types as T

    return T.StructType([
        T.StructField(name, _kind(spec.kind), nullable=True)
        for name, spec in EVENT.fields.items()
        if spec.client or include_enrichment
    ])


def _kind(kind: Any) -> Any:
    from pyspark.sql import types as T

    if isinstance(kind, Str):
        return T.StringType()
    if isinstance(kind, Int | Const):
        return T.LongType()
    if isinstance(kind, Num):
        return T.DoubleType()
    if isinstance(kind, Bool):
        return T.BooleanType()
    if isinstance(kind, Timestamp):
        return T.TimestampType()
    if isinstance(kind, Obj):
        return T.StructType([
            T.StructField(name, _kind(spec.kind), nullable=True)
            for name, spec in kind.fields.items()
        ])
    if isinstance(kind, Arr):
        return T.ArrayType(_kind(kind.item), containsNull=True)
    if isinstance(kind, Props):
        return T.MapType(T.StringType(), T.StringType(), valueContainsNull=True)
    raise TypeError(f"unknown field kind {kind!r}")


def contract_checks(event: Any, text: Any) -> list[tuple[Any, str]]:
    """``(failed, reason)`` pairs for every field rule of the contract, enrichment included.

    ``event`` is the record parsed with :func:`event_struct`, ``text`` its JSON text (needed
    where parsing loses what the validator sees: ``1.0`` for the integer 1, a timestamp's exact
    shape, fields the schema does not know). A condition may be null where a value is absent:
    callers treat null as passed. Reasons read ``field: problem``, like the validator's.
    """
    from pyspark.sql import functions as F

    names = list(EVENT.fields)
    checks: list[tuple[Any, str]] = [(
        F.exists(F.json_object_keys(text), lambda key: ~key.isin(*names)),
        "unknown top-level field",
    )]
    for name, spec in EVENT.fields.items():
        raw = F.get_json_object(text, f"$.{name}")
        kind = spec.kind
        if isinstance(kind, Const):  # the JSON integer itself: 1.0 or "1" are not 1
            checks.append((raw.isNotNull() & (raw != F.lit(str(kind.value))),
                           f"{name}: must be the integer {kind.value}"))
        elif isinstance(kind, Timestamp):
            checks.append((raw.isNotNull() & (~raw.rlike(TIMESTAMP_RE.pattern)
                                              | event[name].isNull()),
                           f"{name}: not an RFC 3339 timestamp with a time zone"))
        for condition, reason in _checks(kind, name):
            checks.append((condition(event[name]), reason))
    return checks


def _checks(kind: Any, path: str) -> list[Check]:
    """The rules of one field kind as functions of its column (reused inside arrays)."""
    from pyspark.sql import functions as F

    if isinstance(kind, Str):
        found: list[Check] = [
            (lambda c: F.length(c) > kind.max_len,
             f"{path}: longer than {kind.max_len} characters"),
            (lambda c: F.instr(c, "\u0000") > 0, f"{path}: must not contain NUL characters"),
        ]
        if kind.enum is not None:
            found.append((lambda c: ~c.isin(*kind.enum),
                          f"{path}: must be one of {', '.join(kind.enum)}"))
        if kind.pattern is not None:
            found.append((lambda c: ~c.rlike(kind.pattern),
                          f"{path}: must be {kind.hint or 'in the documented format'}"))
        return found
    if isinstance(kind, Int | Num):
        found = []
        if kind.minimum is not None:
            found.append((lambda c: c < kind.minimum, f"{path}: must be >= {kind.minimum}"))
        if kind.maximum is not None:
            found.append((lambda c: c > kind.maximum, f"{path}: must be <= {kind.maximum}"))
        return found
    if isinstance(kind, Obj):
        found = []
        for name in kind.required:
            found.append((lambda c, name=name: c.isNotNull() & c[name].isNull(),
                          f"{path}.{name}: is required"))
        for name, spec in kind.fields.items():
            for condition, reason in _checks(spec.kind, f"{path}.{name}"):
                found.append((lambda c, condition=condition, name=name: condition(c[name]),
                              reason))
        return found
    if isinstance(kind, Arr):
        found = [(lambda c: F.size(c) > kind.max_items,
                  f"{path}: has more than {kind.max_items} items")]
        for condition, reason in _checks(kind.item, f"{path}[]"):
            found.append((lambda c, condition=condition: F.exists(
                c, lambda item: F.coalesce(condition(item), F.lit(False))), reason))
        return found
    if isinstance(kind, Props):
        return [
            (lambda c: F.size(c) > kind.max_keys,
             f"{path}: has more than {kind.max_keys} properties"),
            (lambda c: F.exists(F.map_keys(c), lambda key: (F.length(key) == 0)
                                | (F.length(key) > kind.key_max_len)),
             f"{path}: a property name is empty or longer than {kind.key_max_len} characters"),
            (lambda c: F.exists(F.map_values(c), lambda value: F.coalesce(
                F.length(value) > kind.value_max_len, F.lit(False))),
             f"{path}: a value is longer than {kind.value_max_len} characters"),
            (lambda c: F.exists(F.map_keys(c), lambda key: F.instr(key, "\u0000") > 0)
             | F.exists(F.map_values(c), lambda value: F.coalesce(
                 F.instr(value, "\u0000") > 0, F.lit(False))),
             f"{path}: must not contain NUL characters"),
        ]
    return []  # Bool, Const, Timestamp: the schema's own parsing (and the raw checks above)
