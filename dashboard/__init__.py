"""The marketer's dashboard: a served, read-only view of the lake (``clickloop dashboard``).

Flask under gunicorn like the collector and the decision API. It reads the reports' outputs
(``<lake>/reports/<report>/<start>_<end>/*.parquet``) and the sessions (``<lake>/sessions/``,
queried on demand with DuckDB), the personalization store for the intent model's and the
uplift report's figures, and never writes anything. Charts are drawn by Chart.js, installed
from npm into ``dashboard/assets/`` and served by the dashboard itself (no CDN at run time).
"""
