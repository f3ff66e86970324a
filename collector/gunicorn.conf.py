"""gunicorn configuration for the collector (production and tests use this same file).

``clickloop collector --host H --port P`` runs ``gunicorn -c collector/gunicorn.conf.py`` with
``--bind H:P``; any gunicorn option can still be overridden on the command line or through
``GUNICORN_CMD_ARGS``. Worker and thread counts were chosen with bench/collector_throughput.py.

- No ``preload_app``: each worker imports and builds the app itself, so the Kafka producer (and
  its I/O thread) is created after the fork, never shared between processes.
- ``gthread`` workers (:class:`collector.worker.CollectorWorker`): a request spends most of its
  time waiting for Kafka's acknowledgement, which threads overlap; one process per core
  sidesteps the GIL. Unlike stock gthread, a request is read by the worker's event loop until
  it has fully arrived (10 s deadline, then 408) and only then given a thread, so slow or
  stalled clients cannot occupy the threads (the collector faces the internet).
- ``post_worker_init`` compiles the user-agent rules before the worker serves anything.
- ``worker_exit`` flushes the producer and seals the spool when a worker stops.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

wsgi_app = "collector.app:create_app()"
chdir = str(Path(__file__).resolve().parent.parent)  # the project root, so `collector` imports
bind = "127.0.0.1:8080"
worker_class = "collector.worker.CollectorWorker"
workers = max(2, os.cpu_count() or 1)
threads = 8
preload_app = False
keepalive = 5
timeout = 30
graceful_timeout = 15
limit_request_line = 8190  # pixel URLs carry the event in the query string
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = None  # access logs would hold visitors' full IP addresses
errorlog = "-"
loglevel = "info"
proc_name = "clickloop-collector"
control_socket_disable = True  # one fixed socket path per user would clash between servers
# The app alone decides what to believe of X-Forwarded-* (CLICKLOOP_TRUSTED_PROXIES): gunicorn
# would otherwise take X-Forwarded-Proto from 127.0.0.1 (its default) as the request's scheme,
# and the visitor cookie would get Secure from a header anyone on the host can send.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}

METRICS_ENV = "CLICKLOOP_FLASK_METRICS_DIR"


def on_starting(server):  # master, before any worker: one metrics dir for this server run
    if not os.environ.get(METRICS_ENV):
        os.environ[METRICS_ENV] = tempfile.mkdtemp(prefix="clickloop-collector-metrics-")
        server._clickloop_metrics_dir = os.environ[METRICS_ENV]


def post_worker_init(worker):  # in the worker, before its first request
    # the user-agent rule lists compile in 1-3 s: at start-up, not inside a visitor's request;
    # only for the collector (the benchmarks serve a bare app under this file, from bench/,
    # where `enrichment` is another module)
    if getattr(worker.app, "app_uri", wsgi_app) != wsgi_app:
        return
    from enrichment.user_agent import warm_up

    warm_up()


def worker_exit(server, worker):  # in the worker, after its last request
    from collector.state import close_app

    app = getattr(worker, "wsgi", None)
    if app is not None:
        close_app(app, timeout=float(graceful_timeout) - 2)


def on_exit(server):
    directory = getattr(server, "_clickloop_metrics_dir", None)
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
