"""gunicorn configuration for the dashboard (``clickloop dashboard`` and the tests use it).

Pages are short reads of local Parquet files (DuckDB, pyarrow): a few threads per worker,
two workers. Each worker builds its own app and answer cache.
"""

from __future__ import annotations

from pathlib import Path

wsgi_app = "dashboard.app:create_app()"
chdir = str(Path(__file__).resolve().parent.parent)  # the project root, so `dashboard` imports
bind = "127.0.0.1:8050"
worker_class = "embedded.http_worker.BalancedThreadWorker"  # gthread, rebalancing keep-alive
workers = 2
threads = 4
preload_app = False
timeout = 60
graceful_timeout = 10
accesslog = None
errorlog = "-"
loglevel = "info"
proc_name = "clickloop-dashboard"
control_socket_disable = True
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
