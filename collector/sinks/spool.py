"""The durable spool: what Kafka could not take, on local disk, fsync'd before the 2xx.

Layout: ``<dir>/*.seg`` segment files of JSON lines ``{"topic", "key", "value"}``. Each worker
appends to its own *active* segment while holding an exclusive ``flock`` on it; sealing closes
it, which releases the lock. A replayer *claims* any segment it can lock -- a sealed one, or the
active segment of a worker that died (the kernel drops a dead process's locks) -- sends it and
deletes it. A write torn by a crash leaves a partial last line, which the reader ignores: that
request never got its 2xx. Segments are created under a temporary name and renamed only once
locked, so a replayer can never claim (and delete) a segment a writer is about to fill.

The spool has a byte cap (all segments together); past it :class:`SinkFull` is raised and the
collector answers 503, so nothing is lost silently.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from collector.sinks.base import Record, SinkFull

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".seg"


def encode_records(records: Sequence[Record]) -> bytes:
    """The spool lines for ``records``."""
    return b"".join(
        json.dumps({"topic": r.topic,
                    "key": None if r.key is None else r.key.decode("utf-8", "surrogateescape"),
                    "value": r.value.decode("utf-8", "surrogateescape")},
                   ensure_ascii=True, separators=(",", ":")).encode() + b"\n"
        for r in records
    )


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
    """Append-and-fsync segment files under ``directory`` with a total size cap."""

    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int = 16 * 1024 * 1024):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._active_bytes = 0

    # --- writing ----------------------------------------------------------------------------

    def append(self, records: Sequence[Record]) -> None:
        """Write ``records`` and fsync; raise :class:`SinkFull` past the cap."""
        data = encode_records(records)
        with self._lock:
            used = self.size_bytes()
            if used + len(data) > self.max_bytes:
                raise SinkFull(f"spool is full ({used} of {self.max_bytes} bytes used)")
            fd = self._fd if self._fd is not None else self._open_segment()
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
            self._active_bytes += len(data)
            if self._active_bytes >= self.segment_bytes:
                self._seal_locked()

    def _open_segment(self) -> int:
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}"
        temporary = self.directory / (name + ".new")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        final = self.directory / (name + SEGMENT_SUFFIX)
        os.rename(temporary, final)
        _fsync_dir(self.directory)
        self._fd, self._path, self._active_bytes = fd, final, 0
        return fd

    def seal(self) -> bool:
        """Close the active segment so it can be replayed; True if there was data to seal."""
        with self._lock:
            return self._seal_locked()

    def _seal_locked(self) -> bool:
        if self._fd is None:
            return False
        os.close(self._fd)  # releases the flock
        had_data = self._active_bytes > 0
        self._fd, self._path, self._active_bytes = None, None, 0
        return had_data

    @property
    def active_bytes(self) -> int:
        return self._active_bytes

    # --- reading ----------------------------------------------------------------------------

    def segments(self) -> list[Path]:
        """Every segment file, oldest first."""
        try:
            return sorted(p for p in self.directory.iterdir() if p.suffix == SEGMENT_SUFFIX)
        except FileNotFoundError:
            return []

    def claim(self) -> Iterator[ClaimedSegment]:
        """Yield each segment nobody else holds, locked for the caller; release after use."""
        for path in self.segments():
            if path == self._path:
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            if os.fstat(fd).st_nlink == 0:  # replayed and deleted by someone else meanwhile
                os.close(fd)
                continue
            segment = ClaimedSegment(path, fd)
            try:
                yield segment
            finally:
                segment.release()

    def size_bytes(self) -> int:
        total = 0
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    if entry.name.endswith((SEGMENT_SUFFIX, ".new")):
                        with contextlib.suppress(FileNotFoundError):
                            total += entry.stat().st_size
        except FileNotFoundError:
            return 0
        return total

    def writable(self) -> bool:
        return os.access(self.directory, os.W_OK) and self.size_bytes() < self.max_bytes

    def close(self) -> None:
        self.seal()


class ClaimedSegment:
    """A segment locked by this process: read it, then delete it once replayed."""

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


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
