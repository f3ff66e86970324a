"""User-agent parsing with a bot flag: user-agents' classification on ua-parser 1.x's fast backend.

``user_agents.parse`` runs the pure-Python regex list on every call (about a thousand parses a
second). We keep its API and its browser/OS/device rules -- :class:`FastUserAgent` *is* a
``user_agents.parsers.UserAgent`` -- but fill it from ua-parser 1.x's Rust-backed resolver and
remember recent answers in an LRU: real traffic repeats a few hundred user agents.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

from ua_parser import BestAvailableResolver, Domain, Parser, load_lazy_builtins
from user_agents.parsers import UserAgent, parse_browser, parse_device, parse_operating_system

# Clients ua-parser does not file under the "Spider" device family but which are no person
# browsing: crawlers with unusual names, HTTP libraries, uptime checkers, headless browsers.
BOT_PATTERN = re.compile(
    r"bot/|bot;|\bbot\b|robot|crawl|spider|slurp|archiver|scrapy|curl/|wget/|python-requests|"
    r"python-urllib|aiohttp|httpx|go-http-client|java/|okhttp|libwww|lwp::|apache-httpclient|"
    r"headlesschrome|phantomjs|facebookexternalhit|feed|rss\b|subscribers|validator|embedly|"
    r"siteexplorer|pingdom|uptimerobot|lighthouse|monitor|preview|\bfetch\b|indy library|"
    r"^ruby$|^-$",
    re.IGNORECASE,
)
CACHE_SIZE = 4096
UNKNOWN = "Other"


@cache
def _fast_parser() -> Parser:
    """ua-parser on its best resolver (the Rust ``regex`` one when ``ua-parser-rs`` is
    installed, else pure Python), built on first use: compiling the rules takes ~0.25 s."""
    return Parser(BestAvailableResolver(load_lazy_builtins()))


class FastUserAgent(UserAgent):
    """A ``user_agents`` UserAgent (same ``is_mobile``, ``is_bot``... rules) parsed fast."""

    def __init__(self, user_agent_string: str):  # deliberately not calling super().__init__
        result = _fast_parser()(user_agent_string, Domain.ALL).complete().with_defaults()
        ua, os_, device = result.user_agent, result.os, result.device
        self.ua_string = user_agent_string
        self.os = parse_operating_system(os_.family, os_.major, os_.minor, os_.patch,
                                         os_.patch_minor)
        self.browser = parse_browser(ua.family, ua.major, ua.minor, ua.patch, ua.patch_minor)
        self.device = parse_device(device.family, device.brand, device.model)


@lru_cache(maxsize=CACHE_SIZE)
def parse(user_agent_string: str) -> FastUserAgent:
    """Drop-in for ``user_agents.parse`` (cached; treat the result as read-only)."""
    return FastUserAgent(user_agent_string)


def device_class(agent: UserAgent) -> str:
    """desktop / mobile / tablet / bot / other, from user-agents' predicates, bots first."""
    if is_bot(agent):
        return "bot"
    if agent.is_tablet:
        return "tablet"
    if agent.is_mobile:
        return "mobile"
    if agent.is_pc:
        return "desktop"
    return "other"


def is_bot(agent: UserAgent) -> bool:
    """user-agents' ``is_bot`` (device family Spider) or a known non-human client pattern."""
    return agent.is_bot or bool(BOT_PATTERN.search(agent.ua_string))


@lru_cache(maxsize=CACHE_SIZE)
def _describe(user_agent_string: str) -> tuple[tuple[str, Any], ...]:
    agent = parse(user_agent_string)
    block: dict[str, Any] = {
        "browser": agent.browser.family[:64],
        "browser_version": agent.browser.version_string[:32] or None,
        "os": agent.os.family[:64],
        "os_version": agent.os.version_string[:32] or None,
        "device": device_class(agent),
        "device_brand": (agent.device.brand or "")[:64] or None,
        "is_bot": is_bot(agent),
    }
    return tuple((key, value) for key, value in block.items() if value is not None)


def user_agent_block(user_agent_string: str | None) -> dict[str, Any] | None:
    """The contract's ``enrichment.ua`` block for a User-Agent header; None when there is none.

    >>> block = user_agent_block("Mozilla/5.0 (compatible; Googlebot/2.1; "
    ...                          "+http://www.google.com/bot.html)")
    >>> block["browser"], block["device"], block["is_bot"]
    ('Googlebot', 'bot', True)
    """
    if not user_agent_string or not user_agent_string.strip():
        return None
    return dict(_describe(user_agent_string[:1024]))
