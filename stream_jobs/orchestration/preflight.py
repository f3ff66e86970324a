"""Checks that a landed log file can be parsed at all, before a batch is handed to Spark.

``stream_jobs.logs.job`` refuses a whole batch when one file has no known format in its first
lines (exit 2, before Spark starts), and Spark fails mid-job on a compressed file that is cut
short after its first lines. In an unattended pipeline one bad upload must not block every other
file, hour after hour. So the ``web_logs`` DAG checks each claimed file first (decompressing a
compressed file completely, detecting the format with the parse job's own detector) and turns an
unusable file into a *file-level reject* in the table the parse job writes its line rejects to:
``<lake>/rejects/logs/ingest=<ingest>/``, same fields (``file``, ``line``, ``reason``,
``bytes``, ``text``), where ``line`` is where the data broke off (or null when the whole file is
unusable), ``bytes`` the file's size and ``text`` its start.

Lines that are merely malformed inside a readable file are left to the parse job, which rejects
them one by one with their line numbers.
"""

from __future__ import annotations

import bz2
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stream_jobs.logs.formats import AUTO, UnknownFormat, detect_format
from stream_jobs.logs.input_files import SAMPLE_LINES, ingest_name

if TYPE_CHECKING:
    from stream_jobs.orchestration.landing import Claim

FILE_REJECT_NAME = "part-file-reject.json"
_FEED = 64 * 1024  # compressed bytes per decompressor call
_HEAD_MAX = 1 << 20


@dataclass(frozen=True)
class FileProblem:
    """Why a whole file cannot be parsed, and the first line that could not be read."""

    reason: str
    line: int | None
    head: bytes


def check_log_file(path: Path, log_format: str = AUTO) -> FileProblem | None:
    """``None`` when ``path`` can go to the parse job, else what is wrong with it."""
    kind = {".gz": "gzip", ".bz2": "bzip2"}.get(path.suffix.lower())
    if kind is not None:
        complete_lines, head, error = _decompress_all(path, kind)
        if error is not None:
            return FileProblem(
                f"corrupt {kind} file, cannot decompress: {error} "
                f"(after {complete_lines} complete lines)",
                complete_lines + 1,
                head,
            )
    else:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_MAX)
    if log_format != AUTO:
        return None
    sample = head.decode("utf-8", errors="replace").splitlines()[:SAMPLE_LINES]
    try:
        detect_format(sample, source=path.name)
    except UnknownFormat as exc:
        reason = str(exc).replace("pass --format", "or set the DAG's log_format param")
        return FileProblem(f"not a known access log format: {reason}", None, head)
    return None


def _decompress_all(path: Path, kind: str) -> tuple[int, bytes, str | None]:
    """Decompress ``path`` as a stream: (complete lines, the start, error or None).

    Streaming decompressors (not ``gzip.open``) because a failing ``read`` of the file objects
    throws away what it had already decompressed, which would make the line count wrong;
    concatenated members/streams (``cat a.gz b.gz``) are followed, like Spark does.
    """
    def new() -> Any:
        return zlib.decompressobj(wbits=31) if kind == "gzip" else bz2.BZ2Decompressor()

    decompressor, lines, head, started = new(), 0, b"", False
    with path.open("rb") as handle:
        while feed := handle.read(_FEED):
            while feed:
                if decompressor.eof:  # the previous member ended: another one follows
                    if not feed.strip(b"\0"):
                        break  # zero padding after the last member
                    decompressor = new()
                try:
                    out = decompressor.decompress(feed)
                except (zlib.error, OSError, EOFError, ValueError) as exc:
                    return lines, head, str(exc)
                started = True
                lines += out.count(b"\n")
                if len(head) < _HEAD_MAX:
                    head += out[: _HEAD_MAX - len(head)]
                feed = decompressor.unused_data if decompressor.eof else b""
    if not started:
        return 0, head, "the file is empty"
    if not decompressor.eof:
        return lines, head, "the data ends before the end-of-stream marker (truncated)"
    return lines, head, None


def write_file_reject(lake: Path, path: Path, content_sha256: str, problem: FileProblem) -> Path:
    """Record ``problem`` as the file's reject in ``<lake>/rejects/logs``; returns the file.

    Written whole to a temporary name and renamed, so a reader never sees half a record.
    """
    folder = lake / "rejects" / "logs" / f"ingest={ingest_name(path.name, content_sha256)}"
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "file": path.name,
        "line": problem.line,
        "reason": problem.reason,
        "bytes": path.stat().st_size,
        "text": problem.head[:1024].decode("utf-8", errors="replace"),
    }
    target = folder / FILE_REJECT_NAME
    tmp = folder / f".{FILE_REJECT_NAME}.tmp"
    tmp.write_text(json.dumps(record) + "\n", encoding="utf-8")
    tmp.replace(target)
    return target


def set_aside_unusable(
    claims: list[Claim],
    *,
    landing: Path,
    archive: Path,
    lake: Path,
    log_format: str,
    run_id: str,
) -> tuple[list[Claim], list[str]]:
    """Check every claimed file; reject and archive the unusable ones. Safe to retry.

    Returns the claims that go on to the parse job and one log line per file set aside. A file
    a previous attempt already rejected and archived counts as rejected again, not as missing.
    """
    from stream_jobs.orchestration.landing import MANIFEST_DIR, archive_files, read_record

    usable: list[Claim] = []
    rejected: list[Claim] = []
    details: dict[str, dict[str, str]] = {}
    messages: list[str] = []
    for claim in claims:
        path = Path(claim.path)
        if not path.is_file():
            record = read_record(archive / MANIFEST_DIR, claim.sha256) or {}
            messages.append(f"{claim.name}: no longer in the landing folder "
                            f"({record.get('state', 'unknown')}: {record.get('reason', '-')})")
            continue
        problem = check_log_file(path, log_format)
        if problem is None:
            usable.append(claim)
            continue
        written = write_file_reject(lake, path, claim.sha256, problem)
        messages.append(f"REJECTED {claim.name}: {problem.reason}; reject record in {written}")
        rejected.append(claim)
        details[claim.sha256] = {"reason": problem.reason, "reject": str(written)}
    archive_files(rejected, landing, archive, run_id, state="rejected", details=details)
    return usable, messages
