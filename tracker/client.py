"""The Python tracker client: a site backend's server-side events, sent to the collector.

    from tracker.client import Tracker

    tracker = Tracker("https://collect.example.com")
    tracker.identify("u-9", visitor_id=cookies["cl_vid"])  # at login
    tracker.track("purchase", visitor_id=cookies["cl_vid"], user_id="u-9",
                  order={"order_id": "O-1", "revenue": 99.8, "currency": "EUR"},
                  user_agent=request.headers.get("User-Agent"))

- **Validated where it is made:** ``track`` builds a contract event and raises
  :class:`~tracker.contract.ContractViolation` naming each bad field, so a mistake shows up in
  the backend's own traceback, not later in the dead-letter topic.
- **Batched:** a background thread sends up to ``batch_size`` events per request (and never a
  body over the collector's limit), at the latest ``flush_interval_s`` after an event arrives.
- **Retried:** connection errors, timeouts, 408, 429 and 5xx are retried with exponential
  backoff and jitter (honouring ``Retry-After``) until they succeed or the tracker is closed;
  events stay in order. Other 4xx answers cannot be fixed by retrying: they are logged at
  ERROR with the collector's explanation and counted in ``stats["dropped"]``.
- **Thread-safe:** any thread may ``track``; one thread per process sends. After ``os.fork``
  the child starts with an empty queue and its own sender (the parent keeps its events).
- **Flushed at exit:** ``close()`` (also run by ``atexit`` and by ``with Tracker(...)``) sends
  what is queued within ``close_timeout_s``; events still unsent then are logged at ERROR with
  their count, never dropped silently.

A retried request may have been stored by the collector before the connection broke, so an
event can arrive twice; every consumer deduplicates on ``event_id``.

:class:`Decider` is the other direction: a backend asking the personalization API which content
to render for a visitor (``Decider.decide``), so the next page is personalized on the server.
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import os
import random
import threading
import time
import weakref
from datetime import UTC, datetime
from typing import Any

import requests

from tracker.contract import LIMITS, check_event, format_timestamp, new_event

log = logging.getLogger(__name__)

USER_AGENT = "clickloop-python/0.1"
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
BODY_BUDGET = LIMITS.max_body_bytes - 4096  # room for sent_ts stamps and the envelope


class TrackerQueueFull(RuntimeError):
    """``max_queue`` events are waiting (the collector has been unreachable for a while)."""


class Tracker:
    """Batches, sends and retries events to a Clickloop collector. See the module docstring."""

    def __init__(
        self,
        collector_url: str,
        *,
        batch_size: int = 20,
        flush_interval_s: float = 1.0,
        max_queue: int = 10_000,
        enqueue_timeout_s: float = 1.0,
        request_timeout_s: float = 10.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        close_timeout_s: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        if not 1 <= batch_size <= LIMITS.max_batch_events:
            raise ValueError(f"batch_size must be 1..{LIMITS.max_batch_events}")
        self.endpoint = collector_url.rstrip("/") + "/v1/events"
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_queue = max_queue
        self.enqueue_timeout_s = enqueue_timeout_s
        self.request_timeout_s = request_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.close_timeout_s = close_timeout_s
        self._session_arg = session
        self._reset()
        atexit.register(_close_at_exit, weakref.ref(self))

    def _reset(self) -> None:
        """Fresh per-process state (at construction, and in a forked child)."""
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._queue: collections.deque[tuple[float, dict[str, Any]]] = collections.deque()
        self._in_flight: list[dict[str, Any]] = []
        self._flushing = 0
        self._closing = False
        self._deadline: float | None = None
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._session = self._session_arg or requests.Session()
        self._session.headers.setdefault("User-Agent", USER_AGENT)
        self.stats = {"accepted": 0, "rejected": 0, "dropped": 0, "retries": 0}

    # --- public API ---------------------------------------------------------------------------

    def track(self, event_type: str, *, user_agent: str | None = None,
              at: datetime | None = None, **fields: Any) -> str:
        """Queue one event; returns its ``event_id``.

        ``fields`` are contract fields (``visitor_id``, ``user_id``, ``url``, ``order``, ...);
        ``user_agent`` is the visitor's, sent as ``context.user_agent`` so the collector parses
        it instead of this client's; ``at`` is when it happened (default: now).
        """
        if user_agent:
            fields["context"] = {**(fields.get("context") or {}), "user_agent": user_agent[:512]}
        event = new_event(event_type, at=at, **fields)
        self._enqueue(event)
        return event["event_id"]

    def identify(self, user_id: str, *, visitor_id: str, user_agent: str | None = None,
                 at: datetime | None = None, **fields: Any) -> str:
        """Link the browser ``visitor_id`` (its ``cl_vid`` cookie, read from the request) to
        ``user_id``, e.g. when that browser logs in; returns the ``event_id``.

        The same ``identify`` event as the snippet's ``clickloop('identify', uid)``. The link
        holds for the rest of that browser's visit; send ``user_id`` with later events of the
        visit too (docs/personalization.md: stitching). Under denied consent the collector
        refuses it (linking a person is what was declined).
        """
        if not isinstance(user_id, str) or not user_id.strip():
            raise ValueError(f"user_id: identify needs a non-empty user id, got {user_id!r}")
        return self.track("identify", visitor_id=visitor_id, user_id=user_id,
                          user_agent=user_agent, at=at, **fields)

    def send(self, event: dict[str, Any]) -> str:
        """Queue a complete contract event (validated here); returns its ``event_id``."""
        self._enqueue(dict(check_event(event)))
        return event["event_id"]

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued now; True once nothing is queued or in flight."""
        self._ensure_process()
        deadline = time.monotonic() + (self.close_timeout_s if timeout is None else timeout)
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._queue or self._in_flight:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(remaining)
                return True
            finally:
                self._flushing -= 1

    def close(self, timeout: float | None = None) -> int:
        """Flush within ``timeout`` and stop; returns how many events could not be sent."""
        if self._pid != os.getpid():
            return 0  # a forked child never sends its parent's events
        timeout = self.close_timeout_s if timeout is None else timeout
        with self._cond:
            if self._closing:
                return len(self._queue) + len(self._in_flight)
            self._closing = True
            self._deadline = time.monotonic() + timeout
            self._closed.set()
            self._cond.notify_all()
        thread = self._thread
        if thread is not None:
            thread.join(timeout + self.request_timeout_s)
        with self._cond:
            unsent = len(self._queue) + len(self._in_flight)
        if unsent:
            log.error("clickloop tracker closed with %d events unsent to %s (collector "
                      "unreachable)", unsent, self.endpoint)
        return unsent

    @property
    def pending(self) -> int:
        """Events queued or in flight."""
        with self._cond:
            return len(self._queue) + len(self._in_flight)

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- queue ------------------------------------------------------------------------------------

    def _ensure_process(self) -> None:
        if self._pid != os.getpid():
            self._reset()

    def _enqueue(self, event: dict[str, Any]) -> None:
        self._ensure_process()
        deadline = time.monotonic() + self.enqueue_timeout_s
        with self._cond:
            if self._closing:
                raise RuntimeError("the tracker is closed")
            while len(self._queue) >= self.max_queue:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TrackerQueueFull(f"{self.max_queue} events are waiting for "
                                           f"{self.endpoint}")
                self._cond.wait(remaining)
            self._queue.append((time.monotonic(), event))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="clickloop-tracker",
                                                daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _next_batch(self) -> list[dict[str, Any]] | None:
        """Wait for a batch to send; None when closing and nothing is left."""
        with self._cond:
            while True:
                if self._queue:
                    due = self._queue[0][0] + self.flush_interval_s
                    if (len(self._queue) >= self.batch_size or self._flushing or self._closing
                            or time.monotonic() >= due):
                        break
                    self._cond.wait(max(0.0, due - time.monotonic()))
                elif self._closing:
                    return None
                else:
                    self._cond.wait()
            batch: list[dict[str, Any]] = []
            size = 0
            while self._queue and len(batch) < self.batch_size:
                event_size = len(json.dumps(self._queue[0][1], ensure_ascii=False).encode()) + 1
                if batch and size + event_size > BODY_BUDGET:
                    break
                batch.append(self._queue.popleft()[1])
                size += event_size
            self._in_flight = batch
            self._cond.notify_all()  # room in the queue for blocked producers
            return batch

    # --- sending --------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            if not self._deliver(batch):
                with self._cond:  # closing past the deadline: keep them counted as unsent
                    self._queue.extendleft((0.0, e) for e in reversed(self._in_flight))
                    self._in_flight = []
                    self._cond.notify_all()
                return
            with self._cond:
                self._in_flight = []
                self._cond.notify_all()

    def _deliver(self, batch: list[dict[str, Any]]) -> bool:
        """Send until the collector has answered for good; False if closing ran out of time."""
        attempt = 0
        while True:
            stamp = format_timestamp(datetime.now(UTC))  # restamped per attempt: skew correction
            body = json.dumps({"events": [{**e, "sent_ts": stamp} for e in batch]},
                              ensure_ascii=False, separators=(",", ":")).encode()
            wait = None
            try:
                response = self._session.post(self.endpoint, data=body,
                                              headers={"Content-Type": "application/json"},
                                              timeout=self.request_timeout_s)
            except requests.RequestException as exc:
                log.warning("collector %s unreachable (%s); will retry", self.endpoint, exc)
            else:
                if response.status_code not in RETRY_STATUSES:
                    self._settle(batch, response)
                    return True
                wait = _retry_after(response)
                log.warning("collector answered %d; will retry", response.status_code)
            attempt += 1
            self.stats["retries"] += 1
            delay = min(self.backoff_max_s, self.backoff_initial_s * 2 ** min(attempt, 20))
            delay = max(delay * random.uniform(0.5, 1.0), wait or 0.0)
            if self._deadline is not None:
                delay = min(delay, self._deadline - time.monotonic())
                if delay <= 0:
                    return False
            if self._closed.is_set():
                time.sleep(delay)
            else:
                self._closed.wait(delay)  # close() cuts this backoff short for a prompt retry

    def _settle(self, batch: list[dict[str, Any]], response: requests.Response) -> None:
        try:
            document = response.json()
        except ValueError:
            document = {}
        if response.ok or "rejected" in document:
            rejected = document.get("rejected") or []
            self.stats["accepted"] += int(document.get("accepted", 0))
            self.stats["rejected"] += len(rejected)
            for item in rejected:  # dead-lettered by the collector; say why here too
                log.error("collector rejected event %s: %s",
                          batch[item["index"]].get("event_id"), item["errors"])
            return
        self.stats["dropped"] += len(batch)
        log.error("collector refused a batch of %d events with %d: %s", len(batch),
                  response.status_code, document.get("error", response.text[:300]))


