"""Access log lines → classified requests → contract ``page_view`` events (pure transforms).

Everything here is Spark built-in functions (no Python UDFs); the user-agent, IP and referrer
enrichment that reuses the collector's Python code lives in :mod:`.enrich_requests`.

Every line ends in exactly one category, checked in this order:

``reject``    not a line of the format: blank, not UTF-8 text, control characters, longer than
              ``max_line_bytes``, no match, an unreadable or implausible timestamp;
``static``    the path has a file extension that is not a page extension (images, CSS, JS,
              fonts, downloads...);
``filtered``  a request that is not a page view: a method other than the page methods (GET),
              a status outside the page statuses (200, 304), or an unparsable request line;
``page``      everything else: one ``page_view`` event (bots are flagged, or dropped on request).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from stream_jobs.logs.formats import JSON_KEYS, NGINX_JSON, TEXT_FORMATS

# namespace of log-derived event ids: uuid5(LOG_NAMESPACE, "<content sha256>:<line number>")
LOG_NAMESPACE = uuid.UUID("6f1d7c1e-3b0a-5c55-9a57-1c7a0c1e5a11")
EARLIEST = datetime(1991, 8, 6, tzinfo=UTC)  # the first web page; anything before is a broken clock

REJECT, STATIC, FILTERED, PAGE = "reject", "static", "filtered", "page"


@dataclass(frozen=True)
class LogRules:
    """What counts as a page view; every list is configurable from the command line."""

    page_extensions: tuple[str, ...] = (
        "html", "htm", "xhtml", "shtml", "php", "asp", "aspx", "jsp", "cfm", "cgi",
    )
    page_methods: tuple[str, ...] = ("GET",)
    page_statuses: tuple[int, ...] = (200, 304)
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


def parse_text_lines(lines: DataFrame, format_name: str) -> DataFrame:
    """Split lines of a text format into named string fields with one regex match per line.

    ``regexp_replace`` rewrites a matching line into its groups joined by a separator that
    cannot occur in the line (U+0001, a control character that the rejects check catches);
    a line that does not match stays unchanged and is recognised by the missing marker.
    """
    fmt = TEXT_FORMATS[format_name]
    sep, mark = "\u0001", "\u0002"
    replacement = mark + sep.join(f"${i + 1}" for i in range(len(fmt.groups)))
    rewritten = F.regexp_replace(F.col("value"), fmt.pattern, replacement)
    parts = F.split(F.substring(rewritten, 2, 1 << 30), sep)
    matched = F.startswith(rewritten, F.lit(mark)) & ~F.startswith(F.col("value"), F.lit(mark))
    out = lines.withColumn("_parts", F.when(matched, parts)).withColumn("matched", matched)
    fields = {name: F.col("_parts")[i] for i, name in enumerate(fmt.groups)}
    request = fields["request"]
    return out.select(
        "*",
        (fields["vhost"] if "vhost" in fields else F.lit(None).cast("string")).alias("vhost"),
        (fields["port"] if "port" in fields else F.lit(None).cast("string")).alias("port"),
        fields["ip"].alias("ip"),
        F.try_to_timestamp(fields["time"], F.lit(fmt.time_format)).alias("ts"),
        _unescape(request).alias("request"),
        fields["status"].alias("status_text"),
        _blank_to_null(fields["bytes"]).alias("bytes_text"),
        (_blank_to_null(_unescape(fields["referrer"])) if "referrer" in fields
         else F.lit(None).cast("string")).alias("referrer"),
        # "-" stays: it is what the client sent or the server's mark for "none"; either way the
        # collector's bot rules classify it (as a bot)
        (F.nullif(_unescape(fields["user_agent"]), F.lit("")) if "user_agent" in fields
         else F.lit(None).cast("string")).alias("user_agent"),
    ).drop("_parts")


def parse_json_lines(lines: DataFrame) -> DataFrame:
    """Nginx JSON lines → the same named fields as :func:`parse_text_lines`."""
    obj = F.from_json(F.col("value"), "map<string,string>", {"mode": "PERMISSIVE"})
    out = lines.withColumn("_obj", F.when(F.startswith(F.ltrim("value"), F.lit("{")), obj))

    def first(field: str) -> Column:
        return F.coalesce(*[F.col("_obj")[key] for key in JSON_KEYS[field]])

    method, uri, args = first("method"), first("uri"), first("args")
    request = F.coalesce(
        first("request"),
        F.when(method.isNotNull() & uri.isNotNull(), F.concat_ws(
            " ", method,
            F.when(_blank_to_null(args).isNotNull() & ~uri.contains("?"),
                   F.concat(uri, F.lit("?"), args)).otherwise(uri),
        )),
    )
    msec = first("msec")
    ts = F.coalesce(
        F.try_to_timestamp(first("time_iso")),
        F.try_to_timestamp(first("time_local"), F.lit(TEXT_FORMATS["combined"].time_format)),
        F.when(msec.rlike(r"^\d{9,11}(\.\d+)?$"),
               F.timestamp_micros((msec.try_cast("double") * 1_000_000).cast("long"))),
    )
    vhost = first("vhost")
    return out.select(
        "*",
        F.col("_obj").isNotNull().alias("matched"),
        F.regexp_extract(vhost, r"^([^:]+)", 1).alias("vhost"),
        F.lit(None).cast("string").alias("port"),
        first("ip").alias("ip"),
        ts.alias("ts"),
        request.alias("request"),
        first("status").alias("status_text"),
        _blank_to_null(first("bytes")).alias("bytes_text"),
        _blank_to_null(first("referrer")).alias("referrer"),
        F.nullif(first("user_agent"), F.lit("")).alias("user_agent"),
    ).drop("_obj")


def parse_lines(lines: DataFrame, format_name: str) -> DataFrame:
    """Parse numbered lines of one format (see :mod:`.formats`)."""
    if format_name == NGINX_JSON:
        return parse_json_lines(lines)
    return parse_text_lines(lines, format_name)


# --- classification -----------------------------------------------------------------------------


def _path_of(uri: Column) -> Column:
    """The path of a request target (origin-form or absolute-form), without query/fragment."""
    return F.regexp_extract(uri, r"^(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)?([^?#]*)", 1)


def classify(parsed: DataFrame, rules: LogRules, now: datetime, format_name: str) -> DataFrame:
    """Add ``category`` (reject/static/filtered/page) and ``reason``, plus request parts.

    ``now`` (timezone-aware) is the latest plausible timestamp.
    """
    value = F.col("value")
    request_parts = F.split(F.col("request"), " ", 3)
    method, uri = request_parts[0], request_parts[1]
    has_request = F.col("request").rlike(r"^[A-Z]{1,16} \S+( HTTP/\d(\.\d)?)?$")
    path = _path_of(uri)
    last_segment = F.substring_index(path, "/", -1)
    extension = F.when(F.instr(last_segment, ".") > 0,
                       F.lower(F.substring_index(last_segment, ".", -1)))
    status = F.col("status_text").try_cast("int")
    too_long = F.octet_length(value) > rules.max_line_bytes
    reject_checks: list[tuple[Column, str]] = [
        (F.trim(value) == "", "blank line"),
        (~F.is_valid_utf8(value), "not valid UTF-8 text (binary data?)"),
        (value.rlike("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]"),
         "contains control characters (binary data?)"),
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
    is_page_request = (has_request & method.isin(*rules.page_methods)
                       & status.isin(*rules.page_statuses))
    category = (F.when(F.col("reason").isNotNull(), F.lit(REJECT))
                .when(has_request & is_static, F.lit(STATIC))
                .when(is_page_request, F.lit(PAGE))
                .otherwise(F.lit(FILTERED)))
    # the rejects check needs `value` only: evaluate it before the (costlier) rest
    return (parsed.withColumn("reason", reason)
            .withColumn("method", F.when(has_request, method))
            .withColumn("uri", F.when(has_request, uri))
            .withColumn("status", status)
            .withColumn("category", category))


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
