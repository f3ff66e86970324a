"""Access log lines → classified requests → contract ``page_view`` events (pure transforms).

Everything here is Spark built-in functions (no Python UDFs); the user-agent, IP and referrer
enrichment that reuses the collector's Python code lives in :mod:`.enrich_requests`.

Every line ends in exactly one category, checked in this order:

``reject``    not a line of the format: blank, binary (control bytes), longer than
              ``max_line_bytes``, no match, an unreadable or implausible timestamp (a line
              in another encoding than UTF-8 is read as Latin-1 or the declared encoding,
              never rejected for it);
``static``    the path has a file extension that is not a page extension (images, CSS, JS,
              fonts, downloads...);
``filtered``  a request that is not a page view: a method other than the page methods (GET),
              a status outside the page statuses (200, 304; redirects on request), an
              unparsable request line, or a W3C directive line (``#Fields:`` …);
``page``      everything else: one ``page_view`` event (bots are flagged, or dropped on request).
"""

from __future__ import annotations

import string
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from stream_jobs.logs.formats import ISO, JsonFormat, TextFormat

# namespace of log-derived event ids: uuid5(LOG_NAMESPACE, "<content sha256>:<line number>")
LOG_NAMESPACE = uuid.UUID("6f1d7c1e-3b0a-5c55-9a57-1c7a0c1e5a11")
EARLIEST = datetime(1991, 8, 6, tzinfo=UTC)  # the first web page; anything before is a broken clock

REJECT, STATIC, FILTERED, PAGE = "reject", "static", "filtered", "page"
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class LogRules:
    """What counts as a page view; every list is configurable from the command line."""

    # dynamic pages (Perl/CGI scripts included, /htbin/*.pl); any other extension is static
    page_extensions: tuple[str, ...] = (
        "html", "htm", "xhtml", "shtml", "dhtml", "php", "php3", "php4", "php5", "phtml", "asp",
        "aspx", "jsp", "jspa", "jspx", "do", "action", "cfm", "cgi", "pl",
    )
    page_methods: tuple[str, ...] = ("GET",)
    page_statuses: tuple[int, ...] = (200, 304)
    redirects: bool = False  # also count 301, 302, 303, 307, 308 answers as page views
    max_line_bytes: int = 16 * 1024
    drop_bots: bool = False


def number_lines(lines: DataFrame, offsets: DataFrame) -> DataFrame:
    """Add ``line_no`` (1-based, per file) to lines read by :func:`read_lines`-style sources.

    ``lines`` has ``file_index``, ``block`` (the split's byte offset), ``rid``
    (monotonically_increasing_id) and ``value``; ``offsets`` has, per (file_index, block), the
    split's ``first_rid`` and ``first_line`` (lines in earlier splits + 1). Rows of a split are
    read in order within one partition, so their ids are consecutive from ``first_rid``.
    """
    return (lines.join(F.broadcast(offsets), ["file_index", "block"])
            .withColumn("line_no", F.col("first_line") + F.col("rid") - F.col("first_rid"))
            .drop("first_rid", "first_line", "rid", "block"))


