"""Reading an import file on the driver: open (plain or gzip), hash, number lines, report progress.

Parsing stays in plain Python so every bad row is caught with its own line number and reason
(a Spark CSV reader would silently null a bad cell). Both kinds of file stream through in one
pass, keeping only what becomes events.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from stream_jobs.importing.events import parse_event_line
from stream_jobs.importing.mapping import OrderMapping
from stream_jobs.importing.orders import OrderLine, Reject, order_events, parse_line

PROGRESS_EVERY = 20_000

Progress = Callable[[int, int], None]


class ImportFileError(ValueError):
    """A file that cannot be imported at all (missing, unreadable, wrong header)."""


def open_text(path: Path) -> IO[str]:
    """``path`` as UTF-8 text (gunzipped when it starts with the gzip magic)."""
    try:
        with path.open("rb") as probe:
            gz = probe.read(2) == b"\x1f\x8b"
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read ({exc.strerror})") from exc
    raw: IO[bytes] = gzip.open(path, "rb") if gz else path.open("rb")  # noqa: SIM115 (the wrapper closes it)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")


def content_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes as stored (a re-compressed copy is another import)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest_name(kind: str, sha: str, mapping: OrderMapping | None = None) -> str:
    """``import-<hash>`` of the kind, the content and the mapping (not the file name: the same
    content under another name is the same import and replaces the same partitions)."""
    text = f"{kind}\0{sha}\0{mapping.fingerprint() if mapping else ''}"
    return "import-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def stderr_progress(label: str) -> Progress:
    """A progress callback printing ``label: N rows read (M rejected)`` to stderr."""
    def report(rows: int, rejected: int) -> None:
        print(f"{label}: {rows:,} rows read ({rejected:,} rejected)", file=sys.stderr, flush=True)
    return report


def _decoded_lines(handle: IO[str], path: Path) -> Iterator[tuple[int, str]]:
    line = 0
    try:
        for line, text in enumerate(handle, start=1):
            yield line, text
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: line {line + 1} is not UTF-8 ({exc.reason})") from exc


def read_orders(path: Path, mapping: OrderMapping, progress: Progress | None = None
                ) -> tuple[list[dict[str, Any]], list[Reject], int]:
    """(events, rejects by line, rows read) of an orders CSV."""
    lines: list[OrderLine] = []
    rejects: list[Reject] = []
    rows = 0
    with open_text(path) as handle:
        numbered = _decoded_lines(handle, path)
        current = [0]

        def physical() -> Iterator[str]:
            for number, text in numbered:
                current[0] = number
                yield text

        reader = csv.reader(physical(), delimiter=mapping.delimiter)
        try:
            header = next(reader)
        except StopIteration as exc:
            raise ImportFileError(f"{path}: empty file (a header line is needed)") from exc
        missing = [f"{role} ({column})" for role, column in mapping.columns().items()
                   if column not in header]
        if missing:
            raise ImportFileError(f"{path}: header has no column for {', '.join(missing)}; "
                                  f"it has {', '.join(header)} (see --mapping)")
        width = len(header)
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                rows += 1
                rejects.append(Reject(current[0], f"CSV: {exc}", ""))
                continue
            if not cells:
                continue  # blank line
            rows += 1
            text = mapping.delimiter.join(cells)
            if len(cells) != width:
                rejects.append(Reject(current[0], f"{len(cells)} cells; the header has {width}",
                                      text))
            else:
                parsed = parse_line(dict(zip(header, cells, strict=True)), current[0], text,
                                    mapping)
                (rejects if isinstance(parsed, Reject) else lines).append(parsed)  # type: ignore[arg-type]
            if progress is not None and rows % PROGRESS_EVERY == 0:
                progress(rows, len(rejects))
    events, conflicts = order_events(lines, mapping)
    rejects = sorted([*rejects, *conflicts], key=lambda r: r.line)
    if progress is not None:
        progress(rows, len(rejects))
    return events, rejects, rows


def read_events(path: Path, progress: Progress | None = None
                ) -> tuple[list[dict[str, Any]], list[Reject], int]:
    """(events, rejects by line, lines read) of a contract JSON-lines file."""
    events: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    seen: dict[str, int] = {}
    rows = 0
    with open_text(path) as handle:
        for line, text in _decoded_lines(handle, path):
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            rows += 1
            parsed = parse_event_line(text, line, seen)
            if isinstance(parsed, Reject):
                rejects.append(parsed)
            else:
                events.append(parsed)
            if progress is not None and rows % PROGRESS_EVERY == 0:
                progress(rows, len(rejects))
    if progress is not None:
        progress(rows, len(rejects))
    return events, rejects, rows
