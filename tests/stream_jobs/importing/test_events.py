"""Contract events from JSON lines: own times kept, bad lines rejected with their reason."""

from __future__ import annotations

import json

from stream_jobs.importing.orders import Reject
from stream_jobs.importing.reading import read_events

EVENT = {"schema_version": 1, "event_id": "00000000-0000-0000-0000-000000000001",
         "event_type": "page_view", "client_ts": "2023-01-05T10:00:00Z",
         "visitor_id": "v1", "url": "https://shop.example/"}


def test_old_events_keep_their_time_and_bad_lines_are_rejected(tmp_path):
    second = {**EVENT, "event_id": "00000000-0000-0000-0000-000000000002",
              "enrichment": {"source": "js", "derived_ts": "2030-01-01T00:00:00Z"}}
    lines = [
        json.dumps(EVENT),
        "{not json",
        json.dumps({**EVENT, "event_type": "teleport"}),
        json.dumps({k: v for k, v in EVENT.items() if k != "visitor_id"}),
        json.dumps(EVENT),  # the same event id again
        "",
        json.dumps(second),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    events, rejects, rows = read_events(path)
    assert rows == 6
    assert [(r.line, r.reason.split(":")[0]) for r in rejects] == [
        (2, "not JSON"), (3, "event_type"), (4, "visitor_id"), (5, "event_id")]
    assert "already on line 1" in rejects[3].reason
    assert all(isinstance(r, Reject) for r in rejects)
    assert [e["event_id"][-1] for e in events] == ["1", "2"]
    # the time is the event's own (2023, older than the collector's 30-day window), and a
    # client's enrichment block is replaced, never trusted
    assert events[1]["enrichment"] == {"collector_ts": "2023-01-05T10:00:00.000Z",
                                       "derived_ts": "2023-01-05T10:00:00.000Z",
                                       "source": "server"}
    assert events[0]["properties"] == {"import": "events"}
