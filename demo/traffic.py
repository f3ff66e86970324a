"""Send the simulator's requests over HTTP, exactly as browsers and the shop's backend would.

Per simulated visitor there is one cookie jar, so the collector's ``cl_vid`` cookie is kept and
sent back like a browser does (returning visitors come back with it); crawlers fetch with an
empty jar every time, and Do-Not-Track visitors send ``DNT: 1`` and no cookies at all (the
snippet sends with ``credentials: 'omit'`` then). Each request carries the visitor's
``User-Agent``, the shop's ``Origin`` (snippet requests are cross-origin CORS requests from the
shop's pages) and the ``Referer`` a browser sends cross-origin (the shop's origin only):

- ``js``: ``POST /v1/events`` with ``Content-Type: text/plain;charset=UTF-8`` and body
  ``{"events": [...]}``, what ``fetch``/``sendBeacon`` send;
- ``pixel``: ``GET /v1/p.gif?...``, the ``<noscript>`` image of a no-JS page or a crawler;
- ``server``: the shop's backend confirming an order with the Python tracker client
  (:class:`tracker.client.Tracker`, as the shop does), with ``visitor_id`` read from the
  visitor's ``cl_vid`` cookie (as the shop reads it from its own request);
- decisions: ``GET <api>/v1/decide?slot=...`` with the visitor's cookies, as the snippet asks.

Time: events keep their simulated ``client_ts``; ``sent_ts`` is stamped with the real clock at
send time, as the snippet stamps it. The collector's skew correction
(``derived_ts = collector_ts - (sent_ts - client_ts)``) then puts every event back at its
simulated moment, as if each browser had kept its events in its offline queue until now: a run
of simulated days takes seconds and the pipeline still sees days. ``speed`` paces sending
instead (``1.0`` = real time, for a live demo).

Optionally the sender plays the shop's reverse proxy too and adds ``X-Forwarded-For`` with the
visitor's address (the collector must trust one proxy, ``CLICKLOOP_TRUSTED_PROXIES=1``), so
geo, anonymised IPs and cookieless hashes differ per visitor as they would in production.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.cookies import RequestsCookieJar

from simulation.records import Decision, DecisionRequest, Request, Visitor
from simulation.simulator import Simulation
from tracker.client import Tracker
from tracker.contract import encode_batch, format_timestamp

JS_CONTENT_TYPE = "text/plain;charset=UTF-8"  # what fetch/sendBeacon send for a string body


@dataclass(frozen=True)
class TrafficConfig:
    """Where to send and how. ``api_url`` unset: no decisions are asked for."""

    collector_url: str
    api_url: str | None = None
    cookie_name: str = "cl_vid"
    speed: float | None = None  # None: as fast as possible; 1.0: real time
    forwarded_for: bool = False  # add X-Forwarded-For: <visitor ip>
    timeout_s: float = 10.0
    decide_timeout_s: float = 1.0  # the snippet's decision timeout
    retries: int = 4  # like the snippet, a failed send (network, 408, 429, 5xx) is retried

    def __post_init__(self) -> None:
        for name in ("collector_url", "api_url"):
            value = getattr(self, name)
            if value is not None and not value.startswith(("http://", "https://")):
                raise ValueError(f"{name} must be an http(s) URL, got {value!r}")
        if self.speed is not None and self.speed <= 0:
            raise ValueError(f"speed must be > 0, got {self.speed}")


@dataclass
class TrafficStats:
    """What happened on the wire. ``accepted`` counts events the collector answered 2xx for
    and did not list as rejected; ``rejected`` lists the ones it refused, with its reasons."""

    requests: Counter[str] = field(default_factory=Counter)  # by channel
    events_sent: int = 0
    accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)  # requests given up on
    decisions_asked: int = 0
    decisions_answered: int = 0
    visitor_ids: dict[str, str] = field(default_factory=dict)  # simulator key -> cl_vid

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(sorted(self.requests.items())),
            "events_sent": self.events_sent,
            "accepted": self.accepted,
            "rejected": len(self.rejected),
            "failed_requests": len(self.failed),
            "decisions_asked": self.decisions_asked,
            "decisions_answered": self.decisions_answered,
            "visitors_with_cookie": len(self.visitor_ids),
        }


class Traffic:
    """Sends requests for many simulated browsers, several at once, each browser in order.

    Browsers are concurrent; one browser is sequential. Every visitor is pinned to one of
    ``workers`` lanes (a thread with its own connection pool); a lane sends its requests in
    simulated-time order, so a visitor's cookie is set before their next request, and a
    decision waits until that visitor's earlier events have been delivered. Across visitors,
    requests leave in simulated-time order up to the few in flight.
    """

    def __init__(self, config: TrafficConfig, *, shop_url: str, workers: int = 16,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 sleep: Callable[[float], None] = time.sleep):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.config = config
        parts = urlsplit(shop_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.clock = clock
        self.sleep = sleep
        self.stats = TrafficStats()
        self._lanes = [_Lane(i) for i in range(workers)]
        self._in_flight = threading.BoundedSemaphore(workers * 4)
        self._lock = threading.Lock()  # stats and jars
        self._jars: dict[str, RequestsCookieJar] = {}
        self._pace: tuple[float, datetime] | None = None
        self._error: BaseException | None = None

    # the simulation's decide hook -------------------------------------------------------------

    def decide(self, req: DecisionRequest) -> Decision | None:
        """Ask the decision API as the snippet does; None (default content) on any failure.

        Runs in the visitor's lane, after their earlier requests, and waits for the answer.
        """
        if self.config.api_url is None:
            return None
        self._wait_until(req.at)
        lane = self._lane(req.visit.visitor)
        return lane.pool.submit(self._decide, lane, req).result()

    def _decide(self, lane: _Lane, req: DecisionRequest) -> Decision | None:
        with self._lock:
            self.stats.decisions_asked += 1
        visitor = req.visit.visitor
        try:
            response = self._http(
                lane, "GET", f"{self.config.api_url}/v1/decide", visitor,
                params={"slot": req.slot}, timeout=self.config.decide_timeout_s,
                headers=self._browser_headers(visitor),
            )
            body = response.json() if response.status_code == 200 else None
        except (requests.RequestException, ValueError):
            return None
        if not isinstance(body, dict) or not body.get("decision_id") or "variant" not in body:
            return None
        with self._lock:
            self.stats.decisions_answered += 1
        return Decision(str(body["decision_id"]), str(body["variant"]),
                        str(body["arm"]) if body.get("arm") else None)

    # sending ----------------------------------------------------------------------------------

    def send(self, request: Request) -> None:
        """Queue one request on its visitor's lane (returns at once; :meth:`drain` waits)."""
        if self._error is not None:
            raise RuntimeError("a send failed unexpectedly") from self._error
        self._wait_until(request.at)
        with self._lock:
            self.stats.requests[request.channel] += 1
            self.stats.events_sent += len(request.events)
        lane = self._lane(request.visitor)
        self._in_flight.acquire()
        lane.pool.submit(self._send_now, lane, request)

    def drain(self) -> TrafficStats:
        """Wait until every queued request has been answered (or given up on)."""
        for lane in self._lanes:
            lane.pool.submit(lambda: None).result()
        if self._error is not None:
            raise RuntimeError("a send failed unexpectedly") from self._error
        return self.stats

    def run(self, simulation: Simulation, *,
            progress: Callable[[TrafficStats], None] | None = None,
            progress_every: int = 500) -> TrafficStats:
        """Drive ``simulation`` to its end, sending as it goes. The simulation must have been
        built with ``decide=traffic.decide`` for decisions to reach the API."""
        for count, request in enumerate(simulation.requests(), start=1):
            self.send(request)
            if progress is not None and count % progress_every == 0:
                progress(self.stats)
        self.drain()
        if progress is not None:
            progress(self.stats)
        return self.stats

    def close(self) -> None:
        for lane in self._lanes:
            lane.close()

    def write(self, directory: Path) -> Path:
        """``traffic.json``: the counts and the simulator-key → ``cl_vid`` map."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "traffic.json"
        body = {**self.stats.as_dict(), "visitor_ids": self.stats.visitor_ids,
                "rejected_events": self.stats.rejected, "failed": self.stats.failed}
        path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
        return path

    # channels ---------------------------------------------------------------------------------

    def _send_now(self, lane: _Lane, request: Request) -> None:
        try:
            if request.channel == "pixel":
                self._send_pixel(lane, request)
            elif request.channel == "server":
                self._send_server(lane, request)
            else:
                self._send_js(lane, request)
        except BaseException as exc:  # surfaced by the next send() or drain()
            self._error = exc
        finally:
            self._in_flight.release()

    def _send_js(self, lane: _Lane, request: Request) -> None:
        visitor = request.visitor
        headers = {**self._browser_headers(visitor), "Content-Type": JS_CONTENT_TYPE}
        response = self._deliver(lane, "POST", f"{self.config.collector_url}/v1/events",
                                 visitor, request, body=lambda: self._body(request.events),
                                 headers=headers)
        self._account(request, response)

    def _send_pixel(self, lane: _Lane, request: Request) -> None:
        visitor = request.visitor
        (event,) = request.events
        headers = self._browser_headers(visitor, cors=False)
        headers["Accept"] = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"
        response = self._deliver(
            lane, "GET", f"{self.config.collector_url}/v1/p.gif", visitor, request,
            params=lambda: pixel_params(event, format_timestamp(self.clock())), headers=headers)
        self._account(request, response)

    def _send_server(self, lane: _Lane, request: Request) -> None:
        """The shop's backend confirming an order through the Python tracker client, with the
        visitor id the browser holds in ``cl_vid`` (what the shop reads from its request)."""
        visitor_id = self._cookie(request.visitor)
        tracker = lane.tracker(self.config.collector_url)
        before = dict(tracker.stats)
        for event in request.events:
            event = dict(event)
            if visitor_id and "consent" not in event:
                event["visitor_id"] = visitor_id
            tracker.send(event)
        delivered = tracker.flush(self.config.timeout_s)
        after = tracker.stats
        accepted = after["accepted"] - before["accepted"]
        refused = (after["rejected"] - before["rejected"]) + (after["dropped"] - before["dropped"])
        with self._lock:
            self.stats.accepted += accepted
            if refused:
                self.stats.rejected.append({
                    "visitor": request.visitor.key, "channel": request.channel,
                    "event_id": [e["event_id"] for e in request.events], "status": None,
                    "reason": f"{refused} refused (see the tracker client's log)"})
            if not delivered:
                self.stats.failed.append({
                    "visitor": request.visitor.key, "channel": request.channel,
                    "events": [e["event_id"] for e in request.events],
                    "problem": f"not delivered in {self.config.timeout_s:g}s"})

    def _body(self, events: Iterable[dict[str, Any]]) -> bytes:
        """The wire body, ``sent_ts`` stamped now (at each attempt), as the snippet does."""
        sent = format_timestamp(self.clock())
        return encode_batch([{**event, "sent_ts": sent} for event in events])

    # plumbing ---------------------------------------------------------------------------------

    def _lane(self, visitor: Visitor) -> _Lane:
        return self._lanes[visitor.index % len(self._lanes)]

    def _browser_headers(self, visitor: Visitor, *, cors: bool = True) -> dict[str, str]:
        headers = {
            "User-Agent": visitor.user_agent,
            "Accept-Language": f"{visitor.language},{visitor.language.split('-')[0]};q=0.9",
            "Referer": self.origin + "/",  # strict-origin-when-cross-origin
        }
        if cors:
            headers["Origin"] = self.origin
        if visitor.dnt:
            headers["DNT"] = "1"
        if self.config.forwarded_for:
            headers["X-Forwarded-For"] = visitor.ip
        return headers

    def _jar(self, visitor: Visitor | None) -> RequestsCookieJar:
        """The visitor's cookie jar; a throwaway one for crawlers, DNT visitors and servers."""
        if visitor is None or not visitor.keeps_cookies or visitor.dnt:
            return RequestsCookieJar()
        with self._lock:
            jar = self._jars.get(visitor.key)
            if jar is None:
                jar = self._jars[visitor.key] = RequestsCookieJar()
            return jar

    def _cookie(self, visitor: Visitor) -> str | None:
        with self._lock:
            jar = self._jars.get(visitor.key)
        return jar.get(self.config.cookie_name) if jar is not None else None

    def _http(self, lane: _Lane, method: str, url: str, visitor: Visitor | None,
              **kwargs: Any) -> requests.Response:
        # the lane's pool, the visitor's jar: requests reads and stores cookies through
        # session.cookies, and a lane runs one request at a time
        lane.http.cookies = self._jar(visitor)
        return lane.http.request(method, url, allow_redirects=False, **kwargs)

    def _deliver(self, lane: _Lane, method: str, url: str, visitor: Visitor | None,
                 request: Request, *, body: Callable[[], bytes] | None = None,
                 params: Callable[[], dict[str, str]] | None = None,
                 headers: dict[str, str]) -> requests.Response | None:
        """Send with the snippet's retry rule; None after the last failure (recorded)."""
        delay = 0.5
        problem = ""
        for attempt in range(self.config.retries + 1):
            try:
                response = self._http(lane, method, url, visitor, headers=headers,
                                       data=body() if body else None,
                                       params=params() if params else None,
                                       timeout=self.config.timeout_s)
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if not (response.status_code in (408, 429) or response.status_code >= 500):
                    return response
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
            if attempt < self.config.retries:
                self.sleep(delay)
                delay = min(delay * 2, 8.0)
        with self._lock:
            self.stats.failed.append({"visitor": request.visitor.key,
                                      "channel": request.channel,
                                      "events": [e["event_id"] for e in request.events],
                                      "problem": problem})
        return None

    def _account(self, request: Request, response: requests.Response | None) -> None:
        if response is None:
            return
        visitor = request.visitor
        cookie = self._cookie(visitor)
        rejected = rejected_indexes(response, len(request.events))
        with self._lock:
            if cookie and visitor.key not in self.stats.visitor_ids:
                self.stats.visitor_ids[visitor.key] = cookie
            for index, reason in rejected:
                self.stats.rejected.append({
                    "visitor": visitor.key, "channel": request.channel,
                    "event_id": request.events[index]["event_id"],
                    "status": response.status_code, "reason": reason})
            self.stats.accepted += len(request.events) - len(rejected)

    def _wait_until(self, at: datetime) -> None:
        """Pace sending when ``speed`` is set: simulated time runs ``speed`` times real time."""
        if self.config.speed is None:
            return
        if self._pace is None:
            self._pace = (time.monotonic(), at)
            return
        started, sim_start = self._pace
        due = started + (at - sim_start).total_seconds() / self.config.speed
        wait = due - time.monotonic()
        if wait > 0:
            self.sleep(wait)


