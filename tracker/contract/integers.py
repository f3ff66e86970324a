"""Integral numbers written as integers: ``10.0`` becomes ``10`` where the contract wants one.

The validator takes ``10.0`` for an integer field (Python's ``json.dumps`` writes a float that
way, JavaScript never does), and the collector must then write ``10``: the lake's Spark parser
reads a JSON number with a fraction part as no integer at all, so the value would be refused
downstream after the collector acknowledged it. Pure: event in, event out.
"""

from __future__ import annotations

from typing import Any

from tracker.contract.spec import EVENT, Arr, Int, Obj


def _has_integers(kind: Any) -> bool:
    if isinstance(kind, Int):
        return True
    if isinstance(kind, Obj):
        return any(_has_integers(spec.kind) for spec in kind.fields.values())
    if isinstance(kind, Arr):
        return _has_integers(kind.item)
    return False


# the top-level fields that hold an integer somewhere (the rest are never walked)
_INTEGER_FIELDS = {name: spec.kind for name, spec in EVENT.fields.items()
                   if _has_integers(spec.kind)}


def _written(kind: Any, value: Any) -> Any:
    """``value`` with its integral floats as ints; the same object when nothing changes."""
    if isinstance(kind, Int):
        return int(value) if isinstance(value, float) and value.is_integer() else value
    if isinstance(kind, Obj) and isinstance(value, dict):
        changed = {}
        for name, item in value.items():
            spec = kind.fields.get(name)
            if spec is not None and _has_integers(spec.kind):
                written = _written(spec.kind, item)
                if written is not item:
                    changed[name] = written
        return {**value, **changed} if changed else value
    if isinstance(kind, Arr) and isinstance(value, list):
        items = [_written(kind.item, item) for item in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value


def integers_as_integers(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with every integral float in an integer field written as an int (a valid
    event: call it after the validator accepted it). Returns ``event`` itself when nothing
    changes, the common case."""
    changed = {}
    for name, kind in _INTEGER_FIELDS.items():
        value = event.get(name)
        if isinstance(value, float | dict | list):
            written = _written(kind, value)
            if written is not value:
                changed[name] = written
    return {**event, **changed} if changed else event
