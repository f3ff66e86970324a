"""The landing folder manifest that makes ``web_logs`` idempotent: claims, take-overs,
duplicates and archiving, on real files in a temporary folder (no Airflow, no Spark)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import pytest

from stream_jobs.orchestration import landing as landing_mod
from stream_jobs.orchestration.landing import (
    Claim,
    archive_files,
    candidate_files,
    claim_files,
    claims_from_dicts,
    manifest_summary,
)

NOW = 1_700_000_000.0
LINE_A = b'1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"\n'
LINE_B = b'5.6.7.8 - - [18/May/2015:11:00:00 +0000] "GET /blog HTTP/1.1" 200 9 "-" "curl/8"\n'


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    landing, archive = tmp_path / "landing", tmp_path / "archive"
    landing.mkdir()
    return landing, archive


def drop(folder: Path, name: str, content: bytes, age_s: float = 3600) -> Path:
    """Write a landed file whose modification time is ``age_s`` before NOW."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (NOW - age_s, NOW - age_s))
    return path


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def test_new_files_are_claimed_with_their_content_hash(folders):
    landing, archive = folders
    drop(landing, "b.log", LINE_B)
    drop(landing, "sub/a.log", LINE_A)

    result = claim_files(landing, archive, "run-1", now=NOW)

    assert [(c.name, c.sha256, c.size) for c in result.claimed] == [
        ("b.log", sha(LINE_B), len(LINE_B)),
        ("sub/a.log", sha(LINE_A), len(LINE_A)),
    ]
    assert result.claimed[1].folder == sha(LINE_A)[:16]
    record = json.loads((archive / "_manifest" / f"{sha(LINE_A)}.json").read_text())
    assert (record["state"], record["run_id"], record["name"]) == ("claimed", "run-1", "sub/a.log")


def test_fresh_partial_and_hidden_files_are_not_taken(folders):
    landing, archive = folders
    drop(landing, "ready.log", LINE_A, age_s=61)
    drop(landing, "growing.log", LINE_B, age_s=5)
    drop(landing, "upload.log.part", b"x", age_s=3600)
    drop(landing, ".hidden.log", b"y", age_s=3600)
    drop(landing, "_spark/marker.log", b"z", age_s=3600)

    result = claim_files(landing, archive, "run-1", min_age_s=60, now=NOW)

    assert [c.name for c in result.claimed] == ["ready.log"]
    assert result.waiting == ["growing.log"]


def test_a_retry_of_the_same_run_gets_the_same_claims(folders):
    landing, archive = folders
    drop(landing, "a.log", LINE_A)
    first = claim_files(landing, archive, "run-1", now=NOW)
    again = claim_files(landing, archive, "run-1", now=NOW + 60)
    assert again.claimed == first.claimed
    assert again.taken_over == []


def test_a_later_run_takes_over_claims_a_failed_run_never_archived(folders):
    landing, archive = folders
    drop(landing, "a.log", LINE_A)
    claim_files(landing, archive, "run-1", now=NOW)

    result = claim_files(landing, archive, "run-2", now=NOW + 3600)

    assert [c.name for c in result.claimed] == ["a.log"]
    assert result.taken_over == [{"name": "a.log", "from_run": "run-1"}]
    record = json.loads((archive / "_manifest" / f"{sha(LINE_A)}.json").read_text())
    assert record["run_id"] == "run-2"


def test_content_already_done_is_never_parsed_again_whatever_its_name(folders):
    landing, archive = folders
    drop(landing, "a.log", LINE_A)
    claims = claim_files(landing, archive, "run-1", now=NOW).claimed
    archive_files(claims, landing, archive, "run-1", now=NOW)
    drop(landing, "renamed-copy.log", LINE_A)

    result = claim_files(landing, archive, "run-2", now=NOW + 3600)

    assert result.claimed == []
    moved = archive / sha(LINE_A)[:16] / "duplicates" / "renamed-copy.log"
    assert result.duplicates == [{"name": "renamed-copy.log", "sha256": sha(LINE_A),
                                  "same_as": "a.log", "moved_to": str(moved)}]
    assert moved.read_bytes() == LINE_A
    assert not (landing / "renamed-copy.log").exists()


