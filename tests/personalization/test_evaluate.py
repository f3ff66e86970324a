"""``clickloop personalization evaluate``: a replay through the worker's engine, in memory."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pytest

from clickloop.cli import main
from personalization.evaluate import evaluate_file
from simulation.intent_stream import generate
from tests.personalization.builders import add, buy, event, view

GAP_MIN = 30


def write(path: Path, lines: list[bytes]) -> Path:
    data = b"".join(line + b"\n" for line in lines)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def story() -> list[dict]:
    """A buyer and a browser whose sessions are over, and a visitor still browsing at the end."""
    return [
        view("buyer", 0, "JK-1"), add("buyer", 1, "JK-1"), buy("buyer", 2, "o-1", {"JK-1": 1}),
        view("browser", 3, "SH-1"), view("browser", 4, "SK-1"),
        event("page_view", "late", 100), view("late", 101, "WA-1"), add("late", 102, "WA-1"),
    ]


def test_open_sessions_at_the_end_are_not_labelled(tmp_path: Path) -> None:
    path = write(tmp_path / "events.jsonl", [orjson.dumps(e) for e in story()])
    result = evaluate_file(path, gap_s=GAP_MIN * 60.0)
    assert result["events"] == 8
    # buyer: 2 snapshots before the purchase (positive), 1 after it (negative at close);
    # browser: 2 negatives (idle 96 minutes at the end); late: still open, nothing labelled
    assert (result["labels"], result["positives"]) == (5, 2)
    assert (result["sessions_open_at_end"], result["unlabelled_snapshots"]) == (1, 3)
    assert result["sessions_closed"] == 2 and result["out_of_order"] == 0


def test_a_file_out_of_time_order_is_flagged(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    events = story()
    events.append(view("stray", 5, "JK-1"))  # 97 minutes before the event written before it
    path = write(tmp_path / "events.jsonl", [orjson.dumps(e) for e in events])
    assert evaluate_file(path, gap_s=GAP_MIN * 60.0)["out_of_order"] == 1
    assert main(["personalization", "evaluate", str(path)]) == 0
    assert "sort the file by time" in capsys.readouterr().out


def test_gzip_and_plain_files_give_the_same_figures(tmp_path: Path) -> None:
    lines = [orjson.dumps(e) for e in generate(150, seed=11)]
    plain = evaluate_file(write(tmp_path / "e.jsonl", lines))
    packed = evaluate_file(write(tmp_path / "e.jsonl.gz", lines))
    for timing in ("seconds", "events_per_s"):
        plain.pop(timing), packed.pop(timing)
    assert plain == packed
    assert plain["labels"] > 100 and plain["roc_auc"] is not None
    assert plain["cart_rule_auc"] is not None and len(plain["calibration"]) >= 2


def test_unusable_lines_are_reported_with_their_numbers(tmp_path: Path) -> None:
    good = [orjson.dumps(e) for e in story()[:3]]
    no_time = dict(story()[3])
    del no_time["client_ts"], no_time["enrichment"]["derived_ts"]
    anonymous = dict(story()[3])
    del anonymous["visitor_id"]
    lines = [good[0], b"{not json", good[1], b"[1, 2]", orjson.dumps(no_time), b"",
             orjson.dumps(anonymous), good[2]]
    result = evaluate_file(write(tmp_path / "e.jsonl", lines))
    assert result["events"] == 3
    assert result["skipped"]["unusable"] == 3 and result["skipped"]["without_visitor"] == 1
    numbered = {item["line"]: item["reason"] for item in result["unusable_lines"]}
    assert sorted(numbered) == [2, 4, 5]
    assert numbered[2].startswith("not JSON") and "list" in numbered[4]
    assert "timestamp" in numbered[5]


def test_the_command_prints_json_and_touches_no_store(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("CLICKLOOP_STATE_DIR", str(state))
    monkeypatch.setenv("CLICKLOOP_REDIS_URL", "redis://127.0.0.1:1/0")  # unreachable: unused
    path = write(tmp_path / "e.jsonl.gz", [orjson.dumps(e) for e in generate(100, seed=2)])
    assert main(["personalization", "evaluate", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["events"] > 0 and result["events_per_s"] > 0
    assert {"roc_auc", "cart_rule_auc", "log_loss", "no_skill_log_loss", "calibration"} \
        <= result.keys()
    assert not state.exists()

    assert main(["personalization", "evaluate", str(path)]) == 0
    text = capsys.readouterr().out
    assert "progressive ROC AUC" in text and "no skill" in text and "events/s" in text


def test_the_command_refuses_a_missing_or_broken_file(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["personalization", "evaluate", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"not gzip at all")
    assert main(["personalization", "evaluate", str(broken)]) == 2
    assert "broken.jsonl.gz" in capsys.readouterr().err
    assert main(["personalization", "evaluate", str(broken), "--model", "oracle"]) == 2
    assert "--model 'oracle'" in capsys.readouterr().err
