"""Web server access log formats: their patterns and per-file detection.

Each text format is one anchored regular expression whose groups are the fields we use; the same
pattern text runs in Java (Spark's ``regexp_*`` functions) and in Python (detection on a
sample), so it sticks to syntax both share (possessive quantifiers included, Python >= 3.11).

- ``common``: Apache/Nginx ``%h %l %u %t "%r" %>s %b``
- ``combined``: common + ``"%{Referer}i" "%{User-Agent}i"`` (Apache's and Nginx's default)
- ``vhost_combined``: ``%v:%p`` + combined (Apache's ``vhost_combined``, Debian's default)
- ``nginx_json``: one JSON object per line from an Nginx ``log_format ... escape=json``; the
  usual variable names are accepted (see :data:`JSON_KEYS`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

# a double-quoted field in which \" and \\ are escaped (Apache escapes quotes this way)
_QUOTED = r'"((?:[^"\\]++|\\.)*+)"'
_COMMON = r'(\S+) (\S+) (\S+) \[([^\]]+)\] ' + _QUOTED + r' (\d{3}) (\d+|-)'
_COMBINED_TAIL = r' ' + _QUOTED + r' ' + _QUOTED
_COMBINED = _COMMON + _COMBINED_TAIL

# what each group of a text format holds, in order
COMMON_GROUPS = ("ip", "ident", "user", "time", "request", "status", "bytes")
COMBINED_GROUPS = (*COMMON_GROUPS, "referrer", "user_agent")
VHOST_GROUPS = ("vhost", "port", *COMBINED_GROUPS)

APACHE_TIME = "dd/MMM/yyyy:HH:mm:ss Z"


@dataclass(frozen=True)
class TextFormat:
    """A line-oriented format parsed with one regular expression."""

    name: str
    pattern: str
    groups: tuple[str, ...]
    time_format: str = APACHE_TIME


TEXT_FORMATS: dict[str, TextFormat] = {
    "vhost_combined": TextFormat("vhost_combined", r"^(\S+?)(?::(\d+))? " + _COMBINED + r"\s*$",
                                 VHOST_GROUPS),
    "combined": TextFormat("combined", r"^" + _COMBINED + r"\s*$", COMBINED_GROUPS),
    "common": TextFormat("common", r"^" + _COMMON + r"\s*$", COMMON_GROUPS),
}
NGINX_JSON = "nginx_json"
FORMATS: tuple[str, ...] = (*TEXT_FORMATS, NGINX_JSON)
AUTO = "auto"  # detect each file's format from its first lines
# every value of a ``--format`` option or the DAG's ``log_format`` param, declared here only
FORMAT_CHOICES: tuple[str, ...] = (AUTO, *FORMATS)

# nginx variable names (and common alternatives) for each field of a JSON log line
JSON_KEYS: dict[str, tuple[str, ...]] = {
    "time_iso": ("time_iso8601", "@timestamp", "timestamp", "time"),
    "time_local": ("time_local",),
    "msec": ("msec",),
    "ip": ("remote_addr", "client_ip", "client", "ip"),
    "request": ("request",),
    "method": ("request_method", "method"),
    "uri": ("request_uri", "uri", "path"),
    "args": ("args", "query_string"),
    "status": ("status",),
    "bytes": ("body_bytes_sent", "bytes_sent"),
    "referrer": ("http_referer", "http_referrer", "referer", "referrer"),
    "user_agent": ("http_user_agent", "user_agent", "agent"),
    "vhost": ("host", "server_name", "http_host", "vhost"),
}


class UnknownFormat(ValueError):
    """No known format matches a file's first lines; the message names the file."""


def matches(format_name: str, line: str) -> bool:
    """Whether ``line`` is a line of ``format_name`` (used for detection)."""
    if format_name == NGINX_JSON:
        return _is_nginx_json(line)
    return _compiled(format_name).match(line) is not None


def detect_format(sample: Iterable[str], *, source: str = "input") -> str:
    """The format most of ``sample``'s non-blank lines match (at least half of them).

    Ties go to the more specific format (vhost_combined > combined > common).
    """
    lines = [line.rstrip("\r\n") for line in sample if line.strip()]
    if not lines:
        raise UnknownFormat(f"{source}: no lines to detect the log format from")
    scores = {name: sum(matches(name, line) for line in lines) for name in FORMATS}
    best = max(FORMATS, key=lambda name: scores[name])  # max keeps the first of equal scores
    if scores[best] * 2 < len(lines):
        raise UnknownFormat(
            f"{source}: the first {len(lines)} lines match none of {', '.join(FORMATS)} "
            f"(best: {best}, {scores[best]} lines); pass --format"
        )
    return best


_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(format_name: str) -> re.Pattern[str]:
    if format_name not in _CACHE:
        _CACHE[format_name] = re.compile(TEXT_FORMATS[format_name].pattern)
    return _CACHE[format_name]


def _is_nginx_json(line: str) -> bool:
    text = line.strip()
    if not text.startswith("{"):
        return False
    try:
        obj = json.loads(text)
    except ValueError:
        return False
    if not isinstance(obj, dict):
        return False
    has_request = any(k in obj for k in JSON_KEYS["request"] + JSON_KEYS["uri"])
    has_time = any(k in obj for k in
                   JSON_KEYS["time_iso"] + JSON_KEYS["time_local"] + JSON_KEYS["msec"])
    return has_request and has_time