def split_offsets(stats: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """``(file_index, block, count, first_rid)`` per split → ``(file_index, block, first_rid,
    first_line)``: the line number each split starts at, splits of a file in byte order."""
    out: list[tuple[int, int, int, int]] = []
    seen: dict[int, int] = {}
    for file_index, block, count, first_rid in sorted(stats):
        before = seen.get(file_index, 0)
        out.append((file_index, block, first_rid, before + 1))
        seen[file_index] = before + count
    return out


# --- parsing ------------------------------------------------------------------------------------


def _blank_to_null(col: Column) -> Column:
    return F.when((col != "") & (col != "-"), col)


def _unescape(col: Column) -> Column:
    """Apache's ``\\"`` and ``\\\\`` escapes inside quoted fields (regexes only where a
    backslash occurs: most fields have none)."""
    unescaped = F.regexp_replace(F.regexp_replace(col, r'\\"', '"'), r"\\\\", r"\\")
    return F.when(F.instr(col, "\\") > 0, unescaped).otherwise(col)


def decoded_text(value: Column, encoding: str) -> Column:
    """The line as text: ``encoding`` when the file declares one (``--encoding``), else UTF-8
    and, for a line that is not valid UTF-8, Latin-1 (every byte is a Latin-1 character, so no
    line is lost to its encoding); a byte-order mark is dropped."""
    raw = value.cast("binary")
    if encoding and encoding.replace("-", "").lower() not in ("utf8", "utf8sig"):
        text = F.decode(raw, encoding)
    else:
        text = F.when(F.is_valid_utf8(value), value).otherwise(F.decode(raw, "ISO-8859-1"))
    return F.when(F.startswith(text, F.lit("\ufeff")), F.substring(text, 2, 1 << 30)
                  ).otherwise(text)


def timestamp_of(text: Column, time_formats: Sequence[str]) -> Column:
    """The first of ``time_formats`` that reads ``text`` (``ISO``: Spark's own cast)."""
    return F.coalesce(*[F.try_to_timestamp(text) if f == ISO
                        else F.try_to_timestamp(text, F.lit(f)) for f in time_formats])


def epoch_timestamp(text: Column) -> Column:
    """Seconds (or milliseconds) since 1970, with a fraction or not, plain or in scientific
    notation (a JSON number read as text: 1.7167237726014807E9)."""
    number = text.try_cast("double")
    seconds = F.when((number >= 1e8) & (number < 1e11), number).when(
        (number >= 1e11) & (number < 1e14), number / 1000)
    return F.timestamp_micros((seconds * 1_000_000).cast("long"))


def _request_of(fields: dict[str, Column]) -> Column:
    """The request line, logged whole or rebuilt from method, target and query."""
    method, uri = fields.get("method"), fields.get("uri")
    rebuilt = F.lit(None).cast("string")
    if method is not None and uri is not None:
        if "query" in fields:
            query = _blank_to_null(fields["query"])
            uri = F.when(query.isNotNull() & ~uri.contains("?"),
                         F.concat(uri, F.lit("?"), query)).otherwise(uri)
        rebuilt = F.when(method.isNotNull() & uri.isNotNull(), F.concat_ws(" ", method, uri))
    return F.coalesce(fields["request"], rebuilt) if "request" in fields else rebuilt


def _named_fields(fields: dict[str, Column], time_formats: Sequence[str], quoting: str,
                  uri_has_host: bool = False) -> list[Column]:
    """The common parsed columns from a format's raw fields (missing ones null)."""
    none = F.lit(None).cast("string")

    def get(name: str) -> Column:
        return fields.get(name, none)

    if uri_has_host and "uri" in fields:  # "www.example.com/page.php" → host, path
        uri = fields["uri"]
        bare = ~F.startswith(uri, F.lit("/")) & ~uri.contains("://")
        fields["vhost"] = F.coalesce(F.when(bare, F.substring_index(uri, "/", 1)), get("vhost"))
        fields["uri"] = F.when(bare, F.concat(F.lit("/"), F.regexp_extract(
            uri, r"^[^/]*/?(.*)$", 1))).otherwise(uri)
    ts = none.cast("timestamp")
    if "time" in fields:
        ts = timestamp_of(fields["time"], time_formats)
    elif "date" in fields and "clock" in fields:
        ts = timestamp_of(F.concat_ws(" ", fields["date"], fields["clock"]), time_formats)
    if "epoch" in fields:
        ts = F.coalesce(ts, epoch_timestamp(fields["epoch"]))
    referrer, agent, request = get("referrer"), get("user_agent"), _request_of(fields)
    if quoting == "apache":
        referrer, agent, request = _unescape(referrer), _unescape(agent), _unescape(request)
    elif quoting == "w3c":  # IIS writes spaces in the agent as +, CloudFront as %20
        agent = F.coalesce(F.try_url_decode(agent), agent)
    vhost = _blank_to_null(get("vhost"))
    port = get("port")
    return [
        F.regexp_extract(vhost, r"^(\[[^\]]*\]|[^:]*)", 1).alias("vhost"),
        F.coalesce(_blank_to_null(port), _blank_to_null(F.regexp_extract(
            vhost, r"^(?:\[[^\]]*\]|[^:]*):(\d+)$", 1))).alias("port"),
        F.coalesce(_blank_to_null(get("ip")), _blank_to_null(get("client"))).alias("ip"),
        ts.alias("ts"),
        request.alias("request"),
        get("status").alias("status_text"),
        _blank_to_null(get("bytes")).alias("bytes_text"),
        _blank_to_null(referrer).alias("referrer"),
        # "-" stays: it is what the client sent or the server's mark for "none"; either way the
        # collector's bot rules classify it (as a bot)
        F.nullif(agent, F.lit("")).alias("user_agent"),
    ]


def parse_text_lines(lines: DataFrame, fmt: TextFormat) -> DataFrame:
    """Split lines (column ``line``) of a text format into named fields, one regex per line.

    ``regexp_replace`` rewrites a matching line into its groups joined by a separator that
    cannot occur in the line (U+0001, a control character that the rejects check catches);
    a line that does not match stays unchanged and is recognised by the missing marker.
    """
    sep, mark = "\u0001", "\u0002"
    names = list(dict.fromkeys(g for g in fmt.groups if g))
    slots = ["".join(f"${i + 1}" for i, g in enumerate(fmt.groups) if g == name)
             for name in names]
    # the marker is a part of its own (parts[0]): no copy of the line to cut it off. The
    # rewritten line is a column: named inline in the check and the split's branch, the
    # pattern would run twice per line (CSE does not reach into conditional branches)
    rewritten = F.col("_rewritten")
    matched = (F.startswith(rewritten, F.lit(mark + sep))
               & ~F.startswith(F.col("line"), F.lit(mark)))
    out = (lines.withColumn("_rewritten", F.regexp_replace(F.col("line"), fmt.pattern,
                                                           mark + sep + sep.join(slots)))
           .withColumn("matched", matched)
           .withColumn("_parts", F.when(F.col("matched"), F.split(rewritten, sep)))
           .drop("_rewritten"))
    fields = {name: F.col("_parts")[i + 1] for i, name in enumerate(names)}
    if fmt.quoting == "w3c":  # a quoted W3C value writes its quotes twice
        fields = {n: F.when(c.contains('""'), F.replace(c, F.lit('""'), F.lit('"'))
                            ).otherwise(c) for n, c in fields.items()}
    if "time" in fields and fmt.name == "uwsgi":  # "Mar  3" → "Mar 3"
        fields["time"] = F.regexp_replace(fields["time"], " +", " ")
    directive = (F.startswith(F.col("line"), F.lit(fmt.comment_prefix)) if fmt.comment_prefix
                 else F.lit(False))
    return out.select("*", directive.alias("directive"),
                      *_named_fields(fields, fmt.time_formats, fmt.quoting, fmt.uri_has_host)
                      ).drop("_parts")


def _json_field(obj: Column, keys: Sequence[str]) -> Column:
    """The first present key: top-level ones from the parsed map, nested ones by JSON path."""
    values = []
    for key in keys:
        if "." in key or key.endswith("]"):
            first = key.endswith("[0]")
            parts = (key[:-3] if first else key).split(".")
            path = "$" + "".join(f"['{p}']" for p in parts) + ("[0]" if first else "")
            values.append(F.get_json_object(F.col("line"), path))
        else:
            values.append(obj[key])
    return F.coalesce(*values) if values else F.lit(None).cast("string")


def parse_json_lines(lines: DataFrame, fmt: JsonFormat) -> DataFrame:
    """JSON lines → the same named fields as :func:`parse_text_lines`."""
    obj = F.from_json(F.col("line"), "map<string,string>", {"mode": "PERMISSIVE"})
    out = lines.withColumn("_obj", F.when(F.startswith(F.ltrim("line"), F.lit("{")), obj))
    fields = {field: _json_field(F.col("_obj"), keys) for field, keys in fmt.keys}
    if fmt.default_method and "method" in fields:
        fields["method"] = F.coalesce(fields["method"], F.lit(fmt.default_method))
    request = _request_of(fields)
    has_time = F.coalesce(*[fields[f] for f in ("time", "epoch") if f in fields]).isNotNull()
    matched = (F.col("_obj").isNotNull() & request.isNotNull() & has_time
               & fields["status"].isNotNull())
    return out.select("*", matched.alias("matched"), F.lit(False).alias("directive"),
                      *_named_fields(fields, fmt.time_formats, "json")).drop("_obj")


def parse_lines(lines: DataFrame, fmt: TextFormat | JsonFormat, encoding: str = "") -> DataFrame:
    """Parse numbered lines of one format (see :mod:`.formats`) into named fields."""
    lines = lines.withColumn("line", decoded_text(F.col("value"), encoding))
    if isinstance(fmt, JsonFormat):
        return parse_json_lines(lines, fmt)
    return parse_text_lines(lines, fmt)


# --- classification -----------------------------------------------------------------------------


# the path of a request target (origin-form or absolute-form), without query or fragment
PATH_PATTERN = r"^(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)?([^?#]*)"


def lower_case(text: Column) -> Column:
    """``lower(text)``; ASCII text (every character one byte) by ``translate``. Spark 4's
    ``lower`` maps case with ICU, whose tables take a JVM ~1 s of CPU to set up on first use;
    the extensions of real paths are ASCII, and ASCII lower-cases the same either way."""
    ascii_only = F.octet_length(text) == F.length(text)
    return F.when(ascii_only, F.translate(text, string.ascii_uppercase, string.ascii_lowercase)
                  ).otherwise(F.lower(text))


def classify(parsed: DataFrame, rules: LogRules, now: datetime, format_name: str) -> DataFrame:
    """Add ``category`` (reject/static/filtered/page) and ``reason``, plus request parts.

    ``now`` (timezone-aware) is the latest plausible timestamp. The request check and its
    parts, the path's last segment and extension and the control-character check are columns
    of their own, each computed once per line: written inline, Spark evaluates them again in
    every branch that names them (conditional branches escape its common-subexpression
    elimination); the path pattern ran up to 5 times per line that way.
    """
    value = F.col("value")
    binary = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]"
    steps = parsed.select(
        "*",
        F.col("request").rlike(r"^[A-Z]{1,16} \S++( HTTP/\d(\.\d)?)?$").alias("_has_request"),
        F.split(F.col("request"), " ", 3).alias("_request_parts"),
        F.col("line").rlike(binary).alias("_control"),
    )
    # F.get: null, not an error, for a request without a space (ANSI mode)
    steps = steps.select("*", F.get(F.col("_request_parts"), 0).alias("_method"),
                         F.get(F.col("_request_parts"), 1).alias("_uri"))
    steps = steps.withColumn("_last_segment", F.substring_index(
        F.regexp_extract(F.col("_uri"), PATH_PATTERN, 1), "/", -1))
    segment = F.col("_last_segment")
    steps = steps.withColumn("_suffix", F.when(F.instr(segment, ".") > 0,
                                               F.substring_index(segment, ".", -1)))
    steps = steps.withColumn("_extension", lower_case(F.col("_suffix")))
    has_request, method, extension = F.col("_has_request"), F.col("_method"), F.col("_extension")
    status = F.col("status_text").try_cast("int")
    too_long = F.octet_length(value) > rules.max_line_bytes
    reject_checks: list[tuple[Column, str]] = [
        (F.trim(value) == "", "blank line"),
        # text in another encoding is read (see decoded_text); control bytes are not text
        (~F.is_valid_utf8(value) & F.col("_control"), "not valid UTF-8 text (binary data?)"),
        (F.col("_control"), "contains control characters (binary data?)"),
        (too_long, f"line longer than {rules.max_line_bytes} bytes"),
        (~F.coalesce(F.col("matched"), F.lit(False)), f"not a {format_name} log line"),
        (F.col("ts").isNull(), "unreadable timestamp"),
        ((F.col("ts") < F.lit(EARLIEST)) | (F.col("ts") > F.lit(now)),
         "timestamp out of range (before 1991 or after the time of parsing)"),
    ]
    reason: Column = F.lit(None).cast("string")
    for failed, message in reversed(reject_checks):
        reason = F.when(failed, F.lit(message)).otherwise(reason)
    is_static = extension.isNotNull() & ~extension.isin(*rules.page_extensions)
    statuses = [*rules.page_statuses, *(REDIRECTS if rules.redirects else ())]
    is_page_request = (has_request & method.isin(*rules.page_methods) & status.isin(*statuses))
    category = (F.when(F.col("directive"), F.lit(FILTERED))
                .when(F.col("reason").isNotNull(), F.lit(REJECT))
                .when(has_request & is_static, F.lit(STATIC))
                .when(is_page_request, F.lit(PAGE))
                .otherwise(F.lit(FILTERED)))
    # the rejects check needs `value` only: evaluate it before the (costlier) rest
    reason = F.when(~F.col("directive"), reason)  # W3C directives are no requests
    return (steps.withColumn("reason", reason)
            .withColumn("method", F.when(has_request, method))
            .withColumn("uri", F.when(has_request, F.col("_uri")))
            .withColumn("status", status)
            .withColumn("category", category)
            .drop("_has_request", "_request_parts", "_method", "_uri", "_last_segment",
                  "_suffix", "_control", "_extension"))


