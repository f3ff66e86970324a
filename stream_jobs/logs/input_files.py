"""The log files of a parse run, on the driver: open, sample, hash, check, name their ingest.

Cheap, standard-library work done before Spark starts, so an unusable input fails at once with
its name (:class:`LogInputError`) instead of half-way through a Spark job. The Airflow DAG's
preflight (:mod:`.preflight`) and the landing manifest use the same hashing and ingest names.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from stream_jobs.logs.formats import (
    AUTO,
    JSON_FORMATS,
    REGEX,
    W3C,
    JsonFormat,
    TextFormat,
    UnknownFormat,
    detect_format,
    regex_format,
    text_format,
)

SAMPLE_LINES = 50


class LogInputError(ValueError):
    """An input file that cannot be parsed at all (missing, unreadable, unknown format)."""


@dataclasses.dataclass(frozen=True)
class LogFile:
    """One input file: its index in the run, display name, content hash and lake ingest."""

    index: int
    path: str
    name: str
    content_sha256: str
    ingest: str
    format: str
    parser: TextFormat | JsonFormat | None = None  # how its lines are read (None: ``format``)
    encoding: str = ""  # declared text encoding; "": UTF-8, Latin-1 for lines that are not
    size: int = 0  # bytes as stored (progress estimates)
    line_bytes: float = 0.0  # average line length of the sample, newline included


@dataclasses.dataclass(frozen=True)
class Site:
    """Scheme and host that turn a logged path into the page URL the contract requires."""

    scheme: str = "http"
    host: str = "localhost"

    @classmethod
    def parse(cls, text: str) -> Site:
        parts = urlsplit(text if "://" in text else f"http://{text}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--site {text!r}: expected a host or an http(s) URL")
        return cls(parts.scheme, parts.netloc)


def open_text(path: Path, encoding: str = "") -> IO[str]:
    """Open a plain, gzip or bzip2 log for reading as text (detection sample only)."""
    suffix = path.suffix.lower()
    encoding = encoding or "utf-8"
    if suffix == ".gz":
        return gzip.open(path, "rt", encoding=encoding, errors="replace")
    if suffix == ".bz2":
        return bz2.open(path, "rt", encoding=encoding, errors="replace")
    return path.open("r", encoding=encoding, errors="replace")


def open_bytes(path: Path) -> IO[bytes]:
    """Open a plain, gzip or bzip2 log for reading its (decompressed) bytes."""
    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix.lower(), open)
    return opener(path, "rb")


def check_encoding(path: Path, encoding: str) -> str:
    """The declared ``encoding`` (checked), or "" for the default (UTF-8, Latin-1 per line
    that is not). Files in UTF-16/32 (a byte-order mark says so) cannot be read line by line
    and need converting first."""
    if encoding:
        import codecs

        try:
            return codecs.lookup(encoding).name
        except LookupError as exc:
            raise LogInputError(f"--encoding {encoding!r}: not a known text encoding") from exc
    with open_bytes(path) as handle:
        head = handle.read(4)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LogInputError(f"{path}: UTF-16/32 text; convert it first (iconv -f UTF-16 -t "
                            "UTF-8) or log in UTF-8")
    return ""


def sample_lines(path: Path, count: int = SAMPLE_LINES, encoding: str = "") -> list[str]:
    """The first ``count`` lines of ``path`` (decompressed)."""
    lines: list[str] = []
    with open_text(path, encoding) as handle:
        for line in handle:
            lines.append(line)
            if len(lines) >= count:
                break
    return lines


def check_w3c_fields(path: Path) -> None:
    """A W3C file is parsed with the columns of its first ``#Fields:`` line; a later one
    that names other columns (the server's logging was reconfigured mid-file) would shift
    every value after it, so it is refused here with its line number. The same line repeated
    (IIS writes it again after each restart) is fine. Read as bytes: directives are ASCII in
    every encoding a log may be read in, and the whole file is scanned without decoding it."""
    first: tuple[int, list[bytes]] | None = None
    with open_bytes(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.startswith((b"#Fields:", b"\xef\xbb\xbf#Fields:")):
                continue
            columns = line.split(b"#Fields:", 1)[1].split()
            if first is None:
                first = (number, columns)
            elif columns != first[1]:
                was, now = (b" ".join(c).decode("ascii", "replace") for c in (first[1], columns))
                raise LogInputError(
                    f"{path}: line {number}: #Fields: changes the columns of line {first[0]} "
                    f"({was} -> {now}); split the file at that line and parse the parts as "
                    "separate files")


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes as stored (compressed files hash their compressed bytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_compressed(path: Path) -> None:
    """Decompress a .gz/.bz2 file to its end: a damaged archive is reported here, naming the
    file, instead of failing a Spark task half-way with a Java stack trace."""
    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix.lower())
    if opener is None:
        return
    with opener(path, "rb") as handle:
        while handle.read(1 << 20):
            pass


def ingest_name(file_name: str, content_sha256: str) -> str:
    """``log-<12 hex>`` from the file's base name and content: moving a file to an archive
    folder keeps its ingest, editing or renaming it gives a new one."""
    return "log-" + hashlib.sha256(f"{file_name}\0{content_sha256}".encode()).hexdigest()[:12]


def prepare_files(paths: Sequence[Path], format_option: str, *, format_regex: str | None = None,
                  date_format: str | None = None, encoding: str = "") -> list[LogFile]:
    """Check, hash and detect the format of each input file (driver side, cheap).

    ``format_regex``: the user's own pattern (named groups) for every file; ``date_format``:
    the time stamps' pattern, tried before the format's own; ``encoding``: the files' text
    encoding when not UTF-8.
    """
    files: list[LogFile] = []
    seen: dict[str, Path] = {}
    custom = None
    if format_regex:
        try:
            custom = regex_format(format_regex)
        except ValueError as exc:
            raise LogInputError(str(exc)) from exc
    for index, path in enumerate(paths):
        if not path.is_file():
            raise LogInputError(f"{path}: no such file")
        try:
            sha = file_sha256(path)
            check_compressed(path)
            declared = check_encoding(path, encoding)
            sample = sample_lines(path, encoding=declared)
            fmt = REGEX if custom else format_option
            if fmt == AUTO:
                fmt = detect_format(sample, source=str(path))
            parser: TextFormat | JsonFormat = custom or (
                JSON_FORMATS[fmt] if fmt in JSON_FORMATS else text_format(fmt, sample))
            if date_format:
                parser = with_date_format(parser, date_format)
            if fmt == W3C:
                check_w3c_fields(path)
        except EOFError as exc:
            raise LogInputError(f"{path}: truncated compressed file") from exc
        except (OSError, ValueError) as exc:  # bad gzip/bz2 data raise these too
            if isinstance(exc, UnknownFormat | LogInputError):
                raise LogInputError(f"{path}: {exc}" if str(path) not in str(exc)
                                    else str(exc)) from exc
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise LogInputError(f"{path}: cannot read: {reason}") from exc
        ingest = ingest_name(path.name, sha)
        if ingest in seen:  # the same file twice would count every line twice
            raise LogInputError(f"{path}: same name and content as {seen[ingest]}")
        seen[ingest] = path
        line_bytes = (sum(len(line.encode()) for line in sample) / len(sample)
                      if sample else 0.0)
        files.append(LogFile(index, str(path.resolve()), path.name, sha, ingest, fmt, parser,
                             declared, path.stat().st_size, line_bytes))
    return files


def with_date_format(fmt: TextFormat | JsonFormat, date_format: str
                     ) -> TextFormat | JsonFormat:
    """``fmt`` trying the user's ``--date-format`` first."""
    from dataclasses import replace

    from stream_jobs.logs.formats import java_date_format

    return replace(fmt, time_formats=(java_date_format(date_format), *fmt.time_formats))
