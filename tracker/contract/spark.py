"""The contract as a Spark schema, derived from :mod:`tracker.contract.spec`.

Imported by the Spark jobs only (pyspark is imported lazily so the collector never loads it).
Timestamps become ``TimestampType`` (UTC), integers ``LongType``, numbers ``DoubleType``, free-form
properties ``map<string,string>`` (Spark keeps a number's JSON text, so nothing is lost).
"""

from __future__ import annotations

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