# --- events -------------------------------------------------------------------------------------


def uuid5_column(namespace: uuid.UUID, name: Column) -> Column:
    """RFC 4122 version-5 UUID of ``name`` (a string column) with Spark built-ins.

    SHA-1 of namespace bytes + UTF-8 name; first 16 bytes; version nibble 5; variant 10xx.
    """
    digest = F.sha1(F.concat(F.unhex(F.lit(namespace.hex)), F.encode(name, "UTF-8")))
    hex32 = F.substring(digest, 1, 32)
    variant_nibble = F.conv(F.substring(hex32, 17, 1), 16, 10).cast("int")
    variant = F.substring(F.lit("89ab"), (variant_nibble % 4) + 1, 1)
    return F.concat_ws(
        "-",
        F.substring(hex32, 1, 8), F.substring(hex32, 9, 4),
        F.concat(F.lit("5"), F.substring(hex32, 14, 3)),
        F.concat(variant, F.substring(hex32, 18, 3)),
        F.substring(hex32, 21, 12),
    )


def page_url(site_scheme: Column, site_host: Column, uri: Column) -> Column:
    """Absolute page URL (contract: http(s), at most 2048 characters)."""
    absolute = uri.rlike(r"^https?://")
    url = F.when(absolute, uri).otherwise(F.concat(site_scheme, F.lit("://"), site_host, uri))
    return F.substring(url, 1, 2048)


