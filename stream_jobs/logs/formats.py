"""Web server access log formats: their patterns and per-file detection.

Each text format is one anchored regular expression whose groups are named by
:attr:`TextFormat.groups`; the same pattern text runs in Java (Spark's ``regexp_*`` functions,
which parse the lines) and in Python (detection on a sample), so it sticks to syntax both
share. JSON formats name, per field, the keys (``a.b`` for nested objects, ``[0]`` for the
first element of an array) that may hold it.

The formats are those of Matomo's log importer, learnt from its documentation (the Apache/NCSA
family with or without a virtual host and with extra trailing fields, W3C extended / IIS,
CloudFront, ELB, ALB, S3, HAProxy, nginx JSON, OVH, Gandi, Icecast/Shoutcast), plus what current
servers write (Caddy JSON, Traefik CLF/JSON, uWSGI). ``docs/logs.md`` lists them with examples.
W3C files (IIS, CloudFront web distributions, Incapsula, Oracle Web Cache …) declare their
columns in a ``#Fields:`` directive: their pattern is built per file from that line
(:func:`w3c_format`). A user's own regular expression with named groups is
:func:`regex_format`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# a double-quoted field in which \" and \\ are escaped (Apache escapes quotes this way)
_QUOTED = r'"((?:[^"\\]++|\\.)*+)"'
_VHOST = r"(\S+?)(?::(\d+))? "
# The same, where a line may or may not start with one (a vhost line has four fields before
# its [time], a plain one three): the look-ahead turns a plain line away from the vhost branch
# at once instead of after trying every prefix of its address (a third of the match time).
_OPTIONAL_VHOST = r"(?:(?=\S++ \S++ \S++ \S++ \[)" + _VHOST + r")?"
# possessive (++): a field followed by a space or a bracket never gives characters back
_COMMON = r'(\S++) (\S++) (\S++) \[([^\]]++)\] ' + _QUOTED + r' (\d{3}) (\d+|-)'
_COMBINED = _COMMON + r' ' + _QUOTED + r' ' + _QUOTED
_EXTRA = r"(?: .*)?"  # trailing fields (icecast2 / shoutcast duration, %D, X-Forwarded-For …)

COMMON_GROUPS = ("ip", "ident", "user", "time", "request", "status", "bytes")
COMBINED_GROUPS = (*COMMON_GROUPS, "referrer", "user_agent")
VHOST_GROUPS = ("vhost", "port", *COMBINED_GROUPS)

APACHE_TIME = "dd/MMM/yyyy:HH:mm:ss Z"
# Times in other shapes that logs of the Apache family are seen with, tried in order after the
# format's own (a custom LogFormat %{…}t, or a server without a zone: then UTC).
APACHE_TIMES = (APACHE_TIME, "dd/MMM/yyyy:HH:mm:ss", "yyyy-MM-dd HH:mm:ss Z",
                "yyyy-MM-dd HH:mm:ss", "dd/MMM/yyyy HH:mm:ss Z", "dd/MM/yyyy:HH:mm:ss Z")
ISO = ""  # time format meaning "ISO 8601 as Spark casts it" (2018-07-02T22:23:00.186641Z)
W3C_TIME = "yyyy-MM-dd HH:mm:ss[.SSSSSS]"


@dataclass(frozen=True)
class TextFormat:
    """A line-oriented format parsed with one regular expression.

    ``groups`` names each capture group in order (``""``: not used); two groups may share a
    name (a W3C field quoted or not), whichever took part gives the value. Field names:
    ``vhost port ip client time date clock epoch request method uri query status bytes referrer
    user_agent`` (anything else is ignored). ``quoting``: ``apache`` (``\\"`` escapes) or
    ``w3c`` (``""`` escapes, ``+`` or ``%20`` for spaces in the user agent).
    """

    name: str
    pattern: str
    groups: tuple[str, ...]
    time_formats: tuple[str, ...] = APACHE_TIMES
    quoting: str = "apache"
    comment_prefix: str = ""  # lines starting with it are directives, not requests
    # the whole request target names the host (Incapsula's cs-uri "www.example.com/page.php")
    uri_has_host: bool = False


@dataclass(frozen=True)
class JsonFormat:
    """One JSON object per line; ``keys``: per field, the keys that may hold it, first wins."""

    name: str
    keys: tuple[tuple[str, tuple[str, ...]], ...]
    time_formats: tuple[str, ...] = (ISO, APACHE_TIME)
    # the method when a line has none (Matomo's documented nginx_json has only "path")
    default_method: str = ""

    def keys_of(self, field: str) -> tuple[str, ...]:
        return dict(self.keys).get(field, ())


def _text(name: str, pattern: str, groups: Sequence[str], **kw: object) -> TextFormat:
    return TextFormat(name, pattern, tuple(groups), **kw)  # type: ignore[arg-type]


_HAPROXY = (
    r"^(?:\w{3} +\d{1,2} \d\d:\d\d:\d\d \S+ \S+: )?"  # syslog prefix
    r"(\S+?):(\d+|-) \[([^\]]+)\] \S+ \S+(?: (\S+))? -?\d+/-?\d+/-?\d+/-?\d+/\+?-?\d+ "
    r"(\d{3}) \+?(\d+) .*?\"((?:[^\"\\]++|\\.)*+)\"\s*$"
)
_LB_TAIL = r' (\S+) (\S+) (\S+) (\S+|-) (\S+|-) (\d+) (\d+) ' + _QUOTED + r' ' + _QUOTED

TEXT_FORMATS: dict[str, TextFormat] = {f.name: f for f in [
    # the Apache / NCSA family, most specific first (detection prefers the first of a tie)
    _text("vhost_combined", r"^" + _VHOST + _COMBINED + _EXTRA + r"\s*$", VHOST_GROUPS),
    _text("combined", r"^" + _OPTIONAL_VHOST + _COMBINED + _EXTRA + r"\s*$", VHOST_GROUPS),
    _text("common_vhost", r"^" + _VHOST + _COMMON + r"\s*$",
          ("vhost", "port", *COMMON_GROUPS)),
    _text("common", r"^" + _OPTIONAL_VHOST + _COMMON + r"\s*$",
          ("vhost", "port", *COMMON_GROUPS)),
    # OVH shared hosting: the virtual host where common has the identity (not auto-detected:
    # a combined line looks the same)
    _text("ovh", r"^" + _COMBINED + _EXTRA + r"\s*$",
          ("ip", "vhost", "user", "time", "request", "status", "bytes", "referrer",
           "user_agent")),
    _text("s3", r"^\S+ (\S+) \[([^\]]+)\] (\S+) \S+ \S+ \S+ \S+ " + _QUOTED
          + r" (\d{3}|-) \S+ (\d+|-) \S+ \S+ \S+ " + _QUOTED + r" " + _QUOTED + r".*$",
          ("vhost", "time", "ip", "request", "status", "bytes", "referrer", "user_agent")),
    _text("alb", r"^\S+ (\S+) \S+ (\S+?):\d+ \S+" + _LB_TAIL + r".*$",
          ("time", "ip", "", "", "", "status", "", "", "", "request", "user_agent"),
          time_formats=(ISO,)),
    _text("elb", r"^(\d{4}-\S+) \S+ (\S+?):\d+ \S+" + _LB_TAIL + r".*$",
          ("time", "ip", "", "", "", "status", "", "", "", "request", "user_agent"),
          time_formats=(ISO,)),
    _text("haproxy", _HAPROXY,
          ("ip", "", "time", "vhost", "status", "bytes", "request"),
          time_formats=("dd/MMM/yyyy:HH:mm:ss.SSS", "dd/MMM/yyyy:HH:mm:ss")),
    _text("uwsgi", r"^\[pid: \d+\|app: [^|]*\|req: [^\]]*\] (\S+) \(([^)]*)\) \{[^}]*\} "
          r"\[\w{3} (\w{3} +\d{1,2} \d\d:\d\d:\d\d \d{4})\] (\S+) (\S+) => generated (\d+) "
          r"bytes in \d+ \w+ \((\S+) (\d{3})\).*$",
          ("ip", "user", "time", "method", "uri", "bytes", "", "status"),
          time_formats=("MMM d HH:mm:ss yyyy",)),
]}

W3C = "w3c"  # W3C extended: columns from the file's #Fields directive
REGEX = "regex"  # the user's --format-regex
NGINX_JSON = "nginx_json"
JSON_FORMATS: dict[str, JsonFormat] = {f.name: f for f in [
    # nginx `log_format … escape=json` with the usual variable names, or Matomo's documented
    # keys (ip, host, path, status, referrer, user_agent, length, date)
    JsonFormat(NGINX_JSON, (
        ("time", ("time_iso8601", "date", "@timestamp", "timestamp", "time", "time_local")),
        ("epoch", ("msec",)),
        ("ip", ("remote_addr", "client_ip", "client", "ip")),
        ("request", ("request",)),
        ("method", ("request_method", "method")),
        ("uri", ("request_uri", "uri", "path")),
        ("query", ("args", "query_string")),
        ("status", ("status",)),
        ("bytes", ("body_bytes_sent", "bytes_sent", "length")),
        ("referrer", ("http_referer", "http_referrer", "referer", "referrer")),
        ("user_agent", ("http_user_agent", "user_agent", "agent")),
        ("vhost", ("host", "server_name", "http_host", "vhost")),
    ), default_method="GET"),
    # Caddy v2 `log { format json }`: ts in epoch seconds, the request nested
    JsonFormat("caddy_json", (
        ("epoch", ("ts",)),
        ("ip", ("request.client_ip", "request.remote_ip")),
        ("method", ("request.method",)),
        ("uri", ("request.uri",)),
        ("status", ("status",)),
        ("bytes", ("size",)),
        ("referrer", ("request.headers.Referer[0]",)),
        ("user_agent", ("request.headers.User-Agent[0]",)),
        ("vhost", ("request.host",)),
    )),
    # Traefik `accessLog.format: json` (request headers kept with `fields.headers`)
    JsonFormat("traefik_json", (
        ("time", ("StartUTC", "StartLocal", "time")),
        ("ip", ("ClientHost", "ClientAddr")),
        ("method", ("RequestMethod",)),
        ("uri", ("RequestPath",)),
        ("status", ("DownstreamStatus", "OriginStatus")),
        ("bytes", ("DownstreamContentSize",)),
        ("referrer", ("request_Referer",)),
        ("user_agent", ("request_User-Agent",)),
        ("vhost", ("RequestHost",)),
    )),
]}

FORMATS: tuple[str, ...] = (*TEXT_FORMATS, W3C, *JSON_FORMATS)
AUTO = "auto"  # detect each file's format from its first lines
# every value of a ``--format`` option or the DAG's ``log_format`` param, declared here only
FORMAT_CHOICES: tuple[str, ...] = (AUTO, *FORMATS)
# only with --format: they look like another format
NOT_DETECTED = frozenset({"ovh"})

# W3C column → our field. Matomo's importer reads the same columns; CloudFront's x-host-header
# (the Host the visitor asked for) wins over cs(Host) (the distribution's own name).
W3C_FIELDS: dict[str, str] = {
    "date": "date", "date-local": "date", "time": "clock", "time-local": "clock",
    "c-ip": "ip", "c-dns": "client", "cs-method": "method", "cs-uri-stem": "uri",
    "cs-uri": "uri", "cs-uri-query": "query", "sc-status": "status", "sc-bytes": "bytes",
    "bytes": "bytes", "cs(referer)": "referrer", "cs(referrer)": "referrer",
    "cs(user-agent)": "user_agent", "x-host-header": "vhost", "cs(host)": "vhost",
    "cs-host": "vhost", "s-port": "port",
}
_W3C_VALUE = r'(?:"((?:[^"]|"")*)"|(\S+))'


class UnknownFormat(ValueError):
    """No known format matches a file's first lines; the message names the file."""


def text_format(name: str, sample: Iterable[str] = (), date_format: str | None = None
                ) -> TextFormat:
    """The text format ``name`` for a file whose first lines are ``sample`` (W3C files need
    their ``#Fields`` line), with the user's ``date_format`` tried first."""
    fmt = w3c_format(sample) if name == W3C else TEXT_FORMATS[name]
    if date_format:
        from dataclasses import replace

        fmt = replace(fmt, time_formats=(java_date_format(date_format), *fmt.time_formats))
    return fmt


def w3c_format(sample: Iterable[str]) -> TextFormat:
    """The pattern of a W3C extended file from the first ``#Fields:`` directive of ``sample``
    (fields separated by spaces or tabs, each bare or double-quoted)."""
    columns: list[str] | None = None
    for line in sample:
        text = line.lstrip("\ufeff")
        if text.startswith("#Fields:"):
            columns = text[len("#Fields:"):].split()
            break
    if not columns:
        raise UnknownFormat("a W3C extended log needs a #Fields: line before its requests")
    fields = [W3C_FIELDS.get(c.lower(), "") for c in columns]
    if "x-host-header" in [c.lower() for c in columns]:  # the visitor's Host, not CloudFront's
        fields = [("" if f == "vhost" and c.lower() != "x-host-header" else f)
                  for f, c in zip(fields, columns, strict=True)]
    groups: list[str] = []
    for field in fields:  # a field named by two columns: the first one
        groups += [field, field] if field not in groups else ["", ""]
    pattern = r"^\s*" + r"\s+".join([_W3C_VALUE] * len(columns)) + r"\s*$"
    uri_has_host = "cs-uri" in [c.lower() for c in columns]
    return TextFormat(W3C, pattern, tuple(groups), time_formats=(W3C_TIME,), quoting="w3c",
                      comment_prefix="#", uri_has_host=uri_has_host)


def regex_format(pattern: str) -> TextFormat:
    """The user's regular expression with Python-style named groups (``(?P<ip>…)``); the
    names are fields of :class:`TextFormat` (``ip time request status`` at least, or
    ``method uri`` instead of ``request``). Unnamed groups are ignored."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"--format-regex: not a regular expression: {exc}") from exc
    names = {index: name for name, index in compiled.groupindex.items()}
    groups = tuple(names.get(i, "") for i in range(1, compiled.groups + 1))
    has = set(groups)
    if not {"ip", "status"} <= has or not ({"time"} <= has or {"epoch"} <= has) or not (
            "request" in has or {"method", "uri"} <= has):
        raise ValueError("--format-regex: needs named groups ip, time (or epoch), status and "
                         "request (or method and uri)")
    java = re.sub(r"\(\?P<\w+>", "(", pattern)  # Java has no (?P<…>); same group numbers
    anchored = java if java.startswith("^") else "^" + java
    return TextFormat(REGEX, anchored, groups)


_STRFTIME = {"%d": "dd", "%b": "MMM", "%Y": "yyyy", "%y": "yy", "%m": "MM", "%H": "HH",
             "%M": "mm", "%S": "ss", "%z": "Z", "%f": "SSSSSS", "%e": "d", "%I": "hh",
             "%p": "a", "%%": "%"}


def java_date_format(text: str) -> str:
    """``--date-format``: a strftime pattern (``%d/%b/%Y:%H:%M:%S %z``, as Matomo's importer
    takes) or a Spark/Java datetime pattern (``dd/MMM/yyyy:HH:mm:ss Z``) → the Spark one."""
    if "%" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        piece = text[i:i + 2]
        if piece in _STRFTIME:
            out.append(_STRFTIME[piece])
            i += 2
        elif text[i] == "%":
            raise ValueError(f"--date-format {text!r}: {piece} is not supported")
        elif text[i].isalpha():
            out.append(f"'{text[i]}'")
            i += 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def matches(format_name: str, line: str, sample: Sequence[str] = ()) -> bool:
    """Whether ``line`` is a line of ``format_name`` (used for detection)."""
    if format_name in JSON_FORMATS:
        return _is_json_of(JSON_FORMATS[format_name], line)
    if format_name == W3C:
        try:
            return _compiled(w3c_format(sample).pattern).match(line) is not None
        except UnknownFormat:
            return False
    return _compiled(TEXT_FORMATS[format_name].pattern).match(line) is not None


def detect_format(sample: Iterable[str], *, source: str = "input") -> str:
    """The format most of ``sample``'s non-blank lines match (at least half of them).

    W3C directive lines (``#…``) are not requests and are left out of the vote. Ties go to
    the more specific format (vhost_combined > combined > common …).
    """
    raw = [line.rstrip("\r\n").lstrip("\ufeff") for line in sample]
    lines = [line for line in raw if line.strip() and not line.startswith("#")]
    if not lines:
        raise UnknownFormat(f"{source}: no lines to detect the log format from")
    candidates = [name for name in FORMATS if name not in NOT_DETECTED]
    scores = {name: sum(matches(name, line, raw) for line in lines) for name in candidates}
    best = max(candidates, key=lambda name: scores[name])  # max keeps the first of equals
    if scores[best] * 2 < len(lines):
        raise UnknownFormat(
            f"{source}: the first {len(lines)} lines match none of {', '.join(candidates)} "
            f"(best: {best}, {scores[best]} lines); pass --format"
        )
    return best


_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    if pattern not in _CACHE:
        _CACHE[pattern] = re.compile(pattern)
    return _CACHE[pattern]


def json_value(obj: object, key: str) -> object:
    """``obj``'s value at ``key`` (``a.b``: nested; a trailing ``[0]``: first element)."""
    first = key.endswith("[0]")
    for part in (key[:-3] if first else key).split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    if first:
        return obj[0] if isinstance(obj, list) and obj else None
    return obj


def _is_json_of(fmt: JsonFormat, line: str) -> bool:
    text = line.strip()
    if not text.startswith("{"):
        return False
    try:
        obj = json.loads(text)
    except ValueError:
        return False
    if not isinstance(obj, dict):
        return False

    def has(field: str) -> bool:
        return any(json_value(obj, k) is not None for k in fmt.keys_of(field))

    return bool((has("request") or ((has("method") or fmt.default_method) and has("uri")))
            and (has("time") or has("epoch")) and has("status"))
