"""The landing folder of the scheduled log pipeline: which files are new, which run claimed
them, where they went.

Data engineers drop web server logs into a landing folder; the ``web_logs`` DAG claims them,
parses them into the lake and moves them to the archive. A manifest keyed by the SHA-256 of each
file's *content* (one small JSON record per file under ``<archive>/_manifest/``) is what makes
the pipeline idempotent:

* content that was processed (or rejected) once is never parsed again, whatever the file is
  called: a second copy is moved to the archive as a duplicate. This matters because the lake
  partition of a file (``ingest=log-<hash>``) is named after its name *and* content: the same
  log parsed again under another name would be counted twice;
* a claim belongs to one DAG run. A retry of that run gets the same files back, and a later run
  takes over the claims of a run that never archived them (it failed half-way). Both are safe
  because parsing a file overwrites exactly its own lake partitions;
* a file is archived only once the whole pipeline succeeded, and only if its content is still
  the content that was claimed.

Archived files live in ``<archive>/<first 16 hex digits of the SHA-256>/<name>``; the manifest
record says which lake ``ingest`` partition their events went to.

Standard-library file operations only (the content hash is the parse job's own,
:func:`stream_jobs.logs.input_files.file_sha256`): this runs inside Airflow tasks, nowhere near
Spark.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stream_jobs.logs.input_files import file_sha256

MANIFEST_DIR = "_manifest"
FINAL_STATES = ("done", "rejected")  # content in these states is never parsed again
DUPLICATES_DIR = "duplicates"
# Suffixes of files that are still being written by the tool that drops them.
PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", ".filepart")


@dataclass(frozen=True)
class Claim:
    """One landed file claimed by one DAG run."""

    name: str  # path relative to the landing folder
    path: str  # absolute path in the landing folder
    sha256: str
    size: int

    @property
    def folder(self) -> str:
        """The archive folder name; names the content, so two copies share it."""
        return content_folder(self.sha256)


@dataclass(frozen=True)
class ClaimResult:
    """What a scan of the landing folder found; plain data so it travels as an XCom."""

    claimed: list[Claim] = field(default_factory=list)
    duplicates: list[dict[str, str]] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    taken_over: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (XCom values must be JSON)."""
        return {
            "claimed": [asdict(c) for c in self.claimed],
            "duplicates": self.duplicates,
            "waiting": self.waiting,
            "taken_over": self.taken_over,
        }


def content_folder(sha256: str) -> str:
    """Short, stable name of a file's content (16 hex digits of its SHA-256)."""
    return sha256[:16]


def candidate_files(
    landing: Path, *, now: float, min_age_s: float
) -> tuple[list[Path], list[Path]]:
    """Regular files under ``landing`` that are ready, and those too fresh to take yet.

    Skipped entirely: hidden files and folders (``.x``), folders starting with ``_`` (Spark and
    Hadoop markers), and names ending in a partial-download suffix. A file modified less than
    ``min_age_s`` seconds ago may still be growing; it waits for the next run.
    """
    ready: list[Path] = []
    fresh: list[Path] = []
    if not landing.is_dir():
        return ready, fresh
    for root, dirs, files in os.walk(landing):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(files):
            if name.startswith(".") or name.endswith(PARTIAL_SUFFIXES):
                continue
            path = Path(root) / name
            if not path.is_file():
                continue
            if now - path.stat().st_mtime < min_age_s:
                fresh.append(path)
            else:
                ready.append(path)
    return ready, fresh


def claim_files(
    landing: Path,
    archive: Path,
    run_id: str,
    *,
    min_age_s: float = 60,
    now: float | None = None,
) -> ClaimResult:
    """Claim every new file in ``landing`` for ``run_id``; idempotent for the same run.

    Returns the files this run must parse (new ones, its own earlier claims, and claims left by
    runs that never archived them), and moves copies of already-processed content to the
    archive's duplicates folder right away so they do not come back every hour.
    """
    now = time.time() if now is None else now
    manifest = archive / MANIFEST_DIR
    ready, fresh = candidate_files(landing, now=now, min_age_s=min_age_s)
    result = ClaimResult(waiting=[_rel(p, landing) for p in fresh])
    seen: dict[str, str] = {}  # sha256 -> name claimed in this scan
    for path in ready:
        name = _rel(path, landing)
        digest = file_sha256(path)
        record = read_record(manifest, digest)
        if digest in seen or (record is not None and record["state"] in FINAL_STATES):
            first = seen[digest] if digest in seen else record["name"]
            moved = _move_duplicate(path, archive / content_folder(digest), name)
            result.duplicates.append(
                {"name": name, "sha256": digest, "same_as": first, "moved_to": str(moved)}
            )
            continue
        if record is not None and record["run_id"] != run_id:
            result.taken_over.append({"name": name, "from_run": record["run_id"]})
        seen[digest] = name
        claim = Claim(name=name, path=str(path), sha256=digest, size=path.stat().st_size)
        write_record(manifest, digest, {
            "state": "claimed",
            "name": name,
            "size": claim.size,
            "run_id": run_id,
            "claimed_at": _iso(now),
        })
        result.claimed.append(claim)
    return result