def visitor_id(ip_anon: Column, client: Column, user_agent: Column) -> Column:
    """Logs have no cookie: the visitor is the anonymised network + the browser (32 hex).

    ``client`` (a host name, when the server logged names instead of addresses) is used only
    when there is no address to anonymise; either way only the hash is stored.
    """
    text = F.concat_ws("|", F.coalesce(ip_anon, client, F.lit("")),
                       F.coalesce(user_agent, F.lit("")))
    return F.substring(F.sha2(text, 256), 1, 32)


def log_events(pages: DataFrame, event_schema: Any) -> DataFrame:
    """Page rows (classified, enriched) → lake rows with exactly the contract's schema.

    ``pages`` carries: ``content_sha256``, ``line_no``, ``file_name``, ``ts``, ``url``,
    ``referrer``, ``user_agent``, ``status``, ``ip``, ``ip_anon``, ``ua`` (struct),
    ``geo`` (struct), ``utm`` (struct), ``referrer_class``, ``referrer_host``, ``site``,
    ``ingest``.
    """
    given: dict[str, Column] = {
        "schema_version": F.lit(1).cast("long"),
        "event_id": uuid5_column(
            LOG_NAMESPACE, F.concat_ws(":", "content_sha256", F.col("line_no").cast("string"))
        ),
        "event_type": F.lit("page_view"),
        "client_ts": F.col("ts"),
        "visitor_id": visitor_id(F.col("ip_anon"), F.col("ip"), F.col("user_agent")),
        "url": F.col("url"),
        "referrer": F.substring(F.col("referrer"), 1, 2048),
        "properties": F.create_map(
            F.lit("log_file"), F.col("file_name"),
            F.lit("log_line"), F.col("line_no").cast("string"),
            F.lit("http_status"), F.col("status").cast("string"),
        ),
    }
    enrichment: dict[str, Column] = {
        "collector_ts": F.col("ts"),
        "derived_ts": F.col("ts"),
        "source": F.lit("log"),
        "ip_anon": F.col("ip_anon"),
        "cookieless": F.lit(True),
        "ua": F.col("ua"),
        "geo": F.col("geo"),
        "utm": F.col("utm"),
        "referrer_class": F.col("referrer_class"),
        "referrer_host": F.col("referrer_host"),
        "site": F.col("site"),
    }
    columns = []
    for field in event_schema.fields:
        if field.name == "enrichment":
            columns.append(_struct_of(field.dataType, enrichment).alias("enrichment"))
        elif field.name == "context":
            user_agent = F.when(F.col("user_agent") != "-",
                                F.substring(F.col("user_agent"), 1, 512))
            columns.append(F.when(user_agent.isNotNull(), _struct_of(
                field.dataType, {"user_agent": user_agent})).alias("context"))
        elif field.name in given:
            columns.append(given[field.name].cast(field.dataType).alias(field.name))
        else:
            columns.append(F.lit(None).cast(field.dataType).alias(field.name))
    return pages.select(*columns, F.to_date("ts").alias("event_date"), F.col("ingest"))


