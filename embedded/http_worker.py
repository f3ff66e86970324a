"""``BalancedThreadWorker``: gunicorn's gthread worker that does not keep a connection for good.

gunicorn leaves a keep-alive connection with the worker process that accepted it. A few busy
persistent clients (a proxy's upstream pool, a site backend's HTTP session, a load test) can
thus pile onto one worker -- one GIL, one core -- while another idles: on the collector's
benchmark one worker held most of 16 connections and ran at 0.89 of a core against 0.49, and
the rate halved. Closing a connection after :data:`REQUESTS_PER_CONNECTION` requests (answered
``Connection: close``) makes the client reconnect, and the worker with spare time tends to
accept first; nginx's ``keepalive_requests`` exists for the same reason. Browsers, which send a
few requests per connection, never notice.

Every HTTP server of the project runs it (``worker_class`` in each ``gunicorn.conf.py``); the
collector's own worker builds on it.
"""

from __future__ import annotations

from typing import Any

from gunicorn.workers.gthread import ThreadWorker

REQUESTS_PER_CONNECTION = 100


class BalancedThreadWorker(ThreadWorker):
    """``worker_class = "embedded.http_worker.BalancedThreadWorker"``."""

    def handle_request(self, req: Any, conn: Any) -> bool:
        served = getattr(conn, "clickloop_served", 0) + 1
        conn.clickloop_served = served  # gunicorn's TConn has no __slots__
        if served >= REQUESTS_PER_CONNECTION:
            req.must_close = True  # gunicorn answers "Connection: close" and closes
        return super().handle_request(req, conn)
