"""The command-line faces of the log flow: ``clickloop logs parse`` and the parse job's
``main()`` (argument errors exit 2 with a message, before Spark starts)."""

from __future__ import annotations

import dataclasses

import pytest

from clickloop import cli
from stream_jobs.logs import command as command_logs
from stream_jobs.logs import job as parse_logs_job

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


def test_parse_job_main_rejects_bad_arguments_before_starting_spark(tmp_path, capsys):
    assert parse_logs_job.main([str(tmp_path / "nope.log")]) == 2
    assert "nope.log: no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_logs_job.main(["--format", "xml", "x.log"])
