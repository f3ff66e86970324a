"""The durable spool: what Kafka could not take, on local disk, fsync'd before the 2xx.

Layout of ``<dir>``:

- ``active.seg``: the one segment every worker appends to (JSON lines ``{"topic", "key",
  "value"}``). An append takes the exclusive ``flock`` on ``append.lock`` for its write, so the
  file holds the batches in the order the collector accepted them -- across all workers. That
  order is what keeps one visitor's events in order when they are replayed, whichever worker
  took each request (Kafka keeps per-key order only as far as it is given records in order).
  The fsync runs after the lock is released, so workers' fsyncs overlap (each fsync covers
  every write before it); the 2xx waits for it.
- ``<sequence>.seg``: sealed segments. Sealing renames ``active.seg`` under the append lock to
  the next sequence number, so sealed segments sort in acceptance order and are never written
  again. A replayer seals, then sends the sealed segments oldest first and deletes each.
- ``refused.jsonl``: records Kafka refused for good (larger than the topic's
  ``max.message.bytes``): JSON lines ``{"topic", "key", "value", "reason", "refused_at"}``,
  appended under the append lock and fsync'd, never replayed automatically (they would be
  refused again); they count against the cap. Raise the topic's limit, then produce them
  again with any Kafka client.
- ``replay.lock``: one replayer at a time (any worker's), so segments are sent in order.
- ``spooling``: the marker that the collector is in spool mode. It is created with the first
  spooled batch and removed, under the append lock, only once the spool is empty. While it
  exists every worker spools instead of writing to Kafka: a worker must not send a visitor's
  new event ahead of its older, still spooled ones.

A writer also holds a shared ``flock`` on the active segment while it has it open, so
:meth:`Spool.claim` takes an unsealed active segment only from writers that all died (the
kernel drops a dead process's locks). A write torn by a crash leaves a partial last line: the
next append cuts it off (that request never got its 2xx), and a reader ignores one at the end.

The spool has a byte cap (all segments together); past it :class:`SinkFull` is raised and the
collector answers 503, so nothing is lost silently. :meth:`Spool.writable` (readiness) asks for
room for a batch as large as the recent ones, not for one byte.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path

from collector.sinks.base import Record, SinkFull

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".seg"
ACTIVE = "active" + SEGMENT_SUFFIX
APPEND_LOCK = "append.lock"
REPLAY_LOCK = "replay.lock"
MARKER = "spooling"
REFUSED = "refused.jsonl"
LAST_BATCH = "last-batch"  # the size of the latest batch any worker spooled (readiness hint)
# readiness asks for room for at least this much (capped at an eighth of the spool), or for the
# largest recent batch if that is bigger: a 20-event browser batch is ~10-30 KiB enriched
MIN_BATCH_RESERVE = 32 * 1024
RECENT_BATCHES = 64


def _fields(record: Record) -> dict[str, str | None]:
    return {"topic": record.topic,
            "key": None if record.key is None else record.key.decode("utf-8", "surrogateescape"),
            "value": record.value.decode("utf-8", "surrogateescape")}


def _line(item: dict[str, str | None]) -> bytes:
    return json.dumps(item, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"


def encode_records(records: Sequence[Record]) -> bytes:
    """The spool lines for ``records``."""
    return b"".join(_line(_fields(r)) for r in records)


def decode_records(data: bytes) -> tuple[list[Record], int]:
    """Records in spool ``data`` and the number of unreadable lines (a torn tail is not one)."""
    records: list[Record] = []
    bad = 0
    lines = data.split(b"\n")
    complete, tail = lines[:-1], lines[-1]  # no newline at the end: torn by a crash, never acked
    if tail:
        log.warning("ignoring a torn spool line of %d bytes", len(tail))
    for line in complete:
        if not line:
            continue
        try:
            item = json.loads(line)
            key = item["key"]
            records.append(Record(item["topic"],
                                  None if key is None else key.encode("utf-8", "surrogateescape"),
                                  item["value"].encode("utf-8", "surrogateescape")))
        except (ValueError, KeyError, TypeError, AttributeError):
            bad += 1
    return records, bad


class Spool:
    """Append-and-fsync segment files under ``directory``, shared by every worker, with a total
    size cap."""

    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int = 16 * 1024 * 1024):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.directory.mkdir(parents=True, exist_ok=True)
        self._active_path = self.directory / ACTIVE
        self._marker = self.directory / MARKER
        self._lock = threading.Lock()  # this process's appends and seals
        self._fd: int | None = None  # our handle on the active segment (shared flock)
        self._active_bytes = 0
        self._recent: deque[int] = deque(maxlen=RECENT_BATCHES)
        self._replay_lock = threading.RLock()
        self._replay_fd: int | None = None
        self._replay_depth = 0

    # --- spool mode -------------------------------------------------------------------------

    def spooling(self) -> bool:
        """True while the collector is in spool mode (one ``stat`` per call)."""
        return self._marker.exists()

    def leave_spooling_if_empty(self) -> bool:
        """End spool mode if nothing is spooled (checked under the append lock, so no batch
        can slip in between); True when the collector is no longer in spool mode."""
        with self._lock, self._append_locked():
            if self._sealed() or _size(self._active_path) > 0:
                return False
            if self._marker.exists():
                self._marker.unlink()
                _fsync_dir(self.directory)
                log.info("spool drained: storing in Kafka directly again")
            return True

    # --- writing ----------------------------------------------------------------------------

    def append(self, records: Sequence[Record]) -> None:
        """Write ``records`` (entering spool mode) and fsync; raise :class:`SinkFull` past the
        cap, or when the disk refuses the write."""
        data = encode_records(records)
        with self._lock:
            with self._append_locked():
                used = self.size_bytes()
                if used + len(data) > self.max_bytes:
                    if len(data) <= self.max_bytes:
                        self._recent.append(len(data))
                    raise SinkFull(f"spool is full ({used} of {self.max_bytes} bytes used)")
                try:
                    if not self._marker.exists():
                        self._marker.touch()
                        _fsync_dir(self.directory)
                    fd = self._active_fd()
                    start = _cut_torn_tail(fd)
                    try:
                        _write_all(fd, data)
                    except OSError:
                        os.ftruncate(fd, start)  # no half batch for the next writer to follow
                        raise
                except OSError as exc:
                    raise SinkFull(f"spool write failed: {exc}") from exc
                self._active_bytes = start + len(data)
                self._share_batch_size(len(data))
            self._recent.append(len(data))
            try:
                os.fsync(fd)  # outside the append lock: other workers' writes go on meanwhile
            except OSError as exc:
                raise SinkFull(f"spool fsync failed: {exc}") from exc
            if self._active_bytes >= self.segment_bytes:
                self._seal_locked()

    def set_aside(self, refused: Sequence[tuple[Record, str]]) -> None:
        """Keep records Kafka refused for good in ``refused.jsonl`` (fsync'd), with the reason;
        :class:`SinkFull` past the cap or when the disk refuses the write."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        data = b"".join(_line({**_fields(record), "reason": reason, "refused_at": stamp})
                        for record, reason in refused)
        with self._lock, self._append_locked():
            used = self.size_bytes()
            if used + len(data) > self.max_bytes:
                raise SinkFull(f"spool is full ({used} of {self.max_bytes} bytes used)")
            try:
                fd = os.open(self.directory / REFUSED, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                             0o600)
                try:
                    _write_all(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise SinkFull(f"writing refused records failed: {exc}") from exc
        log.error("Kafka refused %d record(s) for good (%s): kept in %s; raise the topic's "
                  "max.message.bytes, then produce them again", len(refused), refused[0][1],
                  self.directory / REFUSED)

    def _active_fd(self) -> int:
        """Our descriptor for the current ``active.seg`` (called under the append lock): a
        segment sealed by another process since our last append is let go."""
        if self._fd is not None:
            try:
                same = os.fstat(self._fd).st_ino == os.stat(self._active_path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return self._fd
            os.close(self._fd)
            self._fd = None
        created = not self._active_path.exists()
        fd = os.open(self._active_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)  # "a live writer has this open"
        if created:
            _fsync_dir(self.directory)
        self._fd = fd
        return fd

    @contextlib.contextmanager
    def _append_locked(self) -> Iterator[None]:
        fd = os.open(self.directory / APPEND_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def seal(self) -> bool:
        """Seal the active segment (whoever writes to it) so it can be replayed; True if there
        was data to seal."""
        with self._lock:
            return self._seal_locked()

    def _seal_locked(self) -> bool:
        with self._append_locked():
            sealed = self._rename_active()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._active_bytes = 0
        return sealed

    def _rename_active(self) -> bool:
        """Under the append lock: ``active.seg`` becomes the next sealed segment."""
        if _size(self._active_path) <= 0:
            return False
        existing = self._sealed()
        last = int(existing[-1].stem) if existing else 0
        target = self.directory / f"{max(last + 1, time.time_ns()):020d}{SEGMENT_SUFFIX}"
        os.rename(self._active_path, target)
        _fsync_dir(self.directory)
        return True

    @property
    def active_bytes(self) -> int:
        """Bytes in the active segment after this process's last append (0 once sealed)."""
        return self._active_bytes

    # --- reading ----------------------------------------------------------------------------

    def _sealed(self) -> list[Path]:
        try:
            return sorted(p for p in self.directory.iterdir()
                          if p.suffix == SEGMENT_SUFFIX and p.stem.isdigit())
        except FileNotFoundError:
            return []

    def segments(self) -> list[Path]:
        """Every segment file, oldest first (the active one last)."""
        active = [self._active_path] if self._active_path.exists() else []
        return self._sealed() + active

    @contextlib.contextmanager
    def replaying(self) -> Iterator[bool]:
        """Hold the replay lock for the block if no other process does; yields whether it is
        held. Re-entrant within this :class:`Spool`."""
        with self._replay_lock:
            if self._replay_depth == 0:
                fd = os.open(self.directory / REPLAY_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    yield False
                    return
                self._replay_fd = fd
            self._replay_depth += 1
            try:
                yield True
            finally:
                self._replay_depth -= 1
                if self._replay_depth == 0 and self._replay_fd is not None:
                    os.close(self._replay_fd)
                    self._replay_fd = None

    def claim(self) -> Iterator[ClaimedSegment]:
        """Yield the replayable segments oldest first, while holding the replay lock (nothing
        if another process replays): the sealed ones, then the active one if every writer of
        it died. The caller deletes each once sent; stopping early keeps the rest in order."""
        with self.replaying() as leader:
            if not leader:
                return
            for path in self._sealed():
                try:
                    fd = os.open(path, os.O_RDONLY)
                except FileNotFoundError:
                    continue
                segment = ClaimedSegment(path, fd)
                try:
                    yield segment
                finally:
                    segment.release()
            orphan = self._claim_orphaned_active()
            if orphan is not None:
                segment = ClaimedSegment(orphan, os.open(orphan, os.O_RDONLY))
                try:
                    yield segment
                finally:
                    segment.release()

    def _claim_orphaned_active(self) -> Path | None:
        """Seal the active segment if no live process has it open for writing."""
        with self._lock, self._append_locked():
            try:
                fd = os.open(self._active_path, os.O_RDONLY)
            except FileNotFoundError:
                return None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None  # a live writer holds it: it is sealed by the replayer's seal()
            finally:
                os.close(fd)
            if not self._rename_active():
                return None
            return self._sealed()[-1]

    def size_bytes(self) -> int:
        total = 0
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    if entry.name.endswith(SEGMENT_SUFFIX) or entry.name == REFUSED:
                        with contextlib.suppress(FileNotFoundError):
                            total += entry.stat().st_size
        except FileNotFoundError:
            return 0
        return total

    def _share_batch_size(self, size: int) -> None:
        """Tell the other workers how large a batch is (not fsync'd: a hint for readiness)."""
        with contextlib.suppress(OSError):
            fd = os.open(self.directory / LAST_BATCH, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.pwrite(fd, b"%020d" % size, 0)
            finally:
                os.close(fd)

    def batch_reserve(self) -> int:
        """Room a batch is expected to need: the largest recent one of this process (appended,
        or refused although it would fit an empty spool) or the latest of any worker, at least
        a typical batch."""
        floor = min(MIN_BATCH_RESERVE, self.max_bytes // 8)
        try:
            shared = int((self.directory / LAST_BATCH).read_bytes() or 0)
        except (OSError, ValueError):
            shared = 0
        return max([floor, shared, *self._recent])

    def writable(self) -> bool:
        """The next batch is expected to fit (for ``/readyz``): not merely ``size < max``,
        which stays true while every batch is refused."""
        return (os.access(self.directory, os.W_OK)
                and self.size_bytes() + self.batch_reserve() <= self.max_bytes)

    def close(self) -> None:
        self.seal()


class ClaimedSegment:
    """A segment held for replay: read it, then delete it once replayed."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd: int | None = fd

    def read(self) -> list[Record]:
        with open(self._fd, "rb", closefd=False) as handle:
            handle.seek(0)
            records, bad = decode_records(handle.read())
        if bad:
            log.error("%s: %d unreadable spool lines skipped", self.path, bad)
        return records

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)
        _fsync_dir(self.path.parent)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written == 0:
            raise OSError(errno.EIO, "short write")
        view = view[written:]


def _cut_torn_tail(fd: int) -> int:
    """Cut a partial last line (a writer died mid-write; never acknowledged) so the next batch
    starts on a line of its own; the offset the next write lands at."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    end = size
    while end > 0:
        start = max(0, end - 65536)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            keep = start + newline + 1
            break
        end = start
    else:
        keep = 0
    log.warning("cutting a torn spool line of %d bytes", size - keep)
    os.ftruncate(fd, keep)
    return keep


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
