"""The contract as a JSON Schema (draft 2020-12), generated from :mod:`tracker.contract.spec`.

Published at ``docs/event-v1.schema.json`` and served by the collector at ``GET /v1/schema`` so
that other languages can validate before sending. A test keeps the committed file in step with
the spec and checks that this schema and the Python validator agree on a shared fixture set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tracker.contract.spec import (
    EVENT,
    REQUIRED_BY_TYPE,
    SCHEMA_VERSION,
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

SCHEMA_ID = f"https://clickloop.dev/schemas/event-v{SCHEMA_VERSION}.schema.json"
PUBLISHED_PATH = Path(__file__).resolve().parents[2] / "docs" / "event-v1.schema.json"


def event_schema(*, include_enrichment: bool = False) -> dict[str, Any]:
    """JSON Schema of one client event (``include_enrichment``: of a stored, enriched record)."""
    fields = {
        name: spec for name, spec in EVENT.fields.items() if spec.client or include_enrichment
    }
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"Clickloop event v{SCHEMA_VERSION}",
        "type": "object",
        "additionalProperties": False,
        "required": list(EVENT.required),
        "properties": {
            name: _nullable(_kind(spec.kind), name in EVENT.required, spec.doc)
            for name, spec in fields.items()
        },
        "allOf": [
            {
                "if": {"properties": {"event_type": {"const": event_type}},
                       "required": ["event_type"]},
                "then": {
                    "required": list(required),
                    "properties": {name: {"not": {"type": "null"}} for name in required},
                },
            }
            for event_type, required in REQUIRED_BY_TYPE.items()
        ],
    }
    return schema


def render() -> str:
    """The published schema file's text."""
    return json.dumps(event_schema(), indent=2, ensure_ascii=False) + "\n"


def _nullable(schema: dict[str, Any], required: bool, doc: str = "") -> dict[str, Any]:
    out = dict(schema)
    if doc:
        out["description"] = doc
    if required:
        return out
    if "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    else:  # const
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def _kind(kind: Any) -> dict[str, Any]:
    if isinstance(kind, Str):
        out: dict[str, Any] = {"type": "string", "maxLength": kind.max_len}
        if kind.enum is not None:
            out["enum"] = list(kind.enum)
        if kind.pattern is not None:
            out["pattern"] = kind.pattern
        return out
    if isinstance(kind, Int):
        return _bounded({"type": "integer"}, kind.minimum, kind.maximum)
    if isinstance(kind, Num):
        return _bounded({"type": "number"}, kind.minimum, kind.maximum)
    if isinstance(kind, Bool):
        return {"type": "boolean"}
    if isinstance(kind, Const):
        return {"const": kind.value}
    if isinstance(kind, Timestamp):
        return {"type": "string", "format": "date-time", "maxLength": 40,
                "pattern": TIMESTAMP_RE.pattern}
    if isinstance(kind, Obj):
        return {
            "type": "object",
            "additionalProperties": False,
            "required": list(kind.required),
            "properties": {
                name: _nullable(_kind(spec.kind), name in kind.required, spec.doc)
                for name, spec in kind.fields.items()
            },
        }
    if isinstance(kind, Arr):
        return {"type": "array", "maxItems": kind.max_items, "items": _kind(kind.item)}
    if isinstance(kind, Props):
        return {
            "type": "object",
            "maxProperties": kind.max_keys,
            "propertyNames": {"minLength": 1, "maxLength": kind.key_max_len},
            "additionalProperties": {
                "type": ["string", "number", "boolean", "null"],
                "maxLength": kind.value_max_len,
            },
        }
    raise TypeError(f"unknown field kind {kind!r}")


def _bounded(out: dict[str, Any], lo: float | None, hi: float | None) -> dict[str, Any]:
    if lo is not None:
        out["minimum"] = lo
    if hi is not None:
        out["maximum"] = hi
    return out
