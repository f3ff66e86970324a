"""Live sessions: the streaming job's provisional sessions, with ``session_window`` (pure).

Same aggregates and columns as the batch sessions (:mod:`stream_jobs.sessions.rules`), but the
inactivity rule only (``session_window`` has no notion of campaigns), and events older than the
watermark are dropped; the nightly batch re-run (:mod:`stream_jobs.sessions.job`) fixes both.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from stream_jobs.sessions.rules import finish_sessions, session_aggregates


def live_sessions(rows: DataFrame, gap_minutes: int) -> DataFrame:
    """Streaming sessions with ``session_window`` (inactivity only), from
    :func:`stream_jobs.sessions.rules.event_rows`.

    ``rows`` must already carry a watermark on ``ts``: a session is emitted once the watermark
    passes its end plus the gap, and events older than the watermark are dropped (the batch
    job, reading the lake, still sees them).
    """
    window = F.session_window("ts", f"{int(gap_minutes)} minutes")
    grouped = rows.groupBy(F.col("visitor_id"), window).agg(*session_aggregates())
    return finish_sessions(grouped.drop("session_window"))