class _Lane:
    """One sending thread with its own HTTP connection pool (and, for the shop's backend, its
    own tracker client)."""

    def __init__(self, number: int):
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"traffic-{number}")
        self.http = requests.Session()
        self._tracker: Tracker | None = None

    def tracker(self, collector_url: str) -> Tracker:
        if self._tracker is None:
            self._tracker = Tracker(collector_url, close_timeout_s=2.0)
        return self._tracker

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.http.close()
        if self._tracker is not None:
            self._tracker.close()


def pixel_params(event: dict[str, Any], sent_ts: str) -> dict[str, str]:
    """The pixel's query parameters (contract field names, as the collector reads them).

    The shop's ``<noscript>`` image renders ``event_type``, ``url``, ``referrer`` and ``title``;
    a real pixel has no clock, so the collector would stamp it on receipt. The simulator adds
    the event's simulated ``client_ts``, its ``event_id`` and ``sent_ts`` = now, the same time
    shift it applies to snippet events, so a no-JS page view lands at its simulated moment too
    (and a resent pixel deduplicates).
    """
    params = {"event_type": "page_view", "url": event["url"]}
    for name in ("referrer", "title", "event_id", "client_ts"):
        if event.get(name):
            params[name] = event[name]
    params["sent_ts"] = sent_ts
    return params


def rejected_indexes(response: requests.Response, count: int) -> list[tuple[int, str]]:
    """``(index, reason)`` of the events the collector refused in this request.

    A 2xx answer lists refused events by index (valid ones were accepted); a 4xx answer
    refused the whole request.
    """
    if 200 <= response.status_code < 300:
        try:
            body = response.json()
        except ValueError:
            return []
        items: Iterable[Any] = body.get("rejected", []) if isinstance(body, dict) else []
        out = []
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("index"), int):
                out.append((item["index"], json.dumps(item.get("errors", item))[:500]))
        return out
    reason = response.text[:500]
    return [(i, f"HTTP {response.status_code}: {reason}") for i in range(count)]
