"""The check that keeps one unusable upload from blocking the log pipeline: corrupt and
truncated compressed files, binary garbage and empty files become file-level rejects with the
first line that could not be read; readable files pass (their bad lines are the parser's job)."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import random

import pytest

from stream_jobs.orchestration.preflight import (
    check_log_file,
    set_aside_unusable,
    write_file_reject,
)


def combined_lines(count: int) -> bytes:
    return b"".join(
        b'10.0.0.%d - - [17/May/2015:10:%02d:00 +0000] "GET /page%d.html HTTP/1.1" 200 512 '
        b'"-" "Mozilla/5.0 (X11; Linux x86_64)"\n' % (i % 250, i % 60, i)
        for i in range(count)
    )


def test_readable_plain_gzip_bzip2_and_concatenated_files_pass(tmp_path):
    data = combined_lines(200)
    (tmp_path / "a.log").write_bytes(data)
    (tmp_path / "a.log.gz").write_bytes(gzip.compress(data))
    (tmp_path / "a.log.bz2").write_bytes(bz2.compress(data))
    # `cat a.gz b.gz > c.gz` (log rotation does this) and trailing zero padding
    (tmp_path / "c.log.gz").write_bytes(gzip.compress(data) + gzip.compress(data) + b"\0" * 64)
    for name in ("a.log", "a.log.gz", "a.log.bz2", "c.log.gz"):
        assert check_log_file(tmp_path / name) is None, name


def test_a_gzip_cut_short_after_its_first_member_names_the_first_missing_line(tmp_path):
    second = gzip.compress(combined_lines(40))
    path = tmp_path / "cut.log.gz"
    # 60 complete lines, then a second member of which only the 10-byte header arrived
    path.write_bytes(gzip.compress(combined_lines(60)) + second[:10])

    problem = check_log_file(path)

    assert problem.reason == (
        "corrupt gzip file, cannot decompress: the data ends before the end-of-stream marker "
        "(truncated) (after 60 complete lines)")
    assert problem.line == 61


def test_a_gzip_truncated_mid_stream_is_caught_past_the_detection_sample(tmp_path):
    # the first 50 lines decompress fine (what format detection and parse_logs look at), the
    # rest is missing: only a full decompression finds out before Spark would crash on it
    data = gzip.compress(combined_lines(20000))
    path = tmp_path / "half.log.gz"
    path.write_bytes(data[: len(data) // 2])

    problem = check_log_file(path)

    assert problem.reason.startswith("corrupt gzip file, cannot decompress: the data ends before")
    assert 50 < problem.line < 20000


def test_data_that_is_not_gzip_is_rejected_from_line_1(tmp_path):
    path = tmp_path / "access.log.gz"
    path.write_bytes(b"this was never gzipped\n" * 10)
    problem = check_log_file(path)
    assert problem.reason == ("corrupt gzip file, cannot decompress: Error -3 while "
                              "decompressing data: incorrect header check (after 0 complete "
                              "lines)")
    assert problem.line == 1


def test_corrupt_bzip2_and_empty_gzip_are_rejected(tmp_path):
    (tmp_path / "x.log.bz2").write_bytes(b"garbage" * 100)
    (tmp_path / "empty.log.gz").write_bytes(b"")
    assert check_log_file(tmp_path / "x.log.bz2").reason == (
        "corrupt bzip2 file, cannot decompress: Invalid data stream (after 0 complete lines)")
    assert check_log_file(tmp_path / "empty.log.gz").reason == (
        "corrupt gzip file, cannot decompress: the file is empty (after 0 complete lines)")


def test_binary_garbage_is_not_a_log_unless_a_format_is_forced(tmp_path):
    path = tmp_path / "garbage.log"
    path.write_bytes(random.Random(7).randbytes(4096).replace(b"\n", b"\n\x00"))
    problem = check_log_file(path)
    assert problem.reason.startswith("not a known access log format: garbage.log: the first ")
    assert problem.reason.endswith("or set the DAG's log_format param")
    assert problem.line is None
    # with a forced format the file goes on and the parser rejects its lines one by one
    assert check_log_file(path, "combined") is None


def test_file_reject_lands_in_the_parse_jobs_rejects_table(tmp_path):
    path = tmp_path / "garbage.log"
    content = b"\x00\x01binary\xff\n" * 3
    path.write_bytes(content)
    sha = hashlib.sha256(content).hexdigest()
    problem = check_log_file(path)

    written = write_file_reject(tmp_path / "lake", path, sha, problem)

    # the parse job names a file's partition log-<12 hex of sha256("<name>\0<content sha>")>
    ingest = "log-" + hashlib.sha256(f"garbage.log\0{sha}".encode()).hexdigest()[:12]
    assert written == tmp_path / "lake" / "rejects" / "logs" / f"ingest={ingest}" / (
        "part-file-reject.json")
    record = json.loads(written.read_text())
    assert record == {"file": "garbage.log", "line": None, "reason": problem.reason,
                      "bytes": 30, "text": "\x00\x01binary\ufffd\n" * 3}


@pytest.mark.parametrize("suffix", [".gz", ".GZ"])
def test_compression_is_recognised_by_suffix_case_insensitively(tmp_path, suffix):
    path = tmp_path / f"a.log{suffix}"
    path.write_bytes(b"plain text, not compressed\n")
    assert check_log_file(path).reason.startswith("corrupt gzip file")


def test_set_aside_rejects_and_archives_unusable_files_and_is_safe_to_retry(tmp_path):
    from stream_jobs.orchestration.landing import claim_files, manifest_summary

    landing, archive, lake = tmp_path / "landing", tmp_path / "archive", tmp_path / "lake"
    landing.mkdir()
    (landing / "good.log").write_bytes(combined_lines(60))
    (landing / "bad.log.gz").write_bytes(b"not gzip\n")
    claims = claim_files(landing, archive, "run-1", min_age_s=0).claimed

    usable, messages = set_aside_unusable(claims, landing=landing, archive=archive, lake=lake,
                                          log_format="auto", run_id="run-1")
    assert [c.name for c in usable] == ["good.log"]
    bad_sha = hashlib.sha256(b"not gzip\n").hexdigest()
    ingest = "log-" + hashlib.sha256(f"bad.log.gz\0{bad_sha}".encode()).hexdigest()[:12]
    reject = lake / "rejects" / "logs" / f"ingest={ingest}" / "part-file-reject.json"
    assert messages == [
        "REJECTED bad.log.gz: corrupt gzip file, cannot decompress: Error -3 while decompressing "
        f"data: incorrect header check (after 0 complete lines); reject record in {reject}"]
    assert (archive / bad_sha[:16] / "bad.log.gz").is_file()
    assert manifest_summary(archive) == {"claimed": 1, "rejected": 1}

    # a retry of the task: the rejected file is gone from landing, nothing breaks or changes
    usable_again, messages_again = set_aside_unusable(
        claims, landing=landing, archive=archive, lake=lake, log_format="auto", run_id="run-1")
    assert [c.name for c in usable_again] == ["good.log"]
    assert messages_again == [
        "bad.log.gz: no longer in the landing folder (rejected: corrupt gzip file, cannot "
        "decompress: Error -3 while decompressing data: incorrect header check (after 0 "
        "complete lines))"]
    assert manifest_summary(archive) == {"claimed": 1, "rejected": 1}
