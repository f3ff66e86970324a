"""The erasure suppression list applied to DataFrames (pure transformations, built-ins only).

``clickloop forget`` appends the person's :func:`tracker.erasure.forget_key` to the
suppression list; every batch job drops what belongs to a listed id:

- an event or session whose ``visitor_id`` has a listed *visitor* key, or whose ``user_id`` has
  a listed *user* key;
- every event of a session attributed to a listed user, including the anonymous sessions
  back-filled to that user (:func:`stream_jobs.sessions.rules.stitch_users`): what was linked to the
  person is the person's. Attribution is decided before anything is removed, so the removal
  cannot hand the person's anonymous sessions to somebody else.

The key is computed in Spark with ``sha2`` (no Python UDF) and matched with a broadcast
anti-join: the list is small, the lake is not.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from tracker.erasure import FORGET_KEY_HEX_CHARS, FORGET_KEY_PREFIX, Suppression


def forget_key_column(identifier: Column) -> Column:
    """:func:`tracker.erasure.forget_key` of a column (null for a null id)."""
    return F.substring(F.sha2(F.concat(F.lit(FORGET_KEY_PREFIX), identifier), 256),
                       1, FORGET_KEY_HEX_CHARS)


def suppression_frame(spark: SparkSession, entries: Iterable[Suppression]) -> DataFrame:
    """The list as a small DataFrame: one row per distinct (``key``, ``kind``)."""
    rows = sorted({(s.key, s.kind) for s in entries})
    return spark.createDataFrame(rows, "key string, kind string")


def _keys(suppressed: DataFrame, kind: str, alias: str) -> DataFrame:
    return F.broadcast(suppressed.where(F.col("kind") == kind)
                       .select(F.col("key").alias(alias)).distinct())


def drop_listed(frame: DataFrame, suppressed: DataFrame, *, visitor: str = "visitor_id",
                user: str | None = "user_id") -> DataFrame:
    """Rows of ``frame`` whose ids are not on the list (``user=None``: no user column)."""
    out = frame.join(_keys(suppressed, "visitor", "_forget_v"),
                     forget_key_column(F.col(visitor)) == F.col("_forget_v"), "left_anti")
    if user is not None:
        out = out.join(_keys(suppressed, "user", "_forget_u"),
                       forget_key_column(F.col(user)) == F.col("_forget_u"), "left_anti")
    return out


def listed_rows(frame: DataFrame, suppressed: DataFrame, *, visitor: str = "visitor_id",
                user: str | None = "user_id") -> DataFrame:
    """Rows of ``frame`` with an id on the list (a row listed twice appears twice)."""
    hits = frame.join(_keys(suppressed, "visitor", "_forget_v"),
                      forget_key_column(F.col(visitor)) == F.col("_forget_v"), "left_semi")
    if user is not None:
        hits = hits.unionByName(
            frame.join(_keys(suppressed, "user", "_forget_u"),
                       forget_key_column(F.col(user)) == F.col("_forget_u"), "left_semi"))
    return hits


def forget_events(assigned: DataFrame, sessions: DataFrame,
                  suppressed: DataFrame) -> DataFrame:
    """Events (with ``session_id``) that survive the list: neither their own ids nor their
    session's visitor or stitched user is listed. ``sessions``: stitched, from ``assigned``."""
    gone = F.broadcast(listed_rows(sessions, suppressed).select("session_id").distinct())
    return drop_listed(assigned, suppressed).join(gone, "session_id", "left_anti")


def holds_listed(frame: DataFrame, suppressed: DataFrame) -> bool:
    """Whether any row of ``frame`` has a listed id (one scan; an action, not a transformation).

    The jobs ask this first: usually nobody listed is in the dates read (the lake was already
    rewritten), and then the plain, single-pass pipeline is exact.
    """
    return not listed_rows(frame, suppressed).isEmpty()
