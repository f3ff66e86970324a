"""Kafka records → contract events or rejects, with Spark built-in functions only.

The collector validated every event before producing it, so what arrives here is normally
clean; these checks guard the lake against anything else written to the topic (another
producer, a corrupted record, a future contract version). A record that fails them becomes a
reject with a reason, kept raw (base64) so nothing is lost and nothing crashes the query.
The checks are derived from :mod:`tracker.contract.spec`, like the Spark schema itself: the
envelope checks below first, then every field rule (:func:`tracker.contract.spark.contract_checks`),
the same declarations the collector validates with.
:func:`deduplicated` then drops the copies of an event that a client retry or a spool replay
wrote to the topic again.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from tracker.contract.spark import contract_checks, event_struct, let
from tracker.contract.spec import (
    ENRICHMENT,
    EVENT_TYPES,
    REQUIRED_BY_TYPE,
    SCHEMA_VERSION,
    UUID_PATTERN,
)


def reject_reason(event: Column, text: Column, document: Column) -> Column:
    """The first contract problem of a parsed ``event`` (from JSON ``text``), or null if none.

    ``document`` is ``text`` parsed once as a variant (see
    :func:`tracker.contract.spark.contract_checks`). Reasons name the field the way
    :func:`tracker.contract.validate_event` does.
    """
    checks: list[tuple[Column, Column | str]] = [
        (F.json_object_keys(text).isNull(), "not a JSON object"),
        (event.isNull(), "does not match the event contract"),
        (~F.coalesce(event["schema_version"] == SCHEMA_VERSION, F.lit(False)),
         f"schema_version: missing or not {SCHEMA_VERSION}"),
        (event["event_id"].isNull(), "event_id: missing or not a string"),
        (~event["event_id"].rlike(UUID_PATTERN), "event_id: not a UUID"),
        (~F.coalesce(event["event_type"].isin(*EVENT_TYPES), F.lit(False)),
         "event_type: missing or not a known event type"),
        (event["client_ts"].isNull(), "client_ts: missing or not an RFC 3339 timestamp"),
        (event["enrichment"].isNull(), "enrichment: missing (not written by the collector)"),
    ]
    for name in ENRICHMENT.required:
        checks.append((event["enrichment"][name].isNull(),
                       f"enrichment.{name}: missing or invalid"))
    # field rules first: a value of the wrong JSON type parses as null, and is named as such
    # rather than as missing
    checks += contract_checks(event, text, document)
    for event_type, names in REQUIRED_BY_TYPE.items():
        for name in names:
            checks.append(((event["event_type"] == event_type) & event[name].isNull(),
                           f"{name}: is required for event_type {event_type}"))
    reason: Column = F.lit(None).cast("string")
    for failed, message in reversed(checks):  # first failing check wins; null counts as passed
        reason = F.when(F.coalesce(failed, F.lit(False)), F.lit(message)).otherwise(reason)
    return reason


def parse_records(records: DataFrame) -> DataFrame:
    """Kafka source rows (``value``, ``topic``, ``partition``, ``offset``, ``timestamp``) →
    ``event`` (the parsed struct), ``reason`` (null when valid) and the record's coordinates."""
    text = F.col("value").cast("string")
    parsed = records.select(
        text.alias("text"),
        F.base64("value").alias("value_base64"),
        "topic", "partition", "offset",
        F.col("timestamp").alias("kafka_ts"),
    ).withColumn("event", F.from_json("text", event_struct(), {"mode": "PERMISSIVE"}))
    # The ~150 checks read the parsed event and its variant ~250 times. Were they columns of
    # their own, the optimizer would put both parses back into every read wherever it pushes
    # a filter on ``reason`` down (valid_events on the live query), parsing each record
    # hundreds of times: bound as lambda arguments, each is parsed once per evaluation.
    reason = let(
        F.from_json("text", event_struct(), {"mode": "PERMISSIVE"}),
        lambda event: let(F.try_parse_json("text"),
                             lambda document: reject_reason(event, F.col("text"), document)),
    )
    return parsed.withColumn("reason", reason)


def valid_events(parsed: DataFrame) -> DataFrame:
    """The contract events of :func:`parse_records` output (one column per contract field)."""
    return parsed.where(F.col("reason").isNull()).select("event.*")


def stream_rejects(parsed: DataFrame) -> DataFrame:
    """The rejected records, raw, with where they came from and why."""
    return parsed.where(F.col("reason").isNotNull()).select(
        "reason", "topic", "partition", "offset", "kafka_ts",
        F.substring("text", 1, 4096).alias("text_head"), "value_base64",
        F.to_date("kafka_ts").alias("seen_date"),
    )


def deduplicated(parsed: DataFrame, dedup_minutes: int) -> DataFrame:
    """Drop repeated ``event_id`` s within ``dedup_minutes`` of processing time.

    Rejects get a unique key (their Kafka coordinates) so they are never merged.
    """
    key = F.coalesce(
        F.when(F.col("reason").isNull(), F.col("event.event_id")),
        F.concat_ws(":", F.lit("kafka"), F.col("partition").cast("string"),
                    F.col("offset").cast("string")),
    )
    return (parsed.withColumn("dedup_key", key)
            .withColumn("seen_at", F.current_timestamp())
            .withWatermark("seen_at", f"{int(dedup_minutes)} minutes")
            .dropDuplicatesWithinWatermark(["dedup_key"]))
