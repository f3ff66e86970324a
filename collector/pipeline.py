"""From decoded events to Kafka records: validate, apply identity, enrich, route.

Pure: no Flask, no I/O. The request handler gathers a :class:`BatchContext` and stores the
:class:`Outcome`'s records through the sink in one call, so a batch's good events and its
dead letters are acknowledged (or spooled, or refused with 503) together.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from collector.identity import cookieless_visitor_id
from collector.sinks import Record
from enrichment import Enrichers, RequestFacts, enrich_event, host_of
from tracker.contract import ContractError, format_timestamp
from tracker.contract.compiled import CheckedEvent

IDENTIFIERS = ("visitor_id", "user_id", "session_id")
MAX_DEAD_LETTER_RAW = 64 * 1024  # characters of a raw event or body kept in a dead letter
BROWSER_SOURCES = ("js", "pixel")


@dataclass(frozen=True)
class BatchContext:
    """Everything about the request the pipeline needs (gathered by the HTTP layer)."""

    now: datetime
    source: str  # js | pixel | server
    topic: str
    dead_letter_topic: str
    ip: str | None = None  # full client IP, used for geo (browser sources only); never stored
    ip_anon: str | None = None  # the same, anonymised with the configured prefixes
    user_agent: str | None = None
    denied: str | None = None  # denial reason (identity.denial_reason) or None
    visitor_id: str | None = None  # the cookie's id (browser sources, consent not denied)
    salt: bytes = b""  # today's cookieless salt (when denied)

    @property
    def collector_ts(self) -> str:
        return format_timestamp(self.now)


@dataclass
class Outcome:
    records: list[Record] = field(default_factory=list)
    accepted: int = 0
    contract_errors: int = 0  # events rejected by the contract (the rest were refused by policy)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def response(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected}

    @property
    def status(self) -> int:
        """200 unless nothing was accepted and something broke the contract (then 400)."""
        return 400 if self.accepted == 0 and self.contract_errors else 200


def process_events(checked: Sequence[CheckedEvent], ctx: BatchContext,
                   enrichers: Enrichers) -> Outcome:
    """Good events (checked by :mod:`tracker.contract.compiled`) become enriched records, bad
    ones dead letters."""
    outcome = Outcome()
    facts = RequestFacts(
        collector_ts=ctx.collector_ts, source=ctx.source,
        ip=ctx.ip if ctx.source in BROWSER_SOURCES else None,
        user_agent=ctx.user_agent, cookieless=ctx.denied is not None,
    )
    for index, event, errors in ((c.index, c.event, c.errors) for c in checked):
        if errors:
            outcome.contract_errors += 1
            outcome.rejected.append({"index": index, "errors": [e.as_dict() for e in errors]})
            outcome.records.append(dead_letter(ctx, errors, event=event, index=index))
            continue
        if ctx.denied is not None and event["event_type"] == "identify":
            outcome.rejected.append({"index": index, "errors": [{
                "field": "event_type",
                "message": f"identify events are not recorded when consent is denied "
                           f"({ctx.denied})"}]})
            continue
        event = with_identity(event, ctx, enrichers)
        enriched = enrich_event(event, facts, enrichers)
        value = orjson.dumps(enriched, default=str)  # UTF-8, compact, ~30x json.dumps
        outcome.records.append(Record(ctx.topic, _key(enriched), value))
        outcome.accepted += 1
    return outcome


def with_identity(event: dict[str, Any], ctx: BatchContext,
                  enrichers: Enrichers) -> dict[str, Any]:
    """``event`` with the visitor id the collector decided on (see :mod:`collector.identity`)."""
    if ctx.denied is not None:
        event = {k: v for k, v in event.items() if k not in IDENTIFIERS}
        if ctx.source in BROWSER_SOURCES:
            event["visitor_id"] = cookieless_visitor_id(ctx.salt, host_of(event.get("url")),
                                                        ctx.ip_anon, ctx.user_agent)
        return event
    if ctx.source in BROWSER_SOURCES and ctx.visitor_id:
        return {**event, "visitor_id": ctx.visitor_id}
    return event


def dead_letter(ctx: BatchContext, errors: Sequence[ContractError], *, event: Any = None,
                index: int | None = None, body: bytes | None = None) -> Record:
    """A dead-letter record: the raw event (or body slice), why, when, the anonymised IP.

    Never the raw IP; under denied consent the raw event's identifiers are removed too.
    """
    letter: dict[str, Any] = {
        "errors": [e.as_dict() for e in errors],
        "collector_ts": ctx.collector_ts,
        "source": ctx.source,
        "ip_anon": ctx.ip_anon,
    }
    if body is not None:
        text = body[:MAX_DEAD_LETTER_RAW].decode("utf-8", "replace")
        letter["body"] = text
        letter["body_bytes"] = len(body)
    else:
        if ctx.denied is not None and isinstance(event, dict):
            event = {k: v for k, v in event.items() if k not in IDENTIFIERS}
        letter["index"] = index
        raw = json.dumps(event, ensure_ascii=False, default=str)
        if len(raw) <= MAX_DEAD_LETTER_RAW:
            letter["event"] = event
        else:
            letter["event_truncated"] = raw[:MAX_DEAD_LETTER_RAW]
    key = ctx.visitor_id.encode() if ctx.visitor_id else None
    return Record(ctx.dead_letter_topic, key, _dumps(letter, ascii_only=True))


def _key(event: dict[str, Any]) -> bytes:
    """Partition key: the visitor, so one visitor's events stay in order on one partition."""
    return str(event.get("visitor_id") or event.get("user_id") or event["event_id"]).encode()


def _dumps(document: Any, ascii_only: bool = False) -> bytes:
    # dead letters only (valid events go through orjson): a raw event may hold lone surrogates,
    # which only \u escapes can carry, and numbers orjson refuses (over 64 bits)
    return json.dumps(document, ensure_ascii=ascii_only, separators=(",", ":"),
                      default=str).encode("utf-8")
