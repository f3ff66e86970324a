"""``enrich_event``: one event in, the same event with its ``enrichment`` block out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from enrichment.campaign import utm_block
from enrichment.geo import GeoReader, geo_block
from enrichment.ip_address import anonymise_ip
from enrichment.referrer import host_of, referrer_class
from enrichment.timestamps import derived_timestamp
from enrichment.user_agent import user_agent_block


@dataclass(frozen=True)
class RequestFacts:
    """What the transport knew about an event, beyond the event itself.

    ``ip`` is the full client address: it is used for the geo lookup and anonymised; it never
    leaves :func:`enrich_event`. Leave it None when the sender is not the visitor (a site
    backend), since the address would then describe the backend's data centre.
    """

    collector_ts: str  # contract timestamp of receipt (for logs: the log line's time)
    source: str  # js | pixel | server | log
    ip: str | None = None
    user_agent: str | None = None  # the request's User-Agent header
    cookieless: bool = False  # visitor_id is the daily hash, not a cookie


@dataclass(frozen=True)
class Enrichers:
    """Per-process lookups and settings: open once, pass to every call."""

    geo_reader: GeoReader | None = None
    ipv4_prefix: int = 24
    ipv6_prefix: int = 48


def enrich_event(event: dict[str, Any], facts: RequestFacts,
                 enrichers: Enrichers = Enrichers()) -> dict[str, Any]:
    """A copy of a *valid* contract ``event`` with the ``enrichment`` block written.

    Whatever ``enrichment`` the event carried is replaced. The user agent is the event's
    ``context.user_agent`` when given (a backend reporting on a visitor's behalf), else the
    request's. ``referrer_class`` is written only for events that have a page URL or referrer.
    """
    block: dict[str, Any] = {
        "collector_ts": facts.collector_ts,
        "derived_ts": derived_timestamp(event.get("client_ts"), event.get("sent_ts"),
                                        facts.collector_ts),
        "source": facts.source,
    }
    if facts.ip:
        block["ip_anon"] = anonymise_ip(facts.ip, enrichers.ipv4_prefix, enrichers.ipv6_prefix)
        block["geo"] = geo_block(facts.ip, enrichers.geo_reader)
    if facts.cookieless:
        block["cookieless"] = True
    context = event.get("context") or {}
    block["ua"] = user_agent_block(context.get("user_agent") or facts.user_agent)
    url, referrer = event.get("url"), event.get("referrer")
    block["utm"] = utm_block(url)
    if url or referrer:
        block["referrer_class"] = referrer_class(url, referrer)
        block["referrer_host"] = host_of(referrer)
    block["site"] = host_of(url)
    enriched = dict(event)
    enriched.pop("enrichment", None)  # whatever was sent is replaced, and written last
    enriched["enrichment"] = {key: value for key, value in block.items() if value is not None}
    return enriched
