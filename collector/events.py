"""``POST /v1/events`` (JSON batches) and ``GET /v1/p.gif`` (the pixel): the collector's job.

Order of checks, cheapest first, each answered with a JSON body naming what is wrong:
origin (403) -> content type and encoding (415) -> body size (413) -> body as a batch
(400/413) and each event (:func:`tracker.contract.compiled.check_batch`) -> identity, enrichment
(:mod:`collector.pipeline`) ->
storage (503 when neither Kafka nor the spool can take the batch).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, request

from collector.cors import allow, origin_allowed, own_origin, preflight
from collector.identity import cookie_max_age, denial_reason, new_visitor_id, valid_visitor_id
from collector.pipeline import BROWSER_SOURCES, BatchContext, Outcome, dead_letter, process_events
from collector.pixel import PIXEL_GIF, pixel_event
from collector.responses import error_response, json_response
from collector.sinks import Record, SinkError, SinkFull
from collector.state import CollectorState, get_state
from enrichment import anonymise_ip, client_ip
from tracker.contract import LIMITS, BatchError, ContractError, format_timestamp
from tracker.contract.compiled import check_batch, check_event

log = logging.getLogger(__name__)
bp = Blueprint("events", __name__)

ACCEPTED_TYPES = ("application/json", "text/plain")
RETRY_AFTER_S = "5"
NO_STORE = "no-store, no-cache, must-revalidate, max-age=0"


@bp.route("/v1/events", methods=["POST", "OPTIONS"])
def post_events() -> Response:
    state = get_state()
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(
        origin, state.settings.collector.allowed_origins, own_origin(request)
    ):
        return error_response(403, "Origin", f"origin {origin[:200]!r} may not send events; "
                                             f"the collector's allowed origins must list it")
    if request.method == "OPTIONS":
        if origin is None:
            return error_response(400, "Origin", "a CORS preflight needs an Origin header")
        return preflight(origin)
    response = _receive_batch(state, "js" if origin is not None else "server")
    return allow(response, origin) if origin is not None else response


@bp.get("/v1/p.gif")
def pixel() -> Response:
    state = get_state()
    now = state.clock()
    event = pixel_event(request.args.items(multi=True), collector_ts=format_timestamp(now),
                        page_url=request.referrer)
    ctx = _context(state, now, "pixel", [event])
    outcome = process_events([check_event(event, now=now)], ctx, state.enrichers)
    failure = _store(state, outcome.records)
    if failure is not None:
        return failure
    _count(state, outcome, "pixel")
    if outcome.status != 200:
        response = json_response(outcome.response(), outcome.status)
    else:
        response = Response(PIXEL_GIF, mimetype="image/gif")
    response.headers["Cache-Control"] = NO_STORE
    response.headers["Pragma"] = "no-cache"
    response.headers["Expires"] = "0"
    return _cookie(state, ctx, response)


def _receive_batch(state: CollectorState, source: str) -> Response:
    now = state.clock()
    problem = _check_headers()
    if problem is not None:
        return problem
    limit = LIMITS.max_body_bytes
    declared = request.content_length
    if declared is not None and declared > limit:
        body = _read(min(declared, 64 * 1024))
        error = BatchError(413, "body", f"is {declared} bytes; the limit is {limit}")
        return _body_error(state, _context(state, now, source, []), error, body, declared)
    body = _read(limit + 1)
    try:
        checked = check_batch(body, now=now)
    except BatchError as error:
        return _body_error(state, _context(state, now, source, []), error, body, len(body))
    ctx = _context(state, now, source, [c.event for c in checked])
    outcome = process_events(checked, ctx, state.enrichers)
    failure = _store(state, outcome.records)
    if failure is not None:
        return failure
    _count(state, outcome, source)
    response = json_response(outcome.response(), outcome.status)
    response.headers["Cache-Control"] = "no-store"
    return _cookie(state, ctx, response)


def _check_headers() -> Response | None:
    if request.mimetype not in ACCEPTED_TYPES:
        got = request.headers.get("Content-Type") or "nothing"
        return error_response(415, "Content-Type", f"must be application/json or text/plain "
                                                   f"(UTF-8 JSON); got {got[:100]!r}")
    charset = request.mimetype_params.get("charset")
    if charset is not None and charset.lower().replace("-", "").replace("_", "") != "utf8":
        return error_response(415, "Content-Type", f"charset must be utf-8; got {charset[:40]!r}")
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        return error_response(415, "Content-Encoding", f"must be identity (uncompressed); got "
                                                       f"{encoding[:40]!r}")
    return None


def _read(limit: int) -> bytes:
    """Up to ``limit`` bytes of the body, whatever the chunking."""
    chunks: list[bytes] = []
    remaining = limit
    stream = request.stream
    while remaining > 0:
        chunk = stream.read(min(remaining, 64 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _context(state: CollectorState, now: datetime, source: str, events: list[Any]) -> BatchContext:
    c = state.settings.collector
    ip = client_ip(request.remote_addr, request.headers.get("X-Forwarded-For"),
                   c.trusted_proxies)
    denied = denial_reason(request.headers, events, honour_dnt=c.honour_dnt,
                           honour_gpc=c.honour_gpc, cookieless=c.cookieless)
    visitor_id = None
    if source in BROWSER_SOURCES and denied is None:
        visitor_id = valid_visitor_id(request.cookies.get(c.cookie_name)) or new_visitor_id()
    return BatchContext(
        now=now, source=source, topic=state.settings.kafka.topic,
        dead_letter_topic=state.settings.kafka.dead_letter_topic,
        ip=ip, ip_anon=anonymise_ip(ip, c.ipv4_prefix, c.ipv6_prefix),
        user_agent=request.headers.get("User-Agent") or None,
        denied=denied, visitor_id=visitor_id,
        salt=state.salt.for_day(now.date()) if denied is not None else b"",
    )


def _body_error(state: CollectorState, ctx: BatchContext, error: BatchError, body: bytes,
                size: int) -> Response:
    """Answer a body-level problem; its raw slice goes to the dead-letter topic (best effort:
    the client's mistake is answered even if storage is failing)."""
    letter = dead_letter(ctx, [ContractError(error.field, error.message)], body=body)
    try:
        state.sink.store([letter])
    except SinkError as exc:
        log.warning("dead letter for a bad body not stored: %s", exc)
    state.metrics.inc("clickloop_collector_events_rejected_total")
    return error_response(error.status, error.field, error.message)


def _store(state: CollectorState, records: list[Record]) -> Response | None:
    """Store the batch; a 503 response if it could not be (nothing was acknowledged)."""
    if not records:
        return None
    started = time.perf_counter()
    try:
        state.sink.store(records)
    except SinkFull as exc:
        state.metrics.inc("clickloop_collector_spool_full_total")
        log.error("refusing a batch: %s", exc)
        return error_response(503, "storage", "Kafka is unavailable and the local spool is "
                                              "full; retry later", {"Retry-After": RETRY_AFTER_S})
    except SinkError as exc:
        log.error("refusing a batch: %s", exc)
        return error_response(503, "storage", "events could not be stored; retry later",
                              {"Retry-After": RETRY_AFTER_S})
    state.metrics.observe_latency(time.perf_counter() - started)
    return None


def _count(state: CollectorState, outcome: Outcome, source: str) -> None:
    if outcome.accepted:
        state.metrics.inc("clickloop_collector_events_accepted_total", outcome.accepted,
                          source=source)
    if outcome.rejected:
        state.metrics.inc("clickloop_collector_events_rejected_total", len(outcome.rejected))


def _cookie(state: CollectorState, ctx: BatchContext, response: Response) -> Response:
    """Set or renew the visitor cookie for browsers; expire it when consent is denied."""
    if ctx.source not in BROWSER_SOURCES:
        return response
    c = state.settings.collector
    secure = request.is_secure or (
        c.trusted_proxies > 0 and request.headers.get("X-Forwarded-Proto", "") == "https"
    )
    if ctx.denied is not None:
        if c.cookie_name in request.cookies:
            response.delete_cookie(c.cookie_name, domain=c.cookie_domain, secure=secure,
                                   httponly=True, samesite="Lax")
    elif ctx.visitor_id:
        response.set_cookie(c.cookie_name, ctx.visitor_id, max_age=cookie_max_age(
            c.cookie_max_age_days), domain=c.cookie_domain, secure=secure, httponly=True,
            samesite="Lax")
    return response
