"""The command-line faces of the jobs: ``clickloop logs parse``, ``clickloop report`` and the
``main()`` of each job module (argument errors exit 2 with a message, before Spark starts)."""

from __future__ import annotations

import dataclasses

import pytest

from stream_jobs import command_logs, command_report
from stream_jobs import parse_logs as parse_logs_job
from stream_jobs import reports as reports_job
from stream_jobs import sessionize as sessionize_job
from clickloop import cli

LINES = [
    '81.2.69.142 - - [09/Mar/2024:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 5 "-" '
    '"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"',
    '81.2.69.142 - - [09/Mar/2024:10:00:01 +0000] "GET /a.css HTTP/1.1" 200 5 "-" "Firefox"',
    '81.2.69.142 - - [09/Mar/2024:10:00:02 +0000] "GET /b.js HTTP/1.1" 200 5 "-" "Firefox"',
    '81.2.69.142 - - [09/Mar/2024:10:00:03 +0000] "HEAD / HTTP/1.1" 200 5 "-" "Firefox"',
    '81.2.69.142 - - [09/Mar/2024:10:00:04 +0000] "GET /shop HTTP/1.1" 200 5 "-" '
    '"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"',
    'garbage',
]


def parsed_args(argv):
    return cli.build_parser(argv).parse_args(argv)


def report_args(argv):
    """``clickloop report ARGV`` as parsed by this package's command module."""
    import argparse

    parser = argparse.ArgumentParser(prog="clickloop report")
    command_report.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.spark
def test_logs_parse_prints_the_counts(spark, spark_settings, tmp_path, capsys):
    log = tmp_path / "site.log"
    log.write_text("\n".join(LINES) + "\n")
    settings = dataclasses.replace(spark_settings, lake_dir=tmp_path / "lake")
    args = parsed_args(["logs", "parse", str(log), "--site", "shop.example", "--drop-bots"])
    assert command_logs.run(args, settings) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["file", "lines", "read", "page", "views", "static", "bots",
                              "other", "rejects"]
    assert out[1].split() == ["site.log", "6", "2", "2", "1", "1", "1"]
    assert out[2].startswith("1 page_view events written to ") and "bots dropped" in out[2]


def test_logs_parse_refuses_a_missing_file(spark_settings, tmp_path, capsys):
    args = parsed_args(["logs", "parse", str(tmp_path / "nope.log")])
    assert command_logs.run(args, spark_settings) == 2
    assert "nope.log: no such file" in capsys.readouterr().err


def test_job_mains_reject_bad_arguments_before_starting_spark(tmp_path, capsys):
    assert parse_logs_job.main([str(tmp_path / "nope.log")]) == 2
    assert "nope.log: no such file" in capsys.readouterr().err
    assert sessionize_job.main(["--start", "2024-03-10", "--end", "2024-03-09"]) == 2
    assert "before --start" in capsys.readouterr().err
    bad = tmp_path / "funnels.yaml"
    bad.write_text("funnels: []\n")
    assert reports_job.main(["--start", "2024-03-09", "--end", "2024-03-09",
                             "--report", "funnels", "--funnels", str(bad)]) == 2
    assert "`funnels` is empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_logs_job.main(["--format", "xml", "x.log"])


def test_report_command_registers_extra_sub_reports(spark_settings, monkeypatch, capsys):
    monkeypatch.setitem(command_report.EXTRA_REPORTS, "example",
                        ("tests.stream_jobs.example_subreport", "a registered sub-report"))
    args = report_args(["example", "--slot", "hero"])
    assert command_report.run(args, spark_settings) == 3
    assert capsys.readouterr().out == f"example sub-report for slot hero in " \
                                      f"{spark_settings.lake.name}\n"


def test_report_command_checks_its_arguments(spark_settings, tmp_path, capsys):
    args = report_args(["traffic", "--start", "2024-03-10", "--end", "2024-03-09"])
    assert command_report.run(args, spark_settings) == 2
    bad = tmp_path / "f.yaml"
    bad.write_text("funnels:\n  - name: A\n    steps: [{event_type: nope}, {path: /}]\n")
    args = report_args(["funnels", "--start", "2024-03-09", "--end", "2024-03-09",
                        "--funnels", str(bad)])
    assert command_report.run(args, spark_settings) == 2
    assert "funnel 'A', step 1: `event_type` ['nope'] is not an event type" in \
        capsys.readouterr().err


def test_format_table_shortens_and_counts_the_rest():
    text = command_report.format_table(["page", "views"],
                                       [[f"/{'x' * 40}", "10"], ["/b", "2"]], max_rows=1)
    assert text.splitlines() == [
        "page" + " " * 24 + "  views",
        "-" * 28 + "  -----",
        "/" + "x" * 26 + "…  10   ",
        "… 1 more rows in the CSV",
    ]
