"""Decoding + validating one 20-event batch: the compiled contract against the reference path.

Side by side, in one process, on the same body (a realistic browser batch: page views with
context, product views, cart adds, a search, pings, a purchase):

- the reference: ``decode_batch`` (json.loads + nesting walk) then ``validate_event`` per event
  (per-field Python, the size check encoding each event again) -- what the collector ran before;
- ``check_batch``: the msgspec types compiled from ``spec.py`` (sizes and depth in the same
  pass), falling back to the reference only for events it does not accept;
- encoding the 20 records: ``json.dumps`` against ``orjson.dumps``.

Prints CPU microseconds per batch (best of ``--repeat`` rounds) and the ratio.

    .venv/bin/python bench/contract_validation.py [--rounds 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from tracker.contract import decode_batch, encode_batch, new_event, validate_event  # noqa: E402
from tracker.contract.compiled import check_batch  # noqa: E402

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PRODUCT = {"sku": "SKU-42", "name": "Trail shoe", "category": "Shoes/Running", "price": 89.9,
           "currency": "EUR", "quantity": 1}
CONTEXT = {"screen_width": 1920, "screen_height": 1080, "viewport_width": 1200,
           "viewport_height": 800, "language": "en-GB", "timezone": "Europe/London"}


def batch_events() -> list[dict]:
    """20 events as the snippet sends them for one busy visitor."""
    at = NOW - timedelta(seconds=30)
    common = {"visitor_id": "4f2a9c1e0b9f4f3e8a434c3e9d596f1e", "session_id": "s-1a2b3c",
              "sent_ts": "2026-11-23T09:59:59.000Z", "consent": "granted"}
    url = "https://shop.example.com/p/42?utm_source=news&utm_medium=email"
    events = []
    for i in range(20):
        kind = i % 5
        if kind == 0:
            e = new_event("page_view", at=at, url=url, referrer="https://www.google.com/",
                          title="Trail shoes | Shop", context=CONTEXT, **common)
        elif kind == 1:
            e = new_event("product_view", at=at, url=url, product=PRODUCT, **common)
        elif kind == 2:
            e = new_event("page_ping", at=at, url=url, engaged_ms=10_000, **common)
        elif kind == 3:
            e = new_event("add_to_cart", at=at, url=url, product=PRODUCT,
                          properties={"list": "search results", "position": 3}, **common)
        else:
            e = new_event("search", at=at, url=url, query="trail running shoes", **common)
        events.append(e)
    events[-1] = new_event("purchase", at=at, url=url, order={
        "order_id": "O-1001", "revenue": 99.8, "currency": "EUR", "tax": 15.9, "shipping": 9.9,
        "items": [PRODUCT, {**PRODUCT, "sku": "SKU-7"}]}, **common)
    return events


def reference(body: bytes) -> int:
    events = decode_batch(body)
    return sum(1 for e in events if not validate_event(e, now=NOW))


def compiled(body: bytes) -> int:
    return sum(1 for c in check_batch(body, now=NOW) if not c.errors)


def best(fn: Callable[[], object], rounds: int, repeat: int) -> float:
    """Best microseconds per call over ``repeat`` rounds of ``rounds`` calls."""
    times = []
    for _ in range(repeat):
        started = time.process_time()  # CPU time: the machine is shared
        for _ in range(rounds):
            fn()
        times.append((time.process_time() - started) / rounds * 1e6)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    events = batch_events()
    body = encode_batch(events)
    assert reference(body) == compiled(body) == 20, "the batch must be valid for both paths"
    ref = best(lambda: reference(body), args.rounds, args.repeat)
    new = best(lambda: compiled(body), args.rounds, args.repeat)
    enc_json = best(lambda: [json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode()
                             for e in events], args.rounds, args.repeat)
    enc_orjson = best(lambda: [orjson.dumps(e) for e in events], args.rounds, args.repeat)
    print(f"20-event batch, {len(body)} bytes")
    print(f"decode+validate  reference {ref:8.1f} us   compiled {new:8.1f} us   "
          f"ratio {ref / new:5.1f}x")
    print(f"encode 20 events json.dumps {enc_json:7.1f} us   orjson  {enc_orjson:8.1f} us   "
          f"ratio {enc_json / enc_orjson:5.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