def test_content_rejected_once_is_not_tried_again(folders):
    landing, archive = folders
    drop(landing, "broken.log.gz", b"not gzip at all")
    claims = claim_files(landing, archive, "run-1", now=NOW).claimed
    archive_files(claims, landing, archive, "run-1", state="rejected",
                  details={claims[0].sha256: {"reason": "corrupt gzip file"}}, now=NOW)
    drop(landing, "broken-again.log.gz", b"not gzip at all")

    result = claim_files(landing, archive, "run-2", now=NOW + 3600)

    assert result.claimed == []
    assert [d["same_as"] for d in result.duplicates] == ["broken.log.gz"]
    record = json.loads((archive / "_manifest" / f"{sha(b'not gzip at all')}.json").read_text())
    assert (record["state"], record["reason"]) == ("rejected", "corrupt gzip file")


def test_archive_refuses_a_state_that_would_be_claimed_again(folders):
    landing, archive = folders
    with pytest.raises(ValueError, match="state 'claimed'"):
        archive_files([], landing, archive, "run-1", state="claimed")


def test_two_copies_in_one_scan_are_parsed_once(folders):
    landing, archive = folders
    drop(landing, "a.log", LINE_A)
    drop(landing, "b-copy-of-a.log", LINE_A)

    result = claim_files(landing, archive, "run-1", now=NOW)

    assert [c.name for c in result.claimed] == ["a.log"]
    assert [(d["name"], d["same_as"]) for d in result.duplicates] == [("b-copy-of-a.log", "a.log")]


def test_archive_moves_files_marks_them_done_and_is_safe_to_retry(folders):
    landing, archive = folders
    drop(landing, "sub/a.log", LINE_A)
    claims = claim_files(landing, archive, "run-1", now=NOW).claimed

    first = archive_files(claims, landing, archive, "run-1", now=NOW)
    retry = archive_files(claims, landing, archive, "run-1", now=NOW)

    target = archive / sha(LINE_A)[:16] / "sub" / "a.log"
    assert [o["outcome"] for o in first] == ["archived"]
    assert [o["outcome"] for o in retry] == ["already archived"]
    assert target.read_bytes() == LINE_A
    assert not (landing / "sub" / "a.log").exists()
    assert manifest_summary(archive) == {"done": 1}
    assert claim_files(landing, archive, "run-2", now=NOW).claimed == []


def test_a_file_replaced_after_its_claim_stays_for_the_next_run(folders):
    landing, archive = folders
    drop(landing, "access.log", LINE_A)
    claims = claim_files(landing, archive, "run-1", now=NOW).claimed
    drop(landing, "access.log", LINE_B)  # a new upload under the same name

    outcomes = archive_files(claims, landing, archive, "run-1", now=NOW)

    assert [o["outcome"] for o in outcomes] == ["changed since claimed; left in landing"]
    assert (landing / "access.log").read_bytes() == LINE_B
    assert [c.sha256 for c in claim_files(landing, archive, "run-2", now=NOW).claimed] == [
        sha(LINE_B)
    ]


def test_a_file_deleted_before_archiving_is_reported(folders):
    landing, archive = folders
    drop(landing, "a.log", LINE_A)
    claims = claim_files(landing, archive, "run-1", now=NOW).claimed
    (landing / "a.log").unlink()

    outcomes = archive_files(claims, landing, archive, "run-1", now=NOW)

    assert [o["outcome"] for o in outcomes] == ["gone from landing before archiving"]
    assert manifest_summary(archive) == {"done": 1}


def test_archive_across_file_systems_copies_then_deletes(folders, monkeypatch):
    landing, archive = folders
    drop(landing, "a.log", LINE_A)
    claims = claim_files(landing, archive, "run-1", now=NOW).claimed
    real_replace = os.replace
    calls = []

    def replace(src, dst):
        calls.append(Path(src).name)
        if Path(src).parent == landing:  # renaming out of the landing folder crosses devices
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_replace(src, dst)

    monkeypatch.setattr(landing_mod.os, "replace", replace)
    outcomes = archive_files(claims, landing, archive, "run-1", now=NOW)

    assert [o["outcome"] for o in outcomes] == ["archived"]
    assert (archive / sha(LINE_A)[:16] / "a.log").read_bytes() == LINE_A
    assert not (landing / "a.log").exists()
    assert "a.log" in calls


def test_claims_round_trip_through_their_xcom_form(folders):
    landing, archive = folders
    drop(landing, "a.log", LINE_A)
    result = claim_files(landing, archive, "run-1", now=NOW)
    as_json = json.loads(json.dumps(result.to_dict()))
    assert claims_from_dicts(as_json["claimed"]) == result.claimed
    assert isinstance(result.claimed[0], Claim)


def test_a_missing_landing_folder_is_empty_not_an_error(tmp_path):
    assert candidate_files(tmp_path / "nope", now=NOW, min_age_s=0) == ([], [])
