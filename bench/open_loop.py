"""An open-loop HTTP load generator shared by the server benchmarks.

Request i is due at t0 + i / rate and its latency counts from then, so a stalled server is not
hidden by a client that waits for it before sending the next request (no coordinated omission).
"""

from __future__ import annotations

import http.client
import itertools
import random
import threading
import time
from collections.abc import Callable

# (request number, this connection's random source) -> (method, path, body, headers)
MakeRequest = Callable[[int, random.Random], tuple[str, str, bytes | None, dict[str, str]]]


def open_loop(host: str, port: int, make: MakeRequest, rate: float, duration: float,
              connections: int = 16, ok: Callable[[int], bool] = lambda s: s < 300
              ) -> dict[str, float]:
    """``rate`` requests/s for ``duration`` s over ``connections`` keep-alive connections:
    requests sent, errors, the rate achieved and latency percentiles in ms."""
    total = int(rate * duration)
    counter = itertools.count()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    t0 = time.perf_counter() + 0.5

    def run(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection(host, port, timeout=10)
        mine = []
        while (i := next(counter)) < total:
            due = t0 + i / rate
            if (delay := due - time.perf_counter()) > 0:
                time.sleep(delay)
            method, path, body, headers = make(i, rng)
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                good = ok(response.status)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
                good = False
            mine.append(time.perf_counter() - due)
            if not good:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    latencies.sort()

    def pct(q: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {"sent": len(latencies), "errors": errors[0],
            "achieved": len(latencies) / elapsed if elapsed > 0 else 0.0,
            "p50": pct(0.50), "p99": pct(0.99), "max": pct(1.0)}
