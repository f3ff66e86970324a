"""Enrichment: pure functions that turn a request or a log line into the ``enrichment`` block.

Shared by the collector and the Spark log parser (``stream_jobs``), so each takes plain strings
and returns a plain dict or string, reads no settings and does no I/O beyond an already open
GeoIP reader. Every function accepts None for a missing input and answers None for "unknown".

Field functions (one module each):

- ``user_agent_block(ua: str | None) -> dict | None`` (:mod:`.user_agent`): ``enrichment.ua``:
  browser, browser_version, os, os_version (ua-parser 1.x's Rust backend), device
  (desktop/mobile/tablet/bot/other) and device_brand (Matomo's model lists,
  :mod:`.device_models`), is_bot and bot_category (:mod:`.bots`: Matomo's and
  crawler-user-agents' lists plus ours), behind an LRU; ``parse(ua)`` stays a cached drop-in for
  ``user_agents.parse``. ``bot_category(ua) -> str | None`` (:mod:`.bots`).
- ``geo_block(ip: str | None, reader) -> dict | None`` (:mod:`.geo`): ``enrichment.geo`` from a
  reader made by ``open_geo_reader(path | None)`` (None when no database: no geo, no error).
- ``anonymise_ip(ip: str | None, ipv4_prefix=24, ipv6_prefix=48) -> str | None``
  (:mod:`.ip_address`): host bits zeroed; ``client_ip(remote_addr, x_forwarded_for,
  trusted_proxies)`` picks the client's address behind trusted proxies.
- ``utm_block(url: str | None) -> dict | None`` (:mod:`.campaign`): ``enrichment.utm``.
- ``referrer_class(page_url, referrer) -> str`` and ``host_of(url) -> str | None``
  (:mod:`.referrer`): search / social / email / paid / internal / direct / other, rules in the
  module docstring.
- ``derived_timestamp(client_ts, sent_ts, collector_ts) -> str`` (:mod:`.timestamps`):
  ``collector_ts - (sent_ts - client_ts)``; ``collector_ts`` when ``sent_ts`` is absent.

Whole event: ``enrich_event(event, RequestFacts(...), Enrichers(...)) -> event`` (:mod:`.event`)
returns a copy of a valid event with its ``enrichment`` block written (any sent one replaced).
A log parser passes ``RequestFacts(collector_ts=<log time>, source="log", ip=..., user_agent=...)``.
"""

from enrichment.campaign import utm_block
from enrichment.event import Enrichers, RequestFacts, enrich_event
from enrichment.geo import geo_block, open_geo_reader
from enrichment.ip_address import anonymise_ip, client_ip
from enrichment.referrer import host_of, referrer_class
from enrichment.timestamps import derived_timestamp
from enrichment.user_agent import parse, user_agent_block

__all__ = [
    "Enrichers",
    "RequestFacts",
    "anonymise_ip",
    "client_ip",
    "derived_timestamp",
    "enrich_event",
    "geo_block",
    "host_of",
    "open_geo_reader",
    "parse",
    "referrer_class",
    "user_agent_block",
    "utm_block",
]
