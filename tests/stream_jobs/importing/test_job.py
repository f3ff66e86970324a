"""The import job against a real SparkSession: own partitions, idempotent, rejects, erasure."""

from __future__ import annotations

import dataclasses
import json

import pytest

from stream_jobs.importing.job import read_import, rejects_path, run
from stream_jobs.lake import LakePaths, read_events
from tests.stream_jobs.builders import d
from tracker.erasure import SuppressionList

pytestmark = pytest.mark.spark

CSV = "\n".join([
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
    "536365,A,HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
    "536365,B,LANTERN,2,2010-12-01 08:26:00,3.39,17850,United Kingdom",
    "536366,A,HEART,1,2010-12-02 09:00:00,2.55,,France",
    "536367,A,HEART,-1,2010-12-02 09:00:00,oops,13047,France",
    "C536368,B,LANTERN,-1,2011-01-04 10:00:00,3.39,17850,United Kingdom",
]) + "\n"


@pytest.fixture
def settings(spark_settings, tmp_path):
    return dataclasses.replace(spark_settings, state_dir=tmp_path / "state",
                               lake_dir=tmp_path / "lake")


def lake_rows(spark, settings) -> list[tuple]:
    frame = read_events(spark, LakePaths(settings.lake), d("2000-01-01"), d("2100-01-01"))
    return sorted((r.event_id, r.event_type, r.visitor_id, r.user_id, r.order.order_id,
                   r.order.revenue, str(r.enrichment.derived_ts), str(r.event_date), r.ingest)
                  for r in frame.collect())


def partitions(settings) -> list[str]:
    return sorted(str(p.relative_to(settings.lake)) for p in
                  (settings.lake / "events").glob("event_date=*/ingest=*"))


def test_orders_reach_the_lake_once_with_their_own_dates_and_rejects(spark, settings, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(CSV, encoding="utf-8")
    read = read_import("orders", path, progress=False)
    copy = tmp_path / "rejects.jsonl"
    summary = run(spark, settings, read, copy)
    assert (summary["rows"], summary["events"], summary["rejects"]) == (5, 3, 1)
    first = lake_rows(spark, settings)
    ingest = read.ingest
    assert sorted(row[1:] for row in first) == [
        ("purchase", "import-c17850", "17850", "536365", 22.08, "2010-12-01 08:26:00",
         "2010-12-01", ingest),
        ("purchase", "import-g536366", None, "536366", 2.55, "2010-12-02 09:00:00",
         "2010-12-02", ingest),
        ("refund", "import-c17850", "17850", "C536368", 3.39, "2011-01-04 10:00:00",
         "2011-01-04", ingest),
    ]
    rejected = [json.loads(x) for x in copy.read_text().splitlines()]
    assert rejected == [{"file": "orders.csv", "line": 5,
                         "reason": "UnitPrice: 'oops' is not a number",
                         "text": "536367,A,HEART,-1,2010-12-02 09:00:00,oops,13047,France"}]
    assert rejects_path(settings, ingest).read_text() == copy.read_text()
    before = partitions(settings)

    # the same content again, under another name: the same import, nothing changes
    again = tmp_path / "copy-of-orders.csv"
    again.write_text(CSV, encoding="utf-8")
    run(spark, settings, read_import("orders", again, progress=False))
    assert lake_rows(spark, settings) == first
    assert partitions(settings) == before


def test_forgotten_customers_are_not_imported(spark, settings, tmp_path):
    SuppressionList(settings.state_dir).add("user", "17850")
    path = tmp_path / "orders.csv"
    path.write_text(CSV, encoding="utf-8")
    run(spark, settings, read_import("orders", path, progress=False))
    assert [r[4] for r in lake_rows(spark, settings)] == ["536366"]


def test_events_import_keeps_event_times(spark, settings, tmp_path):
    event = {"schema_version": 1, "event_id": "00000000-0000-0000-0000-00000000000a",
             "event_type": "add_to_cart", "client_ts": "2022-05-01T12:00:00+02:00",
             "visitor_id": "v9", "product": {"sku": "A", "price": 2.5}}
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(event) + "\n", encoding="utf-8")
    summary = run(spark, settings, read_import("events", path, progress=False))
    assert summary["events"] == 1
    frame = read_events(spark, LakePaths(settings.lake), d("2022-05-01"), d("2022-05-01"))
    (row,) = frame.collect()
    assert (row.event_type, row.product.sku, str(row.enrichment.derived_ts),
            row.properties["import"]) == ("add_to_cart", "A", "2022-05-01 10:00:00", "events")
