"""The contract's field reference as Markdown (``docs/contract.md``), generated from the spec so
the documentation cannot drift from what the validator enforces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tracker.contract.spec import (
    EVENT,
    LIMITS,
    REQUIRED_BY_TYPE,
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

PUBLISHED_PATH = Path(__file__).resolve().parents[2] / "docs" / "contract.md"

LIMIT_DOCS = {
    "max_body_bytes": "bytes in one `POST /v1/events` body (413 past it)",
    "max_batch_events": "events in one batch (413 past it)",
    "max_event_bytes": "bytes of one event as sent in the body",
    "max_depth": "JSON nesting depth of a body, the batch object counting as 1",
    "max_properties": "keys in `properties`",
    "max_property_key": "characters in a property name",
    "max_property_value": "characters in a string property value",
    "max_items": "products in `products` or `order.items`",
    "max_past_days": "days `client_ts` and `sent_ts` may lag the collector's clock",
    "max_future_minutes": "minutes `client_ts` and `sent_ts` may lead the collector's clock",
}


def render() -> str:
    """The Markdown text of docs/contract.md."""
    lines = [
        "# Event contract v1",
        "",
        "Generated from `tracker/contract/spec.py` by `clickloop contract docs --write`; do not "
        "edit by hand. Machine-readable: [event-v1.schema.json](event-v1.schema.json).",
        "",
        "A batch is `{\"events\": [event, ...]}`. Fields not listed are rejected (`unknown "
        "field`); `null` counts as absent. The `enrichment` block is written by the collector "
        "and rejected from clients.",
        "",
        "## Rules for every value",
        "",
        "- The batch object has one `events` key: a repeated one is refused (JSON parsers keep "
        "only the last, which would drop the first batch silently). Inside an event a repeated "
        "key keeps its last value, as in most JSON parsers.",
        "- No string, property name or property value may contain NUL (`\\u0000`); property "
        "names are not empty.",
        "- Numbers fit in 64 bits: a property integer outside -2^63…2^63-1, or an integer "
        "literal longer than 20 characters anywhere, is refused (send it as a string); "
        "`schema_version` is the JSON integer `1` (not `1.0`, `\"1\"` or `true`). Another "
        "integer field takes an integral number written with a fraction (`10.0`, as Python's "
        "`json` writes a float), and the collector stores it as `10`.",
        "- Timestamps are RFC 3339 with a zone, at most 6 decimals, and stay within years "
        "0001-9999 once converted to UTC. The collector also refuses a `client_ts` or `sent_ts` "
        "more than `max_past_days` behind or `max_future_minutes` ahead of its own clock: both "
        "come from the client's clock, and `derived_ts` uses their difference.",
        "- An event's size (`max_event_bytes`) is counted on the bytes it was sent as.",
        "- The lake job applies the same rules to what it reads from Kafka "
        "(`tracker/contract/spark.py`, generated from the same declarations), JSON types "
        "included: a value of the wrong type (`\"price\": \"cheap\"`, `\"title\": 5`, an "
        "unknown key inside `product`) makes the record a reject naming the field, never a "
        "stored event with that value nulled or turned into text.",
        "",
        "## Limits",
        "",
        "| limit | value | meaning |",
        "|---|---|---|",
    ]
    for name, meaning in LIMIT_DOCS.items():
        lines.append(f"| `{name}` | {getattr(LIMITS, name)} | {meaning} |")
    lines += ["", "## Required fields by event type", "", "| event_type | also requires |",
              "|---|---|"]
    for event_type, required in REQUIRED_BY_TYPE.items():
        lines.append(f"| `{event_type}` | {', '.join(f'`{r}`' for r in required)} |")
    lines += ["", "## Fields", "", "| field | type | required | description |",
              "|---|---|---|---|"]
    _rows(EVENT, "", lines)
    return "\n".join(lines) + "\n"


def _rows(kind: Obj, prefix: str, lines: list[str]) -> None:
    for name, spec in kind.fields.items():
        path = f"{prefix}{name}"
        required = "yes" if name in kind.required else ""
        doc = spec.doc.replace("|", "\\|")
        lines.append(f"| `{path}` | {_type(spec.kind)} | {required} | {doc} |")
        inner = spec.kind.item if isinstance(spec.kind, Arr) else spec.kind
        if isinstance(inner, Obj):
            _rows(inner, path + ("[]." if isinstance(spec.kind, Arr) else "."), lines)


def _type(kind: Any) -> str:
    if isinstance(kind, Str):
        text = f"string ≤ {kind.max_len}"
        if kind.enum:
            text += ": " + " \\| ".join(kind.enum)
        elif kind.hint:
            text += f", {kind.hint}"
        return text
    if isinstance(kind, Int):
        return f"integer {kind.minimum}…{kind.maximum}"
    if isinstance(kind, Num):
        return f"number {kind.minimum:g}…{kind.maximum:g}"
    if isinstance(kind, Bool):
        return "boolean"
    if isinstance(kind, Const):
        return f"const {kind.value}"
    if isinstance(kind, Timestamp):
        return "RFC 3339 timestamp with zone"
    if isinstance(kind, Obj):
        return "object"
    if isinstance(kind, Arr):
        return f"array ≤ {kind.max_items} of {_type(kind.item)}"
    if isinstance(kind, Props):
        return (f"map ≤ {kind.max_keys} keys (≤ {kind.key_max_len} chars) of string "
                f"(≤ {kind.value_max_len}) / number / boolean / null")
    return str(kind)
