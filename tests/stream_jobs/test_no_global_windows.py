"""No Spark job ranks or totals over one global window.

``Window.orderBy(...)`` or ``Window.partitionBy()`` without a partition column moves every row
into a single partition (Spark logs "No Partition Defined for Window operation! Moving all data
to a single partition"), so the job stops scaling with the cluster. The source scan finds the
pattern however the window is spelt on one line; the ranking test checks the two-phase
replacement against Spark's own global window on data with ties and nulls.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("stream_jobs",)


def global_windows(source: str) -> list[int]:
    """Line numbers of window specs with no partition column in ``source``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        target = node.func.value
        if not (isinstance(target, ast.Name) and target.id == "Window"):
            continue
        method = node.func.attr
        if method in ("orderBy", "rowsBetween", "rangeBetween"):
            lines.append(node.lineno)  # a spec started without any partition
        elif method == "partitionBy" and not node.args:
            lines.append(node.lineno)
    return lines


def test_the_scan_finds_each_spelling() -> None:
    source = ("w1 = Window.orderBy('a')\nw2 = Window.partitionBy()\n"
              "w3 = Window.rowsBetween(0, 1)\nok = Window.partitionBy('v').orderBy('a')\n")
    assert global_windows(source) == [1, 2, 3]


def test_no_stream_job_uses_a_window_without_partition() -> None:
    found = {
        f"{path.relative_to(ROOT)}:{line}"
        for folder in SCANNED
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line in global_windows(path.read_text(encoding="utf-8"))
    }
    assert not found, f"single-partition windows: {sorted(found)}"


@pytest.mark.spark
def test_two_phase_ranks_equal_a_global_window(spark) -> None:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from stream_jobs.reports.ranking import percent_ranked, ranked, with_total

    values = [(f"c{i:03d}", float(v) if v is not None else None)
              for i, v in enumerate([5, 1, 3, 3, None, 9, 9, 9, 2, 0, 7, 3, None, 4, 8] * 7)]
    frame = spark.createDataFrame(values, "id string, v double").repartition(3)
    mine = (percent_ranked(frame, "v", "pr")
            .transform(lambda f: ranked(f, -F.col("v"), [F.desc("v"), F.asc("id")],
                                        kind="row_number", name="rn", buckets=4))
            .transform(lambda f: with_total(f, "total", F.sum("v"))))
    spark.conf.set("spark.sql.shuffle.partitions", "3")
    spark_own = (frame
                 .withColumn("pr", F.percent_rank().over(Window.orderBy("v")))
                 .withColumn("rn", F.row_number().over(Window.orderBy(F.desc("v"), "id")))
                 .withColumn("total", F.sum("v").over(Window.partitionBy())))

    def rows(df):
        return sorted(tuple(r) for r in df.select("id", "v", "pr", "rn", "total").collect())

    assert rows(mine) == rows(spark_own)
