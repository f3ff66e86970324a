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


def contract_checks(event: Any, text: Any, document: Any) -> list[tuple[Any, Any]]:
    """``(failed, reason)`` pairs for every field rule of the contract, enrichment included.

    ``event`` is the record parsed with :func:`event_struct`, ``text`` its JSON text (needed
    where parsing loses what the validator sees: ``1.0`` for the integer 1, a timestamp's exact
    shape, fields the schema does not know). ``document`` is the same text parsed once with
    ``try_parse_json`` (a variant, which keeps each value's JSON type); bind it with
    :func:`let`, or every check would parse the text again. A condition may be null where a value
    is absent: callers treat null as passed. Reasons read ``field: problem``, like the
    validator's. A reason is a string, or a column naming the value whose JSON type is wrong.
    """
    from pyspark.sql import functions as F

    names = list(EVENT.fields)
    checks: list[tuple[Any, Any]] = [(
        F.exists(F.json_object_keys(text), lambda key: ~key.isin(*names)),
        "unknown top-level field",
    )]
    for name, spec in EVENT.fields.items():
        problem = _type_problem(spec.kind, name, F.variant_get(document, f"$.{name}", "variant"),
                                known_keys=spec.client)
        checks.append((problem.isNotNull(), problem))
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


# kind → (JSON types it takes, as ``schema_of_variant`` names them; the validator's wording);
# integers must be JSON integers, as the collector writes them (10, not 10.0)
_SCALAR_TYPES: dict[type, tuple[str, str]] = {
    Str: ("STRING", "must be a string"),
    Timestamp: ("STRING", "must be a string"),
    Int: ("BIGINT", "must be an integer"),
    Const: ("BIGINT", "must be an integer"),
    Num: ("BIGINT|DOUBLE|DECIMAL.*", "must be a number"),
    Bool: ("BOOLEAN", "must be true or false"),
}


def let(value: Any, body: Callable[[Any], Any]) -> Any:
    """``body(value)`` with ``value`` evaluated once per row.

    Spark's Column API has no ``let``: a column used in many places is recomputed in each, and
    the optimizer inlines a projected column into every reader where that helps it push a
    filter down. Bound as a lambda argument, it is computed once.
    """
    from pyspark.sql import functions as F

    return F.transform(F.array(value), body)[0]


def _first(problems: list[Any]) -> Any:
    """The first non-null of ``problems`` (reason columns), evaluated lazily in order."""
    from pyspark.sql import functions as F

    if not problems:
        return F.lit(None).cast("string")
    result = problems[-1]
    for problem in reversed(problems[:-1]):
        result = F.when(problem.isNotNull(), problem).otherwise(result)
    return result


def _type_problem(kind: Any, path: str, value: Any, *, known_keys: bool) -> Any:
    """The first wrong JSON type at or under ``path`` (``value``, a variant column), or null.

    Spark's JSON parser keeps what it can: a value of the wrong type becomes null (``"price":
    "cheap"``) or text (``"title": 5``) and the rest of the event parses, so without this check
    the lake would store an event the collector refuses, with a value silently lost. It reads
    the record as a variant, which keeps each value's own JSON type. Each object is looked up
    once and what lies under it only when it is there, so a typical event costs a few dozen
    lookups. With ``known_keys``, an object's keys must be the contract's too (written by
    clients; the enrichment is the collector's own).
    """
    from pyspark.sql import functions as F

    def fails(condition: Any, reason: str) -> Any:
        return F.when(condition, F.lit(reason))

    def as_object(v: Any) -> Any:  # containers are tested by casting, not by naming a schema
        return F.try_variant_get(v, "$", "map<string,variant>")

    def as_array(v: Any) -> Any:
        return F.try_variant_get(v, "$", "array<variant>")

    scalar = _SCALAR_TYPES.get(type(kind))
    if scalar is not None:  # one lookup: schema_of_variant names JSON null VOID, absent is null
        allowed, wording = scalar
        return F.when(~F.schema_of_variant(value).rlike(f"^({allowed}|VOID)$"),
                      F.lit(f"{path}: {wording}"))

    def problem(v: Any) -> Any:
        if isinstance(kind, Obj):
            problems = [fails(as_object(v).isNull(), f"{path}: must be an object")]
            if known_keys:
                names = list(kind.fields)
                problems.append(fails(F.exists(F.map_keys(as_object(v)),
                                               lambda key: ~key.isin(*names)),
                                      f"{path}: has a field the contract does not know"))
            problems += [
                _type_problem(spec.kind, f"{path}.{name}",
                              F.variant_get(v, f"$.{name}", "variant"), known_keys=known_keys)
                for name, spec in kind.fields.items()
            ]
            return _first(problems)
        if isinstance(kind, Arr):
            item_problems = F.filter(
                F.transform(as_array(v), lambda item: _type_problem(
                    kind.item, f"{path}[]", item, known_keys=known_keys)),
                lambda found: found.isNotNull())
            return _first([fails(as_array(v).isNull(), f"{path}: must be an array"),
                           F.get(item_problems, 0)])
        if isinstance(kind, Props):
            return _first([
                fails(as_object(v).isNull(), f"{path}: must be an object"),
                fails(F.exists(F.map_values(as_object(v)), lambda item: as_object(item).isNotNull()
                               | as_array(item).isNotNull()),
                      f"{path}: a value must be a string, number, boolean or null"),
            ])
        raise TypeError(f"unknown field kind {kind!r}")

    # absent (SQL null) and JSON null pass: whether a field may be missing is another rule
    return let(value, lambda v: F.when(v.isNotNull() & ~F.is_variant_null(v), problem(v)))


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
