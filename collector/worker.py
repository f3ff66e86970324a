"""gunicorn's gthread worker, except that a request reaches a thread only once it has arrived.

The stock gthread worker hands a connection to a thread as soon as its first bytes arrive; the
thread then blocks reading headers and body. Twenty clients that each announce
``Content-Length: 100000`` and send 12 bytes thus park every thread (2 workers x 8) and the
collector stops answering anyone, ``/healthz`` included. Here the worker's event loop -- which
already watches idle keep-alive connections -- also reads each request while it arrives,
without a thread, and submits it to the pool only when the head and the body (up to what the
handler reads: the contract's body limit, 64 KiB of a body announced too large) are in memory.
A request that has not fully arrived within :data:`ARRIVAL_DEADLINE_S` of its first byte (or of
the connection, for a new one) is answered 408 and closed. In the thread, socket reads and
writes time out after :data:`SOCKET_TIMEOUT_S`, a backstop for what the scan below does not
wait for (a malformed head, pipelined requests).

Only plain HTTP/1.x is pre-read; TLS connections keep gunicorn's behaviour (terminate TLS in
front of the collector, as the docs say).

Built on :class:`embedded.http_worker.BalancedThreadWorker`, so a keep-alive connection is
closed after a quota of requests and persistent clients spread over the workers.
"""

from __future__ import annotations

import contextlib
import errno
import re
import selectors
import time
from collections import deque
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn

from embedded.http_worker import BalancedThreadWorker
from tracker.contract import LIMITS

ARRIVAL_DEADLINE_S = 10.0  # for a whole request (head and body) to arrive
SOCKET_TIMEOUT_S = 10.0  # any single blocking read or write in a worker thread
MAX_HEAD_BYTES = 64 * 1024  # past this without a blank line, gunicorn's parser answers 400
OVERSIZE_READ = 64 * 1024  # what the handler reads of a body announced over the limit
READ_CHUNK = 64 * 1024
_CONTENT_LENGTH = re.compile(rb"\ncontent-length:[ \t]*(\d{1,18})[ \t]*\r")
_TIMEOUT_BODY = (b'{"error": {"status": 408, "field": "body", "message": "the request did not '
                 b'arrive within %d seconds"}}' % ARRIVAL_DEADLINE_S)
TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(_TIMEOUT_BODY), _TIMEOUT_BODY))
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def bytes_needed(buffer: bytes | bytearray, max_body: int = LIMITS.max_body_bytes) -> int | None:
    """How many bytes of ``buffer`` make the request the handler will read; None while more
    must arrive. A head that never ends is handed over once over :data:`MAX_HEAD_BYTES`
    (gunicorn's parser answers it).

    >>> bytes_needed(b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    34
    >>> bytes_needed(b"POST / HTTP/1.1\\r\\nContent-Length: 100000\\r\\n\\r\\n{\\"events\\"")
    >>> bytes_needed(b"POST / HTTP/1.1\\r\\nContent-Length: 2\\r\\n\\r\\n{}")
    40
    >>> chunked = b"POST / HTTP/1.1\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n2\\r\\n{}\\r\\n"
    >>> bytes_needed(chunked), bytes_needed(chunked + b"0\\r\\n\\r\\n")
    (None, 59)
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return len(buffer) if len(buffer) > MAX_HEAD_BYTES else None
    head_length = end + 4
    head = bytes(buffer[:end + 2]).lower()
    if b"\ntransfer-encoding:" in head:
        # chunked: complete after the last chunk ("0", optional trailers, blank line). Body data
        # that looks like it is just handed over early; the thread's socket timeout bounds it
        body = bytes(buffer[head_length:])
        last = body.startswith(b"0\r\n") or b"\r\n0\r\n" in body
        done = (last and body.endswith(b"\r\n\r\n")) or len(body) > max_body
        return len(buffer) if done else None
    match = _CONTENT_LENGTH.search(head)
    declared = int(match.group(1)) if match else 0
    body = declared if declared <= max_body else min(declared, OVERSIZE_READ)
    return head_length + body if len(buffer) - head_length >= body else None


def _expects_continue(buffer: bytes | bytearray) -> bool:
    end = buffer.find(b"\r\n\r\n")
    head = bytes(buffer[:end]).lower()
    return b"\nexpect:" in head and b"100-continue" in head and b" http/1.1\r\n" in head


class _Conn(TConn):
    """A connection that replays its pre-read bytes to gunicorn's parser."""

    arrived = b""
    deadline = 0.0

    def init(self) -> None:
        super().init()
        if self.arrived:
            self.parser.unreader.unread(self.arrived)
            self.arrived = b""
        self.sock.settimeout(SOCKET_TIMEOUT_S)  # the thread set it blocking: bound every call


class _Arrival:
    __slots__ = ("buffer", "conn", "continued", "deadline")

    def __init__(self, conn: _Conn, deadline: float):
        self.conn = conn
        self.buffer = bytearray()
        self.deadline = deadline
        self.continued = False


class CollectorWorker(BalancedThreadWorker):
    """``worker_class = "collector.worker.CollectorWorker"`` (see gunicorn.conf.py)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.arrivals: deque[_Arrival] = deque()  # in deadline order (one fixed deadline)

    def accept(self, listener: Any) -> None:
        if self.cfg.is_ssl:
            super().accept(listener)
            return
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = _Conn(self.cfg, client_sock, client_addr, listener.getsockname())
        self._await_request(conn)

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        """A kept-alive connection has its next request coming: pre-read it too."""
        if not isinstance(conn, _Conn):
            super().on_client_socket_readable(conn, client)
            return
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        arrival = self._await_request(conn)
        self._read(arrival, conn.sock)  # readable now: no need to wait for the next select

    def _await_request(self, conn: _Conn) -> _Arrival:
        arrival = _Arrival(conn, time.monotonic() + ARRIVAL_DEADLINE_S)
        conn.sock.setblocking(False)
        self.arrivals.append(arrival)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read, arrival))
        return arrival

    def _read(self, arrival: _Arrival, sock: Any) -> None:
        try:
            data = sock.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away before its request was complete
            self._drop(arrival)
            return
        arrival.buffer += data
        needed = bytes_needed(arrival.buffer)
        if needed is None:
            if not arrival.continued and _expects_continue(arrival.buffer):
                arrival.continued = True  # the client waits for this before sending its body
                try:
                    sock.send(CONTINUE)
                except OSError:
                    self._drop(arrival)
            return
        self.poller.unregister(sock)
        self.arrivals.remove(arrival)
        conn = arrival.conn
        conn.arrived = bytes(arrival.buffer)
        conn.data_ready = True  # gthread must not wait for data again in the thread
        self.enqueue_req(conn)

    def _drop(self, arrival: _Arrival, answer: bytes = b"") -> None:
        self.arrivals.remove(arrival)
        sock = arrival.conn.sock
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(sock)
        if answer:
            with contextlib.suppress(OSError):  # non-blocking, best effort: it may not read
                sock.send(answer)
        self.nr_conns -= 1
        arrival.conn.close()

    def murder_pending(self) -> None:
        """gthread's per-loop timeout sweep, plus requests past their arrival deadline."""
        super().murder_pending()
        now = time.monotonic()
        while self.arrivals and self.arrivals[0].deadline <= now:
            arrival = self.arrivals[0]
            self._drop(arrival, TIMEOUT_RESPONSE if arrival.buffer else b"")
