"""``clickloop report`` puts the lake's Spark reports and other stores' reports under one
command: a report registered in ``EXTRA_REPORTS`` gets its own options and ``run``."""

from __future__ import annotations

import argparse

from clickloop import report_command


def report_args(argv):
    parser = argparse.ArgumentParser(prog="clickloop report")
    report_command.add_arguments(parser)
    return parser.parse_args(argv)


def test_report_command_registers_extra_reports(spark_settings, monkeypatch, capsys):
    monkeypatch.setitem(report_command.EXTRA_REPORTS, "example",
                        ("tests.clickloop.example_report", "a registered report"))
    args = report_args(["example", "--slot", "hero"])
    assert report_command.run(args, spark_settings) == 3
    assert capsys.readouterr().out == f"example report for slot hero in " \
                                      f"{spark_settings.lake.name}\n"


def test_lake_reports_keep_their_options(spark_settings):
    args = report_args(["traffic", "--start", "2024-03-09", "--end", "2024-03-10"])
    assert (args.report, str(args.start), getattr(args, "_extra_report", None)) == \
        ("traffic", "2024-03-09", None)