def _struct_of(struct_type: Any, values: dict[str, Column]) -> Column:
    return F.struct(*[
        (values[f.name].cast(f.dataType) if f.name in values
         else F.lit(None).cast(f.dataType)).alias(f.name)
        for f in struct_type.fields
    ])


# An IPv4 address not inside a longer dotted number (a version string like 1.2.3.4.5).
_IPV4 = r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])"
# IPv6: the full eight-group form, or any compressed form (has ``::``). A timestamp such as
# 2024:10:00:00 has neither, so it is never taken for an address.
_IPV6 = (r"(?i)(?<![0-9a-f:])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}"
         r"|(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?::(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?)"
         r"(?![0-9a-f:])")
IPV6_MASK = "[ipv6]"


def mask_addresses(text: Column, ipv4_prefix: int) -> Column:
    """``text`` with every IP address anonymised, for the rejects output: a rejected line is
    stored raw for debugging, and a raw client IP must never be stored. IPv4 keeps the whole
    octets of ``ipv4_prefix`` (rounded down: never more than the events keep); an IPv6 address
    becomes ``[ipv6]`` (a line's format problem never depends on it)."""
    octets = max(0, min(4, ipv4_prefix // 8))
    kept = ".".join([f"${i}" for i in range(1, octets + 1)] + ["0"] * (4 - octets))
    return F.regexp_replace(F.regexp_replace(text, _IPV4, kept), _IPV6, IPV6_MASK)


def log_rejects(classified: DataFrame, ipv4_prefix: int = 24) -> DataFrame:
    """Rejected lines: file, line number, reason and (the start of) the line with its IP
    addresses anonymised (:func:`mask_addresses`), per ingest."""
    return classified.where(F.col("category") == REJECT).select(
        F.col("file_name").alias("file"),
        F.col("line_no").alias("line"),
        "reason",
        F.octet_length("value").alias("bytes"),
        F.make_valid_utf8(F.substring(mask_addresses(F.col("value"), ipv4_prefix), 1, 1024))
        .alias("text"),
        "ingest",
    )
