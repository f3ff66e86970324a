"""gunicorn configuration for the decision API (production, tests and bench/decision_api.py).

``clickloop personalization api`` runs ``gunicorn -c personalization/gunicorn.conf.py`` with
``--bind`` and ``--workers`` from the settings (``CLICKLOOP_API_BIND``, ``CLICKLOOP_API_WORKERS``);
any gunicorn option can still be overridden on the command line or with ``GUNICORN_CMD_ARGS``.

- No ``preload_app``: each worker builds the app after the fork, so store connections (SQLite
  handles, Redis sockets) and the rules-file watcher belong to one process.
- ``gthread`` workers with keep-alive: a decision is a few hundred microseconds of Python plus a
  store read; threads overlap the store round trip, keep-alive spares browsers a TCP handshake
  per slot, one process per core sidesteps the GIL. Chosen with bench/decision_api.py. The
  worker closes a connection after 100 requests so that a site backend's persistent
  connections spread over the processes (:mod:`embedded.http_worker`).
"""

from __future__ import annotations

import os
from pathlib import Path

wsgi_app = "personalization.api:create_app()"
chdir = str(Path(__file__).resolve().parent.parent)  # the project root, so packages import
bind = "127.0.0.1:8001"
worker_class = "embedded.http_worker.BalancedThreadWorker"  # gthread, rebalancing keep-alive
workers = 2
threads = 4
preload_app = False
keepalive = 5
timeout = 30
graceful_timeout = 10
backlog = 2048
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = None  # access logs would tie visitors' cookies to IP addresses
errorlog = "-"
loglevel = "info"
proc_name = "clickloop-personalization-api"
control_socket_disable = True  # one fixed socket path per user would clash between servers


def worker_exit(server, worker):  # in the worker, after its last request
    app = getattr(worker, "wsgi", None)
    if app is not None:
        from personalization.api.services import EXTENSION

        app.extensions[EXTENSION].decisions.close()  # write the buffered decision log
