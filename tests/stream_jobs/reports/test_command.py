"""The command-line faces of the reports flow: ``clickloop report`` and the reports job's
``main()`` (argument errors exit 2 with a message, before Spark starts)."""

from __future__ import annotations

from stream_jobs.reports import command as command_report
from stream_jobs.reports import job as reports_job


def report_args(argv):
    """``clickloop report ARGV`` as parsed by this package's command module."""
    import argparse

    parser = argparse.ArgumentParser(prog="clickloop report")
    command_report.add_arguments(parser)
    return parser.parse_args(argv)


def test_reports_job_main_rejects_a_bad_funnels_file_before_starting_spark(tmp_path, capsys):
    bad = tmp_path / "funnels.yaml"
    bad.write_text("funnels: []\n")
    assert reports_job.main(["--start", "2024-03-09", "--end", "2024-03-09",
                             "--report", "funnels", "--funnels", str(bad)]) == 2
    assert "`funnels` is empty" in capsys.readouterr().err


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