class DecisionRefused(ValueError):
    """The decision API refused the request as made (bad token, unknown slot, bad field): a
    mistake in the calling code or its configuration, which retrying cannot fix."""

    def __init__(self, status: int, message: str, field: str | None):
        super().__init__(f"decision API answered {status}: {message}"
                         + (f" (field {field})" if field else ""))
        self.status = status
        self.field = field


class Decider:
    """Decisions for server-side rendering, from the personalization API's backend route.

        decider = Decider("https://personalize.example.com", token=os.environ["CL_API_TOKEN"])
        decisions = decider.decide(request.cookies.get("cl_vid"), ["hero"],
                                   page=request.url, product="SKU-1")
        hero = decisions.get("hero")  # None: render the page's default content

    The visitor id is the collector's first-party ``cl_vid`` cookie as the browser sent it to
    the site (None without one: the defaults, outside the experiment). The API applies the same
    holdout, rules, bandit and decision log as for the snippet; a page that renders a decision
    reports it with a ``personalization_shown`` event carrying ``decision_id``, ``slot``,
    ``variant`` and ``arm`` (the snippet does it for an element with ``data-cl-decision``).

    A page must render whatever happens: when the API is slow (``timeout_s``) or unavailable
    the answer is ``{}`` (logged, counted in ``stats["failed"]``); a request the API refuses
    (4xx) raises :class:`DecisionRefused` naming the field, since retrying cannot fix it.
    """

    def __init__(self, api_url: str, *, token: str, timeout_s: float = 0.25,
                 session: requests.Session | None = None) -> None:
        if not token:
            raise ValueError("token: the API's CLICKLOOP_API_TOKEN is required")
        self.endpoint = api_url.rstrip("/") + "/v1/decisions"
        self.timeout_s = timeout_s
        self._session = session or requests.Session()
        self._session.headers.update({"User-Agent": USER_AGENT,
                                      "Authorization": f"Bearer {token}"})
        self.stats = {"decided": 0, "failed": 0}

    def decide(self, visitor_id: str | None, slots: list[str] | tuple[str, ...], *,
               page: str | None = None, product: str | None = None) -> dict[str, dict[str, Any]]:
        """Slot name -> decision (as the API answers it) for ``slots``; ``{}`` on failure."""
        body: dict[str, Any] = {"visitor_id": visitor_id, "slots": list(slots)}
        if page is not None:
            body["page"] = page[:2048]
        if product is not None:
            body["product"] = product
        try:
            response = self._session.post(self.endpoint, json=body, timeout=self.timeout_s)
        except requests.RequestException as exc:
            return self._failed(f"unreachable ({exc})")
        if response.status_code >= 500:
            return self._failed(f"answered {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            return self._failed(f"answered {response.status_code} without JSON")
        if not response.ok:
            raise DecisionRefused(response.status_code, str(document.get("error")),
                                  document.get("field"))
        self.stats["decided"] += 1
        return {d["slot"]: d for d in document.get("decisions", [])}

    def _failed(self, why: str) -> dict[str, dict[str, Any]]:
        self.stats["failed"] += 1
        log.warning("decision API %s %s: rendering the default content", self.endpoint, why)
        return {}

    def close(self) -> None:
        self._session.close()


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return min(float(value), 300.0)
    except ValueError:
        return None


def _close_at_exit(ref: weakref.ReferenceType[Tracker]) -> None:
    tracker = ref()
    if tracker is not None:
        tracker.close()
