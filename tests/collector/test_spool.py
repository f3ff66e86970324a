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
    kafka = KafkaSink(f"127.0.0.1:{free_port()}", timeout_s=0.5, connect_timeout_s=0.3)
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


def _append_in_child(directory, records, go, done):
    spool = Spool(directory, max_bytes=1 << 20)
    for record in records:
        go.wait(30)  # wait for our turn: the parent alternates the two writers
        go.clear()
        spool.append([record])
        done.set()
    os._exit(0)  # a worker killed without sealing


def test_workers_share_one_segment_so_replay_follows_acceptance_order(tmp_path):
    """Two worker processes take turns accepting a visitor's events: the replay must see them
    in that order, not one worker's segment after the other's."""
    context = multiprocessing.get_context("fork")
    spool = Spool(tmp_path, max_bytes=1 << 20)
    theirs = [Record("t", b"v-1", f'{{"n":{n}}}'.encode()) for n in (2, 4, 6)]
    go, done = context.Event(), context.Event()
    child = context.Process(target=_append_in_child, args=(tmp_path, theirs, go, done))
    child.start()
    accepted = []
    for n in range(1, 7):
        if n % 2:
            record = Record("t", b"v-1", f'{{"n":{n}}}'.encode())
            spool.append([record])
        else:
            record = theirs[n // 2 - 1]
            go.set()
            assert done.wait(30)
            done.clear()
        accepted.append(record)
    child.join(30)
    assert spool.seal() is True  # seals the segment both processes wrote
    assert spooled(spool) == [accepted]


def test_a_torn_line_in_the_active_segment_is_cut_before_the_next_batch(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(RECORDS[:1])
    [active] = spool.segments()
    with open(active, "ab") as handle:  # a worker killed in the middle of its write
        handle.write(b'{"topic":"t","key":"v-9","val')
    other = Spool(tmp_path, max_bytes=1 << 20)  # another worker accepts the next batch
    other.append(RECORDS[1:])
    other.seal()
    assert spooled(spool) == [RECORDS]  # nothing after the torn line was lost


def test_writable_needs_room_for_a_batch_not_one_byte(tmp_path):
    batch = [Record("t", b"k", b"x" * 400)]  # ~440 bytes as a spool line
    spool = Spool(tmp_path, max_bytes=1200)
    spool.append(batch)
    assert spool.writable()
    spool.append(batch)
    with pytest.raises(SinkFull):
        spool.append(batch)  # ~880 of 1200 bytes used: a third batch does not fit
    assert spool.size_bytes() < spool.max_bytes
    assert not spool.writable()  # so readiness must say no, although size < max
    # a process that has not spooled anything yet still reserves a typical batch
    assert not Spool(tmp_path, max_bytes=1200).writable()
    spool.seal()
    assert len(spooled(spool)[0]) == 2
    assert spool.writable()  # replayed: room again


def test_spool_mode_is_shared_by_every_worker(tmp_path):
    spool, other = Spool(tmp_path, max_bytes=1 << 20), Spool(tmp_path, max_bytes=1 << 20)
    assert not spool.spooling() and not other.spooling()
    spool.append(RECORDS[:1])
    assert other.spooling()  # the other worker must spool too, to keep order
    assert other.leave_spooling_if_empty() is False  # not while anything is spooled
    spool.seal()
    assert spooled(other) == [RECORDS[:1]]
    assert other.leave_spooling_if_empty() is True
    assert not spool.spooling()


def test_only_one_process_replays_at_a_time(tmp_path):
    context = multiprocessing.get_context("fork")
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(RECORDS)
    spool.seal()
    queue = context.Queue()
    with spool.replaying() as leader:
        assert leader
        child = context.Process(target=_claim_in_child, args=(tmp_path, queue))
        child.start()
        child.join(30)
        assert queue.get(timeout=5) == []  # the segment is ours while we replay
    assert spooled(spool) == [RECORDS]
