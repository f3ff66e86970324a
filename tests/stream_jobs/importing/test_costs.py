"""Campaign costs: rows checked one by one, the later line of a (campaign, date) wins."""

from __future__ import annotations

import argparse
import json
from datetime import date

import pytest

from stream_jobs.importing.costs import read_costs
from stream_jobs.importing.job import execute, rejects_path
from stream_jobs.importing.reading import ImportFileError
from tracker.settings import Settings


def test_costs_rows_and_rejects(tmp_path):
    path = tmp_path / "costs.csv"
    path.write_text("Campaign,Date,Cost\nspring,2024-03-01,10.5\nspring,2024-03-02,oops\n"
                    ",2024-03-02,1\nspring,03/02/2024,1\nsummer,2024-03-01,-1\n"
                    "spring,2024-03-01,12\nsummer,2024-03-01,7,extra\n", encoding="utf-8")
    rows, rejects, count = read_costs(path)
    assert count == 7
    assert rows == [{"campaign": "spring", "date": date(2024, 3, 1), "cost": 12.0}]
    assert [(r.line, r.reason.split(":")[0]) for r in rejects] == [
        (3, "cost"), (4, "campaign"), (5, "date"), (6, "cost"), (8, "4 cells; the header has 3")]
    with pytest.raises(ImportFileError, match="no cost column"):
        bad = tmp_path / "bad.csv"
        bad.write_text("campaign,date\n", encoding="utf-8")
        read_costs(bad)


def test_costs_import_writes_the_lake_table_without_spark(tmp_path, capsys):
    import pyarrow.parquet as pq

    settings = Settings.from_env({}, state_dir=tmp_path / "state", lake_dir=tmp_path / "lake")
    path = tmp_path / "costs.csv"
    path.write_text("campaign,date,cost\nspring,2024-03-01,10.5\nx,bad,1\n", encoding="utf-8")
    args = argparse.Namespace(file=path, mapping=None, rejects=None)
    assert execute("costs", args, settings) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (summary["costs"], summary["rejects"]) == (1, 1)
    (table,) = list((settings.lake / "costs").glob("*.parquet"))
    got = pq.read_table(table).to_pylist()
    assert [(r["campaign"], r["date"], r["cost"]) for r in got] == [
        ("spring", date(2024, 3, 1), 10.5)]
    assert json.loads(rejects_path(settings, summary["ingest"]).read_text())["line"] == 3
    assert execute("costs", argparse.Namespace(file=path, mapping=path, rejects=None),
                   settings) == 2
