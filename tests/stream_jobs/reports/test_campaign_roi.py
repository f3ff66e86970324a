"""Campaign ROI from an imported costs file, on a lake whose every answer is worked by hand.

- v1 from "spring" (03-09): purchase 100; v2 from "spring" (03-09): no order;
  v3 from "summer" (03-10): purchase 30; v4 untagged: purchase 50 (not a campaign)
- costs: spring 20 + 20 (03-09, 03-10), summer 60 (03-10), autumn 5 (03-10, no sessions),
  spring 999 on 03-20 (outside the range)
"""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from stream_jobs.importing.job import execute
from stream_jobs.lake import LakePaths, write_events
from stream_jobs.reports.job import run as run_reports
from tests.stream_jobs.builders import d, event, lake_frame

pytestmark = pytest.mark.spark


def test_cost_per_visit_per_order_and_roas(spark, spark_settings, tmp_path):
    settings = dataclasses.replace(spark_settings, state_dir=tmp_path / "state",
                                   lake_dir=tmp_path / "lake")
    spring, summer = ("news", "email", "spring"), ("ads", "cpc", "summer")
    rows = [
        event(1, "v1", "2024-03-09 10:00:00", utm=spring),
        event(2, "v1", "2024-03-09 10:05:00", "purchase", revenue=100.0),
        event(3, "v2", "2024-03-09 11:00:00", utm=spring),
        event(4, "v3", "2024-03-10 09:00:00", utm=summer),
        event(5, "v3", "2024-03-10 09:01:00", "purchase", revenue=30.0),
        event(6, "v4", "2024-03-10 12:00:00"),
        event(7, "v4", "2024-03-10 12:01:00", "purchase", revenue=50.0),
    ]
    write_events(lake_frame(spark, rows), LakePaths(settings.lake))
    costs = tmp_path / "costs.csv"
    costs.write_text("campaign,date,cost\nspring,2024-03-09,20\nspring,2024-03-10,20\n"
                     "summer,2024-03-10,60\nautumn,2024-03-10,5\nspring,2024-03-20,999\n",
                     encoding="utf-8")
    assert execute("costs", argparse.Namespace(file=costs, mapping=None, rejects=None),
                   settings) == 0
    _, written = run_reports(spark, settings, d("2024-03-09"), d("2024-03-10"),
                             ["campaign_roi"])
    table = written[0].tables["campaigns"]
    got = [dict(zip(table.columns, r, strict=True)) for r in table.rows]
    assert [(r["campaign"], r["cost"], r["sessions"], r["orders"], r["revenue"],
             r["cost_per_visit"], r["cost_per_order"], r["roas"]) for r in got] == [
        ("summer", 60.0, 1, 1, 30.0, 60.0, 60.0, 0.5),
        ("spring", 40.0, 2, 1, 100.0, 20.0, 40.0, 2.5),
        ("autumn", 5.0, 0, 0, 0.0, None, None, 0.0),
    ]
    daily = written[0].tables["daily"]
    assert [(r[0], r[1]) for r in daily.rows] == [(d("2024-03-09"), 20.0),
                                                  (d("2024-03-10"), 85.0)]
