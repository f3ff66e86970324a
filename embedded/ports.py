"""TCP ports on this machine: the one place that asks the kernel whether a port is free.

Every local service we start (the embedded broker, the demo's collector, API and shop, the test
suite's servers) picks its port here, so the rules below are written once.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on right now (the kernel's choice; another process may take it
    before we bind again, which the callers' start-up checks notice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_free(port: int, host: str = LOOPBACK, *, reuse_address: bool = False) -> bool:
    """Whether ``port`` can be bound on ``host``.

    ``reuse_address`` binds as the JVM's server sockets do (``SO_REUSEADDR``): a port left in
    TIME_WAIT by a killed process is then free, a port with a live listener still is not.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if reuse_address:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """Whether something accepts connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def pick_port(host: str, preferred: int | None) -> int:
    """``preferred`` when it is free on ``host``, else a free port."""
    if preferred and port_free(preferred, host):
        return preferred
    return free_port(host)


def url_port(url: str) -> int | None:
    """The explicit port of ``url``, None when it has none or is malformed.

    >>> url_port("http://127.0.0.1:8080/v1"), url_port("https://shop.example"), url_port("http://[")
    (8080, None, None)
    """
    try:
        return urlsplit(url).port
    except ValueError:
        return None