def archive_files(
    claims: list[Claim],
    landing: Path,
    archive: Path,
    run_id: str,
    *,
    state: str = "done",
    details: Mapping[str, Mapping[str, Any]] | None = None,
    now: float | None = None,
) -> list[dict[str, str]]:
    """Move claimed files to ``<archive>/<folder>/<name>`` and set their records to ``state``
    (``done``, or ``rejected`` for unusable files), adding ``details[sha256]`` to each record
    (lake ingest, reject reason). Safe to retry.

    A file whose content changed since it was claimed (a new upload under the same name) is
    left in the landing folder for the next run; its claimed content is already handled, so its
    record is updated all the same.
    """
    if state not in FINAL_STATES:
        raise ValueError(f"state {state!r}: expected one of {FINAL_STATES}")
    now = time.time() if now is None else now
    manifest = archive / MANIFEST_DIR
    outcomes: list[dict[str, str]] = []
    for claim in claims:
        source = landing / claim.name
        target = archive / claim.folder / claim.name
        if source.is_file() and file_sha256(source) == claim.sha256:
            _move(source, target)
            outcome = "archived"
        elif target.is_file():
            outcome = "already archived"
        elif source.is_file():
            outcome = "changed since claimed; left in landing"
        else:
            outcome = "gone from landing before archiving"
        record = read_record(manifest, claim.sha256) or {"name": claim.name, "size": claim.size}
        record.update(dict((details or {}).get(claim.sha256, {})))
        record.update({
            "state": state,
            "run_id": run_id,
            "done_at": _iso(now),
            "archived_to": str(target) if target.is_file() else None,
        })
        write_record(manifest, claim.sha256, record)
        outcomes.append({"name": claim.name, "outcome": outcome, "archived_to": str(target)})
    return outcomes


def claims_from_dicts(items: list[dict[str, Any]]) -> list[Claim]:
    """Rebuild :class:`Claim` objects from their XCom form."""
    return [Claim(**item) for item in items]


def manifest_summary(archive: Path) -> dict[str, int]:
    """How many records are in each state (``clickloop airflow status``)."""
    counts: dict[str, int] = {}
    folder = archive / MANIFEST_DIR
    if folder.is_dir():
        for path in folder.glob("*.json"):
            state = json.loads(path.read_text(encoding="utf-8")).get("state", "?")
            counts[state] = counts.get(state, 0) + 1
    return counts


def read_record(manifest: Path, digest: str) -> dict[str, Any] | None:
    """The manifest record of a content hash, or None when it was never claimed."""
    try:
        return json.loads((manifest / f"{digest}.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def write_record(manifest: Path, digest: str, record: dict[str, Any]) -> None:
    """Replace a record atomically: readers see the old or the new one, never half of one."""
    manifest.mkdir(parents=True, exist_ok=True)
    record = {"sha256": digest, **record}
    tmp = manifest / f".{digest}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(record, sort_keys=True, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, manifest / f"{digest}.json")


def _move_duplicate(path: Path, folder: Path, name: str) -> Path:
    target = folder / DUPLICATES_DIR / name
    counter = 1
    while target.exists():
        counter += 1
        target = folder / DUPLICATES_DIR / f"{name}.{counter}"
    _move(path, target)
    return target


def _move(source: Path, target: Path) -> None:
    """Rename when possible; across file systems copy to a temporary name, rename, delete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copy2(source, tmp)
        os.replace(tmp, target)
        os.unlink(source)


def _rel(path: Path, landing: Path) -> str:
    return path.relative_to(landing).as_posix()


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
