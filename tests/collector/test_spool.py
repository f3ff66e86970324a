"""The durable spool: fsync'd segments, locking between workers, torn tails, the size cap.

Real files and real processes (``multiprocessing`` with fork, as gunicorn workers are forked).
Replay into a real broker is proven in test_outage.py.
"""

from __future__ import annotations

import multiprocessing
import os

import pytest

from collector.sinks import KafkaSink, Record, SinkFull, Spool, SpoolingSink
from embedded.ports import free_port

RECORDS = [Record("t", b"v-1", b'{"n":1}'), Record("t", None, '{"s":"ünï"}'.encode()),
           Record("t.bad", b"v-2", b'{"n":3}')]


def spooled(spool: Spool) -> list[list[Record]]:
    out = []
    for segment in spool.claim():
        out.append(segment.read())
        segment.delete()
    return out


def test_append_seal_claim_replay_delete(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(RECORDS[:2])
    spool.append(RECORDS[2:])
    assert spooled(spool) == []  # the active segment belongs to its writer
    assert spool.seal() is True
    assert spooled(spool) == [RECORDS]
    assert spool.segments() == []
    assert spool.size_bytes() == 0


def _claim_in_child(directory, queue):
    spool = Spool(directory, max_bytes=1 << 20)
    queue.put([segment.read() for segment in spool.claim()])


def _write_and_die(directory):
    Spool(directory, max_bytes=1 << 20).append(RECORDS)
    os._exit(0)  # no seal, no cleanup: the kernel drops the lock


def test_other_processes_cannot_claim_an_active_segment_but_can_after_its_writer_died(tmp_path):
    context = multiprocessing.get_context("fork")
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(RECORDS[:1])
    queue = context.Queue()
    child = context.Process(target=_claim_in_child, args=(tmp_path, queue))
    child.start()
    child.join(30)
    assert queue.get(timeout=5) == []
    spool.seal()

    dead = context.Process(target=_write_and_die, args=(tmp_path,))
    dead.start()
    dead.join(30)
    claimed = sorted(spooled(Spool(tmp_path, max_bytes=1 << 20)), key=len)
    assert claimed == [RECORDS[:1], RECORDS]


def test_torn_tail_is_ignored_and_garbage_lines_skipped(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(RECORDS[:1])
    spool.seal()
    [path] = spool.segments()
    with open(path, "ab") as handle:
        handle.write(b"not json\n")
        handle.write(b'{"topic":"t","key":"v-9","val')  # a crash mid-write: never acked
    assert spooled(spool) == [RECORDS[:1]]


def test_cap_raises_sink_full_and_writes_nothing(tmp_path):
    spool = Spool(tmp_path, max_bytes=200)
    spool.append(RECORDS[:1])
    used = spool.size_bytes()
    with pytest.raises(SinkFull, match="spool is full"):
        spool.append([Record("t", b"k", b"x" * 300)])
    assert spool.size_bytes() == used
    assert spool.writable()


def test_segments_rotate_at_their_size(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=10)
    for _ in range(3):
        spool.append(RECORDS[:1])
    assert len(spool.segments()) == 3
    assert spool.active_bytes == 0  # each append filled a segment, which was sealed



def test_spooling_sink_spools_when_kafka_is_unreachable(tmp_path):
    counts: dict[str, float] = {}
    kafka = KafkaSink(f"127.0.0.1:{free_port()}", timeout_s=0.5,
                      producer_config={"api_version_auto_timeout_ms": 300})
    assert kafka.connected is False
    sink = SpoolingSink(kafka, Spool(tmp_path, max_bytes=1 << 20), probe_topic="t",
                        count=lambda name, n: counts.__setitem__(name, counts.get(name, 0) + n))
    try:
        assert sink.store(RECORDS) == "spool"
        assert counts == {"spooled": 3}
        assert sink.healthy()  # the spool can take events
        assert sink.replay_once() is False  # no broker: nothing replayed, nothing lost
        assert spooled(sink.spool) == [RECORDS]
    finally:
        sink.close(1)
